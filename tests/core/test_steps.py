"""Steps in token space: separator tokens and the vectorised step layout."""

from __future__ import annotations

import pytest
import torch

from openrlhf_pure.core.steps import separator_token_ids, split_steps
from openrlhf_pure.models.tiny import train_tiny_tokenizer


def encode_batch(tokenizer, texts, eos=True, left_pad=False):
    """Right- (or left-) padded ids and mask for response texts, EOS appended if asked."""
    rows = [
        tokenizer(t, add_special_tokens=False)["input_ids"] + ([tokenizer.eos_token_id] if eos else []) for t in texts
    ]
    width = max(len(r) for r in rows) + 2  # extra padding on every row
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, r in enumerate(rows):
        start = width - len(r) if left_pad else 0
        ids[i, start : start + len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, start : start + len(r)] = True
    return ids, mask


def step_texts(tokenizer, ids, mask, layout, row):
    """Decode each step of one row (for readable assertions)."""
    out = []
    for k in range(int(layout.num_steps[row])):
        positions = ((layout.step_index[row] == k) & mask[row]).nonzero().squeeze(1)
        out.append(tokenizer.decode(ids[row, positions]))
    return out


def test_separator_tokens_are_exactly_the_tokens_ending_with_the_separator(tokenizer):
    ids = set(separator_token_ids(tokenizer).tolist())
    for i in range(len(tokenizer)):
        assert (i in ids) == tokenizer.decode([i]).endswith("\n\n"), repr(tokenizer.decode([i]))
    assert {tokenizer.decode([i]) for i in ids} >= {"\n\n", ".\n\n", ":\n\n"}


def test_separator_tokens_are_cached_per_tokenizer_and_separator(tokenizer):
    assert separator_token_ids(tokenizer) is separator_token_ids(tokenizer)
    assert separator_token_ids(tokenizer, ".\n\n") is not separator_token_ids(tokenizer)
    assert set(separator_token_ids(tokenizer, ".\n\n").tolist()) < set(separator_token_ids(tokenizer).tolist())


def test_a_vocabulary_without_the_separator_gets_an_error_naming_tokenizer_and_separator():
    tok = train_tiny_tokenizer(["one two three four five. six seven eight nine ten."] * 20, vocab_size=300)
    tok.name_or_path = "no-newlines-tok"
    with pytest.raises(ValueError, match=r"'no-newlines-tok'.*'\\n\\n'"):
        separator_token_ids(tok)


def test_steps_close_on_separators_and_the_last_step_on_the_eos(tokenizer):
    ids, mask = encode_batch(tokenizer, ["First:\n\n1 + 2 = 3.\n\nSo \\boxed{3}."])
    layout = split_steps(ids, mask, separator_token_ids(tokenizer))
    assert int(layout.num_steps[0]) == 3  # two separators + 1
    assert step_texts(tokenizer, ids, mask, layout, 0) == [
        "First:\n\n",
        "1 + 2 = 3.\n\n",
        "So \\boxed{3}.<|endoftext|>",
    ]
    assert int(layout.step_end[0, 2]) == int(mask[0].nonzero().max())


def test_a_response_without_separator_is_one_step(tokenizer):
    ids, mask = encode_batch(tokenizer, ["The answer is 7."])
    layout = split_steps(ids, mask, separator_token_ids(tokenizer))
    assert layout.num_steps.tolist() == [1]
    assert layout.step_tokens[0, 0] == mask[0].sum()


def test_consecutive_separators_make_empty_steps(tokenizer):
    ids, mask = encode_batch(tokenizer, ["Let me check.\n\n\n\n\n\nok"])
    layout = split_steps(ids, mask, separator_token_ids(tokenizer))
    texts = step_texts(tokenizer, ids, mask, layout, 0)
    assert len(texts) >= 3 and "".join(texts) == "Let me check.\n\n\n\n\n\nok<|endoftext|>"
    assert any(t.strip() == "" for t in texts[1:-1])  # a step holding only a separator


def test_a_truncated_response_ending_in_a_separator_closes_its_last_step_there(tokenizer):
    ids, mask = encode_batch(tokenizer, ["First:\n\n1 + 2 = 3.\n\n"], eos=False)
    layout = split_steps(ids, mask, separator_token_ids(tokenizer))
    assert layout.num_steps.tolist() == [2]
    assert step_texts(tokenizer, ids, mask, layout, 0) == ["First:\n\n", "1 + 2 = 3.\n\n"]


def test_a_truncated_response_mid_step_closes_at_its_last_token(tokenizer):
    ids, mask = encode_batch(tokenizer, ["First:\n\n1 + 2 ="], eos=False)
    layout = split_steps(ids, mask, separator_token_ids(tokenizer))
    assert step_texts(tokenizer, ids, mask, layout, 0) == ["First:\n\n", "1 + 2 ="]


def test_an_empty_response_has_zero_steps_and_no_closing_token(tokenizer):
    ids, mask = encode_batch(tokenizer, ["a.\n\nb", ""], eos=False)
    layout = split_steps(ids, mask, separator_token_ids(tokenizer))
    assert layout.num_steps.tolist() == [2, 0]
    assert not layout.closing_mask[1].any() and not layout.step_mask[1].any()
    assert layout.last_token[1] == -1 and (layout.step_index[1] == -1).all()


def test_left_and_right_padding_give_the_same_steps(tokenizer):
    texts = ["a:\n\nb.\n\nc", "one step only", "x.\n\n\n\ny"]
    sep = separator_token_ids(tokenizer)
    right = split_steps(*encode_batch(tokenizer, texts), sep)
    left = split_steps(*encode_batch(tokenizer, texts, left_pad=True), sep)
    assert torch.equal(right.num_steps, left.num_steps)
    assert torch.equal(right.step_tokens, left.step_tokens)
    assert torch.equal(right.step_mask, left.step_mask)


def test_tokens_per_step_add_up_to_the_response_length(tokenizer):
    ids, mask = encode_batch(tokenizer, ["a:\n\nb.\n\nc", "q", "1.\n\n2.\n\n3.\n\n4"])
    layout = split_steps(ids, mask, separator_token_ids(tokenizer))
    assert torch.equal(layout.step_tokens.sum(1), mask.sum(1))
    assert torch.equal(layout.closing_mask.sum(1), layout.num_steps)


def test_mismatched_ids_and_mask_shapes_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(2, 4\)"):
        split_steps(torch.zeros(2, 5, dtype=torch.long), torch.ones(2, 4), torch.tensor([1]))


def test_ids_outside_the_separator_table_are_not_separators():
    from openrlhf_pure.core.steps import is_separator

    ids = torch.tensor([[5, 3, 999_999, -100, 3]])
    assert is_separator(ids, torch.tensor([3, 4])).tolist() == [[False, True, False, False, True]]
    assert not is_separator(ids, torch.tensor([], dtype=torch.long)).any()


def test_few_and_many_separator_ids_find_the_same_tokens():
    from openrlhf_pure.core.steps import is_separator

    ids = torch.randint(0, 50, (4, 30))
    many = torch.arange(0, 50, 7)  # 8 ids: the lookup table
    expected = torch.isin(ids, many)
    assert torch.equal(is_separator(ids, many), expected)
    assert torch.equal(is_separator(ids, many[:3]), torch.isin(ids, many[:3]))


def test_a_mask_with_holes_counts_only_valid_tokens_per_step():
    """Tokens [7 (pad) 1 | 7 7 (pad) 7]: a non-contiguous mask takes the cumulative-sum path."""
    ids = torch.tensor([[7, 0, 1, 7, 7, 0, 7], [7, 1, 7, 0, 0, 0, 0]])
    mask = torch.tensor([[1, 0, 1, 1, 1, 0, 1], [1, 1, 1, 0, 0, 0, 0]]).bool()
    layout = split_steps(ids, mask, torch.tensor([1]))
    assert layout.step_tokens.tolist() == [[2, 3], [2, 1]]
    assert layout.step_end.tolist() == [[2, 6], [1, 2]]
