"""Ranking metrics for offline evaluation, and the top-k selection they are computed on.

Conventions shared by every function here:

- ``recommended`` is an int64 array of shape (n_users, K_max): row u holds user u's ranked
  items, best first, as item positions or store ids (either, as long as ``relevant`` uses the
  same); -1 marks an empty slot, which counts as a miss. An item repeated in a row counts once,
  at its first slot.
- ``relevant`` holds one collection of items per user (a set, or an integer array): what the
  user actually went on to buy (see `recograph.evaluation.split.test_targets`).
- Relevance is binary. A metric at k looks at the first k slots and k must be ≤ K_max.
- Per-user metrics are NaN for users with no relevant item: the metric is undefined there, and
  `evaluate_rankings` averages only over users with at least one relevant item.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# Re-exported: top-k selection lived here before `recograph.core.ranking`.
from recograph.core.ranking import EMPTY as EMPTY  # noqa: PLC0414
from recograph.core.ranking import popular_head as popular_head  # noqa: PLC0414
from recograph.core.ranking import top_k as top_k  # noqa: PLC0414
from recograph.core.segments import SEGMENT_ORDER

Relevant = Sequence[AbstractSet[int] | npt.NDArray[np.integer]]
FloatArray = npt.NDArray[np.float64]

DEFAULT_KS: tuple[int, ...] = (5, 10)
ALL_USERS = "all"

# (table column label, metric name) for each accuracy metric, in table order.
_ACCURACY = (
    ("P", "precision"),
    ("R", "recall"),
    ("NDCG", "ndcg"),
    ("MAP", "map"),
    ("HR", "hit_rate"),
)
COVERAGE = "coverage"
LONG_TAIL = "long_tail"


def metric_name(metric: str, k: int) -> str:
    """The key of a metric at k in `SegmentResult.metrics`, e.g. ``"ndcg@10"``."""
    return f"{metric}@{k}"


# --- hits ------------------------------------------------------------------------------------


def _as_recommended(recommended: npt.ArrayLike) -> npt.NDArray[np.int64]:
    rec = np.asarray(recommended, dtype=np.int64)
    if rec.ndim != 2:
        raise ValueError(f"recommended must be 2-D (n_users, K_max), got shape {rec.shape}")
    return rec


def _check_k(k: int, k_max: int) -> None:
    if not 1 <= k <= k_max:
        raise ValueError(f"k must be between 1 and K_max={k_max}, got {k}")


def _relevant_array(items: AbstractSet[int] | npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    if isinstance(items, AbstractSet):
        return np.fromiter(items, dtype=np.int64, count=len(items))
    return np.unique(np.asarray(items, dtype=np.int64).ravel())


def _hits(
    recommended: npt.ArrayLike, relevant: Relevant
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Hit matrix (n_users, K_max; True where the slot holds a relevant item) and |relevant|.

    Vectorised: each (user, item) pair becomes one int64 key, items first being mapped to
    compact codes so the keys cannot overflow whatever the ids.
    """
    rec = _as_recommended(recommended)
    n_users = rec.shape[0]
    if len(relevant) != n_users:
        raise ValueError(f"relevant has {len(relevant)} entries for {n_users} users")
    rel_arrays = [_relevant_array(items) for items in relevant]
    n_relevant = np.array([len(a) for a in rel_arrays], dtype=np.int64)
    rel_items = np.concatenate(rel_arrays) if rel_arrays else np.empty(0, dtype=np.int64)
    rel_users = np.repeat(np.arange(n_users, dtype=np.int64), n_relevant)
    codes = np.unique(np.concatenate([rec.ravel(), rel_items]))
    n_codes = max(len(codes), 1)
    users = np.arange(n_users, dtype=np.int64)[:, None]
    rec_keys = users * n_codes + np.searchsorted(codes, rec)
    rel_keys = rel_users * n_codes + np.searchsorted(codes, rel_items)
    first = np.zeros(rec.size, dtype=np.bool_)
    first[np.unique(rec_keys.ravel(), return_index=True)[1]] = True
    hits = np.isin(rec_keys, rel_keys) & (rec != EMPTY) & first.reshape(rec.shape)
    return hits, n_relevant


def _undefined_where_no_relevant(
    numerator: FloatArray, denominator: npt.NDArray[np.number], n_relevant: npt.NDArray[np.int64]
) -> FloatArray:
    out = np.full(len(n_relevant), np.nan, dtype=np.float64)
    defined = n_relevant > 0
    out[defined] = numerator[defined] / denominator[defined]
    return out


def _discounts(k: int) -> FloatArray:
    """1 / log2(rank + 1) for ranks 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _precision(hits: npt.NDArray[np.bool_], n_rel: npt.NDArray[np.int64], k: int) -> FloatArray:
    n_hits = hits[:, :k].sum(axis=1).astype(np.float64)
    return _undefined_where_no_relevant(n_hits, np.full(len(n_rel), k), n_rel)


def _recall(hits: npt.NDArray[np.bool_], n_rel: npt.NDArray[np.int64], k: int) -> FloatArray:
    n_hits = hits[:, :k].sum(axis=1).astype(np.float64)
    return _undefined_where_no_relevant(n_hits, n_rel, n_rel)


def _hit_rate(hits: npt.NDArray[np.bool_], n_rel: npt.NDArray[np.int64], k: int) -> FloatArray:
    any_hit = (hits[:, :k].sum(axis=1) > 0).astype(np.float64)
    return _undefined_where_no_relevant(any_hit, np.ones(len(n_rel)), n_rel)


def _ndcg(hits: npt.NDArray[np.bool_], n_rel: npt.NDArray[np.int64], k: int) -> FloatArray:
    discounts = _discounts(k)
    dcg = np.asarray(hits[:, :k].astype(np.float64) @ discounts, dtype=np.float64)
    ideal_hits = np.minimum(n_rel, k)
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_hits]
    return _undefined_where_no_relevant(dcg, ideal, n_rel)


def _average_precision(
    hits: npt.NDArray[np.bool_], n_rel: npt.NDArray[np.int64], k: int
) -> FloatArray:
    cut = hits[:, :k].astype(np.float64)
    precision_at_rank = np.cumsum(cut, axis=1) / np.arange(1, k + 1, dtype=np.float64)
    summed = (precision_at_rank * cut).sum(axis=1)
    return _undefined_where_no_relevant(summed, np.minimum(n_rel, k), n_rel)


# --- per-user metrics ------------------------------------------------------------------------


def precision_at_k(recommended: npt.ArrayLike, relevant: Relevant, k: int) -> FloatArray:
    """Per user: relevant items among the first k slots / k (empty slots count as misses)."""
    hits, n_rel = _hits(recommended, relevant)
    _check_k(k, hits.shape[1])
    return _precision(hits, n_rel, k)


def recall_at_k(recommended: npt.ArrayLike, relevant: Relevant, k: int) -> FloatArray:
    """Per user: relevant items among the first k slots / |relevant|.

    The plain |relevant| denominator (not min(|relevant|, k)), so a user with more relevant
    items than k cannot reach 1: recall then also says how much of the basket k slots can hold.
    """
    hits, n_rel = _hits(recommended, relevant)
    _check_k(k, hits.shape[1])
    return _recall(hits, n_rel, k)


def ndcg_at_k(recommended: npt.ArrayLike, relevant: Relevant, k: int) -> FloatArray:
    """Per user: DCG / ideal DCG with binary gains and a 1/log2(rank + 1) discount.

    The ideal ranking puts min(|relevant|, k) hits first, so a user with one relevant item
    ranked first scores 1 however large k is.
    """
    hits, n_rel = _hits(recommended, relevant)
    _check_k(k, hits.shape[1])
    return _ndcg(hits, n_rel, k)


def average_precision_at_k(recommended: npt.ArrayLike, relevant: Relevant, k: int) -> FloatArray:
    """Per user: sum of precision@rank over the ranks holding a hit, / min(|relevant|, k).

    The mean over users is MAP@k; the min() lets a perfect top-k score 1 when |relevant| > k.
    """
    hits, n_rel = _hits(recommended, relevant)
    _check_k(k, hits.shape[1])
    return _average_precision(hits, n_rel, k)


def hit_rate_at_k(recommended: npt.ArrayLike, relevant: Relevant, k: int) -> FloatArray:
    """Per user: 1.0 if any of the first k slots holds a relevant item, else 0.0."""
    hits, n_rel = _hits(recommended, relevant)
    _check_k(k, hits.shape[1])
    return _hit_rate(hits, n_rel, k)


_PER_USER = {
    "precision": _precision,
    "recall": _recall,
    "ndcg": _ndcg,
    "map": _average_precision,
    "hit_rate": _hit_rate,
}


# --- catalogue-level metrics -----------------------------------------------------------------


def catalogue_coverage(recommended: npt.ArrayLike, n_items: int, k: int) -> float:
    """Distinct items in anyone's first k slots / ``n_items`` (the catalogue size).

    Low coverage means the model shows the same few products to everybody.
    """
    rec = _as_recommended(recommended)
    _check_k(k, rec.shape[1])
    if n_items < 1:
        raise ValueError(f"n_items must be positive, got {n_items}")
    slots = rec[:, :k]
    return len(np.unique(slots[slots != EMPTY])) / n_items


def long_tail_share(
    recommended: npt.ArrayLike, head_items: AbstractSet[int] | npt.ArrayLike, k: int
) -> float:
    """Share of the filled slots among the first k holding an item outside ``head_items``.

    ``head_items`` is usually the best sellers (`popular_head`). Empty slots are not counted;
    NaN when no slot is filled.
    """
    rec = _as_recommended(recommended)
    _check_k(k, rec.shape[1])
    head = (
        np.fromiter(head_items, dtype=np.int64, count=len(head_items))
        if isinstance(head_items, AbstractSet)
        else np.asarray(head_items, dtype=np.int64).ravel()
    )
    slots = rec[:, :k]
    filled = slots != EMPTY
    n_filled = int(filled.sum())
    if n_filled == 0:
        return math.nan
    return int((filled & ~np.isin(slots, head)).sum()) / n_filled


# --- aggregation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentResult:
    """Mean metrics over the ``users`` evaluated users of one segment (or ``"all"``).

    ``metrics`` maps `metric_name` keys (``"precision@5"``, ``"coverage@10"``…) to values;
    NaN when the segment has no evaluated user.
    """

    segment: str
    users: int
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationResult:
    """The metrics of one model: a row for all users, then one per segment."""

    ks: tuple[int, ...]
    rows: tuple[SegmentResult, ...]

    def row(self, segment: str = ALL_USERS) -> SegmentResult:
        """The row of ``segment``; KeyError names the segments there are."""
        for row in self.rows:
            if row.segment == segment:
                return row
        raise KeyError(f"no segment {segment!r}; have {[r.segment for r in self.rows]}")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: floats rounded to 6 digits, NaN as None."""
        return {
            "ks": list(self.ks),
            "segments": {
                row.segment: {
                    "users": row.users,
                    **{name: _json_float(value) for name, value in row.metrics.items()},
                }
                for row in self.rows
            },
        }


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def _segment_names(segments: npt.NDArray[np.str_]) -> list[str]:
    """Distinct segments, the known ones (new, light, regular) first in that order."""
    present = {str(s) for s in np.unique(segments)}
    known = [s for s in SEGMENT_ORDER if s in present]
    return known + sorted(present - set(known))


def evaluate_rankings(
    recommended: npt.ArrayLike,
    relevant: Relevant,
    ks: Sequence[int] = DEFAULT_KS,
    segments: npt.NDArray[np.str_] | None = None,
    *,
    n_items: int | None = None,
    head_items: AbstractSet[int] | npt.ArrayLike | None = None,
) -> EvaluationResult:
    """Mean precision, recall, NDCG, MAP and hit rate at each k, overall and per segment.

    Only users with at least one relevant item are evaluated (and counted in ``users``).
    ``segments`` gives each user's segment (see `recograph.evaluation.split.segments`). With
    ``n_items`` the rows also hold ``coverage@k``, with ``head_items`` ``long_tail@k``; both over
    the row's evaluated users, so every figure of a row describes the same people.
    """
    rec = _as_recommended(recommended)
    hits, n_rel = _hits(rec, relevant)
    ks = tuple(sorted(set(ks)))
    if not ks:
        raise ValueError("ks must not be empty")
    for k in ks:
        _check_k(k, hits.shape[1])
    per_user = {
        metric_name(name, k): fn(hits, n_rel, k) for k in ks for name, fn in _PER_USER.items()
    }
    evaluated = n_rel > 0
    groups: list[tuple[str, npt.NDArray[np.bool_]]] = [(ALL_USERS, evaluated)]
    if segments is not None:
        labels = np.asarray(segments).astype(str)
        if labels.shape != (rec.shape[0],):
            raise ValueError(f"segments has shape {labels.shape}, expected ({rec.shape[0]},)")
        groups += [(name, evaluated & (labels == name)) for name in _segment_names(labels)]
    rows = []
    for name, mask in groups:
        users = int(mask.sum())
        metrics: dict[str, float] = {
            key: float(values[mask].mean()) if users else math.nan
            for key, values in per_user.items()
        }
        for k in ks:
            if n_items is not None:
                metrics[metric_name(COVERAGE, k)] = (
                    catalogue_coverage(rec[mask], n_items, k) if users else math.nan
                )
            if head_items is not None:
                metrics[metric_name(LONG_TAIL, k)] = long_tail_share(rec[mask], head_items, k)
        rows.append(SegmentResult(segment=name, users=users, metrics=metrics))
    return EvaluationResult(ks=ks, rows=tuple(rows))


def format_table(results: Mapping[str, EvaluationResult]) -> str:
    """A plain-text table: one line per model and segment, P/R/NDCG/MAP/HR at each k, then
    coverage and long-tail share at the largest k, then the number of evaluated users."""
    ks = sorted({k for result in results.values() for k in result.ks})
    columns = [(f"{label}@{k}", metric_name(name, k)) for k in ks for label, name in _ACCURACY]
    if ks:
        columns += [
            (f"coverage@{ks[-1]}", metric_name(COVERAGE, ks[-1])),
            (f"longtail@{ks[-1]}", metric_name(LONG_TAIL, ks[-1])),
        ]
    header = ["model", "segment", *(label for label, _ in columns), "users"]
    lines = [
        [model, row.segment, *(_cell(row.metrics.get(key)) for _, key in columns), str(row.users)]
        for model, result in results.items()
        for row in result.rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

    def render(cells: list[str]) -> str:
        text = [
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(text).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *(render(cells) for cells in lines)]) + "\n"


def _cell(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"
