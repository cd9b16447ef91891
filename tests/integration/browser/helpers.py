"""Look-ups in the demo store's snapshot that the browser tests check the pages against."""

from __future__ import annotations

import numpy as np

from recograph.snapshot import ModelSnapshot

LAPTOP_NAME = "Lenovo ThinkPad X1 Carbon Gen 12"


def product_position(snapshot: ModelSnapshot, name: str) -> int:
    matches = np.flatnonzero(snapshot.catalogue.name == name)
    assert len(matches) == 1, f"{name!r} should be in the demo catalogue once"
    return int(matches[0])


def product_id(snapshot: ModelSnapshot, position: int) -> int:
    return int(snapshot.catalogue.item_ids[position])


def category_of(snapshot: ModelSnapshot, position: int) -> str:
    catalogue = snapshot.catalogue
    return str(catalogue.category_names[catalogue.category[position]])


def customer_position(snapshot: ModelSnapshot, customer_id: int) -> int:
    position = snapshot.histories.index.position(customer_id)
    assert position is not None
    return position


def first_customer_without_orders(snapshot: ModelSnapshot) -> int:
    """Position of the first customer (in id order) with no completed order: segment NEW."""
    histories = snapshot.histories
    for position in range(len(histories)):
        if not histories.completed_orders(position):
            return position
    raise AssertionError("the demo store has a customer without orders")


def newest_listing(snapshot: ModelSnapshot) -> int:
    """The most recently listed product (the highest id among equal dates)."""
    catalogue = snapshot.catalogue
    order = np.lexsort((catalogue.item_ids, catalogue.created_at))
    return int(order[-1])
