"""Data (layer 2): step-by-step tasks, datasets and their formats."""
