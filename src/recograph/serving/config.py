"""Serving-only settings from ``RECOGRAPH_*`` variables: store policy and logging queue sizes.

Kept apart from `recograph.settings` so the offline commands do not grow serving knobs:

- ``RECOGRAPH_PROMOTED_SLOTS``: comma-separated 1-based ranks reserved for promoted products
  (default ``3``; empty string for none);
- ``RECOGRAPH_MARGIN_WEIGHT``: weight of the normalised margin added to blended scores
  (default ``0``);
- ``RECOGRAPH_CATEGORY_CAP``: at most this many items per category (default ``3``; ``0`` for
  no cap);
- ``RECOGRAPH_EVENT_QUEUE_SIZE`` / ``RECOGRAPH_EVENT_BATCH_SIZE`` /
  ``RECOGRAPH_EVENT_FLUSH_SECONDS``: the impression and event writer's bounded buffer, rows per
  insert and longest wait before a partial batch is written;
- ``RECOGRAPH_EVENT_SHUTDOWN_SECONDS``: how long shutdown keeps retrying to write buffered rows
  while the database is unavailable (default 10);
- ``RECOGRAPH_RELOAD_POLL_SECONDS``: how often the ``current`` pointer is checked for a newer
  build (``0`` turns polling off);
- ``RECOGRAPH_COMPILED_DOCUMENTS``: answer known documents (and automatic persisted queries)
  through the compiled path, `recograph.serving.documents` (default ``true``; ``false`` sends
  every request down strawberry's general path);
- ``RECOGRAPH_LIVE_POLL_SECONDS``: how often purchases recorded by other workers and server
  processes are read back from the events table (default ``0.5``; ``0`` turns it off).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from recograph.engine import BusinessRules
from recograph.recommenders.candidates import Ranking
from recograph.settings import SettingsError


def _float(environ: Mapping[str, str], key: str, default: float, minimum: float = 0.0) -> float:
    raw = environ.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a number, got {raw!r}") from None
    if not value >= minimum:
        raise SettingsError(f"{key} must be at least {minimum}, got {raw!r}")
    return value


def _int(environ: Mapping[str, str], key: str, default: int, minimum: int) -> int:
    raw = environ.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{key} must be at least {minimum}, got {raw!r}")
    return value


def _bool(environ: Mapping[str, str], key: str, default: bool) -> bool:
    raw = environ.get(key)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{key} must be true or false, got {raw!r}")


def _slots(environ: Mapping[str, str], key: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = environ.get(key)
    if raw is None:
        return default
    slots: list[int] = []
    for part in raw.split(","):
        if not part.strip():
            continue
        try:
            slot = int(part)
        except ValueError:
            raise SettingsError(f"{key} must be comma-separated ranks, got {raw!r}") from None
        if slot < 1:
            raise SettingsError(f"{key} ranks start at 1, got {slot}")
        slots.append(slot)
    return tuple(sorted(set(slots)))


@dataclass(frozen=True)
class ServingConfig:
    """Business rules and logging limits of a running server."""

    promoted_slots: tuple[int, ...] = (3,)
    margin_weight: float = 0.0
    category_cap: int | None = 3
    event_queue_size: int = 10_000
    event_batch_size: int = 200
    event_flush_seconds: float = 0.5
    event_shutdown_seconds: float = 10.0
    reload_poll_seconds: float = 5.0
    compiled_documents: bool = True
    live_poll_seconds: float = 0.5
    # Overrides the build's ranking ("two-stage" or "full"); None: the build's own.
    ranking: str | None = None

    @cached_property
    def business_rules(self) -> BusinessRules:
        """Built once: every request reads it, and `BusinessRules` is frozen."""
        return BusinessRules(
            promoted_positions=self.promoted_slots,
            margin_weight=self.margin_weight,
            max_per_category=self.category_cap,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServingConfig:
        """Read the serving variables (``os.environ`` by default); errors name the variable."""
        env = os.environ if environ is None else environ
        cap = _int(env, "RECOGRAPH_CATEGORY_CAP", 3, minimum=0)
        return cls(
            promoted_slots=_slots(env, "RECOGRAPH_PROMOTED_SLOTS", (3,)),
            margin_weight=_float(env, "RECOGRAPH_MARGIN_WEIGHT", 0.0),
            category_cap=cap or None,
            event_queue_size=_int(env, "RECOGRAPH_EVENT_QUEUE_SIZE", 10_000, minimum=1),
            event_batch_size=_int(env, "RECOGRAPH_EVENT_BATCH_SIZE", 200, minimum=1),
            event_flush_seconds=_float(env, "RECOGRAPH_EVENT_FLUSH_SECONDS", 0.5),
            event_shutdown_seconds=_float(env, "RECOGRAPH_EVENT_SHUTDOWN_SECONDS", 10.0),
            reload_poll_seconds=_float(env, "RECOGRAPH_RELOAD_POLL_SECONDS", 5.0),
            compiled_documents=_bool(env, "RECOGRAPH_COMPILED_DOCUMENTS", True),
            live_poll_seconds=_float(env, "RECOGRAPH_LIVE_POLL_SECONDS", 0.5),
            ranking=_ranking(env, "RECOGRAPH_RANKING"),
        )


def _ranking(env: Mapping[str, str], key: str) -> str | None:
    """``two-stage`` or ``full`` (how `engine.recommend` ranks), unset: the build's choice."""
    raw = env.get(key, "").strip().lower()
    if not raw:
        return None
    choices = [r.value for r in Ranking]
    if raw not in choices:
        raise SettingsError(f"{key} must be one of {', '.join(choices)}, got {raw!r}")
    return raw
