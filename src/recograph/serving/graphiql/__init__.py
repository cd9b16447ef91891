"""GraphiQL served from the package: the page at ``/graphql`` (strawberry's, with its scripts
and styles vendored under ``static/`` instead of loaded from unpkg.com) and the assets at
``/graphiql/``. Versions, hashes and licences are in ``VENDORED.md``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

GRAPHIQL_DIR = Path(__file__).resolve().parent
ASSETS_PATH = "/graphiql"


@cache
def graphiql_html() -> str:
    """The GraphiQL page; it loads only ``ASSETS_PATH`` files from this server."""
    return (GRAPHIQL_DIR / "index.html").read_text(encoding="utf-8")


def graphiql_routes() -> list[BaseRoute]:
    """The vendored React, GraphiQL and explorer-plugin files."""
    return [Mount(ASSETS_PATH, app=StaticFiles(directory=GRAPHIQL_DIR / "static"), name="graphiql")]
