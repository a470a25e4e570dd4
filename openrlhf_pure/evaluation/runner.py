"""One evaluation run: problems -> prompts -> completions -> grades -> records -> summary.

Order of work, so that bad input fails before anything expensive starts and before anything is
written: the settings are checked, the model path is checked (``data.sources``), the template is
resolved (``auto``: the one saved with the model), every benchmark is loaded, the tokenizer and
template are checked; then the output directory is checked against the settings it was started
with (its first write); only then is the model loaded, and only if samples are missing.

Output directory (``--output_dir``):

- ``samples.jsonl``: one record per sample (:mod:`records`), appended chunk by chunk;
- ``run.json``: the settings; a rerun with different generation settings (model, tokenizer,
  template, n, temperature, top_p, max_new_tokens, seed) is refused unless ``overwrite``;
- ``summary.json``, ``summary.md``: the scores (:mod:`summary`), over the requested problems.

Resuming: a rerun generates only the (benchmark, index, sample) keys missing from
``samples.jsonl``; a problem missing m of its n samples gets m new ones. Raising ``limit``
or adding benchmarks extends a run; lowering ``limit`` summarises the first problems only.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from openrlhf_pure.atomic import write_text_atomic
from openrlhf_pure.data.jsonl import JSONFileError, read_json_file
from openrlhf_pure.data.sources import source_problem
from openrlhf_pure.evaluation.backend import (
    Backend,
    BackendError,
    BackendOptions,
    PromptInput,
    SamplingConfig,
    make_backend,
    model_eos_ids,
)
from openrlhf_pure.evaluation.benchmarks import BENCHMARKS, DataError, Problem, load_benchmark, load_dataset_file
from openrlhf_pure.evaluation.records import RecordWriter, load_records
from openrlhf_pure.evaluation.summary import summarize, summary_markdown
from openrlhf_pure.evaluation.templates import check_template, resolve_template, template_for_model

SAMPLES_FILE, RUN_FILE, SUMMARY_JSON, SUMMARY_MD = "samples.jsonl", "run.json", "summary.json", "summary.md"
GENERATION_SETTINGS = ("model", "tokenizer", "template", "n", "temperature", "top_p", "max_new_tokens", "seed")


class ConfigError(ValueError):
    """Settings that cannot work: a bad value, a missing model path, an output directory of another run."""


@dataclass(frozen=True)
class EvalConfig:
    """Settings of a run; defaults are PURE's protocol (PURE.md section 7).

    Attributes:
        model: model path or hub name. output_dir: where records and summaries go.
        benchmarks: registered benchmarks to run (default: all five).
        tokenizer: tokenizer path (default: the model's).
        template: prompt template (:mod:`templates`; ``auto``: the one saved with the model, else ``pure``).
        backend: ``hf`` or ``vllm``. n: samples per problem. k: the k of pass@k (each <= n).
        temperature, top_p, max_new_tokens, seed: decoding (temperature 0 is greedy).
        batch_size, tp, dp, dtype, device, gpu_memory_utilization, max_model_len, enforce_eager:
            backend settings (:class:`backend.BackendOptions`).
        limit: the first ``limit`` problems of each benchmark. data_dir: where the five live.
        dataset, dataset_name, dataset_split, problem_key, answer_key: a user dataset (file or
            hub name) run alongside ``benchmarks``.
        overwrite: delete the output directory's records first. label: the run's name in tables.
    """

    model: str
    output_dir: str
    benchmarks: tuple[str, ...] = tuple(BENCHMARKS)
    tokenizer: str | None = None
    template: str = "auto"
    backend: str = "hf"
    n: int = 1
    k: tuple[int, ...] = (1,)
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 3000
    seed: int = 42
    batch_size: int | None = None
    tp: int = 1
    dp: int = 1
    dtype: str = "auto"
    device: str = "auto"
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    enforce_eager: bool = False
    limit: int | None = None
    data_dir: str | None = None
    dataset: str | None = None
    dataset_name: str | None = None
    dataset_split: str = "test"
    problem_key: str | None = None
    answer_key: str | None = None
    overwrite: bool = False
    label: str | None = None

    def validate(self) -> None:
        """Raise :class:`ConfigError` for settings that cannot work."""
        checks = [
            (self.n >= 1, f"--n must be at least 1, got {self.n}"),
            (all(1 <= k <= self.n for k in self.k), f"each --k must be in 1..n={self.n}, got {list(self.k)}"),
            (self.temperature >= 0, f"--temperature must be >= 0, got {self.temperature}"),
            (self.n == 1 or self.temperature > 0, f"--n {self.n} with --temperature 0 gives identical greedy samples"),
            (0 < self.top_p <= 1, f"--top_p must be in (0, 1], got {self.top_p}"),
            (self.max_new_tokens >= 1, f"--max_new_tokens must be at least 1, got {self.max_new_tokens}"),
            (self.limit is None or self.limit >= 1, f"--limit must be at least 1, got {self.limit}"),
            (
                self.batch_size is None or self.batch_size >= 1,
                f"--batch_size must be at least 1, got {self.batch_size}",
            ),
            (self.tp >= 1 and self.dp >= 1, "--tp and --dp must be at least 1"),
            (bool(self.benchmarks) or self.dataset is not None, "no benchmark and no --dataset: nothing to evaluate"),
            (
                self.dataset is None or (self.problem_key and self.answer_key),
                "--dataset needs --problem_key and --answer_key",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def settings(self) -> dict:
        """The settings recorded in ``run.json`` and in the summary."""
        keep = (*GENERATION_SETTINGS, "backend", "dtype", "limit", "label")
        values = {key: value for key, value in asdict(self).items() if key in keep}
        values["model"] = _canonical(self.model)
        values["tokenizer"] = _canonical(self.tokenizer or self.model)
        return values

    def backend_options(self) -> BackendOptions:
        """The backend's loading options."""
        names = BackendOptions.__dataclass_fields__
        return BackendOptions(**{key: value for key, value in asdict(self).items() if key in names})


def _canonical(model: str) -> str:
    """A local model path made absolute (so "./ckpt" and "ckpt" are the same run); hub names as given."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model


def check_model_path(model: str, what: str = "model", marker: str = "config.json") -> None:
    """Fail fast on a model (or tokenizer) that cannot be loaded (``data.sources``' rule): a path
    that does not exist, a folder without ``marker``, or a hub name while the hub is offline and
    it is not cached. Other hub names are left to the backend."""
    problem = source_problem(f"--{what}", model, "model" if marker else "tokenizer")
    if problem is not None:
        raise ConfigError(problem)


def collect_problems(config: EvalConfig) -> list[Problem]:
    """Every problem of the run: the registered benchmarks, then the user dataset if any."""
    problems = []
    for name in config.benchmarks:
        problems.extend(load_benchmark(name, config.data_dir, config.limit))
    if config.dataset is not None:
        custom = load_dataset_file(
            config.dataset,
            config.problem_key,
            config.answer_key,
            config.dataset_name,
            config.dataset_split,
            config.limit,
        )
        if custom[0].benchmark in config.benchmarks or custom[0].benchmark in BENCHMARKS:
            raise DataError(f"dataset name {custom[0].benchmark!r} clashes with a benchmark; pass --dataset_name")
        problems.extend(custom)
    return problems


def prepare_output_dir(config: EvalConfig) -> Path:
    """Create the output directory, or check that it holds a run with the same generation settings."""
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config.overwrite:
        for name in (SAMPLES_FILE, RUN_FILE, SUMMARY_JSON, SUMMARY_MD):
            (out / name).unlink(missing_ok=True)
    settings = config.settings()
    run_file = out / RUN_FILE
    if run_file.is_file() and (out / SAMPLES_FILE).is_file():
        try:
            previous = read_json_file(run_file)
        except JSONFileError as error:
            raise ConfigError(f"{error}; use a new --output_dir or --overwrite") from None
        if not isinstance(previous, dict):
            raise ConfigError(f"{run_file}: not the settings of a run; use a new --output_dir or --overwrite")
        changed = [key for key in GENERATION_SETTINGS if previous.get(key) != settings[key]]
        if changed:
            details = ", ".join(f"{key}: {previous.get(key)!r} -> {settings[key]!r}" for key in changed)
            raise ConfigError(
                f"{out} holds a run with other settings ({details}); use a new --output_dir or --overwrite"
            )
    write_text_atomic(run_file, json.dumps(settings, indent=2) + "\n")
    return out


def run_evaluation(config: EvalConfig, backend: Backend | None = None, grader=None, progress: bool = True) -> dict:
    """Run (or resume) an evaluation and return its summary (module docstring).

    Args:
        config: the settings.
        backend: a ready backend (default: built from ``config`` when samples are missing).
        grader: a :class:`openrlhf_pure.core.grading.Grader` (default: the process-wide one).
        progress: show progress bars.
    """
    from transformers import AutoTokenizer

    from openrlhf_pure.core.grading.pool import default_grader

    config.validate()
    check_model_path(config.model)
    if config.tokenizer is not None:
        check_model_path(config.tokenizer, "tokenizer", marker="")
    config = replace(config, template=template_for_model(config.template, config.model))
    template = resolve_template(config.template)
    problems = collect_problems(config)
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.tokenizer or config.model)
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot load the tokenizer of {config.tokenizer or config.model}: {error}") from None
    check_template(template, tokenizer)
    out = prepare_output_dir(config)  # the first write: everything above can fail without leaving files
    sampling = SamplingConfig(
        config.n,
        config.temperature,
        config.top_p,
        config.max_new_tokens,
        config.seed,
        model_eos_ids(config.model, tokenizer),
    )
    samples_path = out / SAMPLES_FILE
    done = load_records(samples_path)
    pending = []  # (problem, prompt, sample ids to generate)
    for problem in problems:
        missing = [s for s in range(config.n) if (problem.benchmark, problem.index, s) not in done]
        if missing:
            text = template.render(problem.question, tokenizer)
            pending.append((problem, PromptInput(text, template.encode(text, tokenizer)), missing))
    if pending:
        own_backend = backend is None
        backend = backend or make_backend(config.backend, config.backend_options(), tokenizer)
        try:
            _generate(pending, backend, sampling, grader or default_grader(), samples_path, progress)
        finally:
            if own_backend:
                backend.close()
    wanted = {(p.benchmark, p.index, s) for p in problems for s in range(config.n)}
    records = [record for key, record in load_records(samples_path).items() if key in wanted]
    summary = summarize(records, config.k, run=config.settings())
    write_text_atomic(out / SUMMARY_JSON, json.dumps(summary, indent=2) + "\n")
    write_text_atomic(out / SUMMARY_MD, summary_markdown(summary))
    return summary


def _generate(pending: list, backend: Backend, sampling: SamplingConfig, grader, path: Path, progress: bool) -> None:
    """Generate, grade and append the missing samples, chunk by chunk."""
    from tqdm import tqdm

    by_count: dict[int, list] = defaultdict(list)  # problems missing the same number of samples share calls
    for item in pending:
        by_count[len(item[2])].append(item)
    total = sum(len(missing) for _, _, missing in pending)
    correct = written = 0
    with RecordWriter(path) as writer, tqdm(total=total, desc="generate", unit="sample", disable=not progress) as bar:
        for count, items in by_count.items():
            for start in range(0, len(items), backend.chunk_size):
                chunk = items[start : start + backend.chunk_size]
                outputs = backend.generate([prompt for _, prompt, _ in chunk], replace(sampling, n=count))
                if len(outputs) != len(chunk) or any(len(completions) != count for completions in outputs):
                    raise BackendError(f"backend {backend.name} returned the wrong number of completions")
                flat = [
                    (problem, prompt, sample, completion)
                    for (problem, prompt, missing), completions in zip(chunk, outputs)
                    for sample, completion in zip(missing, completions)
                ]
                grades = grader.grade_batch([c.text for *_, c in flat], [p.gold for p, *_ in flat])
                records = [
                    {
                        "benchmark": problem.benchmark,
                        "index": problem.index,
                        "sample": sample,
                        "prompt": prompt.text,
                        "response": completion.text,
                        "extracted": grade.extracted,
                        "gold": problem.gold,
                        "correct": grade.correct,
                        "reason": str(grade.reason),
                        "finish_reason": completion.finish_reason,
                        "prompt_tokens": len(prompt.token_ids),
                        "response_tokens": completion.num_tokens,
                    }
                    for (problem, prompt, sample, completion), grade in zip(flat, grades)
                ]
                writer.write(records)
                correct += sum(record["correct"] is True for record in records)
                written += len(records)
                bar.update(len(records))
                bar.set_postfix(acc=f"{100 * correct / written:.1f}")
