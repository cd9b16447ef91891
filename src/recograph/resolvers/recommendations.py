"""``recommendations``, ``customerTimeline`` and ``recommendationJourney``.

Each resolver validates its arguments into an engine `Request`, calls `engine.recommend` on the
request's snapshot (never the database), and converts the result. The impression of a
``recommendations`` response is queued for the log writer without being awaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, cast

import strawberry

from recograph import engine
from recograph.core.vocabulary import PageType, Weights
from recograph.engine import BusinessRules, Context, Recommendation, Request
from recograph.online.events import impression_row
from recograph.online.state import Loaded
from recograph.recommenders.blend import shares
from recograph.resolvers.context import RequestContext
from recograph.resolvers.pagination import decode_shown, encode_shown
from recograph.schema import convert
from recograph.schema import types as t
from recograph.schema.enums import RuleLevel
from recograph.schema.errors import BadInput
from recograph.schema.inputs import ContextInput, RecommendationFilters, WeightsInput
from recograph.snapshot import ModelSnapshot

Info = strawberry.Info[RequestContext, None]
Limit = Annotated[int, strawberry.argument(description="How many, 1–100.")]

MAX_CONTEXT_ITEMS = 100
MAX_EXCLUDED = 1000
MAX_TIMELINE_ORDERS = 50


@dataclass(frozen=True)
class Parsed:
    """A validated recommendation request and the ids it was made from (for the log)."""

    request: Request
    customer_id: int | None
    context_log: dict[str, object]
    shown: tuple[int, ...] = ()  # product ids shown on earlier pages (from the cursor)


def parse_context(loaded: Loaded, raw: ContextInput | None) -> Context:
    """A `ContextInput` as catalogue positions; unknown ids or categories raise."""
    if raw is None:
        return Context()
    for name, values in (
        ("context.cartProductIds", raw.cart_product_ids),
        ("context.viewedProductIds", raw.viewed_product_ids),
    ):
        if len(values) > MAX_CONTEXT_ITEMS:
            raise BadInput(
                f"{name} holds {len(values)} products; at most {MAX_CONTEXT_ITEMS} are allowed",
                argument=name,
            )
    cart = convert.product_positions(loaded, raw.cart_product_ids, "context.cartProductIds")
    viewed = convert.product_positions(loaded, raw.viewed_product_ids, "context.viewedProductIds")
    current = (
        None
        if raw.current_product_id is None
        else convert.product_position(loaded, raw.current_product_id, "context.currentProductId")
    )
    category = (
        None
        if raw.current_category is None
        else convert.category_position(
            loaded.snapshot, raw.current_category, "context.currentCategory"
        )
    )
    return Context(
        cart=cart, current=current, page_type=raw.page_type, category=category, viewed=viewed
    )


def parse_weights(raw: WeightsInput | None) -> Weights | None:
    if raw is None:
        return None
    weights = Weights(cf=raw.cf, content=raw.content, rules=raw.rules, popularity=raw.popularity)
    values = weights.as_dict()
    negative = [name for name, value in values.items() if value < 0]
    if negative:
        raise BadInput(f"weights must not be negative ({', '.join(negative)})", argument="weights")
    if weights.total() <= 0:
        raise BadInput("at least one weight must be positive", argument="weights")
    return weights


def parse_request(
    loaded: Loaded,
    *,
    customer_id: int | None,
    live_ids: Sequence[int],
    context: ContextInput | None,
    limit: int,
    strategy: engine.Strategy,
    weights: WeightsInput | None,
    filters: RecommendationFilters | None,
    explain: bool = False,
    exclude: Sequence[int] | None = None,
    after: str | None = None,
) -> Parsed:
    """Validate the arguments of ``recommendations`` into an engine request. A customer id
    the build has not seen is a customer who signed up since: served as a new visitor, with
    their own live purchases only."""
    convert.check_limit(limit, "limit")
    snapshot = loaded.snapshot
    user = (
        None if customer_id is None else convert.known_customer(loaded, customer_id, "customerId")
    )
    unknown = customer_id is not None and user is None
    exclude = exclude or []
    if len(exclude) > MAX_EXCLUDED:
        raise BadInput(
            f"exclude holds {len(exclude)} products; at most {MAX_EXCLUDED} are allowed",
            argument="exclude",
        )
    excluded = convert.product_positions(loaded, exclude, "exclude") if exclude else ()
    shown = decode_shown(after)
    # Products of an earlier page that this build no longer has cannot be shown again anyway.
    if shown:
        excluded += convert.live_positions(loaded, shown)
    filters = filters or RecommendationFilters()
    categories = (
        None
        if filters.categories is None
        else tuple(
            convert.category_position(snapshot, name, "filters.categories")
            for name in filters.categories
        )
    )
    request = Request(
        user=user,
        context=parse_context(loaded, context),
        limit=limit,
        strategy=strategy,
        weights=parse_weights(weights),
        exclude_purchased=filters.exclude_purchased,
        in_stock_only=filters.in_stock_only,
        categories=categories,
        live_purchases=(
            convert.live_positions(loaded, live_ids) if customer_id is not None else ()
        ),
        explain=explain,
        exclude=tuple(dict.fromkeys(excluded)),
        rank_offset=len(shown),
        unknown_customer=unknown,
    )
    context_log: dict[str, object] = {}
    if context is not None:
        context_log = {
            "cart": list(context.cart_product_ids),
            "current": context.current_product_id,
            "page_type": None if context.page_type is None else _PAGE_VALUES[context.page_type],
            "category": context.current_category,
            "viewed": list(context.viewed_product_ids),
        }
    return Parsed(request, customer_id, context_log, tuple(shown))


def signal_weights(weights: Weights) -> list[t.SignalWeight]:
    """Effective weights (shares of the total) of the signals in use."""
    return [t.SignalWeight(signal=s, weight=w) for s, w in shares(weights).items()]


_RULE_LEVELS: dict[str | None, RuleLevel | None] = {None: None} | {
    level.value: level for level in RuleLevel
}


class ReasonSource:
    """An engine `Reason` read as GraphQL's ``Reason`` (whose fields are attributes, read by
    name): the fields equal to the engine's are copied, the ones that need the snapshot
    (evidence products, category names) are converted only when a selection reads them, and
    no view is built to be read back once."""

    __slots__ = ("_loaded", "_reason", "features", "kind", "metric", "rule_id", "text", "value")

    def __init__(self, loaded: Loaded, reason: engine.Reason) -> None:
        self._loaded, self._reason = loaded, reason
        self.kind, self.text, self.metric = reason.kind, reason.text, reason.metric
        self.value, self.rule_id, self.features = reason.value, reason.rule_id, reason.features

    @property
    def evidence(self) -> list[t.Product]:
        return convert.products(self._loaded, self._reason.evidence)

    @property
    def evidence_categories(self) -> list[str]:
        names = self._loaded.snapshot.catalogue.category_names
        return [str(names[c]) for c in self._reason.categories]

    @property
    def rule_level(self) -> RuleLevel | None:
        return _RULE_LEVELS[self._reason.rule_level]


class ItemSource:
    """An engine `Item` read as GraphQL's ``RecommendedItem`` (see `ReasonSource`). Its
    contributions are the engine's own (a tuple: GraphQL completes any iterable as a list),
    whose attributes are the GraphQL fields' names."""

    __slots__ = (
        "_item",
        "_loaded",
        "contributions",
        "out_of_score_order",
        "product",
        "rank",
        "score",
    )

    def __init__(self, loaded: Loaded, item: engine.Item, products: dict[int, t.Product]) -> None:
        self._loaded, self._item = loaded, item
        position = item.position
        self.product = products.get(position) or convert.product(loaded, position, products)
        self.score, self.rank = item.score, item.rank
        self.contributions = item.contributions
        self.out_of_score_order = item.out_of_score_order

    @property
    def reason(self) -> ReasonSource:
        return ReasonSource(self._loaded, self._item.reason)


async def _product_map(ctx: RequestContext, positions: Iterable[int]) -> dict[int, t.Product]:
    keys = list(dict.fromkeys(positions))
    found = await ctx.products.load_many(keys)
    return dict(zip(keys, found, strict=True))


def item_views(loaded: Loaded, items: Iterable[engine.Item]) -> list[t.RecommendedItem]:
    """The items as GraphQL's ``RecommendedItem``: `ItemSource` has its fields (GraphQL reads
    attributes; the cast only tells mypy so)."""
    products = convert.product_cache(loaded)
    sources = [ItemSource(loaded, item, products) for item in items]
    return cast(list[t.RecommendedItem], sources)


# Enum.value is a descriptor (a Python call a read): the values of the members a request logs
_KIND_VALUES = {kind: kind.value for kind in engine.ReasonKind}
_STRATEGY_VALUES = {strategy: strategy.value for strategy in engine.Strategy}
_PAGE_VALUES = {page: page.value for page in PageType}


def impression_items(
    items: Sequence[engine.Item], product_ids: Sequence[int]
) -> list[dict[str, object]]:
    """The logged rows of a response's items (``product_ids``: theirs, in their order)."""
    kinds = _KIND_VALUES
    return [
        {
            "product_id": product_id,
            "rank": item.rank,
            "score": round(item.score, 6),
            "reason": kinds[item.reason.kind],
        }
        for item, product_id in zip(items, product_ids, strict=True)
    ]


def _log_impression(
    ctx: RequestContext,
    loaded: Loaded,
    parsed: Parsed,
    result: Recommendation,
    product_ids: Sequence[int],
    session_id: str | None,
    variant: str | None = None,
) -> None:
    """Queue the impression; ``product_ids`` are the items' ids, in their order."""
    page_type = parsed.request.context.page_type
    row = impression_row(
        request_id=ctx.request_id,
        customer_id=parsed.customer_id,
        session_id=session_id,
        model_version=loaded.version,
        strategy=_STRATEGY_VALUES[result.strategy],
        page_type=None if page_type is None else _PAGE_VALUES[page_type],
        context=parsed.context_log,
        items=impression_items(result.items, product_ids),
    )
    row["variant"], row["store"] = variant, ctx.services.store
    ctx.services.events.submit("impressions", row)


async def recommendations(
    info: Info,
    customer_id: int | None = None,
    context: ContextInput | None = None,
    limit: Limit = 10,
    strategy: engine.Strategy = engine.Strategy.HYBRID,
    weights: WeightsInput | None = None,
    filters: RecommendationFilters | None = None,
    session_id: str | None = None,
    exclude: Annotated[
        list[int] | None,
        strawberry.argument(description="Product ids never to show (at most 1000)."),
    ] = None,
    after: Annotated[
        str | None,
        strawberry.argument(
            description="pageInfo.endCursor of the previous page: the next page, with no "
            "product of the earlier pages repeated (infinite scroll)."
        ),
    ] = None,
) -> t.Recommendations:
    """Recommendations for a customer (or an anonymous visitor) on a page."""
    ctx = info.context
    loaded = ctx.require()
    live = () if customer_id is None else ctx.services.state.live_purchases(customer_id)
    parsed = parse_request(
        loaded,
        customer_id=customer_id,
        live_ids=live,
        context=context,
        limit=limit,
        strategy=strategy,
        weights=weights,
        filters=filters,
        exclude=exclude,
        after=after,
    )
    services = ctx.services
    variant = services.experiment.for_request(
        customer_id, session_id, strategy=strategy, weights_given=weights is not None
    )
    request, business = parsed.request, services.config.business_rules
    if variant is not None:
        request, business = variant.apply(request, business)
    result = engine.recommend(loaded.snapshot, request, business)
    ids = convert.product_ids(loaded)
    product_ids = [ids[item.position] for item in result.items]
    name = None if variant is None else variant.name
    _log_impression(ctx, loaded, parsed, result, product_ids, session_id, name)
    if services.monitoring is not None:
        services.monitoring.count_recommendation(_STRATEGY_VALUES[result.strategy], name)
    source = RecommendationsSource(ctx.request_id, loaded, result, name, parsed.shown, product_ids)
    return cast(t.Recommendations, source)


class RecommendationsSource:
    """A `Recommendation` read as GraphQL's ``Recommendations`` (see `ReasonSource`): the
    weights and the page cursor, which a storefront rarely asks for, are made only when a
    selection reads them."""

    __slots__ = (
        "_product_ids",
        "_result",
        "_shown",
        "explanation",
        "items",
        "model_version",
        "request_id",
        "segment",
        "strategy",
        "variant",
    )

    def __init__(
        self,
        request_id: str,
        loaded: Loaded,
        result: Recommendation,
        variant: str | None,
        shown: tuple[int, ...],
        product_ids: list[int],
    ) -> None:
        self.request_id, self.model_version, self.variant = request_id, loaded.version, variant
        self.strategy, self.explanation = result.strategy, result.explanation
        self.segment, self.items = result.segment, item_views(loaded, result.items)
        self._result, self._shown, self._product_ids = result, shown, product_ids

    @property
    def weights(self) -> list[t.SignalWeight]:
        return signal_weights(self._result.weights)

    @property
    def page_info(self) -> t.PageInfo:
        return t.PageInfo(
            has_next_page=self._result.has_more,
            end_cursor=encode_shown([*self._shown, *self._product_ids]),
        )


# ---------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class _Step:
    order: int
    result: Recommendation
    hits: tuple[int, ...]
    n_products: int


def timeline_steps(
    snapshot: ModelSnapshot, user: int, limit: int, business: BusinessRules
) -> list[_Step]:
    """For each completed order, what would have been recommended just before it."""
    histories = snapshot.histories
    orders = histories.completed_orders(user)[-MAX_TIMELINE_ORDERS:]
    steps: list[_Step] = []
    for order in orders:
        request = Request(
            user=user,
            limit=limit,
            before=int(histories.order_date[order]),
            in_stock_only=False,  # today's stock says nothing about the day of the order
        )
        result = engine.recommend(snapshot, request, business)
        bought = list(dict.fromkeys(int(i) for i in histories.order_items(order)))
        shown = {item.position for item in result.items}
        hits = tuple(p for p in bought if p in shown)
        steps.append(_Step(order, result, hits, len(bought)))
    return steps


async def customer_timeline(info: Info, customer_id: int, limit: Limit = 10) -> t.CustomerTimeline:
    """What recograph would have recommended before each of the customer's orders."""
    ctx = info.context
    loaded = ctx.require()
    convert.check_limit(limit, "limit")
    user = convert.customer_position(loaded, customer_id, "customerId")
    steps = await asyncio.to_thread(
        timeline_steps, loaded.snapshot, user, limit, ctx.services.config.business_rules
    )
    # the items' products (and their evidence) come through `item_views`: only the hits here
    products = await _product_map(ctx, [p for step in steps for p in step.hits])
    entries = [
        t.TimelineEntry(
            order=convert.order_view(loaded, step.order),
            segment=step.result.segment,
            strategy=step.result.strategy,
            explanation=step.result.explanation,
            recommendations=item_views(loaded, step.result.items),
            hits=[products[p] for p in step.hits],
            hit_rate=len(step.hits) / step.n_products if step.n_products else 0.0,
        )
        for step in steps
    ]
    customer = convert.customer_view(
        loaded, user, ctx.services.state.live_purchases(customer_id), show_email=ctx.admin
    )
    return t.CustomerTimeline(
        customer=customer, entries=entries, total_hits=sum(len(s.hits) for s in steps)
    )


# ---------------------------------------------------------------------------- journey


async def recommendation_journey(
    info: Info,
    customer_id: int | None = None,
    context: ContextInput | None = None,
    limit: Limit = 10,
    strategy: engine.Strategy = engine.Strategy.HYBRID,
    weights: WeightsInput | None = None,
    filters: RecommendationFilters | None = None,
) -> t.RecommendationJourney:
    """Every step of one recommendation: profile, neighbours, candidates, filters, ranking."""
    ctx = info.context
    loaded = ctx.require()
    snapshot = loaded.snapshot
    live = () if customer_id is None else ctx.services.state.live_purchases(customer_id)
    parsed = parse_request(
        loaded,
        customer_id=customer_id,
        live_ids=live,
        context=context,
        limit=limit,
        strategy=strategy,
        weights=weights,
        filters=filters,
        explain=True,
    )
    result = await asyncio.to_thread(
        engine.recommend, snapshot, parsed.request, ctx.services.config.business_rules
    )
    trace = result.trace
    assert trace is not None  # explain=True always traces
    profile = result.profile
    # the ranking's products come through `item_views`; these are the journey's own
    positions = profile.items.tolist() + profile.recent.tolist()
    positions += list(parsed.request.live_purchases)
    for scored in trace.candidates.values():
        positions.extend(p for p, _ in scored)
    positions.extend(p for p, _ in trace.filtered)
    products = await _product_map(ctx, positions)
    histories = snapshot.histories
    share = shares(result.weights)
    return t.RecommendationJourney(
        request_id=strawberry.ID(ctx.request_id),
        model_version=loaded.version,
        strategy=result.strategy,
        explanation=result.explanation,
        profile=t.CustomerProfile(
            customer_id=customer_id,
            segment=profile.segment,
            order_count=profile.n_orders,
            purchased_products=[products[p] for p in profile.items.tolist()],
            recent_products=[products[p] for p in profile.recent.tolist()],
            live_purchases=[products[p] for p in parsed.request.live_purchases],
        ),
        similar_customers=[
            t.SimilarCustomer(
                customer_id=int(histories.user_ids[user]),
                name=str(histories.user_name[user]),
                similarity=similarity,
            )
            for user, similarity in trace.neighbours
        ],
        weights=signal_weights(result.weights),
        candidates=[
            t.SignalCandidates(
                signal=signal,
                weight=share.get(signal, 0.0),
                candidates=[t.ScoredProduct(product=products[p], score=s) for p, s in scored],
            )
            for signal, scored in trace.candidates.items()
        ],
        filtered=[
            t.FilteredProduct(product=products[p], rule=rule, detail=trace.details.get(p, ""))
            for p, rule in trace.filtered
        ],
        business_rules=list(trace.business_rules),
        ranking=item_views(loaded, result.items),
    )
