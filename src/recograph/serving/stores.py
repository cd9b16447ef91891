"""Every store under one artifact root, served by one process (``/stores/{store}/graphql``).

The default store is the app's own (``/graphql``, loaded at startup, never unloaded). A named
store is loaded on its first request from ``<root>/<store>/current`` into a `ServingState` of
its own, with `Services` of its own (its admin token and CORS origins from
``RECOGRAPH_STORES_FILE``, its name on every logged row, its own Prometheus registry), so a
request of one store can only ever reach that store's snapshot. A store whose build is refused
answers 503 while every other store keeps serving; it is tried again when its ``current``
names another build. Loaded named stores are kept under ``RECOGRAPH_STORE_MEMORY_MB``: the
least recently used is unloaded first (its next request loads it again).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import scipy.sparse as sp
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from recograph import artifacts
from recograph.online.live import LivePurchaseFeed
from recograph.online.security import admin_token_problem
from recograph.online.state import ReloadRefused, ServingState
from recograph.online.variants import Experiment, parse_experiment
from recograph.resolvers.context import Services
from recograph.settings import Settings, SettingsError
from recograph.stores import DEFAULT_STORE, InvalidStoreName, check_store_name, store_dir

logger = logging.getLogger(__name__)

STORES_FILE_VARIABLE = "RECOGRAPH_STORES_FILE"


@dataclass(frozen=True)
class StoreAccess:
    """Who may do what on one store: its admin token (none: no admin operations) and the
    browser origins allowed to call it."""

    admin_token: str = ""
    cors_origins: tuple[str, ...] = ()
    experiment: Experiment | None = None  # None: the deployment's RECOGRAPH_VARIANTS


def read_store_access(path: Path | None, *, production: bool) -> dict[str, StoreAccess]:
    """``RECOGRAPH_STORES_FILE``: ``{"<store>": {"admin_token": "...", "cors_origins":
    ["https://..."], "variants": {...}}}``. ``variants`` is the store's own A/B experiment, in
    the form of ``RECOGRAPH_VARIANTS`` (`recograph.online.variants`). The default store keeps
    ``RECOGRAPH_ADMIN_TOKEN``, ``RECOGRAPH_CORS_ORIGINS`` and ``RECOGRAPH_VARIANTS``; a store
    the file does not name has no admin token, no CORS and the deployment's variants. Raises
    `SettingsError` naming the variable for anything it cannot use."""
    if path is None:
        return {}
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{STORES_FILE_VARIABLE}: cannot read {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{STORES_FILE_VARIABLE}: {path} must hold a JSON object of stores")
    access: dict[str, StoreAccess] = {}
    for name, entry in raw.items():
        try:
            check_store_name(name)
        except InvalidStoreName as exc:
            raise SettingsError(f"{STORES_FILE_VARIABLE}: {exc}") from None
        if name == DEFAULT_STORE:
            raise SettingsError(
                f"{STORES_FILE_VARIABLE}: the default store is configured by "
                "RECOGRAPH_ADMIN_TOKEN and RECOGRAPH_CORS_ORIGINS"
            )
        if not isinstance(entry, dict) or set(entry) - {"admin_token", "cors_origins", "variants"}:
            raise SettingsError(
                f"{STORES_FILE_VARIABLE}: store {name!r} must be an object with "
                "'admin_token', 'cors_origins' and/or 'variants'"
            )
        token = entry.get("admin_token", "")
        origins = entry.get("cors_origins", [])
        if not isinstance(token, str) or not (
            isinstance(origins, list) and all(isinstance(o, str) for o in origins)
        ):
            raise SettingsError(
                f"{STORES_FILE_VARIABLE}: store {name!r}: admin_token must be a string and "
                "cors_origins a list of strings"
            )
        if production and token and (problem := admin_token_problem(token)) is not None:
            raise SettingsError(f"{STORES_FILE_VARIABLE}: store {name!r}: admin_token {problem}")
        if production and "*" in origins:
            raise SettingsError(
                f"{STORES_FILE_VARIABLE}: store {name!r}: cors_origins must list the allowed "
                "origins in production, not '*'"
            )
        experiment = None
        if "variants" in entry:
            source = f"{STORES_FILE_VARIABLE}: store {name!r}: variants"
            experiment = parse_experiment(entry["variants"], source)
        access[name] = StoreAccess(token, tuple(origins), experiment)
    return access


def store_settings(settings: Settings, store: str, access: StoreAccess) -> Settings:
    """The settings one named store's requests run with: its own token, origins and root."""
    return dataclasses.replace(
        settings,
        admin_token=access.admin_token,
        cors_origins=access.cors_origins,
        artifacts_dir=store_dir(Path(settings.artifacts_dir), store),
    )


def memory_bytes(value: Any, _seen: set[int] | None = None) -> int:
    """Bytes held by the arrays of a snapshot (numpy arrays, sparse matrices), walked through
    dataclasses, mappings and sequences; each array counted once. Python objects around them
    (names, manifest) are not counted: for a build they are small next to its arrays."""
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        base = value.base if isinstance(value.base, np.ndarray) else None
        if base is not None and id(base) in seen:
            return 0
        return int(value.nbytes)
    if sp.issparse(value):
        return sum(
            memory_bytes(getattr(value, name), seen)
            for name in ("data", "indices", "indptr", "row", "col")
            if hasattr(value, name)
        )
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(memory_bytes(getattr(value, f.name), seen) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return sum(memory_bytes(v, seen) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(memory_bytes(v, seen) for v in value)
    return 0


class UnknownStore(LookupError):
    """No store of that name has a published build under the root."""


class StoreUnavailable(RuntimeError):
    """The store's build was refused; the message says why (other stores are unaffected)."""


@dataclass
class StoreEndpoint:
    """One loaded store: its services and the ASGI apps its routes answer with."""

    name: str
    services: Services
    graphql: ASGIApp
    metrics: ASGIApp
    nbytes: int = 0
    loaded_seconds: float = 0.0
    last_used: float = field(default_factory=time.time)


EndpointFactory = Callable[[str], StoreEndpoint]


class StoreRegistry:
    """The stores of one root: the default one always, named ones loaded on first use and
    unloaded least recently used first beyond ``budget_bytes``."""

    def __init__(
        self,
        root: Path,
        default: StoreEndpoint,
        factory: EndpointFactory,
        budget_bytes: int,
        *,
        live_database_url: str | None = None,
    ) -> None:
        self.root = root
        self.live_database_url = live_database_url  # where a loaded store's purchases are read
        self.default = default
        self._factory = factory
        self.budget_bytes = budget_bytes
        self._loaded: OrderedDict[str, StoreEndpoint] = OrderedDict()
        self._refused: dict[str, tuple[str | None, str]] = {}  # store -> (version, message)
        self._locks: dict[str, asyncio.Lock] = {}
        self.loads = 0
        self.evictions = 0
        self.refusals = 0

    @property
    def loaded(self) -> dict[str, StoreEndpoint]:
        return dict(self._loaded)

    def state_of(self, name: str) -> ServingState | None:
        """A loaded named store's state (None when it is not loaded), for the live feed."""
        endpoint = self._loaded.get(name)
        return None if endpoint is None else endpoint.services.state

    def loaded_bytes(self) -> int:
        return sum(endpoint.nbytes for endpoint in self._loaded.values())

    async def get(self, name: str) -> StoreEndpoint:
        """The store's endpoint, loading its build on first use.

        Raises `UnknownStore` (no such store) or `StoreUnavailable` (its build is refused)."""
        if name == DEFAULT_STORE:
            return self.default
        endpoint = self._loaded.get(name)
        if endpoint is not None:
            self._loaded.move_to_end(name)
            endpoint.last_used = time.time()
            return endpoint
        try:
            directory = store_dir(self.root, name)
        except InvalidStoreName as exc:
            raise UnknownStore(str(exc)) from None
        version = artifacts.current_version(directory)
        if version is None:
            raise UnknownStore(f"no store {name!r} (no published build in {directory})")
        refused = self._refused.get(name)
        if refused is not None and refused[0] == version:
            raise StoreUnavailable(refused[1])
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            endpoint = self._loaded.get(name)
            if endpoint is not None:
                return endpoint
            return await self._load(name, version)

    async def _load(self, name: str, version: str) -> StoreEndpoint:
        endpoint = self._factory(name)
        started = time.perf_counter()
        try:
            await endpoint.services.state.reload(reason="first request")
        except ReloadRefused as exc:
            message = f"store {name!r} is unavailable: {exc}"
            self._refused[name] = (version, message)
            self.refusals += 1
            raise StoreUnavailable(message) from None
        self._refused.pop(name, None)
        if self.live_database_url:
            feed = LivePurchaseFeed(endpoint.services.state, self.live_database_url, name)
            try:
                await feed.catch_up()
            except Exception as exc:  # the store serves without them; logged like the feed
                logger.warning("reading live purchases of store %s failed: %s", name, exc)
        endpoint.loaded_seconds = time.perf_counter() - started
        self._measure(endpoint)
        self._loaded[name] = endpoint
        self.loads += 1
        self._evict()
        return endpoint

    def _measure(self, endpoint: StoreEndpoint) -> None:
        loaded = endpoint.services.state.current
        endpoint.nbytes = 0 if loaded is None else memory_bytes(loaded.snapshot)

    def _evict(self) -> None:
        """Unload the least recently used stores until the rest fit the budget (the store
        just loaded always stays)."""
        while len(self._loaded) > 1 and self.loaded_bytes() > self.budget_bytes:
            name, _ = self._loaded.popitem(last=False)
            self.evictions += 1
            logger.info("store %s unloaded (memory budget %d bytes)", name, self.budget_bytes)

    async def poll_once(self) -> None:
        """Reload each loaded named store whose ``current`` names a newer build."""
        for endpoint in list(self._loaded.values()):
            try:
                outcome = await endpoint.services.state.poll_once()
            except Exception:
                logger.exception("polling store %s for a new build failed", endpoint.name)
                continue
            if outcome is not None:
                self._measure(endpoint)
        self._evict()

    def describe(self) -> list[dict[str, Any]]:
        """Every store under the root, loaded or not, for ``/stores``."""
        from recograph.stores import list_stores

        rows = []
        for name in list_stores(self.root) or [DEFAULT_STORE]:
            endpoint = self.default if name == DEFAULT_STORE else self._loaded.get(name)
            loaded = None if endpoint is None else endpoint.services.state.current
            refused = self._refused.get(name)
            rows.append(
                {
                    "store": name,
                    "loaded": loaded is not None,
                    "version": None if loaded is None else loaded.version,
                    "memoryBytes": None if endpoint is None else self._bytes(endpoint),
                    "error": None if refused is None else refused[1],
                }
            )
        return rows

    def _bytes(self, endpoint: StoreEndpoint) -> int:
        if endpoint is self.default and endpoint.nbytes == 0:
            loaded = endpoint.services.state.current
            return 0 if loaded is None else memory_bytes(loaded.snapshot)
        return endpoint.nbytes


def _error(status: int, message: str, code: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status, media_type="application/json")


class StoreRoute:
    """The ASGI app behind ``/stores/{store}/graphql`` and ``/stores/{store}/metrics``: finds
    the store (loading it if needed) and hands the request to that store's app."""

    def __init__(self, registry: StoreRegistry, part: str) -> None:
        self.registry = registry
        self.part = part

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = str(scope.get("path_params", {}).get("store", ""))
        try:
            endpoint = await self.registry.get(name)
        except UnknownStore as exc:
            await _error(404, str(exc), "STORE_NOT_FOUND")(scope, receive, send)
            return
        except StoreUnavailable as exc:
            await _error(503, str(exc), "STORE_UNAVAILABLE")(scope, receive, send)
            return
        app = endpoint.graphql if self.part == "graphql" else endpoint.metrics
        await app(scope, receive, send)


async def stores_listing(request: Request) -> Response:
    """``/stores``: every store under the root, whether it is loaded, its version and memory."""
    registry: StoreRegistry = request.app.state.stores
    body = {
        "stores": registry.describe(),
        "loadedBytes": registry.loaded_bytes(),
        "budgetBytes": registry.budget_bytes,
    }
    return Response(orjson.dumps(body), media_type="application/json")


class StoreCollector(Collector):
    """Per-store figures on the main ``/metrics``: memory of each loaded store, loads,
    unloads and refusals."""

    def __init__(self, registry: StoreRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        memory = GaugeMetricFamily(
            "recograph_store_memory_bytes",
            "Bytes of model arrays held by each loaded named store.",
            labels=["store"],
        )
        for name, endpoint in sorted(self.registry.loaded.items()):
            memory.add_metric([name], endpoint.nbytes)
        yield memory
        yield GaugeMetricFamily(
            "recograph_stores_loaded", "Named stores in memory.", value=len(self.registry.loaded)
        )
        yield CounterMetricFamily(
            "recograph_store_loads", "Named stores loaded on first use.", value=self.registry.loads
        )
        yield CounterMetricFamily(
            "recograph_store_evictions",
            "Named stores unloaded to stay under the memory budget.",
            value=self.registry.evictions,
        )
        yield CounterMetricFamily(
            "recograph_store_refusals",
            "Named stores whose build was refused on first use.",
            value=self.registry.refusals,
        )
