"""PRM replicas as a cluster places them: the device from Ray's grant, the memory protocol, and the
policy tokenizer's code off by default.

Ray runs with 2 logical GPUs and ``RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES`` (Ray then leaves
every GPU visible to every actor, a setting OpenRLHF supports), so GPU shares are granted as on a
node; this machine has no CUDA, so granted replicas compute on the CPU, which they report.
"""

from __future__ import annotations

import functools
import json

import pytest
import torch

from openrlhf_pure.core.steps import split_steps
from openrlhf_pure.engines.openrlhf.prm_group import (
    PolicyStepScorer,
    PRMActor,
    PRMGroup,
    PRMSpec,
    build_policy_step_scorer,
    replica_device,
)

NOSET = "RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES"


def batch(tokenizer, texts=("A.\n\nB.\n\n\\boxed{1}", "C.", "D.\n\nE.")):
    """(prompts, (B, T) ids, (B, T) mask) of responses given as text."""
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    ids = torch.zeros(len(texts), max(map(len, encoded)), dtype=torch.long)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    for row, e in enumerate(encoded):
        ids[row, : len(e)], mask[row, : len(e)] = torch.tensor(e), True
    return ["Compute 1 + 1."] * len(texts), ids, mask


def test_replica_device_follows_the_gpus_ray_granted():
    assert replica_device([], {NOSET: "1"}) == "cpu"
    assert replica_device([1], {}) == "cuda:0"  # Ray narrowed CUDA_VISIBLE_DEVICES to the grant
    assert replica_device([1], {NOSET: "1"}) == "cuda:1"  # every GPU visible: the granted one, not cuda:0
    assert replica_device(["3"], {NOSET: "1", "CUDA_VISIBLE_DEVICES": "2,3"}) == "cuda:1"


@pytest.fixture(scope="module")
def ray_noset():
    import ray

    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             runtime_env={"env_vars": {NOSET: "1"}})  # fmt: skip
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_replicas_take_their_device_from_rays_grant(ray_noset, tiny_models, tokenizer):
    spec = PRMSpec(tiny_models["prm"], tiny_models["policy"], max_tokens_per_batch=512)
    factory = functools.partial(build_policy_step_scorer, spec)
    on_cpu = PRMGroup(factory, num_replicas=1, num_gpus_per_replica=0)  # used to die here (IndexError)
    on_gpus = PRMGroup(factory, num_replicas=2, num_gpus_per_replica=1)
    (cpu_status,) = on_cpu.ready()
    assert cpu_status["gpu_ids"] == [] and cpu_status["granted_device"] == cpu_status["device"] == "cpu"
    statuses = on_gpus.ready()
    assert sorted(s["granted_device"] for s in statuses) == ["cuda:0", "cuda:1"]  # not both on cuda:0
    assert [s["device"] for s in statuses] == ["cpu", "cpu"]  # no CUDA on this machine
    prompts, ids, mask = batch(tokenizer)
    one, two = on_cpu.score(prompts, ids, mask), on_gpus.score(prompts, ids, mask)
    # Two replicas each score a part of the batch: other matrix shapes, so equal up to float rounding.
    assert torch.equal(one == 0, two == 0)
    torch.testing.assert_close(one, two, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_inputs_past_the_prms_context_are_counted_through_the_group(ray_noset, tiny_models, tokenizer):
    spec = PRMSpec(tiny_models["prm"], tiny_models["policy"], max_length=12, overflow="truncate")
    group = PRMGroup(functools.partial(build_policy_step_scorer, spec), num_replicas=1, num_gpus_per_replica=0)
    prompts, ids, mask = batch(tokenizer)
    local = PolicyStepScorer(spec)
    layout = split_steps(ids, mask, local.separator_ids)
    lengths = [len(x) for x in local.scorer.aligner.prm_inputs(prompts, ids, layout)]
    pending = group.submit(prompts, ids, mask)
    scores = group.collect(pending)
    assert 0 < pending.truncated == sum(n > 12 for n in lengths) < 3 and scores.shape == (3, 3)
    strict = PolicyStepScorer(PRMSpec(tiny_models["prm"], tiny_models["policy"], max_length=12))  # overflow "error"
    with pytest.raises(ValueError, match=r"more than max_length=12 .*or choose --pure.prm.overflow truncate"):
        strict(prompts, ids, mask)


def test_a_replica_without_gpus_never_calls_cuda(monkeypatch, tiny_models, tokenizer):
    def no_cuda(*args, **kwargs):
        raise AssertionError("a replica without GPUs called torch.cuda")

    for name in ("is_available", "set_device", "empty_cache", "current_device", "device_count"):
        monkeypatch.setattr(torch.cuda, name, no_cuda)
    spec = PRMSpec(tiny_models["prm"], tiny_models["policy"])
    replica_class = type("Replica", (PRMActor,), {"scorer_factory": staticmethod(functools.partial(
        build_policy_step_scorer, spec)), "offload": True})  # fmt: skip
    replica = replica_class(0, gpu_ids=[])
    assert replica.ready()["device"] == "cpu"
    scores, truncated = replica.score(*batch(tokenizer))
    assert scores.shape == (3, 3) and truncated == 0 and replica.batches == 1
    replica.empty_cache()


class RecordingScorer:
    """A step scorer that records where it is moved (CUDA cannot exist on this machine)."""

    def __init__(self, device, log):
        self.log = log
        log.append(("built on", device))

    def __call__(self, prompts, response_ids, action_mask):
        self.log.append(("score",))
        return torch.ones(len(prompts), 1)

    def to(self, device):
        self.log.append(("to", device))


def test_a_colocated_replica_empties_its_cache_and_offloads_between_scorings(monkeypatch):
    log = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: log.append(("set_device", device)))
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: log.append(("empty_cache",)))
    factory = functools.partial(RecordingScorer, log=log)
    for offload in (False, True):
        log.clear()
        replica = type("Replica", (PRMActor,), {"scorer_factory": staticmethod(factory), "offload": offload})(
            0, gpu_ids=["0"]
        )
        replica.ready()
        assert replica.status()["resident"] is not offload
        replica.score(["p"], torch.ones(1, 2, dtype=torch.long), torch.ones(1, 2, dtype=torch.bool))
        moves = [("to", "cuda:0"), ("score",), ("to", "cpu")] if offload else [("score",)]
        tail = [("to", "cpu"), ("empty_cache",)] if offload else [("empty_cache",)]
        assert log == [("set_device", "cuda:0"), ("built on", "cuda:0"), *tail, *moves, ("empty_cache",)]


def test_the_policy_tokenizers_own_code_runs_only_when_asked(tmp_path, monkeypatch, tiny_models):
    """A tokenizer folder whose config names a tokenizer class in a Python file of its own."""
    folder = tmp_path / "tokenizer"
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(tiny_models["policy"]).save_pretrained(folder)
    marker = tmp_path / "code_ran"
    (folder / "tokenization_custom.py").write_text(
        "import os\nfrom pathlib import Path\nfrom transformers import PreTrainedTokenizerFast\n"
        "Path(os.environ['PURE_TEST_MARKER']).write_text('ran')\n"
        "class CustomTokenizer(PreTrainedTokenizerFast):\n    pass\n"
    )
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.update(auto_map={"AutoTokenizer": [None, "tokenization_custom.CustomTokenizer"]},
                  tokenizer_class="CustomTokenizer")  # fmt: skip
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    monkeypatch.setenv("PURE_TEST_MARKER", str(marker))

    with pytest.raises(ValueError, match="ships its own code.*--pure.prm.trust_remote_code"):
        PolicyStepScorer(PRMSpec(tiny_models["prm"], str(folder)))
    assert not marker.exists()
    trusted = PolicyStepScorer(PRMSpec(tiny_models["prm"], str(folder), trust_remote_code=True))
    assert type(trusted.scorer.policy_tokenizer).__name__ == "CustomTokenizer" and marker.exists()
