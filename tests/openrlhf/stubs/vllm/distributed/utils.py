"""Stand-in for ``vllm.distributed.utils``: ``StatelessProcessGroup`` as a TCP store and a rank."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import torch.distributed as dist

TIMEOUT = datetime.timedelta(minutes=5)


@dataclass
class StatelessProcessGroup:
    """A rendezvous outside ``torch.distributed``'s default group (rank 0 hosts the store)."""

    rank: int
    world_size: int
    store: dist.Store

    @staticmethod
    def create(host: str, port: int, rank: int, world_size: int) -> StatelessProcessGroup:
        store = dist.TCPStore(host, port, world_size, is_master=rank == 0, timeout=TIMEOUT)
        return StatelessProcessGroup(rank, world_size, store)
