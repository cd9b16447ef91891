"""Public data sets nobody here wrote, converted into store exports (docs/data-format.md).

The quality harness (`recograph_lab.bench.quality`) measures the engine on these exports exactly
as on any store: each converter reads the raw files from ``../shared/datasets``, writes the
five export files as JSON Lines, and the harness reads them back through the validating reader.

How each data set becomes a store (the harness prints these words with its table):

- ``movielens``: MovieLens latest-small ratings as purchases. Every rating is one purchase;
  one customer's ratings of one day (UTC) become orders of at most 8 lines, in time order.
  A movie's category is its first listed genre; all its genres are its description.
- ``movielens-daily``: the same purchases, one order per customer and day, no line cap (orders
  of up to hundreds of lines: the rule miner's scale check).
- ``online-retail``: UCI Online Retail, first 10,000 rows. One invoice is one order; invoices
  whose number starts with ``C`` are cancellations and become ``canceled`` orders (never
  trained on, as the format says), lines of a normal invoice with a quantity ≤ 0 or a negative
  price are dropped (the importer rejects them), rows without a CustomerID are dropped (an order
  needs a customer). A StockCode is a product; repeated lines of one product in one invoice
  are summed. The data has no category: a product's category is the last word of its
  description (``... T-LIGHT HOLDER`` → ``HOLDER``).
- ``groceries``: the arules Groceries baskets. No customers and no dates: each basket is one
  customer's only order, basket i dated i minutes after 2000-01-01 (file order); a product's
  category is its arules level-2 category (``Groceries.cat2.labels``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

MAX_ORDER_LINES = 8
GROCERIES_START = pd.Timestamp("2000-01-01")
DEFAULT_CREATED = "2000-01-01T00:00:00"


class DatasetError(ValueError):
    """A data set cannot be found or read; the message says which file and why."""


@dataclass(frozen=True)
class ExportFrames:
    """The five export files as frames whose columns are the export's field names."""

    products: pd.DataFrame
    customers: pd.DataFrame
    orders: pd.DataFrame
    order_items: pd.DataFrame
    reviews: pd.DataFrame

    def as_dict(self) -> dict[str, pd.DataFrame]:
        return {
            "products": self.products,
            "customers": self.customers,
            "orders": self.orders,
            "order_items": self.order_items,
            "reviews": self.reviews,
        }


REVIEW_COLUMNS = ("review_id", "product_id", "customer_id", "rating", "created_at")


def _iso(stamps: pd.Series[Any]) -> pd.Series[Any]:
    return pd.to_datetime(stamps).dt.strftime("%Y-%m-%dT%H:%M:%S")


def write_export(frames: ExportFrames, out_dir: Path) -> Path:
    """Write ``frames`` as ``name.jsonl`` files into ``out_dir`` (created); returns it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.as_dict().items():
        records = frame.to_dict(orient="records")
        with (out_dir / f"{name}.jsonl").open("wb") as handle:
            for record in records:
                handle.write(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY))
                handle.write(b"\n")
    return out_dir


def _products(
    ids: list[int],
    names: list[str],
    categories: list[str],
    prices: list[float],
    descriptions: list[str],
    skus: list[str] | None = None,
) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "id": ids,
            "sku": skus if skus is not None else [f"P{i}" for i in ids],
            "name": names,
            "brand": [""] * n,
            "category": categories,
            "price": prices,
            "description": descriptions,
            "specs": [{} for _ in range(n)],
            "stock": [1_000_000] * n,
            "promoted": [False] * n,
            "cost": [0.0] * n,
            "created_at": [DEFAULT_CREATED] * n,
        }
    )


def _customers(ids: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"Customer {c}" for c in ids],
            "email": [f"customer{c}@example.invalid" for c in ids],
            "created_at": [DEFAULT_CREATED] * len(ids),
        }
    )


def _empty_reviews() -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in REVIEW_COLUMNS})


def _orders_from_lines(
    lines: pd.DataFrame, status: pd.Series[Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders and order_items from lines with order_id, customer_id, order_date, product_id,
    product_name, qty, price, category (one row per order and product)."""
    totals = (lines["qty"] * lines["price"]).groupby(lines["order_id"]).sum().round(2)
    heads = lines.drop_duplicates("order_id").set_index("order_id")
    orders = pd.DataFrame(
        {
            "order_id": heads.index.to_numpy(),
            "customer_id": heads["customer_id"].to_numpy(),
            "status": (
                status.reindex(heads.index).to_numpy() if status is not None else "completed"
            ),
            "grand_total": totals.reindex(heads.index).to_numpy(),
            "order_date": _iso(heads["order_date"]).to_numpy(),
        }
    )
    items = lines[["order_id", "product_id", "product_name", "qty", "price", "category"]]
    return orders, items.reset_index(drop=True)


# ---------------------------------------------------------------------------- MovieLens


def movielens_export(
    ratings: pd.DataFrame, movies: pd.DataFrame, max_lines: int | None = MAX_ORDER_LINES
) -> ExportFrames:
    """Ratings as purchases: per customer and UTC day, the ratings in time order (ties by
    movie id) cut into orders of at most ``max_lines`` lines (None: one order per day)."""
    movies = movies[movies["movieId"].isin(ratings["movieId"])].sort_values("movieId")
    genres = movies["genres"].astype(str)
    category = genres.str.split("|").str[0]
    products = _products(
        movies["movieId"].astype(int).tolist(),
        movies["title"].astype(str).tolist(),
        category.tolist(),
        [1.0] * len(movies),
        genres.str.replace("|", ", ", regex=False).tolist(),
    )
    lines = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable").reset_index(
        drop=True
    )
    when = pd.to_datetime(lines["timestamp"], unit="s")
    day = when.dt.floor("D")
    group = (lines["userId"].ne(lines["userId"].shift()) | day.ne(day.shift())).cumsum()
    rank = lines.groupby(group).cumcount()
    chunk = rank // max_lines if max_lines is not None else 0
    key = pd.DataFrame({"group": group, "chunk": chunk})
    order_id = key.groupby(["group", "chunk"], sort=False).ngroup() + 1
    # an order is dated at its first line
    order_date = when.groupby(order_id).transform("min")
    by_movie = products.set_index("id")
    full = pd.DataFrame(
        {
            "order_id": order_id.astype(int),
            "customer_id": lines["userId"].astype(int),
            "order_date": order_date,
            "product_id": lines["movieId"].astype(int),
            "product_name": by_movie.loc[lines["movieId"], "name"].to_numpy(),
            "qty": 1,
            "price": 1.0,
            "category": by_movie.loc[lines["movieId"], "category"].to_numpy(),
        }
    )
    orders, items = _orders_from_lines(full)
    customers = _customers(sorted(lines["userId"].astype(int).unique().tolist()))
    return ExportFrames(products, customers, orders, items, _empty_reviews())


def _read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    if not path.is_file():
        raise DatasetError(f"{path}: not found (the shared data sets live in ../shared/datasets)")
    try:
        frame: pd.DataFrame = pd.read_csv(path, **kwargs)
    except (ValueError, OSError) as exc:
        raise DatasetError(f"{path}: cannot be read ({exc})") from None
    return frame


def _require(frame: pd.DataFrame, path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def read_movielens(root: Path, max_lines: int | None = MAX_ORDER_LINES) -> ExportFrames:
    folder = root / "ml-latest-small"
    ratings_path, movies_path = folder / "ratings.csv", folder / "movies.csv"
    ratings = _require(
        _read_csv(ratings_path), ratings_path, ("userId", "movieId", "rating", "timestamp")
    )
    movies = _require(_read_csv(movies_path), movies_path, ("movieId", "title", "genres"))
    return movielens_export(ratings, movies, max_lines)


# ---------------------------------------------------------------------------- Online Retail


def _last_word(description: str) -> str:
    words = description.replace(",", " ").split()
    return words[-1].upper() if words else "UNKNOWN"


def online_retail_export(rows: pd.DataFrame) -> ExportFrames:
    """UCI Online Retail rows as a store (see the module docstring for every rule)."""
    rows = rows.dropna(subset=["CustomerID"]).copy()
    rows["InvoiceNo"] = rows["InvoiceNo"].astype(str).str.strip()
    rows["StockCode"] = rows["StockCode"].astype(str).str.strip()
    rows["Description"] = rows["Description"].fillna("").astype(str).str.strip()
    canceled = rows["InvoiceNo"].str.upper().str.startswith("C")
    keep = canceled | ((rows["Quantity"] > 0) & (rows["UnitPrice"] >= 0))
    rows = rows[keep & (rows["UnitPrice"] >= 0)].copy()
    rows["Quantity"] = rows["Quantity"].abs()
    rows = rows[rows["Quantity"] > 0]
    codes = sorted(rows["StockCode"].unique().tolist())
    product_of = {code: i + 1 for i, code in enumerate(codes)}
    # A product's name: its most frequent non-empty description (ties: first in sort order).
    described = rows[rows["Description"] != ""]
    names = (
        described.groupby(["StockCode", "Description"])
        .size()
        .reset_index(name="n")
        .sort_values(["StockCode", "n", "Description"], ascending=[True, False, True])
        .drop_duplicates("StockCode")
        .set_index("StockCode")["Description"]
    )
    name_of = {code: str(names.get(code, code)) for code in codes}
    prices = rows.groupby("StockCode")["UnitPrice"].median()
    products = _products(
        [product_of[c] for c in codes],
        [name_of[c] for c in codes],
        [_last_word(name_of[c]) for c in codes],
        [round(float(prices[c]), 2) for c in codes],
        [name_of[c] for c in codes],
        skus=codes,
    )
    invoices = sorted(rows["InvoiceNo"].unique().tolist())
    order_of = {inv: i + 1 for i, inv in enumerate(invoices)}
    rows["order_id"] = rows["InvoiceNo"].map(order_of)
    rows["product_id"] = rows["StockCode"].map(product_of)
    rows["order_date"] = pd.to_datetime(rows["InvoiceDate"])
    grouped = rows.groupby(["order_id", "product_id"], sort=True)
    lines = grouped.agg(
        customer_id=("CustomerID", "first"),
        order_date=("order_date", "min"),
        qty=("Quantity", "sum"),
        price=("UnitPrice", "first"),
    ).reset_index()
    lines["customer_id"] = lines["customer_id"].astype(int)
    lines["order_date"] = lines.groupby("order_id")["order_date"].transform("min")
    lines["qty"] = lines["qty"].astype(int)
    lines["price"] = lines["price"].round(2)
    lines["product_name"] = lines["product_id"].map(
        dict(zip(products["id"], products["name"], strict=True))
    )
    lines["category"] = lines["product_id"].map(
        dict(zip(products["id"], products["category"], strict=True))
    )
    is_cancel = pd.Series(
        {order_of[inv]: inv.upper().startswith("C") for inv in invoices}, dtype=bool
    )
    status = is_cancel.map({True: "canceled", False: "completed"})
    orders, items = _orders_from_lines(lines, status)
    customers = _customers(sorted(lines["customer_id"].unique().tolist()))
    return ExportFrames(products, customers, orders, items, _empty_reviews())


def read_online_retail(root: Path) -> ExportFrames:
    path = root / "online-retail-first10k" / "OnlineRetail.csv"
    columns = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice")
    rows = _require(_read_csv(path, dtype={"InvoiceNo": str, "StockCode": str}), path, columns)
    return online_retail_export(_require(rows, path, ("CustomerID",)))


# ---------------------------------------------------------------------------- Groceries


def groceries_export(baskets: list[list[str]], category_of: Mapping[str, str]) -> ExportFrames:
    """One customer and one order per non-empty basket (see the module docstring)."""
    baskets = [sorted(dict.fromkeys(i.strip() for i in b if i.strip())) for b in baskets]
    baskets = [b for b in baskets if b]
    labels = sorted({item for basket in baskets for item in basket})
    product_of = {label: i + 1 for i, label in enumerate(labels)}
    categories = [category_of.get(label, "other") for label in labels]
    products = _products(list(product_of.values()), labels, categories, [1.0] * len(labels), labels)
    category = dict(zip(labels, categories, strict=True))
    rows = [
        (n + 1, n + 1, GROCERIES_START + pd.Timedelta(minutes=n), product_of[item], item)
        for n, basket in enumerate(baskets)
        for item in basket
    ]
    lines = pd.DataFrame(
        rows, columns=["order_id", "customer_id", "order_date", "product_id", "product_name"]
    )
    lines["qty"] = 1
    lines["price"] = 1.0
    lines["category"] = lines["product_name"].map(category)
    orders, items = _orders_from_lines(lines)
    customers = _customers(list(range(1, len(baskets) + 1)))
    return ExportFrames(products, customers, orders, items, _empty_reviews())


def _label_table(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise DatasetError(f"{path}: not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line.rstrip("\r").split("\t") for line in text.splitlines() if line.strip()]


def read_groceries(root: Path) -> ExportFrames:
    folder = root / "groceries"
    path = folder / "groceries.csv"
    if not path.is_file():
        raise DatasetError(f"{path}: not found (the shared data sets live in ../shared/datasets)")
    baskets = [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()]
    labels = _label_table(folder / "arules_source" / "Groceries.labels")
    level2 = {
        row[0]: row[1].strip()
        for row in _label_table(folder / "arules_source" / "Groceries.cat2.labels")
    }
    category_of = {row[1].strip(): level2.get(row[0][:2], "other") for row in labels}
    return groceries_export(baskets, category_of)


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class PublicDataset:
    """A named data set: where it comes from, how it becomes a store, its default protocol."""

    name: str
    source: str
    conversion: str
    protocol: str  # "stratified", "temporal" or "last-order" (see recograph_lab.bench.quality)
    read: Callable[[Path], ExportFrames]


PUBLIC: dict[str, PublicDataset] = {
    "movielens": PublicDataset(
        "movielens",
        "MovieLens latest-small (GroupLens), ../shared/datasets/ml-latest-small",
        "ratings as purchases; a customer's ratings of one day = orders of ≤8 lines, time order",
        "stratified",
        lambda root: read_movielens(root, MAX_ORDER_LINES),
    ),
    "movielens-daily": PublicDataset(
        "movielens-daily",
        "MovieLens latest-small (GroupLens), ../shared/datasets/ml-latest-small",
        "ratings as purchases; one order per customer and day, no line cap",
        "stratified",
        lambda root: read_movielens(root, None),
    ),
    "online-retail": PublicDataset(
        "online-retail",
        "UCI Online Retail, first 10,000 rows, ../shared/datasets/online-retail-first10k",
        "invoice = order; C-invoices canceled; no CustomerID dropped; category = last word",
        "last-order",
        read_online_retail,
    ),
    "groceries": PublicDataset(
        "groceries",
        "arules Groceries, ../shared/datasets/groceries",
        "basket = one customer's only order (synthetic minutes apart); arules level-2 category",
        "stratified",
        read_groceries,
    ),
}


def export_public(name: str, root: Path, out_dir: Path) -> Path:
    """Convert the public data set ``name`` under ``root`` into a store export in ``out_dir``."""
    dataset = PUBLIC.get(name)
    if dataset is None:
        raise DatasetError(f"unknown data set {name!r}; expected one of {', '.join(PUBLIC)}")
    if not root.is_dir():
        raise DatasetError(
            f"{root}: shared data sets not found (expected ../shared/datasets; pass --datasets-dir)"
        )
    return write_export(dataset.read(root), out_dir)
