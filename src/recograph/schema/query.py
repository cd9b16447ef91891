"""The root types: every field is one async resolver from `recograph.resolvers`."""

from __future__ import annotations

import strawberry

from recograph.resolvers import analytics, catalogue, mutations, online
from recograph.resolvers import recommendations as ranking
from recograph.schema import types as t
from recograph.schema.online import OnlineMetrics


@strawberry.type
class Query:
    recommendations: t.Recommendations = strawberry.field(
        resolver=ranking.recommendations,
        description="Ranked products for a customer (or anonymous visitor) on a page.",
    )
    recommendation_journey: t.RecommendationJourney = strawberry.field(
        resolver=ranking.recommendation_journey,
        description="The trace of one recommendation request, step by step.",
    )
    customer_timeline: t.CustomerTimeline = strawberry.field(
        resolver=ranking.customer_timeline,
        description="Per order, what would have been recommended from the history before it.",
    )
    product: t.Product = strawberry.field(resolver=catalogue.product)
    products: t.ProductConnection = strawberry.field(resolver=catalogue.products)
    categories: list[t.Category] = strawberry.field(resolver=catalogue.categories)
    customer: t.Customer = strawberry.field(resolver=catalogue.customer)
    customers: t.CustomerConnection = strawberry.field(resolver=catalogue.customers)
    similar_products: list[t.SimilarProduct] = strawberry.field(resolver=analytics.similar_products)
    frequently_bought_together: list[t.BoughtTogether] = strawberry.field(
        resolver=analytics.frequently_bought_together
    )
    related_products: list[t.RelatedProduct] = strawberry.field(
        resolver=analytics.related_products,
        description=(
            "A product's complements (bought together but not alike: rule lift and "
            "confidence) and substitutes (alike but rarely in the same order: similarity and "
            "co-purchase rate)."
        ),
    )
    association_rules: t.AssociationRuleConnection = strawberry.field(
        resolver=analytics.association_rules
    )
    model_info: t.ModelInfo = strawberry.field(resolver=analytics.model_info)
    online_metrics: OnlineMetrics = strawberry.field(
        resolver=online.online_metrics_resolver,
        description=(
            "CTR, add-to-cart, conversion and revenue from the impression and event logs, "
            "per variant (tested against the baseline), strategy, reason, model version or "
            "page type (admin bearer token in production)."
        ),
    )


@strawberry.type
class Mutation:
    record_event: t.EventReceipt = strawberry.field(
        resolver=mutations.record_event,
        description="Log a click, add-to-cart or purchase (a purchase counts at once).",
    )
    reload_artifacts: t.ReloadResult = strawberry.field(
        resolver=mutations.reload_artifacts,
        description="Serve the build 'current' points at (admin bearer token required).",
    )
