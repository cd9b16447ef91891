"""Prometheus metrics at ``/metrics``, in a registry per app (tests and several apps in one
process never share counters).

Exposed:

- ``recograph_graphql_requests_total{operation,type,status}`` and
  ``recograph_graphql_request_duration_seconds{operation,type}``: every HTTP request to
  ``/graphql``, by root field (`recograph.schema.operation`), operation type and status
  (``ok``, ``error`` for a response with GraphQL errors or an HTTP error status);
- ``recograph_recommendations_total{strategy,variant}``: responses by the strategy actually
  used and the A/B variant (``none`` outside the experiment);
- ``recograph_snapshot_info{version}``, ``recograph_snapshot_loaded_timestamp_seconds``,
  ``recograph_snapshot_build_timestamp_seconds``, ``recograph_snapshot_age_seconds`` (since
  the build) and ``recograph_ready``;
- ``recograph_event_queue_depth`` / ``recograph_event_queue_capacity``,
  ``recograph_event_rows_written_total{table}``,
  ``recograph_event_rows_dropped_total{reason}`` (``overflow``: buffer full, ``failed``:
  refused by the database, ``lost``: unwritten at shutdown),
  ``recograph_event_write_retries_total``;
- ``recograph_reloads_total{outcome}`` (``success``, ``failure``).

The live values (snapshot, writer, reloads) are read from the serving objects at scrape time.
The request metrics are plain per-app tallies (`Tallies`: a dict increment and a bucket
index, no label-child lookups and no locks: requests and scrapes share the event loop's
thread), turned into Prometheus families only when scraped.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recograph.online.events import EventWriter
from recograph.online.state import ServingState
from recograph.schema.operation import STATE_KEY, OperationLabel

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# the ``le`` labels as prometheus_client writes them ("0.001" ... "5.0", "+Inf")
BUCKET_LABELS = (*(repr(bound) for bound in LATENCY_BUCKETS), "+Inf")
GRAPHQL_PATH = "/graphql"
NO_VARIANT = "none"


class Tallies(Collector):
    """The request metrics of one app as plain counts, exposed as Prometheus families when
    scraped: ``recograph_graphql_requests_total``, the latency histogram
    ``recograph_graphql_request_duration_seconds`` and ``recograph_recommendations_total``."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        # per (operation, type): requests in each bucket (the last one: above every bound)
        self.latency_buckets: dict[tuple[str, str], list[int]] = {}
        self.latency_sums: dict[tuple[str, str], float] = {}
        self.recommendations: dict[tuple[str, str], int] = {}

    def observe_request(self, operation: str, kind: str, status: str, seconds: float) -> None:
        key = (operation, kind, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        timed = (operation, kind)
        buckets = self.latency_buckets.get(timed)
        if buckets is None:
            buckets = self.latency_buckets[timed] = [0] * (len(LATENCY_BUCKETS) + 1)
        buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sums[timed] = self.latency_sums.get(timed, 0.0) + seconds

    def count_recommendation(self, strategy: str, variant: str) -> None:
        key = (strategy, variant)
        self.recommendations[key] = self.recommendations.get(key, 0) + 1

    def collect(self) -> Iterator[Metric]:
        yield _counter(
            "recograph_graphql_requests",
            "GraphQL HTTP requests by root field, operation type and status.",
            ["operation", "type", "status"],
            self.requests,
        )
        latency = HistogramMetricFamily(
            "recograph_graphql_request_duration_seconds",
            "Time to answer a GraphQL HTTP request, by root field and operation type.",
            labels=["operation", "type"],
        )
        for timed, counts in sorted(self.latency_buckets.items()):
            cumulative = [sum(counts[: i + 1]) for i in range(len(counts))]
            latency.add_metric(
                list(timed),
                list(zip(BUCKET_LABELS, cumulative, strict=True)),
                self.latency_sums[timed],
            )
        yield latency
        yield _counter(
            "recograph_recommendations",
            "Recommendation responses by the strategy actually used and the A/B variant.",
            ["strategy", "variant"],
            self.recommendations,
        )


def _counter(
    name: str, documentation: str, labels: list[str], counts: dict[Any, int]
) -> CounterMetricFamily:
    """A counter family with one sample per label tuple of ``counts``."""
    family = CounterMetricFamily(name, documentation, labels=labels)
    for values, count in sorted(counts.items()):
        family.add_metric(list(values), count)
    return family


class Monitoring:
    """The metrics of one app."""

    def __init__(
        self,
        state: ServingState,
        events: EventWriter,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.tallies = Tallies()
        self.registry.register(self.tallies)
        self.registry.register(LiveCollector(state, events, clock))

    def observe_request(self, label: OperationLabel | None, status: int, seconds: float) -> None:
        if label is None:
            failed, operation, kind = status >= 400, "unknown", "unknown"
        else:
            failed, operation, kind = status >= 400 or label.failed, label.operation, label.type
        self.tallies.observe_request(operation, kind, "error" if failed else "ok", seconds)

    def count_recommendation(self, strategy: str, variant: str | None) -> None:
        self.tallies.count_recommendation(strategy, variant or NO_VARIANT)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    async def endpoint(self, _: Request) -> Response:
        """The ``/metrics`` route."""
        return Response(self.exposition(), media_type=CONTENT_TYPE_LATEST)


class LiveCollector(Collector):
    """Snapshot, log writer and reload figures, read when Prometheus scrapes."""

    def __init__(
        self, state: ServingState, events: EventWriter, clock: Callable[[], float]
    ) -> None:
        self.state = state
        self.events = events
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        yield from self._snapshot()
        yield from self._writer()
        reloads = CounterMetricFamily(
            "recograph_reloads", "Snapshot loads by outcome.", labels=["outcome"]
        )
        reloads.add_metric(["success"], self.state.reloads)
        reloads.add_metric(["failure"], self.state.reload_failures)
        yield reloads

    def _snapshot(self) -> Iterator[Metric]:
        loaded = self.state.current
        yield GaugeMetricFamily(
            "recograph_ready", "1 once a snapshot is being served.", value=loaded is not None
        )
        if loaded is None:
            return
        info = GaugeMetricFamily("recograph_snapshot_info", "The served build.", labels=["version"])
        info.add_metric([loaded.version], 1)
        yield info
        yield GaugeMetricFamily(
            "recograph_snapshot_loaded_timestamp_seconds",
            "When the served snapshot was loaded (Unix time).",
            value=loaded.loaded_at,
        )
        built = build_timestamp(loaded.snapshot.manifest.get("created_at"))
        if built is not None:
            yield GaugeMetricFamily(
                "recograph_snapshot_build_timestamp_seconds",
                "When the served build was made (Unix time).",
                value=built,
            )
        yield GaugeMetricFamily(
            "recograph_snapshot_age_seconds",
            "Seconds since the served build was made (since it was loaded if unknown).",
            value=max(0.0, self.clock() - (built if built is not None else loaded.loaded_at)),
        )

    def _writer(self) -> Iterator[Metric]:
        events = self.events
        stats = events.stats
        yield GaugeMetricFamily(
            "recograph_event_queue_depth",
            "Impression and event rows waiting to be written.",
            value=events.buffered,
        )
        yield GaugeMetricFamily(
            "recograph_event_queue_capacity",
            "Rows the writer buffers before refusing new ones.",
            value=events.queue_size,
        )
        written = CounterMetricFamily(
            "recograph_event_rows_written", "Log rows written, by table.", labels=["table"]
        )
        for table, count in sorted(stats.written.items()):
            written.add_metric([table], count)
        yield written
        dropped = CounterMetricFamily(
            "recograph_event_rows_dropped",
            "Log rows not written: buffer full, refused by the database, lost at shutdown.",
            labels=["reason"],
        )
        dropped.add_metric(["overflow"], stats.overflow)
        dropped.add_metric(["failed"], stats.failed)
        dropped.add_metric(["lost"], stats.lost)
        yield dropped
        yield CounterMetricFamily(
            "recograph_event_write_retries",
            "Writes retried because the database was unavailable.",
            value=stats.retries,
        )


def build_timestamp(created_at: object) -> float | None:
    """The manifest's ``created_at`` (ISO 8601, naive means UTC) as Unix time."""
    if not isinstance(created_at, str):
        return None
    try:
        parsed = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class MetricsMiddleware:
    """Times and counts requests to ``/graphql`` with the label `LabelOperation` left
    (``every_path``: every request, for a store's own GraphQL app)."""

    def __init__(self, app: ASGIApp, monitoring: Monitoring, *, every_path: bool = False) -> None:
        self.app = app
        self.monitoring = monitoring
        self.every_path = every_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (not self.every_path and scope.get("path") != GRAPHQL_PATH):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            label = scope.get("state", {}).get(STATE_KEY)
            self.monitoring.observe_request(
                label if isinstance(label, OperationLabel) else None,
                status,
                time.perf_counter() - started,
            )
