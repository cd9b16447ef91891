"""Temporal holdout, test targets, validation split and customer segments on a hand-made history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recograph.core.segments import SegmentThresholds, segment_of, segments
from recograph.evaluation.split import (
    CartCase,
    cart_cases,
    choose_cutoff,
    customer_holdout,
    history_counts,
    item_holdout,
    temporal_split,
    test_targets,
    validation_split,
)

# (order_id, customer_id, order_date, product ids): 10 orders, 13 lines.
ORDERS = [
    (1, 10, "2024-01-01", [100, 101]),
    (2, 10, "2024-01-05", [102]),
    (3, 20, "2024-01-10", [100]),
    (4, 30, "2024-01-12", [105]),
    (5, 20, "2024-01-20", [101]),
    (6, 40, "2024-01-25", [100]),
    (7, 10, "2024-02-01", [101, 103]),  # 101 is a repeat for customer 10
    (8, 20, "2024-02-03", [100, 103]),  # 100 is a repeat for customer 20
    (9, 50, "2024-02-05", [104]),  # customer 50 is new
    (10, 30, "2024-02-07", [105]),  # only a repeat for customer 30
]


def _lines(orders: list[tuple[int, int, str, list[int]]] = ORDERS) -> pd.DataFrame:
    rows = [
        (order_id, customer, pd.Timestamp(date), product, 1, 9.5, "cat")
        for order_id, customer, date, products in orders
        for product in products
    ]
    columns = ["order_id", "customer_id", "order_date", "product_id", "qty", "price", "category"]
    return pd.DataFrame(rows, columns=columns)


def _order_ids(frame: pd.DataFrame) -> set[int]:
    return {int(x) for x in frame["order_id"]}


def test_cutoff_puts_the_fraction_of_orders_after_it() -> None:
    lines = _lines()
    # 10 orders × 0.4 = 4 test orders: the 7th order by date (2024-02-01) opens the test period.
    assert choose_cutoff(lines, 0.4) == pd.Timestamp("2024-02-01")
    # 10 × 0.2 = 2 test orders: orders 9 and 10.
    assert choose_cutoff(lines, 0.2) == pd.Timestamp("2024-02-05")


def test_cutoff_counts_orders_not_lines() -> None:
    # By orders: 10 × 0.5 = 5 test orders → order 6 (2024-01-25) opens the test period.
    # By lines it would be round(13 × 0.5) = 6 test lines → 2024-02-01 (orders 7–10 have 6 lines).
    assert choose_cutoff(_lines(), 0.5) == pd.Timestamp("2024-01-25")


def test_orders_sharing_the_cutoff_date_go_to_test() -> None:
    lines = _lines(
        [
            (1, 1, "2024-01-01", [1]),
            (2, 1, "2024-01-02", [2]),
            (3, 2, "2024-01-02", [3]),
            (4, 3, "2024-01-02", [4]),
        ]
    )
    # 4 × 0.25 = 1 test order → the last date, which three orders share: all three are test.
    cutoff = choose_cutoff(lines, 0.25)
    assert cutoff == pd.Timestamp("2024-01-02")
    assert _order_ids(temporal_split(lines, cutoff).test) == {2, 3, 4}


def test_cutoff_keeps_training_non_empty() -> None:
    lines = _lines(
        [
            (1, 1, "2024-01-01", [1]),
            (2, 1, "2024-01-01", [2]),
            (3, 2, "2024-01-01", [3]),
            (4, 3, "2024-03-01", [4]),
        ]
    )
    # 4 × 0.9 ≈ 4 test orders, capped at 3; the 2nd order's date is the first date, which
    # would leave nothing to train on, so the cutoff moves to the next date.
    assert choose_cutoff(lines, 0.9) == pd.Timestamp("2024-03-01")


def test_cutoff_rejects_a_single_date_and_bad_fractions() -> None:
    one_day = _lines([(1, 1, "2024-01-01", [1]), (2, 2, "2024-01-01", [2])])
    with pytest.raises(ValueError, match="two distinct dates"):
        choose_cutoff(one_day)
    for fraction in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="fraction"):
            choose_cutoff(_lines(), fraction)


def test_temporal_split_cuts_at_the_cutoff() -> None:
    cutoff = pd.Timestamp("2024-02-01")
    split = temporal_split(_lines(), cutoff)
    assert split.cutoff == cutoff
    assert _order_ids(split.train) == {1, 2, 3, 4, 5, 6}
    assert _order_ids(split.test) == {7, 8, 9, 10}
    assert (len(split.train), len(split.test)) == (7, 6)
    assert list(split.train.columns) == list(_lines().columns)


def test_targets_are_new_items_bought_after_the_cutoff() -> None:
    split = temporal_split(_lines(), pd.Timestamp("2024-02-01"))
    # 10: {101, 103} minus earlier {100, 101, 102}; 20: {100, 103} minus earlier {100, 101};
    # 50: no history; 30 only re-bought 105, so has no target and is left out.
    assert test_targets(split) == {10: {103}, 20: {103}, 50: {104}}


def test_targets_with_repeats() -> None:
    split = temporal_split(_lines(), pd.Timestamp("2024-02-01"))
    assert test_targets(split, include_repeats=True) == {
        10: {101, 103},
        20: {100, 103},
        30: {105},
        50: {104},
    }


def test_validation_split_stays_inside_the_training_period() -> None:
    outer = temporal_split(_lines(), pd.Timestamp("2024-02-01"))
    inner = validation_split(outer.train, 0.5)
    # 6 training orders × 0.5 = 3: orders 4–6 validate, orders 1–3 train.
    assert inner.cutoff == pd.Timestamp("2024-01-12")
    assert _order_ids(inner.train) == {1, 2, 3}
    assert _order_ids(inner.test) == {4, 5, 6}
    assert inner.test["order_date"].max() < outer.cutoff


def test_history_counts_distinct_orders_and_items() -> None:
    train = temporal_split(_lines(), pd.Timestamp("2024-02-01")).train
    n_orders, n_items = history_counts(train, [10, 20, 30, 50, 99])
    # 10: orders 1, 2 with products 100, 101, 102; 20: orders 3, 5 with 100, 101;
    # 30: order 4; 50 and 99 have no history.
    assert n_orders.tolist() == [2, 2, 1, 0, 0]
    assert n_items.tolist() == [3, 2, 1, 0, 0]


def test_segment_of_default_thresholds() -> None:
    # The one default is the served one: 3 orders, or 8 distinct products in fewer.
    assert segment_of(0, 0) == "new"
    assert segment_of(1, 1) == "light"
    assert segment_of(2, 7) == "light"
    assert segment_of(2, 8) == "regular"
    assert segment_of(3, 3) == "regular"


def test_item_strength_makes_a_single_big_order_regular() -> None:
    thresholds = SegmentThresholds(regular_min_items=20)
    assert segment_of(1, 20, thresholds) == "regular"
    assert segment_of(1, 19, thresholds) == "light"
    assert segment_of(3, 3, thresholds) == "regular"
    assert segment_of(0, 0, thresholds) == "new"


def test_segments_vectorised_with_custom_thresholds() -> None:
    thresholds = SegmentThresholds(light_min_orders=2, regular_min_orders=4, regular_min_items=10)
    n_orders = np.array([0, 1, 2, 3, 4, 1])
    n_items = np.array([0, 5, 2, 9, 4, 10])
    result = segments(n_orders, n_items, thresholds)
    assert result.tolist() == ["new", "new", "light", "light", "regular", "regular"]
    assert result.dtype.kind == "U"


def test_segments_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        segments(np.array([1, 2]), np.array([1]))
    with pytest.raises(ValueError, match="non-negative"):
        segments(np.array([-1]), np.array([0]))
    with pytest.raises(ValueError, match="regular_min_orders"):
        SegmentThresholds(light_min_orders=3, regular_min_orders=2)
    with pytest.raises(ValueError, match="light_min_orders"):
        SegmentThresholds(light_min_orders=0)
    with pytest.raises(ValueError, match="regular_min_items"):
        SegmentThresholds(regular_min_items=0)


def test_cart_cases_replay_held_out_orders_as_carts() -> None:
    orders = [*ORDERS, (11, 60, "2024-02-08", [100, 101, 102])]  # a new customer, three items
    split = temporal_split(_lines(orders), pd.Timestamp("2024-02-01"))
    # Order 7 (customer 10, bought 100-102 before): only anchor 101 leaves a new target, 103.
    # Order 8 (customer 20, bought 100 and 101 before): only anchor 100 leaves 103.
    # Orders 9 and 10 hold one product each. Order 11: any anchor, the other two are targets.
    possible = {
        7: CartCase(7, 10, 101, frozenset({103})),
        8: CartCase(8, 20, 100, frozenset({103})),
    }
    seen: set[int] = set()
    for seed in range(30):
        cases = cart_cases(split, seed)
        assert cases == cart_cases(split, seed)  # seeded
        assert [c.order_id for c in cases] == sorted(c.order_id for c in cases)
        for case in cases:
            seen.add(case.order_id)
            if case.order_id == 11:
                assert case.customer_id == 60
                assert case.targets == frozenset({100, 101, 102} - {case.anchor})
            else:
                assert case == possible[case.order_id]
        assert 11 in {c.order_id for c in cases}
        assert len(cart_cases(split, seed, max_cases=1)) == 1
    assert seen == {7, 8, 11}


def test_customer_holdout_keeps_back_each_returning_customers_last_orders() -> None:
    # Customers 10 (orders 1, 2, 7), 20 (3, 5, 8) and 30 (4, 10) return; 40 and 50 ordered once.
    split = customer_holdout(_lines())
    assert _order_ids(split.test) == {7, 8, 10}
    assert _order_ids(split.train) == {1, 2, 3, 4, 5, 6, 9}
    assert split.cutoff == pd.Timestamp("2024-02-01")
    # New items only: 101 and 100 are repeats, customer 30 only re-bought 105.
    assert test_targets(split) == {10: {103}, 20: {103}}
    # Two orders back: customer 30 (two orders) would have no history left, so keeps them.
    two = customer_holdout(_lines(), last_orders=2)
    assert _order_ids(two.test) == {2, 5, 7, 8}
    assert set(two.train["customer_id"]) == {10, 20, 30, 40, 50}


def test_item_holdout_keeps_three_quarters_of_each_customers_products() -> None:
    lines = _lines()
    # Distinct products: customer 10 has 4 (keeps 3), 20 has 3 (keeps round(2.25) = 2), 30, 40
    # and 50 have one each and keep it. A held-out product takes all its lines (101 of 10 and
    # 100 of 20 were bought twice).
    for seed in range(5):
        split = item_holdout(lines, seed)
        assert split.test.equals(item_holdout(lines, seed).test)  # seeded
        held = split.test.groupby("customer_id")["product_id"].unique()
        assert set(held.index) == {10, 20}
        assert [len(held[10]), len(held[20])] == [1, 1]
        kept = split.train.groupby("customer_id")["product_id"].nunique()
        assert kept.to_dict() == {10: 3, 20: 2, 30: 1, 40: 1, 50: 1}
        assert len(split.train) + len(split.test) == len(lines)
        bought = lines.groupby(["customer_id", "product_id"]).size()
        for customer in (10, 20):
            product = int(held[customer][0])
            assert (split.test["product_id"] == product).sum() == bought[customer, product]
        assert test_targets(split) == {10: {int(held[10][0])}, 20: {int(held[20][0])}}
        assert split.cutoff == split.test["order_date"].min()
    # Seeds differ in what they hold out.
    choices = {tuple(item_holdout(lines, s).test["product_id"].unique()) for s in range(10)}
    assert len(choices) > 1


def test_item_holdout_takes_products_from_at_most_max_customers() -> None:
    lines = _lines()
    # Customers 10 (4 products) and 20 (3) are the two with two products or more. A cap of 2
    # or more takes both: the very holdout without a cap (same draws).
    for cap in (2, 3, 100):
        assert item_holdout(lines, 5, max_customers=cap).test.equals(item_holdout(lines, 5).test)
    # A cap of 1 takes one of them (seeded); the other keeps every line, and so do 30, 40, 50.
    picked = set()
    for seed in range(10):
        split = item_holdout(lines, seed, max_customers=1)
        assert split.test.equals(item_holdout(lines, seed, max_customers=1).test)  # seeded
        held_by = set(split.test["customer_id"])
        assert len(held_by) == 1
        assert held_by <= {10, 20}
        (customer,) = held_by
        assert split.test["product_id"].nunique() == 1  # 4 keep 3, 3 keep 2: one product out
        other = ({10, 20} - held_by).pop()
        kept = split.train.groupby("customer_id")["product_id"].nunique().to_dict()
        assert kept[other] == lines[lines["customer_id"] == other]["product_id"].nunique()
        assert kept[customer] == {10: 3, 20: 2}[customer]
        assert len(split.train) + len(split.test) == len(lines)
        picked.add(customer)
    assert picked == {10, 20}  # seeds differ in whom they sample
    with pytest.raises(ValueError, match="max_customers must be at least 1"):
        item_holdout(lines, 1, max_customers=0)


def test_item_holdout_needs_a_customer_with_two_products() -> None:
    one_each = [(1, 10, "2024-01-01", [100]), (2, 20, "2024-01-02", [101])]
    with pytest.raises(ValueError, match="at least two distinct products"):
        item_holdout(_lines(one_each), seed=1)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        item_holdout(_lines(), seed=1, keep_fraction=1.0)


def test_customer_holdout_needs_a_returning_customer() -> None:
    with pytest.raises(ValueError, match="more than one order"):
        customer_holdout(_lines(ORDERS[:1]))
    with pytest.raises(ValueError, match="at least 1"):
        customer_holdout(_lines(), last_orders=0)
