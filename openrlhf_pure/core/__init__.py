"""The algorithm core (layer 1): plain Python and torch, no Ray, DeepSpeed, vLLM or OpenRLHF.

Modules, one concept each: ``steps`` (step boundaries in token space), ``credit`` (sum, min,
softmin, future_min), ``returns`` (future sums, step <-> token placement), ``baselines``
(process-reward baselines), ``verifiable`` (VR with RLOO/GRPO), ``kl`` (KL estimators),
``groups`` (prompt groups), ``whitening`` (its variants), ``advantages`` (the whole path),
``presets`` (the authors' implementations as configurations), ``registry`` and ``checks``.
"""
