"""The build as the CLI runs it: read the store, build, print progress and the evaluation,
record the version in the database. `recograph.build` holds the pure pipeline."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from rich.console import Console

from recograph import db
from recograph.build import (
    DEFAULT_TUNE_BUDGET,
    BuildParams,
    EngineUnavailable,
    build_with_engine,
)
from recograph.dataset import StoreData
from recograph.evaluation.evaluate import CART_TITLE, validation_summary
from recograph.settings import Settings

logger = logging.getLogger(__name__)


class BuildError(Exception):
    """The build could not run; the message says why, ``exit_status`` is 2 for bad input."""

    def __init__(self, message: str, exit_status: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def read_input(data_dir: Path | None, database_url: str | None, console: Console) -> StoreData:
    """The store from an export directory (validated; rejects reported) or from the database."""
    if data_dir is not None:
        from recograph.io.reader import StoreFormatError, read_store

        try:
            result = read_store(data_dir)
        except StoreFormatError as exc:
            raise BuildError(str(exc), exit_status=2) from None
        if result.rejects:
            console.print(f"[yellow]{len(result.rejects)} rows rejected; first ones:[/yellow]")
            for reject in result.rejects[:10]:
                console.print(f"  {reject}")
        return result.data
    if database_url is None:
        raise BuildError("give --data DIR or --database-url URL", exit_status=2)
    from recograph.importer import load_store

    try:
        data: StoreData = asyncio.run(load_store(database_url))
        return data
    except Exception as exc:  # a database that is unreachable or was never imported into
        raise BuildError(
            f"cannot read the store from {db.display_url(database_url)}: {exc}", 2
        ) from None


async def record_model_version(
    url: str, version: str, engine: str, manifest: dict[str, Any]
) -> None:
    """Upsert the build into ``model_versions`` (schema upgraded first)."""
    from recograph.models.tables import ModelVersion, utcnow

    await db.upgrade_schema(url)
    engine_ = db.create_engine(url)
    try:
        async with db.session_factory(engine_)() as session, session.begin():
            await session.merge(
                ModelVersion(
                    version=version,
                    created_at=utcnow(),
                    engine=engine,
                    manifest={k: v for k, v in manifest.items() if k != "metrics"},
                    metrics=manifest.get("metrics", {}),
                )
            )
    finally:
        await engine_.dispose()


def _record_target(settings: Settings, source_url: str | None, record_to: str | None) -> str | None:
    if record_to:
        return record_to
    if source_url:
        return source_url
    path = db.sqlite_path(settings.database_url)
    if path is not None and path.exists():
        return settings.database_url
    return None


def run_build(
    settings: Settings,
    *,
    data_dir: Path | None,
    database_url: str | None,
    artifacts_root: Path,
    tune: bool = False,
    tune_budget: float | None = None,
    seed: int = 42,
    evaluate: bool = True,
    record_to: str | None = None,
    engine: str = "local",
    spark_master: str = "local[2]",
    quiet: bool = False,
) -> dict[str, Any]:
    """Run the whole build; returns the JSON summary (version, path, timings, counts, metrics)."""
    console = Console(stderr=True, quiet=quiet)
    if data_dir is None and database_url is None:
        data_dir = settings.data_dir
    with console.status("reading the store"):
        data = read_input(data_dir, database_url, console)
    console.print(
        f"store: {len(data.products)} products, {len(data.customers)} customers, "
        f"{len(data.orders)} orders, {len(data.order_items)} lines, {len(data.reviews)} reviews"
    )
    if data.order_items.empty:
        raise BuildError("the store has no order lines to learn from", exit_status=2)

    def on_step(name: str, seconds: float) -> None:
        console.print(f"  [green]✓[/green] {name:<14} {seconds:8.2f} s")

    try:
        result = build_with_engine(
            data,
            artifacts_root,
            BuildParams(seed=seed),
            engine=engine,
            spark_master=spark_master,
            evaluate=evaluate,
            tune=tune,
            tune_budget=DEFAULT_TUNE_BUDGET if tune_budget is None else tune_budget,
            on_step=on_step,
        )
    except EngineUnavailable as exc:
        raise BuildError(str(exc), exit_status=2) from None
    if result.report is not None and not quiet:
        print(validation_summary(result.manifest.get("validation") or {}))
        print(result.report.table())
        if result.cart_report is not None:
            print(f"\n{CART_TITLE} ({result.cart_report.users} orders):")
            print(result.cart_report.table())
    console.print(f"published {result.version} at {result.path}")
    target = _record_target(settings, database_url, record_to)
    if target is not None:
        try:
            asyncio.run(record_model_version(target, result.version, engine, result.manifest))
        except Exception as exc:  # recording is bookkeeping; the artifacts are published
            logger.warning(
                "could not record the model version in %s: %s", db.display_url(target), exc
            )
    return {
        "version": result.version,
        "path": str(result.path) if result.path else None,
        "timings": result.manifest.get("timings", {}),
        "counts": result.manifest.get("counts", {}),
        "blend": result.manifest.get("blend", {}),
        "metrics": result.manifest.get("metrics", {}),
    }
