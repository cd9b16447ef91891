"""GraphQL output types: plain objects whose leaf fields are attributes.

Resolvers in `recograph.resolvers` build these from a snapshot; only fields that are costly
and often unused (a customer's orders, a product's specs) are resolved lazily, synchronously,
from the private source an object was built with.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Protocol

import strawberry
from strawberry.scalars import JSON

from recograph import engine
from recograph.recommenders import blend
from recograph.recommenders.intent import Intent
from recograph.schema.enums import EventType, RuleLevel


@strawberry.type(description="A key/value pair of a product's specifications.")
class Spec:
    key: str
    value: str


@strawberry.type(description="A catalogue product; specs are sorted by key.")
class Product:
    id: int
    sku: str
    name: str
    brand: str
    category: str
    price: float
    stock: int
    in_stock: bool
    promoted: bool
    description: str
    created_at: datetime
    specs_json: strawberry.Private[str]

    @strawberry.field
    def specs(self) -> list[Spec]:
        raw = json.loads(self.specs_json)
        return [Spec(key=str(k), value=str(v)) for k, v in sorted(raw.items())]


@strawberry.type
class Category:
    name: str
    product_count: int
    in_stock_count: int


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class ProductEdge:
    cursor: str
    node: Product


@strawberry.type
class ProductConnection:
    edges: list[ProductEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class OrderLine:
    product: Product
    quantity: int
    price: float


@strawberry.type
class Order:
    id: int
    date: datetime
    status: str
    total: float
    lines: list[OrderLine]


@strawberry.type
class Review:
    id: int
    product: Product
    rating: int
    created_at: datetime


class CustomerSource(Protocol):
    """Where a `Customer`'s lazy fields come from (one snapshot, one customer)."""

    def email(self) -> str: ...

    def orders(self) -> list[Order]: ...

    def reviews(self) -> list[Review]: ...

    def purchased_products(self) -> list[Product]: ...

    def due_soon(self) -> list[DueProduct]: ...


@strawberry.type(
    description=(
        "An owned product the customer re-buys, with its due date: the last purchase + the "
        "customer's expected interval (their own gaps between purchases of the category "
        "shrunk toward the category's median gap, learned by the build). Never a durable."
    )
)
class DueProduct:
    product: Product
    last_bought: datetime
    due_date: datetime
    confidence: float = strawberry.field(
        description=(
            "Chance the customer buys it again at all: the product's re-buy propensity × the "
            "customer's re-buy factor, compounded over the dates they bought it."
        )
    )


@strawberry.type(
    description=(
        "A customer. email is null unless the request carries the admin bearer token; "
        "orders holds every order (all statuses) oldest first; purchasedProducts the "
        "distinct products of completed orders and live purchases; dueSoon the products "
        "it re-buys that are due within 60 days of the build's latest order (overdue ones "
        "included), soonest first."
    )
)
class Customer:
    id: int
    name: str
    created_at: datetime
    segment: blend.Segment
    order_count: int = strawberry.field(description="Completed orders, live purchases included.")
    source: strawberry.Private[CustomerSource]
    show_email: strawberry.Private[bool]

    @strawberry.field
    def email(self) -> str | None:
        return self.source.email() if self.show_email else None

    @strawberry.field
    def orders(self) -> list[Order]:
        return self.source.orders()

    @strawberry.field
    def reviews(self) -> list[Review]:
        return self.source.reviews()

    @strawberry.field
    def purchased_products(self) -> list[Product]:
        return self.source.purchased_products()

    @strawberry.field
    def due_soon(self) -> list[DueProduct]:
        return self.source.due_soon()


@strawberry.type
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(
    description=(
        "The recommendation's dominant evidence. value is the figure of the source it names: "
        "the association rule ruleLevel/ruleId (as associationRules and "
        "frequentlyBoughtTogether return it), the neighbour's stored similarity, or buyers."
    )
)
class Reason:
    kind: engine.ReasonKind
    text: str
    evidence: list[Product] = strawberry.field(
        description="Products that triggered it (for a category rule: the page's or "
        "purchased products in its categories)."
    )
    metric: str | None = strawberry.field(
        description="lift (a product rule), category lift (a category rule), similarity "
        "(content, or item-kNN's for CUSTOMERS_LIKE_YOU) or buyers; for CUSTOMERS_LIKE_YOU the "
        "figure of the CF model that scored it: EASE weight, latent similarity (SVD), latent "
        "contribution (ALS) or similar customers who bought it (user-kNN)."
    )
    value: float | None
    features: list[str] = strawberry.field(description="Shared features (SIMILAR_TO).")
    evidence_categories: list[str] = strawberry.field(
        description="A category rule's antecedent categories (empty otherwise)."
    )
    rule_level: RuleLevel | None = strawberry.field(
        description="PRODUCT or CATEGORY when the reason cites an association rule."
    )
    rule_id: int | None = strawberry.field(
        description="The cited rule's id in associationRules(filter: {level: ruleLevel})."
    )


@strawberry.type(description="One signal's part in an item's score.")
class Contribution:
    signal: blend.SignalName
    score: float = strawberry.field(description="The signal's normalised score, 0–1.")
    weight: float = strawberry.field(description="The signal's effective weight (sums to 1).")


@strawberry.type
class SignalWeight:
    signal: blend.SignalName
    weight: float


@strawberry.type
class RecommendedItem:
    product: Product
    score: float
    rank: int
    reason: Reason
    contributions: list[Contribution]
    out_of_score_order: bool = strawberry.field(
        description="True when a business rule (a promoted slot) placed the item above "
        "items with higher scores."
    )


@strawberry.type
class Recommendations:
    request_id: strawberry.ID
    model_version: str
    variant: str | None = strawberry.field(
        description="The A/B variant that served this visitor; null outside an experiment."
    )
    strategy: engine.Strategy = strawberry.field(description="The strategy actually used.")
    explanation: str = strawberry.field(description="Why that strategy.")
    segment: blend.Segment
    weights: list[SignalWeight]
    items: list[RecommendedItem]
    page_info: PageInfo = strawberry.field(
        description="endCursor, passed as after, returns the next page without repeating a "
        "product shown so far."
    )


@strawberry.type
class SimilarProduct:
    product: Product
    similarity: float
    shared_features: list[str]


@strawberry.type(description="A related product, its intent and the evidence for it.")
class RelatedProduct:
    product: Product
    intent: Intent = strawberry.field(description="COMPLEMENTARY or SUBSTITUTE.")
    lift: float | None = strawberry.field(
        description="Complement: lift of the rule {seed} => {product} (as associationRules)."
    )
    confidence: float | None = strawberry.field(description="Complement: confidence of that rule.")
    similarity: float | None = strawberry.field(
        description="Substitute: content similarity to the seed (as similarProducts)."
    )
    co_purchase_rate: float | None = strawberry.field(
        description=(
            "Substitute: completed orders with both products / completed orders with either."
        )
    )


@strawberry.type
class BoughtTogether:
    product: Product
    support: float
    confidence: float
    lift: float
    because_of: list[Product] = strawberry.field(description="The rule's antecedent.")


@strawberry.type
class AssociationRule:
    id: int
    level: RuleLevel
    antecedents: list[str] = strawberry.field(description="Product or category names.")
    consequents: list[str]
    antecedent_products: list[Product] = strawberry.field(description="Empty for CATEGORY.")
    consequent_products: list[Product]
    support: float
    confidence: float
    lift: float
    leverage: float
    conviction: float | None = strawberry.field(description="Null when infinite.")
    count: int


@strawberry.type
class AssociationRuleEdge:
    cursor: str
    node: AssociationRule


@strawberry.type
class AssociationRuleConnection:
    edges: list[AssociationRuleEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class TimelineEntry:
    order: Order
    segment: blend.Segment
    strategy: engine.Strategy
    explanation: str
    recommendations: list[RecommendedItem]
    hits: list[Product] = strawberry.field(description="Products of the order recommended.")
    hit_rate: float = strawberry.field(description="Share of the order's products hit.")


@strawberry.type
class CustomerTimeline:
    customer: Customer
    entries: list[TimelineEntry]
    total_hits: int


@strawberry.type
class ScoredProduct:
    product: Product
    score: float


@strawberry.type
class SignalCandidates:
    signal: blend.SignalName
    weight: float
    candidates: list[ScoredProduct]


@strawberry.type(description="A candidate that did not reach the ranking, and why.")
class FilteredProduct:
    product: Product
    rule: engine.FilterRule
    detail: str = strawberry.field(description="The rule in words.")


@strawberry.type
class SimilarCustomer:
    customer_id: int
    name: str
    similarity: float


@strawberry.type
class CustomerProfile:
    customer_id: int | None
    segment: blend.Segment
    order_count: int
    purchased_products: list[Product]
    recent_products: list[Product]
    live_purchases: list[Product]


@strawberry.type(description="The trace of one recommendation, step by step.")
class RecommendationJourney:
    request_id: strawberry.ID
    model_version: str
    strategy: engine.Strategy
    explanation: str
    profile: CustomerProfile
    similar_customers: list[SimilarCustomer]
    weights: list[SignalWeight]
    candidates: list[SignalCandidates]
    filtered: list[FilteredProduct]
    business_rules: list[str]
    ranking: list[RecommendedItem]


@strawberry.type(description="A segment as the served build's thresholds define it.")
class SegmentDefinition:
    segment: blend.Segment
    definition: str = strawberry.field(description='e.g. "3+ orders or 8+ products".')
    min_orders: int = strawberry.field(description="Orders from which the segment starts.")
    min_products: int | None = strawberry.field(
        description="REGULAR: distinct products that make a regular whatever the orders."
    )


@strawberry.type(
    description=(
        "The served-model guarantee for one customer segment and page kind, from validation: "
        "of the blend and the single signals, the simplest (popularity, then one signal, then "
        "the blend) within one standard error of the best is served, so the served weights "
        "score at least the best single signal within one standard error."
    )
)
class ModelChoice:
    segment: str = strawberry.field(description="new, light or regular.")
    page: str = strawberry.field(
        description="history (pages without products) or cart (a cart or a current product)."
    )
    outcome: str = strawberry.field(
        description=(
            "blend: the blend is served; signal: a single signal (servedSignal) is served "
            "instead; "
            "too few: fewer validation customers than a decision needs, the blend is served."
        )
    )
    served: list[SignalWeight] = strawberry.field(description="The weights served.")
    blend_ndcg: float = strawberry.field(description="Validation NDCG@10 of the blend.")
    blend_standard_error: float
    best_signal: str = strawberry.field(description="cf, content, rules or popularity.")
    best_signal_ndcg: float = strawberry.field(
        description="Validation NDCG@10 of the best single signal."
    )
    best_signal_standard_error: float
    difference_standard_error: float = strawberry.field(
        description="Standard error of the paired difference (best signal minus blend)."
    )
    customers: int = strawberry.field(description="Validation customers behind the decision.")
    served_signal: str | None = strawberry.field(
        default=None,
        description="outcome signal: the single signal served (the simplest within one "
        "standard error of the best, not always the best single signal).",
    )
    best: str | None = strawberry.field(
        default=None, description="The best configuration on validation: blend or a signal."
    )
    within_one_standard_error: list[str] = strawberry.field(
        default_factory=list,
        description="The configurations (blend, cf, content, rules, popularity) whose "
        "validation NDCG@10 is within one standard error of the best.",
    )
    rule: str | None = strawberry.field(
        default=None, description="The decision rule (one-standard-error rule), in words."
    )


@strawberry.type
class ModelInfo:
    version: str
    build_time: str | None
    loaded_at: datetime
    engine: str | None
    format_version: int
    seed: int | None
    data_fingerprint: str | None
    parameters: JSON
    metrics: JSON
    counts: JSON
    blend: JSON
    products: int
    customers: int
    product_rules: int
    category_rules: int
    segments: list[SegmentDefinition] = strawberry.field(
        description="The segments served, from this build's thresholds."
    )
    validation_protocol: JSON = strawberry.field(
        description="How the validation decisions were taken (manifest validation.protocol)."
    )
    model_choices: list[ModelChoice] = strawberry.field(
        description="Per segment and page kind: blend or best single signal, and why."
    )


@strawberry.type
class EventReceipt:
    accepted: bool = strawberry.field(description="False when the log queue was full.")
    type: EventType
    customer_id: int | None
    product_id: int
    live_purchases: int = strawberry.field(
        description="The customer's live purchases so far (0 for anonymous visitors)."
    )


@strawberry.type
class ReloadResult:
    version: str
    previous_version: str | None
    changed: bool
    loaded_at: datetime
