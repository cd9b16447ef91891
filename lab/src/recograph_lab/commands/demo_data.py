"""``recograph demo-data``: write the deterministic TechHeaven demo store, print what it holds."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from recograph import terminal
from recograph.commands import configuration_of
from recograph.settings import SettingsError
from recograph.stores import InvalidStoreName, check_store_name

if TYPE_CHECKING:  # the generator and summary (pandas) load only when the command runs
    from recograph_lab.demo.generator import GenerationSummary
    from recograph_lab.demo.summary import StoreSummary

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Generate the TechHeaven demo store: a Bagisto-style JSON export (products, customers, orders,
order_items, reviews) plus ground_truth.json (planted personas and patterns, for tests and
evaluation only). At scale 1: 291 products in 40 categories, 1,000 customers, 5,000 orders
over the 24 months ending 2026-10-31, 15,000 order lines, 5,000 reviews, and 20 new arrivals
nobody has ordered yet. The same seed and scale always give byte-identical files.

--scale multiplies customers, orders, lines and reviews; above 1 the catalogue is also copied
round(scale) times as colour/edition variants (same 40 categories). Scale 0.1 makes a small
store for fast tests, 100 a benchmark store (100k customers, 1.5M order lines).

After writing, the command reads the files back and prints counts, the sparsity of the
customer x product matrix (completed orders), the top-20 products' share of revenue, the
re-buy rates of the consumable categories (share of a category's customers who bought it
again in a later completed order) against the highest durable one, and the support /
confidence / lift of every planted category pattern (completed-order baskets).

Several stores (for one deployment serving many, see `recograph serve`): --store NAME writes
the store to OUT/NAME (OUT defaults to var/stores); --stores N writes N stores named
shop-001 .. shop-N to OUT/<name> with seeds N, N+1, ... (from --seed) and prints one line each.
"""

DEFAULT_STORES_DIR = Path("var/stores")


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


# One line for `recograph --help`, which lists commands without importing their code.
HELP = "generate the deterministic TechHeaven demo store"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo-data",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="directory to write the JSON files to (default: $RECOGRAPH_DATA_DIR or var/demo)",
    )
    parser.add_argument(
        "--seed", type=int, default=42, metavar="N", help="random seed (default: 42)"
    )
    parser.add_argument(
        "--scale",
        type=_scale,
        default=1.0,
        metavar="F",
        help="size multiplier, e.g. 0.1, 1, 10, 100 (default: 1)",
    )
    several = parser.add_mutually_exclusive_group()
    several.add_argument(
        "--store",
        metavar="NAME",
        help="write the store to OUT/NAME (OUT defaults to var/stores), to import with "
        "`recograph import --store NAME`",
    )
    several.add_argument(
        "--stores",
        type=_count,
        metavar="N",
        help="write N stores, shop-001 .. shop-N, to OUT/<name>, seeds --seed, --seed+1, ...",
    )
    parser.set_defaults(handler=run)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 9999:
        raise argparse.ArgumentTypeError(f"must be between 1 and 9999, got {text!r}")
    return value


def store_names(count: int) -> list[str]:
    """The names ``--stores N`` gives: shop-001 .. (zero-padded to at least three digits)."""
    width = max(3, len(str(count)))
    return [f"shop-{i:0{width}d}" for i in range(1, count + 1)]


def _run_several(args: argparse.Namespace) -> int:
    """``--stores N``: one line per generated store."""
    from recograph_lab.demo.generator import generate_store

    root: Path = args.out or DEFAULT_STORES_DIR
    for offset, name in enumerate(store_names(args.stores)):
        try:
            generated = generate_store(root / name, seed=args.seed + offset, scale=args.scale)
        except ValueError as exc:
            print(f"recograph demo-data: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"recograph demo-data: cannot write {root / name}: {exc}", file=sys.stderr)
            return 1
        print(
            f"{name}: {generated.out_dir} (seed {generated.seed}, scale {generated.scale:g}) "
            f"in {generated.seconds:.1f} s"
        )
    print(f"wrote {args.stores} demo stores to {root}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Generate, measure from the written files and print; 2 for bad settings, 1 on failure."""
    from recograph_lab.demo.generator import generate_store
    from recograph_lab.demo.summary import summarize_store

    if args.stores is not None:
        return _run_several(args)
    out: Path | None = args.out
    if args.store is not None:
        try:
            out = (out or DEFAULT_STORES_DIR) / check_store_name(args.store)
        except InvalidStoreName as exc:
            print(f"recograph demo-data: {exc}", file=sys.stderr)
            return 2
    if out is None:
        try:
            out = configuration_of(args).settings.data_dir
        except SettingsError as exc:
            print(f"recograph demo-data: {exc}", file=sys.stderr)
            return 2
    try:
        generated = generate_store(out, seed=args.seed, scale=args.scale)
    except ValueError as exc:
        print(f"recograph demo-data: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"recograph demo-data: cannot write {out}: {exc}", file=sys.stderr)
        return 1
    summary = summarize_store(out)
    print_summary(generated, summary, terminal.console(sys.stdout))
    return 0


def print_summary(generated: GenerationSummary, summary: StoreSummary, console: Console) -> None:
    """The command's output: what was written and what it measures."""
    from recograph_lab.demo.catalogue import CONSUMABLES

    console.print(
        f"Wrote the TechHeaven demo store to {generated.out_dir} "
        f"(seed {generated.seed}, scale {generated.scale:g}) in {generated.seconds:.1f} s"
    )
    counts = Table(title="Files", title_justify="left")
    counts.add_column("file")
    counts.add_column("rows", justify="right")
    for name, rows in summary.counts.items():
        counts.add_row(f"{name}.json", f"{rows:,}")
    console.print(counts)
    statuses = ", ".join(f"{k} {v:,}" for k, v in summary.status_counts.items())
    console.print(f"categories: {summary.categories}")
    console.print(f"orders: {summary.first_order} .. {summary.last_order}")
    console.print(f"order statuses: {statuses}")
    console.print(f"never-ordered products (new arrivals): {summary.never_ordered_products:,}")
    console.print(f"customer x product sparsity (completed orders): {summary.sparsity:.4%}")
    console.print(f"top-20 products' share of revenue: {summary.top20_revenue_share:.1%}")
    fu = summary.follow_up
    console.print(
        f"{fu.item} after {fu.anchor}: {fu.customers:,} customers, "
        f"{fu.share_within_window:.0%} within 3-6 months (median {fu.median_days:.0f} days)"
    )
    rates = summary.rebuy_rates
    consumables = ", ".join(
        f"{name} {rates[name]:.0%}" for name in sorted(CONSUMABLES & set(rates))
    )
    durables = {name: rate for name, rate in rates.items() if name not in CONSUMABLES}
    rebuys = f"re-bought later by their customers: {consumables or 'no consumables'} (consumables)"
    if durables:
        top = max(durables, key=lambda name: (durables[name], name))
        rebuys += f"; every durable category at most {durables[top]:.1%} ({top})"
    console.print(rebuys)
    patterns = Table(
        title=f"Planted category patterns ({summary.completed_orders:,} completed orders)",
        title_justify="left",
    )
    for column in ("antecedent", "consequent"):
        patterns.add_column(column)
    for column in ("support", "confidence", "lift"):
        patterns.add_column(column, justify="right")
    for p in summary.patterns:
        patterns.add_row(
            p.antecedent, p.consequent, f"{p.support:.3f}", f"{p.confidence:.3f}", f"{p.lift:.2f}"
        )
    console.print(patterns)
