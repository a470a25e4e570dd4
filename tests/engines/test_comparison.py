"""The demo's comparison figures and tables, on constructed run histories."""

from __future__ import annotations

import json

from openrlhf_pure.cli.compare_runs import main as compare_main
from openrlhf_pure.engines.local.comparison import first_step_reaching, summarize_runs
from openrlhf_pure.engines.local.demo_runs import parse_run


def history(accuracies, steps=3.0):
    return [{"step": i + 1, "accuracy/avg@n": a, "steps/mean": steps + i / 10, "hacking/trivial": 0.0}
            for i, a in enumerate(accuracies)]  # fmt: skip


def summary(vr_final=0.5, alarms=()):
    runs = [parse_run("softmin", "prm_vr", None), parse_run("vr", "prm_vr", None)]
    results = [
        {"name": "softmin", "history": history([0.1] * 10 + [0.6] * 20), "accuracy_after": 0.4,
         "alarms": list(alarms), "seconds": 1.0},
        {"name": "vr", "history": history([0.1] * 20 + [vr_final] * 10), "accuracy_after": 0.3, "alarms": [],
         "seconds": 1.0},
    ]  # fmt: skip
    return summarize_runs(runs, results, accuracy_before=0.2, held_out=400)


def test_each_run_gets_its_first_and_last_ten_steps_its_alarms_and_the_step_it_reaches_vr():
    s = summary(alarms=[[21, "zero_steps", "m"], [21, "collapse", "m"], [25, "zero_steps", "m"]])
    assert s["softmin"]["steps_per_response"] == [3.45, 5.45] and s["softmin"]["accuracy_se"] == 0.0245
    assert (s["softmin"]["alarms"], s["softmin"]["alarm_kinds"]) == (2, ["collapse", "zero_steps"])  # steps
    assert s["softmin"]["reaches_vr_at"] == 18  # the 10-step mean of accuracy first reaches 0.5 at step 18
    assert s["vr"]["reaches_vr_at"] is None and s["vr"]["process_reward"] == [None, None]
    assert summary(vr_final=0.9)["softmin"]["reaches_vr_at"] is None  # never
    assert first_step_reaching(history([0.0, 1.0, 1.0]), 0.5, edge=2) == 2


def test_compare_runs_prints_each_seed_then_mean_and_sd_and_names_bad_files(tmp_path, capsys):
    paths = []
    for seed, final in enumerate((0.5, 0.7)):
        path = tmp_path / f"seed{seed}.json"
        path.write_text(json.dumps({"seconds": 10, "runs": summary(vr_final=final)}))
        paths.append(str(path))
    assert compare_main([*paths, "--runs", "vr,softmin"]) == 0
    out = capsys.readouterr().out.splitlines()
    figures = json.loads(out[-1])
    assert figures["seeds"] == 2 and list(figures["runs"]) == ["vr", "softmin"]
    mean, sd, count = figures["runs"]["softmin"]["reaches VR at step"]
    assert (mean, sd, count) == (18, None, 1)  # reaches 0.5 at step 18, never 0.7: one of two seeds, no sd
    assert any("18.000 +- - (1/2)" in line for line in out)
    assert any(line.startswith("held-out acc after") for line in out)
    assert figures["runs"]["softmin"]["held-out acc after"][1] == 0.0  # the same figure in both seeds: sd 0
    assert compare_main([paths[0], str(tmp_path / "missing.json"), "--runs", "sum"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert "no run sum" in errors[0] and "missing.json: no such file" in errors[1]
