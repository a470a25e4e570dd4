"""Stand-in for ``flash_attn.utils``."""
