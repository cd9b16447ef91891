"""GraphiQL is served from the package (no other origin, assets pinned as VENDORED.md says) and
every DateTime the API returns names its UTC offset."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from recograph.dataset import StoreData
from recograph.serving.graphiql import GRAPHIQL_DIR
from recograph.settings import Settings
from tests.serving_helpers import app_client, graphql

VENDORED_ROW = re.compile(r"^\| `(static/[^`]+)` \|.*\| `([A-Za-z0-9+/=]+)` \|$", re.M)


@pytest.fixture
async def client(artifacts_root: Path, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        artifacts_dir=artifacts_root,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'log.db'}",
        graphiql=True,
    )
    async with app_client(settings) as c:
        yield c


async def test_graphiql_page_loads_only_this_servers_files(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(sources) == [
        "/graphiql/graphiql.min.css",
        "/graphiql/graphiql.min.js",
        "/graphiql/plugin-explorer.css",
        "/graphiql/plugin-explorer.umd.js",
        "/graphiql/react-dom.production.min.js",
        "/graphiql/react.production.min.js",
        "data:,",
    ]
    pinned = dict(VENDORED_ROW.findall((GRAPHIQL_DIR / "VENDORED.md").read_text()))
    assert len(pinned) == 6
    for name, sha384 in pinned.items():
        served = await client.get(f"/graphiql/{name.removeprefix('static/')}")
        assert served.status_code == 200, name
        digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
        assert digest == sha384, name


async def test_datetimes_carry_their_offset(
    client: httpx.AsyncClient, demo_store: StoreData
) -> None:
    body = await graphql(
        client,
        "{ modelInfo { loadedAt } products(first: 1) { edges { node { id createdAt } } } }",
    )
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", body["data"]["modelInfo"]["loadedAt"]
    )
    node = body["data"]["products"]["edges"][0]["node"]
    products = demo_store.products.set_index("product_id")
    stored = products.loc[int(node["id"]), "created_at"]  # naive UTC in the store
    assert node["createdAt"] == f"{stored.isoformat()}+00:00"
