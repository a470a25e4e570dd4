"""Test-only stand-in for vLLM (CUDA-only): the names OpenRLHF imports at module level. Tests build
rollouts without vLLM engines. Found through PYTHONPATH, so it also reaches Ray workers."""

__version__ = "0.0.0+cpu.stub"


class SamplingParams:
    """Keeps its keyword arguments, like vLLM's sampling parameters."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)
