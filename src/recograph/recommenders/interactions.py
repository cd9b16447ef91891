"""Ids versus matrix positions, and the customers × products interaction matrix.

``item_id`` / ``user_id`` are the store's keys; ``item_idx`` / ``user_idx`` are matrix rows and
columns. They are converted here and nowhere else.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recograph.core.ids import IdIndex


class Signal(StrEnum):
    """How a customer's purchases of a product become one matrix value."""

    BINARY = "binary"  # 1 if ever bought
    COUNT = "count"  # number of completed orders containing the product
    RATING = "rating"  # 1 for a purchase, scaled by the review's rating where there is one


DEFAULT_SIGNAL = Signal.BINARY


def interaction_matrix(
    lines: pd.DataFrame,
    users: IdIndex,
    items: IdIndex,
    signal: Signal = DEFAULT_SIGNAL,
    reviews: pd.DataFrame | None = None,
) -> sp.csr_matrix:
    """Customers × products matrix (float32 CSR) from completed order lines.

    ``lines`` needs columns customer_id, product_id, order_id (see StoreData.completed_lines);
    rows whose customer or product is not in the indexes are ignored. With ``Signal.RATING``
    a purchase counts ``rating / 3`` when the customer reviewed the product (so 1–2 stars
    weigh less than an unreviewed purchase, 4–5 more), else 1.
    """
    shape = (len(users), len(items))
    if lines.empty:
        return sp.csr_matrix(shape, dtype=np.float32)
    pairs = lines[["customer_id", "product_id", "order_id"]].drop_duplicates()
    counts = pairs.groupby(["customer_id", "product_id"]).size().rename("n").reset_index()
    rows = users.positions(counts["customer_id"].to_numpy())
    cols = items.positions(counts["product_id"].to_numpy())
    if signal is Signal.COUNT:
        values = counts["n"].to_numpy(dtype=np.float32)
    elif signal is Signal.RATING and reviews is not None and not reviews.empty:
        rated = counts.merge(
            reviews.groupby(["customer_id", "product_id"])["rating"].mean().reset_index(),
            on=["customer_id", "product_id"],
            how="left",
        )
        values = (rated["rating"].fillna(3.0) / 3.0).to_numpy(dtype=np.float32)
    else:
        values = np.ones(len(counts), dtype=np.float32)
    keep = (rows >= 0) & (cols >= 0)
    matrix = sp.coo_matrix((values[keep], (rows[keep], cols[keep])), shape=shape)
    return matrix.tocsr().astype(np.float32)
