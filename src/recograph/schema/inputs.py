"""GraphQL input types; resolvers validate their values and turn them into engine requests."""

from __future__ import annotations

import strawberry

from recograph.recommenders import blend
from recograph.schema.enums import EventType, RuleLevel


@strawberry.input(description="The page the recommendations are for.")
class ContextInput:
    cart_product_ids: list[int] = strawberry.field(
        default_factory=list, description="Products in the cart."
    )
    current_product_id: int | None = strawberry.field(
        default=None, description="The product shown on a product page."
    )
    page_type: blend.PageType | None = None
    current_category: str | None = strawberry.field(
        default=None, description="The category being browsed (exact name)."
    )
    viewed_product_ids: list[int] = strawberry.field(
        default_factory=list, description="Products viewed recently in this session."
    )


@strawberry.input(description="Blend weights overriding the segment's (need not sum to 1).")
class WeightsInput:
    cf: float = 0.0
    content: float = 0.0
    rules: float = 0.0
    popularity: float = 0.0


@strawberry.input(description="Filters applied after blending.")
class RecommendationFilters:
    exclude_purchased: bool = strawberry.field(
        default=True, description="Leave out products the customer bought (except repeat buys)."
    )
    in_stock_only: bool = True
    categories: list[str] | None = strawberry.field(
        default=None, description="Only these categories (exact names)."
    )


@strawberry.input
class ProductFilter:
    category: str | None = None
    brand: str | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the name, SKU or brand."
    )
    in_stock: bool | None = None


@strawberry.input
class RuleFilter:
    level: RuleLevel = RuleLevel.PRODUCT
    min_support: float | None = None
    min_confidence: float | None = None
    min_lift: float | None = None
    category: str | None = strawberry.field(
        default=None, description="Rules with this category (or one of its products) on a side."
    )
    product_id: int | None = strawberry.field(
        default=None, description="Product-level rules with this product on either side."
    )


@strawberry.input
class EventInput:
    type: EventType
    customer_id: int | None = strawberry.field(
        default=None, description="Null for an anonymous visitor, who must send sessionId."
    )
    product_id: int
    session_id: str | None = None
    request_id: str | None = strawberry.field(
        default=None, description="The recommendations response that led to the event."
    )
    quantity: int = 1
    price: float | None = None


__all__ = [
    "ContextInput",
    "EventInput",
    "ProductFilter",
    "RecommendationFilters",
    "RuleFilter",
    "WeightsInput",
]
