"""The process reward model (PURE.md section 3, issue 11): a backbone, a head at each step's label token.

A PRM is a transformers model, its tokenizer, a step format (``step_formats``: where each
step's label token is), a head (``prm_heads``: what reads the last hidden state there), a
score function and a score transform (``prm_scores``: native score, then the common scale).
:meth:`ProcessRewardModel.from_pretrained` loads the five published families natively, without
``trust_remote_code`` (``prm_families``: detected from ``config.json``, or named by the caller):

- ``classifier``: a transformers ``...ForTokenClassification`` with 2 labels (PURE-PRM, TRL
  PRMs, and every PRM trained here); ``new_head=True`` turns a plain causal LM into one with a
  new, untrained head (for training: ``pure-train-prm``, the demo);
- ``two_layer`` (Qwen2.5-Math-PRM) and ``value`` (Skywork): classes built here on the
  backbone's own ``PreTrainedModel`` (``prm_heads.native_model_class``), loading the published
  keys by name; missing or unexpected keys are an error (Skywork's ``lm_head`` is ignored);
- ``lm_candidates`` (Math-Shepherd, RLHFlow): the causal LM's own output rows of the two
  candidate tokens. Models that rescale their logits (Gemma soft-capping, Cohere/Granite logit
  scales) are not covered.

Label 1 is "correct", label 0 "incorrect". Heads are applied only at the label tokens, after
gathering, so no (L, vocab) logits are ever built.

Differences from the authors: the head of a new PRM has no dropout (transformers' generic
token classifier defaults to 0.1); family, step format, score and head are saved in the model
config (key ``pure_prm``, with the prompt template of its training rows when known) so a
checkpoint scores the way it was trained.
"""

from __future__ import annotations

import contextlib
import logging
import re

import torch

from openrlhf_pure.models.packed_attention import packed_attention
from openrlhf_pure.models.prm_families import (
    PRM_FAMILIES,
    PRMFamilyError,
    detect_family,
    families,
    read_config,
    saved_family,
)
from openrlhf_pure.models.prm_heads import HEADS, check_head_shapes, head_outputs, native_model_class
from openrlhf_pure.models.prm_scores import (  # noqa: F401 (re-exported: the PRM's score vocabulary)
    CORRECT,
    INCORRECT,
    SCORE_FUNCTIONS,
    SCORE_TRANSFORMS,
    logit_diff,
    p_correct,
    p_diff,
    resolve_transform,
)
from openrlhf_pure.models.step_formats import StepFormat, add_format_tokens, check_format_tokens, get_step_format

logger = logging.getLogger(__name__)

CONFIG_KEY = "pure_prm"
DEFAULT_SCORES = {2: "p_diff", 1: "sigmoid"}  # a head's score when its family's does not apply (by head width)
LABELS = {INCORRECT: "incorrect", CORRECT: "correct"}


def resolve_dtype(dtype: torch.dtype | str | None, device: torch.device | str) -> torch.dtype:
    """None -> bfloat16 on a GPU, float32 elsewhere; names such as "bf16" or "float32" -> torch dtypes."""
    if dtype is None:
        return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
    names.update({"fp32": torch.float32, "float32": torch.float32})
    if dtype not in names:
        raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(names)}")
    return names[dtype]


def candidate_token_ids(tokenizer, step_format: StepFormat) -> list[int]:
    """The (incorrect, correct) vocabulary ids of the format's candidate label tokens.

    Each candidate must be one token (a SentencePiece "▁+" counts: its last token is taken
    after any prefix the tokenizer adds).
    """
    correct, incorrect = step_format.candidates
    ids = []
    for text in (incorrect, correct):
        encoded = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(encoded) != 1:
            raise ValueError(f"candidate label token {text!r} is {len(encoded)} tokens in this vocabulary; need 1")
        ids.append(encoded[0])
    return ids


class ProcessRewardModel(torch.nn.Module):
    """A PRM: a transformers model, its tokenizer, its step format, head, score and score transform.

    Args:
        model: a ``...ForTokenClassification`` with 2 labels (head "classifier"), a
            ``...ForCausalLM`` (head "lm_candidates") or a model of
            ``prm_heads.native_model_class`` (heads "two_layer", "value").
        tokenizer: its fast tokenizer (holding the format's special tokens).
        step_format: a registered format name or a :class:`StepFormat`.
        score: a ``SCORE_FUNCTIONS`` name; None: the family's (else "p_diff", or "sigmoid" for a value head).
        head: a ``prm_heads.HEADS`` name; None takes the format's.
        score_transform: a ``SCORE_TRANSFORMS`` name or "auto" (``prm_scores``).
        family: the ``prm_families`` name, for reports (None: not a published family).
        prompt_template: a format string with ``{question}``: how the training rows' prompts were
            made from their questions (saved with the PRM; :meth:`render_prompt` applies it to a
            bare question when the PRM scores solutions of benchmark problems). None: as given.
    """

    def __init__(self, model, tokenizer, step_format: str | StepFormat = "pure", score: str | None = None, head=None,
                 score_transform: str = "auto", family: str | None = None,
                 prompt_template: str | None = None):  # fmt: skip
        super().__init__()
        self.prompt_template = prompt_template  # how a question became the prompt of its training rows
        self.model = model
        self.tokenizer = tokenizer
        self.step_format = get_step_format(step_format)
        self.family = family
        self.head = head or self.step_format.head
        spec = HEADS.get(self.head)
        family_score = PRM_FAMILIES.get(family).score if family and PRM_FAMILIES.get(family).head == self.head else None
        self.score_name = score or family_score or DEFAULT_SCORES[spec.width]
        self.score_fn = SCORE_FUNCTIONS.get(self.score_name)
        if self.score_fn.width != spec.width:
            raise ValueError(f"score {self.score_name!r} reads {self.score_fn.width} head outputs; the {self.head} "
                             f"head gives {spec.width} (a value head scores with 'sigmoid')")  # fmt: skip
        self.transform = resolve_transform(score_transform, self.score_name)
        check_format_tokens(tokenizer, self.step_format)
        self.candidate_ids = None
        if self.head == "lm_candidates":
            if self.step_format.candidates is None:
                raise ValueError(f"step format {self.step_format.name!r} has no candidate tokens for lm_candidates")
            if model.get_output_embeddings() is None:
                raise ValueError(f"{type(model).__name__} has no output embeddings for the lm_candidates head")
            self.candidate_ids = candidate_token_ids(tokenizer, self.step_format)
        else:
            layer = getattr(model, spec.attribute, None)
            if self.head == "classifier" and (not isinstance(layer, torch.nn.Linear) or layer.out_features != 2):
                raise ValueError(f"{type(model).__name__} has no Linear(hidden, 2) 'score' head for the classifier")
            if layer is None:
                raise ValueError(f"{type(model).__name__} has no '{spec.attribute}' module for the {self.head} head")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def scale(self) -> str:
        """The scale of :meth:`forward`'s scores ("signed", "prob" or "logit"), after the transform."""
        return self.transform.output_scale(self.score_fn.scale)

    def describe(self) -> dict:
        """Family, format, head, score and transform names, and the transform as run metrics."""
        return {"family": self.family, "step_format": self.step_format.name, "head": self.head,
                "score": self.score_name, "score_transform": self.transform.name, "scale": self.scale,
                **self.transform.metrics()}  # fmt: skip

    def label_logits(
        self,
        input_ids: torch.Tensor,
        label_rows: torch.Tensor,
        label_cols: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        packed_segments: list[tuple[int, int, int]] | None = None,
    ) -> torch.Tensor:
        """The head's outputs at chosen tokens: two logits (incorrect, correct), or one value.

        Args:
            input_ids: (R, L) long token ids (rows may pack several sequences).
            label_rows, label_cols: (N,) long, the label tokens' row and column.
            position_ids: (R, L) long; restarting at 0 marks packed sequences (with no mask).
            attention_mask: (R, L) 0/1 or a prepared 4D mask; None for packing or right padding.
            packed_segments: (row, start, end) of each packed sequence: attention then runs per
                sequence (``packed_attention``); position_ids must restart at each start.
        Returns:
            (N, width) float32, width 2 (logits) or 1 (a value head).
        """
        kwargs = dict(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
        # use_cache=False matters: with a cache, transformers ignores packed position ids
        if packed_segments is None:
            outputs = self.model.base_model(**kwargs)
        else:
            with packed_attention(self.model):
                outputs = self.model.base_model(**kwargs, packed_segments=packed_segments)
        hidden = outputs.last_hidden_state[label_rows, label_cols]  # (N, H)
        return head_outputs(self.model, HEADS.get(self.head), hidden, self.candidate_ids)

    def forward(self, input_ids, label_rows, label_cols, **kwargs) -> torch.Tensor:
        """Step scores at the label tokens, transformed: same arguments as :meth:`label_logits`; (N,) float32."""
        return self.transform(self.score_fn(self.label_logits(input_ids, label_rows, label_cols, **kwargs)))

    def saved_settings(self) -> dict:
        """What :meth:`save_pretrained` writes under the config's ``pure_prm`` key."""
        saved = {"step_format": self.step_format.name, "score": self.score_name, "head": self.head}
        if self.prompt_template is not None:
            saved["prompt_template"] = self.prompt_template
        return {"family": self.family, **saved} if self.family else saved

    def render_prompt(self, question: str) -> str:
        """The prompt this PRM was trained with for a bare ``question`` (the question itself without a template)."""
        return question if self.prompt_template is None else self.prompt_template.format(question=question)

    def save_pretrained(self, path: str) -> None:
        """Write model, tokenizer and the PRM settings (family, format, score, head) to ``path``."""
        setattr(self.model.config, CONFIG_KEY, self.saved_settings())
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    @classmethod
    def from_pretrained(
        cls,
        path: str,
        step_format: str | StepFormat | None = None,
        score: str | None = None,
        head: str | None = None,
        dtype: torch.dtype | str | None = None,
        device: torch.device | str = "cpu",
        attn_implementation: str | None = None,
        family: str | None = None,
        score_transform: str = "auto",
        new_head: bool = False,
    ) -> ProcessRewardModel:
        """Load a PRM of any registered family (or, with ``new_head``, start one from a causal LM).

        Settings saved with the checkpoint, then the family's, are the defaults; arguments
        override them. Without ``family`` it is detected (``prm_families.detect_family``); a
        plain causal LM is placed only by ``family``, by a format that names its family, or by
        ``new_head`` (then: a new, untrained classifier head, with a warning).

        Args:
            path: a local directory (or hub name) with config, weights and tokenizer.
            step_format, score, head: see the class; None takes the saved or the family's.
            dtype: see :func:`resolve_dtype` (bf16 on GPU by default).
            device: where to put the model; it is returned in eval mode.
            attn_implementation: "sdpa" (default), "eager" or "flash_attention_2".
            family: a ``PRM_FAMILIES`` name; None: detected.
            score_transform: a ``SCORE_TRANSFORMS`` name or "auto" (to [-1, 1]).
            new_head: allow a new, untrained head on a checkpoint that has none (training only);
                the format's special tokens are then added to the tokenizer if missing.
        Raises:
            PRMFamilyError (a ValueError) when the checkpoint cannot be placed; ValueError for a
            head that does not fit it, missing weights, or a tokenizer without the step token.
        """
        from transformers import AutoConfig, AutoTokenizer

        raw = read_config(str(path))
        saved = raw.get(CONFIG_KEY) if isinstance(raw.get(CONFIG_KEY), dict) else {}
        fam = _resolve_family(str(path), raw, family, step_format, new_head)
        fmt = get_step_format(step_format or saved.get("step_format") or fam.step_format)
        saved_head = saved.get("head") if (family is None or saved_family(saved) == family) else None
        head = head or saved_head or (fam.head if fmt.name == fam.step_format else fmt.head)
        spec = HEADS.get(head)
        score = score or (saved.get("score") if saved_head else None)
        score = score or (fam.score if head == fam.head else DEFAULT_SCORES[spec.width])
        config = AutoConfig.from_pretrained(path)
        check_head_shapes(str(path), spec, config, fam.name)
        kwargs = {"dtype": resolve_dtype(dtype, device)}
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        model = HEAD_LOADERS[spec.name if spec.name in HEAD_LOADERS else "native"](path, config, spec, kwargs,
                                                                                   new_head)  # fmt: skip
        tokenizer = AutoTokenizer.from_pretrained(path)
        if new_head and add_format_tokens(tokenizer, fmt):
            model.resize_token_embeddings(len(tokenizer))
        check_tokenizer(str(path), tokenizer, fmt)
        model.to(device).eval()
        return cls(model, tokenizer, fmt, score=score, head=head, score_transform=score_transform, family=fam.name,
                   prompt_template=saved.get("prompt_template"))  # fmt: skip


def check_tokenizer(path: str, tokenizer, step_format: StepFormat) -> None:
    """Raise ValueError naming ``path`` when the PRM's tokenizer lacks what the format writes.

    Checked: each special step token is one token, an appended step ending is one token, a chat
    format has a chat template.
    """
    for token in step_format.special_tokens:
        if len(tokenizer(token, add_special_tokens=False)["input_ids"]) != 1:
            raise ValueError(
                f"{path}: the PRM's tokenizer has no {token!r} token, which the {step_format.name!r} format puts "
                f"after each step (a published PRM ships it in its tokenizer files; a new PRM gets it with new_head)"
            )
    if step_format.ending_as_token:
        try:
            step_format.ending_ids(tokenizer)
        except ValueError as err:
            raise ValueError(f"{path}: {err}; the PRM's tokenizer needs it as one token") from None
    if step_format.chat_template and not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"{path}: the {step_format.name!r} format needs the PRM tokenizer's chat template; none found")


def _kind(config) -> str:
    architectures = getattr(config, "architectures", None) or []
    if any(a.endswith("ForTokenClassification") for a in architectures):
        return "classifier"
    if any(a.endswith("ForCausalLM") for a in architectures):
        return "causal_lm"
    return "other"


def _resolve_family(path: str, raw: dict, family: str | None, step_format, new_head: bool):
    """The checkpoint's family: named, detected, implied by a format (plain causal LMs), or new."""
    if family is not None:
        return PRM_FAMILIES.get(family)
    try:
        return PRM_FAMILIES.get(detect_family(path, raw)[0])
    except PRMFamilyError:
        archs = raw.get("architectures") or []
        if not any(str(a).endswith("ForCausalLM") for a in archs):
            raise
        name = getattr(step_format, "name", step_format)
        by_format = [f for f in families() if f.step_format == name and f.head == "lm_candidates"]
        if by_format:  # a format scored by LM logits names its family: Math-Shepherd, RLHFlow
            return by_format[0]
        if new_head:
            return PRM_FAMILIES.get("pure")
        raise


# ---------------------------------------------------------------------------------------------
# Loading per head: (path, config, head, from_pretrained kwargs, new_head) -> transformers model


def _load_classifier(path, config, spec, kwargs, new_head):
    from transformers import AutoModelForTokenClassification

    kind = _kind(config)
    if kind == "causal_lm" and not new_head:
        raise ValueError(
            f"{path}: a plain causal LM ({config.architectures}) has no trained PRM head (score.weight); score it "
            f"with a family that reads LM logits (math_shepherd, rlhflow) or train a head (pure-train-prm)"
        )
    if kind == "classifier" and getattr(config, "num_labels", 2) != 2:
        raise ValueError(f"{path}: a PRM needs 2 labels, the checkpoint has {config.num_labels}")
    if kind == "other":
        found = config.architectures
        raise ValueError(f"{path}: the classifier head needs a token classifier or a causal LM, found {found}")
    config.num_labels = 2
    config.id2label, config.label2id = dict(LABELS), {v: k for k, v in LABELS.items()}
    if kind == "causal_lm":
        config.classifier_dropout = 0.0
    with _without_load_report(kind == "causal_lm"):  # a new head is expected: said below in one line
        model, info = AutoModelForTokenClassification.from_pretrained(path, config=config, output_loading_info=True,
                                                                      **kwargs)  # fmt: skip
    missing_head = [k for k in info["missing_keys"] if k.startswith("score.")]
    if missing_head and kind == "classifier":
        raise ValueError(f"{path}: the token-classification checkpoint lacks its head weights {missing_head}")
    if missing_head:
        logger.warning("%s is a causal LM: its PRM head is new and untrained", path)
    return model


@contextlib.contextmanager
def _without_load_report(active: bool):
    """Drop transformers' colour-coded LOAD REPORT while loading (when ``active``)."""
    from transformers.utils import logging as hf_logging

    target = hf_logging.get_logger("transformers.modeling_utils")

    def keep(record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in str(record.msg)

    if active:
        target.addFilter(keep)
    try:
        yield
    finally:
        target.removeFilter(keep)


def _load_lm_candidates(path, config, spec, kwargs, new_head):
    from transformers import AutoModelForCausalLM

    if _kind(config) != "causal_lm":
        raise ValueError(f"{path}: the lm_candidates head needs a causal LM checkpoint, found {config.architectures}")
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def _load_native(path, config, spec, kwargs, new_head):
    model_class = native_model_class(config, spec)
    model, info = model_class.from_pretrained(path, config=config, output_loading_info=True, **kwargs)
    missing = sorted(info["missing_keys"])
    ignored = spec.ignored_keys + ((r"^lm_head\.",) if new_head else ())  # a new PRM drops its LM head
    unexpected = sorted(k for k in info["unexpected_keys"] if not any(re.search(p, k) for p in ignored))
    head_missing = [k for k in missing if k.startswith(spec.attribute + ".")]
    if (missing and not (new_head and missing == head_missing)) or unexpected or info.get("mismatched_keys"):
        raise ValueError(
            f"{path}: the checkpoint's weights do not fit {model_class.__name__} (the {spec.name} head): missing "
            f"{missing[:8] or 'none'}, unexpected {unexpected[:8] or 'none'}; is it of this PRM family?"
        )
    if head_missing:
        logger.warning("%s has no %s head: it is new and untrained", path, spec.name)
    return model


HEAD_LOADERS = {"classifier": _load_classifier, "lm_candidates": _load_lm_candidates, "native": _load_native}
