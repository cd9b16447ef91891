"""Pure blending: normalise each signal, weight it by segment and page, explain the winner.

All functions work on the last axis, so one call scores one customer (``(n_items,)``) or a
batch (``(n_users, n_items)``) alike; the build's tuning relies on that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

# Re-exported: the vocabulary lived here before `recograph.core`.
from recograph.core.vocabulary import PageType as PageType  # noqa: PLC0414 (re-export)
from recograph.core.vocabulary import Segment as Segment  # noqa: PLC0414 (re-export)
from recograph.core.vocabulary import SignalName as SignalName  # noqa: PLC0414 (re-export)
from recograph.core.vocabulary import Weights as Weights  # noqa: PLC0414 (re-export)

_SIGNALS = tuple(SignalName)  # in `SignalName` order, iterated without the enum's machinery
Part = TypeVar("Part")  # what `contributions` makes of one (signal, value, share)

Scores = npt.NDArray[np.float32]


# The seed playbook's weights: full hybrid for regulars, content + rules for light histories,
# popularity (plus whatever the page context triggers) for new visitors.
SEED_WEIGHTS: dict[Segment, Weights] = {
    Segment.NEW: Weights(content=0.4, rules=0.4, popularity=0.2),
    Segment.LIGHT: Weights(content=0.5, rules=0.5),
    Segment.REGULAR: Weights(cf=0.4, content=0.3, rules=0.3),
}

# Multipliers by page: cart and checkout favour complements, a product page favours look-alikes.
PAGE_SHIFTS: dict[PageType, Weights] = {
    PageType.HOME: Weights(1.0, 1.0, 1.0, 1.0),
    PageType.PRODUCT: Weights(1.0, 1.3, 1.0, 1.0),
    PageType.CATEGORY: Weights(1.0, 1.0, 1.0, 1.5),
    PageType.CART: Weights(1.0, 0.7, 1.5, 1.0),
    PageType.CHECKOUT: Weights(1.0, 0.5, 1.8, 1.0),
    PageType.ACCOUNT: Weights(1.0, 1.0, 1.0, 1.0),
}


def shift_for_page(weights: Weights, page: PageType | None) -> Weights:
    """Scale the weights by the page's multipliers (unchanged without a page)."""
    if page is None:
        return weights
    shift = PAGE_SHIFTS[page]
    return Weights(
        cf=weights.cf * shift.cf,
        content=weights.content * shift.content,
        rules=weights.rules * shift.rules,
        popularity=weights.popularity * shift.popularity,
    )


def normalise(scores: npt.NDArray[np.floating[Any]]) -> Scores:
    """Scale non-negative scores into [0, 1] by their maximum along the last axis.

    Negative and non-finite values become 0: a signal only ever adds evidence.
    """
    if scores.ndim == 1 and scores.dtype == np.float32 and scores.size:
        # One request's row, usually already clean: the same values in fewer numpy calls
        # (the ufuncs' reductions called directly: `ndarray.min` wraps them in Python).
        low, peak = np.minimum.reduce(scores), np.maximum.reduce(scores)
        if low >= 0 and peak < np.inf:  # false for NaN too
            clean = scores + np.float32(0)  # a copy, with -0.0 made 0.0 as below
            if peak > 0 and peak != 1:  # x / 1 is x: an already normalised row is copied
                clean /= peak
            return clean
    clean = np.where(np.isfinite(scores) & (scores > 0), scores, 0).astype(np.float32, copy=False)
    if clean.ndim == 1:  # one request's row: the same float32 division, fewer numpy calls
        peak = clean.max() if clean.size else np.float32(0)
        if peak > 0:
            clean /= peak
        return clean
    peak = clean.max(axis=-1, keepdims=True) if clean.size else np.float32(0)
    safe = np.where(peak > 0, peak, 1).astype(np.float32)
    return np.asarray(clean / safe, dtype=np.float32)


def blend(normalised: Mapping[SignalName, Scores], weights: Weights) -> Scores:
    """Weighted mean of the normalised signals present (missing signals count as zero)."""
    total_weight = weights.total()
    shape = next(iter(normalised.values())).shape if normalised else (0,)
    if total_weight <= 0:
        return np.zeros(shape, dtype=np.float32)
    result = None
    for signal, scores in normalised.items():
        weight = max(0.0, weights.get(signal))
        if weight:
            term = np.float32(weight / total_weight) * scores
            if result is None:  # 0 + term is term (normalised scores are never -0.0)
                result = term.astype(np.float32, copy=False)
            else:
                result += term
    return np.zeros(shape, dtype=np.float32) if result is None else result


def shares(weights: Weights) -> dict[SignalName, float]:
    """Each positively weighted signal's share of the blend (they sum to one)."""
    total = weights.total()
    if total <= 0:
        return {}
    found = {}
    in_order = (weights.cf, weights.content, weights.rules, weights.popularity)  # as _SIGNALS
    for signal, weight in zip(_SIGNALS, in_order, strict=True):
        if weight > 0:
            found[signal] = weight / total
    return found


def contributions(
    normalised: Mapping[SignalName, Scores],
    weights: Weights,
    items: Sequence[int],
    make: Callable[[SignalName, float, float], Part],
) -> tuple[list[tuple[Part, ...]], list[SignalName | None]]:
    """Per item, ``make(signal, normalised score, share)`` of every signal that has weight,
    and its dominant signal: the largest weighted contribution, value × share formed in
    float32 for all items at once; the first largest wins (argmax, ties to the first signal
    in `SignalName` order), None when it is 0. One gather of the weighted signals' columns
    (of a single weighted signal, its column alone: the same float32 products)."""
    columns = [(s, w) for s, w in shares(weights).items() if s in normalised]
    if not items or not columns:
        return [() for _ in items], [None] * len(items)
    if len(columns) == 1:
        ((signal, share),) = columns
        column = normalised[signal][items]
        weighted = np.multiply(column, np.float32(share), dtype=np.float32).tolist()
        dominant = [signal if value > 0 else None for value in weighted]
        return [(make(signal, value, share),) for value in column.tolist()], dominant
    at = np.asarray(items, dtype=np.int64)
    values = np.array([normalised[s][at] for s, _ in columns])  # signals × items
    signals = [s for s, _ in columns]
    signal_shares = [w for _, w in columns]
    column_shares = np.array(signal_shares, dtype=np.float32)[:, None]
    weighted = np.multiply(values, column_shares, dtype=np.float32).tolist()
    # a handful per item: the first largest found in Python (float32 values compare exactly)
    dominant = [
        signals[row.index(top)] if (top := max(row)) > 0 else None
        for row in zip(*weighted, strict=True)
    ]
    parts = [
        tuple(map(make, signals, row, signal_shares)) for row in zip(*values.tolist(), strict=True)
    ]
    return parts, dominant


def _part(signal: SignalName, value: float, share: float) -> tuple[SignalName, float, float]:
    return signal, value, share


def dominant_signals(
    normalised: Mapping[SignalName, Scores], weights: Weights, items: Sequence[int]
) -> list[SignalName | None]:
    """Per item, the signal with the largest weighted contribution (None when all are zero;
    ties go to the first signal in `SignalName` order)."""
    return contributions(normalised, weights, items, _part)[1]
