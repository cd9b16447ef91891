"""``recograph evaluate``: the evaluation table of a published build, or a fresh evaluation."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from recograph.commands import configuration_of
from recograph.core.vocabulary import Segment


def build_order() -> tuple[str, ...]:
    """The order `recograph build` scores (and prints) the rows in: `evaluate_models` for
    history pages, `evaluate_cart_completion` for cart pages. A manifest stores them sorted by
    name. (A function: the CF model names come from the registry, which imports every model.)"""
    from recograph.recommenders.registry import CF_MODELS

    return (
        "random",
        "popularity",
        *CF_MODELS,
        "collaborative",
        "content",
        "rules",
        "hybrid (context weights)",
        "hybrid (seed weights)",
        "hybrid (tuned)",
        "hybrid (history weights)",
        "hybrid + business rules",
    )


SEGMENT_ORDER = ("all", *(segment.value for segment in Segment))


def _ordered(items: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    rank = {name: i for i, name in enumerate(order)}
    return dict(sorted(items.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def in_build_order(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` with its ``models`` (and the cart's) in `build_order()` and each model's
    segments in `SEGMENT_ORDER`, as the build printed them; unknown names last."""
    models = {
        name: {**model, "segments": _ordered(model.get("segments", {}), SEGMENT_ORDER)}
        for name, model in _ordered(metrics.get("models", {}), build_order()).items()
    }
    result = {**metrics, "models": models}
    if isinstance(metrics.get("cart"), dict):
        result["cart"] = in_build_order(metrics["cart"])
    return result


# One line for `recograph --help`, which lists commands without importing their code.
HELP = "show (or recompute) the offline evaluation of a build"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate",
        help=HELP,
        description=(
            "Without --data: print the evaluation recorded in the build's manifest. With --data: "
            "re-run the temporal-holdout evaluation on that store with the build's parameters."
        ),
    )
    parser.add_argument("--artifacts", type=Path, help="artifact root or build directory")
    parser.add_argument("--data", type=Path, help="store export to evaluate on again")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from recograph import artifacts
    from recograph.evaluation.evaluate import CART_TITLE, report_from_dict

    root = args.artifacts or configuration_of(args).settings.artifacts_dir
    try:
        loaded = artifacts.load(root, verify=False)
    except artifacts.ArtifactError as exc:
        print(f"recograph evaluate: {exc}", file=sys.stderr)
        return 2
    if args.data is not None:
        from recograph.build import BuildParams, build_artifacts
        from recograph.io.reader import StoreFormatError, read_store

        try:
            data = read_store(args.data).data
        except StoreFormatError as exc:
            print(f"recograph evaluate: {exc}", file=sys.stderr)
            return 2
        from recograph.terminal import ProgressDisplay, console

        params = BuildParams.from_dict(loaded.manifest.get("parameters", {}))
        display = ProgressDisplay(console(sys.stderr, quiet=args.json))
        with display.live():
            result = build_artifacts(data, None, params, evaluate=True, progress=display)
        metrics = result.manifest["metrics"]
    else:
        metrics = loaded.manifest.get("metrics", {})
    metrics = in_build_order(metrics)
    if not metrics:
        print(f"recograph evaluate: build {loaded.version} has no evaluation", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(metrics, indent=2, sort_keys=True))
    else:
        cutoff, users = metrics.get("cutoff"), metrics.get("users")
        print(f"build {loaded.version}: cutoff {cutoff}, {users} customers")
        print(report_from_dict(metrics).table())
        if metrics.get("cart"):
            cart = report_from_dict(metrics["cart"])
            print(f"\n{CART_TITLE} ({cart.users} orders):")
            print(cart.table())
    return 0
