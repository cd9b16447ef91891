"""`recograph bench quality`: converters on hand-written rows, the splits, the harness's own
rows and metrics on a hand-made store (exact values worked out below), and fast smoke runs on
the shared public data sets (skipped when ../shared is absent)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recograph.cli import main
from recograph.dataset import StoreData
from recograph.evaluation.metrics import (
    average_precision_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from recograph.io.reader import read_store
from recograph_lab.bench.datasets import (
    DatasetError,
    ExportFrames,
    export_public,
    groceries_export,
    movielens_export,
    online_retail_export,
    write_export,
)
from recograph_lab.bench.quality import (
    LAST_ORDER,
    STRATIFIED,
    TEMPORAL,
    QualityError,
    mean_and_error,
    run_quality,
    split_store,
)
from tests.conftest import SHARED_DATASETS
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

# ---------------------------------------------------------------------------- metrics


def test_metrics_on_a_hand_computed_ranking_with_an_empty_slot() -> None:
    # hits at ranks 2 and 3 of 4 slots (the last empty); 3 relevant items, one never shown
    recommended = np.array([[5, 1, 7, -1]])
    relevant = [{1, 7, 9}]
    assert precision_at_k(recommended, relevant, 4)[0] == pytest.approx(2 / 4)
    assert recall_at_k(recommended, relevant, 4)[0] == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(recommended, relevant, 4)[0] == pytest.approx(dcg / ideal)
    # precision at the hit ranks: 1/2 and 2/3, over min(3, 4) relevant items
    assert average_precision_at_k(recommended, relevant, 4)[0] == pytest.approx((1 / 2 + 2 / 3) / 3)


def test_mean_and_standard_error_skip_undefined_users() -> None:
    result = mean_and_error(np.array([1.0, np.nan, 0.0, 0.5]))
    assert result.mean == pytest.approx(0.5)
    # population std of (1, 0, 0.5) is sqrt(1/6); over sqrt(3) users
    assert result.standard_error == pytest.approx(math.sqrt(1 / 6) / math.sqrt(3))
    assert math.isnan(mean_and_error(np.array([np.nan])).mean)


# ---------------------------------------------------------------------------- converters


def _read(frames_dir: Path) -> StoreData:
    result = read_store(frames_dir)
    assert result.rejects == [], result.rejects[:3]
    return result.data


def test_movielens_orders_are_days_cut_into_eight_lines(tmp_path: Path) -> None:
    day1, day2 = 1_000_000_000, 1_000_000_000 + 86_400
    ratings = pd.DataFrame(
        {
            "userId": [1] * 11 + [2],
            "movieId": [*range(1, 11), 3, 4],
            "rating": [4.0] * 12,
            # user 1: ten ratings one day (given out of time order), one the next day
            "timestamp": [day1 + 10 - i for i in range(10)] + [day2, day1],
        }
    )
    movies = pd.DataFrame(
        {
            "movieId": range(1, 12),
            "title": [f"Movie {i}" for i in range(1, 12)],
            "genres": ["Comedy|Drama"] * 10 + ["Horror"],
        }
    )
    data = _read(write_export(movielens_export(ratings, movies), tmp_path / "ml"))
    # movie 11 was never rated: not a product
    assert sorted(data.products["product_id"]) == list(range(1, 11))
    assert set(data.products["category"]) == {"Comedy"}
    sizes = data.order_items.groupby("order_id").size()
    owners = data.orders.set_index("order_id")["customer_id"]
    # user 1's first day: 8 lines then 2 (time order: movies 10, 9, ... first), then 1 line
    assert [(int(owners[o]), int(n)) for o, n in sizes.items()] == [(1, 8), (1, 2), (1, 1), (2, 1)]
    first = data.order_items[data.order_items["order_id"] == sizes.index[0]]
    assert first["product_id"].tolist() == [10, 9, 8, 7, 6, 5, 4, 3]
    daily = _read(write_export(movielens_export(ratings, movies, None), tmp_path / "daily"))
    assert daily.order_items.groupby("order_id").size().tolist() == [10, 1, 1]


def test_online_retail_cancellations_guests_and_bad_quantities(tmp_path: Path) -> None:
    rows = pd.DataFrame(
        {
            "InvoiceNo": ["100", "100", "100", "101", "C102", "103", "104"],
            "StockCode": ["85123A", "85123A", "22752", "22752", "85123A", "22752", "71053"],
            "Description": [
                "WHITE HANGING HEART T-LIGHT HOLDER",
                "WHITE HANGING HEART T-LIGHT HOLDER",
                "SET 7 BABUSHKA NESTING BOXES",
                "SET 7 BABUSHKA NESTING BOXES",
                "WHITE HANGING HEART T-LIGHT HOLDER",
                "SET 7 BABUSHKA NESTING BOXES",
                "WHITE METAL LANTERN",
            ],
            "Quantity": [6, 2, 3, 0, -4, 1, 5],
            "InvoiceDate": ["2010-12-01 08:26:00"] * 3
            + ["2010-12-02 09:00:00", "2010-12-02 10:00:00", "2010-12-03 11:00:00"]
            + ["2010-12-03 12:00:00"],
            "UnitPrice": [2.55, 2.55, 7.65, 7.65, 2.55, 7.65, 3.39],
            "CustomerID": [17850.0, 17850.0, 17850.0, 13047.0, 17850.0, 13047.0, np.nan],
        }
    )
    data = _read(write_export(online_retail_export(rows), tmp_path / "retail"))
    # 71053 was bought only by a guest (no CustomerID): dropped with its row
    assert data.products.set_index("sku")["category"].to_dict() == {
        "22752": "BOXES",
        "85123A": "HOLDER",
    }
    assert sorted(data.customers["customer_id"]) == [13047, 17850]
    statuses = data.orders.set_index("order_id")["status"].tolist()
    # order ids follow the invoice numbers as text: 100, 103, C102 (101 had only a
    # zero-quantity line, dropped); the cancellation is kept as a canceled order
    assert statuses == ["completed", "completed", "canceled"]
    lines = data.completed_lines()
    heart = int(data.products.set_index("sku").loc["85123A", "product_id"])
    assert int(lines.loc[lines["product_id"] == heart, "qty"].sum()) == 8  # 6 + 2 summed
    assert len(lines) == 3


def test_groceries_one_customer_per_basket_with_arules_categories(tmp_path: Path) -> None:
    frames = groceries_export(
        [["whole milk", "yogurt ", "whole milk"], [""], ["soda"]],
        {"whole milk": "dairy produce", "yogurt": "dairy produce", "soda": "drinks"},
    )
    data = _read(write_export(frames, tmp_path / "groceries"))
    assert data.products.set_index("name")["category"].to_dict() == {
        "soda": "drinks",
        "whole milk": "dairy produce",
        "yogurt": "dairy produce",
    }
    # the empty basket is dropped; a repeated item counts once
    assert data.orders["customer_id"].tolist() == [1, 2]
    assert data.order_items.groupby("order_id").size().tolist() == [2, 1]


def test_groceries_reader_uses_the_label_files(tmp_path: Path) -> None:
    root = tmp_path / "datasets"
    (root / "groceries" / "arules_source").mkdir(parents=True)
    (root / "groceries" / "groceries.csv").write_text("whole milk,cream cheese \nsoda\n")
    (root / "groceries" / "arules_source" / "Groceries.labels").write_text(
        "101\twhole milk\tVOLLMILCH\r\n234\tcream cheese \tFRISCHKAESE\r\n301\tsoda\tLIMO\r\n"
    )
    (root / "groceries" / "arules_source" / "Groceries.cat2.labels").write_text(
        "10\tmilk\tMILCH\r\n23\tcheese\tKAESE\r\n30\tdrinks\tGETRAENKE\r\n"
    )
    data = _read(export_public("groceries", root, tmp_path / "out"))
    assert data.products.set_index("name")["category"].to_dict() == {
        "cream cheese": "cheese",
        "soda": "drinks",
        "whole milk": "milk",
    }


def test_missing_data_sets_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="shared data sets not found"):
        export_public("movielens", tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(DatasetError, match=r"ratings\.csv: not found"):
        export_public("movielens", tmp_path, tmp_path / "out")
    with pytest.raises(DatasetError, match="unknown data set"):
        export_public("netflix", tmp_path, tmp_path / "out")


def test_cli_names_a_bad_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "quality", "--dataset", str(tmp_path / "missing")])
    assert status == 2
    assert "neither a known data set" in capsys.readouterr().err
    status = main(["bench", "quality", "--dataset", "groceries", "--datasets-dir", str(tmp_path)])
    assert status == 2
    assert "groceries.csv: not found" in capsys.readouterr().err


# ---------------------------------------------------------------------------- splits


def _store(baskets: list[tuple[int, int, list[int], str]]) -> StoreData:
    """The tiny store's catalogue with these (order, customer, products, date) orders."""
    base = tiny_store()
    orders, lines = basket_frames(
        base.products,
        [(b[0], b[1], b[2]) for b in baskets],
        pd.to_datetime([b[3] for b in baskets]),
    )
    customers = base.customers[base.customers["customer_id"] <= 5]
    empty_reviews = base.reviews.iloc[0:0]
    return StoreData(base.products, customers, orders, lines, empty_reviews)


def _export(data: StoreData, folder: Path) -> Path:
    """``data`` written as a store export (the export's field names, ISO dates)."""

    def iso(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame.assign(**{column: frame[column].dt.strftime("%Y-%m-%dT%H:%M:%S")})

    frames = ExportFrames(
        products=iso(data.products, "created_at").rename(columns={"product_id": "id"}),
        customers=iso(data.customers, "created_at"),
        orders=iso(data.orders, "order_date"),
        order_items=data.order_items,
        reviews=iso(data.reviews, "created_at"),
    )
    return write_export(frames, folder)


# c1 re-buys the laptop in its last order and adds a keyboard; c2's last order is new to it.
REPEAT_STORE = [
    (1, 1, [LAPTOP, MOUSE], "2026-01-01"),
    (2, 1, [LAPTOP], "2026-02-01"),
    (3, 1, [LAPTOP, KEYBOARD], "2026-05-01"),
    (4, 2, [MOUSE], "2026-01-15"),
    (5, 2, [HEADPHONES], "2026-04-01"),
    (6, 3, [KEYBOARD], "2026-02-15"),
    (7, 4, [HEADPHONES, AMP], "2026-03-01"),
    (8, 5, [MOUSE, CABLE], "2026-03-15"),
]


def test_last_order_and_temporal_hold_out_the_same_orders_here() -> None:
    data = _store(REPEAT_STORE)
    for protocol in (LAST_ORDER, TEMPORAL):
        split = split_store(data, protocol, seed=1)
        assert split.targets == {1: {LAPTOP, KEYBOARD}, 2: {HEADPHONES}}
        assert split.history == {
            1: {LAPTOP, MOUSE},
            2: {MOUSE},
            3: {KEYBOARD},
            4: {HEADPHONES, AMP},
            5: {MOUSE, CABLE},
        }
        assert sorted(split.train.orders["order_id"]) == [1, 2, 4, 6, 7, 8]


def test_stratified_split_holds_out_a_quarter_of_each_customers_products() -> None:
    data = _store(
        [
            (1, 1, [LAPTOP, MOUSE], "2026-01-01"),
            (2, 1, [KEYBOARD, HEADPHONES], "2026-02-01"),  # 4 products: 3 kept, 1 held out
            (3, 2, [MOUSE, AMP, CABLE], "2026-01-15"),  # 3: round(2.25) = 2 kept
            (4, 3, [KEYBOARD, AMP], "2026-02-15"),  # 2: round(1.5) = 2 kept, nothing to predict
        ]
    )
    split = split_store(data, STRATIFIED, seed=3)
    assert sorted(split.targets) == [1, 2]
    assert [len(split.targets[c]) for c in (1, 2)] == [1, 1]
    assert [len(split.history[c]) for c in (1, 2, 3)] == [3, 2, 2]
    for customer in (1, 2):
        assert not split.targets[customer] & split.history[customer]
    bought = {1: {LAPTOP, MOUSE, KEYBOARD, HEADPHONES}, 2: {MOUSE, AMP, CABLE}}
    for customer, products in bought.items():
        assert split.targets[customer] | split.history[customer] == products
    # the same seed gives the same split
    assert split_store(data, STRATIFIED, seed=3).targets == split.targets


def test_seen_removed_rows_never_show_a_training_purchase() -> None:
    report = run_quality(
        _store(REPEAT_STORE),
        dataset="t",
        source="t",
        protocol=STRATIFIED,
        params=TINY_PARAMS,
        lambdas=(100.0,),
    ).to_dict()
    strict = {r["row"]: r for r in report["rows"] if r["row"].endswith("| seen removed")}
    assert set(strict) >= {"item_knn | seen removed", "hybrid (served default) | seen removed"}
    assert {r["seen@10"] for r in strict.values()} == {0.0}
    # the stratified split holds out no repeat purchase: one kind of target per row
    assert {r["targets"] for r in report["rows"]} == {"all"}


def test_a_store_without_returning_customers_cannot_be_measured() -> None:
    data = _store([(1, 1, [LAPTOP], "2026-01-01"), (2, 2, [MOUSE], "2026-02-01")])
    with pytest.raises(QualityError, match="no customer with a target"):
        run_quality(data, dataset="t", source="t", protocol=LAST_ORDER, params=TINY_PARAMS)


# ---------------------------------------------------------------------------- the harness


@pytest.fixture(scope="module")
def repeat_report() -> dict[str, dict[str, dict[str, float | None]]]:
    report = run_quality(
        _store(REPEAT_STORE),
        dataset="repeat store",
        source="hand-made",
        protocol=LAST_ORDER,
        # two-stage, so the "| full scoring" rows are reported (auto ranks a store this
        # small by full scoring alone)
        params=dataclasses.replace(TINY_PARAMS, ranking="two-stage"),
        lambdas=(100.0,),
    )
    table: dict[str, dict[str, dict[str, float | None]]] = {}
    for row in report.to_dict()["rows"]:
        table.setdefault(row["row"], {})[row["targets"]] = row
    return table


def test_personal_top_frequency_on_the_repeat_store(
    repeat_report: dict[str, dict[str, dict[str, float | None]]],
) -> None:
    # Training orders 1, 2, 4, 6, 7, 8. Buyers: mouse 3, every other bought product 1, the
    # spare mouse 0. c1 ranks laptop (2 orders), mouse (1), then by buyers, ties to lower
    # ids: keyboard, headphones, amp, cable, spare mouse. Targets laptop (rank 1) and keyboard
    # (rank 3). c2 ranks mouse, then laptop, keyboard, headphones (rank 4, its target) ...
    c1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    c2 = 1 / math.log2(5)
    rows = repeat_report["personal top-frequency"]
    assert rows["all"]["users"] == 2
    assert rows["all"]["ndcg@10"] == pytest.approx((c1 + c2) / 2, abs=1e-6)
    assert rows["all"]["ndcg@10_se"] == pytest.approx(abs(c1 - c2) / 2 / math.sqrt(2), abs=1e-6)
    assert rows["all"]["precision@10"] == pytest.approx((2 / 10 + 1 / 10) / 2)
    assert rows["all"]["recall@10"] == pytest.approx(1.0)
    assert rows["all"]["map@10"] == pytest.approx(((1 + 2 / 3) / 2 + 1 / 4) / 2, abs=1e-6)
    assert rows["all"]["seen@10"] == pytest.approx((2 + 1) / 2)  # both shown their purchases
    # repeat targets: only c1 (the laptop, rank 1); new targets: c1's keyboard and c2's headphones
    assert rows["repeat"]["users"] == 1
    assert rows["repeat"]["ndcg@10"] == pytest.approx(1.0)
    assert rows["new"]["users"] == 2
    assert rows["new"]["ndcg@10"] == pytest.approx((1 / math.log2(4) + c2) / 2, abs=1e-6)


def test_every_row_is_reported_on_every_kind_of_target(
    repeat_report: dict[str, dict[str, dict[str, float | None]]],
) -> None:
    expected = {
        "random",
        "personal top-frequency",
        "buy again when due",
        "popularity",
        "item_knn",
        "user_knn",
        "svd",
        "als",
        "ease",
        "content",
        "rules",
        "ease (λ=100, validation)",
        "hybrid (served default)",
        "hybrid + stock + business rules",
        # the same build ranked by full scoring, side by side with two-stage ranking
        "item_knn | full scoring",
        "user_knn | full scoring",
        "svd | full scoring",
        "als | full scoring",
        "ease | full scoring",
        "hybrid (served default) | full scoring",
        "hybrid + stock + business rules | full scoring",
    }
    assert set(repeat_report) == expected
    for name, kinds in repeat_report.items():
        assert set(kinds) == {"all", "repeat", "new"}, name
        assert [kinds[k]["users"] for k in ("all", "repeat", "new")] == [2, 1, 2], name
        for kind in kinds.values():
            value = kind["ndcg@10"]
            assert value is not None
            assert 0.0 <= value <= 1.0


# ---------------------------------------------------------------------------- real data

needs_shared = pytest.mark.skipif(
    not SHARED_DATASETS.is_dir(), reason="../shared/datasets is absent"
)


@needs_shared
def test_online_retail_converts_without_rejects(tmp_path: Path) -> None:
    data = _read(export_public("online-retail", SHARED_DATASETS, tmp_path / "retail"))
    assert len(data.customers) == 323  # SOURCES.md: 323 customers
    statuses = data.orders["status"].value_counts().to_dict()
    assert statuses["canceled"] > 0
    assert statuses["completed"] > statuses["canceled"]


@needs_shared
def test_groceries_smoke_run_on_a_subsample(tmp_path: Path) -> None:
    data = _read(export_public("groceries", SHARED_DATASETS, tmp_path / "groceries"))
    assert len(data.orders) == 9835  # SOURCES.md: 9835 baskets
    # the first 200 baskets keep the test fast; the full run is a benchmark
    orders = data.orders[data.orders["customer_id"] <= 200]
    sample = StoreData(
        data.products,
        data.customers[data.customers["customer_id"] <= 200],
        orders,
        data.order_items[data.order_items["order_id"].isin(orders["order_id"])],
        data.reviews,
    )
    report = run_quality(
        sample,
        dataset="groceries",
        source="first 200 baskets",
        protocol=STRATIFIED,
        lambdas=(200.0,),
        max_users=20,
    ).to_dict()
    assert report["users"] == 20
    assert "stratified 75/25" in report["protocol"]
    hybrid = [r for r in report["rows"] if r["row"] == "hybrid (served default)"]
    assert [r["targets"] for r in hybrid] == ["all"]  # held-out items are never repeats here
    assert hybrid[0]["users"] == 20
    # the build's own decisions, which the rows test, come with the report
    protocol = report["build_validation"]["protocol"]
    assert protocol["kind"] == "per-customer item holdout"  # nobody returns on Groceries
    assert protocol["customers"] <= protocol["eligible_customers"]


def test_cli_measures_a_store_export_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _export(_store(REPEAT_STORE), tmp_path / "store")
    argv = ["bench", "quality", "--dataset", str(folder), "--protocol", "last-order"]
    status = main([*argv, "--ease-lambdas", "100", "--out", str(tmp_path / "r.json")])
    assert status == 0
    table = capsys.readouterr().out
    assert "protocol: next basket" in table
    # the build's validation account closes the table (here: too few orders to validate on)
    assert "\nthe build's validation: " in table
    report = json.loads((tmp_path / "r.json").read_text())
    rows = {(r["row"], r["targets"]): r for r in report["rows"]}
    # the harness's own row does not depend on the build's parameters: same values as above
    c1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    expected = (c1 + 1 / math.log2(5)) / 2
    assert rows[("personal top-frequency", "all")]["ndcg@10"] == pytest.approx(expected, abs=1e-6)
    assert report["users"] == 2
