"""A hand-made seven-product store whose rules can be worked out on paper.

Completed orders (customer: products):
  o1 c1: laptop, mouse        o5 c5: headphones, amp
  o2 c2: laptop, mouse        o6 c6: mouse
  o3 c3: laptop, keyboard     o7 c7: headphones
  o4 c4: headphones, amp      o8 c8: spare mouse (out of stock)
Plus o9 (c1, canceled: keyboard), which training must ignore.

So over 8 completed baskets: supp(laptop)=3/8, supp(mouse)=3/8, supp(laptop, mouse)=2/8,
conf(laptop → mouse)=2/3, lift = (2/3)/(3/8) = 16/9 ≈ 1.778;
conf(amp → headphones)=2/2=1, lift = 1/(3/8) = 8/3 ≈ 2.667.
"""

from __future__ import annotations

import pandas as pd

from recograph.build import BuildParams
from recograph.dataset import StoreData

LAPTOP, MOUSE, KEYBOARD, HEADPHONES, AMP, SPARE_MOUSE, CABLE = 1, 2, 3, 4, 5, 6, 7

# Thresholds and sizes for seven products: rules from two baskets, a few latent factors.
TINY_PARAMS = BuildParams(
    seed=7,
    product_min_support=0.01,
    product_min_count=2,
    product_min_confidence=0.1,
    category_min_support=0.01,
    svd_factors=3,
    als_factors=4,
    als_iterations=5,
)


def _products() -> pd.DataFrame:
    rows = [
        (
            LAPTOP,
            "Aero 14 Laptop",
            "Aero",
            "Laptops",
            1200.0,
            {"screen": "14 in", "ram": "16 GB"},
            5,
            False,
        ),
        (
            MOUSE,
            "Glide Wireless Mouse",
            "Glide",
            "Wireless Mice",
            40.0,
            {"wireless": "yes", "dpi": "4000"},
            9,
            False,
        ),
        (
            KEYBOARD,
            "Clack TKL Keyboard",
            "Clack",
            "Mechanical Keyboards",
            90.0,
            {"switches": "brown"},
            4,
            False,
        ),
        (
            HEADPHONES,
            "Hush 700 Headphones",
            "Hush",
            "Over-Ear Headphones",
            300.0,
            {"form_factor": "over-ear", "anc": "yes"},
            3,
            False,
        ),
        (
            AMP,
            "Volt Headphone Amp",
            "Volt",
            "Headphone Amplifiers",
            150.0,
            {"output": "balanced"},
            2,
            False,
        ),
        (
            SPARE_MOUSE,
            "Glide Wireless Mouse Mini",
            "Glide",
            "Wireless Mice",
            30.0,
            {"wireless": "yes", "dpi": "3000"},
            0,
            False,
        ),
        (
            CABLE,
            "Volt Balanced Cable",
            "Volt",
            "DACs & Balanced Cables",
            25.0,
            {"length": "2 m"},
            50,
            True,
        ),
    ]
    return pd.DataFrame(
        {
            "product_id": pd.Series([r[0] for r in rows], dtype="int64"),
            "sku": [f"SKU-{r[0]}" for r in rows],
            "name": [r[1] for r in rows],
            "brand": [r[2] for r in rows],
            "category": [r[3] for r in rows],
            "price": pd.Series([r[4] for r in rows], dtype="float64"),
            "description": [f"{r[1]} by {r[2]}, a fine {r[3].lower()} product" for r in rows],
            "specs": [r[5] for r in rows],
            "stock": pd.Series([r[6] for r in rows], dtype="int64"),
            "promoted": pd.Series([r[7] for r in rows], dtype="bool"),
            "cost": pd.Series([r[4] * 0.6 for r in rows], dtype="float64"),
            "created_at": pd.to_datetime(["2025-01-01"] * len(rows)),
        }
    )


BASKETS: list[tuple[int, int, list[int], str]] = [
    (1, 1, [LAPTOP, MOUSE], "completed"),
    (2, 2, [LAPTOP, MOUSE], "completed"),
    (3, 3, [LAPTOP, KEYBOARD], "completed"),
    (4, 4, [HEADPHONES, AMP], "completed"),
    (5, 5, [HEADPHONES, AMP], "completed"),
    (6, 6, [MOUSE], "completed"),
    (7, 7, [HEADPHONES], "completed"),
    (8, 8, [SPARE_MOUSE], "completed"),
    (9, 1, [KEYBOARD], "canceled"),
]


def tiny_store() -> StoreData:
    """The store above; customer 9 has no orders (a new customer)."""
    products = _products()
    price = dict(zip(products["product_id"], products["price"], strict=True))
    orders, lines = [], []
    for order_id, customer_id, items, status in BASKETS:
        total = sum(price[i] for i in items)
        orders.append((order_id, customer_id, status, total, f"2026-0{order_id}-01"))
        name = dict(zip(products["product_id"], products["name"], strict=True))
        category = dict(zip(products["product_id"], products["category"], strict=True))
        lines += [(order_id, i, name[i], 1, price[i], category[i]) for i in items]
    order_frame = pd.DataFrame(
        orders, columns=["order_id", "customer_id", "status", "grand_total", "order_date"]
    )
    order_frame["order_date"] = pd.to_datetime(order_frame["order_date"])
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series(range(1, 10), dtype="int64"),
            "name": [f"Customer {i}" for i in range(1, 10)],
            "email": [f"c{i}@example.com" for i in range(1, 10)],
            "created_at": pd.to_datetime(["2025-06-01"] * 9),
        }
    )
    reviews = pd.DataFrame(
        {
            "review_id": pd.Series([1], dtype="int64"),
            "product_id": pd.Series([MOUSE], dtype="int64"),
            "customer_id": pd.Series([1], dtype="int64"),
            "rating": pd.Series([5], dtype="int64"),
            "created_at": pd.to_datetime(["2026-02-01"]),
        }
    )
    return StoreData(
        products=products,
        customers=customers,
        orders=order_frame,
        order_items=pd.DataFrame(
            lines, columns=["order_id", "product_id", "product_name", "qty", "price", "category"]
        ),
        reviews=reviews,
    )


def basket_frames(
    products: pd.DataFrame, baskets: list[tuple[int, int, list[int]]], dates: pd.DatetimeIndex
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Completed orders and their lines (one unit of each product) for (order, customer,
    products) baskets dated ``dates``, priced from ``products``."""
    product = products.set_index("product_id")
    orders = pd.DataFrame(
        {
            "order_id": [b[0] for b in baskets],
            "customer_id": [b[1] for b in baskets],
            "status": "completed",
            "grand_total": [float(product.loc[b[2], "price"].sum()) for b in baskets],
            "order_date": dates,
        }
    )
    lines = pd.DataFrame(
        [
            (
                b[0],
                p,
                product.loc[p, "name"],
                1,
                product.loc[p, "price"],
                product.loc[p, "category"],
            )
            for b in baskets
            for p in b[2]
        ],
        columns=["order_id", "product_id", "product_name", "qty", "price", "category"],
    )
    return orders, lines
