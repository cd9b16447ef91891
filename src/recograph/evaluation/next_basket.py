"""Repeat and explore items scored apart, the way next-basket research does.

"A Next Basket Recommendation Reality Check" (Li et al., 2023) showed that a recommender's
score on the next purchases is mostly its score on *repeat* items (bought before), which the
personal top-frequency baseline (P-TopFreq: each customer's own products by how many of their
orders held them) already ranks well; what a model adds is on *explore* items (new to the
customer). So every row is scored twice on the same top 10 of the test period's purchases,
repeats included: on the repeat targets and on the explore targets, each over the customers
who have such targets (recall@10 and nDCG@10, with standard errors).

Rows: P-TopFreq; "buy again when due", the due-date signal alone (`engine.due_items`: the
customer's products that come back, by their chance of being re-bought soon); and the served
hybrid (`engine.recommend`, business rules off), which mixes that signal in.

How strongly the served hybrid mixes it in (`BlendConfig.due_par`) is the store's own choice
(`choose_due_par`), made on the validation split scored the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from recograph.engine import Context, Request, build_profile, due_items, recommend
from recograph.evaluation.evaluate import (
    K_MAX,
    MIN_DECISION_CUSTOMERS,
    NO_POLICY,
    Estimate,
    EvaluationUsers,
    evaluation_users,
    page_stack,
    served_ndcg,
)
from recograph.evaluation.metrics import EMPTY, ndcg_at_k, recall_at_k, top_k
from recograph.evaluation.split import Split, test_targets
from recograph.snapshot import DEFAULT_DUE_PAR, ModelSnapshot

Rankings = npt.NDArray[np.int64]
PTF = "personal top-frequency"
DUE = "buy again when due"
HYBRID = "hybrid (served)"
REPEAT, EXPLORE = "repeat", "explore"


def personal_top_frequency(snapshot: ModelSnapshot, users: npt.NDArray[np.int64]) -> Rankings:
    """Each customer's own products by how many of their completed orders held them (ties:
    more buyers overall, then lower position), then the best sellers they did not buy."""
    buyers = np.asarray(snapshot.popularity.overall, dtype=np.float64)
    tie_break = buyers / (buyers.max() + 1.0) if buyers.size else buyers
    histories = snapshot.histories
    out = np.full((len(users), K_MAX), EMPTY, dtype=np.int64)
    for row, user in enumerate(users.tolist()):
        scores = tie_break.copy()
        for order in histories.completed_orders(user):
            scores[np.unique(histories.order_items(order))] += 1.0
        out[row] = top_k(scores, K_MAX)
    return out


def due_rankings(snapshot: ModelSnapshot, users: npt.NDArray[np.int64]) -> Rankings:
    """The due-date signal alone: each customer's products that come back, most likely to be
    re-bought soon first (ties by position); nothing else."""
    out = np.full((len(users), K_MAX), EMPTY, dtype=np.int64)
    for row, user in enumerate(users.tolist()):
        due = due_items(snapshot, build_profile(snapshot, user))
        ranked = sorted(due, key=lambda d: (-d.chance_soon, d.position))[:K_MAX]
        out[row, : len(ranked)] = [d.position for d in ranked]
    return out


def hybrid_rankings(snapshot: ModelSnapshot, users: npt.NDArray[np.int64]) -> Rankings:
    """The served hybrid's top 10 (no page, stock filter and business rules off)."""
    out = np.full((len(users), K_MAX), EMPTY, dtype=np.int64)
    for row, user in enumerate(users.tolist()):
        request = Request(user=user, limit=K_MAX, in_stock_only=False)
        chosen = [item.position for item in recommend(snapshot, request, NO_POLICY).items]
        out[row, : len(chosen)] = chosen
    return out


def _mean_and_error(values: npt.NDArray[np.float64]) -> tuple[float | None, float | None]:
    if values.size == 0:
        return None, None
    error = float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else None
    return round(float(values.mean()), 4), None if error is None else round(error, 4)


def _scores(recommended: Rankings, relevant: list[set[int]]) -> dict[str, Any]:
    has = np.array([bool(r) for r in relevant], dtype=np.bool_)
    if not has.any():
        return {"users": 0, "recall@10": None, "recall_se": None, "ndcg@10": None, "ndcg_se": None}
    chosen = [r for r in relevant if r]
    recall, recall_se = _mean_and_error(
        np.asarray(recall_at_k(recommended[has], chosen, K_MAX), dtype=np.float64)
    )
    ndcg, ndcg_se = _mean_and_error(
        np.asarray(ndcg_at_k(recommended[has], chosen, K_MAX), dtype=np.float64)
    )
    return {
        "users": int(has.sum()),
        "recall@10": recall,
        "recall_se": recall_se,
        "ndcg@10": ndcg,
        "ndcg_se": ndcg_se,
    }


def repeat_and_explore(
    snapshot: ModelSnapshot, split: Split, seed: int, max_users: int
) -> tuple[EvaluationUsers, list[set[int]], list[set[int]]]:
    """The scored customers of ``split``'s test period and, per customer, their held-out
    products bought before (repeat) and new to them (explore)."""
    targets = test_targets(split, include_repeats=True)
    users = evaluation_users(snapshot, targets, seed, max_users)
    matrix = snapshot.interactions
    owned = [
        set(matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]].tolist())
        for u in users.positions.tolist()
    ]
    repeat = [t & o for t, o in zip(users.relevant, owned, strict=True)]
    explore = [t - o for t, o in zip(users.relevant, owned, strict=True)]
    return users, repeat, explore


def next_basket_table(
    snapshot: ModelSnapshot, split: Split, seed: int, max_users: int = 3000
) -> dict[str, Any]:
    """Recall@10 and nDCG@10 on repeat and on explore targets of ``split``'s test period for
    P-TopFreq, the due-date signal and the served hybrid (``snapshot`` fitted on its train)."""
    users, repeat, explore = repeat_and_explore(snapshot, split, seed, max_users)
    rankers: dict[str, Callable[[ModelSnapshot, npt.NDArray[np.int64]], Rankings]] = {
        PTF: personal_top_frequency,
        DUE: due_rankings,
        HYBRID: hybrid_rankings,
    }
    rows: dict[str, dict[str, Any]] = {}
    for name, ranker in rankers.items():
        recommended = ranker(snapshot, users.positions)
        rows[name] = {REPEAT: _scores(recommended, repeat), EXPLORE: _scores(recommended, explore)}
    return {"users": len(users.positions), "k": K_MAX, "rows": rows}


def format_next_basket(table: dict[str, Any]) -> str:
    """The table as `recograph build` prints it."""
    rows = table["rows"]
    first: dict[str, Any] = next(iter(rows.values()), {})
    n_repeat = first.get(REPEAT, {}).get("users", 0)
    n_explore = first.get(EXPLORE, {}).get("users", 0)
    lines = [
        f"repeat and explore items on the test period ({table['users']} customers: "
        f"{n_repeat} re-bought a product, {n_explore} bought a new one)",
        f"{'':<24} {'repeat R@10':>11} {'nDCG@10':>8} {'± se':>7}"
        f" {'explore R@10':>12} {'nDCG@10':>8} {'± se':>7}",
    ]

    def cell(value: float | None, width: int) -> str:
        return f"{'-' if value is None else f'{value:.4f}':>{width}}"

    for name, row in rows.items():
        r, e = row[REPEAT], row[EXPLORE]
        lines.append(
            f"{name:<24} {cell(r['recall@10'], 11)} {cell(r['ndcg@10'], 8)} "
            f"{cell(r['ndcg_se'], 7)} {cell(e['recall@10'], 12)} {cell(e['ndcg@10'], 8)} "
            f"{cell(e['ndcg_se'], 7)}"
        )
    return "\n".join(lines)


# The values of `BlendConfig.due_par` tried on validation: from lifting a product due at 5 %
# to the best new product's score, to needing 80 %.
DUE_PAR_CANDIDATES = (0.05, 0.1, 0.2, 0.4, 0.8)
DUE_PAR_RULE = (
    "of the values tried, the best repeat nDCG@10 among those whose explore nDCG@10 is within "
    "one standard error of the best explore nDCG@10 (the best's per-customer standard "
    "deviation / sqrt(n); ties: the larger, more conservative value); fewer than "
    f"{MIN_DECISION_CUSTOMERS} customers with re-bought or with new products, or no "
    "last-order holdout: the default"
)


def best_repeat_keeping_explore(
    repeat: Mapping[float, npt.NDArray[np.float64]],
    explore: Mapping[float, npt.NDArray[np.float64]],
) -> tuple[float, float, list[float]]:
    """The due-par rule over per-customer scores of each candidate value (repeat customers and
    explore customers each the same across values): the value with the best explore mean
    (ties: the larger), the values within one standard error of it, and of those the one
    with the best repeat mean (ties: the larger). Returns (chosen, best explore, within)."""
    explore_means = {par: Estimate.of(v).mean for par, v in explore.items()}
    repeat_means = {par: Estimate.of(v).mean for par, v in repeat.items()}
    best = max(explore, key=lambda par: (explore_means[par], par))
    error = Estimate.of(explore[best]).standard_error
    within = sorted(p for p in explore if explore_means[p] >= explore_means[best] - error)
    chosen = max(within, key=lambda par: (repeat_means[par], par))
    return chosen, best, within


@dataclass(frozen=True)
class DueParChoice:
    """The served `BlendConfig.due_par` and the validation evidence behind it. ``outcome``:
    "chosen" (by `DUE_PAR_RULE`) or "too few" / "no last-order holdout" (the default)."""

    due_par: float
    outcome: str
    repeat: Mapping[float, Estimate]
    explore: Mapping[float, Estimate]
    best_explore: float | None = None
    within_one_se: tuple[float, ...] = ()
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "due_par": self.due_par,
            "outcome": self.outcome,
            "repeat_ndcg@10": {str(p): e.to_dict() for p, e in self.repeat.items()},
            "explore_ndcg@10": {str(p): e.to_dict() for p, e in self.explore.items()},
            "best_explore": self.best_explore,
            "within_one_se": list(self.within_one_se),
            "reason": self.reason,
            "rule": DUE_PAR_RULE,
        }


def default_due_par(reason: str) -> DueParChoice:
    """The default, for a store whose validation has no last-order holdout (``reason``)."""
    return DueParChoice(DEFAULT_DUE_PAR, "no last-order holdout", {}, {}, reason=reason)


def choose_due_par(
    snapshot: ModelSnapshot,
    split: Split,
    seed: int,
    max_users: int = 3000,
    candidates: Sequence[float] = DUE_PAR_CANDIDATES,
) -> DueParChoice:
    """`BlendConfig.due_par` for the store: the served hybrid (no page) with each candidate
    scored on ``split``'s held-out purchases, repeat and explore targets apart, by
    `best_repeat_keeping_explore`."""
    users, repeat, explore = repeat_and_explore(snapshot, split, seed, max_users)
    has_repeat = np.array([bool(r) for r in repeat], dtype=np.bool_)
    has_explore = np.array([bool(e) for e in explore], dtype=np.bool_)
    n_repeat, n_explore = int(has_repeat.sum()), int(has_explore.sum())
    if min(n_repeat, n_explore) < MIN_DECISION_CUSTOMERS:
        return DueParChoice(
            DEFAULT_DUE_PAR,
            "too few",
            {},
            {},
            reason=f"{n_repeat} customers re-bought a product and {n_explore} bought a new one; "
            f"a decision needs {MIN_DECISION_CUSTOMERS} of each",
        )
    # the signals once (`page_stack`), each value ranked by the server's final step
    stack = page_stack(snapshot, [(user, Context()) for user in users.positions.tolist()])
    repeat_values: dict[float, npt.NDArray[np.float64]] = {}
    explore_values: dict[float, npt.NDArray[np.float64]] = {}
    for par in candidates:
        config = replace(snapshot.blend, due_par=par)
        repeat_values[par] = served_ndcg(stack, repeat, config, None, has_repeat)
        explore_values[par] = served_ndcg(stack, explore, config, None, has_explore)
    par, best, within = best_repeat_keeping_explore(repeat_values, explore_values)
    return DueParChoice(
        par,
        "chosen",
        {p: Estimate.of(v) for p, v in repeat_values.items()},
        {p: Estimate.of(v) for p, v in explore_values.items()},
        best,
        tuple(within),
    )
