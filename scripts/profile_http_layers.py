#!/usr/bin/env python
"""CPU per request of the HTTP layers around the GraphQL app, in process.

``python scripts/profile_http_layers.py [--requests N] [--repeat R]``

Builds the served app without a build (no snapshot needed) and replaces the GraphQL app's
document handler with one that reads the body, labels the operation and answers fixed bytes,
so only what wraps GraphQL execution is measured: ``/graphql`` through the app as served
(`ServingApp`: its own middleware stack) and through Starlette's whole stack (exception
middleware and router too), interleaved; process CPU, the best of ``--repeat`` runs. uvicorn,
the network and GraphQL execution are left out (`recograph bench serve` measures the whole).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from recograph.online.config import ServingConfig
from recograph.schema.operation import STATE_KEY, OperationLabel
from recograph.serving.app import create_app
from recograph.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from profile_request import graphql_post_scope

BODY = b'{"query": "{ modelInfo { version } }"}'


async def _fixed_answer(request: Request) -> Response:
    await request.body()
    setattr(request.state, STATE_KEY, OperationLabel("modelInfo", "query", False))
    return Response(b'{"data":{}}', 200, media_type="application/json")


async def _call(asgi: Any) -> None:
    scope = {**graphql_post_scope(BODY), "state": {}}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(_: dict[str, Any]) -> None:
        return None

    await asgi(scope, receive, send)


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="recograph-layers-") as tmp:
        settings = Settings(artifacts_dir=Path(tmp), database_url="")
        config = ServingConfig(reload_poll_seconds=0)
        app = create_app(settings, config=config, playground=False)
        route: Any = next(r for r in app.routes if getattr(r, "path", "") == "/graphql")
        route.app.documents.handle = _fixed_answer

        async def whole_stack(scope: Any, receive: Any, send: Any) -> None:
            await Starlette.__call__(app, scope, receive, send)

        variants = {"as served": app, "Starlette's whole stack": whole_stack}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        async with app.router.lifespan_context(app):
            for _ in range(args.repeat):
                for name, asgi in variants.items():
                    started = time.process_time()
                    for _ in range(args.requests):
                        await _call(asgi)
                    cpu[name].append((time.process_time() - started) / args.requests)
    print(
        "HTTP layers around GraphQL, CPU per request, best of {}: {}".format(
            args.repeat,
            ", ".join(f"{name} {min(values) * 1e6:.1f} µs" for name, values in cpu.items()),
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
