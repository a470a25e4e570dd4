"""PURE's settings as the Ray engine reads them: labels, answer visibility, flag mapping onto the core."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from openrlhf_pure.engines.openrlhf.settings import PureSettings, visible_draw


def test_label_is_an_answer_string_or_an_object_with_answer_and_flag():
    settings = PureSettings()
    assert settings.read_label({"gt_answer": "42", "pure_vr_answer_visible": False}) == ("42", False)
    assert settings.read_label({"gt_answer": 27.0}) == ("27.0", None)
    assert settings.read_label("7") == ("7", None)
    assert settings.read_label("") == (None, None) and settings.read_label(None) == (None, None)
    custom = PureSettings(answer_key="answer", visible_key="show")
    assert custom.read_label({"answer": "1", "show": True}) == ("1", True)


def test_visibility_follows_the_mode_and_the_label_flag():
    assert PureSettings(reward_mode="vr").answer_visible("p", False)  # VR uses every answer
    assert not PureSettings(reward_mode="prm").answer_visible("p", True)  # PRM uses none
    prm_vr = PureSettings(reward_mode="prm_vr")
    assert prm_vr.answer_visible("p", True) and not prm_vr.answer_visible("p", False)
    assert prm_vr.answer_visible("p", None)  # no flag: visible


def test_seeded_draw_is_stable_and_close_to_the_fraction():
    prompts = [f"problem {i}" for i in range(20000)]
    settings = PureSettings(reward_mode="prm_vr", visible_fraction=0.1, visible_seed=3)
    shown = [settings.answer_visible(p, False) for p in prompts]
    assert shown == [settings.answer_visible(p, True) for p in prompts]  # the draw overrides the flag
    assert sum(shown) / len(prompts) == pytest.approx(0.1, abs=0.01)
    assert visible_draw("x", 3) == visible_draw("x", 3) != visible_draw("x", 4)


def args_with(estimator="rloo", **pure):
    credit = SimpleNamespace(mode="min", temperature=0.5, gamma=1.0)
    values = dict(reward_mode="prm_vr", credit=credit, pr_coef=2.0, pr_baseline="max_len", max_len=None, vr_coef=1.0,
                  mask_reward_tokens=False, whiten=True, step_separator="\n\n", vr=SimpleNamespace(
                      visible_fraction=None, visible_seed=0, estimator=None), step_token_count="with_closing",
                  kl=SimpleNamespace(clamp=None), token_returns="sum", return_baseline="none", mask_tokens="reward",
                  whitening="masked", preset=None,
                  data=SimpleNamespace(answer_key="gt_answer", visible_key="pure_vr_answer_visible"))  # fmt: skip
    values.update(pure)
    return SimpleNamespace(
        pure=SimpleNamespace(**values),
        algo=SimpleNamespace(
            advantage=SimpleNamespace(estimator=estimator), kl=SimpleNamespace(init_coef=1e-3, estimator="k3")
        ),  # fmt: skip
        rollout=SimpleNamespace(max_new_tokens=3072),
    )


def test_openrlhf_flags_keep_their_meaning_in_the_core_config():
    advantage = PureSettings.from_args(args_with()).advantage
    assert advantage.credit.mode == "min" and advantage.credit.temperature == 0.5
    assert (advantage.pr_coef, advantage.pr_baseline, advantage.max_len) == (2.0, "max_len", 3072)
    assert (advantage.vr_estimator, advantage.kl_estimator, advantage.kl_coef) == ("rloo", "k3", 1e-3)
    assert advantage.mask_reward_tokens is False
    assert PureSettings.from_args(args_with("group_norm")).advantage.vr_estimator == "grpo"
    with pytest.raises(ValueError, match="estimator"):
        PureSettings.from_args(args_with("gae"))
