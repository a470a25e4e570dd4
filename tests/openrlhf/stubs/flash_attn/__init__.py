"""Test-only stand-in for flash-attn (CUDA-only): OpenRLHF imports it at module level but the CPU
tests never call it. Found through PYTHONPATH, so it also reaches Ray workers; never installed."""

__version__ = "0.0.0+cpu.stub"
