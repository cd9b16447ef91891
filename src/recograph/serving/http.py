"""uvicorn's httptools protocol with each response written to the socket at once.

uvicorn writes a response's status line and headers when the app sends
``http.response.start`` and the body when it sends ``http.response.body``: two ``write``
calls, two TCP segments, and a client that wakes up twice (after the head, which it cannot
use alone, and after the body). `CorkedTransport` holds what is written during one turn of
the event loop and hands it to the socket in one ``writelines`` at the end of the turn, so a
response sent in one go (every recograph response) leaves in one system call. Nothing
else changes: the order of the bytes, closing (held bytes go first), flow control (bytes
are held at most one turn of the loop, and never more than `MAX_HELD_BYTES`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Above this many held bytes, write at once (a long stream sent without awaiting must not
# grow the hold: the transport's own buffer and flow control take over).
MAX_HELD_BYTES = 256 * 1024


class CorkedTransport:
    """A transport whose writes within one turn of the event loop go out together; every
    other attribute is the wrapped transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)
        self._held_bytes += len(data)
        if self._held_bytes > MAX_HELD_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write what is held (one system call when the socket takes it all)."""
        held = self._held
        if not held:
            return
        self._held = []
        self._held_bytes = 0
        if self._transport.is_closing():
            return
        if len(held) == 1:
            self._transport.write(held[0])
        else:
            self._transport.writelines(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` writing through a `CorkedTransport`: a response's head and body
    leave in one system call."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        corked = CorkedTransport(transport, self.loop)
        super().connection_made(corked)  # type: ignore[arg-type]
