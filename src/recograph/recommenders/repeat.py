"""Store habits learned from the orders: which products customers buy again, which categories
they buy more of, and how much of a returning customer's basket is a re-buy.

Serving needs three answers that differ from store to store:

- **Does an owned product come back?** Only where customers re-buy *that product* (ink, the
  same tea, a wholesaler's best sellers). A category that is re-bought (another charger, another
  film of the same genre) does not mean the same product is: on a ratings-like store every
  category is re-consumed and no product is bought twice.
- **How much is the rest of an owned category damped?** By the share of the category's
  customers who later bought *another* product of it: a second laptop is rare, another film of
  a genre is the rule.
- **How far up does a re-buy go?** A "buy again" score per owned product: its re-buy
  propensity (product, shrunk toward its category and the store; scaled by the customer's own
  habit where their history supports it) compounded over how often the customer bought it, and
  weighted by the share of returning customers' purchases that are re-buys.

A re-buy is the same customer buying again in a later order, one with a strictly later
``order_date``: orders placed at the same moment are one purchase. Every rate is shrunk toward
the level above it with ``prior_strength`` pseudo-customers, so a product bought by three
people borrows its category's rate, and a category nobody re-bought the same product of keeps
its owned products out however small it is (``min_customers`` re-buyers are required).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, overload

import numpy as np
import numpy.typing as npt

from recograph.core.ids import IdIndex
from recograph.recommenders.codec import ArrayCoded, dense, read_only

if TYPE_CHECKING:
    # pandas (~25 MB) only fits: the fit's functions import it, so a serving worker, which
    # reads the stored rates, never loads it.
    import pandas as pd

logger = logging.getLogger(__name__)

Arrays = Mapping[str, npt.NDArray[Any]]
FloatArray = npt.NDArray[np.float32]

PRIOR_STRENGTH = 10.0  # pseudo-customers behind every shrunk rate
CUSTOMER_PRIOR = 5.0  # pseudo re-buys behind a customer's own factor (shrinks toward 1)
MIN_RATE = 0.1  # an owned product comes back from this chance of being bought again
GAP_LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)  # the interval quantiles kept per category
# A category the customer owns keeps another-product rate × scale of its score (floor below).
OWNED_RATE_SCALE = np.float32(2.0)
MIN_OWNED_FACTOR = np.float32(0.05)  # a category rule is weaker evidence than a product one


@dataclass(frozen=True)
class RepeatModel(ArrayCoded):
    """Re-buy statistics per category, per product and per customer.

    Per category (indexed by category):
    - ``repeatable``: bool, whether customers re-buy the category's products (the same product
      again) often enough for owned ones to come back: the store has ``min_customers``
      re-buyers of a product at all, the category at least one, and its same-product rate,
      shrunk toward the store's, is at least ``min_rate``.
    - ``rate``: float32, fraction of the category's customers who bought it again (any product).
    - ``median_days``: float32, median days between purchases of the category by one customer.
    - ``gap_quantiles``: float32 (n_categories, 5), the 10/25/50/75/90 % quantiles of those
      days (0 where the category has no gap): the learned replacement interval.
    - ``gaps``: int32, how many such gaps the quantiles rest on.
    - ``customers``: int32, distinct customers of the category.
    - ``repeaters``: int32, customers who bought it in at least two purchases.
    - ``another_rate``: float32, of its customers who ordered again after their first
      purchase of it, the fraction who later bought a product of it they did not own yet,
      shrunk toward the store's (the owned-category damping).
    - ``same_repeaters``: int32, customers who bought one of its products again.

    Per product (indexed by item position):
    - ``item_buyers``: int32, customers who bought it and ordered again later (who could
      have re-bought it); ``item_repeaters``: int32, those who bought it again.
    - ``propensity``: float32, shrunk share of its buyers who bought it again.

    Per customer (indexed by user position; empty when fitted without customer ids):
    - ``customer_factor``: float32, the customer's re-buys over what the products' propensities
      predict, shrunk toward 1 (1 = an average customer).

    ``repeat_share``: float32 (1,), share of returning customers' purchases (product × date after
    their first date) that were a product they had bought before.
    """

    ARRAY_PREFIX: ClassVar[str] = "repeat."

    repeatable: npt.NDArray[np.bool_] = field(metadata=dense(np.bool_, contiguous=False))
    rate: FloatArray = field(metadata=dense(np.float32, contiguous=False))
    median_days: FloatArray = field(metadata=dense(np.float32, contiguous=False))
    gap_quantiles: FloatArray = field(metadata=dense(np.float32, contiguous=False))
    gaps: npt.NDArray[np.int32] = field(metadata=dense(np.int32, contiguous=False))
    customers: npt.NDArray[np.int32] = field(metadata=dense(np.int32, contiguous=False))
    repeaters: npt.NDArray[np.int32] = field(metadata=dense(np.int32, contiguous=False))
    another_rate: FloatArray = field(metadata=dense(np.float32, contiguous=False))
    same_repeaters: npt.NDArray[np.int32] = field(metadata=dense(np.int32, contiguous=False))
    item_buyers: npt.NDArray[np.int32] = field(metadata=dense(np.int32, contiguous=False))
    item_repeaters: npt.NDArray[np.int32] = field(metadata=dense(np.int32, contiguous=False))
    propensity: FloatArray = field(metadata=dense(np.float32, contiguous=False))
    customer_factor: FloatArray = field(metadata=dense(np.float32, contiguous=False))
    repeat_share: FloatArray = field(metadata=dense(np.float32, contiguous=False))

    @classmethod
    def check_arrays(cls, values: Mapping[str, Any], prefix: str) -> None:
        """Each array has one entry per category, item or customer (`_AXES`)."""
        lengths = {
            "category": len(values["repeatable"]),
            "item": len(values["propensity"]),
            "customer": len(values["customer_factor"]),
            "scalar": 1,
        }
        for name, axis in _AXES.items():
            expected: tuple[int, ...] = (lengths[axis],)
            if name == "gap_quantiles":
                expected = (lengths[axis], len(GAP_LEVELS))
            if values[name].shape != expected:
                raise ValueError(f"{prefix}{name} has shape {values[name].shape}, not {expected}")

    @functools.cached_property
    def owned_factor(self) -> FloatArray:
        """Per category, what an owned category's items are scaled by (`engine.owned_damping`):
        ``another_rate`` × `OWNED_RATE_SCALE`, within [`MIN_OWNED_FACTOR`, 1] (made once)."""
        rate = np.asarray(self.another_rate, dtype=np.float32)
        scaled = np.maximum(rate * OWNED_RATE_SCALE, MIN_OWNED_FACTOR)
        factor: FloatArray = read_only(np.minimum(scaled, np.float32(1.0)))
        return factor

    @property
    def share(self) -> float:
        """`repeat_share` as a float."""
        return float(self.repeat_share[0])

    def without(self, habit: str) -> RepeatModel:
        """The model with one learned habit neutralised, to measure what it is worth:
        ``"repeat"`` (no owned product comes back, no buy-again score), ``"damping"`` (owned
        categories keep their score) or ``"customer"`` (every customer is average)."""
        if habit == "repeat":
            return replace(
                self,
                repeatable=np.zeros_like(self.repeatable),
                propensity=np.zeros_like(self.propensity),
                repeat_share=np.zeros_like(self.repeat_share),
            )
        if habit == "damping":
            return replace(self, another_rate=np.ones_like(self.another_rate))
        if habit == "customer":
            return replace(self, customer_factor=np.ones_like(self.customer_factor))
        raise ValueError(f"unknown habit {habit!r}; expected repeat, damping or customer")


# name -> (dtype, what the array is indexed by)
_AXES: dict[str, str] = {
    "repeatable": "category",
    "rate": "category",
    "median_days": "category",
    "gap_quantiles": "category",
    "gaps": "category",
    "customers": "category",
    "repeaters": "category",
    "another_rate": "category",
    "same_repeaters": "category",
    "item_buyers": "item",
    "item_repeaters": "item",
    "propensity": "item",
    "customer_factor": "customer",
    "repeat_share": "scalar",
}


def shrunk_rate(
    hits: npt.ArrayLike, trials: npt.ArrayLike, prior: npt.ArrayLike, strength: float
) -> npt.NDArray[np.float64]:
    """``(hits + strength × prior) / (trials + strength)``: a rate that trusts its own counts
    as far as they go and the level above for the rest."""
    hits_ = np.asarray(hits, dtype=np.float64)
    trials_ = np.asarray(trials, dtype=np.float64)
    return np.asarray((hits_ + strength * np.asarray(prior)) / (trials_ + strength))


def _purchases(
    lines: pd.DataFrame,
    n_items: int,
    item_ids: npt.NDArray[np.int64] | None,
) -> pd.DataFrame:
    """Distinct (customer, item, date) purchases of known products."""
    import pandas as pd  # fit only (see above)

    if item_ids is not None:
        if n_items != len(item_ids):
            raise ValueError("item_category must have one entry per item id")
        positions = IdIndex.from_ids(item_ids).positions(lines["product_id"].to_numpy())
    elif "item" in lines.columns:
        positions = lines["item"].to_numpy(dtype=np.int64)
    else:
        raise ValueError("fit_repeat needs item_ids or an 'item' column of positions")
    known = (positions >= 0) & (positions < n_items)
    return pd.DataFrame(
        {
            "customer": lines["customer_id"].to_numpy(dtype=np.int64)[known],
            "item": positions[known].astype(np.int64),
            "date": pd.to_datetime(lines["order_date"]).to_numpy(dtype="datetime64[ns]")[known],
        }
    ).drop_duplicates()


def _runs(keys: list[npt.NDArray[np.int64]]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """For rows sorted by ``keys`` then date: whether a row continues the previous row's run
    (same keys: a re-buy), and whether it is the first re-buy of its run."""
    n = len(keys[0])
    again = np.zeros(n, dtype=bool)
    if n > 1:
        same = np.ones(n - 1, dtype=bool)
        for key in keys:
            same &= key[1:] == key[:-1]
        again[1:] = same
    second = np.zeros(n, dtype=bool)
    second[1:] = again[1:] & ~again[:-1]
    return again, second


def fit_repeat(
    lines: pd.DataFrame,
    item_category: npt.NDArray[np.int32],
    n_categories: int,
    min_customers: int = 5,
    min_rate: float = MIN_RATE,
    *,
    item_ids: npt.NDArray[np.int64] | None = None,
    user_ids: npt.NDArray[np.int64] | None = None,
    prior_strength: float = PRIOR_STRENGTH,
) -> RepeatModel:
    """Re-buy statistics from completed order lines.

    ``lines`` has the columns of ``StoreData.completed_lines()``. A line's product is the
    position of ``product_id`` in ``item_ids`` when given, else the line's ``item`` column
    (positions, as the build adds them). Lines of unknown products are ignored. Per-customer
    factors are fitted for ``user_ids`` (positions in that order) when given.
    """
    import pandas as pd  # fit only (see above)

    if prior_strength <= 0:
        raise ValueError("prior_strength must be positive")
    item_category = np.asarray(item_category, dtype=np.int32)
    n_items = len(item_category)
    if n_items and (item_category.min() < 0 or item_category.max() >= n_categories):
        raise ValueError(f"item_category values must lie in 0..{n_categories - 1}")
    purchases = _purchases(lines, n_items, item_ids)
    purchases["category"] = item_category[purchases["item"].to_numpy(dtype=np.int64)]

    # Category level, any product: a run per (category, customer).
    by_category = purchases[["category", "customer", "date"]].drop_duplicates()
    by_category = by_category.sort_values(["category", "customer", "date"], kind="stable")
    category = by_category["category"].to_numpy(dtype=np.int64)
    customer = by_category["customer"].to_numpy(dtype=np.int64)
    dates = by_category["date"].to_numpy(dtype="datetime64[ns]")
    again, second = _runs([category, customer])
    customers = np.bincount(category[~again], minlength=n_categories).astype(np.int32)
    repeaters = np.bincount(category[second], minlength=n_categories).astype(np.int32)
    rate = np.divide(repeaters, customers, out=np.zeros(n_categories), where=customers > 0).astype(
        np.float32
    )
    gap_rows = np.flatnonzero(again)
    median_days = np.zeros(n_categories, dtype=np.float32)
    gap_quantiles = np.zeros((n_categories, len(GAP_LEVELS)), dtype=np.float32)
    gap_counts = np.bincount(category[gap_rows], minlength=n_categories).astype(np.int32)
    if len(gap_rows):
        gaps = (dates[gap_rows] - dates[gap_rows - 1]) / np.timedelta64(1, "D")
        grouped = pd.Series(np.asarray(gaps, dtype=np.float64)).groupby(category[gap_rows])
        medians = grouped.median()
        median_days[medians.index.to_numpy(dtype=np.int64)] = medians.to_numpy(dtype=np.float32)
        quantiles = grouped.quantile(np.asarray(GAP_LEVELS)).unstack()
        gap_quantiles[quantiles.index.to_numpy(dtype=np.int64)] = quantiles.to_numpy(
            dtype=np.float32
        )

    # Product level: a run per (item, customer); a row after the run's first is a re-buy.
    ordered = purchases.sort_values(["item", "customer", "date"], kind="stable")
    item = ordered["item"].to_numpy(dtype=np.int64)
    item_customer = ordered["customer"].to_numpy(dtype=np.int64)
    item_again, item_second = _runs([item, item_customer])
    # Only buyers who ordered again later could re-buy: they are the rates' denominators.
    last_date = purchases.groupby("customer")["date"].max()
    came_back = ~item_again & (
        last_date.reindex(item_customer).to_numpy(dtype="datetime64[ns]")
        > ordered["date"].to_numpy(dtype="datetime64[ns]")
    )
    item_buyers = np.bincount(item[came_back], minlength=n_items).astype(np.int32)
    item_repeaters = np.bincount(item[item_second], minlength=n_items).astype(np.int32)
    category_buyers = np.bincount(item_category, weights=item_buyers, minlength=n_categories)
    same_repeaters = np.bincount(item_category, weights=item_repeaters, minlength=n_categories)
    store_rate = float(item_repeaters.sum() / max(int(item_buyers.sum()), 1))
    category_same = shrunk_rate(same_repeaters, category_buyers, store_rate, prior_strength)
    propensity = shrunk_rate(
        item_repeaters, item_buyers, category_same[item_category], prior_strength
    )

    # Another product of an owned category: a customer's first purchase of a product counts
    # when it is later than their first purchase of the category.
    firsts = ordered.loc[~item_again, ["customer", "category", "date"]]
    firsts = firsts.sort_values(["category", "customer", "date"], kind="stable")
    first_category = firsts["category"].to_numpy(dtype=np.int64)
    first_customer = firsts["customer"].to_numpy(dtype=np.int64)
    first_dates = firsts["date"].to_numpy(dtype="datetime64[ns]")
    later = np.zeros(len(firsts), dtype=bool)
    if len(firsts) > 1:
        run_start = np.ones(len(firsts), dtype=bool)
        run_start[1:] = (first_category[1:] != first_category[:-1]) | (
            first_customer[1:] != first_customer[:-1]
        )
        start_date = first_dates[
            np.maximum.accumulate(np.where(run_start, np.arange(len(firsts)), 0))
        ]
        later = first_dates > start_date
    explorers = (
        pd.DataFrame({"category": first_category[later], "customer": first_customer[later]})
        .drop_duplicates()["category"]
        .to_numpy(dtype=np.int64)
    )
    another = np.bincount(explorers, minlength=n_categories)
    category_returning = np.bincount(
        category[~again & (last_date.reindex(customer).to_numpy(dtype="datetime64[ns]") > dates)],
        minlength=n_categories,
    )
    # No customer ordered again after buying a category (a store of one basket per customer):
    # nothing says owned categories are not bought again, so the prior is 1, no damping (a
    # prior of 0 damped every owned category on Groceries, where the next basket is mostly
    # from categories the customer already buys).
    returning_total = int(category_returning.sum())
    store_another = float(another.sum() / returning_total) if returning_total else 1.0
    another_rate = shrunk_rate(another, category_returning, store_another, prior_strength)

    # The store must show re-buys of the same product at all, the category at least one of its
    # own; then the category's rate (shrunk toward the store's) decides. Without a re-buy of
    # its own a category of durables stays out however few buyers it has.
    repeatable = (
        (category_same >= min_rate)
        & (same_repeaters >= 1)
        & (int(item_repeaters.sum()) >= min_customers)
    )
    customer_factor = _customer_factors(ordered, item_again, came_back, propensity, user_ids)
    share = _repeat_share(ordered, item_again)
    logger.info(
        "repeat: %d of %d categories re-buy the same products; store re-buy rate %.3f, "
        "another-product rate %.3f, repeat share %.3f",
        int(repeatable.sum()),
        n_categories,
        store_rate,
        store_another,
        share,
    )
    return RepeatModel(
        repeatable=repeatable,
        rate=rate,
        median_days=median_days,
        gap_quantiles=gap_quantiles,
        gaps=gap_counts,
        customers=customers,
        repeaters=repeaters,
        another_rate=another_rate.astype(np.float32),
        same_repeaters=same_repeaters.astype(np.int32),
        item_buyers=item_buyers,
        item_repeaters=item_repeaters,
        propensity=propensity.astype(np.float32),
        customer_factor=customer_factor,
        repeat_share=np.array([share], dtype=np.float32),
    )


def _customer_factors(
    ordered: pd.DataFrame,
    item_again: npt.NDArray[np.bool_],
    came_back: npt.NDArray[np.bool_],
    propensity: npt.NDArray[np.float64],
    user_ids: npt.NDArray[np.int64] | None,
) -> FloatArray:
    """Per customer: (products re-bought + prior) / (re-buys the propensities predict + prior),
    so a long history of never re-buying pulls a customer's chances down and a short one
    leaves them at the product's."""
    if user_ids is None:
        return np.zeros(0, dtype=np.float32)
    users = IdIndex.from_ids(np.asarray(user_ids, dtype=np.int64))
    first = came_back  # purchases that could have been repeated
    position = users.positions(ordered["customer"].to_numpy(dtype=np.int64)[first])
    items = ordered["item"].to_numpy(dtype=np.int64)[first]
    second = np.zeros(len(ordered), dtype=bool)
    second[1:] = item_again[1:] & ~item_again[:-1]
    rebought = users.positions(ordered["customer"].to_numpy(dtype=np.int64)[second])
    inside = position >= 0
    expected = np.bincount(
        position[inside], weights=propensity[items[inside]], minlength=len(users)
    )
    observed = np.bincount(rebought[rebought >= 0], minlength=len(users))
    return ((observed + CUSTOMER_PRIOR) / (expected + CUSTOMER_PRIOR)).astype(np.float32)


def _repeat_share(ordered: pd.DataFrame, item_again: npt.NDArray[np.bool_]) -> float:
    """Re-buys over all purchases made after each customer's first purchase date."""
    import pandas as pd  # fit only (see above)

    customer = ordered["customer"].to_numpy(dtype=np.int64)
    dates = ordered["date"].to_numpy(dtype="datetime64[ns]")
    if len(dates) == 0:
        return 0.0
    first_date = pd.Series(dates).groupby(customer).transform("min").to_numpy()
    returning = dates > first_date
    return float(item_again[returning].sum() / max(int(returning.sum()), 1))


def repeat_chance(model: RepeatModel, user: int | None, items: npt.NDArray[np.int64]) -> FloatArray:
    """Per product, the chance this customer buys it again: its propensity times the customer's
    factor (1 for anonymous or unknown customers), capped at 1."""
    chance: FloatArray = np.minimum(model.propensity[items] * _factor(model, user), 1.0)
    return chance.astype(np.float32)


def likely_again(
    model: RepeatModel, user: int | None, items: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Per product, whether `repeat_chance` is at least `MIN_RATE`: the same float32 product
    compared, without the cap at 1 (it never decides: `MIN_RATE` < 1) and its copies, as a
    request asks it of every purchased product."""
    likely: npt.NDArray[np.bool_] = model.propensity[items] * _factor(model, user) >= _MIN_RATE
    return likely


_MIN_RATE = np.float32(MIN_RATE)  # what a float32 chance is compared with (a numpy scalar:
# numpy resolves the comparison faster than with a Python float, to the same float32 value)


def _factor(model: RepeatModel, user: int | None) -> np.float32:
    """The customer's re-buy factor as float32 (`customer_factor`; 1 for anonymous or unknown
    customers)."""
    if user is not None and 0 <= user < len(model.customer_factor):
        return np.float32(model.customer_factor[user])  # float32 already: the same value
    return np.float32(1.0)


@overload
def is_repeatable(model: RepeatModel, category: int) -> bool: ...


@overload
def is_repeatable(
    model: RepeatModel, category: npt.NDArray[np.integer[Any]]
) -> npt.NDArray[np.bool_]: ...


def is_repeatable(
    model: RepeatModel, category: int | npt.NDArray[np.integer[Any]]
) -> bool | npt.NDArray[np.bool_]:
    """Whether customers re-buy the same products of a category (so owned ones may come back).

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
