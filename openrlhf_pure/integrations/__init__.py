"""Adapters that let stock OpenRLHF use this project's core (files OpenRLHF loads by path)."""
