"""PURE on OpenRLHF 0.11.2's Ray PPO engine (vLLM rollouts, DeepSpeed actors), by extension only.

Modules (import them directly; this package imports nothing heavy):

- ``args``: OpenRLHF's own parser and post-parse block, executed from its installed file, plus
  PURE's ``--pure.*`` flags;
- ``validate``: one clear message per invalid combination (used by ``--dry_run``);
- ``settings``: PURE's settings read from the arguments, labels and answer visibility;
- ``prm_group``: PRM replicas as Ray actors placed by OpenRLHF's ``RayActorGroup``;
- ``experience_maker``: ``RemoteExperienceMaker`` subclass computing returns and advantages with
  ``openrlhf_pure.core``;
- ``trainer``: OpenRLHF's ``PPOTrainer`` (undecorated, subclassed, re-decorated) with that maker;
- ``launch``: model placement and the training run.
"""
