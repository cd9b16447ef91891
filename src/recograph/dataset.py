"""The in-memory form of a store export, shared by the importer, the database loader and the build.

Every frame has exactly the columns listed in `COLUMNS`, in that order, with these dtypes:

- ``products``: product_id int64, sku str, name str, brand str, category str, price float64,
  description str, specs object (dict str -> str), stock int64, promoted bool, cost float64,
  created_at datetime64[ns] (naive UTC).
- ``customers``: customer_id int64, name str, email str, created_at datetime64[ns].
- ``orders``: order_id int64, customer_id int64, status str, grand_total float64,
  order_date datetime64[ns].
- ``order_items``: order_id int64, product_id int64, product_name str, qty int64,
  price float64, category str.
- ``reviews``: review_id int64, product_id int64, customer_id int64, rating int64,
  created_at datetime64[ns].

Rows in these frames are already validated (types, ranges, references): consumers need not
check again.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from recograph.core.vocabulary import COMPLETED as COMPLETED  # noqa: PLC0414 (re-export)

COLUMNS: dict[str, tuple[str, ...]] = {
    "products": (
        "product_id",
        "sku",
        "name",
        "brand",
        "category",
        "price",
        "description",
        "specs",
        "stock",
        "promoted",
        "cost",
        "created_at",
    ),
    "customers": ("customer_id", "name", "email", "created_at"),
    "orders": ("order_id", "customer_id", "status", "grand_total", "order_date"),
    "order_items": ("order_id", "product_id", "product_name", "qty", "price", "category"),
    "reviews": ("review_id", "product_id", "customer_id", "rating", "created_at"),
}


@dataclass(frozen=True)
class StoreData:
    """A validated store export: five frames with the columns of `COLUMNS`."""

    products: pd.DataFrame
    customers: pd.DataFrame
    orders: pd.DataFrame
    order_items: pd.DataFrame
    reviews: pd.DataFrame

    def completed_lines(self) -> pd.DataFrame:
        """Order lines of completed orders, joined with customer_id and order_date.

        Columns: order_id, customer_id, order_date, product_id, qty, price, category.
        """
        orders = self.orders.loc[
            self.orders["status"] == COMPLETED, ["order_id", "customer_id", "order_date"]
        ]
        lines = self.order_items[["order_id", "product_id", "qty", "price", "category"]]
        return orders.merge(lines, on="order_id", how="inner")
