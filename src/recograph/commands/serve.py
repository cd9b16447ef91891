"""``recograph serve``: the GraphQL API under uvicorn (GraphiQL at /graphql)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

from recograph.settings import Settings, SettingsError
from recograph.terminal import log_level

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="serve the GraphQL API",
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
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not bring the database schema up to date before serving",
    )
    parser.set_defaults(handler=run)


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
    return (
        f"serving the build in {settings.artifacts_dir} at {pages}; health at {base}/healthz; "
        "Ctrl-C stops"
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from recograph import db
    from recograph.online.variants import Experiment
    from recograph.serving.config import ServingConfig
    from recograph.serving.security import check_settings

    if args.workers < 1:
        logger.error("--workers must be at least 1")
        return 2
    os.environ.update(_environment(args))
    try:
        settings = Settings.from_env()
        ServingConfig.from_env()
        Experiment.from_env()
        check_settings(settings)
    except SettingsError as exc:
        logger.error("%s", exc)
        return 2
    if not args.no_migrate and settings.database_url:
        asyncio.run(db.upgrade_schema(settings.database_url))
    if args.workers > 1:
        logger.info(
            "%d workers: live purchases and reloads are per worker; SIGHUP restarts them all",
            args.workers,
        )
    level = log_level(getattr(args, "verbosity", 0))
    os.environ["RECOGRAPH_LOG_LEVEL"] = logging.getLevelName(level)  # for worker processes
    print(serving_line(settings), flush=True)
    uvicorn.run(
        "recograph.serving.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        loop="auto",
        http="auto",
        log_level=level,
        access_log=False,
    )
    return 0
