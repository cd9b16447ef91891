"""``recograph bench ranking``: engine CPU per ``recommend``, full scoring vs two-stage ranking.

One published build, one fixed set of mixed requests (per sampled customer: home, cart,
product page; per anonymous visitor: cart and home, as the storefront asks), each answered
by full scoring and by two-stage ranking of the same snapshot, interleaved request by request
so machine load hits both alike, for the served CF mix and for each CF model alone. Reports
per configuration the CPU milliseconds per request of both (process time, medians of the
repeats), their ratio, the products two-stage ranking scored (mean and max), how many lists
were identical (positions, scores and reasons) and the mean share of full scoring's top 10
that two-stage ranking kept. ``--profile`` adds the cProfile of the two-stage requests
(cumulative time, the top functions). Nothing is timed in tests; this prints figures.

``--dataset NAME|DIR`` (instead of ``--artifacts``) measures quality instead: the store
(a public data set, the demo store or an export directory, as `recograph bench quality`
reads it) is split under its protocol, the training part built with two-stage ranking, and
each scored customer's top 10 ranked both ways; per row it reports NDCG@10 of both, their
paired difference (two-stage minus full, per customer) with its standard error, and the top-10
overlap.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from recograph.build import BuildParams, build_artifacts
from recograph.core.vocabulary import PageType, Strategy
from recograph.engine import BusinessRules, Context, Recommendation, Request, recommend
from recograph.evaluation.evaluate import NO_POLICY
from recograph.evaluation.metrics import ndcg_at_k
from recograph.recommenders.candidates import Ranking
from recograph.snapshot import ModelSnapshot, load_snapshot
from recograph_lab.bench.datasets import DatasetError
from recograph_lab.bench.quality import (
    STRATIFIED,
    K,
    QualityError,
    engine_rankings,
    load_store,
    mean_and_error,
    scored_users,
    split_store,
    top_overlap,
)

DEFAULT_CUSTOMERS = 60
DEFAULT_REPEATS = 3
CF_ALONE = ("item_knn", "user_knn", "svd", "als", "ease")


@dataclass(frozen=True)
class Row:
    """One CF configuration's figures."""

    cf_models: str
    requests: int
    full_ms: float
    two_stage_ms: float
    ratio: float
    scored_mean: float
    scored_max: int
    identical: int
    top10_overlap: float
    ranked_two_stage: int  # answers the candidates decided (the rest fell back to full)


def requests_for(
    snapshot: ModelSnapshot, customers: int, seed: int, limit: int = 10
) -> list[Request]:
    """The storefront's mix: per customer home, cart (their last product and one more) and
    product page; per anonymous visitor a cart and a home page (seeded, buyers only)."""
    rng = np.random.default_rng(seed)
    buyers = np.flatnonzero(np.diff(snapshot.interactions.indptr) > 0)
    chosen = rng.choice(buyers, size=min(customers, len(buyers)), replace=False)
    n_items = snapshot.n_items
    requests: list[Request] = []
    page = Request(limit=limit)
    for user in sorted(int(u) for u in chosen):
        item, other = (int(i) for i in rng.integers(0, n_items, size=2))
        requests += [
            replace(page, user=user, context=Context(page_type=PageType.HOME)),
            replace(page, user=user, context=Context(cart=(item, other), page_type=PageType.CART)),
            replace(page, user=user, context=Context(current=item, page_type=PageType.PRODUCT)),
            replace(page, context=Context(cart=(other,), page_type=PageType.CART)),
            replace(page, context=Context(page_type=PageType.HOME)),
        ]
    return requests


def _same(one: Recommendation, two: Recommendation) -> bool:
    return one.items == two.items


def _top(rec: Recommendation) -> set[int]:
    return {item.position for item in rec.items}


def _cpu_ms(snapshot: ModelSnapshot, request: Request) -> tuple[float, Recommendation]:
    """One answer and the process CPU milliseconds it took."""
    start = time.process_time()
    answer = recommend(snapshot, request)
    return (time.process_time() - start) * 1000.0, answer


def measure(
    snapshot: ModelSnapshot,
    requests: Sequence[Request],
    cf_models: tuple[tuple[str, float], ...] | None,
    repeats: int,
) -> Row:
    """Both rankings on the same requests, interleaved; CPU ms per request (median of the
    repeats' means), what two-stage scored and how its answers compare."""
    full = replace(snapshot, ranking=Ranking.FULL)
    two = replace(snapshot, ranking=Ranking.TWO_STAGE)
    asked = [replace(r, cf_models=cf_models) for r in requests]
    full_means, two_means = [], []
    answers: list[tuple[Recommendation, Recommendation]] = []
    for repeat in range(repeats):
        full_total = two_total = 0.0
        for request in asked:
            full_ms, one = _cpu_ms(full, request)
            two_ms, other = _cpu_ms(two, request)
            full_total += full_ms
            two_total += two_ms
            if repeat == 0:
                answers.append((one, other))
        full_means.append(full_total / len(asked))
        two_means.append(two_total / len(asked))
    scored = [other.scored for _, other in answers]
    overlaps = [
        len(_top(one) & _top(other)) / len(_top(one)) for one, other in answers if one.items
    ]
    full_ms, two_ms = statistics.median(full_means), statistics.median(two_means)
    return Row(
        cf_models="served " + _mix(snapshot.blend.cf_models)
        if cf_models is None
        else _mix(cf_models),
        requests=len(asked),
        full_ms=full_ms,
        two_stage_ms=two_ms,
        ratio=two_ms / full_ms if full_ms > 0 else float("nan"),
        scored_mean=float(np.mean(scored)),
        scored_max=int(max(scored)),
        identical=sum(_same(one, other) for one, other in answers),
        top10_overlap=float(np.mean(overlaps)) if overlaps else float("nan"),
        ranked_two_stage=sum(other.ranking is Ranking.TWO_STAGE for _, other in answers),
    )


def _mix(models: Sequence[tuple[str, float]]) -> str:
    return " + ".join(f"{name} {weight:g}" for name, weight in models)


def profile_two_stage(snapshot: ModelSnapshot, requests: Sequence[Request], top: int) -> str:
    """cProfile of two-stage answers to ``requests`` (cumulative time, the top functions)."""
    two = replace(snapshot, ranking=Ranking.TWO_STAGE)
    profiler = cProfile.Profile()
    profiler.enable()
    for request in requests:
        recommend(two, request)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def table(rows: Sequence[Row], snapshot: ModelSnapshot) -> str:
    lines = [
        f"engine CPU per recommend, {snapshot.n_items:,} products, "
        f"{rows[0].requests if rows else 0} requests (home, cart, product page, anonymous "
        "cart and home), full scoring vs two-stage ranking of the same snapshot",
        "",
        "| CF mix | full ms | two-stage ms | two-stage / full | scored mean | scored max "
        "| identical lists | top-10 overlap | ranked two-stage |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.cf_models} | {row.full_ms:.2f} | {row.two_stage_ms:.2f} | "
            f"{row.ratio:.2f} | {row.scored_mean:.0f} | {row.scored_max} | "
            f"{row.identical}/{row.requests} | {row.top10_overlap:.3f} | "
            f"{row.ranked_two_stage}/{row.requests} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class QualityRow:
    """One request kind's quality, two-stage ranking against full scoring of one build."""

    row: str
    users: int  # customers with a target
    full_ndcg: float
    full_se: float
    two_stage_ndcg: float
    two_stage_se: float
    difference: float  # two-stage minus full, the mean of the per-customer differences
    difference_se: float
    top10_overlap: float


def quality_rows(snapshot: ModelSnapshot, users: Any) -> list[QualityRow]:
    """NDCG@10 of both rankings of ``snapshot`` (which ranks in two stages) for the served
    hybrid and the same with stock and business rules, paired per customer."""
    full = replace(snapshot, ranking=Ranking.FULL)

    def hybrid(user: int) -> Request:
        return Request(user=user, limit=K, in_stock_only=False)

    def as_served(user: int) -> Request:
        return Request(user=user, limit=K)

    kinds: tuple[tuple[str, Callable[[int], Request], BusinessRules], ...] = (
        ("hybrid (served default)", hybrid, NO_POLICY),
        ("hybrid + stock + business rules", as_served, BusinessRules()),
    )
    rows = []
    for name, request, business in kinds:
        two_ranked = engine_rankings(snapshot, users, request, business)
        full_ranked = engine_rankings(full, users, request, business)
        two_ndcg = np.asarray(ndcg_at_k(two_ranked, users.targets, K), dtype=np.float64)
        full_ndcg = np.asarray(ndcg_at_k(full_ranked, users.targets, K), dtype=np.float64)
        one, other, gap = (mean_and_error(v) for v in (full_ndcg, two_ndcg, two_ndcg - full_ndcg))
        rows.append(
            QualityRow(
                row=name,
                users=int(np.sum(~np.isnan(full_ndcg))),
                full_ndcg=one.mean,
                full_se=one.standard_error,
                two_stage_ndcg=other.mean,
                two_stage_se=other.standard_error,
                difference=gap.mean,
                difference_se=gap.standard_error,
                top10_overlap=top_overlap(two_ranked, full_ranked),
            )
        )
    return rows


def run_quality_comparison(
    args: argparse.Namespace,
) -> tuple[str, int, list[QualityRow]]:
    """Split the ``--dataset`` store, build its training part with two-stage ranking and
    compare both rankings on the held-out targets: (store name, products, rows)."""

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="recograph-ranking-") as tmp:
        store = load_store(args.dataset, args.datasets_dir, Path(tmp) / "store", progress)
        protocol = args.protocol or store.protocol
        split = split_store(store.data, protocol, args.seed)
        validation = "item" if protocol == STRATIFIED else "auto"
        params = BuildParams(seed=args.seed, ranking=Ranking.TWO_STAGE.value, validation=validation)
        build_artifacts(split.train, Path(tmp) / "artifacts", params, evaluate=False)
        snapshot = load_snapshot(Path(tmp) / "artifacts")
    users = scored_users(snapshot, split, args.seed, args.max_users)
    if len(users.positions) == 0:
        raise QualityError("no customer with targets is known to the build")
    progress(f"{store.name}: {split.description}; {len(users.positions)} customers scored")
    return store.name, snapshot.n_items, quality_rows(snapshot, users)


def quality_table(name: str, products: int, rows: Sequence[QualityRow]) -> str:
    lines = [
        f"{name} ({products:,} products): NDCG@{K}, two-stage ranking vs full scoring of the "
        "same build, difference paired per customer (± standard error)",
        "",
        "| request | customers | full | two-stage | two-stage − full | top-10 overlap |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.row} | {row.users} | {row.full_ndcg:.4f} ± {row.full_se:.4f} | "
            f"{row.two_stage_ndcg:.4f} ± {row.two_stage_se:.4f} | "
            f"{row.difference:+.4f} ± {row.difference_se:.4f} | {row.top10_overlap:.3f} |"
        )
    return "\n".join(lines)


def _run_dataset(args: argparse.Namespace) -> int:
    try:
        name, products, rows = run_quality_comparison(args)
    except (DatasetError, QualityError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = {"dataset": name, "products": products, "quality": [asdict(r) for r in rows]}
    print(json.dumps(report, indent=2) if args.json else quality_table(name, products, rows))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.dataset is not None:
        return _run_dataset(args)
    if args.artifacts is None:
        print("error: give --artifacts (CPU) or --dataset (quality)", file=sys.stderr)
        return 2
    snapshot = load_snapshot(args.artifacts, mmap=True)
    requests = requests_for(snapshot, args.customers, args.seed)
    configs: list[tuple[tuple[str, float], ...] | None] = [None]
    for name in args.models:
        configs.append(tuple((part, 1.0 / len(name.split("+"))) for part in name.split("+")))
    cf_requests = [replace(r, strategy=Strategy.HYBRID) for r in requests]
    rows = [measure(snapshot, cf_requests, config, args.repeats) for config in configs]
    report: dict[str, Any] = {"products": snapshot.n_items, "rows": [asdict(r) for r in rows]}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(table(rows, snapshot))
    if args.profile:
        mix = configs[-1] if len(configs) > 1 else None
        asked = [replace(r, cf_models=mix) for r in cf_requests]
        print(f"\ncProfile, two-stage, CF mix {_mix(mix) if mix else 'served'}:")
        print(profile_two_stage(snapshot, asked, args.profile))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print(
        f"bench ranking: {args.artifacts}, {snapshot.n_items:,} products, "
        f"{len(rows)} CF configurations × {len(requests)} requests"
    )
    return 0


def _models(value: str) -> list[str]:
    names = [v for v in value.split(",") if v]
    for name in names:
        for part in name.split("+"):
            if part not in CF_ALONE:
                raise argparse.ArgumentTypeError(
                    f"unknown CF model {part!r}; expected {', '.join(CF_ALONE)}"
                )
    return names


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ranking",
        help="engine CPU per request: full scoring vs two-stage ranking, per CF model",
        description=__doc__,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--artifacts", type=Path, help="a published build: CPU per request")
    source.add_argument(
        "--dataset",
        metavar="NAME|DIR",
        help="quality instead: a public data set (movielens, online-retail, groceries, ...), "
        "demo, or a store export directory, split and built here",
    )
    parser.add_argument(
        "--datasets-dir",
        type=Path,
        default=Path("../shared/datasets"),
        help="with --dataset: where the public data sets are (default ../shared/datasets)",
    )
    parser.add_argument(
        "--protocol",
        choices=("stratified", "temporal", "last-order"),
        help="with --dataset: override the data set's split protocol",
    )
    parser.add_argument(
        "--max-users",
        type=int,
        default=2000,
        help="with --dataset: a seeded sample of at most this many customers (default 2000)",
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=DEFAULT_CUSTOMERS,
        help=f"customers sampled (5 requests each; default {DEFAULT_CUSTOMERS})",
    )
    parser.add_argument(
        "--models",
        type=_models,
        default=list(CF_ALONE),
        help="CF models (a+b: an equal mix), comma-separated, besides the served mix "
        "(default every model alone)",
    )
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="default 3")
    parser.add_argument("--seed", type=int, default=42, help="requests, split and build seed")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile top N")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    parser.set_defaults(handler=run)
