"""Entry points (layer 4): they parse, validate and call; no math here."""
