"""Stepwise rows: the TRL and Math-Shepherd formats, from JSONL / JSON / Parquet / hub, bad rows, writer."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrlhf_pure.data.stepwise import (
    STEPWISE_FORMATS,
    DataFormatError,
    LoadReport,
    RowError,
    StepwiseRow,
    iter_stepwise,
    load_stepwise,
    parse_math_shepherd,
    write_trl_jsonl,
)

TRL_ROWS = [
    {"prompt": "What is 2 + 3 * 4?", "completions": ["3 * 4 = 12.", "2 + 12 = 14."], "labels": [True, True]},
    {"prompt": "What is 2 + 3 * 4?", "completions": ["2 + 3 = 5.", "5 * 4 = 20."], "labels": [False, False]},
]

# A Math-Shepherd row as on the hub (peiyi9979/Math-Shepherd, math-shepherd.jsonl): "ки" closes
# each step in `input`; `label` is the same text with each tag replaced by "+" or "-".
SHEPHERD_INPUT = (
    "Buzz shares 78 slices in the ratio 5:8. How many does the waiter eat? "
    "Step 1: The total ratio is 5+8 = <<5+8=13>>13. ки\n"
    "Step 2: The waiter ate 13 x 8 / 13 = <<13*8/13=6>>6 slices. ки\n"
    "Step 3: The answer is: 6 ки"
)
SHEPHERD_ROW = {
    "input": SHEPHERD_INPUT,
    "label": SHEPHERD_INPUT.replace("ки", "+", 1).replace("ки", "-"),
    "task": "GSM8K",
}


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_trl_jsonl_rows_load_in_order_with_their_location_as_id(tmp_path):
    path = write_jsonl(tmp_path / "prm.jsonl", TRL_ROWS)
    rows, report = load_stepwise(path)
    assert [r.steps for r in rows] == [("3 * 4 = 12.", "2 + 12 = 14."), ("2 + 3 = 5.", "5 * 4 = 20.")]
    assert rows[1].labels == (False, False)
    assert rows[0].id == f"{path}:1"
    assert (report.read, report.kept, dict(report.skipped)) == (2, 2, {})


def test_jsonl_json_and_parquet_files_give_the_same_rows(tmp_path):
    jsonl = write_jsonl(tmp_path / "a.jsonl", TRL_ROWS)
    as_json = tmp_path / "a.json"
    as_json.write_text(json.dumps(TRL_ROWS))
    parquet = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist(TRL_ROWS), parquet)
    loaded = [[(r.prompt, r.steps, r.labels) for r in load_stepwise(p)[0]] for p in (jsonl, as_json, parquet)]
    assert loaded[0] == loaded[1] == loaded[2]


def test_hub_name_goes_through_datasets_load_dataset_with_the_split(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(name, split):
        calls.append((name, split))
        return TRL_ROWS

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    rows, report = load_stepwise("HuggingFaceH4/prm800k-trl-dedup", split="test")
    assert calls == [("HuggingFaceH4/prm800k-trl-dedup", "test")]
    assert len(rows) == 2 and rows[1].id == "HuggingFaceH4/prm800k-trl-dedup [split test] row 1"


def test_bad_jsonl_row_error_names_the_file_and_its_1_based_line(tmp_path):
    bad = {"prompt": "p", "completions": ["a", "b"], "labels": [True]}
    path = write_jsonl(tmp_path / "prm.jsonl", [TRL_ROWS[0], bad])
    with pytest.raises(DataFormatError, match=r"prm\.jsonl:2: 1 labels for 2 steps") as info:
        load_stepwise(path)
    assert info.value.reason == "length_mismatch"


def test_bad_json_row_error_names_the_0_based_row_index(tmp_path):
    path = tmp_path / "prm.json"
    path.write_text(json.dumps([TRL_ROWS[0], {"prompt": "p", "labels": [True]}]))
    with pytest.raises(DataFormatError, match=r"prm\.json row 1: missing field 'completions'"):
        load_stepwise(path)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"completions": ["a"], "labels": [True]}, "missing_field"),
        ({"prompt": "p", "completions": "a", "labels": [True]}, "wrong_type"),
        ({"prompt": "p", "completions": ["a"], "labels": [1]}, "wrong_type"),
        ({"prompt": 3, "completions": ["a"], "labels": [True]}, "wrong_type"),
        ({"prompt": "p", "completions": ["a", "b"], "labels": [True]}, "length_mismatch"),
        ({"prompt": "p", "completions": ["a", " \n"], "labels": [True, True]}, "empty_step"),
        ({"prompt": "  ", "completions": ["a"], "labels": [True]}, "empty_prompt"),
        ({"prompt": "p", "completions": [], "labels": []}, "no_steps"),
        (["p", ["a"], [True]], "not_an_object"),
    ],
)
def test_each_kind_of_bad_row_raises_with_its_reason(tmp_path, record, reason):
    path = write_jsonl(tmp_path / "prm.jsonl", [record])
    with pytest.raises(DataFormatError) as info:
        load_stepwise(path)
    assert info.value.reason == reason and info.value.where == f"{path}:1"


def test_invalid_json_line_is_a_bad_row_with_its_line(tmp_path):
    path = tmp_path / "prm.jsonl"
    path.write_text(json.dumps(TRL_ROWS[0]) + "\n{not json\n")
    with pytest.raises(DataFormatError, match=r"prm\.jsonl:2: not valid JSON"):
        load_stepwise(path)


def test_skip_counts_bad_rows_per_reason_and_keeps_the_good_ones(tmp_path):
    bad_length = {"prompt": "p", "completions": ["a", "b"], "labels": [True]}
    bad_step = {"prompt": "p", "completions": [""], "labels": [True]}
    path = write_jsonl(tmp_path / "prm.jsonl", [bad_length, TRL_ROWS[0], bad_step, bad_length])
    rows, report = load_stepwise(path, on_bad_row="skip")
    assert [r.id for r in rows] == [f"{path}:2"]
    assert dict(report.skipped) == {"length_mismatch": 2, "empty_step": 1}
    assert (report.read, report.kept) == (4, 1)
    assert report.examples[0].startswith(f"{path}:1: ")
    assert "skipped 3 (empty_step 1, length_mismatch 2)" in report.summary()


def test_unknown_bad_row_policy_and_unknown_format_are_rejected(tmp_path):
    path = write_jsonl(tmp_path / "prm.jsonl", TRL_ROWS)
    with pytest.raises(ValueError, match="on_bad_row must be 'raise' or 'skip'"):
        load_stepwise(path, on_bad_row="ignore")
    with pytest.raises(ValueError, match="unknown stepwise format 'csv'; known: math_shepherd, trl"):
        load_stepwise(path, format="csv")


def test_missing_local_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        load_stepwise(tmp_path / "nope.jsonl")


def test_row_is_immutable_stores_tuples_and_validates_on_construction():
    row = StepwiseRow("p", ["a", "b"], [True, False])
    assert row.steps == ("a", "b") and hash(row) == hash(StepwiseRow("p", ("a", "b"), (True, False)))
    with pytest.raises(AttributeError):
        row.prompt = "q"
    with pytest.raises(RowError, match="field 'steps' must be a list, got str"):
        StepwiseRow("p", "ab", [True, True])


# ---------------------------------------------------------------------------------------------
# Math-Shepherd


def test_math_shepherd_row_splits_question_steps_and_labels(tmp_path):
    """Question = text before "Step 1:"; labels "+", "-", "-" from the label text."""
    rows, _ = load_stepwise(write_jsonl(tmp_path / "ms.jsonl", [SHEPHERD_ROW]), format="math_shepherd")
    (row,) = rows
    assert row.prompt == "Buzz shares 78 slices in the ratio 5:8. How many does the waiter eat?"
    assert row.steps == (
        "Step 1: The total ratio is 5+8 = <<5+8=13>>13.",
        "Step 2: The waiter ate 13 x 8 / 13 = <<13*8/13=6>>6 slices.",
        "Step 3: The answer is: 6",
    )
    assert row.labels == (True, False, False)
    assert row.source == "GSM8K"


def test_math_shepherd_label_that_does_not_match_its_input_is_a_bad_row():
    shifted = dict(SHEPHERD_ROW, label=SHEPHERD_ROW["label"].replace("Step 2", "Step 9"))
    with pytest.raises(RowError, match="'label' differs from 'input' in the text before tag 1"):
        parse_math_shepherd(shifted)
    wrong_sign = dict(SHEPHERD_ROW, label=SHEPHERD_INPUT.replace("ки", "?"))
    with pytest.raises(RowError, match="'label' has '\\?' where tag 0 needs"):
        parse_math_shepherd(wrong_sign)


def test_math_shepherd_tag_inside_the_question_is_a_bad_row():
    text = "What is ки 2 + 2? Step 1: 2 + 2 = 4. ки"
    with pytest.raises(RowError, match="no 'Step 1:' before the first tag") as info:
        parse_math_shepherd({"input": text, "label": text.replace("ки", "+")})
    assert info.value.reason == "bad_tags"


def test_math_shepherd_text_after_the_last_tag_is_a_bad_row():
    text = "What is 2 + 2? Step 1: 2 + 2 = 4. ки\nStep 2: So 4."
    with pytest.raises(RowError, match="text after the last tag has no label"):
        parse_math_shepherd({"input": text, "label": text.replace("ки", "+")})


step_text = st.text(alphabet="abc 12+=-.:", min_size=1, max_size=12).filter(
    lambda s: s.strip() and "step" not in s.lower()
)


@settings(max_examples=60)
@given(steps=st.lists(step_text, min_size=1, max_size=6), data=st.data())
def test_math_shepherd_rows_built_from_steps_and_labels_parse_back_to_them(steps, data):
    labels = data.draw(st.lists(st.booleans(), min_size=len(steps), max_size=len(steps)))
    body = [f"Step {k + 1}: {s.strip()}" for k, s in enumerate(steps)]
    text = "Question? " + "".join(f"{b} ки\n" for b in body)
    label = "Question? " + "".join(f"{b} {'+' if y else '-'}\n" for b, y in zip(body, labels))
    row = parse_math_shepherd({"input": text, "label": label})
    assert (row.prompt, row.steps, row.labels) == ("Question?", tuple(body), tuple(labels))


def test_formats_registry_holds_trl_and_math_shepherd():
    assert STEPWISE_FORMATS.names() == ["trl", "math_shepherd"]


# ---------------------------------------------------------------------------------------------
# Writer

rows_strategy = st.lists(
    st.builds(
        lambda prompt, pairs: StepwiseRow(prompt, [s for s, _ in pairs], [y for _, y in pairs]),
        st.text(min_size=1, max_size=10).filter(str.strip),
        st.lists(st.tuples(st.text(min_size=1, max_size=10).filter(str.strip), st.booleans()), min_size=1, max_size=4),
    ),
    max_size=5,
)


@settings(max_examples=40)
@given(rows=rows_strategy)
def test_written_trl_jsonl_reads_back_as_the_same_rows(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("w") / "out.jsonl"
    assert write_trl_jsonl(rows, path) == len(rows)
    back, _ = load_stepwise(path)
    assert [(r.prompt, r.steps, r.labels) for r in back] == [(r.prompt, r.steps, r.labels) for r in rows]


def test_writer_writes_the_trl_fields_and_keeps_source_and_id(tmp_path):
    path = tmp_path / "out.jsonl"
    write_trl_jsonl([StepwiseRow("p", ["a"], [True], source="prm800k", id="x.jsonl:1")], path)
    record = json.loads(path.read_text())
    assert record == {"prompt": "p", "completions": ["a"], "labels": [True], "source": "prm800k", "id": "x.jsonl:1"}
    assert load_stepwise(path)[0][0].id == "x.jsonl:1"


def test_writer_is_atomic_and_leaves_the_old_file_when_rows_fail(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")

    def rows():
        yield StepwiseRow("p", ["a"], [True])
        raise RuntimeError("upstream failure")

    with pytest.raises(RuntimeError, match="upstream failure"):
        write_trl_jsonl(rows(), path)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_iter_stepwise_streams_rows_and_fills_the_report(tmp_path):
    path = write_jsonl(tmp_path / "prm.jsonl", TRL_ROWS)
    report = LoadReport(str(path))
    stream = iter_stepwise(path, report)
    first = next(stream)
    assert first.labels == (True, True) and report.read == 1
    assert len(list(stream)) == 1 and report.kept == 2
