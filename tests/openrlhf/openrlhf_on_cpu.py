"""Test-only: OpenRLHF 0.11.2's unconditional CUDA call sites pointed at the CPU, in Ray workers.

OpenRLHF's Ray actors call ``torch.cuda.current_device()``, ``empty_cache()``,
``synchronize()``, ``set_device()`` and ``current_stream()`` without asking whether CUDA
exists, and ``DeepspeedStrategy.setup_distributed`` builds a ``"cuda"`` device mesh. On a CPU
machine those calls fail before any model runs. :func:`install` (the ``worker_process_setup_hook``
of the test's Ray, run at the start of every worker) changes exactly those call sites:

- each of those ``torch.cuda`` functions is wrapped so that a call *made from a file of the
  installed openrlhf package* gets the CPU behaviour (:data:`ON_CPU`: the CPU device, no stream,
  nothing to select, empty or synchronise) and every other caller (torch, DeepSpeed, transformers,
  this project) gets torch's own function. The caller is told by its code's file name, which
  also holds for the actor classes that Ray ships by value;
- in ``replay_buffer``, which builds its target device as ``torch.device(f"cuda:{...}")``, the
  module's ``torch`` is a view whose ``device`` maps CUDA devices to the CPU;
- ``deepspeed.py``'s ``init_device_mesh("cuda", ...)`` builds the same mesh on ``"cpu"``.

So the project's own code (the PRM replicas' device choice) runs as on any CPU machine.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types

import torch

OPENRLHF_DIR = os.path.dirname(importlib.util.find_spec("openrlhf").origin) + os.sep

# torch.cuda function -> what an OpenRLHF call site gets on the CPU
ON_CPU = {
    "current_device": lambda: torch.device("cpu"),
    "current_stream": lambda device=None: None,
    "set_device": lambda device: None,
    "empty_cache": lambda: None,
    "synchronize": lambda device=None: None,
}
MODULES = ("openrlhf.trainer.ppo_utils.replay_buffer", "openrlhf.utils.deepspeed.deepspeed")


def _call_site(name: str, on_cpu):
    original = getattr(torch.cuda, name)

    def call(*args, **kwargs):
        if sys._getframe(1).f_code.co_filename.startswith(OPENRLHF_DIR):
            return on_cpu(*args, **kwargs)
        return original(*args, **kwargs)

    call.__wrapped__ = original
    return call


def cpu_device(spec=None, index=None):
    """``torch.device`` with every CUDA device mapped to the CPU."""
    if isinstance(spec, str) and spec.startswith("cuda"):
        return torch.device("cpu")
    return torch.device(spec) if index is None else torch.device(spec, index)


class TorchOnCpu(types.ModuleType):
    """torch, except ``device`` (see the module docstring)."""

    device = staticmethod(cpu_device)

    def __getattr__(self, name):
        return getattr(torch, name)


def _cpu_mesh(init_device_mesh):
    def init_device_mesh_on_cpu(device_type, *args, **kwargs):
        return init_device_mesh("cpu" if device_type == "cuda" else device_type, *args, **kwargs)

    return init_device_mesh_on_cpu


def patch(module) -> None:
    """Rebind the CUDA device names of one of :data:`MODULES` (idempotent)."""
    if module.__name__.endswith("replay_buffer") and getattr(module, "torch", None) is torch:
        module.torch = TorchOnCpu("torch")
    if module.__name__.endswith("deepspeed") and not hasattr(module, "_cpu_mesh"):
        module._cpu_mesh = True
        module.init_device_mesh = _cpu_mesh(module.init_device_mesh)


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        patch(module)


class _PatchingFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader)
        return spec


def install() -> None:
    """Wrap the ``torch.cuda`` call sites; patch :data:`MODULES` now or on import (Ray's setup hook)."""
    for name, on_cpu in ON_CPU.items():
        if not hasattr(getattr(torch.cuda, name), "__wrapped__"):
            setattr(torch.cuda, name, _call_site(name, on_cpu))
    if not any(isinstance(f, _PatchingFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchingFinder())
    for name in MODULES:
        if name in sys.modules:
            patch(sys.modules[name])
