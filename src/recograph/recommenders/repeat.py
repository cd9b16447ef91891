"""Categories customers buy again (ear cushions, cables, ink), so serving keeps recommending them.

Serving normally drops products a customer already bought; for a repeatable category that
would hide exactly what the customer is likely to need next.

A re-buy is the same customer buying the same category (any product of it) again in a later
order, one with a strictly later ``order_date``: orders placed at the same moment are one
purchase. A category is repeatable when at least ``min_customers`` customers re-bought it and
they are at least ``min_rate`` of its customers. Requiring a number of re-buying customers, not
of buyers, keeps one enthusiast from making a small category "repeatable".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from recograph.recommenders.interactions import IdIndex

logger = logging.getLogger(__name__)

Arrays = Mapping[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class RepeatModel:
    """Per-category re-buy statistics; every array is indexed by category.

    - ``repeatable``: bool (n_categories,), whether serving should keep recommending the
      category's products to customers who already bought them.
    - ``rate``: float32, fraction of the category's customers who re-bought it (0 if none).
    - ``median_days``: float32, median days between one purchase of the category and the same
      customer's next one, over all such gaps; 0 when nobody re-bought.
    - ``customers``: int32, distinct customers who bought the category.
    - ``repeaters``: int32, distinct customers who bought it in at least two purchases.
    """

    repeatable: npt.NDArray[np.bool_]
    rate: npt.NDArray[np.float32]
    median_days: npt.NDArray[np.float32]
    customers: npt.NDArray[np.int32]
    repeaters: npt.NDArray[np.int32]

    def to_arrays(self, prefix: str = "repeat.") -> dict[str, npt.NDArray[Any]]:
        """Plain arrays for ``np.savez`` (keys start with ``prefix``); no pickling needed."""
        return {
            f"{prefix}{field}": np.asarray(getattr(self, field), dtype=dtype)
            for field, dtype in _FIELDS.items()
        }

    @classmethod
    def from_arrays(cls, arrays: Arrays, prefix: str = "repeat.") -> RepeatModel:
        """Rebuild from `to_arrays` output (a dict or an ``np.load`` result); checks shapes."""
        values = {
            name: np.asarray(arrays[f"{prefix}{name}"], dtype=dtype)
            for name, dtype in _FIELDS.items()
        }
        n_categories = len(values["repeatable"])
        for name, value in values.items():
            if value.shape != (n_categories,):
                raise ValueError(f"{prefix}{name} has shape {value.shape}, not ({n_categories},)")
        return cls(**values)


_FIELDS: dict[str, type[np.generic]] = {
    "repeatable": np.bool_,
    "rate": np.float32,
    "median_days": np.float32,
    "customers": np.int32,
    "repeaters": np.int32,
}


def fit_repeat(
    lines: pd.DataFrame,
    item_category: npt.NDArray[np.int32],
    n_categories: int,
    min_customers: int = 5,
    min_rate: float = 0.1,
    *,
    item_ids: npt.NDArray[np.int64] | None = None,
) -> RepeatModel:
    """Re-buy statistics per category from completed order lines.

    ``lines`` has the columns of ``StoreData.completed_lines()``. A line's category is
    ``item_category`` at its product's position: the position of ``product_id`` in
    ``item_ids`` when given, else the line's ``item`` column (positions, as the build adds
    them). Lines of unknown products are ignored.
    """
    item_category = np.asarray(item_category, dtype=np.int32)
    if len(item_category) and (item_category.min() < 0 or item_category.max() >= n_categories):
        raise ValueError(f"item_category values must lie in 0..{n_categories - 1}")
    if item_ids is not None:
        if len(item_category) != len(item_ids):
            raise ValueError("item_category must have one entry per item id")
        positions = IdIndex.from_ids(item_ids).positions(lines["product_id"].to_numpy())
    elif "item" in lines.columns:
        positions = lines["item"].to_numpy(dtype=np.int64)
    else:
        raise ValueError("fit_repeat needs item_ids or an 'item' column of positions")
    known = (positions >= 0) & (positions < len(item_category))
    purchases = pd.DataFrame(
        {
            "customer": lines["customer_id"].to_numpy(dtype=np.int64)[known],
            "category": item_category[positions[known]],
            "date": pd.to_datetime(lines["order_date"]).to_numpy(dtype="datetime64[ns]")[known],
        }
    ).drop_duplicates()
    purchases = purchases.sort_values(["category", "customer", "date"], kind="stable")

    category = purchases["category"].to_numpy(dtype=np.int64)
    customer = purchases["customer"].to_numpy(dtype=np.int64)
    dates = purchases["date"].to_numpy(dtype="datetime64[ns]")
    # A row continues the previous one's (category, customer) run: it is a re-buy.
    again = np.zeros(len(purchases), dtype=bool)
    again[1:] = (category[1:] == category[:-1]) & (customer[1:] == customer[:-1])
    first = ~again

    customers = np.bincount(category[first], minlength=n_categories).astype(np.int32)
    # Each run with a re-buy has exactly one row that is a re-buy following the run's first row.
    second = np.zeros(len(purchases), dtype=bool)
    second[1:] = again[1:] & first[:-1]
    repeaters = np.bincount(category[second], minlength=n_categories).astype(np.int32)
    rate = np.divide(
        repeaters,
        customers,
        out=np.zeros(n_categories, dtype=np.float64),
        where=customers > 0,
    ).astype(np.float32)

    gap_rows = np.flatnonzero(again)
    gaps = (dates[gap_rows] - dates[gap_rows - 1]) / np.timedelta64(1, "D")
    median_days = np.zeros(n_categories, dtype=np.float32)
    if len(gap_rows):
        medians = pd.Series(np.asarray(gaps, dtype=np.float64)).groupby(category[gap_rows]).median()
        median_days[medians.index.to_numpy(dtype=np.int64)] = medians.to_numpy(dtype=np.float32)

    repeatable = (repeaters >= min_customers) & (rate >= min_rate)
    logger.info("repeat: %d of %d categories repeatable", int(repeatable.sum()), n_categories)
    return RepeatModel(
        repeatable=repeatable,
        rate=rate,
        median_days=median_days,
        customers=customers,
        repeaters=repeaters,
    )


@overload
def is_repeatable(model: RepeatModel, category: int) -> bool: ...


@overload
def is_repeatable(
    model: RepeatModel, category: npt.NDArray[np.integer[Any]]
) -> npt.NDArray[np.bool_]: ...


def is_repeatable(
    model: RepeatModel, category: int | npt.NDArray[np.integer[Any]]
) -> bool | npt.NDArray[np.bool_]:
    """Whether serving should keep recommending a category the customer already bought.

    Takes one category (-> bool) or an array of them (-> bool array); unknown categories
    are not repeatable.
    """
    categories = np.asarray(category, dtype=np.int64)
    inside = (categories >= 0) & (categories < len(model.repeatable))
    result = np.zeros(categories.shape, dtype=np.bool_)
    result[inside] = model.repeatable[categories[inside]]
    if isinstance(category, int | np.integer):
        return bool(result)
    return result
