"""Ids to positions and product views (`recograph.schema.convert`) on the demo snapshot."""

from __future__ import annotations

import dataclasses

import pytest

from recograph.online.state import Loaded
from recograph.schema import convert
from recograph.schema import types as t
from recograph.schema.errors import NotFound
from recograph.snapshot import ModelSnapshot


def test_customer_ids_map_to_their_positions_and_unknown_ids_to_none(
    snapshot: ModelSnapshot,
) -> None:
    loaded = Loaded(snapshot)
    ids = snapshot.histories.user_ids.tolist()
    for position in (0, 1, len(ids) // 2, len(ids) - 1):
        assert convert.customer_position(loaded, ids[position], "customerId") == position
        assert convert.known_customer(loaded, ids[position], "customerId") == position
    unknown = max(ids) + 1
    assert convert.known_customer(loaded, unknown, "customerId") is None
    with pytest.raises(NotFound, match=f"unknown customer id {unknown} in customerId"):
        convert.customer_position(loaded, unknown, "customerId")


def test_product_views_beyond_the_kept_number_are_built_for_the_request(
    snapshot: ModelSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(convert, "PRODUCT_VIEWS_KEPT", 3)
    loaded = Loaded(snapshot)
    positions = list(range(6))
    first = convert.products(loaded, positions)
    assert [view.id for view in first] == snapshot.catalogue.item_ids[:6].tolist()
    assert first == [convert.product_view(snapshot, p) for p in positions]
    again = convert.products(loaded, positions)
    assert [a is b for a, b in zip(first, again, strict=True)] == [True] * 3 + [False] * 3
    assert again == first


def test_a_product_view_reads_the_fields_it_does_not_keep_from_the_catalogue(
    snapshot: ModelSnapshot,
) -> None:
    """Every field of a (slim) view has the value and type of the row's full copy."""
    catalogue = snapshot.catalogue
    for position in range(0, len(catalogue), 7):
        stock = int(catalogue.stock[position])
        full = t.Product(
            id=int(catalogue.item_ids[position]),
            sku=str(catalogue.sku[position]),
            name=str(catalogue.name[position]),
            brand=str(catalogue.brand[position]),
            category=str(catalogue.category_names[catalogue.category[position]]),
            price=float(catalogue.price[position]),
            stock=stock,
            in_stock=stock > 0,
            promoted=bool(catalogue.promoted[position]),
            description=str(catalogue.description[position]),
            created_at=convert.timestamp(int(catalogue.created_at[position])),
            specs_json=str(catalogue.specs_json[position]),
        )
        view = convert.product(Loaded(snapshot), position)
        assert isinstance(view, t.Product)
        for field in dataclasses.fields(t.Product):
            if field.name != "specs":
                mine, theirs = getattr(view, field.name), getattr(full, field.name)
                assert (mine, type(mine)) == (theirs, type(theirs)), field.name
