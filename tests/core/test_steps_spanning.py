"""Separators spelt over several tokens (SmolLM2's "." "\\n" "\\n"), on hand-built vocabularies."""

from __future__ import annotations

import pytest
import torch

from openrlhf_pure.core.steps import closing_separators, separator_token_ids, split_steps, step_separator


class Vocabulary:
    """A hand-built vocabulary: token i decodes to ``texts[i]`` (what the step code reads of a tokenizer)."""

    def __init__(self, texts, name="hand-built"):
        self.texts, self.name_or_path = list(texts), name
        self.index = {t: i for i, t in enumerate(self.texts)}

    def __len__(self):
        return len(self.texts)

    def batch_decode(self, rows, **_):
        return ["".join(self.texts[i] for i in row) for row in rows]

    def ids(self, *pieces):
        return [self.index[p] for p in pieces]


SPLIT = Vocabulary(["a", "b", ".", "So", "\n", "\n\n", ".\n\n", "\n ", " \n", "b\n", "x"], name="split")
WHOLE = Vocabulary(["a", "b", ".", "So", "\n\n", ".\n\n", " ", "x", ":\n\n"], name="whole")


def batch(vocab, *rows):
    """(B, T) right-padded ids and mask for rows of token texts."""
    width = max(len(r) for r in rows) + 1
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, row in enumerate(rows):
        ids[b, : len(row)] = torch.tensor(vocab.ids(*row), dtype=torch.long)
        mask[b, : len(row)] = True
    return ids, mask


def closes(vocab, *tokens):
    """Positions where a step closes at a separator in one row of token texts."""
    ids, mask = batch(vocab, tokens)
    return closing_separators(ids, mask, step_separator(vocab)).nonzero()[:, 1].tolist()


def test_a_separator_spelt_over_two_tokens_closes_the_step_at_its_second_token():
    assert closes(SPLIT, "a", ".", "\n", "\n", "So", "b") == [3]
    layout = split_steps(*batch(SPLIT, ["a", ".", "\n", "\n", "So", "b"]), step_separator(SPLIT))
    assert layout.num_steps.tolist() == [2] and layout.step_tokens[0].tolist() == [4, 2]


def test_a_run_of_newlines_closes_one_step_whether_spelt_as_one_token_or_several():
    assert closes(SPLIT, "a", "\n", "\n", "\n", "b") == [2]
    assert closes(SPLIT, "a", "\n\n", "\n", "b") == [1]
    assert closes(SPLIT, "a", "b\n", "\n", "b") == [2]  # a token ending in "\n", then "\n"


def test_two_whole_separator_tokens_in_a_row_still_make_an_empty_step():
    assert closes(SPLIT, "a", "\n\n", "\n\n", "b") == [1, 2]


def test_a_separator_completed_inside_a_token_that_goes_on_is_not_a_boundary():
    assert closes(SPLIT, "a", "\n", "\n ", "b") == []
    assert closes(SPLIT, "a", "\n", "x", "\n", "b") == []
    assert closes(SPLIT, "a", " \n", "b") == []


def test_a_piece_on_padding_does_not_complete_a_separator():
    ids, mask = batch(SPLIT, ["a", "\n"], ["a", "\n", "\n"])
    ids[0, 2] = SPLIT.index["\n"]  # padding position holding a "\n" id
    closing = closing_separators(ids, mask, step_separator(SPLIT))
    assert closing[0].tolist() == [False] * 4 and closing[1].tolist() == [False, False, True, False]


def reference_closes(vocab, row, separator="\n\n"):
    """String oracle: the text so far ends with the separator at a token that ends with it or is a piece
    of its end, and (for a piece) the text one token earlier did not already end there."""
    texts = [vocab.texts[i] for i in row]
    out, completed_before = [], False
    for t, text in enumerate(texts):
        completed = "".join(texts[: t + 1]).endswith(separator) and (
            text.endswith(separator) or separator.endswith(text)
        )
        if text.endswith(separator) or (completed and not completed_before):
            out.append(t)
        completed_before = completed
    return out


def test_random_sequences_close_where_the_string_oracle_says():
    gen = torch.Generator().manual_seed(0)
    rows = torch.randint(0, len(SPLIT), (300, 12), generator=gen)
    closing = closing_separators(rows, torch.ones_like(rows, dtype=torch.bool), step_separator(SPLIT))
    for b in range(rows.shape[0]):
        assert closing[b].nonzero().squeeze(1).tolist() == reference_closes(SPLIT, rows[b].tolist()), rows[b]


@pytest.mark.parametrize("left_pad", [False, True])
def test_a_vocabulary_without_separator_pieces_gives_exactly_the_whole_token_layout(left_pad):
    separator = step_separator(WHOLE)
    assert not separator.spans_tokens
    assert separator.ids.tolist() == separator_token_ids(WHOLE).tolist()
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, len(WHOLE), (64, 16), generator=gen)
    lengths = torch.randint(0, 17, (64,), generator=gen)
    positions = torch.arange(16)
    mask = (positions >= 16 - lengths[:, None]) if left_pad else (positions < lengths[:, None])
    new, old = split_steps(ids, mask, separator), split_steps(ids, mask, separator_token_ids(WHOLE))
    for name in ("closing_mask", "step_end", "step_mask", "step_tokens", "num_steps", "last_token"):
        assert torch.equal(getattr(new, name), getattr(old, name)), name


def test_whole_separator_tokens_give_the_old_layout_in_a_vocabulary_that_also_has_pieces(tokenizer):
    texts = ["First:\n\n1 + 2 = 3.\n\nSo \\boxed{3}.", "2 * 3 = 6.\n\n6 - 1 = 5.\n\n\\boxed{5}", "no steps"]
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for t in texts]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for b, r in enumerate(rows):
        ids[b, : len(r)], mask[b, : len(r)] = torch.tensor(r), True
    new = split_steps(ids, mask, step_separator(tokenizer))
    old = split_steps(ids, mask, separator_token_ids(tokenizer))
    assert new.num_steps.tolist() == [3, 3, 1]
    for name in ("closing_mask", "step_end", "step_tokens", "num_steps"):
        assert torch.equal(getattr(new, name), getattr(old, name)), name


def test_step_separator_is_cached_and_names_the_tokenizer_when_nothing_fits():
    assert step_separator(SPLIT) is step_separator(SPLIT)
    with pytest.raises(ValueError, match=r"'plain'.*'\\n\\n'"):
        step_separator(Vocabulary(["a", "b", " "], name="plain"))
    with pytest.raises(ValueError, match="non-empty"):
        step_separator(SPLIT, "")
    assert step_separator(Vocabulary(["a", "\n"], name="pieces-only")).spans_tokens
