"""Validation decisions on a store where no customer returns: the per-customer item holdout."""

from __future__ import annotations

import pandas as pd
import pytest

from recograph.build import MIN_RETURNING_SHARE, BuildResult, build_artifacts, validation_holdout
from recograph.dataset import StoreData
from recograph.evaluation import evaluate
from tests.tiny_store import (
    AMP,
    CABLE,
    HEADPHONES,
    KEYBOARD,
    LAPTOP,
    MOUSE,
    TINY_PARAMS,
    basket_frames,
    tiny_store,
)

# Three-product baskets, one per customer, as on Groceries: nobody has a last order to hold out.
KINDS = [[LAPTOP, MOUSE, KEYBOARD], [HEADPHONES, AMP, CABLE], [LAPTOP, MOUSE, CABLE]]
N_CUSTOMERS = 80


def one_basket_store() -> StoreData:
    """80 customers with one completed order each, a day apart, cycling through `KINDS`."""
    base = tiny_store()
    baskets = [(c, c, KINDS[c % len(KINDS)]) for c in range(1, N_CUSTOMERS + 1)]
    dates = pd.Timestamp("2026-01-01") + pd.to_timedelta(range(N_CUSTOMERS), "D")
    orders, lines = basket_frames(base.products, baskets, pd.DatetimeIndex(dates))
    ids = range(1, N_CUSTOMERS + 1)
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype="int64"),
            "name": [f"Customer {i}" for i in ids],
            "email": [f"c{i}@example.com" for i in ids],
            "created_at": pd.to_datetime(["2025-06-01"] * N_CUSTOMERS),
        }
    )
    return StoreData(base.products, customers, orders, lines, base.reviews.iloc[0:0])


@pytest.fixture(scope="module")
def one_basket_build() -> BuildResult:
    return build_artifacts(one_basket_store(), None, TINY_PARAMS)


def test_one_basket_store_takes_validation_decisions_on_held_out_items(
    one_basket_build: BuildResult,
) -> None:
    validation = one_basket_build.manifest["validation"]
    protocol = validation["protocol"]
    assert protocol["kind"] == "per-customer item holdout"
    assert "more than one order" in protocol["fallback_from"]["reason"]
    # 80 orders, 20% (16) after the test cutoff: 64 training customers with three products
    # each keep round(3 × 0.75) = 2 and hold out 1 line.
    assert protocol["keep_fraction"] == 0.75
    assert protocol["held_out_lines"] == 64
    assert protocol["held_out_orders"] == 64
    assert protocol["customers"] == 64
    assert protocol["customers_with_new_products"] == 64
    # The decisions ran: a CF mix was scored and the guarantee decided every segment and page.
    assert validation["cf_models"]
    choices = validation["choices"]
    by_segment = {(c["segment"], c["page"]): c for c in choices}
    # Every held-out customer has one order of two kept products: all 64 are light, and the
    # guarantee decides on all of them; no regular customer, so that segment keeps its weights.
    light = by_segment["light", "history"]
    assert light["outcome"] in {"blend", "signal"}
    assert light["blend_ndcg@10"]["users"] == light["best_signal_ndcg@10"]["users"] == 64
    assert by_segment["regular", "history"]["outcome"] == "too few"
    # One held-out line per order: no order replays as a cart, so no cart-page decision.
    assert set(by_segment) == {("light", "history"), ("regular", "history")}
    summary = evaluate.validation_summary(validation).splitlines()[0]
    assert summary == (
        "validation: per-customer item holdout, 64 held-out lines of 64 customers "
        f"(64 with new products); decisions need {evaluate.MIN_DECISION_CUSTOMERS} customers"
    )


def returning_and_one_off_store(returning: int, one_off: int) -> StoreData:
    """``returning`` customers with two orders (laptop + mouse, then a keyboard: one new
    product in the last order) and ``one_off`` customers with one three-product basket."""
    base = tiny_store()
    baskets: list[tuple[int, int, list[int]]] = []
    for customer in range(1, returning + 1):
        baskets += [
            (2 * customer - 1, customer, [LAPTOP, MOUSE]),
            (2 * customer, customer, [KEYBOARD]),
        ]
    for customer in range(returning + 1, returning + one_off + 1):
        baskets.append((returning + customer, customer, [HEADPHONES, AMP, CABLE]))
    dates = pd.Timestamp("2026-01-01") + pd.to_timedelta(range(len(baskets)), "h")
    orders, lines = basket_frames(base.products, baskets, pd.DatetimeIndex(dates))
    ids = range(1, returning + one_off + 1)
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype="int64"),
            "name": [f"Customer {i}" for i in ids],
            "email": [f"c{i}@example.com" for i in ids],
            "created_at": pd.to_datetime(["2025-06-01"] * len(ids)),
        }
    )
    return StoreData(base.products, customers, orders, lines, base.reviews.iloc[0:0])


def test_mostly_one_off_customers_validate_on_held_out_items() -> None:
    # 40 returning customers (each with a new product in the last order, 40 >= 30 decide) but
    # 60 one-off: returning are 40% of the 100 buyers, under the 50% majority, so the
    # last-order holdout would decide for the minority: the item holdout decides.
    chosen = validation_holdout(returning_and_one_off_store(40, 60), seed=7)
    protocol = chosen.protocol
    assert protocol["kind"] == "per-customer item holdout"
    assert (protocol["returning_customers"], protocol["buying_customers"]) == (40, 100)
    assert protocol["min_returning_share"] == MIN_RETURNING_SHARE == 0.5
    assert protocol["fallback_from"]["reason"].startswith(
        "40 of 100 buying customers returned (40%, under 50%)"
    )
    # Every customer has 3 distinct products: keeps round(3 × 0.75) = 2, holds out 1.
    assert protocol["customers"] == protocol["held_out_lines"] == 100
    summary = evaluate.validation_summary({"protocol": protocol}).splitlines()
    assert summary[1] == f"  not the per-customer holdout: {protocol['fallback_from']['reason']}"


def test_mostly_returning_customers_validate_on_their_last_order() -> None:
    # 60 of 100 buyers return (60% >= 50%): each one's last order (the keyboard) is held out.
    chosen = validation_holdout(returning_and_one_off_store(60, 40), seed=7)
    protocol = chosen.protocol
    assert protocol["kind"] == "per-customer holdout"
    assert "fallback_from" not in protocol
    assert (protocol["customers"], protocol["buying_customers"]) == (60, 100)
    assert protocol["held_out_orders"] == protocol["customers_with_new_products"] == 60
    assert chosen.targets == {customer: {KEYBOARD} for customer in range(1, 61)}


def test_item_holdout_validation_thins_only_the_customers_it_scores() -> None:
    # 100 one-off customers with three products each (40 returning are 40% < 50%: the item
    # holdout decides). With a cap of 30, 30 seeded customers hold one product out each; the
    # other 110 customers' lines all stay in the store the validation models are fitted on.
    store = returning_and_one_off_store(40, 60)
    chosen = validation_holdout(store, seed=7, max_customers=30)
    protocol = chosen.protocol
    assert protocol["kind"] == "per-customer item holdout"
    # Every customer has 3 distinct products (returning: laptop, mouse, keyboard).
    assert (protocol["eligible_customers"], protocol["max_customers"]) == (100, 30)
    assert protocol["customers"] == protocol["held_out_lines"] == len(chosen.targets) == 30
    assert "only a seeded 30 of the 100 customers with two products" in protocol["description"]
    assert len(chosen.fit_on.order_items) == len(store.order_items) - 30
    summary = evaluate.validation_summary({"protocol": protocol}).splitlines()[0]
    assert summary == (
        "validation: per-customer item holdout, 30 held-out lines of 30 customers (30 with new "
        "products), a seeded sample of the 100 with two products or more; decisions need "
        f"{evaluate.MIN_DECISION_CUSTOMERS} customers"
    )
    # No cap, or a cap of all 100: everyone holds a product out, as before.
    for cap in (None, 100):
        uncapped = validation_holdout(store, seed=7, max_customers=cap)
        assert uncapped.protocol["customers"] == 100
        assert uncapped.protocol["max_customers"] == cap
        assert "only a seeded" not in uncapped.protocol["description"]
        assert uncapped.targets == validation_holdout(store, seed=7).targets


def test_the_validation_choice_overrides_the_store_shape() -> None:
    # 60 of 100 return: "auto" takes the last order (above); "item" holds out items instead,
    # as a benchmark's stratified split does, and says it was asked for.
    store = returning_and_one_off_store(60, 40)
    asked = validation_holdout(store, seed=7, choice="item").protocol
    assert asked["kind"] == "per-customer item holdout"
    assert asked["fallback_from"]["reason"] == "the build's validation choice is 'item'"
    assert asked["description"].startswith("asked for (the build's validation choice is 'item'): ")
    # 40 of 100 return: "auto" holds out items (above); "last-order" takes the 40 last orders.
    forced = validation_holdout(returning_and_one_off_store(40, 60), seed=7, choice="last-order")
    assert forced.protocol["kind"] == "per-customer holdout"
    assert forced.protocol["customers"] == 40
    with pytest.raises(ValueError, match="validation 'random'"):
        validation_holdout(store, seed=7, choice="random")
