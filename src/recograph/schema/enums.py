"""GraphQL enums. The engine's own enums are exposed as they are, so no conversion is needed."""

from __future__ import annotations

from enum import Enum

import strawberry

from recograph import engine
from recograph.recommenders import blend
from recograph.recommenders.intent import Intent

Strategy = strawberry.enum(engine.Strategy, description="How the ranking was produced.")
ReasonKind = strawberry.enum(engine.ReasonKind, description="Why an item is recommended.")
FilterRule = strawberry.enum(engine.FilterRule, description="Why a candidate was removed.")
PageType = strawberry.enum(blend.PageType, description="The kind of page asking.")
Segment = strawberry.enum(
    blend.Segment,
    description=(
        "History strength: NEW, LIGHT or REGULAR, by the served build's thresholds "
        "(modelInfo.segments says exactly where each starts)."
    ),
)
Signal = strawberry.enum(blend.SignalName, name="Signal", description="A blended signal.")


@strawberry.enum(description="Customer interactions recorded by recordEvent.")
class EventType(Enum):
    CLICK = "CLICK"
    ADD_TO_CART = "ADD_TO_CART"
    PURCHASE = "PURCHASE"


@strawberry.enum(description="Level of an association rule's items.")
class RuleLevel(Enum):
    PRODUCT = "PRODUCT"
    CATEGORY = "CATEGORY"


@strawberry.enum(description="Sort order of association rules (all descending).")
class RuleOrder(Enum):
    LIFT = "lift"
    CONFIDENCE = "confidence"
    SUPPORT = "support"
    COUNT = "count"


RelatedIntent = strawberry.enum(
    Intent,
    name="RelatedIntent",
    description=(
        "COMPLEMENTARY: bought together (a product rule) but not alike; SUBSTITUTE: alike "
        "(content similarity) but rarely in the same order; ANY: both, alternating."
    ),
)
