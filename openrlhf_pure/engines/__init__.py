"""Engines (layer 3): PRM scoring, the OpenRLHF integration and the single-process trainer."""
