"""Tables and curves for exploring a store and its build, from the public API only.

The playbook notebook (``notebooks/techheaven.ipynb``) is written against these helpers: each
turns one public object (a `StoreData`, a `ModelSnapshot`, a `RuleSet`, an `EvaluationReport`,
a `Recommendation`) into a small pandas frame or array, so the notebook shows numbers computed
by the same code the build and the server run, never re-derived by hand.

Positions (``item``, ``user``) are catalogue and customer positions of the snapshot, as in
`recograph.engine`; frames show the store's ids next to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from recograph.build import BuildParams, BuildResult, fit_snapshot, restrict_before
from recograph.dataset import StoreData
from recograph.engine import BusinessRules, Recommendation, Request, recommend, with_limit
from recograph.evaluation.evaluate import (
    NO_POLICY,
    EvaluationReport,
    EvaluationUsers,
    evaluation_users,
    model_rows,
    random_rankings,
)
from recograph.evaluation.metrics import evaluate_rankings, metric_name
from recograph.evaluation.split import temporal_split, test_targets
from recograph.recommenders.blend import Segment, SignalName, Weights
from recograph.recommenders.content import neighbours
from recograph.recommenders.rules import RuleSet
from recograph.snapshot import BlendConfig, ModelSnapshot

# Re-exported: the notebook reaches the evaluation's user sampling and random baseline here.
__all__ = [
    "EvaluationUsers",
    "Holdout",
    "MatrixSummary",
    "also_bought",
    "category_loadings",
    "content_table",
    "curve_rows",
    "evaluation_users",
    "factor_poles",
    "history_cutoff",
    "matrix_summary",
    "metric_curves",
    "product_revenue",
    "random_rankings",
    "rankings",
    "recommendation_table",
    "replay_holdout",
    "segment_table",
    "top_share",
    "weights_frame",
]

RequestFactory = Callable[[int], Request]

TOP_N = 20
CURVE_METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "map", "hit_rate")
SEGMENTS: tuple[str, ...] = ("all", *(s.value for s in Segment))


# ---------------------------------------------------------------------------- the data


def product_revenue(data: StoreData) -> pd.DataFrame:
    """Revenue of every product over completed orders, best first: the long-tail curve.

    Columns: rank (1-based), product_id, name, category, revenue (sum of qty × price), share
    of the total and cumulative_share. Never-ordered products are included with revenue 0;
    ties go to the lower product_id.
    """
    lines = data.completed_lines()
    revenue = (lines["qty"] * lines["price"]).groupby(lines["product_id"]).sum()
    frame = data.products[["product_id", "name", "category"]].copy()
    frame["revenue"] = frame["product_id"].map(revenue).fillna(0.0).astype(np.float64)
    frame = frame.sort_values(["revenue", "product_id"], ascending=[False, True], kind="stable")
    frame = frame.reset_index(drop=True)
    total = float(frame["revenue"].sum())
    frame["share"] = frame["revenue"] / total if total > 0 else 0.0
    frame["cumulative_share"] = frame["share"].cumsum()
    frame.insert(0, "rank", np.arange(1, len(frame) + 1, dtype=np.int64))
    return frame


def top_share(revenue: pd.DataFrame, n: int = TOP_N) -> float:
    """Share of the revenue earned by the ``n`` best sellers of a `product_revenue` frame."""
    total = float(revenue["revenue"].sum())
    return float(revenue["revenue"].head(n).sum()) / total if total > 0 else math.nan


@dataclass(frozen=True)
class MatrixSummary:
    """The customers × products matrix the CF models train on, in a few numbers."""

    customers: int
    products: int
    interactions: int  # non-zero cells
    sparsity: float  # share of empty cells
    customers_without_purchases: int
    products_never_bought: int
    median_products_per_buyer: float
    median_buyers_per_product: float  # over products bought at least once


def matrix_summary(matrix: sp.spmatrix | sp.sparray) -> MatrixSummary:
    """Size, sparsity and how purchases spread over rows (customers) and columns (products)."""
    csr = sp.csr_matrix(matrix, copy=True)  # a loaded snapshot's arrays are read-only
    csr.eliminate_zeros()
    n_users, n_items = csr.shape
    per_user = np.diff(csr.indptr)
    per_item = np.bincount(csr.indices, minlength=n_items)
    cells = n_users * n_items
    return MatrixSummary(
        customers=int(n_users),
        products=int(n_items),
        interactions=int(csr.nnz),
        sparsity=1.0 - csr.nnz / cells if cells else math.nan,
        customers_without_purchases=int((per_user == 0).sum()),
        products_never_bought=int((per_item == 0).sum()),
        median_products_per_buyer=_median(per_user[per_user > 0]),
        median_buyers_per_product=_median(per_item[per_item > 0]),
    )


def _median(values: npt.NDArray[Any]) -> float:
    return float(np.median(values)) if values.size else math.nan


# ---------------------------------------------------------------------------- rules


def also_bought(rules: RuleSet, labels: Sequence[str], antecedent: str) -> pd.DataFrame:
    """The "<antecedent> buyers also buy" table: one-to-one rules from one label, by lift.

    ``labels`` names the rule set's positions (category names for category rules, product
    names for product rules). Columns: consequent, baskets (holding both), antecedent_baskets,
    consequent_baskets, n_baskets, support, confidence, lift — the counts are what the three
    ratios are computed from. Ties on lift go to higher confidence, then label order.
    """
    if len(labels) != rules.n_items:
        raise ValueError(f"need {rules.n_items} labels, got {len(labels)}")
    names = np.asarray(labels, dtype=object)
    matches = np.flatnonzero(names == antecedent)
    if matches.size != 1:
        raise KeyError(f"{antecedent!r} names {matches.size} positions, expected exactly one")
    position = int(matches[0])
    ante_len = rules.antecedent_lengths
    cons_len = np.diff(rules.consequent_indptr)
    one_to_one = np.flatnonzero((ante_len == 1) & (cons_len == 1))
    chosen = [r for r in one_to_one.tolist() if int(rules.antecedent(r)[0]) == position]
    consequents = [int(rules.consequent(r)[0]) for r in chosen]
    frame = pd.DataFrame(
        {
            "consequent": [str(names[c]) for c in consequents],
            "baskets": rules.count[chosen].astype(np.int64),
            "antecedent_baskets": rules.antecedent_count[chosen].astype(np.int64),
            "consequent_baskets": rules.consequent_count[chosen].astype(np.int64),
            "n_baskets": np.full(len(chosen), rules.n_baskets, dtype=np.int64),
            "support": rules.support[chosen],
            "confidence": rules.confidence[chosen],
            "lift": rules.lift[chosen],
            "_position": np.asarray(consequents, dtype=np.int64),
        }
    )
    frame = frame.sort_values(
        ["lift", "confidence", "_position"], ascending=[False, False, True], kind="stable"
    )
    return frame.drop(columns="_position").reset_index(drop=True)


# ---------------------------------------------------------------------------- latent factors


def category_loadings(
    item_factors: npt.ArrayLike,
    item_category: npt.ArrayLike,
    category_names: Sequence[str],
    items: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Mean latent factor of each category's products: categories × factors.

    ``item_factors`` is (n_items, f) (`SVDModel.item_factors`, `ALSModel.item_factors`),
    ``item_category`` the category position of each item. ``items`` (a boolean mask or
    positions) restricts the mean to some products, e.g. those bought at least once (products
    nobody bought have all-zero SVD factors). Columns are named ``factor 1`` … ``factor f``;
    categories without a selected product are left out.
    """
    factors = np.asarray(item_factors, dtype=np.float64)
    category = np.asarray(item_category, dtype=np.int64)
    if factors.ndim != 2 or category.shape != (factors.shape[0],):
        raise ValueError(f"item_factors {factors.shape} and item_category {category.shape} differ")
    selected = np.ones(len(category), dtype=bool)
    if items is not None:
        chosen = np.asarray(items)
        selected = np.zeros(len(category), dtype=bool)
        selected[chosen] = True
    n_categories = len(category_names)
    counts = np.bincount(category[selected], minlength=n_categories).astype(np.float64)
    sums = np.zeros((n_categories, factors.shape[1]), dtype=np.float64)
    np.add.at(sums, category[selected], factors[selected])
    present = counts > 0
    means = sums[present] / counts[present, None]
    columns = [f"factor {i + 1}" for i in range(factors.shape[1])]
    names = [str(category_names[int(c)]) for c in np.flatnonzero(present)]
    index = pd.Index(names, name="category")
    return pd.DataFrame(means, index=index, columns=columns)


def factor_poles(loadings: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """For each factor, the ``n`` categories loading highest and lowest on it.

    Factors are sorted by spread (standard deviation of their category loadings), most
    telling first; a factor's sign is arbitrary, so both poles are shown. Columns: factor,
    spread, high, low (category names joined by ", ", most extreme first).
    """
    rows = []
    for column in loadings.columns:
        values = loadings[column].sort_values(kind="stable")
        rows.append(
            {
                "factor": column,
                "spread": float(values.std(ddof=0)),
                "high": ", ".join(values.index[::-1][:n]),
                "low": ", ".join(values.index[:n]),
            }
        )
    frame = pd.DataFrame(rows, columns=["factor", "spread", "high", "low"])
    return frame.sort_values("spread", ascending=False, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------- content


def content_table(snapshot: ModelSnapshot, item: int, limit: int = 5) -> pd.DataFrame:
    """The ``limit`` nearest content neighbours of one product and the features they share."""
    catalogue = snapshot.catalogue
    matches = neighbours(snapshot.content, item, limit)
    return pd.DataFrame(
        {
            "product_id": [int(catalogue.item_ids[m.position]) for m in matches],
            "name": [str(catalogue.name[m.position]) for m in matches],
            "category": [_category(snapshot, m.position) for m in matches],
            "similarity": [m.similarity for m in matches],
            "shared": [", ".join(m.shared_features) for m in matches],
        },
        columns=["product_id", "name", "category", "similarity", "shared"],
    )


def _category(snapshot: ModelSnapshot, item: int) -> str:
    catalogue = snapshot.catalogue
    return str(catalogue.category_names[catalogue.category[item]])


# ---------------------------------------------------------------------------- recommendations


def recommendation_table(snapshot: ModelSnapshot, recommendation: Recommendation) -> pd.DataFrame:
    """One row per recommended product: rank, ids, score and the reason shown to the shopper."""
    catalogue = snapshot.catalogue
    items = recommendation.items
    return pd.DataFrame(
        {
            "rank": [i.rank for i in items],
            "product_id": [int(catalogue.item_ids[i.position]) for i in items],
            "name": [str(catalogue.name[i.position]) for i in items],
            "category": [_category(snapshot, i.position) for i in items],
            "score": [i.score for i in items],
            "reason": [i.reason.kind.value for i in items],
            "why": [i.reason.text for i in items],
        },
        columns=["rank", "product_id", "name", "category", "score", "reason", "why"],
    )


def history_cutoff(snapshot: ModelSnapshot, user: int, n_orders: int) -> int:
    """``Request.before`` (epoch seconds) under which exactly ``n_orders`` of the customer's
    completed orders count: replays the customer as they were after their n-th order.

    Raises ValueError when the customer has fewer orders, or when the n-th and the next order
    share a timestamp (no cutoff separates them).
    """
    histories = snapshot.histories
    orders = histories.completed_orders(user)
    if not 0 <= n_orders <= len(orders):
        raise ValueError(f"customer position {user} has {len(orders)} completed orders")
    dates = [int(histories.order_date[o]) for o in orders]
    cutoff = dates[0] if n_orders == 0 else dates[n_orders - 1] + 1
    if n_orders < len(dates) and dates[n_orders] < cutoff:
        raise ValueError(f"orders {n_orders} and {n_orders + 1} share a timestamp")
    return cutoff


# ---------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Holdout:
    """The build's test split replayed: the snapshot fitted before the cutoff and what each
    customer bought from the cutoff on (store ids, new-items protocol)."""

    snapshot: ModelSnapshot
    targets: Mapping[int, set[int]]
    cutoff: pd.Timestamp


def replay_holdout(data: StoreData, result: BuildResult, params: BuildParams) -> Holdout:
    """Refit the snapshot the build evaluated (same cutoff, same blend) from its manifest."""
    if result.report is None or result.report.cutoff is None:
        raise ValueError("the build was not evaluated: no test cutoff to replay")
    cutoff = pd.Timestamp(result.report.cutoff)
    blend = BlendConfig.from_dict(result.manifest.get("blend", {}))
    snapshot = fit_snapshot(restrict_before(data, cutoff), params, blend)
    targets = test_targets(temporal_split(data.completed_lines(), cutoff))
    return Holdout(snapshot=snapshot, targets=targets, cutoff=cutoff)


def curve_rows(snapshot: ModelSnapshot, names: Iterable[str]) -> dict[str, RequestFactory]:
    """Request factories by row name, as the evaluation table names them: every row of
    `model_rows` plus ``hybrid`` (the snapshot's own blend, as served)."""
    available = dict(model_rows(snapshot))
    available["hybrid"] = lambda user: Request(user=user, limit=10, in_stock_only=False)
    missing = [name for name in names if name not in available]
    if missing:
        raise KeyError(f"unknown rows {missing}; have {sorted(available)}")
    return {name: available[name] for name in names}


def rankings(
    snapshot: ModelSnapshot,
    users: EvaluationUsers,
    factory: RequestFactory,
    k: int,
    business: BusinessRules = NO_POLICY,
) -> npt.NDArray[np.int64]:
    """Each user's top ``k`` from `engine.recommend` (n_users, k); -1 pads short lists."""
    out = np.full((len(users.positions), k), -1, dtype=np.int64)
    for row, user in enumerate(users.positions.tolist()):
        result = recommend(snapshot, with_limit(factory(user), k), business)
        chosen = [item.position for item in result.items][:k]
        out[row, : len(chosen)] = chosen
    return out


def metric_curves(
    ranked: Mapping[str, npt.NDArray[np.int64]],
    users: EvaluationUsers,
    ks: Sequence[int] = tuple(range(1, 21)),
    *,
    n_items: int | None = None,
    head_items: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Precision, recall, NDCG, MAP and hit rate at every k (plus coverage and long-tail share
    when ``n_items`` / ``head_items`` are given) per row, over all users: one line per (row, k).
    """
    frames = []
    for name, recommended in ranked.items():
        result = evaluate_rankings(
            recommended, users.relevant, ks, n_items=n_items, head_items=head_items
        )
        metrics = result.row().metrics
        names = list(CURVE_METRICS)
        names += ["coverage"] if n_items is not None else []
        names += ["long_tail"] if head_items is not None else []
        frames.append(
            pd.DataFrame(
                {
                    "row": name,
                    "k": list(result.ks),
                    **{m: [metrics[metric_name(m, k)] for k in result.ks] for m in names},
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def segment_table(report: EvaluationReport, metric: str = "ndcg@10") -> pd.DataFrame:
    """One metric of every row of the evaluation table, by segment (rows × all/new/light/
    regular), with the number of users behind each segment as the last line."""
    data = {
        name: {row.segment: row.metrics.get(metric, math.nan) for row in result.rows}
        for name, result in report.results.items()
    }
    frame = pd.DataFrame.from_dict(data, orient="index")
    columns = [s for s in SEGMENTS if s in frame.columns]
    frame = frame[columns]
    first = next(iter(report.results.values()))
    users = {row.segment: float(row.users) for row in first.rows}
    frame.loc["users"] = [users.get(s, math.nan) for s in columns]
    return frame


def weights_frame(weights: Mapping[Segment, Weights]) -> pd.DataFrame:
    """Blend weights as segments × signals (each row as given, not renormalised)."""
    segments = [s for s in Segment if s in weights]
    return pd.DataFrame(
        [[weights[s].get(signal) for signal in SignalName] for s in segments],
        index=pd.Index([s.value for s in segments], name="segment"),
        columns=[signal.value for signal in SignalName],
    )
