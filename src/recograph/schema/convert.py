"""Ids to positions and positions to GraphQL objects, for one snapshot.

Store ids come in from clients and go out in responses; positions index the snapshot's arrays.
Converting between them happens here. Unknown ids raise `NotFound` naming the argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from recograph.catalogue import Catalogue
from recograph.core.ids import IdIndex
from recograph.engine import as_of, build_profile, due_items
from recograph.online.state import Loaded
from recograph.recommenders import due as due_dates
from recograph.schema import types as t
from recograph.schema.errors import BadInput, NotFound
from recograph.snapshot import ModelSnapshot

_PRODUCTS = "products"  # key of the product view cache in Loaded.derived
_CATEGORY_NAMES = "category names"  # key of the shared category strings in Loaded.derived
# Product views kept per snapshot and worker, the first built first. A view holds the fields a
# storefront selects (`ProductView`: ≈ 0.4 KB), so every product of a 29,100-product catalogue
# is kept (≈ 12 MB of a worker's private memory); the bound stops a far larger catalogue from
# growing every worker to a copy of it.
PRODUCT_VIEWS_KEPT = 65536


_EPOCH = datetime(1970, 1, 1)


def timestamp(seconds: int | float) -> datetime:
    """Epoch seconds to the naive-UTC datetime the store format uses. Whole seconds (what the
    snapshot stores) are added to the epoch: exact, and a fifth of the cost of
    ``fromtimestamp`` with a time zone (every product view has one)."""
    if type(seconds) is int:
        return _EPOCH + timedelta(seconds=seconds)
    return datetime.fromtimestamp(float(seconds), UTC).replace(tzinfo=None)


class ProductView(t.Product):
    """A `types.Product` of one snapshot whose fields a storefront rarely selects (sku,
    description, creation date, specs) are read from the catalogue when asked, not copied into
    the view: a view is then small enough that a worker keeps every product's (a full copy,
    descriptions included, was ≈ 1 KB a view), and cheaper to build. The values, equality and
    GraphQL fields are those of a `types.Product` made of the same row."""

    def __init__(self, catalogue: Catalogue, position: int, category: str) -> None:
        stock = int(catalogue.stock[position])
        self.id = int(catalogue.item_ids[position])
        self.name = str(catalogue.name[position])
        self.brand = str(catalogue.brand[position])
        self.category = category
        self.price = float(catalogue.price[position])
        self.stock = stock
        self.in_stock = stock > 0
        self.promoted = bool(catalogue.promoted[position])
        self._catalogue = catalogue
        self._position = position

    @property
    def sku(self) -> str:  # type: ignore[override]
        return str(self._catalogue.sku[self._position])

    @property
    def description(self) -> str:  # type: ignore[override]
        return str(self._catalogue.description[self._position])

    @property
    def created_at(self) -> datetime:  # type: ignore[override]
        return timestamp(int(self._catalogue.created_at[self._position]))

    @property
    def specs_json(self) -> str:  # type: ignore[override]
        return str(self._catalogue.specs_json[self._position])


def product_view(
    snapshot: ModelSnapshot, position: int, categories: Sequence[str] | None = None
) -> t.Product:
    """The product at ``position`` as a `ProductView`; ``categories``: the category names as
    strings, by position (`category_names`), to share them between views."""
    catalogue = snapshot.catalogue
    code = catalogue.category[position]
    category = str(catalogue.category_names[code]) if categories is None else categories[code]
    return ProductView(catalogue, position, category)


def category_names(loaded: Loaded) -> list[str]:
    """The snapshot's category names as Python strings, by position (made once per snapshot:
    every product view of a category shares its name)."""
    names: list[str] | None = loaded.derived.get(_CATEGORY_NAMES)
    if names is None:
        names = loaded.derived[_CATEGORY_NAMES] = loaded.snapshot.catalogue.category_names.tolist()
    return names


def product_cache(loaded: Loaded) -> dict[int, t.Product]:
    """The snapshot's kept product views, by position (see `product`)."""
    cache: dict[int, t.Product] | None = loaded.derived.get(_PRODUCTS)
    if cache is None:
        cache = loaded.derived[_PRODUCTS] = {}
    return cache


def product(loaded: Loaded, position: int, cache: dict[int, t.Product] | None = None) -> t.Product:
    """The product view at ``position``, built once per snapshot and shared by every request
    (it is immutable and a pure function of the snapshot); the first `PRODUCT_VIEWS_KEPT`
    built are kept, any other is built for the request. ``cache``: `product_cache`, when
    the caller has it already."""
    if cache is None:
        cache = product_cache(loaded)
    view = cache.get(position)
    if view is None:
        view = product_view(loaded.snapshot, position, category_names(loaded))
        if len(cache) < PRODUCT_VIEWS_KEPT:
            cache[position] = view
    return view


def products(loaded: Loaded, positions: Iterable[int]) -> list[t.Product]:
    """The product views at ``positions`` (`product`)."""
    cache = product_cache(loaded)
    return [cache.get(p) or product(loaded, p, cache) for p in positions]


def product_ids(loaded: Loaded) -> list[int]:
    """Every product's store id, by position, as Python ints (once per snapshot: a request
    logs and pages by the ids of its items, and needs no product view for that)."""
    ids: list[int] | None = loaded.derived.get(("ids", "by position"))
    if ids is None:
        ids = loaded.derived["ids", "by position"] = loaded.snapshot.catalogue.item_ids.tolist()
    return ids


def _lookup(loaded: Loaded, kind: str) -> dict[int, int]:
    """Product id -> position, built once per snapshot (carts look several up a request)."""
    key = ("ids", kind)
    table: dict[int, int] | None = loaded.derived.get(key)
    if table is None:
        ids = loaded.snapshot.catalogue.item_ids.tolist()
        table = loaded.derived[key] = {int(i): p for p, i in enumerate(ids)}
    return table


def _customer_index(loaded: Loaded) -> IdIndex:
    """Customer id -> position by binary search over the mapped ids (`IdIndex`, made once per
    snapshot): a dict of 100,000 customers was ≈ 10 MB of every worker's private memory, for
    one look-up a request."""
    index: IdIndex | None = loaded.derived.get(("ids", "customer"))
    if index is None:
        index = loaded.derived["ids", "customer"] = IdIndex(loaded.snapshot.histories.user_ids)
    return index


def product_position(loaded: Loaded, product_id: int, argument: str) -> int:
    position = _lookup(loaded, "product").get(product_id)
    if position is None:
        raise NotFound(f"unknown product id {product_id} in {argument}", argument=argument)
    return position


def product_positions(loaded: Loaded, product_ids: Sequence[int], argument: str) -> tuple[int, ...]:
    """Positions of several ids (order kept, duplicates dropped); all must exist."""
    if not product_ids:
        return ()
    table = _lookup(loaded, "product")
    missing = [i for i in product_ids if i not in table]
    if missing:
        listed = ", ".join(str(m) for m in missing[:5])
        raise NotFound(f"unknown product id(s) {listed} in {argument}", argument=argument)
    return tuple(dict.fromkeys(table[i] for i in product_ids))


def customer_position(loaded: Loaded, customer_id: int, argument: str) -> int:
    position = _customer_index(loaded).position(customer_id)
    if position is None:
        raise NotFound(f"unknown customer id {customer_id} in {argument}", argument=argument)
    return position


def known_customer(loaded: Loaded, customer_id: int, argument: str) -> int | None:
    """The customer's position, or None for an id the build has not seen (a customer who
    signed up since: served as a new visitor). Ids are positive."""
    if customer_id < 1:
        raise BadInput(f"{argument} must be a positive id, got {customer_id}", argument=argument)
    return _customer_index(loaded).position(customer_id)


def category_position(snapshot: ModelSnapshot, name: str, argument: str) -> int:
    position = snapshot.catalogue.category_position(name)
    if position is None:
        known = ", ".join(str(c) for c in snapshot.catalogue.category_names[:8])
        raise NotFound(
            f"unknown category {name!r} in {argument} (categories include {known})",
            argument=argument,
        )
    return position


def check_limit(value: int, argument: str, maximum: int = 100) -> int:
    if not 1 <= value <= maximum:
        raise BadInput(
            f"{argument} must be between 1 and {maximum}, got {value}", argument=argument
        )
    return value


def live_positions(loaded: Loaded, product_ids: Sequence[int]) -> tuple[int, ...]:
    """Positions of live purchases in this snapshot (products it does not know are skipped)."""
    if not product_ids:
        return ()
    table = _lookup(loaded, "product")
    return tuple(table[i] for i in product_ids if i in table)


@dataclass(frozen=True)
class SnapshotCustomer:
    """`types.CustomerSource` over one snapshot (lazy fields of `types.Customer`)."""

    loaded: Loaded
    position: int
    live: tuple[int, ...]

    def email(self) -> str:
        return str(self.loaded.snapshot.histories.user_email[self.position])

    def orders(self) -> list[t.Order]:
        h = self.loaded.snapshot.histories
        return [order_view(self.loaded, order) for order in h.orders_of(self.position)]

    def reviews(self) -> list[t.Review]:
        h = self.loaded.snapshot.histories
        span = h.reviews_of(self.position)
        items = products(self.loaded, (int(h.review_item[r]) for r in span))
        return [
            t.Review(
                id=int(h.review_ids[r]),
                product=product,
                rating=int(h.review_rating[r]),
                created_at=timestamp(int(h.review_date[r])),
            )
            for r, product in zip(span, items, strict=True)
        ]

    def purchased_products(self) -> list[t.Product]:
        h = self.loaded.snapshot.histories
        positions: dict[int, None] = {}
        for order in h.completed_orders(self.position):
            positions.update(dict.fromkeys(int(i) for i in h.order_items(order)))
        positions.update(dict.fromkeys(self.live))
        return products(self.loaded, positions)

    def due_soon(self) -> list[t.DueProduct]:
        snapshot = self.loaded.snapshot
        profile = build_profile(snapshot, self.position, live_purchases=self.live)
        found = due_items(snapshot, profile, live_purchases=self.live)
        soon = due_dates.due_soon(found, as_of(snapshot))
        views = products(self.loaded, (d.position for d in soon))
        return [
            t.DueProduct(
                product=view,
                last_bought=timestamp(d.last_bought),
                due_date=timestamp(d.due),
                confidence=round(d.confidence, 4),
            )
            for d, view in zip(soon, views, strict=True)
        ]


def order_view(loaded: Loaded, order: int) -> t.Order:
    h = loaded.snapshot.histories
    span = h.lines_of(order)
    items = products(loaded, (int(h.line_item[line]) for line in span))
    return t.Order(
        id=int(h.order_ids[order]),
        date=timestamp(int(h.order_date[order])),
        status=str(h.order_status[order]),
        total=float(h.order_total[order]),
        lines=[
            t.OrderLine(
                product=product, quantity=int(h.line_qty[line]), price=float(h.line_price[line])
            )
            for line, product in zip(span, items, strict=True)
        ],
    )


def customer_view(
    loaded: Loaded, position: int, live_ids: Sequence[int], *, show_email: bool
) -> t.Customer:
    snapshot = loaded.snapshot
    h = snapshot.histories
    live = live_positions(loaded, live_ids)
    profile = build_profile(snapshot, position, live_purchases=live)
    return t.Customer(
        id=int(h.user_ids[position]),
        name=str(h.user_name[position]),
        created_at=timestamp(int(h.user_created_at[position])),
        segment=profile.segment,
        order_count=profile.n_orders,
        source=SnapshotCustomer(loaded, position, live),
        show_email=show_email,
    )
