"""Benchmark files are checked before they are read: the shipped checksums and row counts, an empty
copy, bytes that are not UTF-8, a user dataset that is not a readable Parquet file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from openrlhf_pure.evaluation.benchmarks import DataError, load_benchmark, load_dataset_file

DATA = Path(__file__).resolve().parents[2] / "eval" / "data"


@pytest.fixture
def copy_of_data(tmp_path):
    """The shipped data folder (amc23 and aime24) with its checksums."""
    for name in ("amc23", "aime24"):
        shutil.copytree(DATA / name, tmp_path / name)
    shutil.copy(DATA / "checksums.sha256", tmp_path)
    return tmp_path


def test_the_shipped_files_match_their_checksums_and_row_counts(copy_of_data):
    assert len(load_benchmark("amc23", data_dir=copy_of_data)) == 40


@pytest.mark.parametrize("cut", [0, 1000])
def test_an_empty_or_truncated_copy_is_an_error_not_a_smaller_benchmark(copy_of_data, cut):
    path = copy_of_data / "amc23" / "test.jsonl"
    path.write_bytes(path.read_bytes()[:cut].rsplit(b"\n", 1)[0] + b"\n" if cut else b"")
    with pytest.raises(DataError, match=r"amc23/test\.jsonl \(\d+ bytes\) is not the published AMC23 file"):
        load_benchmark("amc23", data_dir=copy_of_data)


def test_without_checksums_an_empty_file_or_a_wrong_row_count_is_still_an_error(copy_of_data):
    (copy_of_data / "checksums.sha256").unlink()
    path = copy_of_data / "amc23" / "test.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:5]))
    with pytest.raises(DataError, match=r"test\.jsonl: 5 rows, the published AMC23 has 40"):
        load_benchmark("amc23", data_dir=copy_of_data)
    assert len(load_benchmark("amc23", data_dir=copy_of_data, limit=3)) == 3  # a smoke run's first rows
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"test\.jsonl: no rows \(an empty benchmark file\)"):
        load_benchmark("amc23", data_dir=copy_of_data, limit=3)


def test_bytes_that_are_not_utf8_name_file_and_line(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_bytes(b'{"q": "a", "a": "1"}\n{"q": "\xc3(", "a": "2"}\n')
    with pytest.raises(DataError, match=r"mine\.jsonl:2: not UTF-8 text \(byte 0xc3 at column 8\)"):
        load_dataset_file(str(path), "q", "a")


def test_a_corrupt_parquet_dataset_is_named(tmp_path):
    path = tmp_path / "mine.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"mine\.parquet: not a readable Parquet file"):
        load_dataset_file(str(path), "q", "a")
