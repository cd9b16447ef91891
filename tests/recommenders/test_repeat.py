"""Store habits (re-buys per category, product and customer) on hand-made order lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recograph.recommenders.repeat import RepeatModel, fit_repeat, is_repeatable

CUSHIONS, HEADPHONES, CABLES = 0, 1, 2
# Products 1 and 2 are ear cushions, 3 headphones, 4 a cable (never bought).
ITEM_IDS = np.array([1, 2, 3, 4], dtype=np.int64)
ITEM_CATEGORY = np.array([CUSHIONS, CUSHIONS, HEADPHONES, CABLES], dtype=np.int32)
START = pd.Timestamp("2024-01-01")

COLUMNS = ["order_id", "customer_id", "order_date", "product_id", "qty", "price", "category"]


def lines_frame(rows: list[tuple[int, str, int, int]]) -> pd.DataFrame:
    """Rows of (order, customer, day, product)."""
    customers = {"A": 1, "B": 2, "C": 3, "D": 4, "E": 5}
    return pd.DataFrame(
        [
            (order, customers[c], START + pd.Timedelta(days=day), product, 1, 9.0, "x")
            for order, c, day, product in rows
        ],
        columns=COLUMNS,
    )


# Cushions: A re-buys after 30 days (another cushion), B after 20 and 40 days, C buys once,
# D buys both cushions in one order (one purchase): 4 customers, 2 re-bought, gaps 30, 20, 40.
# Headphones: A, B once; C twice at the same moment (one purchase); E again after 40 days:
# 4 customers, 1 re-bought, gap 40. Nobody buys cables.
LINES = lines_frame(
    [
        (1, "A", 0, 1),
        (1, "A", 0, 3),
        (2, "A", 30, 2),
        (3, "B", 0, 1),
        (3, "B", 0, 3),
        (4, "B", 20, 1),
        (5, "B", 60, 1),
        (6, "C", 0, 1),
        (7, "C", 5, 3),
        (8, "C", 5, 3),
        (9, "D", 5, 1),
        (9, "D", 5, 2),
        (10, "E", 10, 3),
        (11, "E", 50, 3),
        (12, "E", 50, 99),  # unknown product: ignored
    ]
)


@pytest.fixture(scope="module")
def model() -> RepeatModel:
    return fit_repeat(LINES, ITEM_CATEGORY, 3, min_customers=2, min_rate=0.5, item_ids=ITEM_IDS)


def test_counts_rates_and_gaps(model: RepeatModel) -> None:
    assert model.customers.tolist() == [4, 4, 0]
    assert model.repeaters.tolist() == [2, 1, 0]
    assert model.rate.tolist() == [0.5, 0.25, 0.0]
    assert model.median_days.tolist() == [30.0, 40.0, 0.0]


# Per product, counting only buyers who ordered again later (last dates: A 30, B 60, C 5,
# D 5, E 50): product 1 has 3 such buyers (A, B, C; D's only date is day 5) and 1 re-buyer (B);
# product 2 none (A and D bought it on their last date); product 3 has 3 (A, B, E; C's day 5 is
# C's last) and 1 re-buyer (E). Store rate 2/6 = 1/3, so with any prior every rate is 1/3.
def test_product_buyers_re_buyers_and_propensity(model: RepeatModel) -> None:
    assert model.item_buyers.tolist() == [3, 0, 3, 0]
    assert model.item_repeaters.tolist() == [1, 0, 1, 0]
    assert model.same_repeaters.tolist() == [1, 1, 0]
    np.testing.assert_allclose(model.propensity, [1 / 3] * 4, rtol=1e-6)


@pytest.mark.parametrize(
    ("min_customers", "min_rate", "expected"),
    [
        (2, 0.5, [False, False, False]),  # every same-product rate is 1/3
        (2, 0.3, [True, True, False]),  # cables: nobody re-bought one of their own
        (3, 0.3, [False, False, False]),  # the store has only 2 re-buyers of a product
    ],
)
def test_repeatable_means_the_same_products_are_re_bought(
    min_customers: int, min_rate: float, expected: list[bool]
) -> None:
    found = fit_repeat(LINES, ITEM_CATEGORY, 3, min_customers, min_rate, item_ids=ITEM_IDS)
    assert found.repeatable.tolist() == expected
    assert is_repeatable(found, CUSHIONS) is expected[0]
    assert is_repeatable(found, 99) is False
    assert is_repeatable(found, -1) is False
    assert is_repeatable(found, np.array([1, 0, 7])).tolist() == [expected[1], expected[0], False]


def test_another_product_rate_is_the_owned_category_damping() -> None:
    # Cushions: A buys product 2 on day 30 after product 1 on day 0 (another product); D buys
    # both on one date (one purchase). Customers who ordered again after their first cushion:
    # A, B, C -> 1 of 3. Headphones: only product 3 exists -> 0 of 3 (A, B, E). Store: 1/6.
    found = fit_repeat(LINES, ITEM_CATEGORY, 3, item_ids=ITEM_IDS, prior_strength=2.0)
    expected = [(1 + 2 / 6) / (3 + 2), (0 + 2 / 6) / (3 + 2), 1 / 6]
    np.testing.assert_allclose(found.another_rate, expected, rtol=1e-6)


def test_customer_factor_and_repeat_share() -> None:
    found = fit_repeat(
        LINES, ITEM_CATEGORY, 3, item_ids=ITEM_IDS, user_ids=np.array([1, 2, 3, 4, 5])
    )
    # Expected re-buys (propensity 1/3 per product bought before a later order):
    # A 2/3, B 2/3, C 1/3, D 0, E 1/3; observed: B and E one product each. Prior 5.
    expected = [5 / (5 + 2 / 3), 6 / (5 + 2 / 3), 5 / (5 + 1 / 3), 1.0, 6 / (5 + 1 / 3)]
    np.testing.assert_allclose(found.customer_factor, expected, rtol=1e-6)
    # After each customer's first date: A 1 purchase, B 2 (both re-buys), C 1, E 1 (re-buy).
    assert found.share == pytest.approx(3 / 5)


def test_without_neutralises_one_habit(model: RepeatModel) -> None:
    assert not model.without("repeat").propensity.any()
    assert model.without("repeat").share == 0.0
    assert model.without("damping").another_rate.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="habit"):
        model.without("everything")


def test_positions_may_come_from_an_item_column(model: RepeatModel) -> None:
    positions = np.searchsorted(ITEM_IDS, LINES["product_id"].to_numpy())
    known = np.isin(LINES["product_id"].to_numpy(), ITEM_IDS)
    lines = LINES.assign(item=np.where(known, positions, -1))
    found = fit_repeat(lines, ITEM_CATEGORY, 3, min_customers=2, min_rate=0.5)
    assert found.repeaters.tolist() == model.repeaters.tolist()
    assert found.median_days.tolist() == model.median_days.tolist()
    with pytest.raises(ValueError, match="item_ids"):
        fit_repeat(LINES, ITEM_CATEGORY, 3)


def test_round_trip_through_npz_without_pickle(model: RepeatModel, tmp_path: Path) -> None:
    path = tmp_path / "repeat.npz"
    np.savez(path, allow_pickle=False, **model.to_arrays("repeat."))
    with np.load(path, allow_pickle=False) as arrays:
        loaded = RepeatModel.from_arrays(dict(arrays), "repeat.")
    for name in model.to_arrays(""):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
        assert getattr(loaded, name).dtype == getattr(model, name).dtype


def test_from_arrays_rejects_mismatched_lengths(model: RepeatModel) -> None:
    arrays = model.to_arrays("r.")
    arrays["r.rate"] = arrays["r.rate"][:1]
    with pytest.raises(ValueError, match="rate"):
        RepeatModel.from_arrays(arrays, "r.")


def test_no_lines_repeats_nothing_without_nan() -> None:
    found = fit_repeat(LINES.iloc[:0], ITEM_CATEGORY, 3, item_ids=ITEM_IDS)
    assert found.repeatable.tolist() == [False] * 3
    assert found.rate.tolist() == [0.0] * 3
    assert found.median_days.tolist() == [0.0] * 3
    # No customer ordered again: no evidence for damping owned categories (was 0, which
    # damped them all; changed deliberately for stores of one basket per customer).
    assert found.another_rate.tolist() == [1.0] * 3
    assert found.propensity.tolist() == [0.0] * 4
    assert found.share == 0.0


def test_one_product_category() -> None:
    found = fit_repeat(
        LINES, ITEM_CATEGORY[:1], 1, min_customers=2, min_rate=0.5, item_ids=ITEM_IDS[:1]
    )
    # Product 1 alone: A (once), B (days 0, 20, 60), C, D → 4 customers, 1 re-buyer.
    assert (found.customers.tolist(), found.repeaters.tolist()) == ([4], [1])
    assert found.median_days.tolist() == [30.0]
    assert found.repeatable.tolist() == [False]  # 1 re-buyer of a product, fewer than 2
