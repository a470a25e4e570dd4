"""Evaluation harness (``pure-eval``): PURE's five math benchmarks, greedy pass@1 by default.

The protocol is PURE.md section 7: MATH-500, Minerva Math, OlympiadBench, AIME 2024 and AMC
2023, the training prompt, greedy decoding, 3,000 new tokens, seed 42, stop at the model's EOS
ids; score = accuracy x 100 per benchmark and the unweighted mean of the five. Answers are
graded by the same isolated grader as the verifiable reward (:mod:`openrlhf_pure.core.grading`).

Modules, one purpose each:

- :mod:`benchmarks`: the benchmark registry and field mapping, user JSONL/Parquet/hub data;
- :mod:`templates`: prompt templates (PURE's prompt, Qwen2.5-Math's chat CoT, a format string);
- :mod:`backend`: the generation interface and the backend registry; :mod:`hf_backend`
  (transformers ``generate``) and :mod:`vllm_backend` (vLLM, tensor and data parallel);
- :mod:`passk`: avg@n and the unbiased pass@k estimator;
- :mod:`records`: the per-sample JSONL (append as it goes, resumable) and atomic writes;
- :mod:`summary`: per-benchmark scores as JSON and a markdown table, in PURE's column order;
- :mod:`compare`: several runs side by side (markdown and a bar chart), PURE's Table 2;
- :mod:`regrade`: scoring an existing outputs file with no model;
- :mod:`runner`: one evaluation run, from problems to summary.
"""

from openrlhf_pure.evaluation.benchmarks import BENCHMARKS, DataError, Problem, load_benchmark
from openrlhf_pure.evaluation.passk import pass_at_k
from openrlhf_pure.evaluation.templates import TEMPLATES, resolve_template

__all__ = ["BENCHMARKS", "DataError", "Problem", "load_benchmark", "pass_at_k", "TEMPLATES", "resolve_template"]
