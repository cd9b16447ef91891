"""The TechHeaven demo store: exact counts, invariants, planted patterns, determinism and CLI."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd
import pytest

from recograph.cli import main
from recograph_lab.demo.generator import GenerationSummary, StoreSize, generate_store
from recograph_lab.demo.summary import (
    basket_patterns,
    category_rebuy_rates,
    follow_up_gaps,
    measure_follow_up,
    measure_patterns,
    read_table,
    rebuy_rates,
    summarize_store,
)

FILES = (
    "products.json",
    "customers.json",
    "orders.json",
    "order_items.json",
    "reviews.json",
    "ground_truth.json",
)
REQUIRED_CATEGORIES = {
    "Laptops",
    "Wireless Mice",
    "Mechanical Keyboards",
    "USB-C Hubs & Docks",
    "Laptop Sleeves",
    "External SSDs",
    "Over-Ear Headphones",
    "In-Ear Headphones",
    "Headphone Amplifiers",
    "DACs & Balanced Cables",
    "Headphone Cases",
    "Ear Cushions",
    "Gaming Mice",
    "Gaming Headsets",
    "Gaming Monitors",
    "XL Mouse Pads",
}
FIELDS = {
    "products": [
        "id",
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
    ],
    "customers": ["customer_id", "name", "email", "created_at"],
    "orders": ["order_id", "customer_id", "status", "grand_total", "order_date"],
    "order_items": ["order_id", "product_id", "product_name", "qty", "price", "category"],
    "reviews": ["review_id", "product_id", "customer_id", "rating", "created_at"],
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    return generate_store(tmp_path_factory.mktemp("demo") / "store", seed=42, scale=1.0)


@pytest.fixture(scope="module")
def store(generated: GenerationSummary) -> dict[str, pd.DataFrame]:
    return {name: read_table(generated.out_dir, name) for name in FIELDS}


@pytest.fixture(scope="module")
def ground_truth(generated: GenerationSummary) -> dict[str, Any]:
    truth: dict[str, Any] = orjson.loads((generated.out_dir / "ground_truth.json").read_bytes())
    return truth


def _cents(values: pd.Series) -> npt.NDArray[np.int64]:
    cents: npt.NDArray[np.int64] = np.rint(values.to_numpy(dtype=np.float64) * 100).astype(np.int64)
    return cents


def test_exact_counts_at_scale_one(
    generated: GenerationSummary, store: dict[str, pd.DataFrame]
) -> None:
    assert {name: len(frame) for name, frame in store.items()} == {
        "products": 291,
        "customers": 1000,
        "orders": 5000,
        "order_items": 15000,
        "reviews": 5000,
    }
    categories = set(store["products"]["category"])
    assert len(categories) == 40
    assert categories >= REQUIRED_CATEGORIES
    assert dict(generated.counts) == {
        "products": 291,
        "customers": 1000,
        "orders": 5000,
        "order_items": 15000,
        "reviews": 5000,
        "ground_truth": 1000,
    }


def test_files_are_json_arrays_with_the_documented_fields(generated: GenerationSummary) -> None:
    for name, fields in FIELDS.items():
        raw = (generated.out_dir / f"{name}.json").read_bytes()
        rows = orjson.loads(raw)
        assert isinstance(rows, list)
        assert all(list(row) == fields for row in rows), name
    # Money always has two decimals, so totals can be compared to the cent as text.
    items = (generated.out_dir / "order_items.json").read_text()
    assert len(re.findall(r'"price":\d+\.\d\d,', items)) == 15000


def test_keys_are_unique_and_references_resolve(store: dict[str, pd.DataFrame]) -> None:
    products, customers = store["products"], store["customers"]
    orders, items, reviews = store["orders"], store["order_items"], store["reviews"]
    assert products["id"].tolist() == list(range(1, 292))
    assert products["sku"].is_unique
    assert products["name"].is_unique
    assert customers["email"].is_unique
    assert not items.duplicated(["order_id", "product_id"]).any()
    assert set(items["order_id"]) == set(orders["order_id"])
    assert set(orders["customer_id"]) <= set(customers["customer_id"])
    joined = items.merge(products, left_on="product_id", right_on="id", suffixes=("", "_p"))
    assert (joined["category"] == joined["category_p"]).all()
    assert (joined["product_name"] == joined["name"]).all()
    assert (joined["price"] == joined["price_p"]).all()
    assert set(reviews["rating"]) <= {1, 2, 3, 4, 5}


def test_orders_span_24_months_ending_2026_10_31(store: dict[str, pd.DataFrame]) -> None:
    dates = store["orders"]["order_date"]
    assert dates.min() >= pd.Timestamp("2024-11-01")
    assert dates.min() < pd.Timestamp("2024-11-08")
    assert dates.max() <= pd.Timestamp("2026-10-31 23:59:59")
    assert dates.max() > pd.Timestamp("2026-10-24")
    by_id = store["orders"].sort_values("order_id")["order_date"]
    assert by_id.is_monotonic_increasing


def test_statuses_are_mostly_completed(store: dict[str, pd.DataFrame]) -> None:
    counts = store["orders"]["status"].value_counts().to_dict()
    assert counts == {
        "completed": 4400,
        "canceled": 250,
        "closed": 175,
        "processing": 100,
        "pending": 75,
    }


def test_twenty_newest_products_are_never_ordered(
    store: dict[str, pd.DataFrame], ground_truth: dict[str, Any]
) -> None:
    products = store["products"]
    never = set(products["id"]) - set(store["order_items"]["product_id"])
    assert len(never) == 20
    newest = set(products.nlargest(20, "created_at")["id"])
    assert never == newest
    assert (
        products.loc[products["id"].isin(never), "created_at"].min()
        > products.loc[~products["id"].isin(never), "created_at"].max()
    )
    assert ground_truth["cold_start_product_ids"] == sorted(never)


def test_products_are_listed_before_their_first_order(store: dict[str, pd.DataFrame]) -> None:
    lines = store["order_items"].merge(store["orders"], on="order_id")
    first = lines.groupby("product_id")["order_date"].min()
    listed = store["products"].set_index("id")["created_at"].reindex(first.index)
    assert (listed < first).all()
    signed_up = store["customers"].set_index("customer_id")["created_at"]
    first_order = store["orders"].groupby("customer_id")["order_date"].min()
    assert (signed_up.reindex(first_order.index) <= first_order).all()


def test_grand_total_equals_sum_of_lines_to_the_cent(store: dict[str, pd.DataFrame]) -> None:
    items = store["order_items"]
    line_cents = items["qty"].to_numpy() * _cents(items["price"])
    sums = pd.Series(line_cents).groupby(items["order_id"].to_numpy()).sum()
    orders = store["orders"].set_index("order_id")
    totals = pd.Series(_cents(orders["grand_total"]), index=orders.index)
    assert (totals.reindex(sums.index) == sums).all()
    assert len(sums) == len(orders)


def test_reviews_only_for_bought_products_dated_after_the_order(
    store: dict[str, pd.DataFrame],
) -> None:
    orders, items, reviews = store["orders"], store["order_items"], store["reviews"]
    done = orders.loc[orders["status"] == "completed"].merge(items, on="order_id")
    bought = done.groupby(["customer_id", "product_id"])["order_date"].min().rename("bought")
    joined = reviews.merge(bought, left_on=["customer_id", "product_id"], right_index=True)
    assert len(joined) == len(reviews)
    assert (joined["created_at"] > joined["bought"]).all()
    assert reviews["created_at"].max() <= pd.Timestamp("2026-10-31 23:59:59")
    assert reviews.sort_values("review_id")["created_at"].is_monotonic_increasing


def test_laptop_to_wireless_mouse_pattern_measured_from_files(
    generated: GenerationSummary,
) -> None:
    measures = {(m.antecedent, m.consequent): m for m in measure_patterns(generated.out_dir)}
    mouse = measures[("Laptops", "Wireless Mice")]
    assert 2.5 <= mouse.lift <= 4.0
    assert 0.55 <= mouse.confidence <= 0.8
    assert 0.06 <= mouse.support <= 0.11
    assert len(measures) == 12
    assert all(m.lift > 1.5 for m in measures.values())


def test_ear_cushions_follow_headphones_by_three_to_six_months(
    generated: GenerationSummary, store: dict[str, pd.DataFrame]
) -> None:
    follow_up = measure_follow_up(generated.out_dir)
    assert follow_up.customers >= 50
    assert follow_up.share_within_window >= 0.8
    # Cushions are never bought with the headphones, only in later orders; some re-buy them.
    cats = store["order_items"].groupby("order_id")["category"].agg(set)
    assert not any({"Over-Ear Headphones", "Ear Cushions"} <= c for c in cats)
    cushions = store["order_items"].loc[store["order_items"]["category"] == "Ear Cushions"]
    per_customer = cushions.merge(store["orders"], on="order_id").groupby("customer_id").size()
    assert (per_customer >= 2).sum() >= 20


CONSUMABLES = {"Ear Cushions", "Memory Cards", "Chargers", "XL Mouse Pads"}


def _completed_lines(store: dict[str, pd.DataFrame]) -> pd.DataFrame:
    orders = store["orders"]
    return orders.loc[orders["status"] == "completed"].merge(store["order_items"], on="order_id")


def test_ground_truth_names_the_consumable_categories(ground_truth: dict[str, Any]) -> None:
    assert set(ground_truth["consumable_categories"]) == CONSUMABLES
    assert ground_truth["follow_up"]["rebuy_days"] == [92, 181]


def test_no_customer_buys_the_same_durable_product_twice(store: dict[str, pd.DataFrame]) -> None:
    lines = _completed_lines(store)
    orders_per_pair = lines.groupby(["category", "customer_id", "product_id"])["order_id"].nunique()
    repeated = orders_per_pair[orders_per_pair >= 2].groupby(level="category").size()
    # Only consumables are bought again as the very same product, and that happens often.
    assert set(repeated.index) == CONSUMABLES
    assert (repeated >= 50).all()


def test_durables_are_rarely_re_bought_and_consumables_often(
    generated: GenerationSummary, store: dict[str, pd.DataFrame]
) -> None:
    rates = rebuy_rates(generated.out_dir)
    assert set(rates) == set(store["products"]["category"])
    durable = {name: rate for name, rate in rates.items() if name not in CONSUMABLES}
    assert len(durable) == 36
    assert max(durable.values()) <= 0.12, max(durable.items(), key=lambda kv: kv[1])
    assert rates["Ear Cushions"] >= 0.25
    assert min(rates[name] for name in CONSUMABLES) >= 0.25
    # Some durables are still bought twice now and then (an upgrade, a gift).
    assert sum(rate > 0 for rate in durable.values()) >= 20
    assert summarize_store(generated.out_dir).rebuy_rates == rates


def test_ear_cushions_are_re_bought_three_to_six_months_after_the_last(
    store: dict[str, pd.DataFrame],
) -> None:
    lines = _completed_lines(store)
    cushions = lines.loc[lines["category"] == "Ear Cushions"].sort_values("order_date")
    gaps = cushions.groupby("customer_id")["order_date"].diff().dropna().dt.days
    assert len(gaps) >= 30
    assert gaps.between(90, 183).mean() >= 0.8


def test_laptop_brand_pulls_in_the_same_brand_mouse(store: dict[str, pd.DataFrame]) -> None:
    items = store["order_items"].merge(
        store["products"][["id", "brand"]], left_on="product_id", right_on="id"
    )
    laptops = items.loc[items["category"] == "Laptops", ["order_id", "brand"]]
    mice = items.loc[items["category"] == "Wireless Mice", ["order_id", "brand"]]
    pairs = laptops.merge(mice, on="order_id", suffixes=("_laptop", "_mouse"))
    same = (pairs["brand_laptop"] == pairs["brand_mouse"]).mean()
    # If mice were chosen regardless of the laptop, this is how often brands would match.
    mouse_share = mice["brand"].value_counts(normalize=True)
    laptop_share = laptops["brand"].value_counts(normalize=True)
    chance = float((laptop_share * mouse_share.reindex(laptop_share.index, fill_value=0)).sum())
    assert same > 2 * chance


def test_ratings_are_higher_in_favoured_categories(
    store: dict[str, pd.DataFrame], ground_truth: dict[str, Any]
) -> None:
    personas = {p["name"]: set(p["favoured_categories"]) for p in ground_truth["personas"]}
    liked = {
        c["customer_id"]: set().union(*(personas[name] for name in c["personas"]))
        for c in ground_truth["customers"]
    }
    reviews = store["reviews"].merge(
        store["products"][["id", "category"]], left_on="product_id", right_on="id"
    )
    fit = [
        cat in liked[cid]
        for cid, cat in zip(reviews["customer_id"], reviews["category"], strict=True)
    ]
    means = reviews.groupby(pd.Series(fit, index=reviews.index))["rating"].mean()
    assert means[True] - means[False] >= 0.5


def test_summary_shows_a_long_tail_and_a_sparse_matrix(generated: GenerationSummary) -> None:
    summary = summarize_store(generated.out_dir)
    assert summary.top20_revenue_share > 0.35
    assert 0.9 < summary.sparsity < 1.0
    assert summary.never_ordered_products == 20
    assert summary.completed_orders == 4400


def test_cli_reproduces_the_same_bytes_and_prints_the_summary(
    generated: GenerationSummary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "again"
    assert main(["demo-data", "--out", str(out), "--seed", "42", "--scale", "1"]) == 0
    for name in FILES:
        assert (out / name).read_bytes() == (generated.out_dir / name).read_bytes(), name
    printed = capsys.readouterr().out
    for text in ("order_items.json", "15,000", "sparsity", "top-20", "Wireless Mice", "lift"):
        assert text in printed
    rates = rebuy_rates(generated.out_dir)
    text = " ".join(printed.split())  # the console wraps long lines
    assert f"re-bought later by their customers: Chargers {rates['Chargers']:.0%}," in text
    assert f"XL Mouse Pads {rates['XL Mouse Pads']:.0%} (consumables);" in text
    top = max((rate, name) for name, rate in rates.items() if name not in CONSUMABLES)
    assert f"every durable category at most {top[0]:.1%} ({top[1]})" in text


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    generate_store(tmp_path / "a", seed=7, scale=0.1)
    generate_store(tmp_path / "b", seed=7, scale=0.1)
    generate_store(tmp_path / "c", seed=8, scale=0.1)
    for name in FILES:
        a = (tmp_path / "a" / name).read_bytes()
        assert a == (tmp_path / "b" / name).read_bytes(), name
        assert a != (tmp_path / "c" / name).read_bytes(), name


def test_small_scale_keeps_the_invariants(tmp_path: Path) -> None:
    generate_store(tmp_path, seed=3, scale=0.1)
    summary = summarize_store(tmp_path)
    assert dict(summary.counts) == {
        "products": 291,
        "customers": 100,
        "orders": 500,
        "order_items": 1500,
        "reviews": 500,
    }
    assert summary.never_ordered_products == 20


def test_scale_above_one_copies_the_catalogue_as_variants(tmp_path: Path) -> None:
    generated = generate_store(tmp_path, seed=5, scale=1.5)
    products = read_table(tmp_path, "products")
    assert len(products) == 582
    assert products["name"].is_unique
    assert products["sku"].is_unique
    assert products["category"].nunique() == 40
    assert products["name"].str.endswith(")").sum() >= 291  # every variant is labelled
    assert generated.counts["customers"] == 1500
    assert generated.counts["order_items"] == 22500
    never = set(products["id"]) - set(read_table(tmp_path, "order_items")["product_id"])
    assert len(never) == 40


def test_store_size_for_benchmark_scales() -> None:
    assert StoreSize.from_scale(100) == StoreSize(
        copies=100,
        products=29100,
        cold_start=2000,
        customers=100_000,
        orders=500_000,
        lines=1_500_000,
        reviews=500_000,
    )
    assert StoreSize.from_scale(0.1).products == 291
    with pytest.raises(ValueError, match="too small"):
        StoreSize.from_scale(0.001)


def test_cli_rejects_a_non_positive_scale(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo-data", "--out", "unused", "--scale", "0"])
    assert exc.value.code == 2
    assert "positive" in capsys.readouterr().err


def test_cli_reports_a_scale_too_small_for_the_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-data", "--out", str(tmp_path), "--scale", "0.005"]) == 2
    assert "too small" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_cli_writes_to_the_configured_data_dir_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECOGRAPH_DATA_DIR", str(tmp_path / "configured"))
    assert main(["demo-data", "--scale", "0.1"]) == 0
    assert sorted(p.name for p in (tmp_path / "configured").iterdir()) == sorted(FILES)


# --- measurements on hand-made baskets ------------------------------------------------------


def _tiny_store() -> tuple[pd.DataFrame, pd.DataFrame]:
    day = pd.Timestamp("2025-01-01")
    orders = pd.DataFrame(
        {
            "order_id": [1, 2, 3, 4, 5, 6, 7, 8],
            "customer_id": [1, 1, 2, 3, 3, 3, 4, 4],
            "status": ["completed"] * 4 + ["completed", "completed", "canceled", "completed"],
            "grand_total": [0.0] * 8,
            "order_date": [
                day,
                day + pd.Timedelta(days=100),
                day,
                day + pd.Timedelta(days=10),
                day + pd.Timedelta(days=30),
                day + pd.Timedelta(days=200),
                day,
                day + pd.Timedelta(days=5),
            ],
        }
    )
    lines = [
        (1, "Laptops"),
        (1, "Wireless Mice"),
        (1, "Wireless Mice"),  # a second mouse in the same order counts once
        (2, "Ear Cushions"),
        (3, "Wireless Mice"),
        (3, "Chargers"),
        (4, "Over-Ear Headphones"),
        (4, "Laptops"),
        (5, "Ear Cushions"),
        (6, "Ear Cushions"),
        (7, "Over-Ear Headphones"),  # canceled: ignored
        (8, "Ear Cushions"),
    ]
    items = pd.DataFrame(
        {
            "order_id": [o for o, _ in lines],
            "product_id": list(range(1, len(lines) + 1)),
            "category": [c for _, c in lines],
        }
    )
    return orders, items


def test_basket_patterns_on_hand_made_orders() -> None:
    orders, items = _tiny_store()
    # 7 completed orders; Laptops in {1, 4}, Wireless Mice in {1, 3}, both in {1}.
    mouse, charger, unknown = basket_patterns(
        orders,
        items,
        [("Laptops", "Wireless Mice"), ("Laptops", "Chargers"), ("Drones", "Laptops")],
    )
    assert (mouse.support, mouse.confidence, mouse.lift) == pytest.approx((1 / 7, 0.5, 1.75))
    assert (mouse.antecedent_orders, mouse.both_orders) == (2, 1)
    assert (charger.support, charger.confidence, charger.lift) == (0.0, 0.0, 0.0)
    assert unknown.support == 0.0
    assert math.isnan(unknown.confidence)
    assert math.isnan(unknown.lift)


def test_follow_up_gaps_on_hand_made_orders() -> None:
    orders, items = _tiny_store()
    gaps = follow_up_gaps(orders, items, "Over-Ear Headphones", "Ear Cushions")
    # Customer 3: headphones on day 10, cushions on days 30 and 200 -> 20 days. Customer 4's
    # headphone order was canceled; customer 1 never bought headphones.
    assert gaps.to_dict() == {3: pytest.approx(20.0)}


def test_category_rebuy_rates_on_hand_made_orders() -> None:
    day = pd.Timestamp("2025-01-01")
    orders = pd.DataFrame(
        {
            "order_id": [1, 2, 3, 4, 5, 6, 7, 8],
            "customer_id": [1, 1, 2, 2, 3, 3, 2, 4],
            "status": ["completed"] * 3 + ["canceled"] + ["completed"] * 4,
            "order_date": [
                day,
                day,  # the same moment as order 1: one purchase, not a re-buy
                day,
                day + pd.Timedelta(days=50),
                day,
                day + pd.Timedelta(days=1),
                day + pd.Timedelta(days=60),
                day + pd.Timedelta(days=3),
            ],
        }
    )
    lines = [
        (1, "Chargers"),
        (2, "Chargers"),
        (3, "Chargers"),
        (3, "Laptops"),
        (4, "Chargers"),  # canceled: ignored
        (5, "Laptops"),
        (6, "Laptops"),
        (7, "Chargers"),
        (8, "Laptops"),
        (8, "Laptops"),  # two laptops in one order are one purchase
    ]
    items = pd.DataFrame({"order_id": [o for o, _ in lines], "category": [c for _, c in lines]})
    # Chargers: customers 1 and 2, customer 2 again on day 60. Laptops: customers 2, 3 and 4,
    # customer 3 again a day later.
    assert category_rebuy_rates(orders, items) == {
        "Chargers": pytest.approx(1 / 2),
        "Laptops": pytest.approx(1 / 3),
    }
