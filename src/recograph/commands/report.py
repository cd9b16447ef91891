"""``recograph report online``: CTR, add-to-cart, conversion and revenue from the serving logs,
per variant (with significance tests), strategy, reason, model version or page type."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from datetime import datetime, timedelta
from typing import Any

from recograph.commands import configuration_of

_RELATIVE = re.compile(r"^(\d+)\s*([dh])$")

# One line for `recograph --help`, which lists commands without importing their code.
HELP = "reports from the serving logs (online metrics)"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help=HELP,
        description="Reports computed from what the server logged.",
    )
    kinds = parser.add_subparsers(dest="report", metavar="REPORT", required=True)
    online = kinds.add_parser(
        "online",
        help="online metrics per variant, strategy, reason, model version or page type",
        description=(
            "Impressions joined to later clicks, add-to-carts and purchases (by request id, "
            "else same customer or session and product within the attribution window): CTR, "
            "add-to-cart rate, conversion, revenue per session and per impression with "
            "confidence intervals; grouped by variant, each variant is compared with the "
            "baseline (two-proportion z-tests, Welch's t-test)."
        ),
    )
    online.add_argument("--since", help="start (inclusive): YYYY-MM-DD, ISO date-time, 7d, 12h")
    online.add_argument("--until", help="end (exclusive), same forms (default: now)")
    online.add_argument(
        "--group-by",
        default="variant",
        choices=["variant", "strategy", "reason", "model_version", "page_type"],
        help="one row per ... (default: variant)",
    )
    online.add_argument(
        "--window-hours", type=float, default=24.0, help="attribution window (default 24)"
    )
    online.add_argument("--baseline", help="variant to compare with (default: control or first)")
    online.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    online.add_argument("--database-url", help="log database (default: RECOGRAPH_DATABASE_URL)")
    online.add_argument("--json", action="store_true", help="print JSON instead of tables")
    online.add_argument(
        "--store", default="default", metavar="NAME", help="the store's logs (default: default)"
    )
    online.set_defaults(handler=run)


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """A date, an ISO date-time (offsets converted) or ``Nd``/``Nh`` ago, as naive UTC."""
    from recograph.io.validate import parse_datetime
    from recograph.models.tables import utcnow

    now = now or utcnow()
    relative = _RELATIVE.match(text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    return parse_datetime(text.strip())


def _fail(message: str) -> int:
    print(f"recograph report online: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from recograph import db
    from recograph.online.logs import read_logs_from
    from recograph.online.metrics import GroupBy, UnknownBaseline, online_metrics
    from recograph.online.report import format_report

    try:
        since = None if args.since is None else parse_time(args.since)
        until = None if args.until is None else parse_time(args.until)
    except ValueError as exc:
        return _fail(f"--since/--until: {exc}")
    if not args.window_hours > 0:
        return _fail("--window-hours must be positive")
    if not 0 < args.alpha < 1:
        return _fail("--alpha must be between 0 and 1")
    url = args.database_url or configuration_of(args).settings.database_url
    path = db.sqlite_path(url)
    if path is not None and not path.is_file():
        return _fail(f"no database at {path} (serve with --database-url to log impressions)")
    window = timedelta(hours=args.window_hours)
    try:
        impressions, events = asyncio.run(
            read_logs_from(url, since=since, until=until, window=window, store=args.store)
        )
    except SQLAlchemyError as exc:
        print(
            f"recograph report online: cannot read the logs from {db.display_url(url)}: "
            f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}",
            file=sys.stderr,
        )
        return 1
    try:
        report = online_metrics(
            impressions,
            events,
            group_by=GroupBy(args.group_by),
            window=window,
            baseline=args.baseline,
            alpha=args.alpha,
            since=since,
            until=until,
        )
    except UnknownBaseline as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        sys.stdout.write(format_report(report))
    return 0
