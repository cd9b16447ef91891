"""``recograph build``: fit every signal, evaluate on held-out orders, publish artifacts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from recograph.commands import configuration_of
from recograph.stores import DEFAULT_STORE, InvalidStoreName, check_store_name, store_dir

# One line for `recograph --help`, which lists commands without importing their code.
HELP = "build and evaluate the recommendation artifacts"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "build",
        help=HELP,
        description=(
            "Read a store (an export directory or the database), mine association rules, fit "
            "collaborative filtering, content similarity and popularity, evaluate every model "
            "on a temporal holdout, and publish a versioned artifact directory."
        ),
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path, help="store export directory (JSON / JSON Lines)")
    source.add_argument("--database-url", help="read the store from this database instead")
    parser.add_argument(
        "--artifacts", type=Path, help="artifact root (default: RECOGRAPH_ARTIFACTS or ./artifacts)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument(
        "--tune", action="store_true", help="search blend weights and segment thresholds"
    )
    parser.add_argument(
        "--tune-budget",
        type=_seconds,
        metavar="SECONDS",
        help="with --tune: seconds for the hyperparameter search (EASE λ, item-kNN k, SVD rank, "
        "ALS factors/regularisation/iterations), cheapest first (default 60)",
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation")
    parser.add_argument(
        "--ranking",
        choices=("auto", "two-stage", "full"),
        default="auto",
        help="two-stage: score candidates from lists stored with the build (cost flat in the "
        "catalogue's size); full: score every product; auto (default): two-stage above 5,000 "
        "products, where it is cheaper (the evaluation ranks the same way; RECOGRAPH_RANKING "
        "overrides it when serving)",
    )
    parser.add_argument(
        "--validation",
        choices=("auto", "item", "last-order"),
        default="auto",
        help="the holdout the build's choices are validated on: auto (default) each returning "
        "customer's last order where returning customers are at least half of the buyers, else "
        "a per-customer item holdout; item or last-order: that one (item: for a store judged on "
        "products held out at random, as a benchmark's stratified split)",
    )
    parser.add_argument(
        "--record-to",
        help="database URL to record the model version in (default: the --database-url source, "
        "else RECOGRAPH_DATABASE_URL when that database exists)",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="where the heavy steps run (spark needs the 'spark' extra and Java 17+)",
    )
    parser.add_argument("--spark-master", default="local[2]", help="Spark master URL")
    parser.add_argument(
        "--store",
        default=DEFAULT_STORE,
        metavar="NAME",
        help="build this store: its rows of the database, published to <artifacts>/NAME/ "
        "(default: 'default', published to the artifact root itself)",
    )
    parser.set_defaults(handler=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    from recograph.core.errors import BuildError
    from recograph.pipeline import run_build

    if args.tune_budget is not None and not args.tune:
        print("recograph build: --tune-budget needs --tune", file=sys.stderr)
        return 2
    try:
        store = check_store_name(args.store)
    except InvalidStoreName as exc:
        print(f"recograph build: {exc}", file=sys.stderr)
        return 2
    settings = configuration_of(args).settings
    root: Path = args.artifacts or settings.artifacts_dir
    try:
        result = run_build(
            settings,
            data_dir=args.data,
            database_url=args.database_url,
            artifacts_root=store_dir(root, store),
            store=store,
            tune=args.tune,
            tune_budget=args.tune_budget,
            seed=args.seed,
            evaluate=not args.no_eval,
            record_to=args.record_to,
            engine=args.engine,
            spark_master=args.spark_master,
            quiet=args.json,
            ranking=args.ranking,
            validation=args.validation,
        )
    except BuildError as exc:
        print(f"recograph build: {exc}", file=sys.stderr)
        return exc.exit_status
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0
