"""From the policy's steps to PRM inputs, and from PRM step scores back to the policy's steps.

The policy's steps are given in its own tokens by a :class:`StepLayout` (``core.steps``).
PRM inputs are built one of two ways:

- text path (any pair of tokenizers): each step's tokens are decoded to text (special tokens
  such as EOS skipped), then encoded for the PRM with the step format
  (``step_formats.encode_steps``);
- token path (the PRM uses the policy's vocabulary and the format tokenizes step by step):
  the policy's tokens are kept, and only each step's ends are re-encoded (cached): its *tail*
  (trailing newline-only tokens and the one token before them, e.g. ".\\n\\n" or "." + "\\n\\n")
  with the step ending, and, when the step starts with newlines, its *head* (those tokens and
  the one after them) without them; no response is decoded or re-encoded in full.

The two paths give identical ids when the policy tokens are the tokenizer's own encoding of
the step text and no merge crosses into the tail. Qwen2's pre-tokenizer keeps a punctuation run
with its newlines ("}$.\\n\\n" is one pre-token), so merges can cross: on the first 40 MATH-500
solutions with Qwen2.5's vocabulary 29 (pure format) and 38 (skywork) of 40 inputs are
token-identical, every one with the same text and label tokens (tests/prm/test_prm_vocabularies.py).
Otherwise the token path keeps the policy's token boundaries, as the PURE authors' token-space
construction did (which dropped the separator token whole). A step ending appended as a token
of its own (``ending_as_token``, Skywork's "\\n") is appended after the step's tokens in both paths.

Step k of response b has one PRM score; :func:`scatter_step_scores` writes it at [b, k] of a
(B, S) tensor aligned to ``layout.step_mask`` (0 elsewhere), ready for
``core.advantages.compute_advantages(step_rewards=...)``. A response with 0 steps (empty) has
no PRM input and an all-masked row; a truncated response's last step is scored like any other.
"""

from __future__ import annotations

import torch

from openrlhf_pure.core.checks import check_ndim, check_same_shape
from openrlhf_pure.core.steps import StepLayout
from openrlhf_pure.models.step_formats import PRMInput, StepFormat, encode_steps, label_token_index

_TAIL_CACHE_LIMIT = 1 << 16


def same_vocabulary(a, b) -> bool:
    """True when two tokenizers map the same strings to the same ids (added tokens included)."""
    return a is b or (len(a) == len(b) and a.get_vocab() == b.get_vocab())


def policy_step_tokens(response_ids: torch.Tensor, layout: StepLayout) -> list[list[list[int]]]:
    """Each response's steps as lists of its valid token ids.

    Args:
        response_ids: (B, T) long, the policy's response tokens.
        layout: their :class:`StepLayout`.
    Returns:
        (B,) lists of ``layout.num_steps[b]`` token-id lists, in order.
    """
    check_ndim("response_ids", response_ids, 2)
    check_same_shape("response_ids", response_ids, "layout.action_mask", layout.action_mask)
    ids, mask = response_ids.cpu(), layout.action_mask.cpu()
    counts, num_steps = layout.step_tokens.cpu().tolist(), layout.num_steps.cpu().tolist()
    out = []
    for b in range(ids.shape[0]):
        valid = ids[b][mask[b]].tolist()
        steps, start = [], 0
        for n in counts[b][: num_steps[b]]:
            steps.append(valid[start : start + n])
            start += n
        out.append(steps)
    return out


class StepAligner:
    """Builds PRM inputs from policy responses; maps PRM step scores back to the policy's steps.

    Args:
        policy_tokenizer: the policy's tokenizer.
        prm_tokenizer: the PRM's fast tokenizer.
        step_format: the PRM's :class:`StepFormat`.
        fast_path: use the token path when the vocabularies and the format allow it.
    """

    def __init__(self, policy_tokenizer, prm_tokenizer, step_format: StepFormat, fast_path: bool = True):
        self.policy_tokenizer = policy_tokenizer
        self.prm_tokenizer = prm_tokenizer
        self.step_format = step_format
        self.fast = fast_path and step_format.per_step_tokenization and same_vocabulary(policy_tokenizer, prm_tokenizer)
        self._special = set(policy_tokenizer.all_special_ids)
        self._newline_only: dict[int, bool] = {}
        self._tails: dict[tuple[int, ...], tuple[list[int], int]] = {}
        self._heads: dict[tuple[int, ...], list[int]] = {}

    def step_texts(self, response_ids: torch.Tensor, layout: StepLayout) -> list[list[str]]:
        """(B, T) ids + layout -> (B,) lists of step texts (special tokens skipped)."""
        steps = policy_step_tokens(response_ids, layout)
        self._check_ids(response_ids, layout)
        flat = [s for row in steps for s in row]
        texts = self.policy_tokenizer.batch_decode(flat, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        out, k = [], 0
        for row in steps:
            out.append(texts[k : k + len(row)])
            k += len(row)
        return out

    def prm_inputs(self, prompts: list[str], response_ids: torch.Tensor, layout: StepLayout) -> list[PRMInput | None]:
        """PRM inputs for B responses: (B,) :class:`PRMInput` (None for a 0-step response).

        Args:
            prompts: (B,) prompt texts.
            response_ids: (B, T) long, the policy's response tokens.
            layout: their :class:`StepLayout`.
        """
        if len(prompts) != response_ids.shape[0]:
            raise ValueError(f"got {len(prompts)} prompts for {response_ids.shape[0]} responses")
        if not self.fast:
            return encode_steps(self.step_format, self.prm_tokenizer, prompts, self.step_texts(response_ids, layout))
        steps = policy_step_tokens(response_ids, layout)
        self._check_ids(response_ids, layout)
        return self.encode_step_tokens(prompts, steps)

    def encode_step_tokens(self, prompts: list[str], steps: list[list[list[int]]]) -> list[PRMInput | None]:
        """Token path: (B,) prompts and step token lists -> (B,) :class:`PRMInput` or None."""
        fmt, tok = self.step_format, self.prm_tokenizer
        rows = [i for i, s in enumerate(steps) if s]
        prefixes = fmt.encode_prefixes(tok, [prompts[i] for i in rows])
        out: list[PRMInput | None] = [None] * len(steps)
        for row, i in enumerate(rows):
            ids, labels = list(prefixes[row]), []
            for step in steps[i]:
                kept = [t for t in step if t not in self._special]
                start, head_end = self._tail_start(kept), self._head_end(kept)
                if head_end > start:  # head and tail overlap: re-encode the whole step
                    start = head_end = 0
                tail_ids, label = self._tail(tuple(kept[start:]))
                ids.extend(self._head(tuple(kept[:head_end])))
                ids.extend(kept[head_end:start])
                labels.append(len(ids) + label)
                ids.extend(tail_ids)
            out[i] = PRMInput(input_ids=ids[: labels[-1] + 1], label_positions=labels)
        return out

    def _tail_start(self, tokens: list[int]) -> int:
        """Start of a step's tail: its trailing newline-only tokens and one token before them."""
        start = len(tokens)
        while start > 0 and self._is_newline_only(tokens[start - 1]):
            start -= 1
        start = max(start - 1, 0)
        # a token holding part of a multi-byte character decodes to U+FFFD: take its neighbours too
        while start > 0 and "\ufffd" in self._text(tokens[start]):
            start -= 1
        return start

    def _head_end(self, tokens: list[int]) -> int:
        """End of a step's head: its leading newline-only tokens and one token after them (0: no head)."""
        end = 0
        while end < len(tokens) and self._is_newline_only(tokens[end]):
            end += 1
        if end == len(tokens) or (end == 0 and not self._text(tokens[0]).startswith(("\r", "\n"))):
            return end
        end += 1
        while end < len(tokens) and "\ufffd" in self._text(tokens[end - 1]):
            end += 1
        return end

    def _head(self, head: tuple[int, ...]) -> list[int]:
        """(head token ids) -> PRM ids of the head without its leading newlines."""
        if not head:
            return []
        if head not in self._heads:
            if len(self._heads) >= _TAIL_CACHE_LIMIT:
                self._heads.clear()
            text = self.policy_tokenizer.decode(list(head), clean_up_tokenization_spaces=False).lstrip("\r\n")
            self._heads[head] = self.prm_tokenizer(text, add_special_tokens=False)["input_ids"] if text else []
        return self._heads[head]

    def _text(self, token: int) -> str:
        return self.policy_tokenizer.decode([token], clean_up_tokenization_spaces=False)

    def _is_newline_only(self, token: int) -> bool:
        if token not in self._newline_only:
            text = self._text(token)
            self._newline_only[token] = text != "" and text.strip("\r\n") == ""
        return self._newline_only[token]

    def _tail(self, tail: tuple[int, ...]) -> tuple[list[int], int]:
        """(tail token ids) -> (PRM ids of the tail rendered with the step ending, label index in them)."""
        if tail not in self._tails:
            if len(self._tails) >= _TAIL_CACHE_LIMIT:
                self._tails.clear()
            fmt = self.step_format
            text = self.policy_tokenizer.decode(list(tail), clean_up_tokenization_spaces=False)
            rendered = fmt.render_step(text)
            enc = self.prm_tokenizer(rendered, add_special_tokens=False, return_offsets_mapping=True)
            if fmt.ending_as_token:  # the ending is a token of its own, after the step's tokens
                ids = enc["input_ids"] + fmt.ending_ids(self.prm_tokenizer)
                self._tails[tail] = (ids, len(ids) - 1)
            else:
                mark = len(rendered) - len(fmt.step_ending) + fmt.label_char
                self._tails[tail] = (enc["input_ids"], label_token_index(enc["offset_mapping"], mark))
        return self._tails[tail]

    def _check_ids(self, response_ids: torch.Tensor, layout: StepLayout) -> None:
        """Raise ValueError naming the response when a valid token id is outside the policy vocabulary."""
        vocab = len(self.policy_tokenizer)
        bad = ((response_ids < 0) | (response_ids >= vocab)) & layout.action_mask.to(response_ids.device)
        if bool(bad.any()):
            b, t = (int(i) for i in bad.nonzero()[0])
            token = int(response_ids[b, t])
            raise ValueError(f"response {b} holds token id {token} outside the policy vocabulary (0..{vocab - 1})")


def scatter_step_scores(scores: list[torch.Tensor | None], layout: StepLayout) -> torch.Tensor:
    """Per-response step scores -> (B, S) float32, aligned to ``layout.step_mask`` (0 where masked).

    Args:
        scores: (B,) tensors of shape (num_steps[b],), or None for a 0-step response.
        layout: the responses' :class:`StepLayout`.
    Returns:
        (B, S) float32 on the layout's device.
    """
    num_steps = layout.num_steps.tolist()
    if len(scores) != len(num_steps):
        raise ValueError(f"got scores for {len(scores)} responses, the layout has {len(num_steps)}")
    out = torch.zeros(layout.step_mask.shape, dtype=torch.float32)
    for b, (row, n) in enumerate(zip(scores, num_steps)):
        got = 0 if row is None else row.numel()
        if got != n:
            raise ValueError(f"response {b} has {n} steps but {got} scores")
        if n:
            out[b, :n] = row.float().cpu()
    return out.to(layout.step_mask.device)
