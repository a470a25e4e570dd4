"""Test-only stand-in for vLLM (CUDA-only): the names OpenRLHF imports, and an engine.

``AsyncLLMEngine`` (``engine.py``) generates with Hugging Face ``generate`` inside OpenRLHF's own
``RolloutRayActor`` and receives OpenRLHF's weight broadcasts (``distributed/``, on gloo). The
version is the vLLM release the GPU install pins, so OpenRLHF's version checks take their usual
branches. Found through PYTHONPATH, so it also reaches Ray workers; never installed."""

__version__ = "0.29.0+cpu.stub"


class SamplingParams:
    """Keeps its keyword arguments, like vLLM's sampling parameters."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


def __getattr__(name):  # the engine imports transformers: load it only when asked for
    if name in ("AsyncEngineArgs", "AsyncLLMEngine"):
        from vllm import engine

        return getattr(engine, name)
    raise AttributeError(name)
