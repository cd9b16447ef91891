"""``/graphql`` skips Starlette's exception middleware and router (`ServingApp`) but keeps
what the stack gives it: a masked 500, metrics, the body limit, CORS and the version header,
the same as through the whole stack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from recograph.online.config import ServingConfig
from recograph.serving.app import VERSION_HEADER, create_app
from recograph.serving.documents import read_body, replaying
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot
from tests.serving_helpers import metric_values

ORIGIN = "https://shop.example"
QUERY = "{ modelInfo { version } }"


@pytest.fixture
def app(artifacts_root: Path) -> Starlette:
    settings = Settings(
        artifacts_dir=artifacts_root, database_url="", cors_origins=(ORIGIN,), max_body_bytes=300
    )
    return create_app(settings, config=ServingConfig(reload_poll_seconds=0), playground=False)


async def _client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        # the masked 500 is still raised to the server (which logs it); the client sees the 500
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(app):
        yield c


def _requests_total(text: str) -> dict[tuple[str, ...], float]:
    return metric_values(text, "recograph_graphql_requests_total", "operation", "status")


async def test_an_answer_carries_the_version_and_cors_headers_and_is_counted(
    client: httpx.AsyncClient, snapshot: ModelSnapshot
) -> None:
    response = await client.post("/graphql", json={"query": QUERY}, headers={"origin": ORIGIN})
    assert response.json() == {"data": {"modelInfo": {"version": snapshot.version}}}
    assert response.headers[VERSION_HEADER] == snapshot.version
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert VERSION_HEADER in response.headers["access-control-expose-headers"]
    other = await client.post(
        "/graphql", json={"query": QUERY}, headers={"origin": "https://elsewhere.example"}
    )
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers
    preflight = await client.options(
        "/graphql", headers={"origin": ORIGIN, "access-control-request-method": "POST"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    counted = _requests_total((await client.get("/metrics")).text)
    assert counted[("modelInfo", "ok")] == 2


async def test_bodies_over_the_limit_are_refused_declared_or_streamed(
    client: httpx.AsyncClient,
) -> None:
    large = b'{"query": "' + b" " * 400 + b'{ modelInfo { version } }"}'
    declared = await client.post(
        "/graphql", content=large, headers={"content-type": "application/json"}
    )

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: counted as it arrives
        yield large[:200]
        yield large[200:]

    streamed = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"
    counted = _requests_total((await client.get("/metrics")).text)
    assert counted[("unknown", "error")] == 2


async def test_an_unexpected_failure_is_a_plain_500_without_a_traceback(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    graphql: Any = next(r for r in app.routes if getattr(r, "path", "") == "/graphql")

    async def broken(*_: Any) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(graphql.app.documents, "handle", broken)  # the compiled path fails
    response = await client.post("/graphql", json={"query": QUERY})
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert "secret" not in response.text
    counted = _requests_total((await client.get("/metrics")).text)
    assert counted[("unknown", "error")] == 1


async def test_a_body_sent_in_several_messages_is_read_whole_by_either_path(
    artifacts_root: Path,
) -> None:
    """A body in one message or several is read whole by the compiled path, and the general
    path (a batch, which this server refuses) reads again the body the compiled path read."""
    settings = Settings(artifacts_dir=artifacts_root, database_url="")
    app = create_app(settings, config=ServingConfig(reload_poll_seconds=0), playground=False)
    single = b'{"query": "{ modelInfo { version } }"}'
    batch = b"[" + single + b", " + single + b"]"
    async for client in _client(app):
        for body in (single, batch):

            async def chunks(body: bytes = body) -> AsyncIterator[bytes]:
                yield body[:10]
                yield body[10:]

            for content in (body, chunks()):
                response = await client.post(
                    "/graphql", content=content, headers={"content-type": "application/json"}
                )
                if body is batch:
                    assert response.status_code == 400
                    assert response.json()["errors"][0]["message"] == "Batching is not enabled"
                else:
                    assert response.status_code == 200
                    assert "version" in response.json()["data"]["modelInfo"]


async def test_the_compiled_paths_body_reading_is_starlettes() -> None:
    """`read_body` reads what ``Request.body`` reads, a disconnect included; `replaying` gives
    the general path the same body again."""
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"a"', "more_body": True},
        {"type": "http.request.other"},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b": 1}"},
    ]

    def receiving(sent: list[Message]) -> Any:
        queue = list(sent)

        async def receive() -> Message:
            return queue.pop(0) if queue else {"type": "http.disconnect"}

        return receive

    scope = {"type": "http", "method": "POST", "headers": []}
    expected = await Request(scope, receiving(messages)).body()
    assert await read_body(receiving(messages)) == expected == b'{"a": 1}'
    assert await read_body(receiving(messages[-1:])) == b": 1}"
    with pytest.raises(ClientDisconnect):
        await read_body(receiving(messages[:1]))
    with pytest.raises(ClientDisconnect):
        await Request(scope, receiving(messages[:1])).body()
    again = Request(scope, replaying(expected, receiving([])))
    assert await again.body() == expected
    assert await again.is_disconnected()
