"""Helpers shared by the security, fuzz and fault tests: an app in process, private artifact
roots, published variants of a build."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from recograph import artifacts
from recograph.online.config import ServingConfig
from recograph.serving.app import create_app
from recograph.settings import Settings


def metric_values(text: str, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """The samples called ``name`` in a Prometheus exposition, by the values of ``labels``."""
    return {
        tuple(sample.labels[label] for label in labels): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


STRONG_TOKEN = "a-long-random-admin-token-0123456789"


@contextlib.asynccontextmanager
async def client_of(
    app: Starlette, headers: Mapping[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client driving ``app`` in process, its lifespan (startup, shutdown) included:
    the one app -> lifespan -> ASGITransport -> client chain of the suite."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as client:
            yield client


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings, config: ServingConfig | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client driving ``create_app(settings)`` in process, lifespan included."""
    app = create_app(settings, config=config or ServingConfig(reload_poll_seconds=0))
    async with client_of(app) as client:
        yield client


def private_root(artifacts_root: Path, destination: Path) -> Path:
    """An artifact root of one's own holding the current build of the shared one."""
    version = artifacts.current_version(artifacts_root)
    assert version is not None
    destination.mkdir(parents=True)
    shutil.copytree(artifacts_root / version, destination / version)
    artifacts.set_current(destination, version)
    return destination


def publish_variant(
    root: Path,
    version: str,
    change: Callable[[dict[str, npt.NDArray[Any]]], None] | None = None,
    *,
    point_current: bool = True,
) -> Path:
    """Publish the current build of ``root`` again as ``version``, its arrays first passed
    through ``change`` (checksums recomputed, so the build is valid); ``current`` is left
    where it was unless ``point_current``."""
    previous = artifacts.current_version(root)
    assert previous is not None
    loaded = artifacts.load(root)
    arrays = {name: np.array(array) for name, array in loaded.arrays.items()}
    if change is not None:
        change(arrays)
    manifest = {k: v for k, v in loaded.manifest.items() if k not in {"arrays", "version"}}
    path = artifacts.publish(arrays, manifest, root, version=version, keep=100)
    if not point_current:
        artifacts.set_current(root, previous)
    return path


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> dict[str, Any]:
    """POST one operation; asserts a 200 JSON answer and returns its body."""
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
