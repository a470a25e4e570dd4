"""The single-process training CLI: modes, TensorBoard, final policy, resume, dry run, bad input, Ray PRM."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from prm_checkpoints import save_family_checkpoint
from transformers import AutoModelForCausalLM, AutoTokenizer

from openrlhf_pure.cli import train_local
from openrlhf_pure.models.prm import ProcessRewardModel


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two JSONL files of the same problems: flat fields, and the shipped set's nested ``label``."""
    folder = tmp_path_factory.mktemp("data")
    flat, nested = folder / "flat.jsonl", folder / "nested.jsonl"
    rows = [(f"Compute {a} + {a + 1}.", str(2 * a + 1)) for a in range(6)]
    flat.write_text("".join(json.dumps({"question": q, "gt_answer": g}) + "\n" for q, g in rows))
    nested.write_text("".join(json.dumps({"prompt": q, "label": {"gt_answer": g, "visible": i % 2 == 0}}) + "\n"
                              for i, (q, g) in enumerate(rows)))  # fmt: skip
    return {"flat": str(flat), "nested": str(nested)}


@pytest.fixture(scope="module")
def prm_path(tmp_path_factory, tiny_policy_dir):
    """A tiny PRM on the policy's vocabulary (a fixed random head), saved to disk."""
    prm = ProcessRewardModel.from_pretrained(str(tiny_policy_dir), new_head=True)
    torch.manual_seed(3)
    torch.nn.init.normal_(prm.model.score.weight, std=0.5)
    path = tmp_path_factory.mktemp("prm")
    prm.save_pretrained(str(path))
    return str(path)


def argv(policy, data_path, out, *extra):
    return [
        "--actor.model_name_or_path", str(policy), "--data.prompt_dataset", data_path, "--output_dir", str(out),
        "--data.no_template", "--rollout.prompts_per_step", "2", "--rollout.n_samples_per_prompt", "2",
        "--rollout.max_new_tokens", "8", "--train.steps", "2", "--train.micro_batch_size", "4", "--train.lr", "1e-3",
        *extra,
    ]  # fmt: skip


def metric_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_vr_run_logs_saves_loadable_folders_and_resumes_past_a_torn_metrics_line(tiny_policy_dir, data, tmp_path,
                                                                                  capsys):  # fmt: skip
    out = tmp_path / "vr"
    args = argv(tiny_policy_dir, data["flat"], out, "--pure.reward_mode", "vr", "--log.tensorboard",
                "--data.template", "Q: {question}\n\n")  # fmt: skip
    args.remove("--data.no_template")
    assert train_local.main(args) == 0
    assert len(metric_lines(out)) == 2
    events = list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)
    for folder in (out / "final", out / "checkpoints" / "step_000002" / "policy"):  # each loads on its own
        AutoModelForCausalLM.from_pretrained(folder)  # (every VR is 0 here, so the weights need not move)
        assert AutoTokenizer.from_pretrained(folder)("1 + 1")["input_ids"]
        saved = json.loads((folder / "config.json").read_text())["pure_prompt"]
        assert saved == {"template": "Q: {question}\n\n", "step_separator": "\n\n"}

    with open(out / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 3, "policy/lo')  # a line torn by a crash
    more = [*args[: args.index("--train.steps")], "--train.steps", "3", *args[args.index("--train.steps") + 2 :]]
    assert train_local.main([*more, "--train.resume"]) == 0
    assert "metrics.jsonl:3: dropped a torn last line" in capsys.readouterr().err
    lines = metric_lines(out)
    assert [line["step"] for line in lines] == [1, 2, 3]  # step 3 appended after the first run's two


def test_prm_vr_run_with_nested_labels(tiny_policy_dir, data, prm_path, tmp_path):
    out = tmp_path / "prm_vr"
    args = argv(tiny_policy_dir, data["nested"], out, "--pure.reward_mode", "prm_vr",
                "--pure.prm.model_name_or_path", prm_path, "--data.question_key", "prompt", "--data.label_key",
                "label", "--pure.vr.visible_key", "visible", "--pure.credit.mode", "min")  # fmt: skip
    assert train_local.main(args) == 0
    lines = metric_lines(out)
    assert len(lines) == 2 and all("reward/process" in line for line in lines)
    assert {(line["prm/score_transform_slope"], line["prm/score_transform_offset"]) for line in lines} == {(1.0, 0.0)}
    final = AutoModelForCausalLM.from_pretrained(out / "final")
    original = AutoModelForCausalLM.from_pretrained(tiny_policy_dir)
    assert any(not torch.equal(a, b) for a, b in zip(final.parameters(), original.parameters()))


def dry_run_output(capsys) -> dict:
    """The JSON a dry run prints after its one-line verdict."""
    out = capsys.readouterr().out
    assert out.startswith("dry run: the configuration is valid")
    return json.loads(out[out.index("{") :])


def test_a_qwen_prm_checkpoint_trains_the_policy_and_its_2p_minus_1_map_is_in_the_metrics(
    tiny_policy_dir, data, tmp_path, tokenizer
):
    prm = save_family_checkpoint(tmp_path / "qwen_prm", "qwen_prm", tokenizer)  # its tokenizer adds "<extra_0>"
    out = tmp_path / "run"
    args = argv(tiny_policy_dir, data["flat"], out, "--pure.reward_mode", "prm", "--pure.prm.model_name_or_path", prm)
    steps = args.index("--train.steps") + 1
    args[steps] = "1"
    assert train_local.main(args) == 0
    (line,) = metric_lines(out)
    assert (line["prm/score_transform_slope"], line["prm/score_transform_offset"]) == (2.0, -1.0)
    assert -1.0 <= line["reward/process"] <= 1.0


def test_a_prm_folder_no_family_rule_places_is_refused_before_loading_naming_the_flag(
    tiny_policy_dir, data, tmp_path, capsys
):
    args = argv(tiny_policy_dir, data["flat"], tmp_path / "out", "--pure.reward_mode", "prm",
                "--pure.prm.model_name_or_path", str(tiny_policy_dir), "--dry_run")  # fmt: skip
    assert train_local.main(args) == 2
    assert "cannot tell which PRM family" in capsys.readouterr().err
    assert train_local.main([*args, "--pure.prm.family", "math_shepherd"]) == 0
    flags = dry_run_output(capsys)["flags"]
    assert (flags["pure.prm.family"], flags["pure.prm.score_transform"]) == ("math_shepherd", "auto")


def test_dry_run_checks_the_data_prints_the_config_and_loads_nothing(tiny_policy_dir, data, tmp_path, capsys,
                                                                      monkeypatch):  # fmt: skip
    monkeypatch.setattr(train_local, "run", lambda *a: pytest.fail("--dry_run must not train"))
    out = tmp_path / "dry"
    args = argv(tiny_policy_dir, data["flat"], out, "--pure.reward_mode", "vr", "--pure.vr.visible_fraction", "0.5")
    assert train_local.main([*args, "--dry_run"]) == 0
    resolved = dry_run_output(capsys)
    assert resolved["trainer"]["mode"] == "vr" and resolved["flags"]["pure.vr.visible_fraction"] == 0.5
    assert resolved["data"].endswith("6 problems, 6 with an answer")
    assert not out.exists()


def test_a_preset_sets_the_advantage_options_and_only_given_flags_override_it(tiny_policy_dir, data, tmp_path, capsys):
    from openrlhf_pure.core.advantages import AdvantageConfig

    args = argv(tiny_policy_dir, data["flat"], tmp_path / "dry", "--pure.reward_mode", "vr",
                "--pure.preset", "authors_verl", "--pure.no_whiten", "--pure.credit.temperature", "0.3",
                "--dry_run")  # fmt: skip
    assert train_local.main(args) == 0
    advantage = dry_run_output(capsys)["trainer"]["advantage"]
    overrides = {"max_len": 8, "whiten": False, "credit.temperature": 0.3}
    assert advantage == AdvantageConfig.preset("authors_verl").with_overrides(overrides).to_dict()
    assert advantage["kl_estimator"] == "k3" and advantage["pr_baseline"] == "none"  # defaults k1, token not given


def test_a_vr_run_under_the_authors_openrlhf_preset_records_its_configuration(tiny_policy_dir, data, tmp_path, capsys):
    out = tmp_path / "preset"
    args = argv(tiny_policy_dir, data["flat"], out, "--pure.reward_mode", "vr", "--pure.preset", "authors_openrlhf")
    args[args.index("--train.steps") + 1] = "1"
    assert train_local.main(args) == 0
    recorded = json.loads((out / "config.json").read_text())["advantage"]
    assert (recorded["mask_tokens"], recorded["whitening"]) == ("closing", "nonzero_mean")
    assert '"mask_tokens": "closing"' in capsys.readouterr().out and len(metric_lines(out)) == 1


def test_help_shows_one_template_flag_with_its_real_default(capsys):
    with pytest.raises(SystemExit):
        train_local.main(["--help"])
    text = capsys.readouterr().out
    assert "--data.no_template" not in text and "--pure.no_whiten" not in text
    assert "--data.template DATA.TEMPLATE" in text and "(default: auto)" in text
    assert "--pure.data.answer_key" in text and "--data.prompt_dataset" in text  # train_pure_ray's names


def test_an_output_folder_of_another_run_is_refused_unless_resumed_or_overwritten(tiny_policy_dir, data, tmp_path,
                                                                                   capsys):  # fmt: skip
    out = tmp_path / "used"
    out.mkdir()
    (out / "metrics.jsonl").write_text('{"step": 1}\n')
    args = [*argv(tiny_policy_dir, data["flat"], out, "--pure.reward_mode", "vr"), "--dry_run"]
    assert train_local.main(args) == 2
    assert "--overwrite_output_dir" in capsys.readouterr().err
    assert (out / "metrics.jsonl").read_text() == '{"step": 1}\n'
    assert train_local.main([*args, "--overwrite_output_dir"]) == 0
    assert train_local.main([*args, "--train.resume"]) == 0


def nested(tmp_path, rows: list) -> str:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"".join(r if isinstance(r, bytes) else (json.dumps(r) + "\n").encode() for r in rows))
    return str(path)


GOOD = {"prompt": "Compute 1 + 2.", "label": {"gt_answer": "3", "visible": True}}


VISIBLE = ["--pure.data.visible_key", "visible"]


@pytest.mark.parametrize(
    "rows, extra, expected",
    [
        ([GOOD, GOOD], [*VISIBLE, "--pure.data.answer_key", "answer"], "rows.jsonl: no row has field 'label.answer'"),
        ([GOOD, {**GOOD, "label": {"gt_answer": "3", "visible": "false"}}], VISIBLE,
         "rows.jsonl:2: field 'label.visible' must be JSON true or false, got the string 'false'"),
        ([GOOD, {**GOOD, "label": {"gt_answer": "3"}}], VISIBLE, "rows.jsonl:2: no field 'label.visible'"),
        ([GOOD, GOOD], [], "no row has the visibility field 'label.pure_vr_answer_visible'"),
        ([GOOD], [], "--pure.vr.visible_fraction 0.1 (PURE's 10%; 1.0 uses every answer)"),
        ([GOOD, b'{"prompt": "x", "label": {oops}}\n'], VISIBLE, "rows.jsonl:2: not valid JSON"),
        ([GOOD, b'{"prompt": "caf\xe9"}\n'], VISIBLE, "rows.jsonl:2: not UTF-8 text (byte 0xe9 at column 16)"),
        ([GOOD, {**GOOD, "label": None}], VISIBLE, "rows.jsonl:2: field 'label' is not an object"),
    ],
)  # fmt: skip
def test_data_problems_are_one_line_each_before_any_model_loads(tiny_policy_dir, prm_path, tmp_path, capsys,
                                                                 monkeypatch, rows, extra, expected):  # fmt: skip
    monkeypatch.setattr(train_local, "run", lambda *a: pytest.fail("bad data must stop before the models load"))
    flags = ["--pure.reward_mode", "prm_vr", "--pure.prm.model_name_or_path", prm_path, "--data.input_key", "prompt",
             "--data.label_key", "label", *extra]  # fmt: skip
    assert train_local.main(argv(tiny_policy_dir, nested(tmp_path, rows), tmp_path / "out", *flags)) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert all(line.startswith("error: ") for line in err.splitlines())
    assert not (tmp_path / "out").exists()


def test_the_template_saved_with_the_policy_is_the_default(tiny_policy_dir, data, tmp_path):
    from transformers import AutoConfig

    from openrlhf_pure.data.prompts import PromptFormat, record_prompt_format

    policy = tmp_path / "templated"
    config = AutoConfig.from_pretrained(tiny_policy_dir)
    record_prompt_format(SimpleNamespace(config=config), PromptFormat("Q: {question}\n\n", "\n"))
    for item in Path(tiny_policy_dir).iterdir():
        (policy / item.name).parent.mkdir(exist_ok=True)
        (policy / item.name).write_bytes(item.read_bytes())
    config.save_pretrained(policy)
    args = [
        a for a in argv(policy, data["flat"], tmp_path / "o", "--pure.reward_mode", "vr") if a != "--data.no_template"
    ]
    flags, config, errors = train_local.resolve(args)
    problems, data_errors, _ = train_local.read_problems(flags)
    assert not errors and not data_errors
    assert problems[0].prompt == "Q: Compute 0 + 1.\n\n" and config.separator == "\n"
    flags, _, _ = train_local.resolve([*args, "--data.template", "pure"])
    assert train_local.read_problems(flags)[0][0].prompt.endswith("final answer within \\boxed{}.")


def test_cuda_without_a_gpu_and_an_unsafe_checkpoint_are_one_line_each(tiny_policy_dir, data, tmp_path, capsys,
                                                                        monkeypatch):  # fmt: skip
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "o"
    (out / "checkpoints" / "step_000001").mkdir(parents=True)
    (out / "checkpoints" / "latest").write_text("step_000001")
    torch.save({"x": RunsCode(tmp_path / "ran")}, out / "checkpoints" / "step_000001" / "trainer_state.pt")
    (out / "checkpoints" / "step_000001" / "trainer_state.json").write_text("{}")
    args = argv(tiny_policy_dir, data["flat"], out, "--pure.reward_mode", "vr", "--device", "cuda", "--train.resume")
    assert train_local.main(args) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: --device cuda: torch sees no CUDA GPU here")
    assert "trainer_state.pt: refused, it holds more than tensors" in err[1] and len(err) == 2
    assert not (tmp_path / "ran").exists()


class RunsCode:
    """Unpickling this touches ``target``: what a crafted checkpoint would do."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return Path.touch, (self.target,)


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"--data.path": "missing.jsonl"}, "--data.prompt_dataset missing.jsonl: no such file"),
        ({"--pure.reward_mode": "prm"}, "--pure.prm.model_name_or_path"),
        ({"--pure.credit.mode": "maxsum"}, "credit mode 'maxsum'"),
        ({"--pure.preset": "verl"}, "unknown advantage preset 'verl'"),
    ],
)
def test_bad_input_exits_non_zero_naming_the_problem(tiny_policy_dir, data, tmp_path, capsys, change, expected):
    settings = {"--data.path": data["flat"], "--pure.reward_mode": "vr", **change}
    args = argv(tiny_policy_dir, settings.pop("--data.path"), tmp_path / "bad")
    args += [item for pair in settings.items() for item in pair]
    assert train_local.main(args) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.fixture
def ray_env(monkeypatch):
    """The CPU install as a user has it: no vLLM (nor the test stand-ins) anywhere, CPU only."""
    assert importlib.util.find_spec("vllm") is None, "this test needs an environment without vLLM"
    monkeypatch.setenv("DS_ACCELERATOR", "cpu")
    yield
    assert "vllm" not in sys.modules


def test_ray_prm_engine_scores_like_in_process(ray_env, tiny_policy_dir, load_policy, tmp_path):
    from openrlhf_pure.core.steps import separator_token_ids, split_steps
    from openrlhf_pure.engines.local.ray_prm import RayPRMStepScorer
    from openrlhf_pure.engines.local.rollout import generate_rollouts
    from openrlhf_pure.engines.prm_scorer import PRMScorer

    policy, tokenizer = load_policy()
    torch.manual_seed(0)
    prompts = ["Compute 2 + 3.\n\n", "Compute 4 * 5.\n\n"]
    rollout = generate_rollouts(policy.eval(), tokenizer, prompts, 2, 16, 1.0)
    layout = split_steps(rollout.response_ids, rollout.action_mask, separator_token_ids(tokenizer, "\n\n"))
    batch_prompts = [p for p in prompts for _ in range(2)]
    prm_path = save_family_checkpoint(tmp_path / "skywork", "skywork", tokenizer)  # value head, "\n" flags
    expected = PRMScorer(ProcessRewardModel.from_pretrained(prm_path), tokenizer).score_policy_tokens(
        batch_prompts, rollout.response_ids, layout
    )
    scorer = RayPRMStepScorer(prm_path, str(tiny_policy_dir), num_replicas=1, num_cpus=1)
    try:
        assert (scorer.description["family"], scorer.description["score_transform"]) == ("skywork", "2p-1")
        assert scorer.run_metrics() == {"prm/score_transform_slope": 2.0, "prm/score_transform_offset": -1.0}
        got = scorer(batch_prompts, rollout, layout)
    finally:
        scorer.close()
    assert got.shape == expected.shape and bool(expected.abs().sum() > 0)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
