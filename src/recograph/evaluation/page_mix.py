"""How right the served product and cart pages are against the demo store's planted structure.

A product page should lead with substitutes (before the customer decides), a cart page with
complements (`engine.page_intents`). For every product of a planted category, the served
hybrid's top k (an anonymous visitor, business rules and the stock filter off) is scored as
`intent.planted_precision` scores the intent lists: on the product page, the share of items of
the product's own category; on a cart page holding only that product, the share of items whose
category and the product's form a planted pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recograph.engine import Context, Request, recommend
from recograph.evaluation.evaluate import NO_POLICY
from recograph.recommenders.blend import PageType
from recograph.snapshot import ModelSnapshot


def page_precision(
    snapshot: ModelSnapshot, planted_pairs: Sequence[tuple[str, str]], k: int = 5
) -> dict[str, float | int | None]:
    """Precision@k of product pages (same category) and cart pages (a planted pair), averaged
    over the products of planted categories; None when the store has none."""
    catalogue = snapshot.catalogue
    names = {str(n): i for i, n in enumerate(catalogue.category_names)}
    pairs = {(names[a], names[c]) for a, c in planted_pairs if a in names and c in names}
    pairs |= {(c, a) for a, c in pairs}
    seeds = np.flatnonzero(np.isin(catalogue.category, sorted({a for a, _ in pairs})))
    product_hits: list[float] = []
    cart_hits: list[float] = []
    for seed in seeds.tolist():
        own = int(catalogue.category[seed])
        for page, hits in ((PageType.PRODUCT, product_hits), (PageType.CART, cart_hits)):
            if page is PageType.CART:
                context = Context(cart=(seed,), page_type=page)
            else:
                context = Context(current=seed, page_type=page)
            request = Request(context=context, limit=k, in_stock_only=False)
            shown = [
                int(catalogue.category[i.position])
                for i in recommend(snapshot, request, NO_POLICY).items
            ]
            if not shown:
                continue
            if page is PageType.PRODUCT:
                hits.append(sum(c == own for c in shown) / len(shown))
            else:
                hits.append(sum((own, c) in pairs for c in shown) / len(shown))
    return {
        "seeds": len(seeds),
        "product_page_precision": float(np.mean(product_hits)) if product_hits else None,
        "cart_page_precision": float(np.mean(cart_hits)) if cart_hits else None,
    }
