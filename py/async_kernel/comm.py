"""Comms through the ``comm`` package, so ipywidgets and other comm users talk through this kernel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import comm as comm_package
from comm.base_comm import BaseComm, BuffersType, CommManager, MaybeDict

if TYPE_CHECKING:
    from .interfaces import Publisher


class KernelComm(BaseComm):
    """A comm whose messages are published on iopub."""

    publisher: Publisher | None = None

    def publish_msg(
        self,
        msg_type: str,
        data: MaybeDict = None,
        metadata: MaybeDict = None,
        buffers: BuffersType = None,
        **keys: Any,
    ) -> None:
        if self.publisher is None:
            raise RuntimeError("async-kernel comms need a running kernel")
        content = {"data": {} if data is None else data, "comm_id": self.comm_id, **keys}
        self.publisher.publish(msg_type, content, metadata=metadata, buffers=list(buffers or []))


def install(publisher: Publisher) -> CommManager:
    """Make ``comm.create_comm`` and ``comm.get_comm_manager`` publish through ``publisher``; return the manager."""
    manager = CommManager()
    KernelComm.publisher = publisher

    def create_comm(*args: Any, **kwargs: Any) -> BaseComm:
        return KernelComm(*args, **kwargs)

    comm_package.create_comm = create_comm
    comm_package.get_comm_manager = lambda: manager
    return manager
