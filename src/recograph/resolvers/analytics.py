"""``similarProducts``, ``frequentlyBoughtTogether``, ``relatedProducts``,
``associationRules`` and ``modelInfo``: precomputed neighbours and rules read straight from
the snapshot."""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import strawberry
from strawberry.scalars import JSON

from recograph.core.vocabulary import Segment
from recograph.engine import segment_definitions
from recograph.online.state import Loaded
from recograph.recommenders import content, rules
from recograph.recommenders.intent import Intent, related
from recograph.recommenders.rules import RuleSet
from recograph.resolvers.context import RequestContext
from recograph.resolvers.pagination import check_first, decode_cursor, encode_cursor, page_info
from recograph.resolvers.recommendations import signal_weights
from recograph.schema import convert
from recograph.schema import types as t
from recograph.schema.enums import RuleLevel, RuleOrder
from recograph.schema.errors import BadInput
from recograph.schema.inputs import RuleFilter
from recograph.snapshot import ModelSnapshot

Info = strawberry.Info[RequestContext, None]
Limit = Annotated[int, strawberry.argument(description="How many, 1–100.")]
First = Annotated[int, strawberry.argument(description="Page size, 1–100.")]


async def similar_products(
    info: Info, product_id: int, limit: Limit = 10
) -> list[t.SimilarProduct]:
    """Nearest products by content (attributes, specs, text), with the features they share."""
    ctx = info.context
    loaded = ctx.require()
    convert.check_limit(limit, "limit")
    position = convert.product_position(loaded, product_id, "productId")
    matches = content.neighbours(loaded.snapshot.content, position, limit)
    products = await ctx.products.load_many([m.position for m in matches])
    return [
        t.SimilarProduct(
            product=product, similarity=m.similarity, shared_features=list(m.shared_features)
        )
        for m, product in zip(matches, products, strict=True)
    ]


async def related_products(
    info: Info, product_id: int, intent: Intent = Intent.ANY, limit: Limit = 10
) -> list[t.RelatedProduct]:
    """Complements (bought together, not alike) and substitutes (alike, rarely bought
    together) of a product, each with its evidence."""
    ctx = info.context
    loaded = ctx.require()
    convert.check_limit(limit, "limit")
    position = convert.product_position(loaded, product_id, "productId")
    snapshot = loaded.snapshot
    found = related(
        position,
        snapshot.complements,
        snapshot.content.similarity,
        snapshot.order_baskets,
        intent,
        limit,
    )
    products = await ctx.products.load_many([r.position for r in found])
    return [
        t.RelatedProduct(
            product=product,
            intent=r.intent,
            lift=r.lift,
            confidence=r.confidence,
            similarity=r.similarity,
            co_purchase_rate=r.co_purchase_rate,
        )
        for r, product in zip(found, products, strict=True)
    ]


def bought_together(
    snapshot: ModelSnapshot, positions: tuple[int, ...], limit: int
) -> list[tuple[int, int]]:
    """(item, rule) pairs: the strongest fired product rule per item, by lift then
    confidence, for a basket of positions."""
    ruleset = snapshot.product_rules
    scored = rules.score_rules(ruleset, snapshot.product_rule_index, positions, metric="lift")
    items = np.flatnonzero(scored.best_rule >= 0)
    chosen = scored.best_rule[items]
    order = np.lexsort((items, -ruleset.confidence[chosen], -ruleset.lift[chosen]))[:limit]
    return [(int(items[i]), int(chosen[i])) for i in order]


async def frequently_bought_together(
    info: Info, product_ids: list[int], limit: Limit = 10
) -> list[t.BoughtTogether]:
    """Products that complete a basket, from the product-level association rules."""
    ctx = info.context
    loaded = ctx.require()
    convert.check_limit(limit, "limit")
    if not product_ids:
        raise BadInput("productIds must name at least one product", argument="productIds")
    positions = convert.product_positions(loaded, product_ids, "productIds")
    found = bought_together(loaded.snapshot, positions, limit)
    ruleset = loaded.snapshot.product_rules
    wanted = [item for item, _ in found]
    for _, rule in found:
        wanted.extend(int(p) for p in ruleset.antecedent(rule))
    keys = list(dict.fromkeys(wanted))
    product_of = dict(zip(keys, await ctx.products.load_many(keys), strict=True))
    return [
        t.BoughtTogether(
            product=product_of[item],
            support=float(ruleset.support[rule]),
            confidence=float(ruleset.confidence[rule]),
            lift=float(ruleset.lift[rule]),
            because_of=[product_of[int(p)] for p in ruleset.antecedent(rule)],
        )
        for item, rule in found
    ]


def _rules_touching(ruleset: RuleSet, members: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Rules with at least one member (a boolean mask over positions) on either side."""
    touching = np.zeros(len(ruleset), dtype=np.bool_)
    for indptr, indices in (
        (ruleset.antecedent_indptr, ruleset.antecedent_indices),
        (ruleset.consequent_indptr, ruleset.consequent_indices),
    ):
        owner = np.repeat(np.arange(len(ruleset)), np.diff(indptr))
        touching[owner[members[indices]]] = True
    return touching


def select_rules(
    loaded: Loaded, where: RuleFilter, order_by: RuleOrder
) -> tuple[RuleSet, npt.NDArray[np.int64]]:
    """The rule set of the filter's level and the matching rule ids in the requested order."""
    snapshot = loaded.snapshot
    product_level = where.level is RuleLevel.PRODUCT
    ruleset = snapshot.product_rules if product_level else snapshot.category_rules
    mask = np.ones(len(ruleset), dtype=np.bool_)
    for value, metric, name in (
        (where.min_support, ruleset.support, "minSupport"),
        (where.min_confidence, ruleset.confidence, "minConfidence"),
        (where.min_lift, ruleset.lift, "minLift"),
    ):
        if value is not None:
            if value < 0 or not math.isfinite(value):
                raise BadInput(f"filter.{name} must be a non-negative number", argument=name)
            mask &= metric >= value
    catalogue = snapshot.catalogue
    if where.category is not None:
        category = convert.category_position(snapshot, where.category, "filter.category")
        if product_level:
            members = catalogue.category == category
        else:
            members = np.zeros(catalogue.n_categories, dtype=np.bool_)
            members[category] = True
        mask &= _rules_touching(ruleset, members)
    if where.product_id is not None:
        if not product_level:
            raise BadInput(
                "filter.productId needs level PRODUCT (category rules have no products)",
                argument="filter.productId",
            )
        position = convert.product_position(loaded, where.product_id, "filter.productId")
        members = np.zeros(snapshot.n_items, dtype=np.bool_)
        members[position] = True
        mask &= _rules_touching(ruleset, members)
    ids = np.flatnonzero(mask)
    metric_values = getattr(ruleset, order_by.value)[ids]
    return ruleset, ids[np.lexsort((ids, -metric_values))].astype(np.int64)


async def association_rules(
    info: Info,
    filter: RuleFilter | None = None,
    order_by: RuleOrder = RuleOrder.LIFT,
    first: First = 20,
    after: str | None = None,
) -> t.AssociationRuleConnection:
    """Mined association rules, filtered and paginated."""
    ctx = info.context
    loaded = ctx.require()
    check_first(first)
    start = decode_cursor("rule", after)
    where = filter or RuleFilter()
    ruleset, ids = select_rules(loaded, where, order_by)
    page = ids[start : start + first].tolist()
    product_level = where.level is RuleLevel.PRODUCT
    catalogue = loaded.snapshot.catalogue
    wanted: list[int] = []
    if product_level:
        for rule in page:
            wanted.extend(int(p) for p in ruleset.antecedent(rule))
            wanted.extend(int(p) for p in ruleset.consequent(rule))
    keys = list(dict.fromkeys(wanted))
    product_of = dict(zip(keys, await ctx.products.load_many(keys), strict=True))

    def names(side: npt.NDArray[np.int32]) -> list[str]:
        if product_level:
            return [product_of[int(p)].name for p in side]
        return [str(catalogue.category_names[c]) for c in side]

    edges = []
    for i, rule in enumerate(page):
        antecedent, consequent = ruleset.antecedent(rule), ruleset.consequent(rule)
        conviction = float(ruleset.conviction[rule])
        node = t.AssociationRule(
            id=rule,
            level=where.level,
            antecedents=names(antecedent),
            consequents=names(consequent),
            antecedent_products=[product_of[int(p)] for p in antecedent] if product_level else [],
            consequent_products=[product_of[int(p)] for p in consequent] if product_level else [],
            support=float(ruleset.support[rule]),
            confidence=float(ruleset.confidence[rule]),
            lift=float(ruleset.lift[rule]),
            leverage=float(ruleset.leverage[rule]),
            conviction=conviction if math.isfinite(conviction) else None,
            count=int(ruleset.count[rule]),
        )
        edges.append(t.AssociationRuleEdge(cursor=encode_cursor("rule", start + i), node=node))
    return t.AssociationRuleConnection(
        edges=edges,
        page_info=page_info(edges, start=start, first=first, total=len(ids)),
        total_count=len(ids),
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def model_choices(snapshot: ModelSnapshot) -> list[t.ModelChoice]:
    """The build's validation guarantee (manifest ``validation.choices``); the served weights
    are read from the snapshot's blend, the one the engine uses."""
    validation = snapshot.manifest.get("validation") or {}
    choices = []
    for raw in validation.get("choices", []):
        segment = Segment(raw["segment"])
        blend = snapshot.blend
        served = (blend.weights if raw["page"] == "history" else blend.context_weights)[segment]
        blend_score, best_score = raw["blend_ndcg@10"], raw["best_signal_ndcg@10"]
        choices.append(
            t.ModelChoice(
                segment=segment.value,
                page=str(raw["page"]),
                outcome=str(raw["outcome"]),
                served=signal_weights(served),
                blend_ndcg=float(blend_score["ndcg@10"]),
                blend_standard_error=float(blend_score["standard_error"]),
                best_signal=str(raw["best_signal"]),
                best_signal_ndcg=float(best_score["ndcg@10"]),
                best_signal_standard_error=float(best_score["standard_error"]),
                difference_standard_error=float(raw["difference_standard_error"]),
                customers=int(blend_score["users"]),
                # builds before the one-standard-error rule served the best signal
                served_signal=(
                    str(raw.get("served_signal") or raw["best_signal"])
                    if raw["outcome"] == "signal"
                    else None
                ),
                best=None if raw.get("best") is None else str(raw["best"]),
                within_one_standard_error=[str(x) for x in raw.get("within_one_se", [])],
                rule=None if raw.get("rule") is None else str(raw["rule"]),
            )
        )
    return choices


async def model_info(info: Info) -> t.ModelInfo:
    """The served build: version, build time, parameters and evaluation metrics."""
    loaded = info.context.require()
    snapshot = loaded.snapshot
    manifest = snapshot.manifest
    return t.ModelInfo(
        version=snapshot.version,
        build_time=None if manifest.get("created_at") is None else str(manifest["created_at"]),
        loaded_at=convert.timestamp(loaded.loaded_at),
        engine=None if manifest.get("engine") is None else str(manifest["engine"]),
        format_version=int(manifest.get("format_version", 0)),
        seed=_optional_int(manifest.get("seed")),
        data_fingerprint=(
            None if manifest.get("data_fingerprint") is None else str(manifest["data_fingerprint"])
        ),
        parameters=manifest.get("parameters", {}),
        metrics=manifest.get("metrics", {}),
        counts=manifest.get("counts", {}),
        blend=JSON(snapshot.blend.to_dict()),
        products=snapshot.n_items,
        customers=len(snapshot.histories),
        product_rules=len(snapshot.product_rules),
        category_rules=len(snapshot.category_rules),
        segments=segment_views(snapshot),
        validation_protocol=JSON((manifest.get("validation") or {}).get("protocol")),
        model_choices=model_choices(snapshot),
    )


def segment_views(snapshot: ModelSnapshot) -> list[t.SegmentDefinition]:
    """The served segments, worded by `engine.segment_definitions` like every explanation."""
    thresholds = snapshot.blend.thresholds
    words = segment_definitions(thresholds)
    starts = {
        Segment.NEW: (0, None),
        Segment.LIGHT: (thresholds.light_min_orders, None),
        Segment.REGULAR: (thresholds.regular_min_orders, thresholds.regular_min_items),
    }
    return [
        t.SegmentDefinition(
            segment=segment,
            definition=words[segment],
            min_orders=starts[segment][0],
            min_products=starts[segment][1],
        )
        for segment in Segment
    ]
