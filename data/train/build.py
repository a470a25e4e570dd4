"""Build PURE's RL training set for the launch scripts from ``shared/train`` (PURE.md section 6).

    python data/train/build.py [SOURCE_JSONL] [OUTPUT_JSONL]

Input rows (``math_level3to5_8523.jsonl``): ``idx``, ``question``, ``gt_answer``, ``level``,
``pure_vr_answer_visible``. Output rows, same order:

- ``prompt``: PURE's prompt (``openrlhf_pure.data.prompts.pure_prompt``, no chat template),
  read by OpenRLHF through ``--data.input_key prompt``;
- ``label``: ``{"gt_answer": ..., "pure_vr_answer_visible": ...}``, handed by OpenRLHF
  (``--data.label_key label``) to PURE's experience maker, which reads the two fields named by
  ``--pure.data.answer_key`` and ``--pure.data.visible_key`` (the verifiable reward of PRM+VR
  uses the answer only where it is visible: the authors' own 10% draw, 879 rows);
- ``idx``, ``level``: kept for tracing.

The output is deterministic (same bytes for the same input); README.md records both sha256 sums.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from openrlhf_pure.data.prompts import pure_prompt

HERE = Path(__file__).resolve().parent
SOURCE = Path("/work/shared/train/math_level3to5_8523.jsonl")
OUTPUT = HERE / "math_level3to5_8523.jsonl"


def convert(row: dict) -> dict:
    """One source row -> one training row."""
    label = {"gt_answer": row["gt_answer"], "pure_vr_answer_visible": bool(row["pure_vr_answer_visible"])}
    return {"idx": row["idx"], "prompt": pure_prompt(row["question"]), "label": label, "level": row["level"]}


def build(source: Path, output: Path) -> str:
    """Write ``output`` from ``source``; returns its sha256."""
    lines = [
        json.dumps(convert(json.loads(line)), ensure_ascii=False)
        for line in source.open(encoding="utf-8")
        if line.strip()
    ]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    output.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    output = Path(sys.argv[2]) if len(sys.argv) > 2 else OUTPUT
    print(f"{output}: sha256 {build(source, output)}")
