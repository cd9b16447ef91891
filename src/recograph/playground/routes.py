"""Routes of the playground: the index page at ``/`` and its static files under ``/static``.

The pages are plain HTML, CSS and JavaScript modules shipped in the package (no build step, no
network). They reach the server only through ``graphql`` (relative to the page), with the same
queries a storefront would send, so every view is also a worked example of the API. A strict
Content-Security-Policy keeps them honest: nothing can be loaded from another origin.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

# Revalidate on every load (the ETag makes that a 304), so an upgraded package is seen at once.
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}


class PlaygroundFiles(StaticFiles):
    """Static files with the playground's caching and sniffing headers."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(_HEADERS)
        return response


async def index(_: Request) -> Response:
    """The single page; the view and its state live in the query string."""
    return FileResponse(
        STATIC_DIR / "index.html",
        headers={**_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )


def playground_routes() -> list[BaseRoute]:
    """``/`` (the page) and ``/static`` (its files), for `recograph.serving.app.create_app`."""
    return [
        Route("/", index, methods=["GET", "HEAD"], name="playground"),
        Mount("/static", app=PlaygroundFiles(directory=STATIC_DIR), name="playground-static"),
    ]
