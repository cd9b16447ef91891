"""Ids to positions and product views (`recograph.schema.convert`) on the demo snapshot."""

from __future__ import annotations

import pytest

from recograph.online.state import Loaded
from recograph.schema import convert
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
