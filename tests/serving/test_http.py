"""Responses written at once (`recograph.serving.http`): the same bytes, in order, one write."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from recograph.commands.serve import http_protocol
from recograph.serving.http import MAX_HELD_BYTES, CorkedTransport, OneWriteHttpToolsProtocol
from recograph_lab.bench.serve import free_port


class FakeTransport:
    """Records what reaches the socket, one entry per system call."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.calls.append(bytes(data))

    def writelines(self, chunks: list[bytes]) -> None:
        self.calls.append(b"".join(chunks))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


async def test_writes_in_one_turn_of_the_loop_leave_in_one_call() -> None:
    real = FakeTransport()
    corked = CorkedTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
    corked.write(b"")
    corked.write(b"hello")
    assert real.calls == []
    await asyncio.sleep(0)
    assert real.calls == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"]
    corked.write(b"next")
    await asyncio.sleep(0)
    assert real.calls[1:] == [b"next"]


async def test_close_writes_what_is_held_first_and_nothing_is_written_after() -> None:
    real = FakeTransport()
    corked = CorkedTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"head")
    corked.write(b"body")
    corked.close()
    assert real.calls == [b"headbody"]
    assert real.closed
    corked.write(b"late")
    await asyncio.sleep(0)
    assert real.calls == [b"headbody"]


async def test_a_large_write_is_not_held() -> None:
    real = FakeTransport()
    corked = CorkedTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"head")
    corked.write(b"x" * MAX_HELD_BYTES)
    assert real.calls == [b"head" + b"x" * MAX_HELD_BYTES]
    await asyncio.sleep(0)
    assert len(real.calls) == 1


async def test_other_attributes_are_the_transports() -> None:
    real = FakeTransport()
    corked = CorkedTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    assert corked.get_extra_info("peername") == "info peername"
    assert not corked.is_closing()


def test_the_served_protocol_is_the_one_write_protocol() -> None:
    assert http_protocol() is OneWriteHttpToolsProtocol


async def _stream() -> AsyncIterator[bytes]:
    for part in (b"one ", b"two ", b"three"):
        yield part
        await asyncio.sleep(0.01)


async def _fixed(_: Request) -> Response:
    return PlainTextResponse("fixed answer")


async def _streamed(_: Request) -> Response:
    return StreamingResponse(_stream(), media_type="text/plain")


async def _failing(_: Request) -> Response:
    raise RuntimeError("boom")


@contextlib.asynccontextmanager
async def _served(app: Any) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=OneWriteHttpToolsProtocol, log_level="critical"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_responses_over_a_real_socket_are_unchanged() -> None:
    app = Starlette(
        routes=[
            Route("/fixed", _fixed, methods=["GET", "HEAD"]),
            Route("/stream", _streamed),
            Route("/fail", _failing),
        ]
    )
    async with _served(app) as base, httpx.AsyncClient(base_url=base) as client:
        for _ in range(3):  # one keep-alive connection, several responses
            fixed = await client.get("/fixed")
            assert (fixed.status_code, fixed.text) == (200, "fixed answer")
            assert fixed.headers["content-length"] == str(len("fixed answer"))
        head = await client.head("/fixed")
        assert (head.status_code, head.content) == (200, b"")
        streamed = await client.get("/stream")
        assert (streamed.status_code, streamed.text) == (200, "one two three")
        failed = await client.get("/fail")
        assert (failed.status_code, failed.text) == (500, "Internal Server Error")
        assert (await client.get("/fixed")).text == "fixed answer"
