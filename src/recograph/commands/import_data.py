"""``recograph import``: validate a store export and load it into the database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recograph import terminal
from recograph.commands import configuration_of
from recograph.settings import SettingsError
from recograph.stores import DEFAULT_STORE, InvalidStoreName, check_store_name

if TYPE_CHECKING:
    from recograph.importer import ImportSummary

SHOWN_REJECTS = 10

# One line for `recograph --help`, which lists commands without importing their code.
HELP = "validate a store export and load it into the database"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "import",
        help=HELP,
        description=(
            "Read products, customers, orders, order_items and reviews (.json arrays or "
            ".jsonl) from DIR, reject bad rows (listed in a rejects file) and upsert the rest "
            "into the database in one transaction. Exit status 2 if a file is missing or "
            "is not valid JSON; the database is then left unchanged."
        ),
    )
    parser.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="export directory (default: $RECOGRAPH_DATA_DIR or var/demo)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy async URL (default: $RECOGRAPH_DATABASE_URL or "
        "sqlite+aiosqlite:///var/recograph.db)",
    )
    parser.add_argument(
        "--rejects",
        type=Path,
        metavar="PATH",
        help="where to write rejected rows as JSON Lines (default: rejects.jsonl beside a "
        "SQLite database, var/rejects.jsonl otherwise)",
    )
    parser.add_argument(
        "--store",
        default=DEFAULT_STORE,
        metavar="NAME",
        help="the store the rows belong to (default: 'default'); other stores' rows are "
        "never touched",
    )
    parser.set_defaults(handler=run)


def _error(message: str) -> None:
    print(f"recograph import: error: {message}", file=sys.stderr)


def format_summary(summary: ImportSummary) -> str:
    """The per-file table printed after an import, then the first rejected rows."""
    header = ("file", "read", "imported", "rejected")
    rows = [(f.file, f.read, f.imported, f.rejected) for f in summary.files.values()]
    rows.append(("total", summary.read, summary.imported, summary.rejected))
    width = max(len(str(row[0])) for row in [header, *rows])
    lines = [f"{header[0]:<{width}}  {header[1]:>10}  {header[2]:>10}  {header[3]:>10}"]
    lines += [f"{a:<{width}}  {b:>10}  {c:>10}  {d:>10}" for a, b, c, d in rows]
    where = summary.database
    if summary.store != DEFAULT_STORE:
        where += f" as store {summary.store}"
    lines.append(f"imported into {where} in {summary.seconds:.2f} s")
    if summary.rejects:
        lines.append(f"{summary.rejected} rejected rows listed in {summary.rejects_path}:")
        lines += [f"  {reject}" for reject in summary.rejects[:SHOWN_REJECTS]]
        if summary.rejected > SHOWN_REJECTS:
            lines.append(f"  ... and {summary.rejected - SHOWN_REJECTS} more")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError  # heavy: imported only to import

    from recograph.importer import UnsupportedDatabaseError, import_store
    from recograph.io import StoreFormatError

    try:
        settings = configuration_of(args).settings
    except SettingsError as exc:
        _error(str(exc))
        return 2
    try:
        store = check_store_name(args.store)
    except InvalidStoreName as exc:
        _error(str(exc))
        return 2
    url: str = args.database_url or settings.database_url
    data_dir: Path = args.data or settings.data_dir
    display = terminal.ProgressDisplay(terminal.console(sys.stderr))
    try:
        with display.live():
            summary = asyncio.run(
                import_store(data_dir, url, args.rejects, progress=display, store=store)
            )
    except StoreFormatError as exc:
        _error(f"{exc}\nnothing was imported; the database is unchanged")
        return 2
    except UnsupportedDatabaseError as exc:
        _error(str(exc))
        return 2
    except (SQLAlchemyError, OSError) as exc:
        _error(f"import failed, nothing was imported: {exc}")
        return 1
    print(format_summary(summary))
    return 0
