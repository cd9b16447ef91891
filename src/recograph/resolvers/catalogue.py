"""``product``, ``products``, ``categories``, ``customer`` and ``customers``: answered from the
snapshot's arrays in memory, no database."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import numpy.typing as npt
import strawberry

from recograph.online.state import Loaded
from recograph.resolvers.context import RequestContext
from recograph.resolvers.pagination import check_first, decode_cursor, encode_cursor, page_info
from recograph.schema import convert
from recograph.schema import types as t
from recograph.schema.inputs import ProductFilter
from recograph.snapshot import ModelSnapshot

Info = strawberry.Info[RequestContext, None]
First = Annotated[int, strawberry.argument(description="Page size, 1–100.")]

_SEARCH_TEXT = "product_search_text"
_BRANDS = "product_brand_lower"
_NAMES = "customer_name_lower"
_CATEGORIES = "categories"


def _search_text(loaded: Loaded) -> npt.NDArray[np.str_]:
    """Lower-cased "name sku brand" per product, built once per snapshot."""
    text: npt.NDArray[np.str_] | None = loaded.derived.get(_SEARCH_TEXT)
    if text is None:
        catalogue = loaded.snapshot.catalogue
        joined = np.char.add(np.char.add(catalogue.name, " "), np.char.add(catalogue.sku, " "))
        text = np.char.lower(np.char.add(joined, catalogue.brand))
        loaded.derived[_SEARCH_TEXT] = text
    return text


def _lowered(loaded: Loaded, key: str, values: npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    """``values`` lower-cased once per snapshot (under ``key``), not on every request."""
    lowered: npt.NDArray[np.str_] | None = loaded.derived.get(key)
    if lowered is None:
        lowered = loaded.derived[key] = np.char.lower(values)
    return lowered


def filter_products(loaded: Loaded, where: ProductFilter | None) -> npt.NDArray[np.int64]:
    """Positions matching the filter, in product id order."""
    snapshot = loaded.snapshot
    catalogue = snapshot.catalogue
    mask = np.ones(snapshot.n_items, dtype=np.bool_)
    if where is not None:
        if where.category is not None:
            category = convert.category_position(snapshot, where.category, "filter.category")
            mask &= catalogue.category == category
        if where.brand is not None:
            mask &= _lowered(loaded, _BRANDS, catalogue.brand) == where.brand.strip().lower()
        if where.search:
            mask &= np.char.find(_search_text(loaded), where.search.strip().lower()) >= 0
        if where.in_stock is not None:
            mask &= (catalogue.stock > 0) == where.in_stock
    return np.flatnonzero(mask).astype(np.int64)


async def product(info: Info, id: int) -> t.Product:
    ctx = info.context
    loaded = ctx.require()
    position = convert.product_position(loaded, id, "id")
    return await ctx.products.load(position)


async def products(
    info: Info,
    filter: ProductFilter | None = None,
    first: First = 20,
    after: str | None = None,
) -> t.ProductConnection:
    """Products in id order, ``first`` at a time after the cursor ``after``."""
    ctx = info.context
    loaded = ctx.require()
    check_first(first)
    start = decode_cursor("product", after)
    matching = filter_products(loaded, filter)
    page = matching[start : start + first].tolist()
    nodes = await ctx.products.load_many(page)
    edges = [
        t.ProductEdge(cursor=encode_cursor("product", start + i), node=node)
        for i, node in enumerate(nodes)
    ]
    return t.ProductConnection(
        edges=edges,
        page_info=page_info(edges, start=start, first=first, total=len(matching)),
        total_count=len(matching),
    )


def category_views(snapshot: ModelSnapshot) -> list[t.Category]:
    catalogue = snapshot.catalogue
    n = catalogue.n_categories
    counts = np.bincount(catalogue.category, minlength=n)
    in_stock = np.bincount(catalogue.category[catalogue.stock > 0], minlength=n)
    return [
        t.Category(
            name=str(catalogue.category_names[c]),
            product_count=int(counts[c]),
            in_stock_count=int(in_stock[c]),
        )
        for c in range(n)
    ]


async def categories(info: Info) -> list[t.Category]:
    loaded = info.context.require()
    cached: list[t.Category] | None = loaded.derived.get(_CATEGORIES)
    if cached is None:
        cached = loaded.derived[_CATEGORIES] = category_views(loaded.snapshot)
    return cached


async def customer(info: Info, id: int) -> t.Customer:
    ctx = info.context
    loaded = ctx.require()
    position = convert.customer_position(loaded, id, "id")
    live = ctx.services.state.live_purchases(id)
    return convert.customer_view(loaded, position, live, show_email=ctx.admin)


async def customers(
    info: Info, search: str | None = None, first: First = 20, after: str | None = None
) -> t.CustomerConnection:
    """Customers in id order; ``search`` matches the name (and the id when it is a number)."""
    ctx = info.context
    loaded = ctx.require()
    check_first(first)
    start = decode_cursor("customer", after)
    histories = loaded.snapshot.histories
    if search and search.strip():
        needle = search.strip().lower()
        mask = np.char.find(_lowered(loaded, _NAMES, histories.user_name), needle) >= 0
        if needle.isdigit():
            mask |= histories.user_ids == int(needle)
        matching = np.flatnonzero(mask)
    else:
        matching = np.arange(len(histories))
    page = matching[start : start + first].tolist()
    state = ctx.services.state
    edges = [
        t.CustomerEdge(
            cursor=encode_cursor("customer", start + i),
            node=convert.customer_view(
                loaded,
                position,
                state.live_purchases(int(histories.user_ids[position])),
                show_email=ctx.admin,
            ),
        )
        for i, position in enumerate(page)
    ]
    return t.CustomerConnection(
        edges=edges,
        page_info=page_info(edges, start=start, first=first, total=len(matching)),
        total_count=len(matching),
    )
