"""PURE's settings as the Ray engine reads them from OpenRLHF-style arguments (``args.pure.*``).

How OpenRLHF's own flags map onto the core (so that they keep their meaning):

- ``--algo.advantage.estimator`` picks the verifiable-reward baseline: ``rloo`` -> the core's
  leave-one-out (PURE's), ``group_norm`` -> GRPO's group normalisation;
- ``--algo.kl.init_coef`` (through OpenRLHF's KL controller) and ``--algo.kl.estimator`` are the
  per-token KL reward penalty's coefficient and estimator; with ``--algo.kl.use_loss`` the KL is
  a loss term in the actor instead and the penalty is 0;
- ``--rollout.max_new_tokens`` is N of the ``max_len`` process baseline unless ``--pure.max_len``;
- ``--pure.vr.estimator``, when given (or set by a preset), replaces the mapping above.

``--pure.preset`` (see :func:`apply_preset`) fills every rewards-to-advantages flag that was not
given with the preset's value, OpenRLHF's KL coefficient and estimator included, before
OpenRLHF's own normalisation; the resolved configuration is then kept in ``args.pure.advantage``
(printed by the dry run and at start, and logged with OpenRLHF's run config).

Labels: OpenRLHF hands each prompt's ``--data.label_key`` field through vLLM to the experience
maker. PURE's label is either the gold answer (a string) or an object holding it under
``--pure.data.answer_key`` and the visibility flag under ``--pure.data.visible_key``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from openrlhf_pure.core.advantages import AdvantageConfig
from openrlhf_pure.core.credit import CreditConfig
from openrlhf_pure.engines.advantage_flags import preset_values

VR_ESTIMATOR_OF = {"rloo": "rloo", "group_norm": "grpo"}  # OpenRLHF's estimator -> the core's VR estimator


@dataclass(frozen=True)
class PureSettings:
    """Everything the experience maker needs besides the models.

    Args:
        reward_mode: "prm", "vr" or "prm_vr".
        advantage: the core's :class:`AdvantageConfig` (its ``kl_coef`` is replaced at each step
            by the KL controller's value).
        separator: the step separator string.
        answer_key, visible_key: fields of an object label.
        visible_fraction: None to use the label's flag; else the share of problems whose answer is
            visible in prm_vr, drawn per prompt from ``visible_seed``.
        visible_seed: seed of that draw.
    """

    reward_mode: str = "prm_vr"
    advantage: AdvantageConfig = AdvantageConfig()
    separator: str = "\n\n"
    answer_key: str = "gt_answer"
    visible_key: str = "pure_vr_answer_visible"
    visible_fraction: float | None = None
    visible_seed: int = 0

    @property
    def uses_prm(self) -> bool:
        return self.reward_mode in ("prm", "prm_vr")

    @property
    def uses_vr(self) -> bool:
        return self.reward_mode in ("vr", "prm_vr")

    @classmethod
    def from_args(cls, args) -> PureSettings:
        """Read ``args.pure`` and the OpenRLHF flags above. Raises ValueError on invalid values."""
        pure = args.pure
        estimator = args.algo.advantage.estimator
        if estimator not in VR_ESTIMATOR_OF:
            raise ValueError(f"--algo.advantage.estimator must be one of {sorted(VR_ESTIMATOR_OF)}, got {estimator}")
        advantage = AdvantageConfig(
            credit=CreditConfig(mode=pure.credit.mode, temperature=pure.credit.temperature, gamma=pure.credit.gamma),
            pr_coef=pure.pr_coef,
            pr_baseline=pure.pr_baseline,
            step_token_count=pure.step_token_count,
            max_len=pure.max_len or args.rollout.max_new_tokens,
            vr_coef=pure.vr_coef,
            vr_estimator=pure.vr.estimator or VR_ESTIMATOR_OF[estimator],
            kl_coef=args.algo.kl.init_coef,
            kl_estimator=args.algo.kl.estimator,
            kl_clamp=pure.kl.clamp,
            token_returns=pure.token_returns,
            return_baseline=pure.return_baseline,
            mask_reward_tokens=pure.mask_reward_tokens,
            mask_tokens=pure.mask_tokens,
            whiten=pure.whiten,
            whitening=pure.whitening,
        )
        return cls(
            reward_mode=pure.reward_mode,
            advantage=advantage,
            separator=pure.step_separator,
            answer_key=pure.data.answer_key,
            visible_key=pure.data.visible_key,
            visible_fraction=pure.vr.visible_fraction,
            visible_seed=pure.vr.visible_seed,
        )

    def read_label(self, label) -> tuple[str | None, bool | None]:
        """(gold answer or None, visibility flag or None) of one OpenRLHF label."""
        if isinstance(label, dict):
            gold, flag = label.get(self.answer_key), label.get(self.visible_key)
            return (None if gold is None else str(gold)), (None if flag is None else bool(flag))
        if label is None or (isinstance(label, str) and not label.strip()):
            return None, None
        return str(label), None

    def answer_visible(self, prompt: str, flag: bool | None) -> bool:
        """Whether a problem's answer may give a verifiable reward in this mode."""
        if self.reward_mode == "vr":
            return True
        if self.reward_mode == "prm":
            return False
        if self.visible_fraction is not None:
            return visible_draw(prompt, self.visible_seed) < self.visible_fraction
        return True if flag is None else flag


def apply_preset(args, given: set[str]) -> None:
    """With ``--pure.preset``, set every rewards-to-advantages flag not in ``given`` (dotted
    destinations typed on the command line) to the preset's value, in place."""
    if args.pure.preset is None:
        return
    for dest, value in preset_values(args.pure.preset, given).items():
        *parents, name = dest.split(".")
        node = args
        for part in parents:
            node = getattr(node, part)
        setattr(node, name, value)


def visible_draw(prompt: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, prompt): the same problem draws the same value
    on every rank, step and restart, so the visible set is stable without a lookup table."""
    digest = hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
