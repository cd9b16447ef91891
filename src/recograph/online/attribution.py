"""Which impression earned each event: by request id when the client sent one, else last touch.

An event (click, add-to-cart, purchase) is credited to at most one impression that showed its
product:

1. the impression of the event's ``request_id``, when that impression showed the product and
   the event is no later than the end of the attribution window;
2. otherwise the latest impression that showed the product to the same visitor (same customer
   id, or same session id) at or before the event and within the window (last touch).

Events that match neither are unattributed: organic actions, or products never recommended.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Via(StrEnum):
    """How an event was attributed."""

    REQUEST = "request"
    VISITOR = "visitor"


@dataclass(frozen=True)
class ShownItem:
    product_id: int
    rank: int
    reason: str | None


@dataclass(frozen=True)
class ImpressionLog:
    """One logged ``recommendations`` response (a row of ``impressions``)."""

    request_id: str
    created_at: datetime
    customer_id: int | None
    session_id: str | None
    model_version: str
    strategy: str
    variant: str | None
    page_type: str | None
    items: tuple[ShownItem, ...]

    @property
    def visitor(self) -> str:
        """The randomisation unit (as in variant assignment): customer, else session."""
        if self.customer_id is not None:
            return f"customer:{self.customer_id}"
        if self.session_id:
            return f"session:{self.session_id}"
        return f"request:{self.request_id}"

    @property
    def session(self) -> str:
        """The visit: the session id, else the customer, else the request alone."""
        if self.session_id:
            return f"session:{self.session_id}"
        if self.customer_id is not None:
            return f"customer:{self.customer_id}"
        return f"request:{self.request_id}"


@dataclass(frozen=True)
class EventLog:
    """One logged event (a row of ``events``)."""

    created_at: datetime
    type: str
    customer_id: int | None
    session_id: str | None
    product_id: int
    request_id: str | None
    quantity: int = 1
    price: float | None = None

    @property
    def revenue(self) -> float:
        """Price × quantity of a purchase; 0 for other events and purchases without a price."""
        if self.type != "PURCHASE" or self.price is None:
            return 0.0
        return self.price * self.quantity


@dataclass(frozen=True)
class Credit:
    """An event credited to impression ``impression`` (an index into the impression list)."""

    event: int
    impression: int
    via: Via


def attribute(
    impressions: Sequence[ImpressionLog], events: Sequence[EventLog], window: timedelta
) -> list[Credit]:
    """Credit each event to at most one impression (see the module docstring)."""
    by_request: dict[str, int] = {}
    touches: dict[tuple[str, int], list[tuple[datetime, int]]] = defaultdict(list)
    for index, impression in enumerate(impressions):
        by_request.setdefault(impression.request_id, index)
        keys = _keys(impression.customer_id, impression.session_id)
        for item in impression.items:
            for key in keys:
                touches[(key, item.product_id)].append((impression.created_at, index))
    for found in touches.values():
        found.sort()
    credits: list[Credit] = []
    for number, event in enumerate(events):
        shown = None if event.request_id is None else by_request.get(event.request_id)
        if shown is not None and _shows(impressions[shown], event, window):
            credits.append(Credit(number, shown, Via.REQUEST))
            continue
        best: tuple[datetime, int] | None = None
        for key in _keys(event.customer_id, event.session_id):
            found = touches.get((key, event.product_id), [])
            # the latest touch at or before the event (ties: the later impression)
            at = bisect.bisect_right(found, (event.created_at, len(impressions))) - 1
            if at >= 0 and event.created_at - found[at][0] <= window:
                best = found[at] if best is None or found[at] > best else best
        if best is not None:
            credits.append(Credit(number, best[1], Via.VISITOR))
    return credits


def _keys(customer_id: int | None, session_id: str | None) -> list[str]:
    keys = [] if customer_id is None else [f"customer:{customer_id}"]
    if session_id:
        keys.append(f"session:{session_id}")
    return keys


def _shows(impression: ImpressionLog, event: EventLog, window: timedelta) -> bool:
    if event.created_at - impression.created_at > window:
        return False
    return any(item.product_id == event.product_id for item in impression.items)
