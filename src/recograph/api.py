"""The served GraphQL API: the root types, every field one async resolver from
`recograph.resolvers`, and the schema built from them with its limits and caches
(`build_schema`); `export_sdl` prints its SDL, kept in ``schema.graphql``.

Above the resolvers, which are above the types of `recograph.schema`: imports run one way."""

from __future__ import annotations

from pathlib import Path

import strawberry
from strawberry.schema.config import StrawberryConfig

from recograph.resolvers import analytics, catalogue, mutations, online
from recograph.resolvers import recommendations as ranking
from recograph.schema import RecographSchema, SchemaLimits, extensions_for
from recograph.schema import types as t
from recograph.schema.execution import execution_context_class
from recograph.schema.online import OnlineMetrics
from recograph.schema.scalars import SCALAR_MAP


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


def build_schema(limits: SchemaLimits | None = None, *, fast: bool = True) -> RecographSchema:
    """The served schema with its limits, caches and error masking; ``fast`` completes
    plain-object subtrees without graphql-core's per-field calls (`execution`)."""
    limits = limits or SchemaLimits()
    return RecographSchema(
        mask_errors=limits.mask_errors,
        query=Query,
        mutation=Mutation,
        extensions=extensions_for(limits),
        execution_context_class=execution_context_class() if fast else None,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
    )


def export_sdl() -> str:
    """The schema's SDL, as kept in ``schema.graphql``."""
    config = StrawberryConfig(scalar_map=SCALAR_MAP)
    return strawberry.Schema(query=Query, mutation=Mutation, config=config).as_str() + "\n"


def write_sdl(path: Path) -> bool:
    """Write the SDL to ``path``; True when the file changed."""
    sdl = export_sdl()
    if path.is_file() and path.read_text() == sdl:
        return False
    path.write_text(sdl)
    return True
