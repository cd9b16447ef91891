"""Measure a store export from its files: counts, sparsity, popularity and basket patterns.

Pure pandas / numpy on the written files, so tests, the CLI and notebooks see what a model
would see. Baskets are the distinct categories of one ``completed`` order; for a pattern
A → B over n completed orders, support = n(A ∧ B) / n, confidence = n(A ∧ B) / n(A) and
lift = confidence / (n(B) / n). A category's re-buy rate is the share of its customers who
bought it again in a later completed order, as ``recommenders.repeat`` counts it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from recograph.dataset import COMPLETED
from recograph.io.reader import STORE_FILES
from recograph_lab.demo import catalogue as cat

# "Three to six months" in days, for the follow-up measure.
FOLLOW_UP_WINDOW_DAYS: tuple[float, float] = (90.0, 183.0)
TOP_N_REVENUE = 20


@dataclass(frozen=True)
class PatternMeasure:
    """Support, confidence and lift of antecedent → consequent over completed-order baskets."""

    antecedent: str
    consequent: str
    support: float
    confidence: float
    lift: float
    antecedent_orders: int
    both_orders: int


@dataclass(frozen=True)
class FollowUpMeasure:
    """Customers whose first ``item`` order follows their first ``anchor`` order, and when.

    ``within_window`` counts those whose gap lies in ``FOLLOW_UP_WINDOW_DAYS``.
    """

    anchor: str
    item: str
    customers: int
    within_window: int
    median_days: float

    @property
    def share_within_window(self) -> float:
        return self.within_window / self.customers if self.customers else math.nan


@dataclass(frozen=True)
class StoreSummary:
    """What a generated (or any) store export looks like, measured from its files."""

    counts: Mapping[str, int]
    categories: int
    completed_orders: int
    status_counts: Mapping[str, int]
    first_order: str
    last_order: str
    never_ordered_products: int
    sparsity: float
    top20_revenue_share: float
    patterns: tuple[PatternMeasure, ...]
    follow_up: FollowUpMeasure
    rebuy_rates: Mapping[str, float]


def read_table(data_dir: Path, name: str) -> pd.DataFrame:
    """One export file (``name.json`` array, else ``name.jsonl``) as a frame; dates parsed."""
    array_path = data_dir / f"{name}.json"
    lines_path = data_dir / f"{name}.jsonl"
    if array_path.exists():
        records = orjson.loads(array_path.read_bytes())
    elif lines_path.exists():
        with lines_path.open("rb") as fh:
            records = [orjson.loads(line) for line in fh if line.strip()]
    else:
        raise FileNotFoundError(f"{array_path} (or .jsonl) not found")
    frame = _frame(records)
    for column in ("created_at", "order_date"):
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    return frame


def _frame(records: list[dict[str, object]]) -> pd.DataFrame:
    """Column-wise construction: about twice as fast as ``DataFrame.from_records``."""
    if not records:
        return pd.DataFrame()
    keys = list(records[0])
    keys += sorted(set().union(*records) - set(keys))
    return pd.DataFrame({key: [record.get(key) for record in records] for key in keys})


def _completed_baskets(orders: pd.DataFrame, order_items: pd.DataFrame) -> pd.DataFrame:
    done = orders.loc[orders["status"] == COMPLETED, "order_id"]
    items = order_items.loc[order_items["order_id"].isin(done), ["order_id", "category"]]
    return items.drop_duplicates()


def basket_patterns(
    orders: pd.DataFrame,
    order_items: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
) -> list[PatternMeasure]:
    """Measure category pairs over completed-order baskets (NaN where a ratio is undefined)."""
    n = int((orders["status"] == COMPLETED).sum())
    baskets = _completed_baskets(orders, order_items)
    groups = {
        str(name): np.sort(group.to_numpy())
        for name, group in baskets.groupby("category", sort=True)["order_id"]
    }
    empty = np.array([], dtype=np.int64)
    measures = []
    for antecedent, consequent in pairs:
        a = groups.get(antecedent, empty)
        b = groups.get(consequent, empty)
        both = len(np.intersect1d(a, b, assume_unique=True))
        support = both / n if n else math.nan
        confidence = both / len(a) if len(a) else math.nan
        lift = confidence / (len(b) / n) if n and len(b) else math.nan
        measures.append(
            PatternMeasure(antecedent, consequent, support, confidence, lift, len(a), both)
        )
    return measures


def follow_up_gaps(
    orders: pd.DataFrame, order_items: pd.DataFrame, anchor: str, item: str
) -> pd.Series:
    """Days from each customer's first completed ``anchor`` order to their next ``item`` order.

    Indexed by customer_id; customers without a later completed ``item`` order are absent.
    """
    done = orders.loc[orders["status"] == COMPLETED, ["order_id", "customer_id", "order_date"]]
    lines = done.merge(order_items[["order_id", "category"]], on="order_id")
    first_anchor = lines.loc[lines["category"] == anchor].groupby("customer_id")["order_date"].min()
    later = lines.loc[lines["category"] == item, ["customer_id", "order_date"]].merge(
        first_anchor.rename("anchor_date"), left_on="customer_id", right_index=True
    )
    later = later.loc[later["order_date"] > later["anchor_date"]]
    first_item = later.groupby("customer_id")[["order_date", "anchor_date"]].min()
    gaps = (first_item["order_date"] - first_item["anchor_date"]).dt.total_seconds() / 86_400
    return gaps.rename("days")


def category_rebuy_rates(orders: pd.DataFrame, order_items: pd.DataFrame) -> dict[str, float]:
    """Per category, the share of its customers who bought it again later (completed orders).

    A re-buy as the repeat detector defines it: the same customer, the same category (any
    product of it), a strictly later ``order_date``; lines of one order, or of orders placed
    at the same moment, are one purchase. Categories without a completed line are absent.
    """
    done = orders.loc[orders["status"] == COMPLETED, ["order_id", "customer_id", "order_date"]]
    lines = done.merge(order_items[["order_id", "category"]], on="order_id")
    purchases = lines[["category", "customer_id", "order_date"]].drop_duplicates()
    per_customer = purchases.groupby(["category", "customer_id"]).size()
    rates = (per_customer >= 2).groupby(level="category").mean()
    return {str(name): float(rate) for name, rate in rates.sort_index().items()}


def rebuy_rates(data_dir: Path) -> dict[str, float]:
    """Re-buy rate of every category (``category_rebuy_rates``) from the files in ``data_dir``."""
    return category_rebuy_rates(read_table(data_dir, "orders"), read_table(data_dir, "order_items"))


def measure_patterns(
    data_dir: Path, pairs: Sequence[tuple[str, str]] | None = None
) -> list[PatternMeasure]:
    """Measure the planted category patterns (or ``pairs``) from the files in ``data_dir``."""
    orders = read_table(data_dir, "orders")
    items = read_table(data_dir, "order_items")
    return basket_patterns(orders, items, cat.category_patterns() if pairs is None else pairs)


def _follow_up(orders: pd.DataFrame, items: pd.DataFrame) -> FollowUpMeasure:
    fu = cat.FOLLOW_UP
    gaps = follow_up_gaps(orders, items, fu.anchor, fu.item)
    lo, hi = FOLLOW_UP_WINDOW_DAYS
    within = int(((gaps >= lo) & (gaps <= hi)).sum())
    median = float(gaps.median()) if len(gaps) else math.nan
    return FollowUpMeasure(fu.anchor, fu.item, len(gaps), within, median)


def measure_follow_up(data_dir: Path) -> FollowUpMeasure:
    """How many customers buy ear cushions after over-ear headphones, and how many in 3–6 months."""
    return _follow_up(read_table(data_dir, "orders"), read_table(data_dir, "order_items"))


def summarize_store(data_dir: Path) -> StoreSummary:
    """Everything ``recograph demo-data`` prints, measured from the files in ``data_dir``."""
    frames = {name: read_table(data_dir, name) for name in STORE_FILES}
    products, customers = frames["products"], frames["customers"]
    orders, items = frames["orders"], frames["order_items"]
    done = orders.loc[orders["status"] == COMPLETED, ["order_id", "customer_id"]]
    lines = done.merge(items[["order_id", "product_id", "qty", "price"]], on="order_id")
    pairs = lines[["customer_id", "product_id"]].drop_duplicates()
    cells = len(customers) * len(products)
    sparsity = 1.0 - len(pairs) / cells if cells else math.nan
    revenue = (lines["qty"] * lines["price"]).groupby(lines["product_id"]).sum()
    total = float(revenue.sum())
    top = float(revenue.nlargest(TOP_N_REVENUE).sum())
    ordered = set(items["product_id"].unique().tolist())
    statuses = orders["status"].value_counts().sort_index()
    return StoreSummary(
        counts={name: len(frame) for name, frame in frames.items()},
        categories=int(products["category"].nunique()),
        completed_orders=len(done),
        status_counts={str(k): int(v) for k, v in statuses.items()},
        first_order=str(orders["order_date"].min()),
        last_order=str(orders["order_date"].max()),
        never_ordered_products=int((~products["id"].isin(ordered)).sum()),
        sparsity=sparsity,
        top20_revenue_share=top / total if total else math.nan,
        patterns=tuple(basket_patterns(orders, items, cat.category_patterns())),
        follow_up=_follow_up(orders, items),
        rebuy_rates=category_rebuy_rates(orders, items),
    )
