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
  processes are read back from the events table (default ``0.5``; ``0`` turns it off);
- ``RECOGRAPH_VERIFIED_BUILD``: set by ``recograph serve --workers N`` for the workers it
  forks, not by hand: the identity of the mapped build the parent has just checked
  (`recograph.artifacts.verified_build`), so each worker does not hash it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from recograph.engine import BusinessRules
from recograph.recommenders.candidates import Ranking
from recograph.settings import Environment, SettingsError


def _slots(env: Environment, key: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.values.get(key)
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


VERIFIED_BUILD_VARIABLE = "RECOGRAPH_VERIFIED_BUILD"


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
    # The mapped build's identity as checked by the parent process (`artifacts.verified_build`).
    verified_build: str | None = None

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
        return cls.from_environment(Environment.of(environ))

    @classmethod
    def from_environment(cls, env: Environment) -> ServingConfig:
        """This section of the one configuration (`online.configuration.Configuration`)."""
        cap = env.integer("RECOGRAPH_CATEGORY_CAP", 3, minimum=0)
        return cls(
            promoted_slots=_slots(env, "RECOGRAPH_PROMOTED_SLOTS", (3,)),
            margin_weight=env.number("RECOGRAPH_MARGIN_WEIGHT", 0.0),
            category_cap=cap or None,
            event_queue_size=env.integer("RECOGRAPH_EVENT_QUEUE_SIZE", 10_000, minimum=1),
            event_batch_size=env.integer("RECOGRAPH_EVENT_BATCH_SIZE", 200, minimum=1),
            event_flush_seconds=env.number("RECOGRAPH_EVENT_FLUSH_SECONDS", 0.5),
            event_shutdown_seconds=env.number("RECOGRAPH_EVENT_SHUTDOWN_SECONDS", 10.0),
            reload_poll_seconds=env.number("RECOGRAPH_RELOAD_POLL_SECONDS", 5.0),
            compiled_documents=env.flag("RECOGRAPH_COMPILED_DOCUMENTS", True),
            live_poll_seconds=env.number("RECOGRAPH_LIVE_POLL_SECONDS", 0.5),
            ranking=_ranking(env, "RECOGRAPH_RANKING"),
            verified_build=env.raw(VERIFIED_BUILD_VARIABLE) or None,
        )


def _ranking(env: Environment, key: str) -> str | None:
    """``two-stage`` or ``full`` (how `engine.recommend` ranks), unset: the build's choice."""
    raw = (env.raw(key) or "").strip().lower()
    if not raw:
        return None
    choices = [r.value for r in Ranking]
    if raw not in choices:
        raise SettingsError(f"{key} must be one of {', '.join(choices)}, got {raw!r}")
    return raw
