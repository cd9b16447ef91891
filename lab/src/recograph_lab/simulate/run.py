"""The shopper simulation: sessions of page views, recommendations, clicks, carts and purchases.

Each session is one visit by one shopper (a store customer with their latent persona):

1. the first page is the home page or the page of a product from a category the shopper
   likes; every page asks ``recommendations`` for the shopper with that page as context;
2. each recommended product is clicked with probability
   ``click_scale × affinity^taste_exponent × rank^-position_decay`` (`Shopper.likes`); the
   chance that a response gets at least one click is recorded too (the *true* CTR the report
   estimates, by variant, in `Tally.expected_ctr`, with the standard error of the run's
   clicked share around it in `Tally.ctr_standard_error`); a clicked product
   goes to the cart with probability ``cart_probability × affinity × price factor`` (price
   sensitive personas shy away from expensive products); durables the customer owns
   hardly interest them (`Shopper.likes`);
3. the shopper moves on with probability ``continue_probability``: to the first product
   clicked, else to another product they like; on a product page they may buy that product
   directly (``organic_probability × affinity``, logged without a request id);
4. with a cart, the visit ends on the cart page (recommendations with the cart as context)
   and each cart product is bought with probability ``buy_probability``, the purchase logged
   with the request id of the impression that led to it.

Every click, add-to-cart and purchase goes through ``recordEvent``, so the server's own logs
are what `recograph report online` analyses. A session draws from its own random generator
(seeded by the run's seed and its number), so runs are reproducible whatever the concurrency.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from recograph_lab.simulate.client import Served
from recograph_lab.simulate.shoppers import Population, Product, Shopper, shopper_of

logger = logging.getLogger(__name__)

MAX_SESSIONS = 200_000
MAX_CONCURRENCY = 32


class Shop(Protocol):
    async def products(self) -> list[Product]: ...

    async def recommend(
        self, customer_id: int | None, session_id: str, context: dict[str, Any], limit: int
    ) -> Served: ...

    async def record(self, event: dict[str, Any]) -> bool: ...


@dataclass(frozen=True)
class Behaviour:
    """The shopper model's probabilities (see the module docstring)."""

    limit: int = 8
    max_pages: int = 4
    home_share: float = 0.4
    continue_probability: float = 0.5
    click_scale: float = 0.35
    taste_exponent: float = 1.0
    position_decay: float = 0.7
    cart_probability: float = 0.4
    buy_probability: float = 0.6
    organic_probability: float = 0.03
    anonymous_share: float = 0.0


@dataclass(frozen=True)
class Plan:
    """How much traffic: ``days`` × ``sessions_per_day`` visits, ``concurrency`` at a time."""

    days: int = 1
    sessions_per_day: int = 200
    seed: int = 0
    concurrency: int = 4

    def __post_init__(self) -> None:
        if self.days < 1 or self.sessions_per_day < 1:
            raise ValueError("days and sessions per day must be at least 1")
        if self.days * self.sessions_per_day > MAX_SESSIONS:
            raise ValueError(f"at most {MAX_SESSIONS:,} sessions per run")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")


@dataclass
class Tally:
    """What a run did, as the shoppers saw it."""

    sessions: int = 0
    impressions: int = 0
    clicks: int = 0
    add_to_carts: int = 0
    purchases: int = 0
    organic_purchases: int = 0
    revenue: float = 0.0
    refused_events: int = 0
    impressions_by_variant: Counter[str] = field(default_factory=Counter)
    click_chance_by_variant: defaultdict[str, float] = field(
        default_factory=lambda: defaultdict(float)
    )
    # Σ p(1 - p) over the variant's responses, p each one's chance of a click.
    click_variance_by_variant: defaultdict[str, float] = field(
        default_factory=lambda: defaultdict(float)
    )
    clicked_by_variant: Counter[str] = field(default_factory=Counter)  # responses clicked
    seconds: float = 0.0

    def expected_ctr(self, variant: str) -> float:
        """The shopper model's own chance of a click on the variant's responses (averaged
        over the responses served): what the measured CTR estimates."""
        shown = self.impressions_by_variant[variant]
        return self.click_chance_by_variant[variant] / shown if shown else 0.0

    def clicked_ctr(self, variant: str) -> float:
        """The share of the variant's responses the shoppers clicked at least once: what a
        report that loses no click measures exactly."""
        shown = self.impressions_by_variant[variant]
        return self.clicked_by_variant[variant] / shown if shown else 0.0

    def ctr_standard_error(self, variant: str) -> float:
        """Standard error of `clicked_ctr` around `expected_ctr`: √Σp(1-p) / n. Each
        response is clicked with its own chance p given everything before it, so the
        differences (clicked - p) are uncorrelated even though later pages, and the cart page,
        depend on earlier clicks: their sum has variance Σp(1-p)."""
        shown = self.impressions_by_variant[variant]
        return math.sqrt(self.click_variance_by_variant[variant]) / shown if shown else 0.0

    def lines(self) -> list[str]:
        variants = ", ".join(
            f"{name} {count:,}, true CTR {self.expected_ctr(name):.2%}, "
            f"clicked {self.clicked_ctr(name):.2%} (s.e. {self.ctr_standard_error(name):.2%})"
            for name, count in sorted(self.impressions_by_variant.items())
        )
        return [
            f"{self.sessions:,} sessions, {self.impressions:,} impressions ({variants}) in "
            f"{self.seconds:.1f} s",
            f"{self.clicks:,} clicks, {self.add_to_carts:,} add-to-carts, "
            f"{self.purchases:,} purchases ({self.organic_purchases:,} organic), "
            f"revenue {self.revenue:,.2f}"
            + (f"; {self.refused_events:,} events refused" if self.refused_events else ""),
        ]


class _Catalogue:
    def __init__(self, products: Sequence[Product]) -> None:
        if not products:
            raise ValueError("the shop has no product in stock")
        self.by_id = {p.id: p for p in products}
        self.categories = sorted({p.category for p in products})
        self.in_category = {c: [p for p in products if p.category == c] for c in self.categories}
        self.median_price = statistics.median(p.price for p in products) or 1.0

    def browse(self, shopper: Shopper, rng: np.random.Generator) -> Product:
        weights = np.asarray(shopper.category_weights(self.categories))
        category = self.categories[int(rng.choice(len(weights), p=weights / weights.sum()))]
        choices = self.in_category[category]
        return choices[int(rng.integers(len(choices)))]


class _Session:
    """One visit; the shop calls are awaited, everything random comes from ``rng``."""

    def __init__(
        self,
        shop: Shop,
        catalogue: _Catalogue,
        behaviour: Behaviour,
        shopper: Shopper,
        session_id: str,
        rng: np.random.Generator,
        tally: Tally,
        owned: set[str],
        consumables: frozenset[str],
    ) -> None:
        self.owned = owned  # shared by the customer's sessions in this run
        self.consumables = consumables
        shopper = replace(shopper, owned=frozenset(owned))
        self.shop = shop
        self.catalogue = catalogue
        self.behaviour = behaviour
        self.shopper = shopper
        self.session_id = session_id
        self.rng = rng
        self.tally = tally
        self.viewed: list[int] = []
        self.cart: list[tuple[Product, str]] = []

    async def run(self) -> None:
        b, rng = self.behaviour, self.rng
        current = None if rng.random() < b.home_share else self.catalogue.browse(self.shopper, rng)
        for page in range(b.max_pages):
            if current is None:
                served = await self._recommend({"pageType": "HOME"})
            else:
                self.viewed.append(current.id)
                served = await self._recommend(
                    {
                        "pageType": "PRODUCT",
                        "currentProductId": current.id,
                        "viewedProductIds": self.viewed[-10:-1],
                    }
                )
                if rng.random() < b.organic_probability * self.shopper.likes(current):
                    await self._purchase(current, None)
                    self.tally.organic_purchases += 1
            clicked = await self._react(served)
            if page + 1 == b.max_pages or rng.random() >= b.continue_probability:
                break
            current = clicked or self.catalogue.browse(self.shopper, rng)
        if self.cart:
            cart_ids = [p.id for p, _ in self.cart]
            await self._react(
                await self._recommend({"pageType": "CART", "cartProductIds": cart_ids})
            )
            for product, request_id in self.cart:
                if rng.random() < b.buy_probability:
                    await self._purchase(product, request_id)

    async def _recommend(self, context: dict[str, Any]) -> Served:
        served = await self.shop.recommend(
            self.shopper.customer_id, self.session_id, context, self.behaviour.limit
        )
        self.tally.impressions += 1
        self.tally.impressions_by_variant[served.variant or "(none)"] += 1
        return served

    async def _react(self, served: Served) -> Product | None:
        """Clicks and add-to-carts on one response; the first product clicked."""
        b, rng = self.behaviour, self.rng
        first: Product | None = None
        in_cart = {p.id for p, _ in self.cart}
        chances = []
        for item in served.items:
            product = self.catalogue.by_id.get(item.product_id)
            likes = 0.0 if product is None else self.shopper.likes(product)
            taste = likes**b.taste_exponent
            chances.append(min(1.0, b.click_scale * taste * item.rank**-b.position_decay))
        no_click = float(np.prod([1 - c for c in chances])) if chances else 1.0
        variant = served.variant or "(none)"
        self.tally.click_chance_by_variant[variant] += 1 - no_click
        self.tally.click_variance_by_variant[variant] += no_click * (1 - no_click)
        for item, chance in zip(served.items, chances, strict=True):
            product = self.catalogue.by_id.get(item.product_id)
            if product is None or rng.random() >= chance:
                continue
            likes = self.shopper.likes(product)
            await self._event("CLICK", product, served.request_id)
            self.tally.clicks += 1
            if first is None:
                self.tally.clicked_by_variant[variant] += 1
            first = first or product
            price_factor = 1 / (
                1 + self.shopper.price_sensitivity * product.price / self.catalogue.median_price
            )
            if (
                product.id not in in_cart
                and rng.random() < b.cart_probability * likes * price_factor
            ):
                await self._event("ADD_TO_CART", product, served.request_id)
                self.tally.add_to_carts += 1
                self.cart.append((product, served.request_id))
                in_cart.add(product.id)
        return first

    async def _purchase(self, product: Product, request_id: str | None) -> None:
        await self._event("PURCHASE", product, request_id, price=product.price)
        self.tally.purchases += 1
        self.tally.revenue += product.price
        if product.category not in self.consumables:
            self.owned.add(product.category)
            self.shopper = replace(self.shopper, owned=frozenset(self.owned))

    async def _event(
        self, kind: str, product: Product, request_id: str | None, price: float | None = None
    ) -> None:
        event: dict[str, Any] = {
            "type": kind,
            "customerId": self.shopper.customer_id,
            "productId": product.id,
            "sessionId": self.session_id,
            "requestId": request_id,
            "quantity": 1,
        }
        if price is not None:
            event["price"] = price
        if not await self.shop.record(event):
            self.tally.refused_events += 1


def _shoppers(population: Population, plan: Plan, anonymous_share: float) -> list[Shopper]:
    """The shopper of every session of the run, drawn up front from the run's seed."""
    rng = np.random.default_rng(plan.seed)
    total = plan.days * plan.sessions_per_day
    chosen = rng.integers(len(population.shoppers), size=total)
    anonymous = rng.random(total) < anonymous_share
    shares = np.asarray([p.share for p in population.personas], dtype=np.float64)
    personas = rng.choice(len(shares), size=total, p=shares / shares.sum())
    return [
        shopper_of(None, [population.personas[int(personas[i])]])
        if anonymous[i]
        else population.shoppers[int(chosen[i])]
        for i in range(total)
    ]


async def simulate(
    shop: Shop,
    population: Population,
    plan: Plan,
    behaviour: Behaviour | None = None,
) -> Tally:
    """Replay ``plan`` against ``shop``; day after day, sessions ``concurrency`` at a time."""
    behaviour = behaviour or Behaviour()
    catalogue = _Catalogue(await shop.products())
    shoppers = _shoppers(population, plan, behaviour.anonymous_share)
    tally = Tally()
    started = time.perf_counter()
    gate = asyncio.Semaphore(plan.concurrency)
    owned: dict[int, set[str]] = {}

    async def one(number: int, day: int) -> None:
        shopper = shoppers[number]
        customer = shopper.customer_id
        if customer is None:
            mine: set[str] = set()
        else:
            mine = owned.setdefault(customer, set(shopper.owned))
        async with gate:
            session = _Session(
                shop,
                catalogue,
                behaviour,
                shopper,
                f"sim-{plan.seed}-{day}-{number}",
                np.random.default_rng([plan.seed, number]),
                tally,
                mine,
                population.consumables,
            )
            await session.run()
        tally.sessions += 1

    for day in range(plan.days):
        first = day * plan.sessions_per_day
        await asyncio.gather(*(one(n, day) for n in range(first, first + plan.sessions_per_day)))
        logger.info(
            "day %d/%d: %d sessions, %d impressions so far",
            day + 1,
            plan.days,
            tally.sessions,
            tally.impressions,
        )
    tally.seconds = time.perf_counter() - started
    return tally
