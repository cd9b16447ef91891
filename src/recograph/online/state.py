"""The live model: one immutable snapshot, swapped whole on reload, plus live purchases.

A request takes `ServingState.current` once and keeps that `Loaded` to its end, so it never sees
two builds. A reload (the ``reloadArtifacts`` mutation, SIGHUP, or a newer ``current`` pointer
found by polling) loads and validates the new build in a worker thread while requests go on
with the old one, then replaces the reference in one assignment. A build that fails to load or
to answer a smoke request is refused: the old snapshot keeps serving and the failure is kept
for ``/readyz``.

Purchases recorded since the build (``recordEvent`` PURCHASE) are kept per customer by store
ids, so they survive a reload to a build with other positions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recograph import artifacts
from recograph.core.errors import RecographError
from recograph.engine import Request, recommend
from recograph.snapshot import ModelSnapshot, load_snapshot

logger = logging.getLogger(__name__)

SnapshotLoader = Callable[[Path], ModelSnapshot]

MAX_LIVE_CUSTOMERS = 100_000
MAX_LIVE_ITEMS = 200


@dataclass(frozen=True)
class Loaded:
    """A snapshot in service, with values derived from it lazily by the resolvers.

    ``derived`` only ever holds values that are a pure function of the snapshot (product
    views, category counts), so filling it from any request is safe.
    """

    snapshot: ModelSnapshot
    loaded_at: float = field(default_factory=time.time)
    derived: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def version(self) -> str:
        return self.snapshot.version


@dataclass(frozen=True)
class ReloadFailure:
    """The last refused build, for /readyz and the reload mutation's error."""

    source: str
    message: str
    at: float


@dataclass(frozen=True)
class ReloadOutcome:
    version: str
    previous_version: str | None
    changed: bool
    loaded_at: float


class ReloadRefused(RecographError):
    """A build could not be loaded or validated; the previous snapshot still serves."""


def validate_snapshot(snapshot: ModelSnapshot) -> None:
    """Refuse a snapshot that cannot answer a request (an incompatible build)."""
    if snapshot.n_items == 0:
        raise ReloadRefused(f"build {snapshot.version} has an empty catalogue")
    recommend(snapshot, Request(limit=1))


class ServingState:
    """Holder of the current `Loaded` snapshot and of live purchases (one per process)."""

    def __init__(self, artifacts_dir: Path, loader: SnapshotLoader = load_snapshot) -> None:
        self.artifacts_dir = artifacts_dir
        self._loader = loader
        self._current: Loaded | None = None
        self._lock = asyncio.Lock()
        self._live: OrderedDict[int, tuple[int, ...]] = OrderedDict()
        self.last_failure: ReloadFailure | None = None
        self._refused_version: str | None = None
        self.reloads = 0
        self.reload_failures = 0

    @property
    def current(self) -> Loaded | None:
        return self._current

    def install(self, snapshot: ModelSnapshot) -> Loaded:
        """Serve ``snapshot`` now (tests and the bench build snapshots in process)."""
        loaded = Loaded(snapshot)
        self._current = loaded
        return loaded

    def _load(self, source: Path) -> ModelSnapshot:
        snapshot = self._loader(source)
        validate_snapshot(snapshot)
        return snapshot

    async def reload(self, source: Path | None = None, *, reason: str) -> ReloadOutcome:
        """Load ``source`` (the artifacts root by default, following ``current``) and swap it in.

        Raises `ReloadRefused` with the reason when the build is refused; the old snapshot
        keeps serving. Concurrent reloads run one after the other.
        """
        path = source or self.artifacts_dir
        async with self._lock:
            previous = self._current
            started = time.perf_counter()
            try:
                snapshot = await asyncio.to_thread(self._load, path)
            except Exception as exc:  # any failure refuses the build, whatever raised it
                self._refused_version = _pointed_version(path)
                message = str(exc)
                if not isinstance(exc, artifacts.ArtifactError | ReloadRefused):
                    message = f"build {self._refused_version or path}: unreadable ({exc!r})"
                self.last_failure = ReloadFailure(str(path), message, time.time())
                self.reload_failures += 1
                logger.error("reload (%s) refused, keeping %s: %s", reason, _v(previous), message)
                raise ReloadRefused(message) from None
            loaded = Loaded(snapshot)
            self._current = loaded
            self.last_failure = None
            self._refused_version = None
            self.reloads += 1
            logger.info(
                "reload (%s): serving %s (was %s), loaded in %.2fs",
                reason,
                snapshot.version,
                _v(previous),
                time.perf_counter() - started,
            )
            return ReloadOutcome(
                version=snapshot.version,
                previous_version=None if previous is None else previous.version,
                changed=previous is None or previous.version != snapshot.version,
                loaded_at=loaded.loaded_at,
            )

    async def poll_once(self) -> ReloadOutcome | None:
        """Reload when ``current`` names a build other than the one served (and not the one
        refused last, so a corrupt build is reported once rather than retried forever)."""
        version = artifacts.current_version(self.artifacts_dir)
        if version is None:
            return None
        served = None if self._current is None else self._current.version
        if version in (served, self._refused_version):
            return None
        try:
            return await self.reload(reason=f"current -> {version}")
        except ReloadRefused:
            return None

    # ------------------------------------------------------------------ live purchases

    def record_purchase(self, customer_id: int, product_id: int) -> int:
        """Remember a purchase made since the build; returns the customer's live count."""
        items = tuple(p for p in self._live.pop(customer_id, ()) if p != product_id)
        items = (*items, product_id)[-MAX_LIVE_ITEMS:]
        self._live[customer_id] = items
        while len(self._live) > MAX_LIVE_CUSTOMERS:
            self._live.popitem(last=False)
        return len(items)

    def live_purchases(self, customer_id: int) -> tuple[int, ...]:
        """Store ids of the customer's purchases since the build, oldest first."""
        return self._live.get(customer_id, ())


def _v(loaded: Loaded | None) -> str:
    return "nothing" if loaded is None else loaded.version


def _pointed_version(path: Path) -> str | None:
    if (path / artifacts.MANIFEST_FILE).is_file():
        return path.name
    return artifacts.current_version(path)
