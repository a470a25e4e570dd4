"""PRM heads: what reads the backbone's last hidden state at each step's label token (issue 11).

Registry ``HEADS`` (a new head is one :class:`PRMHead`); h is the hidden size:

- ``classifier``: ``score`` = Linear(h, 2) with bias (keys ``score.weight``, ``score.bias``),
  transformers' ``...ForTokenClassification``; 2 logits. PURE-PRM-7B, TRL PRMs.
- ``two_layer``: ``score`` = Sequential(Linear(h, h), ReLU, Linear(h, 2)), both with bias (keys
  ``score.0.*``, ``score.2.*``; no ``lm_head``); 2 logits. Qwen2.5-Math-PRM-7B/72B,
  Qwen2.5-Math-7B-PRM800K (``Qwen2ForProcessRewardModel``).
- ``value``: ``v_head.summary`` = Linear(h, 1) with bias (keys ``v_head.summary.*``; an
  ``lm_head`` in the checkpoint is ignored); 1 value. Skywork-o1-Open-PRM (``Qwen2ForPrmModel``).
- ``lm_candidates``: the causal LM's own output rows of two candidate tokens; 2 logits.
  Math-Shepherd, RLHFlow.

The ``two_layer`` and ``value`` heads have no class in transformers (their authors ship remote
code). :func:`native_model_class` builds one here instead, with no ``trust_remote_code``: a
subclass of the backbone's own ``PreTrainedModel`` (so attention implementations, dtype and
sharded loading are transformers' own) named as the published architecture
(``Qwen2ForProcessRewardModel``, ``Qwen2ForPrmModel``; ``LlamaFor...`` on a Llama backbone), with
the backbone under ``model`` and the head under the published attribute, so that the
checkpoint's keys load by name and ``save_pretrained`` writes the published layout.
Head shapes are checked against the checkpoint's tensor headers before anything is loaded
(:func:`check_head_shapes`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from openrlhf_pure.core.registry import Registry


@dataclass(frozen=True)
class PRMHead:
    """A PRM head.

    Args:
        name: registry name.
        width: outputs per label token (2 logits or 1 value).
        attribute: where the head hangs on the model ("score", "v_head"); None: the LM's output layer.
        shapes: config -> {state-dict key: shape} of the head's weights.
        build: config -> the head module, for heads with no transformers class (else None).
        architecture_suffix: class name after the backbone's prefix ("ForProcessRewardModel").
        ignored_keys: regexes of checkpoint keys this head's model does not load (``lm_head``).
    """

    name: str
    width: int
    attribute: str | None
    shapes: Callable[[object], dict[str, tuple[int, ...]]]
    build: Callable[[object], torch.nn.Module] | None = None
    architecture_suffix: str | None = None
    ignored_keys: tuple[str, ...] = field(default=())

    @property
    def native(self) -> bool:
        """True for heads whose model class is built here (:func:`native_model_class`)."""
        return self.build is not None


class ValueHead(torch.nn.Module):
    """Skywork's value head without its dropout (a no-op at inference): ``summary`` = Linear(h, 1)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.summary = torch.nn.Linear(hidden, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., h) -> (..., 1) values."""
        return self.summary(hidden)


def _two_layer(config) -> torch.nn.Module:
    h = config.hidden_size
    return torch.nn.Sequential(torch.nn.Linear(h, h), torch.nn.ReLU(), torch.nn.Linear(h, 2))


HEADS: Registry = Registry("PRM head")
for _head in (
    PRMHead("classifier", 2, "score", lambda c: {"score.weight": (2, c.hidden_size), "score.bias": (2,)}),
    PRMHead(
        "two_layer", 2, "score",
        lambda c: {"score.0.weight": (c.hidden_size, c.hidden_size), "score.0.bias": (c.hidden_size,),
                   "score.2.weight": (2, c.hidden_size), "score.2.bias": (2,)},
        build=_two_layer, architecture_suffix="ForProcessRewardModel",
    ),
    PRMHead(
        "value", 1, "v_head", lambda c: {"v_head.summary.weight": (1, c.hidden_size), "v_head.summary.bias": (1,)},
        build=lambda c: ValueHead(c.hidden_size), architecture_suffix="ForPrmModel", ignored_keys=(r"^lm_head\.",),
    ),
    PRMHead("lm_candidates", 2, None, lambda c: {}),
):  # fmt: skip
    HEADS.register(_head.name)(_head)


_CLASSES: dict[tuple[type, str], type] = {}


def native_model_class(config, head: PRMHead) -> type:
    """The model class of a native head on the backbone of ``config`` (cached per backbone).

    Returns a ``PreTrainedModel`` subclass whose instances hold the backbone as ``model`` and
    the head as ``head.attribute``; ``from_pretrained`` loads the published checkpoints by key.
    """
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    if not head.native:
        raise ValueError(f"head {head.name!r} has a transformers class; it is not built here")
    if type(config) not in MODEL_MAPPING:
        raise ValueError(f"no transformers backbone for model_type {getattr(config, 'model_type', None)!r}")
    backbone = MODEL_MAPPING[type(config)]
    key = (backbone, head.name)
    if key not in _CLASSES:
        base = next(c for c in backbone.__mro__[1:] if c.__name__.endswith("PreTrainedModel"))
        name = backbone.__name__.removesuffix("Model") + head.architecture_suffix

        def __init__(self, config):
            base.__init__(self, config)
            self.model = backbone(config)
            setattr(self, head.attribute, head.build(config))
            self.post_init()

        namespace = {
            "__init__": __init__,
            "__module__": __name__,
            "base_model_prefix": "model",
            "_keys_to_ignore_on_load_unexpected": list(head.ignored_keys),
        }
        _CLASSES[key] = type(name, (base,), namespace)
    return _CLASSES[key]


def head_outputs(model, head: PRMHead, hidden: torch.Tensor, candidate_ids: list[int] | None) -> torch.Tensor:
    """The head at the label tokens: (N, h) hidden states -> (N, head.width) float32 outputs."""
    if head.attribute is not None:
        return getattr(model, head.attribute)(hidden).float()
    out = model.get_output_embeddings()
    logits = hidden @ out.weight[candidate_ids].T  # (N, 2)
    if getattr(out, "bias", None) is not None:
        logits = logits + out.bias[candidate_ids]
    return logits.float()


# ---------------------------------------------------------------------------------------------
# Checkpoint inspection (tensor headers only: no weights are read)


def checkpoint_shapes(path: str) -> dict[str, tuple[int, ...]] | None:
    """{key: shape} of a local safetensors checkpoint (one file or an index of shards); None if unreadable.

    Hub names and ``.bin`` checkpoints give None (their keys are checked when transformers loads them).
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return None
    from safetensors import safe_open

    index = folder / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    elif (folder / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        return None
    shapes = {}
    for name in files:
        with safe_open(os.fspath(folder / name), "pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is no dict)
                shapes[key] = tuple(handle.get_slice(key).get_shape())
    return shapes


def check_head_shapes(path: str, head: PRMHead, config, family: str) -> None:
    """Raise ValueError when the checkpoint's head weights do not have the shapes ``head`` needs.

    Keys the checkpoint lacks are not checked here (a new head, or the loader's missing-key error).
    """
    shapes = checkpoint_shapes(path)
    if not shapes:
        return
    for key, want in head.shapes(config).items():
        got = shapes.get(key)
        if got is not None and tuple(got) != tuple(want):
            raise ValueError(
                f"{path}: head weight {key} has shape {tuple(got)}, but the {family!r} family's {head.name} head "
                f"needs {tuple(want)} (hidden size {config.hidden_size}); this checkpoint is not of that family "
                f"(set the PRM family flag to the right one)"
            )
