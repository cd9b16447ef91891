"""``recograph bench quality``: recommendation quality on public data, through the served engine.

A store (a public data set converted by `recograph_lab.bench.datasets`, the demo store, or any
export directory) is split under a stated protocol; the training part is built by
`recograph.build.build_artifacts` and loaded with `recograph.snapshot.load_snapshot`, exactly
as the server does; every row but the two that have no engine strategy (random, personal
top-frequency) is ranked by `recograph.engine.recommend`. So the table measures what the
server would show, whatever the engine's filters, habits and blend are at the time.

Protocols (each report states its own):

- ``stratified``: the Microsoft Recommenders stratified split. Per customer, the distinct
  products bought are shuffled (seeded) and ``round(0.75 n)`` go to training; the rest are
  what to predict. Their lines are removed from the store the build sees. The held-out items
  were never bought in training, so "seen items removed" is the protocol: rows computed here
  leave the customer's training products out, engine rows use the engine's own filter, and the
  ``seen@10`` column counts the already-bought products an engine row still shows. Rows marked
  ``| seen removed`` are the same engine rankings with those products removed by the harness
  (the models' and the hybrid's ranking under the strict protocol); EASE's λ is chosen so.
- ``temporal``: the "next period". Orders from the build's own cutoff on (the latest ~20% of
  orders) are held out; customers with a completed order before it are scored on every product
  they bought after it, repeat purchases included, and no row removes seen items. Targets are
  also split into repeat items (bought by that customer before the cutoff) and new-to-customer
  items; each is scored on the same top 10, over the customers who have such targets.
- ``last-order``: next basket per customer. Each customer with two or more completed orders has
  the last one held out; scored like ``temporal``. Online Retail's first 10k rows span five
  days, so a global cutoff leaves only a handful of returning customers; this is its default.

EASE at its best λ: λ is chosen by NDCG@10 through the engine on a validation split carved from
the training part by the same protocol, then EASE is refitted at that λ on the training part.
Metrics are `recograph.evaluation.metrics` (binary relevance, k = 10): the mean over customers
with at least one target, and its standard error std / sqrt(n).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from recograph.build import BuildParams, build_artifacts, fit_snapshot, restrict_before
from recograph.dataset import StoreData
from recograph.engine import BusinessRules, Request, Strategy, recommend
from recograph.evaluation import split as splits
from recograph.evaluation.evaluate import NO_POLICY, model_rows, validation_summary
from recograph.evaluation.metrics import (
    EMPTY,
    average_precision_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    top_k,
)
from recograph.evaluation.next_basket import due_rankings
from recograph.recommenders.candidates import Ranking
from recograph.recommenders.ease import fit_ease
from recograph.snapshot import CF_MODELS, ModelSnapshot, load_snapshot
from recograph_lab.bench.datasets import PUBLIC, DatasetError, export_public

logger = logging.getLogger(__name__)

K = 10
STRATIFIED = "stratified"
TEMPORAL = "temporal"
LAST_ORDER = "last-order"
PROTOCOLS = (STRATIFIED, TEMPORAL, LAST_ORDER)
TRAIN_SHARE = 0.75
TEMPORAL_TEST_FRACTION = 0.2
DEFAULT_LAMBDAS = (100.0, 300.0, 1000.0, 3000.0)
DEFAULT_MAX_USERS = 2000
DEMO = "demo"
ALL, REPEAT, NEW = "all", "repeat", "new"
METRICS: tuple[tuple[str, Callable[..., npt.NDArray[np.float64]]], ...] = (
    ("ndcg", ndcg_at_k),
    ("precision", precision_at_k),
    ("recall", recall_at_k),
    ("map", average_precision_at_k),
)
PROTOCOL_TEXT = {
    STRATIFIED: (
        "stratified 75/25 split per customer (Microsoft Recommenders; random per customer, "
        "seed {seed}), k=10, seen items removed (engine rows: the engine's own filter; "
        "seen@10 = already-bought products still shown)"
    ),
    TEMPORAL: (
        "temporal next period: latest ~20% of orders held out (cutoff {cutoff}), returning "
        "customers only, k=10, every product bought after the cutoff is a target (repeats "
        "included), no seen filter applied by the harness; repeat / new targets also scored "
        "separately on the same top 10"
    ),
    LAST_ORDER: (
        "next basket: each customer with 2+ completed orders has the last one held out (by "
        "date, then order id), k=10, every product of it is a target (repeats included), no "
        "seen filter applied by the harness; repeat / new targets also scored separately"
    ),
}

Progress = Callable[[str], None]
Rankings = npt.NDArray[np.int64]


class QualityError(ValueError):
    """The store cannot be measured under the protocol (the message says why)."""


# ---------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class HarnessSplit:
    """A store cut for measurement: what the build sees and what each customer went on to buy
    (product ids), with what the customer had bought in training."""

    protocol: str
    description: str
    train: StoreData
    targets: dict[int, set[int]]
    history: dict[int, set[int]]


def _history(train: StoreData) -> dict[int, set[int]]:
    pairs = train.completed_lines()[["customer_id", "product_id"]].drop_duplicates()
    out: dict[int, set[int]] = {}
    for customer, product in zip(
        pairs["customer_id"].tolist(), pairs["product_id"].tolist(), strict=True
    ):
        out.setdefault(int(customer), set()).add(int(product))
    return out


def _grouped(customers: Sequence[int], products: Sequence[int]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for customer, product in zip(customers, products, strict=True):
        out.setdefault(int(customer), set()).add(int(product))
    return out


def stratified_split(data: StoreData, seed: int, train_share: float = TRAIN_SHARE) -> HarnessSplit:
    """Per customer, ``round(train_share · n)`` of the n distinct products bought (a seeded
    random choice) stay in training; every line of the others, in any order, is removed from the
    store the build sees and the products become the customer's targets."""
    lines = data.completed_lines()
    pairs = (
        lines[["customer_id", "product_id"]]
        .drop_duplicates()
        .sort_values(["customer_id", "product_id"], kind="stable")
    )
    rng = np.random.default_rng(seed)
    pairs = pairs.assign(draw=rng.random(len(pairs))).sort_values(
        ["customer_id", "draw"], kind="stable"
    )
    rank = pairs.groupby("customer_id").cumcount().to_numpy()
    size = pairs.groupby("customer_id")["product_id"].transform("size").to_numpy()
    held_out = rank >= np.round(train_share * size)
    test = pairs.loc[held_out, ["customer_id", "product_id"]]
    owner = data.orders[["order_id", "customer_id"]]
    items = data.order_items.merge(owner, on="order_id", how="left")
    drop = items.merge(test, on=["customer_id", "product_id"], how="left", indicator=True)
    kept = data.order_items.loc[(drop["_merge"] == "left_only").to_numpy()]
    orders = data.orders[data.orders["order_id"].isin(kept["order_id"])]
    train = replace(data, orders=orders, order_items=kept.reset_index(drop=True))
    targets = _grouped(test["customer_id"].tolist(), test["product_id"].tolist())
    return HarnessSplit(
        STRATIFIED,
        PROTOCOL_TEXT[STRATIFIED].format(seed=seed),
        train,
        targets,
        _history(train),
    )


def temporal_holdout(data: StoreData, fraction: float = TEMPORAL_TEST_FRACTION) -> HarnessSplit:
    """Orders from `split.choose_cutoff` on are held out; customers with a completed order
    before the cutoff are scored on every product they bought from it on."""
    lines = data.completed_lines()
    if lines["order_date"].nunique() < 2:
        raise QualityError("a temporal split needs completed orders on at least two dates")
    cutoff = splits.choose_cutoff(lines, fraction)
    train = restrict_before(data, cutoff)
    history = _history(train)
    after = lines[(lines["order_date"] >= cutoff) & lines["customer_id"].isin(list(history))]
    targets = _grouped(after["customer_id"].tolist(), after["product_id"].tolist())
    return HarnessSplit(
        TEMPORAL, PROTOCOL_TEXT[TEMPORAL].format(cutoff=cutoff), train, targets, history
    )


def last_order_holdout(data: StoreData) -> HarnessSplit:
    """Each customer's last completed order (latest date, then highest id) is held out when
    the customer has another completed order; every other order stays in training."""
    lines = data.completed_lines()
    orders = lines.drop_duplicates("order_id").sort_values(
        ["customer_id", "order_date", "order_id"], kind="stable"
    )
    counts = orders.groupby("customer_id")["order_id"].transform("size")
    last = orders[(counts >= 2).to_numpy()].drop_duplicates("customer_id", keep="last")
    held = set(last["order_id"].tolist())
    kept_orders = data.orders[~data.orders["order_id"].isin(held)]
    kept_items = data.order_items[~data.order_items["order_id"].isin(held)]
    train = replace(data, orders=kept_orders, order_items=kept_items.reset_index(drop=True))
    after = lines[lines["order_id"].isin(held)]
    targets = _grouped(after["customer_id"].tolist(), after["product_id"].tolist())
    return HarnessSplit(LAST_ORDER, PROTOCOL_TEXT[LAST_ORDER], train, targets, _history(train))


def split_store(data: StoreData, protocol: str, seed: int) -> HarnessSplit:
    if protocol == STRATIFIED:
        return stratified_split(data, seed)
    if protocol == TEMPORAL:
        return temporal_holdout(data)
    if protocol == LAST_ORDER:
        return last_order_holdout(data)
    raise QualityError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")


# ---------------------------------------------------------------------------- users


@dataclass(frozen=True)
class Users:
    """The customers scored (snapshot positions) and, per customer, target and history
    positions; ``remove_seen`` says whether the harness's own rows leave history out."""

    positions: npt.NDArray[np.int64]
    targets: list[set[int]]
    history: list[set[int]]
    remove_seen: bool

    def relevant(self, kind: str) -> list[set[int]]:
        if kind == REPEAT:
            return [t & h for t, h in zip(self.targets, self.history, strict=True)]
        if kind == NEW:
            return [t - h for t, h in zip(self.targets, self.history, strict=True)]
        return self.targets

    @property
    def has_repeats(self) -> bool:
        return any(t & h for t, h in zip(self.targets, self.history, strict=True))


def scored_users(snapshot: ModelSnapshot, split: HarnessSplit, seed: int, max_users: int) -> Users:
    """Customers with targets known to the snapshot, in id order (a seeded sample of
    ``max_users`` when there are more)."""
    ids = np.array(sorted(split.targets), dtype=np.int64)
    positions = snapshot.histories.index.positions(ids)
    keep = positions >= 0
    ids, positions = ids[keep], positions[keep]
    if len(ids) > max_users:
        chosen = np.sort(np.random.default_rng(seed).choice(len(ids), max_users, replace=False))
        ids, positions = ids[chosen], positions[chosen]
    index = snapshot.catalogue.index

    def to_positions(products: set[int]) -> set[int]:
        found = index.positions(np.array(sorted(products), dtype=np.int64))
        return {int(p) for p in found if p >= 0}

    targets = [to_positions(split.targets[int(c)]) for c in ids.tolist()]
    history = [to_positions(split.history.get(int(c), set())) for c in ids.tolist()]
    return Users(positions.astype(np.int64), targets, history, split.protocol == STRATIFIED)


# ---------------------------------------------------------------------------- rankings


def engine_rankings(
    snapshot: ModelSnapshot,
    users: Users,
    request: Callable[[int], Request],
    business: BusinessRules = NO_POLICY,
    *,
    drop_seen: bool = False,
) -> Rankings:
    """Each customer's top 10 from `engine.recommend`, as item positions (-1: empty slot).

    With ``drop_seen`` the engine is asked for 10 + (products bought in training) items and
    the harness removes those products: the engine's ranking under the protocol's "seen items
    removed", whatever the engine's own filter lets through."""
    out = np.full((len(users.positions), K), EMPTY, dtype=np.int64)
    for row, user in enumerate(users.positions.tolist()):
        asked = request(user)
        seen = users.history[row] if drop_seen else set()
        if seen:
            asked = replace(asked, limit=K + len(seen))
        items = recommend(snapshot, asked, business).items
        chosen = [item.position for item in items if item.position not in seen][:K]
        out[row, : len(chosen)] = chosen
    return out


def _seen_vector(users: Users, row: int, n_items: int) -> npt.NDArray[np.bool_] | None:
    """The products to leave out of row ``row``: its training purchases when the protocol
    removes seen items, else None."""
    if not users.remove_seen:
        return None
    mask = np.zeros(n_items, dtype=np.bool_)
    mask[sorted(users.history[row])] = True
    return mask


def random_rankings(snapshot: ModelSnapshot, users: Users, seed: int) -> Rankings:
    """Products in a seeded random order per customer (seen ones left out when the protocol
    removes them); one customer at a time, so memory stays one catalogue vector."""
    rng = np.random.default_rng(seed)
    out = np.full((len(users.positions), K), EMPTY, dtype=np.int64)
    for row in range(len(users.positions)):
        scores = rng.random(snapshot.n_items)
        out[row] = top_k(scores, K, _seen_vector(users, row, snapshot.n_items))
    return out


def personal_top_frequency(snapshot: ModelSnapshot, users: Users) -> Rankings:
    """Each customer's own products by how many of their training orders held them (ties:
    more buyers overall, then lower position), then the best sellers (distinct buyers) they
    did not buy: the "P-TopFreq" baseline of next-basket research."""
    buyers = np.asarray(snapshot.popularity.overall, dtype=np.float64)
    tie_break = buyers / (buyers.max() + 1.0) if buyers.size else buyers
    histories = snapshot.histories
    out = np.full((len(users.positions), K), EMPTY, dtype=np.int64)
    for row, user in enumerate(users.positions.tolist()):
        scores = tie_break.copy()
        for order in histories.completed_orders(user):
            scores[np.unique(histories.order_items(order))] += 1.0
        out[row] = top_k(scores, K, _seen_vector(users, row, snapshot.n_items))
    return out


# ---------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Metric:
    mean: float
    standard_error: float


@dataclass(frozen=True)
class RowResult:
    """One row of the table: a ranking scored on one kind of target."""

    row: str
    targets: str  # all, repeat or new
    users: int
    metrics: Mapping[str, Metric]
    seen: float  # mean already-bought products among the top 10

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "targets": self.targets,
            "users": self.users,
            **{f"{name}@{K}": _json(m.mean) for name, m in self.metrics.items()},
            **{f"{name}@{K}_se": _json(m.standard_error) for name, m in self.metrics.items()},
            f"seen@{K}": _json(self.seen),
        }


def _json(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def mean_and_error(values: npt.NDArray[np.float64]) -> Metric:
    """Mean over the defined (non-NaN) values and its standard error std/sqrt(n) (population
    std, ddof=0); NaN for no value, error 0 for one."""
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return Metric(math.nan, math.nan)
    return Metric(float(defined.mean()), float(defined.std() / math.sqrt(defined.size)))


def seen_count(recommended: Rankings, history: list[set[int]]) -> npt.NDArray[np.float64]:
    """Per customer, how many of the first k slots hold a product bought in training."""
    return np.array(
        [
            sum(1 for i in row.tolist() if i in seen)
            for row, seen in zip(recommended, history, strict=True)
        ],
        dtype=np.float64,
    )


def score_rows(
    name: str, recommended: Rankings, users: Users, kinds: Sequence[str]
) -> list[RowResult]:
    """The row's metrics on each kind of target, each over the customers who have such targets."""
    seen = seen_count(recommended, users.history)
    out = []
    for kind in kinds:
        relevant = users.relevant(kind)
        has = np.array([len(r) > 0 for r in relevant], dtype=np.bool_)
        metrics = {
            metric: mean_and_error(np.asarray(fn(recommended, relevant, K), dtype=np.float64))
            for metric, fn in METRICS
        }
        out.append(
            RowResult(
                name,
                kind,
                int(has.sum()),
                metrics,
                float(seen[has].mean()) if has.any() else math.nan,
            )
        )
    return out


# ---------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class QualityReport:
    dataset: str
    source: str
    protocol: str
    users: int
    rows: list[RowResult]
    ease_lambda: float | None
    validation: Mapping[str, float | None]  # λ -> validation NDCG@10 of EASE via the engine
    served_cf_models: list[list[Any]]
    seconds: float
    cpu_seconds: float  # this process, all threads: comparable on a shared machine
    timings: Mapping[str, float] = field(default_factory=dict)
    # Per hybrid row: the mean share of a customer's top 10 that two-stage ranking and full
    # scoring of the same build have in common (the "| full scoring" rows are the latter).
    full_scoring_overlap: Mapping[str, float] = field(default_factory=dict)
    # The build's own validation decisions (its manifest's ``validation``: protocol, CF
    # models, the model choice per segment and page kind), which the rows above test.
    build_validation: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "source": self.source,
            "protocol": self.protocol,
            "k": K,
            "users": self.users,
            "ease_lambda": self.ease_lambda,
            "ease_validation_ndcg@10": dict(self.validation),
            "served_cf_models": self.served_cf_models,
            "seconds": round(self.seconds, 1),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
            "rows": [row.to_dict() for row in self.rows],
            "full_scoring_top10_overlap": {
                k: round(v, 4) for k, v in self.full_scoring_overlap.items()
            },
            "build_validation": dict(self.build_validation),
        }

    def table(self) -> str:
        header = [
            "row",
            "targets",
            "users",
            f"nDCG@{K}",
            "±SE",
            f"P@{K}",
            f"R@{K}",
            f"MAP@{K}",
            f"seen@{K}",
        ]
        body = [
            [
                r.row,
                r.targets,
                str(r.users),
                _cell(r.metrics["ndcg"].mean),
                _cell(r.metrics["ndcg"].standard_error),
                _cell(r.metrics["precision"].mean),
                _cell(r.metrics["recall"].mean),
                _cell(r.metrics["map"].mean),
                _cell(r.seen, 2),
            ]
            for r in self.rows
        ]
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

        def render(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        lam = "-" if self.ease_lambda is None else f"{self.ease_lambda:g}"
        lines = [
            f"dataset:  {self.dataset} ({self.source})",
            f"protocol: {self.protocol}",
            f"served CF mix: {self.served_cf_models}; EASE best λ on validation: {lam} "
            f"(validation NDCG@10 by λ: {dict(self.validation)})",
            f"customers scored: {self.users}; wall time {self.seconds:.0f} s "
            f"(CPU {self.cpu_seconds:.0f} s)",
            "",
            render(header),
            "  ".join("-" * w for w in widths),
            *(render(line) for line in body),
        ]
        if self.full_scoring_overlap:
            shared = ", ".join(f"{k} {v:.3f}" for k, v in self.full_scoring_overlap.items())
            lines += ["", f"top-{K} overlap of two-stage ranking with full scoring: {shared}"]
        if self.build_validation:
            lines += ["", "the build's " + validation_summary(self.build_validation)]
        return "\n".join(lines) + "\n"


def _cell(value: float, digits: int = 4) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _single_model(name: str) -> Callable[[int], Request]:
    def request(user: int) -> Request:
        return Request(
            user=user,
            limit=K,
            in_stock_only=False,
            strategy=Strategy.COLLABORATIVE,
            cf_models=((name, 1.0),),
        )

    return request


def _with_ease(snapshot: ModelSnapshot, l2: float) -> ModelSnapshot:
    return snapshot.with_cf_model("ease", fit_ease(snapshot.interactions, l2=l2))


def choose_ease_lambda(
    train: StoreData,
    protocol: str,
    params: BuildParams,
    lambdas: Sequence[float],
    max_users: int,
    progress: Progress,
) -> tuple[float | None, dict[str, float | None]]:
    """λ with the best NDCG@10 of EASE through the engine on a validation split carved from
    the training part by the same protocol (seed + 1); None when that split is empty."""
    try:
        validation = split_store(train, protocol, params.seed + 1)
    except (QualityError, ValueError) as exc:
        progress(f"no validation split for EASE λ ({exc})")
        return None, {}
    snapshot = fit_snapshot(validation.train, params)
    users = scored_users(snapshot, validation, params.seed, max_users)
    if len(users.positions) == 0:
        return None, {}
    scores: dict[str, float | None] = {}
    best: tuple[float, float] | None = None
    for l2 in lambdas:
        recommended = engine_rankings(
            _with_ease(snapshot, l2), users, _single_model("ease"), drop_seen=users.remove_seen
        )
        value = mean_and_error(
            np.asarray(ndcg_at_k(recommended, users.targets, K), dtype=np.float64)
        ).mean
        scores[f"{l2:g}"] = _json(value)
        progress(f"validation EASE λ={l2:g}: NDCG@10 {value:.4f} ({len(users.positions)} users)")
        if not math.isnan(value) and (best is None or value > best[1]):
            best = (l2, value)
    return (None if best is None else best[0]), scores


def run_quality(
    data: StoreData,
    *,
    dataset: str,
    source: str,
    protocol: str,
    params: BuildParams | None = None,
    tune: bool = False,
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    max_users: int = DEFAULT_MAX_USERS,
    progress: Progress | None = None,
) -> QualityReport:
    """The whole harness on one store: split, build, every row through the engine, metrics."""
    params = params or BuildParams()
    if protocol == STRATIFIED and params.validation == "auto":
        # Validation that matches the test: products held out at random, not the last order.
        params = replace(params, validation="item")
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    cpu_started = time.process_time()
    timings: dict[str, float] = {}

    def note(message: str) -> None:
        say(f"[{time.perf_counter() - started:7.1f}s] {message}")

    split = split_store(data, protocol, params.seed)
    if not split.targets:
        raise QualityError(f"the {protocol} split leaves no customer with a target to predict")
    note(f"split: {len(split.targets)} customers with targets")
    with tempfile.TemporaryDirectory(prefix="recograph-quality-") as tmp:
        mark = time.perf_counter()
        built = build_artifacts(split.train, Path(tmp), params, tune=tune)
        if built.path is None:
            raise QualityError("the build published nothing")
        snapshot = load_snapshot(Path(tmp))
        timings["build"] = time.perf_counter() - mark
    leads = {page.value: lead for page, lead in snapshot.blend.page_leads.items()}
    note(
        f"built the training part ({timings['build']:.0f} s): CF mix {snapshot.blend.cf_models}, "
        f"page leads {leads}, due_par {snapshot.blend.due_par}"
    )
    users = scored_users(snapshot, split, params.seed, max_users)
    if len(users.positions) == 0:
        raise QualityError("no customer with targets is known to the build")
    kinds = [ALL, REPEAT, NEW] if users.has_repeats else [ALL]
    rows: list[RowResult] = []

    def add(name: str, recommended: Rankings) -> None:
        rows.extend(score_rows(name, recommended, users, kinds))
        # every figure of the row on all targets, so a run stopped early still reports it
        m = rows[-len(kinds)].metrics
        note(
            f"{name}: NDCG@10 {m['ndcg'].mean:.4f} ±{m['ndcg'].standard_error:.4f}, "
            f"P {m['precision'].mean:.4f}, R {m['recall'].mean:.4f}, MAP {m['map'].mean:.4f} "
            f"({len(users.positions)} users)"
        )

    add("random", random_rankings(snapshot, users, params.seed))
    add("personal top-frequency", personal_top_frequency(snapshot, users))
    add("buy again when due", due_rankings(snapshot, users.positions))
    single: dict[str, tuple[Callable[[int], Request], Rankings]] = {}
    for name, request in model_rows(snapshot).items():
        single[name] = (request, engine_rankings(snapshot, users, request))
        add(name, single[name][1])
    mark = time.perf_counter()
    best, validation = choose_ease_lambda(split.train, protocol, params, lambdas, max_users, note)
    if best is not None:
        add(
            f"ease (λ={best:g}, validation)",
            engine_rankings(_with_ease(snapshot, best), users, _single_model("ease")),
        )
    timings["ease_lambda"] = time.perf_counter() - mark

    def hybrid(user: int) -> Request:
        return Request(user=user, limit=K, in_stock_only=False)

    hybrid_ranked = engine_rankings(snapshot, users, hybrid)
    add("hybrid (served default)", hybrid_ranked)

    def as_served(user: int) -> Request:
        return Request(user=user, limit=K)

    served = engine_rankings(snapshot, users, as_served, BusinessRules())
    add("hybrid + stock + business rules", served)
    overlap: dict[str, float] = {}
    if snapshot.ranking is Ranking.TWO_STAGE:
        # The same build scored over the whole catalogue, side by side (`--ranking full`).
        full = replace(snapshot, ranking=Ranking.FULL)
        # Each CF model alone too: their candidates are stored lists or sparse supports.
        alone = [(n, r, NO_POLICY, m) for n, (r, m) in single.items() if n in CF_MODELS]
        for name, request, policy, mine in (
            *alone,
            ("hybrid (served default)", hybrid, NO_POLICY, hybrid_ranked),
            ("hybrid + stock + business rules", as_served, BusinessRules(), served),
        ):
            ranked = engine_rankings(full, users, request, policy)
            add(f"{name} | full scoring", ranked)
            overlap[name] = top_overlap(mine, ranked)
    if users.remove_seen:
        strict = {name: _single_model(name) for name in model_rows(snapshot) if name in CF_MODELS}
        for name, request in strict.items():
            add(f"{name} | seen removed", engine_rankings(snapshot, users, request, drop_seen=True))
        if best is not None:
            add(
                f"ease (λ={best:g}) | seen removed",
                engine_rankings(
                    _with_ease(snapshot, best), users, _single_model("ease"), drop_seen=True
                ),
            )
        add(
            "hybrid (served default) | seen removed",
            engine_rankings(snapshot, users, hybrid, drop_seen=True),
        )
    return QualityReport(
        dataset=dataset,
        source=source,
        protocol=split.description,
        users=len(users.positions),
        rows=rows,
        ease_lambda=best,
        validation=validation,
        served_cf_models=[[n, w] for n, w in snapshot.blend.cf_models],
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
        timings=timings,
        full_scoring_overlap=overlap,
        build_validation=built.manifest.get("validation", {}),
    )


def top_overlap(first: Rankings, second: Rankings) -> float:
    """The mean share of a row's items (empty slots aside) that both rankings hold."""
    shares = []
    for a, b in zip(first.tolist(), second.tolist(), strict=True):
        kept = {p for p in b if p != EMPTY}
        if kept:
            shares.append(len({p for p in a if p != EMPTY} & kept) / len(kept))
    return float(np.mean(shares)) if shares else float("nan")


# ---------------------------------------------------------------------------- command


@dataclass(frozen=True)
class Store:
    name: str
    source: str
    protocol: str
    data: StoreData


def load_store(dataset: str, datasets_dir: Path, work: Path, progress: Progress) -> Store:
    """``dataset`` as a validated store: a public data set converted into ``work``, the demo
    store generated into ``work``, or an export directory read as is."""
    from recograph.io.reader import read_store

    if dataset in PUBLIC:
        info = PUBLIC[dataset]
        progress(f"converting {dataset} from {datasets_dir} ({info.conversion})")
        folder = export_public(dataset, datasets_dir, work / dataset)
        name, source, protocol = dataset, f"{info.source}; {info.conversion}", info.protocol
    elif dataset == DEMO:
        from recograph_lab.demo.generator import generate_store

        folder = work / DEMO
        progress("generating the TechHeaven demo store (seed 42, scale 1)")
        generate_store(folder, seed=42, scale=1.0)
        name, source, protocol = DEMO, "TechHeaven demo store, seed 42, scale 1", TEMPORAL
    else:
        folder = Path(dataset)
        if not folder.is_dir():
            known = ", ".join([*PUBLIC, DEMO])
            raise DatasetError(
                f"--dataset {dataset!r} is neither a known data set ({known}) nor a directory"
            )
        name, source, protocol = folder.name, f"store export {folder}", TEMPORAL
    result = read_store(folder)
    if result.rejects:
        progress(f"{len(result.rejects)} rows rejected while reading {folder} (left out)")
    if result.data.completed_lines().empty:
        raise DatasetError(f"{folder}: the store has no completed order with lines")
    return Store(name, source, protocol, result.data)


def _lambdas(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of numbers: {text!r}"
        ) from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"λ values must be positive numbers, got {text!r}")
    return values


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "quality",
        help="recommendation quality on public data sets, the demo store or any export",
        description=(
            "Split a store under a stated protocol, build the training part with the served "
            "build, and report NDCG/P/R/MAP@10 with standard errors for random, popularity, "
            "personal top-frequency, every single model, EASE at its validation-chosen λ and "
            "the served hybrid, all ranked by the engine the server uses."
        ),
    )
    parser.add_argument(
        "--dataset",
        required=True,
        metavar="NAME|DIR",
        help=f"one of {', '.join([*PUBLIC, DEMO])}, or a store export directory",
    )
    parser.add_argument(
        "--datasets-dir",
        type=Path,
        default=Path("../shared/datasets"),
        help="where the public data sets are (default ../shared/datasets)",
    )
    parser.add_argument("--protocol", choices=PROTOCOLS, help="override the data set's protocol")
    parser.add_argument("--seed", type=int, default=42, help="split and build seed")
    parser.add_argument("--tune", action="store_true", help="build with --tune")
    parser.add_argument(
        "--max-users",
        type=_positive,
        default=DEFAULT_MAX_USERS,
        help=f"score a seeded sample of at most this many customers (default {DEFAULT_MAX_USERS})",
    )
    parser.add_argument(
        "--ease-lambdas",
        type=_lambdas,
        default=DEFAULT_LAMBDAS,
        help="EASE λ grid searched on validation (default 100,300,1000,3000)",
    )
    parser.add_argument("--export", type=Path, help="keep the converted store export here")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--out", type=Path, help="also write the JSON report to this file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    out = stdout or sys.stdout

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        with tempfile.TemporaryDirectory(prefix="recograph-datasets-") as tmp:
            work = args.export or Path(tmp)
            store = load_store(args.dataset, args.datasets_dir, work, progress)
            report = run_quality(
                store.data,
                dataset=store.name,
                source=store.source,
                protocol=args.protocol or store.protocol,
                params=BuildParams(seed=args.seed),
                tune=args.tune,
                lambdas=args.ease_lambdas,
                max_users=args.max_users,
                progress=progress,
            )
    except (DatasetError, QualityError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data = report.to_dict()
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    out.write(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n" if args.json else report.table()
    )
    return 0
