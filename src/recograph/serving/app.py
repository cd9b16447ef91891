"""The app factory: Starlette with the GraphQL endpoint, health checks and the live state.

Nothing is built at import time. ``create_app`` wires a `ServingState` (the snapshot), an
`EventWriter` (impressions and events) and the schema; the lifespan loads the current build,
starts the writer, polls the ``current`` pointer, reloads on SIGHUP when asked to, and on
shutdown writes every queued row.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, request_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.schema.base import BaseSchema

from recograph.api import build_schema
from recograph.online.config import ServingConfig
from recograph.online.configuration import Configuration
from recograph.online.events import EventWriter
from recograph.online.live import LivePurchaseFeed, NamedStoresFeed
from recograph.online.security import check_settings
from recograph.online.state import ReloadRefused, ServingState, SnapshotLoader
from recograph.online.variants import Experiment
from recograph.recommenders.candidates import Ranking
from recograph.resolvers.context import RequestContext, Services, make_context
from recograph.resolvers.monitoring import GRAPHQL_PATH, MetricsMiddleware, Monitoring
from recograph.schema import SchemaLimits
from recograph.schema.compiled import KnownDocuments
from recograph.schema.limits import validation_rules
from recograph.serving.documents import DocumentEndpoint, read_body, replaying, wants_body
from recograph.serving.graphiql import graphiql_html, graphiql_routes
from recograph.serving.stores import (
    StoreAccess,
    StoreCollector,
    StoreEndpoint,
    StoreRegistry,
    StoreRoute,
    read_store_access,
    store_settings,
    stores_listing,
)
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot, load_mapped_snapshot
from recograph.stores import DEFAULT_STORE, list_stores

logger = logging.getLogger(__name__)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


VERSION_HEADER = "x-recograph-model-version"
# HTTP statuses strawberry refuses a request with, as the ``extensions.code`` of the error.
_HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}


def http_error(status: int, message: str) -> Response:
    """A refused HTTP request, shaped like a GraphQL error so clients parse one format."""
    code = _HTTP_CODES.get(status, "BAD_REQUEST")
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status)


class GraphQLApp(GraphQL[RequestContext, None]):
    """Strawberry's ASGI app with the recograph context and orjson encoding; every response
    names the model version it was computed with (``x-recograph-model-version``). Known
    documents are answered by ``documents`` (compiled, `recograph.serving.documents`) when
    given; everything else by strawberry's general path."""

    def __init__(
        self,
        schema: BaseSchema,
        services: Services,
        *,
        graphiql: bool,
        documents: DocumentEndpoint | None = None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self.services = services
        self.documents = documents

    @property
    def graphql_ide_html(self) -> str:
        """GraphiQL with its scripts served by this server (`recograph.serving.graphiql`)."""
        return graphiql_html()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = None
            if self.documents is not None:
                body = await read_body(receive) if wants_body(scope) else None
                response = await self.documents.handle(request, body)
                if response is None and body is not None:
                    request = Request(scope=scope, receive=replaying(body, receive))
            if response is None:
                response = await self.run(request)
        except HTTPException as exc:
            response = http_error(exc.status_code, exc.reason)
        await response(scope, receive, send)

    async def get_context(self, request: Any, response: Any) -> RequestContext:
        context = make_context(self.services, request if isinstance(request, Request) else None)
        if context.loaded is not None and isinstance(response, Response):
            response.headers[VERSION_HEADER] = context.loaded.version
        return context

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """orjson rather than ``json``: invalid UTF-8, NaN and nesting deeper than 1,024 levels
        raise its ``JSONDecodeError`` (a 400), where ``json.loads`` raised UnicodeDecodeError or
        RecursionError, which strawberry let through as a 500; a body that is neither an object
        nor a (batch) array is refused here, strawberry fails on it with AttributeError (both
        found by tests/integration/test_fuzz_api.py)."""
        decoded = orjson.loads(data)
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "the request body must be a JSON object")
        return decoded


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 (declared or streamed: a body without
    a Content-Length is counted as it arrives)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit():
                if int(value) > self.max_bytes:
                    await _too_large(self.max_bytes)(scope, receive, send)
                    return
                # the server reads no more than a declared length: nothing to count
                await self.app(scope, receive, send)
                return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if not started:
                await _too_large(self.max_bytes)(scope, receive, send)


def _too_large(max_bytes: int) -> Response:
    return http_error(413, f"request body larger than {max_bytes} bytes")


STORES_PREFIX = "/stores/"


class DefaultStoreCORS(CORSMiddleware):
    """The default store's CORS allow-list, applied everywhere but ``/stores/...``, where
    each store answers with its own (an origin allowed on one store is not on another)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(STORES_PREFIX):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def store_cors(app: ASGIApp, origins: Sequence[str]) -> ASGIApp:
    """``app`` behind a CORS allow-list (none: no CORS headers at all)."""
    if not origins:
        return app
    return CORSMiddleware(app, **cors_options(origins))


def cors_options(origins: Sequence[str]) -> dict[str, Any]:
    """Every store's CORS settings but its origins."""
    return {
        "allow_origins": list(origins),
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["authorization", "content-type"],
        "expose_headers": [VERSION_HEADER],
    }


class ServingApp(Starlette):
    """Starlette, with requests to ``/graphql`` sent straight to ``graphql``: the same
    middleware the general stack applies to them, in the same order (500s masked by
    ServerErrorMiddleware, metrics, the body limit, the default store's CORS), without
    Starlette's exception middleware and route matching, which they never need (the GraphQL
    app raises no Starlette HTTPException). Every other path goes through the whole stack."""

    def __init__(self, *, graphql: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == GRAPHQL_PATH:
            scope["app"] = self
            await self.graphql(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def readiness(services: Services) -> tuple[int, dict[str, Any]]:
    """/readyz: 200 once a snapshot is loaded; the last refused build is reported either way."""
    state = services.state
    loaded = state.current
    failure = state.last_failure
    stats = services.events.stats
    body: dict[str, Any] = {
        "ready": loaded is not None,
        "version": None if loaded is None else loaded.version,
        "loadedAt": None if loaded is None else loaded.loaded_at,
        "lastReloadError": None
        if failure is None
        else {"source": failure.source, "message": failure.message, "at": failure.at},
        "log": {
            "queued": stats.queued,
            "written": stats.written,
            "dropped": stats.overflow,
            "failed": stats.failed,
            "buffered": stats.buffered,
            "retries": stats.retries,
            "lost": stats.lost,
        },
    }
    return (200 if loaded is not None else 503), body


def create_app(
    settings: Settings | None = None,
    snapshot_loader: SnapshotLoader | None = None,
    *,
    config: ServingConfig | None = None,
    handle_sighup: bool = False,
    extra_routes: Sequence[BaseRoute] = (),
    playground: bool = True,
    experiment: Experiment | None = None,
    configuration: Configuration | None = None,
    freeze_gc: bool = False,
) -> Starlette:
    """A ready-to-serve ASGI app. The build under ``settings.artifacts_dir`` is loaded at
    startup (a failure leaves /readyz at 503 until a reload succeeds), memory-mapped unless
    ``snapshot_loader`` says otherwise. ``playground`` serves
    the web UI at ``/`` (it talks to ``/graphql`` like any other client). ``experiment``
    (default: ``RECOGRAPH_VARIANTS``) assigns visitors to A/B variants; Prometheus metrics
    are at ``/metrics``. Settings a server must not run with raise ``SettingsError``
    (`recograph.online.security.check_settings`). ``configuration`` (default: read from the
    environment once, here) supplies every section not passed on its own. ``freeze_gc``: a
    server process (one app) freezes what startup allocated (`freeze_startup_objects`)."""
    configuration = configuration or Configuration.from_env()
    settings = settings or configuration.settings
    check_settings(settings)
    config = config or configuration.serving
    if snapshot_loader is None:
        snapshot_loader = functools.partial(load_mapped_snapshot, verified=config.verified_build)
    if config.ranking is not None:
        snapshot_loader = with_ranking(snapshot_loader, Ranking(config.ranking))
    state = ServingState(Path(settings.artifacts_dir), snapshot_loader)
    events = EventWriter(
        settings.database_url or None,
        queue_size=config.event_queue_size,
        batch_size=config.event_batch_size,
        flush_seconds=config.event_flush_seconds,
        shutdown_seconds=config.event_shutdown_seconds,
    )
    monitoring = Monitoring(state, events)
    feed = None
    if settings.database_url and config.live_poll_seconds > 0:
        feed = LivePurchaseFeed(state, settings.database_url)
    services = Services(
        settings=settings,
        config=config,
        state=state,
        events=events,
        experiment=experiment if experiment is not None else configuration.experiment,
        monitoring=monitoring,
    )
    limits = SchemaLimits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_fields=settings.max_fields,
        introspection=settings.introspection,
        mask_errors=not settings.debug,
    )
    schema = build_schema(limits)
    documents = None
    if config.compiled_documents:
        known = KnownDocuments(
            schema,
            validation_rules(
                limits.max_depth,
                limits.max_aliases,
                introspection=limits.introspection,
                max_fields=limits.max_fields,
            ),
            max_tokens=limits.max_tokens,
            mask_errors=limits.mask_errors,
        )
        documents = DocumentEndpoint(known, services)
    graphql = GraphQLApp(schema, services, graphiql=settings.graphiql, documents=documents)
    access = read_store_access(settings.stores_file, production=settings.production)

    def store_endpoint(name: str, store_services: Services, app: ASGIApp) -> StoreEndpoint:
        store_monitoring = store_services.monitoring
        assert store_monitoring is not None
        return StoreEndpoint(
            name=name,
            services=store_services,
            graphql=store_cors(
                MetricsMiddleware(app, monitoring=store_monitoring, every_path=True),
                store_services.settings.cors_origins,
            ),
            metrics=request_response(store_monitoring.endpoint),
        )

    def named_store(name: str) -> StoreEndpoint:
        """A named store's own state, settings, metrics and GraphQL app (nothing shared with
        another store but the schema, the compiled documents and the log writer)."""
        own_access = access.get(name, StoreAccess())
        own_settings = store_settings(settings, name, own_access)
        own_state = ServingState(Path(own_settings.artifacts_dir), snapshot_loader)
        own = Services(
            settings=own_settings,
            config=config,
            state=own_state,
            events=events,
            experiment=own_access.experiment or services.experiment,
            monitoring=Monitoring(own_state, events),
            store=name,
        )
        own_documents = None if documents is None else DocumentEndpoint(documents.documents, own)
        app = GraphQLApp(schema, own, graphiql=settings.graphiql, documents=own_documents)
        return store_endpoint(name, own, app)

    stores = StoreRegistry(
        Path(settings.artifacts_dir),
        store_endpoint(DEFAULT_STORE, services, graphql),
        named_store,
        settings.store_memory_mb * 2**20,
        live_database_url=settings.database_url if feed is not None else None,
    )
    named_feed = None if feed is None else NamedStoresFeed(stores.state_of, settings.database_url)
    monitoring.registry.register(StoreCollector(stores))

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        status, body = readiness(services)
        return JSONResponse(body, status_code=status)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        await events.start()
        if state.current is None and not _only_named_stores(state.artifacts_dir):
            with contextlib.suppress(ReloadRefused):
                await state.reload(reason="startup")
        if freeze_gc:
            freeze_startup_objects()
        background: set[asyncio.Task[Any]] = set()
        live: asyncio.Task[None] | None = None
        poller = None
        if config.reload_poll_seconds > 0:
            poller = asyncio.create_task(_poll(state, stores, config.reload_poll_seconds))
        named_live: asyncio.Task[None] | None = None
        if feed is not None:
            live = asyncio.create_task(feed.run(config.live_poll_seconds))
            background.add(live)
        if named_feed is not None:
            named_live = asyncio.create_task(named_feed.run(config.live_poll_seconds))
            background.add(named_live)
        loop = asyncio.get_running_loop()
        sighup = handle_sighup and threading.current_thread() is threading.main_thread()
        if sighup:

            def on_sighup() -> None:
                task = loop.create_task(_reload_quietly(state, "SIGHUP"))
                background.add(task)
                task.add_done_callback(background.discard)

            loop.add_signal_handler(signal.SIGHUP, on_sighup)
        try:
            yield {"services": services}
        finally:
            if sighup:
                loop.remove_signal_handler(signal.SIGHUP)
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            for task in list(background):
                if task is live or task is named_live:
                    task.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await task
            if feed is not None:
                await feed.close()
            if named_feed is not None:
                await named_feed.close()
            await events.stop()

    middleware = [
        Middleware(MetricsMiddleware, monitoring=monitoring),
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
    ]
    if settings.cors_origins:
        middleware.append(Middleware(DefaultStoreCORS, **cors_options(settings.cors_origins)))
    # /graphql's own stack: the same middleware, in the same order, under the same 500 masking
    # (`ServingApp`); DefaultStoreCORS on /graphql is plain CORS.
    graphql_stack: ASGIApp = graphql
    for cls, args, kwargs in reversed(middleware):
        graphql_stack = cls(graphql_stack, *args, **kwargs)
    graphql_stack = ServerErrorMiddleware(graphql_stack)
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", monitoring.endpoint, methods=["GET"]),
        Route("/graphql", graphql),
        Route("/stores", stores_listing, methods=["GET"]),
        Route("/stores/{store}/graphql", StoreRoute(stores, "graphql")),
        Route("/stores/{store}/metrics", StoreRoute(stores, "metrics")),
        *extra_routes,
    ]
    if settings.graphiql:
        routes.extend(graphiql_routes())
    if playground:
        from recograph.playground import playground_routes

        routes.extend(playground_routes())
        # each store's playground: its relative "graphql" is /stores/<store>/graphql
        routes.append(Mount("/stores/{store}", routes=playground_routes()))
    app = ServingApp(graphql=graphql_stack, routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.services = services
    app.state.stores = stores
    app.state.schema = schema
    app.state.live_feed = feed
    app.state.documents = None if documents is None else documents.documents
    return app


def freeze_startup_objects() -> None:
    """Move every object alive after startup (modules, the schema, the snapshot's Python
    objects: ≈ 200,000) out of the garbage collector's generations. A full collection then
    scans only what requests allocate: on the demo store each one took ≈ 80 ms of CPU (a
    p99 stall and ≈ 0.1 ms per request on average) before. Frozen objects are still freed by
    reference counting (a replaced snapshot's arrays go as before); only a reference cycle
    among them would stay."""
    gc.collect()
    gc.freeze()


def _only_named_stores(root: Path) -> bool:
    """A root holding named stores but no default one: nothing to load (or complain about)
    at startup; ``/graphql`` answers that no model is loaded until one is published."""
    stores = list_stores(root)
    return bool(stores) and DEFAULT_STORE not in stores


async def _reload_quietly(state: ServingState, reason: str) -> None:
    with contextlib.suppress(ReloadRefused):
        await state.reload(reason=reason)


async def _poll(state: ServingState, stores: StoreRegistry, seconds: float) -> None:
    """Reload whenever ``current`` names a newer build (the default store's and each loaded
    named store's); never dies on a bad one."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await state.poll_once()
        except Exception:
            logger.exception("polling %s for a new build failed", state.artifacts_dir)
        await stores.poll_once()


def with_ranking(loader: SnapshotLoader, ranking: Ranking) -> SnapshotLoader:
    """``loader`` whose snapshots rank as ``ranking`` (`RECOGRAPH_RANKING`), whatever the
    build chose: full scoring and two-stage ranking side by side on one build."""

    def load(path: Path) -> ModelSnapshot:
        return dataclasses.replace(loader(path), ranking=ranking)

    return load


def create_app_from_env() -> Starlette:
    """``uvicorn --factory recograph.serving.app:create_app_from_env`` (one app per worker).

    Worker processes do not inherit the CLI's logging setup, so it is repeated here (stderr,
    at the level ``recograph serve`` put in ``RECOGRAPH_LOG_LEVEL``; WARNING by default)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=os.environ.get("RECOGRAPH_LOG_LEVEL", "WARNING"),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    return create_app(configuration=Configuration.from_env(), handle_sighup=True, freeze_gc=True)
