"""Pure blending: normalise each signal, weight it by segment and page, explain the winner.

All functions work on the last axis, so one call scores one customer (``(n_items,)``) or a
batch (``(n_users, n_items)``) alike; the build's tuning relies on that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.float32]


class SignalName(StrEnum):
    """The four blended signals (CF is itself a choice or mix of CF models)."""

    CF = "cf"
    CONTENT = "content"
    RULES = "rules"
    POPULARITY = "popularity"


class PageType(StrEnum):
    HOME = "HOME"
    PRODUCT = "PRODUCT"
    CATEGORY = "CATEGORY"
    CART = "CART"
    CHECKOUT = "CHECKOUT"


class Segment(StrEnum):
    """History strength: no history, light (1–2 orders), regular (3+ orders or many items)."""

    NEW = "new"
    LIGHT = "light"
    REGULAR = "regular"


@dataclass(frozen=True)
class Weights:
    """Blend weights per signal; they need not sum to one (the blend divides by the sum)."""

    cf: float = 0.0
    content: float = 0.0
    rules: float = 0.0
    popularity: float = 0.0

    def get(self, signal: SignalName) -> float:
        value: float = getattr(self, signal.value)
        return value

    def as_dict(self) -> dict[str, float]:
        return {signal.value: self.get(signal) for signal in SignalName}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Weights:
        return cls(**{s.value: float(raw.get(s.value, 0.0)) for s in SignalName})

    def total(self) -> float:
        return sum(max(0.0, self.get(s)) for s in SignalName)


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
}


def shift_for_page(weights: Weights, page: PageType | None) -> Weights:
    """Scale the weights by the page's multipliers (unchanged without a page)."""
    if page is None:
        return weights
    shift = PAGE_SHIFTS[page]
    return replace(weights, **{s.value: weights.get(s) * shift.get(s) for s in SignalName})


def normalise(scores: npt.NDArray[np.floating[Any]]) -> Scores:
    """Scale non-negative scores into [0, 1] by their maximum along the last axis.

    Negative and non-finite values become 0: a signal only ever adds evidence.
    """
    clean = np.where(np.isfinite(scores) & (scores > 0), scores, 0).astype(np.float32)
    peak = clean.max(axis=-1, keepdims=True) if clean.size else np.float32(0)
    safe = np.where(peak > 0, peak, 1).astype(np.float32)
    return np.asarray(clean / safe, dtype=np.float32)


def blend(normalised: Mapping[SignalName, Scores], weights: Weights) -> Scores:
    """Weighted mean of the normalised signals present (missing signals count as zero)."""
    total_weight = weights.total()
    shape = next(iter(normalised.values())).shape if normalised else (0,)
    result = np.zeros(shape, dtype=np.float32)
    if total_weight <= 0:
        return result
    for signal, scores in normalised.items():
        weight = max(0.0, weights.get(signal))
        if weight:
            result += np.float32(weight / total_weight) * scores
    return result


def contributions(
    normalised: Mapping[SignalName, Scores], weights: Weights, item: int
) -> list[tuple[SignalName, float, float]]:
    """(signal, normalised score, effective weight) of one item, for the response."""
    total_weight = weights.total() or 1.0
    return [
        (signal, float(scores[item]), max(0.0, weights.get(signal)) / total_weight)
        for signal, scores in normalised.items()
    ]


def dominant_signal(
    normalised: Mapping[SignalName, Scores], weights: Weights, item: int
) -> SignalName | None:
    """The signal with the largest weighted contribution to an item (None if all are zero)."""
    best: SignalName | None = None
    best_value = 0.0
    for signal, scores in normalised.items():
        value = max(0.0, weights.get(signal)) * float(scores[item])
        if value > best_value:
            best, best_value = signal, value
    return best
