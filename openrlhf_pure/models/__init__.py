"""Models and tokenizers (layer 2): the PRM, and the tiny models the CPU path and tests build."""
