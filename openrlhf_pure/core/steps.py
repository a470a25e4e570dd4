"""Reasoning steps in token space (PURE.md section 2).

A response is split into steps on a separator string ("\\n\\n" by default). In token space,
every vocabulary token whose decoded text *ends* with the separator (".\\n\\n", ":\\n\\n",
"\\n\\n\\n", ...) closes a step, and the last step closes at the last valid token of the
response (its EOS, or the last token of a truncated response). So a response with k
separator tokens has k + 1 steps, except when its last valid token is itself a separator
(a response truncated right after a step), which then closes the last step: k steps.

Real vocabularies often spell the separator over several tokens: SmolLM2's BPE has a "\\n\\n"
token, yet ".\\n\\nSo" is "." "\\n" "\\n" "So". :func:`step_separator` also records the tokens that
are pieces of the separator, and :func:`split_steps` then closes a step at the token where the
separator's text is completed across tokens, once per run: after "\\n" "\\n" a third "\\n" (or
"\\n\\n" then "\\n") closes nothing more, as the single token "\\n\\n\\n" closes one step. Tokens
whose own text ends with the separator close a step as before, so the layout of a vocabulary
without split separators is unchanged. A separator completed inside a token that goes on
with other text ("\\n" then "\\n   ") is not a boundary.

Everything here is vectorised over (B, T) with an action mask, so left and right padding
(or any contiguous or non-contiguous mask) give the same steps.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import torch

from openrlhf_pure.core.checks import check_ndim, check_same_shape

DEFAULT_SEPARATOR = "\n\n"

_separator_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def separator_token_ids(tokenizer, separator: str = DEFAULT_SEPARATOR) -> torch.Tensor:
    """Ids of every vocabulary token whose decoded text ends with ``separator``.

    Args:
        tokenizer: a Hugging Face tokenizer (fast or slow).
        separator: the step separator string.
    Returns:
        (V_sep,) long tensor, sorted ascending. Cached per tokenizer and separator.
    Raises:
        ValueError naming the tokenizer and separator when no token ends with it (the
        vocabulary cannot express a step boundary as one token).
    """
    if not separator:
        raise ValueError("the step separator must be a non-empty string")
    try:
        per_tokenizer = _separator_cache.setdefault(tokenizer, {})
    except TypeError:  # not weak-referenceable: compute without caching
        per_tokenizer = {}
    if separator in per_tokenizer:
        return per_tokenizer[separator]
    ids = [i for i, text in enumerate(_vocabulary_texts(tokenizer)) if text.endswith(separator)]
    if not ids:
        raise ValueError(
            f"tokenizer {_name(tokenizer)!r} has no vocabulary token whose text ends with the step separator "
            f"{separator!r}, so steps cannot be found in token space; choose another separator"
        )
    result = torch.tensor(ids, dtype=torch.long)
    per_tokenizer[separator] = result
    return result


@dataclass(frozen=True)
class StepSeparator:
    """The step separator in a vocabulary's token space.

    Attributes (L = len(text)):
        text: the separator string.
        ids: (V_sep,) long, tokens whose text ends with ``text`` (each closes a step).
        ends_with: L tensors; ``ends_with[j - 1]`` holds the tokens whose text is at least j
            characters and ends with ``text[:j]``.
        pieces: for j = 2..L, ``pieces[j - 2]`` maps a length l < j to the tokens whose whole
            text is ``text[j - l:j]`` (they extend a partial separator across tokens).
    """

    text: str
    ids: torch.Tensor
    ends_with: tuple = field(default=())
    pieces: tuple = field(default=())

    @property
    def spans_tokens(self) -> bool:
        """Whether some separator piece is a token, so the separator can be spelt over tokens."""
        return any(ids.numel() for by_length in self.pieces for ids in by_length.values())


def step_separator(tokenizer, separator: str = DEFAULT_SEPARATOR) -> StepSeparator:
    """The separator's whole tokens and pieces in ``tokenizer``'s vocabulary (cached per tokenizer).

    Raises:
        ValueError naming the tokenizer when the separator can be neither one token's ending nor
        completed by tokens that are pieces of it.
    """
    if not separator:
        raise ValueError("the step separator must be a non-empty string")
    try:
        per_tokenizer = _separator_cache.setdefault(tokenizer, {})
    except TypeError:
        per_tokenizer = {}
    key = ("pieces", separator)
    if key in per_tokenizer:
        return per_tokenizer[key]
    texts = _vocabulary_texts(tokenizer)
    length = len(separator)
    ends_with = tuple(
        torch.tensor([i for i, t in enumerate(texts) if len(t) >= j and t.endswith(separator[:j])], dtype=torch.long)
        for j in range(1, length + 1)
    )
    pieces = []
    for j in range(2, length + 1):
        wanted = {separator[j - piece : j]: piece for piece in range(1, j)}
        by_length: dict[int, list[int]] = {}
        for i, t in enumerate(texts):
            if t in wanted:
                by_length.setdefault(wanted[t], []).append(i)
        pieces.append({piece: torch.tensor(ids, dtype=torch.long) for piece, ids in by_length.items()})
    result = StepSeparator(separator, ends_with[-1], ends_with, tuple(pieces))
    if result.ids.numel() == 0 and not result.spans_tokens:
        raise ValueError(
            f"tokenizer {_name(tokenizer)!r} has no vocabulary token that ends with the step separator "
            f"{separator!r} or is a piece of it, so steps cannot be found in token space; choose another separator"
        )
    per_tokenizer[key] = result
    return result


def _vocabulary_texts(tokenizer) -> list[str]:
    """Each vocabulary token's decoded text, by id."""
    return tokenizer.batch_decode(
        [[i] for i in range(len(tokenizer))], skip_special_tokens=False, clean_up_tokenization_spaces=False
    )


def _name(tokenizer) -> str:
    return getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__


def _shift_right(mask: torch.Tensor) -> torch.Tensor:
    """(B, T) bool -> (B, T) bool, each position holding its left neighbour's value (false at 0)."""
    out = torch.zeros_like(mask)
    out[:, 1:] = mask[:, :-1]
    return out


def closing_separators(response_ids: torch.Tensor, valid: torch.Tensor, separator) -> torch.Tensor:
    """(B, T) ids and bool mask -> (B, T) bool, true on the tokens that close a step at a separator.

    ``separator``: a :class:`StepSeparator`, or a (V_sep,) tensor of whole separator tokens only.
    With pieces, ``ends[j]`` (the valid text up to each token ends with ``text[:j]``) is built
    for j = 1..L, each from the shorter ones one token back; a step closes where ``ends[L]``
    holds, at every whole separator token and at the first token of a run completed across tokens.
    """
    if not isinstance(separator, StepSeparator):
        return is_separator(response_ids, separator) & valid
    whole = is_separator(response_ids, separator.ids) & valid
    if not separator.spans_tokens:
        return whole
    ends = [is_separator(response_ids, separator.ends_with[0]) & valid]
    for j in range(2, len(separator.text) + 1):
        here = is_separator(response_ids, separator.ends_with[j - 1])
        for piece, ids in separator.pieces[j - 2].items():
            here = here | (is_separator(response_ids, ids) & _shift_right(ends[j - piece - 1]))
        ends.append(here & valid)
    completed = ends[-1]
    return whole | (completed & ~_shift_right(completed))


@dataclass
class StepLayout:
    """Where the steps of a batch of responses are.

    Attributes (B responses, T token positions, S = most steps in any response, at least 1):
        action_mask:  (B, T) bool, the responses' valid tokens.
        closing_mask: (B, T) bool, true on each step's closing token.
        step_end:     (B, S) long, position of each step's closing token; 0 where no step.
        step_mask:    (B, S) bool, true for real steps.
        step_tokens:  (B, S) long, tokens per step (0 where no step).
        num_steps:    (B,) long, steps per response (0 for an empty response).
        last_token:   (B,) long, position of the last valid token; -1 for an empty response.
    """

    action_mask: torch.Tensor
    closing_mask: torch.Tensor
    step_end: torch.Tensor
    step_mask: torch.Tensor
    step_tokens: torch.Tensor
    num_steps: torch.Tensor
    last_token: torch.Tensor

    @property
    def num_slots(self) -> int:
        """S, the width of the per-step tensors."""
        return self.step_mask.shape[1]

    @property
    def step_index(self) -> torch.Tensor:
        """(B, T) long, the step each valid token belongs to; -1 on padding (computed on demand)."""
        closes_before = torch.cumsum(self.closing_mask, dim=1) - self.closing_mask.long()
        return torch.where(self.action_mask, closes_before, torch.full_like(closes_before, -1))

    def last_token_mask(self) -> torch.Tensor:
        """(B, T) bool, true on each non-empty response's last valid token."""
        mask = torch.zeros_like(self.action_mask)
        rows = torch.nonzero(self.last_token >= 0).squeeze(1)
        mask[rows, self.last_token[rows]] = True
        return mask


def last_valid_position(action_mask: torch.Tensor) -> torch.Tensor:
    """Position of each row's last valid token. (B, T) mask -> (B,) long, -1 for an empty row."""
    valid = action_mask.bool()
    positions = torch.arange(1, valid.shape[1] + 1, dtype=torch.int32, device=valid.device)
    return torch.where(valid, positions, 0).amax(dim=1).long() - 1


def is_separator(response_ids: torch.Tensor, separator_ids: torch.Tensor) -> torch.Tensor:
    """(B, T) long ids -> (B, T) bool, true where the id is a separator token.

    Up to 4 separator ids: direct comparisons. More (real vocabularies have dozens): a lookup
    table indexed by token id, whose cost does not grow with the number of ids (torch.isin
    slows down ~10x at 100 ids).
    Ids outside [0, max separator id] map to false.
    """
    if separator_ids.numel() == 0:
        return torch.zeros_like(response_ids, dtype=torch.bool)
    if separator_ids.numel() <= 4:  # a few comparisons beat the table's clamp-and-gather
        found = response_ids == int(separator_ids[0])
        for token in separator_ids[1:].tolist():
            found |= response_ids == token
        return found
    sentinel = int(separator_ids.max()) + 1
    table = torch.zeros(sentinel + 1, dtype=torch.bool, device=response_ids.device)
    table[separator_ids.to(response_ids.device)] = True
    return table[response_ids.clamp(0, sentinel)]


def _valid_tokens_up_to(valid: torch.Tensor, last_token: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor):
    """Number of valid tokens at or before each (row, col): (N,) long.

    Left- or right-padded masks (one contiguous run per row) need no pass over (B, T) beyond
    finding each run's start; other masks take a cumulative sum.
    """
    as_bytes = valid.view(torch.uint8)
    first = as_bytes.argmax(dim=1)  # (B,) first valid position (0 for an empty row)
    count = as_bytes.sum(dim=1, dtype=torch.int32)  # (B,)
    if bool(((count == 0) | (last_token - first + 1 == count)).all()):
        return cols - first[rows] + 1
    return torch.cumsum(valid, dim=1, dtype=torch.int32)[rows, cols].long()


def split_steps(response_ids: torch.Tensor, action_mask: torch.Tensor, separator_ids) -> StepLayout:
    """Find the steps of a batch of responses.

    Args:
        response_ids: (B, T) long, response token ids (padding anywhere the mask is false).
        action_mask:  (B, T) bool or 0/1, true on the response's valid tokens.
        separator_ids: a :class:`StepSeparator` (:func:`step_separator`: separators spelt over
            tokens are found too), or (V_sep,) long whole separator tokens (:func:`separator_token_ids`).
    Returns:
        a :class:`StepLayout`.
    """
    check_ndim("response_ids", response_ids, 2)
    check_same_shape("response_ids", response_ids, "action_mask", action_mask)
    valid = action_mask.bool()
    batch, width = response_ids.shape
    device = response_ids.device

    last_token = last_valid_position(valid)  # (B,)
    closing_mask = closing_separators(response_ids, valid, separator_ids)  # (B, T)
    nonempty = torch.nonzero(last_token >= 0).squeeze(1)
    closing_mask[nonempty, last_token[nonempty]] = True  # the last step closes at the last valid token

    rows, cols = closing_mask.nonzero(as_tuple=True)  # row-major: each row's closes in order
    num_steps = torch.bincount(rows, minlength=batch)  # (B,)
    slots = max(int(num_steps.max()) if batch else 0, 1)
    first_of_row = torch.cumsum(num_steps, 0) - num_steps  # (B,) index of a row's first close in rows/cols
    step = torch.arange(rows.numel(), device=device) - first_of_row[rows]  # (N,) step number of each close
    step_end = torch.zeros(batch, slots, dtype=torch.long, device=device)
    step_end[rows, step] = cols
    step_mask = torch.arange(slots, device=device).expand(batch, slots) < num_steps.unsqueeze(1)

    valid_upto = _valid_tokens_up_to(valid, last_token, rows, cols)  # (N,) valid tokens at or before each close
    step_tokens = torch.zeros(batch, slots, dtype=torch.long, device=device)
    step_tokens[rows, step] = valid_upto
    step_tokens[:, 1:] -= torch.where(step_mask[:, 1:], step_tokens[:, :-1], 0)
    return StepLayout(
        action_mask=valid,
        closing_mask=closing_mask,
        step_end=step_end,
        step_mask=step_mask,
        step_tokens=step_tokens,
        num_steps=num_steps,
        last_token=last_token,
    )
