"""The build as the CLI runs it: read the store, build, print progress and the evaluation,
record the version in the database. `recograph.build` holds the pure pipeline."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from recograph import db
from recograph.build import DEFAULT_TUNE_BUDGET, BuildParams
from recograph.core.errors import BuildError
from recograph.dataset import StoreData
from recograph.engines import EngineUnavailable, build_with_engine
from recograph.evaluation.evaluate import CART_TITLE, EvaluationReport, validation_summary
from recograph.evaluation.habits import format_habits
from recograph.evaluation.next_basket import format_next_basket
from recograph.progress import Progress, no_progress
from recograph.recommenders import intent
from recograph.settings import Settings
from recograph.stores import DEFAULT_STORE

logger = logging.getLogger(__name__)


def read_input(
    data_dir: Path | None,
    database_url: str | None,
    console: Console,
    progress: Progress = no_progress,
    store: str = DEFAULT_STORE,
) -> StoreData:
    """The store from an export directory (validated; rejects reported) or ``store``'s rows of
    the database."""
    if data_dir is not None:
        from recograph.io.reader import StoreFormatError, read_store

        try:
            result = read_store(data_dir, progress)
        except StoreFormatError as exc:
            raise BuildError(str(exc), exit_status=2) from None
        if result.rejects:
            console.print(f"[yellow]{len(result.rejects)} rows rejected; first ones:[/yellow]")
            for reject in result.rejects[:10]:
                console.print(f"  {reject}", markup=False)
        return result.data
    if database_url is None:
        raise BuildError("give --data DIR or --database-url URL", exit_status=2)
    from recograph.importer import load_store

    try:
        data: StoreData = asyncio.run(load_store(database_url, store))
        return data
    except Exception as exc:  # a database that is unreachable or was never imported into
        raise BuildError(
            f"cannot read the store from {db.display_url(database_url)}: {exc}", 2
        ) from None


async def record_model_version(
    url: str, version: str, engine: str, manifest: dict[str, Any], store: str = DEFAULT_STORE
) -> None:
    """Upsert ``store``'s build into ``model_versions`` (schema upgraded first)."""
    from recograph.models.tables import ModelVersion, utcnow

    await db.upgrade_schema(url)
    engine_ = db.create_engine(url)
    try:
        async with db.session_factory(engine_)() as session, session.begin():
            await session.merge(
                ModelVersion(
                    store=store,
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


def describe_source(data_dir: Path | None, database_url: str | None) -> str:
    """Where the build reads the store, as the summary names it."""
    if data_dir is not None:
        return f"the export in {data_dir}"
    return f"the database {db.display_url(database_url or '')}"


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
    store: str = DEFAULT_STORE,
    ranking: str = "auto",
    validation: str = "auto",
) -> dict[str, Any]:
    """Run the whole build; returns the JSON summary (version, path, timings, counts, metrics,
    source, recorded_in). ``artifacts_root`` is the store's own directory
    (`recograph.stores.store_dir`); ``store`` names the rows read from and recorded in the
    database. Progress goes to stderr; the evaluation and a one-line summary to
    stdout (nothing but the caller's JSON when ``quiet``)."""
    from recograph import terminal

    stderr = terminal.console(sys.stderr, quiet=quiet)
    stdout = terminal.console(sys.stdout, quiet=quiet)
    if data_dir is None and database_url is None:
        data_dir = settings.data_dir
        stderr.print(
            f"no --data or --database-url given: reading {data_dir} (RECOGRAPH_DATA_DIR or its "
            "default)"
        )
    source = describe_source(data_dir, database_url)
    if store != DEFAULT_STORE:
        source += f" (store {store})"
    display = terminal.ProgressDisplay(stderr)
    with display.live():
        data = read_input(data_dir, database_url, stderr, display, store)
    rows = f"{len(data.orders):,} orders, {len(data.order_items):,} lines"
    stderr.print(
        f"read {source}: {len(data.products):,} products, {len(data.customers):,} customers, "
        f"{rows}, {len(data.reviews):,} reviews"
    )
    if data.order_items.empty:
        raise BuildError("the store has no order lines to learn from", exit_status=2)
    try:
        with display.live():
            result = build_with_engine(
                data,
                artifacts_root,
                BuildParams(seed=seed, ranking=ranking, validation=validation),
                engine=engine,
                spark_master=spark_master,
                evaluate=evaluate,
                tune=tune,
                tune_budget=DEFAULT_TUNE_BUDGET if tune_budget is None else tune_budget,
                on_step=display.finished if engine == "spark" else None,
                progress=display,
            )
    except EngineUnavailable as exc:
        raise BuildError(str(exc), exit_status=2) from None
    if result.report is not None:
        stdout.print(validation_summary(result.manifest.get("validation") or {}), markup=False)
        stdout.print(terminal.headline_table(result.report, "held-out customers, all segments"))
        if "habits" in result.manifest:
            stdout.print(format_habits(result.manifest["habits"]), markup=False)
        if result.cart_report is not None:
            cart = result.cart_report
            stdout.print(terminal.headline_table(cart, f"{CART_TITLE} ({cart.users} orders)"))
        next_basket = result.manifest.get("metrics", {}).get("next_basket")
        if next_basket:
            stdout.print(format_next_basket(next_basket), markup=False)
        intents = result.manifest.get("metrics", {}).get("intents")
        if intents:
            stdout.print(intent.summary_line(intents), markup=False)
        stdout.print(f"every segment and k: recograph evaluate --artifacts {artifacts_root}")
    target = _record_target(settings, database_url, record_to)
    recorded_in = None
    if target is None:
        stderr.print(
            f"the version is not recorded in a database: no --record-to, and "
            f"{db.display_url(settings.database_url)} does not exist (run recograph import)"
        )
    else:
        try:
            asyncio.run(
                record_model_version(target, result.version, engine, result.manifest, store)
            )
            recorded_in = db.display_url(target)
        except Exception as exc:  # recording is bookkeeping; the artifacts are published
            logger.warning(
                "could not record the model version in %s: %s", db.display_url(target), exc
            )
    stdout.print(
        build_summary(source, rows, result.version, result.path, recorded_in, result.report)
    )
    return {
        "version": result.version,
        "path": str(result.path) if result.path else None,
        "source": source,
        "recorded_in": recorded_in,
        "timings": result.manifest.get("timings", {}),
        "counts": result.manifest.get("counts", {}),
        "blend": result.manifest.get("blend", {}),
        "metrics": result.manifest.get("metrics", {}),
        "habits": result.manifest.get("habits", {}),
    }


SERVED_ROW = "hybrid + business rules"


def build_summary(
    source: str,
    rows: str,
    version: str,
    path: Path | None,
    recorded_in: str | None,
    report: EvaluationReport | None,
) -> str:
    """The build's last line: what was read, what was published where, the headline metric."""
    published = f"published {version} to {path}" if path else f"built {version} (not published)"
    recorded = f"recorded in {recorded_in}" if recorded_in else "not recorded in a database"
    if report is not None and SERVED_ROW in report.results:
        metric = f"served NDCG@10 {report.ndcg10(SERVED_ROW):.4f} on {report.users:,} customers"
        if "popularity" in report.results:
            metric += f" (popularity {report.ndcg10('popularity'):.4f})"
    else:
        metric = "not evaluated"
    return f"build: read {source} ({rows}); {published}; {recorded}; {metric}"
