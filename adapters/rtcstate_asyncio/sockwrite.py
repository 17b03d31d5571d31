"""Writing text frames to a websocket at once, when its socket takes them without waiting.

Theory of operation
-------------------
``websockets``' own ``send`` is a coroutine: it checks the connection, serializes the frame,
writes it and waits while the transport's buffer is over its high-water mark. A relay that
queues each frame for a writer task pays a task switch, a queue hand-over and that coroutine
per frame on top of the write itself. :func:`write_now` is the synchronous part alone, for the
common case where nothing has to wait: the connection is open, no fragmented message is being
sent, and the transport's buffer is empty (the kernel took everything written before). Then
the frames are serialized by the connection's sans-I/O protocol (``protocol.send_text``, as
``send`` does) and written in one ``transport.write`` (``send_data``); the answer is True.
Otherwise nothing is written and the answer is False: the caller hands the frames to its
writer task, which ``await``\\ s ``send`` and so the flow control (a client that does not read
fills the buffer, and from then on every frame for it takes the slow path, where the relay
counts it against the hub's ``max_queue_bytes``).
"""

from __future__ import annotations

from collections.abc import Sequence

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

__all__ = ["write_now"]

_OPEN = State.OPEN


def write_now(ws: ServerConnection, frames: Sequence[bytes]) -> bool:
    """Write ``frames`` (UTF-8 JSON texts) as text frames on ``ws`` in one socket write if the
    connection takes them now; False (nothing written) if the caller must ``await`` it."""
    transport = ws.transport
    if (
        ws.protocol.state is not _OPEN
        or ws.send_in_progress is not None
        or transport.is_closing()
        or transport.get_write_buffer_size()
    ):
        return False
    send_text = ws.protocol.send_text
    for frame in frames:
        send_text(frame)
    ws.send_data()
    return True
