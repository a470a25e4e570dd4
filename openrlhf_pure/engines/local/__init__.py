"""The single-process PURE trainer (CPU or one GPU): rollouts with transformers, every piece
of the algorithm from ``openrlhf_pure.core``."""
