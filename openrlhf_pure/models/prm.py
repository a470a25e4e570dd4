"""The process reward model (PURE.md section 3): a causal LM backbone and a 2-class token head.

Label 1 is "correct", label 0 "incorrect". The head reads the backbone's last hidden state at
each step's label token (see ``step_formats``) and gives two logits (incorrect, correct):

- head "classifier": a ``Linear(hidden, 2)``, stored as a transformers
  ``...ForTokenClassification`` model (Qwen2, Llama and every other architecture with a generic
  token-classification class), so a plain causal LM checkpoint loads with a new head, and a
  trained PRM saves and loads with the ordinary ``save_pretrained`` / ``from_pretrained``.
- head "lm_candidates" (Math-Shepherd): the causal LM's own output layer restricted to the
  rows of two candidate tokens ("-", "+"): the logits of those tokens at the tag position.
  Models that rescale their logits (Gemma soft-capping, Cohere/Granite logit scales) are not
  covered.

Both heads are applied only at the label tokens, after gathering, so no (L, vocab) logits are
ever built. The step score is a registry (``SCORE_FUNCTIONS``) of functions of the two logits:
``p_diff`` = p(correct) - p(incorrect) in [-1, 1] (PURE's default), ``p_correct`` in [0, 1]
(Qwen2.5-Math-PRM's and Math-Shepherd's published scoring), ``logit_diff`` (unbounded).

Differences from the authors: the head of a new PRM has no dropout (transformers' generic
token classifier defaults to 0.1); the step format and score name are saved in the model
config (key ``pure_prm``, with the prompt template of its training rows when known) so a
checkpoint scores the way it was trained.
"""

from __future__ import annotations

import contextlib
import logging

import torch

from openrlhf_pure.core.registry import Registry
from openrlhf_pure.models.packed_attention import packed_attention
from openrlhf_pure.models.step_formats import StepFormat, add_format_tokens, check_format_tokens, get_step_format

logger = logging.getLogger(__name__)

CORRECT, INCORRECT = 1, 0
CONFIG_KEY = "pure_prm"
LABELS = {INCORRECT: "incorrect", CORRECT: "correct"}

SCORE_FUNCTIONS: Registry = Registry("step score")


@SCORE_FUNCTIONS.register("p_diff")
def p_diff(logits: torch.Tensor) -> torch.Tensor:
    """(..., 2) logits -> (...) p(correct) - p(incorrect), in [-1, 1]."""
    probs = logits.float().softmax(dim=-1)
    return probs[..., CORRECT] - probs[..., INCORRECT]


@SCORE_FUNCTIONS.register("p_correct")
def p_correct(logits: torch.Tensor) -> torch.Tensor:
    """(..., 2) logits -> (...) p(correct), in [0, 1]."""
    return logits.float().softmax(dim=-1)[..., CORRECT]


@SCORE_FUNCTIONS.register("logit_diff")
def logit_diff(logits: torch.Tensor) -> torch.Tensor:
    """(..., 2) logits -> (...) logit(correct) - logit(incorrect)."""
    logits = logits.float()
    return logits[..., CORRECT] - logits[..., INCORRECT]


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
    """A PRM: a transformers model, its tokenizer, its step format and its score function.

    Args:
        model: a ``...ForTokenClassification`` with 2 labels (head "classifier") or a
            ``...ForCausalLM`` (head "lm_candidates").
        tokenizer: its fast tokenizer (holding the format's special tokens).
        step_format: a registered format name or a :class:`StepFormat`.
        score: a ``SCORE_FUNCTIONS`` name.
        head: "classifier" or "lm_candidates"; None takes the format's.
        prompt_template: a format string with ``{question}``: how the training rows' prompts were
            made from their questions (saved with the PRM; :meth:`render_prompt` applies it to a
            bare question when the PRM scores solutions of benchmark problems). None: as given.
    """

    def __init__(self, model, tokenizer, step_format: str | StepFormat = "pure", score: str = "p_diff", head=None,
                 prompt_template: str | None = None):  # fmt: skip
        super().__init__()
        self.prompt_template = prompt_template  # how a question became the prompt of its training rows
        self.model = model
        self.tokenizer = tokenizer
        self.step_format = get_step_format(step_format)
        self.score_name = score
        self.score_fn = SCORE_FUNCTIONS.get(score)
        self.head = head or self.step_format.head
        check_format_tokens(tokenizer, self.step_format)
        if self.head == "classifier":
            layer = getattr(model, "score", None)
            if not isinstance(layer, torch.nn.Linear) or layer.out_features != 2:
                raise ValueError(f"{type(model).__name__} has no Linear(hidden, 2) 'score' head for the classifier")
            self.candidate_ids = None
        elif self.head == "lm_candidates":
            if self.step_format.candidates is None:
                raise ValueError(f"step format {self.step_format.name!r} has no candidate tokens for lm_candidates")
            if model.get_output_embeddings() is None:
                raise ValueError(f"{type(model).__name__} has no output embeddings for the lm_candidates head")
            self.candidate_ids = candidate_token_ids(tokenizer, self.step_format)
        else:
            raise ValueError(f"unknown PRM head {self.head!r}; known: classifier, lm_candidates")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def label_logits(
        self,
        input_ids: torch.Tensor,
        label_rows: torch.Tensor,
        label_cols: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        packed_segments: list[tuple[int, int, int]] | None = None,
    ) -> torch.Tensor:
        """The two label logits (incorrect, correct) at chosen tokens.

        Args:
            input_ids: (R, L) long token ids (rows may pack several sequences).
            label_rows, label_cols: (N,) long, the label tokens' row and column.
            position_ids: (R, L) long; restarting at 0 marks packed sequences (with no mask).
            attention_mask: (R, L) 0/1 or a prepared 4D mask; None for packing or right padding.
            packed_segments: (row, start, end) of each packed sequence: attention then runs per
                sequence (``packed_attention``); position_ids must restart at each start.
        Returns:
            (N, 2) float32 logits.
        """
        kwargs = dict(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
        # use_cache=False matters: with a cache, transformers ignores packed position ids
        if packed_segments is None:
            outputs = self.model.base_model(**kwargs)
        else:
            with packed_attention(self.model):
                outputs = self.model.base_model(**kwargs, packed_segments=packed_segments)
        hidden = outputs.last_hidden_state[label_rows, label_cols]  # (N, H)
        if self.head == "classifier":
            return self.model.score(hidden).float()
        out = self.model.get_output_embeddings()
        logits = hidden @ out.weight[self.candidate_ids].T  # (N, 2)
        if getattr(out, "bias", None) is not None:
            logits = logits + out.bias[self.candidate_ids]
        return logits.float()

    def forward(self, input_ids, label_rows, label_cols, **kwargs) -> torch.Tensor:
        """Step scores at the label tokens: same arguments as :meth:`label_logits`; returns (N,) float32."""
        return self.score_fn(self.label_logits(input_ids, label_rows, label_cols, **kwargs))

    def render_prompt(self, question: str) -> str:
        """The prompt this PRM was trained with for a bare ``question`` (the question itself without a template)."""
        return question if self.prompt_template is None else self.prompt_template.format(question=question)

    def save_pretrained(self, path: str) -> None:
        """Write model, tokenizer and the PRM settings (format, score, head, prompt template) to ``path``."""
        settings = {"step_format": self.step_format.name, "score": self.score_name, "head": self.head}
        if self.prompt_template is not None:
            settings["prompt_template"] = self.prompt_template
        setattr(self.model.config, CONFIG_KEY, settings)
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
    ) -> ProcessRewardModel:
        """Load a PRM from a trained PRM checkpoint or from any causal LM directory.

        Settings saved with the checkpoint are the defaults; arguments override them. A causal
        LM loaded with the "classifier" head gets a new, untrained head (a warning is logged);
        a classification checkpoint without its head weights is an error.

        Args:
            path: a local directory (or hub name) with config, weights and tokenizer.
            step_format, score, head: see the class; None takes the saved or the format's default.
            dtype: see :func:`resolve_dtype` (bf16 on GPU by default).
            device: where to put the model; it is returned in eval mode.
            attn_implementation: "sdpa" (default), "eager" or "flash_attention_2".
        """
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForTokenClassification, AutoTokenizer

        config = AutoConfig.from_pretrained(path)
        saved = getattr(config, CONFIG_KEY, None) or {}
        fmt = get_step_format(step_format or saved.get("step_format", "pure"))
        score = score or saved.get("score", "p_diff")
        SCORE_FUNCTIONS.get(score)
        head = head or saved.get("head") or fmt.head
        architectures = getattr(config, "architectures", None) or []
        if any(a.endswith("ForTokenClassification") for a in architectures):
            kind = "classifier"
        elif any(a.endswith("ForCausalLM") for a in architectures):
            kind = "causal_lm"
        else:
            raise ValueError(
                f"{path}: architectures {architectures} are neither a causal LM nor a token classifier "
                "(remote-code PRMs such as Qwen2ForProcessRewardModel are not supported)"
            )
        kwargs = {"dtype": resolve_dtype(dtype, device)}
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        if head == "classifier":
            if kind == "classifier" and getattr(config, "num_labels", 2) != 2:
                raise ValueError(f"{path}: a PRM needs 2 labels, the checkpoint has {config.num_labels}")
            config.num_labels = 2
            config.id2label, config.label2id = dict(LABELS), {v: k for k, v in LABELS.items()}
            if kind == "causal_lm":
                config.classifier_dropout = 0.0
            with _without_load_report(kind == "causal_lm"):  # a new head is expected: said below in one line
                model, info = AutoModelForTokenClassification.from_pretrained(
                    path, config=config, output_loading_info=True, **kwargs
                )
            missing_head = [k for k in info["missing_keys"] if k.startswith("score.")]
            if missing_head and kind == "classifier":
                raise ValueError(f"{path}: the token-classification checkpoint lacks its head weights {missing_head}")
            if missing_head:
                logger.warning("%s is a causal LM: its PRM head is new and untrained", path)
        elif head == "lm_candidates":
            if kind != "causal_lm":
                raise ValueError(f"{path}: the lm_candidates head needs a causal LM checkpoint, found {architectures}")
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        else:
            raise ValueError(f"unknown PRM head {head!r}; known: classifier, lm_candidates")
        tokenizer = AutoTokenizer.from_pretrained(path)
        if add_format_tokens(tokenizer, fmt):
            model.resize_token_embeddings(len(tokenizer))
        model.to(device).eval()
        return cls(model, tokenizer, fmt, score=score, head=head, prompt_template=saved.get("prompt_template"))
