"""Store habits through the engine on three hand-made stores whose habits differ.

- A ratings-like store: every customer watches several films of each genre (every category is
  re-consumed), nobody buys a product twice.
- A durable store: everyone buys one laptop once and comes back for the same ink again.
- A re-buy store: customers buy the same coffee again and again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recograph.build import BuildParams, fit_snapshot
from recograph.dataset import StoreData
from recograph.engine import (
    Context,
    Request,
    build_profile,
    buy_again,
    comes_back,
    owned_damping,
    recommend,
)
from recograph.evaluation.evaluate import NO_POLICY
from recograph.snapshot import ModelSnapshot

PARAMS = BuildParams(seed=3, svd_factors=2, als_factors=2, als_iterations=2, product_min_count=2)
START = pd.Timestamp("2025-01-01")


def store(products: dict[int, str], orders: list[tuple[int, int, list[int]]]) -> StoreData:
    """``products``: id -> category; ``orders``: (customer, day, product ids), one order each."""
    ids = sorted(products)
    frame = pd.DataFrame(
        {
            "product_id": pd.Series(ids, dtype="int64"),
            "sku": [f"S{i}" for i in ids],
            "name": [f"Product {i}" for i in ids],
            "brand": ["Brand"] * len(ids),
            "category": [products[i] for i in ids],
            "price": pd.Series([10.0] * len(ids), dtype="float64"),
            "description": [f"product {i} of {products[i]}" for i in ids],
            "specs": [{} for _ in ids],
            "stock": pd.Series([5] * len(ids), dtype="int64"),
            "promoted": pd.Series([False] * len(ids), dtype="bool"),
            "cost": pd.Series([5.0] * len(ids), dtype="float64"),
            "created_at": pd.to_datetime(["2024-01-01"] * len(ids)),
        }
    )
    customers = sorted({c for c, _, _ in orders})
    order_rows = [
        (n, c, "completed", 10.0 * len(items), START + pd.Timedelta(days=day))
        for n, (c, day, items) in enumerate(orders, start=1)
    ]
    lines = [
        (n, p, f"Product {p}", 1, 10.0, products[p])
        for n, (_, _, items) in enumerate(orders, start=1)
        for p in items
    ]
    return StoreData(
        products=frame,
        customers=pd.DataFrame(
            {
                "customer_id": pd.Series(customers, dtype="int64"),
                "name": [f"C{c}" for c in customers],
                "email": [f"c{c}@example.com" for c in customers],
                "created_at": pd.to_datetime(["2024-06-01"] * len(customers)),
            }
        ),
        orders=pd.DataFrame(
            order_rows, columns=["order_id", "customer_id", "status", "grand_total", "order_date"]
        ),
        order_items=pd.DataFrame(
            lines, columns=["order_id", "product_id", "product_name", "qty", "price", "category"]
        ),
        reviews=pd.DataFrame(
            {
                "review_id": pd.Series([], dtype="int64"),
                "product_id": pd.Series([], dtype="int64"),
                "customer_id": pd.Series([], dtype="int64"),
                "rating": pd.Series([], dtype="int64"),
                "created_at": pd.to_datetime(pd.Series([], dtype="object")),
            }
        ),
    )


def user(snapshot: ModelSnapshot, customer_id: int) -> int:
    position = snapshot.histories.index.position(customer_id)
    assert position is not None
    return position


def pos(snapshot: ModelSnapshot, product_id: int) -> int:
    position = snapshot.catalogue.index.position(product_id)
    assert position is not None
    return position


# Ratings-like: 12 films, 3 genres of 4 (ids 1-4 drama, 5-8 comedy, 9-12 horror); each of 10
# customers watches a different film of every genre on each of 3 days, never one twice.
FILMS = {i: ("drama", "comedy", "horror")[(i - 1) // 4] for i in range(1, 13)}
RATINGS = [
    (c, day, [1 + (c + day) % 4, 5 + (c + day) % 4, 9 + (c + day) % 4])
    for c in range(1, 11)
    for day in range(3)
]


@pytest.fixture(scope="module")
def ratings() -> ModelSnapshot:
    return fit_snapshot(store(FILMS, RATINGS), PARAMS)


def test_ratings_like_store_never_brings_an_owned_product_back(ratings: ModelSnapshot) -> None:
    assert not ratings.repeat.item_repeaters.any()
    assert not ratings.repeat.repeatable.any()
    for customer in range(1, 11):
        position = user(ratings, customer)
        result = recommend(ratings, Request(user=position, limit=12), NO_POLICY)
        owned = set(build_profile(ratings, position).items.tolist())
        assert len(owned) == 9
        assert [i.position for i in result.items if i.position in owned] == []
        assert len(result.items) == 3  # the three films not yet watched


def test_re_consumed_categories_are_not_damped(ratings: ModelSnapshot) -> None:
    # Every customer who came back watched another film of every genre: rate 1, no damping.
    np.testing.assert_allclose(ratings.repeat.another_rate, [1.0, 1.0, 1.0])
    profile = build_profile(ratings, user(ratings, 1))
    assert owned_damping(ratings, profile, Context()).tolist() == [1.0] * 12


# Durable store: laptops 1-3 (each customer buys one laptop once, on day 0), ink 4 and 5.
# Customers 1-8 buy ink 4 on days 0, 10 and 20; customers 9-12 buy ink 5 on days 0 and 10.
DEVICES = {1: "laptops", 2: "laptops", 3: "laptops", 4: "ink", 5: "ink"}
DURABLE = [(c, 0, [1 + c % 3, 4 if c <= 8 else 5]) for c in range(1, 13)] + [
    (c, day, [4 if c <= 8 else 5]) for c in range(1, 13) for day in (10, 20) if c <= 8 or day == 10
]


@pytest.fixture(scope="module")
def durable() -> ModelSnapshot:
    return fit_snapshot(store(DEVICES, DURABLE), PARAMS)


def test_a_durable_bought_once_stays_filtered_and_the_ink_comes_back(
    durable: ModelSnapshot,
) -> None:
    repeat = durable.repeat
    laptops, ink = (int(durable.catalogue.category[pos(durable, p)]) for p in (1, 4))
    # 12 laptop buyers came back, none bought a laptop again; every ink buyer re-bought it.
    assert repeat.item_buyers[[pos(durable, p) for p in (1, 2, 3)]].sum() == 12
    assert repeat.item_repeaters[[pos(durable, p) for p in (1, 2, 3)]].sum() == 0
    assert (repeat.item_buyers[pos(durable, 4)], repeat.item_repeaters[pos(durable, 4)]) == (8, 8)
    assert repeat.repeatable[[laptops, ink]].tolist() == [False, True]
    customer = user(durable, 1)  # laptop 2 once, ink 4 three times
    profile = build_profile(durable, customer)
    assert comes_back(durable, profile).tolist() == [False, True]  # positions of products 2, 4
    shown = [i.position for i in recommend(durable, Request(user=customer), NO_POLICY).items]
    assert pos(durable, 2) not in shown
    assert shown[0] == pos(durable, 4)
    # Nobody bought a second laptop: the other laptops are damped to the floor, ink is not.
    damping = owned_damping(durable, profile, Context())
    assert damping[pos(durable, 1)] == pytest.approx(0.05)
    assert damping[pos(durable, 4)] == 1.0


# Re-buy store: one category of 6 coffees; customer 1 buys coffee 1 every week (6 dates) and
# coffee 2 once; 2-9 each buy their own coffee (2 + c % 5) weekly, then coffee 1 on day 35.
COFFEES = {i: "coffee" for i in range(1, 7)}
WEEKS = (0, 7, 14, 21, 28)
REBUY = (
    [(1, day, [1]) for day in (*WEEKS, 35)]
    + [(1, 3, [2])]
    + [(c, day, [2 + c % 5]) for c in range(2, 10) for day in WEEKS]
    + [(c, 35, [1]) for c in range(2, 10)]
)


def test_a_product_the_customer_re_buys_comes_back_first() -> None:
    snapshot = fit_snapshot(store(COFFEES, REBUY), PARAMS)
    repeat = snapshot.repeat
    # Coffee 1: customer 1 is its only buyer who ordered again, and re-bought it.
    assert (repeat.item_buyers[pos(snapshot, 1)], repeat.item_repeaters[pos(snapshot, 1)]) == (
        1,
        1,
    )
    customer = user(snapshot, 1)
    profile = build_profile(snapshot, customer)
    assert profile.purchase_counts is not None
    assert profile.purchase_counts[[pos(snapshot, 1), pos(snapshot, 2)]].tolist() == [6.0, 1.0]
    again = buy_again(snapshot, profile)
    assert again[pos(snapshot, 1)] > again[pos(snapshot, 2)] > 0
    result = recommend(snapshot, Request(user=customer, limit=3), NO_POLICY)
    assert result.items[0].position == pos(snapshot, 1)
    # Without the habit the store's re-buys are thrown away: coffee 1 is filtered.
    plain = replace_repeat(snapshot, "repeat")
    assert pos(snapshot, 1) not in [
        i.position for i in recommend(plain, Request(user=customer, limit=3), NO_POLICY).items
    ]


def replace_repeat(snapshot: ModelSnapshot, habit: str) -> ModelSnapshot:
    from dataclasses import replace

    return replace(snapshot, repeat=snapshot.repeat.without(habit))


def test_buy_again_is_mixed_in_by_the_repeat_share() -> None:
    from recograph.engine import mix_buy_again

    total = np.array([0.5, 0.3, 0.2, 0.1], dtype=np.float32)
    again = np.array([0.0, 0.0, 0.6, 0.0], dtype=np.float32)
    # New products' best total (item 2 is a re-buy, not new): 0.5 + 0.3 + 0.1 = 0.9; the only
    # re-buy holds all the buy-again mass, so it scores s / (1 - s) × 0.9.
    assert mix_buy_again(total, again, 0.5).tolist() == pytest.approx([0.5, 0.3, 0.9, 0.1])
    assert mix_buy_again(total, again, 0.2).tolist() == pytest.approx([0.5, 0.3, 0.225, 0.1])
    assert mix_buy_again(total, again, 0.0).tolist() == pytest.approx(total.tolist())
    # One row per customer gives the same as one call each.
    rows = mix_buy_again(np.stack([total, total]), np.stack([again, np.zeros(4)]), 0.5)
    np.testing.assert_allclose(rows, [[0.5, 0.3, 0.9, 0.1], total], rtol=1e-6)


def test_the_build_reports_each_habit_on_the_validation_split() -> None:
    from recograph.build import build_artifacts

    manifest = build_artifacts(store(COFFEES, REBUY), None, PARAMS).manifest
    habits = manifest["habits"]
    assert list(habits["rows"]) == [
        "all habits",
        "without repeat",
        "without damping",
        "without customer",
    ]
    assert habits["users"] >= 1
    assert 0 < habits["learned"]["repeat_share"] < 1
    rows = habits["rows"]
    # Customers re-buy their own coffee: without the habit it is filtered out of every list.
    assert rows["all habits"]["ndcg@10 all items"] > rows["without repeat"]["ndcg@10 all items"]
