"""Stand-in for ``vllm.distributed.device_communicators.pynccl``: the weight broadcast on gloo.

OpenRLHF's trainer rank 0 and every engine build one of these on the same
:class:`~vllm.distributed.utils.StatelessProcessGroup` rendezvous; ``broadcast`` really sends the
tensor's bytes from rank 0 to every engine (a gloo process group instead of NCCL)."""

from __future__ import annotations

import torch
import torch.distributed as dist

from vllm.distributed.utils import TIMEOUT


class PyNcclCommunicator:
    def __init__(self, group, device=None):
        self.rank, self.world_size = group.rank, group.world_size
        store = dist.PrefixStore("weights", group.store)
        self.group = dist.ProcessGroupGloo(store, self.rank, self.world_size, TIMEOUT)

    def broadcast(self, tensor: torch.Tensor, src: int, stream=None) -> None:
        options = dist.BroadcastOptions()
        options.rootRank = src
        self.group.broadcast([tensor], options).wait()
