"""``recograph serve``: the GraphQL API under uvicorn (GraphiQL at /graphql).

With several workers (``--workers N`` or ``--workers auto``, one per core) the command binds
the socket, imports the serving code once and forks the workers, which share the listening
socket. Forking after the imports shares those pages copy-on-write (uvicorn's own supervisor
spawns fresh interpreters, each importing numpy, scipy and strawberry again: ≈ 100 MB each);
the model arrays are memory-mapped (`recograph.artifacts`), so they are shared as well. Live
purchases reach every worker through the database (`recograph.online.live`). SIGHUP is
passed to every worker (each reloads the build), SIGTERM and SIGINT stop them all, and a
worker that dies on its own is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from recograph.commands import configuration_of
from recograph.settings import Settings, SettingsError
from recograph.terminal import log_level

logger = logging.getLogger(__name__)

# One line for `recograph --help`, which lists commands without importing their code.
HELP = "serve the GraphQL API"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help=HELP,
        description=(
            "Serve recommendations over GraphQL from the published build (GraphiQL at "
            "/graphql, health at /healthz and /readyz). Other settings come from RECOGRAPH_* "
            "variables; SIGHUP or the reloadArtifacts mutation loads a new build."
        ),
    )
    parser.add_argument("--artifacts", help="artifact root (default: RECOGRAPH_ARTIFACTS)")
    parser.add_argument("--database-url", help="impressions/events database")
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8000)")
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="worker processes: a number, or 'auto' for one per core (default 1)",
    )
    parser.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not bring the database schema up to date before serving",
    )
    parser.set_defaults(handler=run)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _workers(raw: str) -> int:
    if raw.strip().lower() == "auto":
        return cores()
    try:
        return int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {raw!r}") from None


def _environment(args: argparse.Namespace) -> dict[str, str]:
    """RECOGRAPH_* variables for the command-line overrides (workers read the environment)."""
    overrides = {
        "RECOGRAPH_ARTIFACTS": args.artifacts,
        "RECOGRAPH_DATABASE_URL": args.database_url,
        "RECOGRAPH_HOST": args.host,
        "RECOGRAPH_PORT": None if args.port is None else str(args.port),
    }
    return {key: value for key, value in overrides.items() if value is not None}


def serving_line(settings: Settings) -> str:
    """What ``serve`` prints once: where to point a browser, and what it serves."""
    base = f"http://{settings.host}:{settings.port}"
    pages = f"{base}/ (playground)"
    if settings.graphiql:
        pages += f", {base}/graphql (GraphiQL)"
    from recograph.stores import DEFAULT_STORE, list_stores

    named = [store for store in list_stores(Path(settings.artifacts_dir)) if store != DEFAULT_STORE]
    stores = ""
    if named:
        stores = (
            f"; {len(named)} named store{'s' if len(named) > 1 else ''} at "
            f"{base}/stores/<store>/graphql (listed at {base}/stores)"
        )
    return (
        f"serving the build in {settings.artifacts_dir} at {pages}{stores}; health at "
        f"{base}/healthz; Ctrl-C stops"
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from recograph import db
    from recograph.online.security import check_settings

    if args.workers < 1:
        logger.error("--workers must be at least 1")
        return 2
    overrides = _environment(args)
    os.environ.update(overrides)  # what each worker's app reads (`create_app_from_env`)
    try:
        configuration = configuration_of(args).updated(overrides).validate()
        settings = configuration.settings
        check_settings(settings)
    except SettingsError as exc:
        logger.error("%s", exc)
        return 2
    if not args.no_migrate and settings.database_url:
        asyncio.run(db.upgrade_schema(settings.database_url))
    level = log_level(getattr(args, "verbosity", 0))
    os.environ["RECOGRAPH_LOG_LEVEL"] = logging.getLevelName(level)  # for worker processes
    print(serving_line(settings), flush=True)
    config = uvicorn_config(APP, host=settings.host, port=settings.port, log_level=level)
    logger.info("uvicorn on %s", server_stack())
    if args.workers == 1:
        uvicorn.Server(config).run()
        return 0
    return serve_forked(config, args.workers, Path(settings.artifacts_dir))


APP = "recograph.serving.app:create_app_from_env"


def uvicorn_config(app: Any, *, host: str, port: int, log_level: int | str) -> Any:
    """How every recograph server runs uvicorn (``recograph serve`` and ``bench serve``'s
    child): ``app`` is an app factory; uvloop and httptools when installed (both are
    dependencies; uvicorn falls back to asyncio and h11 otherwise); no access log (a line
    per request costs CPU on the request path; a proxy in front logs requests)."""
    import uvicorn

    return uvicorn.Config(
        app,
        factory=True,
        host=host,
        port=port,
        loop="auto",
        http="auto",
        log_level=log_level,
        access_log=False,
    )


def server_stack() -> str:
    """The event loop and HTTP parser uvicorn's "auto" picks here."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        loop = "asyncio"
    else:
        loop = "uvloop"
    try:
        import httptools  # noqa: F401
    except ImportError:
        http = "h11"
    else:
        http = "httptools"
    return f"{loop} + {http}"


def _worker(config: Any, sock: socket.socket) -> int:
    """A forked worker: default signal handling, then uvicorn on the shared socket."""
    import uvicorn

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def pass_verified_build(artifacts_dir: Path) -> None:
    """Set ``RECOGRAPH_VERIFIED_BUILD`` for the workers about to be forked: the identity of the
    build ``artifacts_dir`` serves, checked here once (`artifacts.verified_build`), so that
    each worker maps it without hashing its ≈ 400 MB again (at 100×). Unset when there is no
    build to check or it is refused: each worker then checks, and refuses, on its own."""
    from recograph import artifacts
    from recograph.online.config import VERIFIED_BUILD_VARIABLE

    os.environ.pop(VERIFIED_BUILD_VARIABLE, None)  # never a value this process did not make
    try:
        os.environ[VERIFIED_BUILD_VARIABLE] = artifacts.verified_build(artifacts_dir)
    except artifacts.ArtifactError as exc:
        logger.info("build not checked before forking the workers: %s", exc)


def serve_forked(config: Any, workers: int, artifacts_dir: Path | None = None) -> int:
    """Bind, import the app's code once, check the build in ``artifacts_dir`` once, fork
    ``workers`` workers and supervise them."""
    import importlib

    sock = config.bind_socket()
    importlib.import_module(APP.partition(":")[0])  # shared copy-on-write by every worker
    if artifacts_dir is not None:
        pass_verified_build(artifacts_dir)
    # Out of the collector's reach: a collection in a worker would otherwise write to every
    # imported object's header and so copy the pages the workers share into each of them.
    gc.freeze()
    logger.info("serving on http://%s:%d with %d forked workers", config.host, config.port, workers)
    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _worker(config, sock)
            finally:
                os._exit(code)
        children.add(pid)

    def forward(signum: int, _frame: Any) -> None:
        nonlocal stopping
        if signum != signal.SIGHUP:
            stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                children.discard(pid)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    for _ in range(workers):
        spawn()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        if not stopping:
            logger.warning("worker %d exited (status %d); starting another", pid, status)
            spawn()
    sock.close()
    return 0
