"""PURE's experience maker inside OpenRLHF on hand-picked rollouts, with CPU players for the models.

The maker is the real ``PureExperienceMaker`` (a ``RemoteExperienceMaker``); OpenRLHF's real
``RayActorGroup`` dispatches to CPU players for the policy and the reference, and the real
``PRMGroup`` holds the project's PRM scorer on a tiny PRM. Rollouts come from OpenRLHF's own
rollout code with chosen responses (the edge cases a trained tiny policy never writes; the real
loop is ``test_openrlhf_real_loop.py``). The specification: for the same inputs (tokens, PRM
scores, grades, log-probs), the advantages and returns equal what ``core.compute_advantages``
computes, bit for bit, in every reward mode; PURE's metrics reach ``experience.info`` the way
OpenRLHF logs it; the PRM group survives dead replicas; a reference forward that bypasses the
maker's interception fails loudly.
"""

from __future__ import annotations

import functools
import itertools
import math

import pytest
import torch

pytestmark = pytest.mark.slow

N = 4  # samples per prompt


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_models, openrlhf_env):
    data = tmp_path_factory.mktemp("data") / "prompts.jsonl"
    data.write_text('{"prompt": "Compute 1 + 1.", "label": {"gt_answer": "2", "pure_vr_answer_visible": true}}\n')
    return {**tiny_models, "data": str(data)}


def pure_args(models, mode="prm_vr", extra=()):
    from openrlhf_pure.cli.train_pure_ray import resolve

    argv = [
        "--actor.model_name_or_path", models["policy"], "--pure.prm.model_name_or_path", models["prm"],
        "--data.prompt_dataset", models["data"], "--data.input_key", "prompt", "--data.label_key", "label",
        "--vllm.num_engines", "1", "--actor.num_gpus_per_node", "1", "--ref.num_gpus_per_node", "1",
        "--rollout.n_samples_per_prompt", str(N), "--rollout.batch_size", "3", "--train.batch_size", "12",
        "--rollout.micro_batch_size", "5", "--rollout.max_new_tokens", "64", "--data.max_len", "160",
        "--algo.advantage.estimator", "rloo", "--algo.kl.init_coef", "0.05", "--pure.reward_mode", mode,
        "--pure.prm.num_replicas", "2", "--pure.prm.num_gpus_per_replica", "0", *extra,
    ]  # fmt: skip
    args, errors = resolve(argv)
    assert errors == []
    return args


@pytest.fixture(scope="module")
def groups(ray_cpu, models):
    """Policy and reference players (OpenRLHF RayActorGroups) and a 2-replica PRM group."""
    from openrlhf.trainer.ray.launcher import RayActorGroup
    from pure_ray_players import CpuLogProbActor

    from openrlhf_pure.engines.openrlhf.prm_group import PRMGroup, PRMSpec, build_policy_step_scorer

    policy = RayActorGroup(1, 1, CpuLogProbActor, num_gpus_per_actor=0)
    reference = RayActorGroup(1, 1, CpuLogProbActor, num_gpus_per_actor=0)
    refs = policy.async_init_model_from_pretrained(models["policy"]) + reference.async_init_model_from_pretrained(
        models["policy"]
    )
    spec = PRMSpec(models["prm"], models["policy"], max_tokens_per_batch=512)
    prm = PRMGroup(functools.partial(build_policy_step_scorer, spec), num_replicas=2, num_gpus_per_replica=0)
    ray_cpu.get(refs)
    prm.ready()
    return {"policy": policy, "reference": reference, "prm": prm}


@pytest.fixture(scope="module")
def grader():
    from openrlhf_pure.core.grading.pool import Grader

    with Grader(workers=1) as pool:
        yield pool


def make_experiences(models, groups, grader, tokenizer, mode, extra=()):
    from openrlhf.trainer.ppo_utils.kl_controller import FixedKLController
    from openrlhf.utils import get_strategy
    from pure_ray_players import rollout_samples

    from openrlhf_pure.engines.openrlhf.experience_maker import PureExperienceMaker

    args = pure_args(models, mode, extra)
    strategy = get_strategy(args)
    maker = PureExperienceMaker(groups["policy"], None, None, groups["reference"],
                                FixedKLController(args.algo.kl.init_coef), strategy, tokenizer,
                                prm_group=groups["prm"] if mode != "vr" else None, grader=grader)  # fmt: skip
    return args, maker, maker.make_experience_batch(rollout_samples(args, tokenizer))


def cat_right(tensors, value=0):
    width = max(t.shape[1] for t in tensors)
    return torch.cat([torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value) for t in tensors])


def core_reference(args, experiences, groups, tokenizer, mode):
    """What the core computes for the experiences' own inputs (recomputed PRM scores and reference log-probs)."""
    import ray

    from openrlhf_pure.core.advantages import AdvantageConfig, compute_advantages
    from openrlhf_pure.core.credit import CreditConfig
    from openrlhf_pure.core.grading.grade import grade_response
    from openrlhf_pure.core.steps import separator_token_ids, split_steps

    ids = cat_right([e.sequences[:, 1:] for e in experiences], tokenizer.pad_token_id)
    mask = cat_right([e.action_mask.bool() for e in experiences], False)
    prompts = [p for e in experiences for p in e.prompts]
    labels = [label for e in experiences for label in e.labels]
    layout = split_steps(ids, mask, separator_token_ids(tokenizer, "\n\n"))
    scores = None
    if mode != "vr":
        scores = torch.zeros(layout.step_mask.shape)
        got = groups["prm"].score(prompts, ids, mask)
        scores[:, : got.shape[1]] = got
    vr = None
    if mode != "prm":
        golds = [label["gt_answer"] if isinstance(label, dict) else label for label in labels]
        visible = [mode == "vr" or not isinstance(label, dict) or label["pure_vr_answer_visible"] for label in labels]
        texts = tokenizer.batch_decode([i[m].tolist() for i, m in zip(ids, mask)], skip_special_tokens=True)
        vr = torch.tensor(
            [float(grade_response(t, g).correct) if v else math.nan for t, g, v in zip(texts, golds, visible)]
        )
    forward = groups["reference"].async_run_method_batch(
        "forward",
        sequences=[e.sequences for e in experiences],
        action_mask=[e.action_mask for e in experiences],
        attention_mask=[e.attention_mask for e in experiences],
    )
    ref_log_probs = cat_right(list(itertools.chain.from_iterable(ray.get(forward))))
    config = AdvantageConfig(
        credit=CreditConfig("softmin", 0.1, 1.0), max_len=args.rollout.max_new_tokens, kl_coef=0.05
    )
    groups_ids = torch.tensor([i for e in experiences for i in e.index]) // N
    return compute_advantages(mask, config, layout=layout, step_rewards=scores, verifiable_rewards=vr,
                              groups=groups_ids, log_probs=cat_right([e.action_log_probs for e in experiences]),
                              ref_log_probs=ref_log_probs)  # fmt: skip


@pytest.mark.parametrize("mode", ["prm_vr", "prm", "vr"])
def test_advantages_equal_the_core_on_the_same_inputs(mode, models, groups, grader, tokenizer):
    args, _, experiences = make_experiences(models, groups, grader, tokenizer, mode)
    assert len(experiences) == 3  # 12 responses in micro-batches of 5
    expected = core_reference(args, experiences, groups, tokenizer, mode)
    start = 0
    for e in experiences:
        rows, width = len(e.sequences), e.action_mask.shape[1]
        assert torch.equal(e.advantages, expected.advantages[start : start + rows, :width])
        assert torch.equal(e.returns, expected.returns[start : start + rows, :width])
        assert e.kl is None and e.advantages.dtype == torch.float32
        start += rows
    assert start == 12


def test_pure_metrics_reach_experience_info_as_openrlhf_logs_it(models, groups, grader, tokenizer):
    from openrlhf.trainer.ppo_utils.experience import balance_experiences, split_experience_batch

    args, maker, experiences = make_experiences(models, groups, grader, tokenizer, "prm_vr")
    info = experiences[0].info
    for key in ("reward", "return", "pure/reward/process", "pure/reward/vr", "pure/steps/mean",
                "pure/steps/zero_ratio", "pure/length/clip_ratio", "pure/accuracy/pass@n", "pure/repetition/score",
                "pure/reflection/ratio", "pure/agreement/prm_vr", "pure/advantages/mean", "pure/hacking/zero_steps",
                "pure/timing/prm_wait", "pure/prm/truncated_ratio"):  # fmt: skip
        assert key in info, key
    for e in experiences:  # (b,) tensors: OpenRLHF's ppo_train logs them as sample-weighted means
        assert all(isinstance(v, torch.Tensor) and v.shape == (len(e.sequences),) for v in e.info.values())
        assert torch.all(e.info["pure/steps/mean"] == maker.history[-1]["steps/mean"])
    steps = maker.history[-1]
    assert steps["steps/min"] == 1.0  # an "empty" response is its EOS token: one step
    assert steps["length/clip_ratio"] == pytest.approx(2 / 12)  # two truncated responses
    items = [item for e in experiences for item in split_experience_batch(e)]  # OpenRLHF's rebuild keeps info
    assert "pure/reward/vr" in items[0].info
    args.train.dynamic_batch_enable = False
    balanced = balance_experiences(experiences, args)
    assert "pure/hacking/collapse" in balanced[0].info


def test_prm_load_is_balanced_across_replicas(groups):
    prm = groups["prm"]
    assignment = prm._assign([100, 90, 10, 10, 10, 5])
    loads = sorted(sum([100, 90, 10, 10, 10, 5][r] for r in rows) for rows in assignment.values())
    assert loads == [110, 115] and sorted(r for rows in assignment.values() for r in rows) == list(range(6))


def test_dead_prm_replica_is_restarted_and_its_batch_retried(ray_cpu, groups, tokenizer):
    prm = groups["prm"]
    texts = ["A.\n\nB.\n\n\\boxed{1}", "C.", "D.\n\nE.", "F.\n\nG.\n\nH."]
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    ids = torch.zeros(4, max(map(len, encoded)), dtype=torch.long)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    for row, e in enumerate(encoded):
        ids[row, : len(e)], mask[row, : len(e)] = torch.tensor(e), True
    prompts = ["p"] * 4
    before = prm.score(prompts, ids, mask)
    pids = [s["pid"] for s in prm.status()]

    ray_cpu.kill(prm.replicas[0], no_restart=False)  # Ray restarts it; the scorer reloads on first use
    assert torch.equal(prm.score(prompts, ids, mask), before)
    assert prm.status()[0]["pid"] != pids[0] and prm.alive == [True, True]

    ray_cpu.kill(prm.replicas[1], no_restart=True)  # gone for good: its rows go to replica 0
    assert torch.equal(prm.score(prompts, ids, mask), before)
    assert prm.alive == [True, False]


def test_a_reference_forward_that_skips_the_interception_fails_loudly(monkeypatch, models, groups, grader, tokenizer):
    """PURE keeps the reference log-probs where OpenRLHF 0.11.2 dispatches them (``_dispatch_forward``);
    an OpenRLHF that stops calling it would leave PURE's KL penalty at 0 without a word."""
    from openrlhf.trainer.ppo_utils.experience_maker import RemoteExperienceMaker

    from openrlhf_pure.engines.openrlhf.experience_maker import PureExperienceMaker

    monkeypatch.setattr(PureExperienceMaker, "_dispatch_forward", RemoteExperienceMaker._dispatch_forward)
    with pytest.raises(RuntimeError, match="without calling RemoteExperienceMaker._dispatch_forward"):
        make_experiences(models, groups, grader, tokenizer, "prm_vr")


def test_a_non_finite_input_stops_the_step_before_the_update(openrlhf_env):
    from openrlhf_pure.engines.openrlhf.experience_maker import require_finite

    mask = torch.tensor([[True, True, False], [True, False, False]])
    padded = torch.tensor([[-0.1, -0.2, math.nan], [-0.3, math.inf, 0.0]])  # non-finite only off the mask
    require_finite(mask, log_probs=padded, ref_log_probs=None, step_rewards=torch.zeros(2, 1))
    with pytest.raises(RuntimeError, match=r"ref_log_probs holds 1 NaN or infinite values \(rows \[1\]\)"):
        require_finite(mask, log_probs=padded, ref_log_probs=torch.tensor([[0.0, 0.0, 0.0], [math.nan, 0.0, 0.0]]))
