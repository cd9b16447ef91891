"""How right the served product and cart pages are against the demo store's planted structure.

A product page should lead with substitutes (before the customer decides), a cart page with
complements (`engine.page_intents`). For every product of a planted category, the served
hybrid's top k (an anonymous visitor, business rules and the stock filter off) is scored as
`intent.planted_precision` scores the intent lists: on the product page, the share of items of
the product's own category; on a cart page holding only that product, the share of items whose
category and the product's form a planted pair.

How many related products lead a page is the store's own choice (`choose_page_leads`), made
on its validation holdout by replaying pages as the customers' held-out orders allow
(`REPLAYS`; each held-out order with at least two products, one of them, the anchor, seeded):

- a **cart page** holds the anchor; a hit is another product of the order new to the customer
  (`split.cart_cases`);
- a **product page** comes before the customer decides, and orders do not record the pages a
  customer saw: the replay assumes they were on the page of another product of the category
  they then bought from (seeded, uniformly among its products); a hit is the product they
  bought or another product of its order. This can credit a substitute (the product chosen
  in the end) and a complement alike, so the lead can go either way;
- the same orders **on the bought product's own page** (seen, as it was bought; a hit is
  another product of the order) are recorded beside it, not deciding: a substitute is never
  a hit there, so they show what leading costs in the products bought alongside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from recograph.engine import PAGE_INTENT_SLOTS, Context, Request, recommend
from recograph.evaluation.evaluate import (
    MIN_DECISION_CUSTOMERS,
    NO_POLICY,
    Estimate,
    cart_positions,
    lead_masks,
    page_related,
    page_stack,
    served_ndcg,
)
from recograph.evaluation.split import CartCase
from recograph.recommenders.blend import PageType
from recograph.snapshot import DEFAULT_PAGE_LEADS, ModelSnapshot

# The leads tried on validation: none (the blend alone) up to every slot.
LEAD_CANDIDATES = (0, 2, 3, PAGE_INTENT_SLOTS)
LEAD_RULE = (
    "largest lead whose validation nDCG@10 is within one standard error of the best lead's "
    "(the best's per-case standard deviation / sqrt(n)): the related products are shown "
    f"wherever the replays cannot tell them from the best; fewer than {MIN_DECISION_CUSTOMERS} "
    "cases: the default lead"
)
REPLAYS = {
    PageType.PRODUCT: (
        "each held-out order with at least two products, its anchor (seeded) the product "
        "bought: on the page of another product of the anchor's category (seeded, uniformly; "
        "orders do not record the pages seen before deciding, so this is assumed); a hit is "
        "the anchor or another product of the order new to the customer"
    ),
    PageType.CART: (
        "each held-out order with at least two products with one of them (seeded) in the "
        "cart; a hit is another product of the order new to the customer"
    ),
}
ON_BOUGHT_PAGE = (
    "the same orders on the anchor's own page (seen, as it was bought); a hit is another "
    "product of the order new to the customer. A substitute is never a hit here: what leading "
    "costs in the products bought alongside (recorded, not deciding)"
)
# Checkout pages hold a cart too and cannot be replayed apart: they follow the cart's choice.
FOLLOWS = {PageType.CHECKOUT: PageType.CART}


def page_precision(
    snapshot: ModelSnapshot, planted_pairs: Sequence[tuple[str, str]], k: int = 5
) -> dict[str, float | int | None]:
    """Precision@k of product pages (same category) and cart pages (a planted pair), averaged
    over the products of planted categories; None when the store has none."""
    catalogue = snapshot.catalogue
    names = {str(n): i for i, n in enumerate(catalogue.category_names)}
    pairs = {(names[a], names[c]) for a, c in planted_pairs if a in names and c in names}
    pairs |= {(c, a) for a, c in pairs}
    seeds = np.flatnonzero(np.isin(catalogue.category, sorted({a for a, _ in pairs})))
    product_hits: list[float] = []
    cart_hits: list[float] = []
    for seed in seeds.tolist():
        own = int(catalogue.category[seed])
        for page, hits in ((PageType.PRODUCT, product_hits), (PageType.CART, cart_hits)):
            if page is PageType.CART:
                context = Context(cart=(seed,), page_type=page)
            else:
                context = Context(current=seed, page_type=page)
            request = Request(context=context, limit=k, in_stock_only=False)
            shown = [
                int(catalogue.category[i.position])
                for i in recommend(snapshot, request, NO_POLICY).items
            ]
            if not shown:
                continue
            if page is PageType.PRODUCT:
                hits.append(sum(c == own for c in shown) / len(shown))
            else:
                hits.append(sum((own, c) in pairs for c in shown) / len(shown))
    return {
        "seeds": len(seeds),
        "product_page_precision": float(np.mean(product_hits)) if product_hits else None,
        "cart_page_precision": float(np.mean(cart_hits)) if cart_hits else None,
    }


def largest_within_one_se(
    values: Mapping[int, npt.NDArray[np.float64]],
) -> tuple[int, int, list[int]]:
    """The lead rule over per-case scores of each candidate lead (the same cases): the best
    lead by mean (ties: the larger), the leads whose mean is within one standard error of the
    best's (its per-case std / sqrt(n)), and the largest of those. Returns (chosen, best,
    within)."""
    means = {lead: Estimate.of(v).mean for lead, v in values.items()}
    best = max(values, key=lambda lead: (means[lead], lead))
    error = Estimate.of(values[best]).standard_error
    within = sorted(lead for lead in values if means[lead] >= means[best] - error)
    return max(within), best, within


@dataclass(frozen=True)
class LeadChoice:
    """One page kind's lead: what is served, the validation evidence and the rule behind it.
    ``outcome``: "chosen" (by `LEAD_RULE`), "too few" (fewer cases than a decision needs: the
    default) or "follows" (checkout pages take the cart's choice)."""

    page: PageType
    lead: int
    outcome: str
    scores: Mapping[int, Estimate]
    best: int | None = None
    within_one_se: tuple[int, ...] = ()
    follows: PageType | None = None
    on_bought_page: Mapping[int, Estimate] | None = None  # product pages: `ON_BOUGHT_PAGE`

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "page": self.page.value,
            "lead": self.lead,
            "outcome": self.outcome,
            "ndcg@10": {str(lead): e.to_dict() for lead, e in self.scores.items()},
            "best": self.best,
            "within_one_se": list(self.within_one_se),
            "rule": LEAD_RULE,
        }
        if self.follows is not None:
            record["follows"] = self.follows.value
        else:
            record["replay"] = REPLAYS[self.page]
        if self.on_bought_page is not None:
            record["on_bought_page"] = {
                "replay": ON_BOUGHT_PAGE,
                "ndcg@10": {str(lead): e.to_dict() for lead, e in self.on_bought_page.items()},
            }
        return record


Replay = tuple[list[tuple[int | None, Context]], list[set[int]]]


def page_replays(
    snapshot: ModelSnapshot, cases: Sequence[CartCase], seed: int
) -> dict[str, Replay]:
    """The pages `REPLAYS` and `ON_BOUGHT_PAGE` describe, as (customer, page) rows and each
    row's hits: "PRODUCT", "CART" and "on bought page"."""
    carts = cart_positions(snapshot, list(cases))
    category = snapshot.catalogue.category
    by_category: dict[int, npt.NDArray[np.int64]] = {}
    rng = np.random.default_rng(seed)
    product: Replay = ([], [])
    cart: Replay = ([], [])
    bought: Replay = ([], [])
    for user, anchor, hits in zip(carts.users, carts.anchors, carts.relevant, strict=True):
        cart[0].append((user, Context(cart=(anchor,), page_type=PageType.CART)))
        cart[1].append(hits)
        bought[0].append((user, Context(current=anchor, page_type=PageType.PRODUCT)))
        bought[1].append(hits)
        own = int(category[anchor])
        if own not in by_category:
            by_category[own] = np.flatnonzero(category == own).astype(np.int64)
        others = by_category[own][by_category[own] != anchor]
        if others.size == 0:
            continue
        seen = int(others[rng.integers(others.size)])
        product[0].append((user, Context(current=seen, page_type=PageType.PRODUCT)))
        product[1].append((hits | {anchor}) - {seen})
    return {"PRODUCT": product, "CART": cart, "on bought page": bought}


def replay_leads(
    snapshot: ModelSnapshot,
    replay: Replay,
    page: PageType,
    leads: Sequence[int] = LEAD_CANDIDATES,
) -> dict[int, npt.NDArray[np.float64]]:
    """NDCG@10 per replayed page (`page_replays`) of the served hybrid on ``page`` (PRODUCT
    or CART) leading with each of ``leads`` related products (business rules and the stock
    filter off). The page's signals are computed once (`page_stack`); each lead changes only
    which products go first, ranked by the server's own final step (`served_ndcg`)."""
    rows, relevant = replay
    if not rows:
        return {lead: np.zeros(0, dtype=np.float64) for lead in leads}
    stack = page_stack(snapshot, rows)
    related = page_related(stack, rows, page, max(leads))
    values: dict[int, npt.NDArray[np.float64]] = {}
    for lead in leads:
        config = replace(snapshot.blend, page_leads={**snapshot.blend.page_leads, page: lead})
        values[lead] = served_ndcg(lead_masks(stack, related, lead), relevant, config, page)
    return values


def choose_page_leads(
    snapshot: ModelSnapshot,
    cases: Sequence[CartCase],
    seed: int = 0,
    leads: Sequence[int] = LEAD_CANDIDATES,
) -> tuple[dict[PageType, int], list[LeadChoice]]:
    """Per page kind, how many related products lead it (`LEAD_RULE` on `replay_leads` of
    `REPLAYS`), and the record of each choice (the manifest's ``validation.page_leads``)."""
    replays = page_replays(snapshot, cases, seed)
    chosen: dict[PageType, int] = {}
    record: list[LeadChoice] = []
    for page in REPLAYS:
        values = replay_leads(snapshot, replays[page.value], page, leads)
        scores = {lead: Estimate.of(v) for lead, v in values.items()}
        alongside = None
        if page is PageType.PRODUCT:
            cost = replay_leads(snapshot, replays["on bought page"], page, leads)
            alongside = {lead: Estimate.of(v) for lead, v in cost.items()}
        n_cases = min((len(v) for v in values.values()), default=0)
        if n_cases < MIN_DECISION_CUSTOMERS:
            chosen[page] = DEFAULT_PAGE_LEADS[page]
            record.append(
                LeadChoice(page, chosen[page], "too few", scores, on_bought_page=alongside)
            )
            continue
        lead, best, within = largest_within_one_se(values)
        chosen[page] = lead
        record.append(
            LeadChoice(page, lead, "chosen", scores, best, tuple(within), None, alongside)
        )
    for page, source in FOLLOWS.items():
        chosen[page] = chosen[source]
        record.append(LeadChoice(page, chosen[page], "follows", {}, follows=source))
    return chosen, record
