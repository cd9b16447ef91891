"""Popularity on a hand-made set of order lines whose counts and decays are known."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recograph.recommenders import popularity
from recograph.recommenders.popularity import Popularity, fit_popularity, score_popularity

NOW = datetime(2024, 3, 31)
ITEM_IDS = np.array([10, 20, 30, 40], dtype=np.int64)
# Items 10 and 20 are in category 0, 30 and 40 in category 1; category 2 is empty.
ITEM_CATEGORY = np.array([0, 0, 1, 1], dtype=np.int32)

COLUMNS = ["order_id", "customer_id", "order_date", "product_id", "qty", "price", "category"]


def lines_frame(rows: list[tuple[int, int, int, int, int, float]]) -> pd.DataFrame:
    """Rows of (order, customer, age in days, product, qty, unit price)."""
    return pd.DataFrame(
        [
            (order, customer, pd.Timestamp(NOW - timedelta(days=age)), product, qty, price, "c")
            for order, customer, age, product, qty, price in rows
        ],
        columns=COLUMNS,
    )


LINES = lines_frame(
    [
        (1, 1, 0, 10, 2, 5.0),  # customer 1 buys item 10 today
        (2, 2, 30, 10, 1, 5.0),  # customer 2 bought it 30 days ago
        (3, 1, 30, 20, 1, 100.0),  # customer 1 bought item 20 twice: one customer
        (4, 1, 60, 20, 1, 100.0),
        (5, 3, 60, 30, 3, 10.0),
        (6, 3, 0, 99, 1, 1.0),  # a product outside the catalogue: ignored
    ]
)


@pytest.fixture(scope="module")
def pop() -> Popularity:
    return fit_popularity(LINES, ITEM_IDS, ITEM_CATEGORY, 3, now=NOW, half_life_days=30.0)


def test_overall_counts_distinct_customers(pop: Popularity) -> None:
    assert pop.overall.tolist() == [2.0, 1.0, 1.0, 0.0]
    assert pop.overall.dtype == np.float32


def test_revenue_sums_quantity_times_price(pop: Popularity) -> None:
    assert pop.revenue.tolist() == [15.0, 200.0, 30.0, 0.0]


def test_trending_halves_every_half_life(pop: Popularity) -> None:
    # item 10: 0 and 30 days old → 1 + 0.5; item 20: 30 and 60 → 0.5 + 0.25; item 30: 60 → 0.25
    assert pop.trending.tolist() == [1.5, 0.75, 0.25, 0.0]


def test_category_ranks_and_customers(pop: Popularity) -> None:
    assert pop.category_rank.tolist() == [1, 2, 1, 0]
    assert pop.category_customers.tolist() == [2.0, 1.0, 0.0]


def test_scores_are_normalised_and_masked_by_category(pop: Popularity) -> None:
    assert score_popularity(pop).tolist() == [1.0, 0.5, 0.5, 0.0]
    assert score_popularity(pop, category=1).tolist() == [0.0, 0.0, 1.0, 0.0]
    assert score_popularity(pop, trending=True).tolist() == pytest.approx([1.0, 0.5, 1 / 6, 0.0])
    assert score_popularity(pop, category=0, trending=True).tolist() == [1.0, 0.5, 0.0, 0.0]
    assert score_popularity(pop, category=2).tolist() == [0.0] * 4
    assert score_popularity(pop).dtype == np.float32


def test_ties_in_a_category_rank_by_trending_then_position() -> None:
    lines = lines_frame([(1, 1, 60, 10, 1, 1.0), (2, 2, 0, 20, 1, 1.0), (3, 3, 0, 30, 1, 1.0)])
    pop = fit_popularity(lines, ITEM_IDS, np.zeros(4, dtype=np.int32), 1, now=NOW)
    # 10 and 20 have one customer each but 20 was bought today; 30 equals 20 and comes after.
    assert pop.category_rank.tolist() == [3, 1, 2, 0]


def test_future_purchases_count_as_now_and_aware_now_is_utc() -> None:
    lines = lines_frame([(1, 1, -2, 10, 1, 1.0), (2, 2, 30, 20, 1, 1.0)])
    aware = datetime(2024, 3, 31, 2, 0, tzinfo=timezone(timedelta(hours=2)))  # NOW in UTC
    pop = fit_popularity(lines, ITEM_IDS, ITEM_CATEGORY, 2, now=aware)
    assert pop.trending.tolist() == [1.0, 0.5, 0.0, 0.0]


def test_round_trip_through_npz_without_pickle(pop: Popularity, tmp_path: Path) -> None:
    path = tmp_path / "pop.npz"
    np.savez(path, allow_pickle=False, **pop.to_arrays("popularity."))
    with np.load(path, allow_pickle=False) as arrays:
        loaded = Popularity.from_arrays(dict(arrays), "popularity.")
    for name in ("overall", "revenue", "trending", "item_category", "category_rank"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(pop, name))
        assert getattr(loaded, name).dtype == getattr(pop, name).dtype
    np.testing.assert_array_equal(loaded.category_customers, pop.category_customers)


def test_from_arrays_rejects_mismatched_lengths(pop: Popularity) -> None:
    arrays = pop.to_arrays("p.")
    arrays["p.trending"] = arrays["p.trending"][:2]
    with pytest.raises(ValueError, match="trending"):
        Popularity.from_arrays(arrays, "p.")


def test_no_lines_scores_zero_without_nan() -> None:
    pop = fit_popularity(LINES.iloc[:0], ITEM_IDS, ITEM_CATEGORY, 2, now=NOW)
    assert pop.overall.tolist() == [0.0] * 4
    assert pop.category_rank.tolist() == [0] * 4
    for trending in (False, True):
        assert score_popularity(pop, trending=trending).tolist() == [0.0] * 4


def test_no_items() -> None:
    empty = np.zeros(0, dtype=np.int64)
    pop = fit_popularity(LINES, empty, np.zeros(0, dtype=np.int32), 0, now=NOW)
    assert score_popularity(pop).shape == (0,)


def test_one_item() -> None:
    pop = fit_popularity(LINES, ITEM_IDS[:1], ITEM_CATEGORY[:1], 1, now=NOW)
    assert score_popularity(pop).tolist() == [1.0]
    assert pop.category_rank.tolist() == [1]


def test_rejects_categories_out_of_range() -> None:
    with pytest.raises(ValueError, match="item_category"):
        fit_popularity(LINES, ITEM_IDS, ITEM_CATEGORY, 1, now=NOW)


def test_a_small_catalogue_reads_its_scores_from_rows_made_once(pop: Popularity) -> None:
    """`Popularity.rows` holds exactly what `score_popularity` computes, read-only."""
    assert pop.rows is not None
    assert not pop.rows.flags.writeable
    for trending in (False, True):
        for category in (None, 0, 1, 2, -1):
            made = score_popularity(pop, category=category, trending=trending)
            computed = popularity._popularity_row(pop, category, trending)
            np.testing.assert_array_equal(made, computed)
            assert made.dtype == np.float32
