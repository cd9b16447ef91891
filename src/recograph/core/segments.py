"""Customer segments by history strength: the thresholds, their one default, and the rule
that applies them (to one customer on every request, or vectorised to many for evaluation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from recograph.core.vocabulary import Segment

SEGMENT_ORDER: tuple[str, ...] = tuple(s.value for s in Segment)


@dataclass(frozen=True)
class SegmentThresholds:
    """Where segments start.

    A customer is regular with ``regular_min_orders`` orders or more, or, when
    ``regular_min_items`` is set, with that many distinct products however few the orders (one
    order of twenty products is strong history); else light with ``light_min_orders`` orders or
    more; else new.
    """

    light_min_orders: int = 1
    regular_min_orders: int = 3
    regular_min_items: int | None = 8

    def __post_init__(self) -> None:
        if self.light_min_orders < 1:
            raise ValueError("light_min_orders must be at least 1")
        if self.regular_min_orders < self.light_min_orders:
            raise ValueError("regular_min_orders must be at least light_min_orders")
        if self.regular_min_items is not None and self.regular_min_items < 1:
            raise ValueError("regular_min_items must be at least 1 (or None)")


# The one default: what a build serves until `--tune` picks others (kept in the manifest).
DEFAULT_THRESHOLDS = SegmentThresholds()


def _levels(orders: Any, items: Any, thresholds: SegmentThresholds) -> tuple[Any, Any]:
    """(regular, at least light) for counts given as ints or as arrays: the one place the
    thresholds are read, for `segment_of` and `segments` alike."""
    regular = orders >= thresholds.regular_min_orders
    if thresholds.regular_min_items is not None:
        regular = regular | (items >= thresholds.regular_min_items)
    return regular, orders >= thresholds.light_min_orders


def segment_of(
    n_orders: int, n_items: int, thresholds: SegmentThresholds = DEFAULT_THRESHOLDS
) -> str:
    """The segment ("new", "light" or "regular") of one customer; see `SegmentThresholds`.

    Scalar, not a one-element `segments`: the engine asks this on every request."""
    orders, items = int(n_orders), int(n_items)
    if orders < 0 or items < 0:
        raise ValueError("order and item counts must be non-negative")
    regular, light = _levels(orders, items, thresholds)
    if regular:
        return Segment.REGULAR.value
    return Segment.LIGHT.value if light else Segment.NEW.value


def segments(
    n_orders: npt.NDArray[np.integer],
    n_items: npt.NDArray[np.integer],
    thresholds: SegmentThresholds = DEFAULT_THRESHOLDS,
) -> npt.NDArray[np.str_]:
    """Vectorised `segment_of`: one segment name per customer."""
    orders = np.asarray(n_orders, dtype=np.int64)
    items = np.asarray(n_items, dtype=np.int64)
    if orders.shape != items.shape:
        raise ValueError(f"n_orders {orders.shape} and n_items {items.shape} differ in shape")
    if (orders < 0).any() or (items < 0).any():
        raise ValueError("order and item counts must be non-negative")
    regular, light = _levels(orders, items, thresholds)
    width = max(len(s) for s in SEGMENT_ORDER)
    out = np.full(orders.shape, Segment.NEW.value, dtype=f"<U{width}")
    out[light] = Segment.LIGHT.value
    out[regular] = Segment.REGULAR.value
    return out
