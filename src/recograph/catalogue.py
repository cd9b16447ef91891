"""Product catalogue and customer histories as flat arrays, shared by the build and the server.

Dates are int64 seconds since the epoch (UTC); strings are numpy unicode arrays so the whole
thing saves to ``.npz`` without pickles. Positions (``item_idx``, ``user_idx``) follow the
order of ``item_ids`` / ``user_ids`` (ascending store ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from recograph.core.codec import ArrayCoded, Encoding, dense, nested
from recograph.core.ids import IdIndex
from recograph.core.vocabulary import COMPLETED

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]


def _stored(dtype: type[np.generic]) -> dict[str, Encoding]:
    """A catalogue array's codec: ``dtype`` (strings: as stored), in the memory order it has."""
    return dense(dtype, contiguous=False)


@dataclass(frozen=True)
class Catalogue(ArrayCoded):
    """Every product the server can show, in position order."""

    item_ids: IntArray = field(metadata=_stored(np.int64))
    sku: StrArray = field(metadata=_stored(np.str_))
    name: StrArray = field(metadata=_stored(np.str_))
    brand: StrArray = field(metadata=_stored(np.str_))
    category: npt.NDArray[np.int32] = field(
        metadata=_stored(np.int32)
    )  # position into category_names
    category_names: StrArray = field(metadata=_stored(np.str_))
    price: FloatArray = field(metadata=_stored(np.float64))
    cost: FloatArray = field(metadata=_stored(np.float64))
    stock: IntArray = field(metadata=_stored(np.int64))
    promoted: npt.NDArray[np.bool_] = field(metadata=_stored(np.bool_))
    created_at: IntArray = field(metadata=_stored(np.int64))
    description: StrArray = field(metadata=_stored(np.str_))
    specs_json: StrArray = field(metadata=_stored(np.str_))  # one JSON object per product
    index: IdIndex = field(init=False, repr=False, compare=False)

    ARRAY_PREFIX: ClassVar[str] = "catalogue."

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", IdIndex(self.item_ids))

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def n_categories(self) -> int:
        return len(self.category_names)

    def category_position(self, name: str) -> int | None:
        """Position of a category by exact name (case-insensitive), or None."""
        lowered = name.strip().lower()
        for position, candidate in enumerate(self.category_names):
            if str(candidate).lower() == lowered:
                return position
        return None


@dataclass(frozen=True)
class Purchases(ArrayCoded):
    """Per customer, from their completed orders: how many there are, the last one (-1: none)
    and, as a CSR row, on how many distinct order dates they bought each product (orders
    placed at the same moment are one purchase, as the repeat model counts them).

    Counted by the build and stored with the histories (a profile reads one row), so a server
    maps it rather than counting it again in every worker."""

    n_completed: IntArray = field(metadata=dense(np.int64))
    last_completed: IntArray = field(metadata=dense(np.int64))
    count_indptr: IntArray = field(metadata=dense(np.int64))
    count_items: IntArray = field(metadata=dense(np.int64))
    count_values: npt.NDArray[np.float32] = field(metadata=dense(np.float32))

    ARRAY_PREFIX: ClassVar[str] = "histories.purchases."

    @classmethod
    def count(
        cls,
        user_order_indptr: IntArray,
        order_status: StrArray,
        order_date: IntArray,
        order_line_indptr: IntArray,
        line_item: npt.NDArray[np.int32],
    ) -> Purchases:
        """The table of the customers' orders and lines (`Histories`' arrays of those names)."""
        n_users = len(user_order_indptr) - 1
        n_orders = len(order_status)
        order_user = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(user_order_indptr))
        done = np.flatnonzero(np.asarray(order_status == COMPLETED))
        n_completed = np.bincount(order_user[done], minlength=n_users).astype(np.int64)
        last = np.full(n_users, -1, dtype=np.int64)
        np.maximum.at(last, order_user[done], done)  # a customer's orders ascend by date
        sizes = np.diff(order_line_indptr)
        line_order = np.repeat(np.arange(n_orders, dtype=np.int64), sizes)
        kept = np.isin(line_order, done)
        users = order_user[line_order[kept]]
        items = line_item[kept].astype(np.int64)
        dates = order_date[line_order[kept]].astype(np.int64)
        n_items = int(items.max()) + 1 if items.size else 1
        # distinct (customer, item, date), then the dates per (customer, item)
        triples = np.unique(np.stack([users, items, dates]), axis=1)
        pairs, counts = np.unique(triples[0] * n_items + triples[1], return_counts=True)
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(pairs // n_items, minlength=n_users), out=indptr[1:])
        return cls(n_completed, last, indptr, pairs % n_items, counts.astype(np.float32))

    @classmethod
    def check_arrays(cls, values: Mapping[str, Any], prefix: str) -> None:
        n_users = len(values["n_completed"])
        indptr = values["count_indptr"]
        if len(values["last_completed"]) != n_users or len(indptr) != n_users + 1:
            raise ValueError(f"{prefix}: per-customer arrays disagree on the customers")
        n_counts = int(indptr[-1])
        if len(values["count_items"]) != n_counts or len(values["count_values"]) != n_counts:
            raise ValueError(f"{prefix}: {n_counts} counts in count_indptr, other lengths")


@dataclass(frozen=True)
class Histories(ArrayCoded):
    """Customers with their orders (every status), order lines and reviews, as CSR-like arrays.

    Orders of customer ``u`` are ``user_order_indptr[u]:user_order_indptr[u+1]`` (sorted by
    date); lines of order ``o`` are ``order_line_indptr[o]:order_line_indptr[o+1]``; reviews
    of ``u`` are ``user_review_indptr[u]:user_review_indptr[u+1]``.
    """

    user_ids: IntArray = field(metadata=_stored(np.int64))
    user_name: StrArray = field(metadata=_stored(np.str_))
    user_email: StrArray = field(metadata=_stored(np.str_))
    user_created_at: IntArray = field(metadata=_stored(np.int64))
    user_order_indptr: IntArray = field(metadata=_stored(np.int64))
    order_ids: IntArray = field(metadata=_stored(np.int64))
    order_date: IntArray = field(metadata=_stored(np.int64))
    order_status: StrArray = field(metadata=_stored(np.str_))
    order_total: FloatArray = field(metadata=_stored(np.float64))
    order_line_indptr: IntArray = field(metadata=_stored(np.int64))
    line_item: npt.NDArray[np.int32] = field(metadata=_stored(np.int32))
    line_qty: IntArray = field(metadata=_stored(np.int64))
    line_price: FloatArray = field(metadata=_stored(np.float64))
    user_review_indptr: IntArray = field(metadata=_stored(np.int64))
    review_ids: IntArray = field(metadata=_stored(np.int64))
    review_item: npt.NDArray[np.int32] = field(metadata=_stored(np.int32))
    review_rating: IntArray = field(metadata=_stored(np.int64))
    review_date: IntArray = field(metadata=_stored(np.int64))
    # Counted from the arrays above (`Purchases.count`): every customer's completed purchases.
    purchases: Purchases = field(metadata=nested(Purchases), repr=False, compare=False)
    index: IdIndex = field(init=False, repr=False, compare=False)

    ARRAY_PREFIX: ClassVar[str] = "histories."

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", IdIndex(self.user_ids))

    def __len__(self) -> int:
        return len(self.user_ids)

    @classmethod
    def check_arrays(cls, values: Mapping[str, Any], prefix: str) -> None:
        n_users = len(values["user_ids"])
        if len(values["purchases"].n_completed) != n_users:
            raise ValueError(f"{prefix}purchases: not counted for these {n_users} customers")

    def orders_of(self, user: int) -> range:
        return range(int(self.user_order_indptr[user]), int(self.user_order_indptr[user + 1]))

    def lines_of(self, order: int) -> range:
        return range(int(self.order_line_indptr[order]), int(self.order_line_indptr[order + 1]))

    def reviews_of(self, user: int) -> range:
        return range(int(self.user_review_indptr[user]), int(self.user_review_indptr[user + 1]))

    def completed_orders(self, user: int, before: int | None = None) -> list[int]:
        """Completed orders of a customer, oldest first, optionally strictly before a date."""
        return [
            order
            for order in self.orders_of(user)
            if self.order_status[order] == COMPLETED
            and (before is None or self.order_date[order] < before)
        ]

    def order_items(self, order: int) -> npt.NDArray[np.int32]:
        span = self.lines_of(order)
        return self.line_item[span.start : span.stop]
