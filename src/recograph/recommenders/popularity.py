"""Non-personalised popularity: best sellers overall, in a category, and trending now.

Popularity counts distinct customers, not units or orders: one customer re-ordering a
consumable ten times, or one bulk order, should not outrank a product many people chose.
Revenue is kept beside it for reports. Trending decays each purchase by its age, so a
product bought a lot last year but not lately fades: a purchase ``age`` days old weighs
``0.5 ** (age / half_life_days)`` (one per order line, whatever its quantity).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from recograph.core.ids import IdIndex
from recograph.recommenders.codec import ArrayCoded, dense, read_only
from recograph.recommenders.item_knn import DENSE_MAX_ITEMS

if TYPE_CHECKING:
    # pandas (~25 MB) only fits: the fit imports it, so a serving worker never loads it.
    import pandas as pd

logger = logging.getLogger(__name__)

Arrays = Mapping[str, npt.NDArray[Any]]

_SECONDS_PER_DAY = 86_400.0


PER_ITEM = ("overall", "revenue", "trending", "item_category", "category_rank")


@dataclass(frozen=True)
class Popularity(ArrayCoded):
    """Per-item popularity; every array is indexed by item position.

    - ``overall``: float32 (n_items,), number of distinct customers who bought the item.
    - ``revenue``: float32 (n_items,), sum of ``qty × price`` over its completed order lines.
    - ``trending``: float32 (n_items,), sum over its order lines of ``0.5 ** (age_days /
      half_life_days)`` (1 for a purchase made at ``now``).
    - ``item_category``: int32 (n_items,), the item's category index.
    - ``category_rank``: int32 (n_items,), 1-based rank of the item within its category by
      ``overall`` (ties: higher trending, then lower position) for "No. 2 in Headphones";
      0 for items nobody bought.
    - ``category_customers``: float32 (n_categories,), distinct customers per category.
    """

    ARRAY_PREFIX: ClassVar[str] = "popularity."

    overall: npt.NDArray[np.float32] = field(metadata=dense(np.float32, contiguous=False))
    revenue: npt.NDArray[np.float32] = field(metadata=dense(np.float32, contiguous=False))
    trending: npt.NDArray[np.float32] = field(metadata=dense(np.float32, contiguous=False))
    item_category: npt.NDArray[np.int32] = field(metadata=dense(np.int32, contiguous=False))
    category_rank: npt.NDArray[np.int32] = field(metadata=dense(np.int32, contiguous=False))
    category_customers: npt.NDArray[np.float32] = field(
        metadata=dense(np.float32, contiguous=False)
    )

    @functools.cached_property
    def rows(self) -> npt.NDArray[np.float32] | None:
        """Every answer of `score_popularity` for a catalogue of at most `DENSE_MAX_ITEMS`
        products (None above), made once: [trending, category] (the last: no category),
        read-only."""
        n_items = len(self.overall)
        if n_items > DENSE_MAX_ITEMS:
            return None
        n_categories = int(self.item_category.max()) + 1 if n_items else 0
        table = np.zeros((2, n_categories + 1, n_items), dtype=np.float32)
        for trending in (False, True):
            for category in range(n_categories):
                table[int(trending), category] = _popularity_row(self, category, trending)
            table[int(trending), -1] = _popularity_row(self, None, trending)
        return read_only(table)

    @classmethod
    def check_arrays(cls, values: Mapping[str, Any], prefix: str) -> None:
        """Every per-item array has one entry per item."""
        n_items = len(values["overall"])
        for name in PER_ITEM:
            if values[name].shape != (n_items,):
                raise ValueError(f"{prefix}{name} has shape {values[name].shape}, not ({n_items},)")
        if values["category_customers"].ndim != 1:
            raise ValueError(f"{prefix}category_customers must be one-dimensional")


def _naive_utc(moment: datetime) -> pd.Timestamp:
    """``now`` comparable with the naive-UTC order dates."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    import pandas as pd  # fit only (see above)

    return pd.Timestamp(moment)


def category_ranks(
    overall: npt.NDArray[np.float32],
    trending: npt.NDArray[np.float32],
    item_category: npt.NDArray[np.int32],
) -> npt.NDArray[np.int32]:
    """1-based rank within the category by overall, then trending, then position; 0 if unsold."""
    n = len(overall)
    order = np.lexsort((np.arange(n), -trending, -overall, item_category))
    sorted_categories = item_category[order]
    starts = np.searchsorted(sorted_categories, sorted_categories, side="left")
    ranks = np.zeros(n, dtype=np.int32)
    ranks[order] = np.arange(n) - starts + 1
    ranks[overall <= 0] = 0
    return ranks


def fit_popularity(
    lines: pd.DataFrame,
    item_ids: npt.NDArray[np.int64],
    item_category: npt.NDArray[np.int32],
    n_categories: int,
    now: datetime,
    half_life_days: float = 30.0,
) -> Popularity:
    """Popularity of the items ``item_ids`` (positions in that order) from completed lines.

    ``lines`` has the columns of ``StoreData.completed_lines()``; lines of products outside
    ``item_ids`` are ignored. Purchases dated after ``now`` count as made at ``now``.
    """
    import pandas as pd  # fit only (see above)

    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be positive, got {half_life_days}")
    item_category = np.asarray(item_category, dtype=np.int32)
    n_items = len(item_ids)
    if len(item_category) != n_items:
        raise ValueError("item_category must have one entry per item id")
    if n_items and (item_category.min() < 0 or item_category.max() >= n_categories):
        raise ValueError(f"item_category values must lie in 0..{n_categories - 1}")

    positions = IdIndex.from_ids(item_ids).positions(lines["product_id"].to_numpy())
    known = positions >= 0
    pos = positions[known]
    customers = lines["customer_id"].to_numpy(dtype=np.int64)[known]
    qty = lines["qty"].to_numpy(dtype=np.float64)[known]
    price = lines["price"].to_numpy(dtype=np.float64)[known]
    dates = pd.to_datetime(lines["order_date"]).to_numpy(dtype="datetime64[ns]")[known]

    pairs = np.unique(np.stack([pos, customers]), axis=1) if len(pos) else np.zeros((2, 0))
    overall = np.bincount(pairs[0].astype(np.int64), minlength=n_items).astype(np.float32)
    revenue = np.bincount(pos, weights=qty * price, minlength=n_items).astype(np.float32)
    age_seconds = (_naive_utc(now).to_datetime64() - dates) / np.timedelta64(1, "s")
    age_days = np.maximum(age_seconds.astype(np.float64) / _SECONDS_PER_DAY, 0.0)
    decay = np.power(0.5, age_days / half_life_days)
    trending = np.bincount(pos, weights=decay, minlength=n_items).astype(np.float32)

    category_pairs = (
        np.unique(np.stack([item_category[pos].astype(np.int64), customers]), axis=1)
        if len(pos)
        else np.zeros((2, 0))
    )
    category_customers = np.bincount(
        category_pairs[0].astype(np.int64), minlength=n_categories
    ).astype(np.float32)

    logger.info("popularity: %d lines over %d items", len(pos), int((overall > 0).sum()))
    return Popularity(
        overall=overall,
        revenue=revenue,
        trending=trending,
        item_category=item_category,
        category_rank=category_ranks(overall, trending, item_category),
        category_customers=category_customers,
    )


def score_popularity(
    pop: Popularity, category: int | None = None, trending: bool = False
) -> npt.NDArray[np.float32]:
    """Dense float32 (n_items,) in [0, 1]: overall (or trending) popularity over its maximum.

    With ``category``, items outside it score 0 and the maximum is taken within it. Items
    nobody bought score 0; all zeros when there is nothing to rank. A small catalogue's
    answer is a read-only row made once (`Popularity.rows`)."""
    rows = pop.rows
    if rows is not None and (category is None or 0 <= category < rows.shape[1] - 1):
        row: npt.NDArray[np.float32] = rows[int(trending), -1 if category is None else category]
        return row
    return _popularity_row(pop, category, trending)


def _popularity_row(
    pop: Popularity, category: int | None, trending: bool
) -> npt.NDArray[np.float32]:
    """`score_popularity` computed."""
    values = pop.trending if trending else pop.overall
    if category is not None:
        values = np.where(pop.item_category == category, values, np.float32(0.0))
    top = float(values.max()) if len(values) else 0.0
    if top <= 0.0:
        return np.zeros(len(values), dtype=np.float32)
    return (values / np.float32(top)).astype(np.float32)
