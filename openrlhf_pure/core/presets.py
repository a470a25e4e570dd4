"""Named presets of the whole rewards-to-advantages configuration (``AdvantageConfig.preset``).

- ``default``: the project's choices (``AdvantageConfig()``).
- ``authors_openrlhf``: the authors' OpenRLHF implementation (CJReinforce/PURE, branch
  ``main``, their example script's settings): softmin T = 0.1, the token baseline charging each
  step for its tokens *without* its closing token, leave-one-out VR, k1 KL at 0.001, the
  advantage zeroed on every step-closing token in every mode (PURE-VR included), whitening
  with the mean over non-zero advantages (their replay buffer's ``normalize``).
- ``authors_verl``: the authors' verl implementation (branch ``verl``, the paper's runs, its
  ``ppo_trainer.yaml``): softmin T = 0.1, the verifiable reward added raw, k3 KL clamped to
  [-10, 10] at 0.001, then one leave-one-out baseline over the token returns of all rewards,
  sum_{j != i} sum_t G_{j,t} / ((n - 1) N), no masking, whitening with an unbiased variance.
  Their "strict min-form" run is this preset with ``credit.mode = "sum"`` (step scores taken
  raw) and ``token_returns = "running_min"``; their "gamma-decay" is ``credit.mode = "sum"``.

Every preset names every field, so that a preset does not move when a project default does.
``max_len`` (N) is not part of a preset: it is the run's maximum generation length, which
the engines fill in. docs/presets.md tabulates each difference and why the default differs.
"""

from __future__ import annotations

import copy

from openrlhf_pure.core.registry import Registry

PRESETS: Registry = Registry("advantage preset")

_COMMON = {
    "credit": {"mode": "softmin", "temperature": 0.1, "gamma": 1.0},
    "pr_coef": 1.0,
    "vr_coef": 1.0,
    "kl_coef": 1e-3,
    "whiten": True,
    "eps": 1e-8,
    "token_returns": "sum",
}


@PRESETS.register("default")
def project_default() -> dict:
    """The project's own choices: no field changed."""
    return {}


@PRESETS.register("authors_openrlhf")
def authors_openrlhf() -> dict:
    """Every field as the authors' OpenRLHF code ran it."""
    return {
        **_COMMON,
        "pr_baseline": "token",
        "step_token_count": "without_closing",
        "vr_estimator": "rloo",
        "kl_estimator": "k1",
        "kl_clamp": None,
        "mask_reward_tokens": True,
        "mask_tokens": "closing",
        "whitening": "nonzero_mean",
        "return_baseline": "none",
    }


@PRESETS.register("authors_verl")
def authors_verl() -> dict:
    """Every field as the authors' verl code ran it."""
    return {
        **_COMMON,
        "pr_baseline": "none",
        "step_token_count": "with_closing",
        "vr_estimator": "none",
        "kl_estimator": "k3",
        "kl_clamp": 10.0,
        "mask_reward_tokens": False,
        "mask_tokens": "reward",
        "whitening": "unbiased",
        "return_baseline": "max_len",
    }


def preset_fields(name: str) -> dict:
    """The field values of preset ``name`` (nested dict for ``credit``); unknown names list the known ones."""
    return copy.deepcopy(PRESETS.get(name)())
