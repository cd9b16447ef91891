"""Generate the TechHeaven demo store: a deterministic Bagisto-style export with planted patterns.

At scale 1 the store has exactly 291 products (40 categories), 1,000 customers, 5,000 orders
over the 24 months ending 2026-10-31, 15,000 order lines and 5,000 reviews; 20 products (the
newest arrivals) are never ordered. ``scale`` multiplies customers, orders, lines and reviews;
for scale > 1 the catalogue is also copied ``round(scale)`` times (copy k > 0 is a colour /
edition variant with its own name and sku, in the same 40 categories), so the never-ordered
new arrivals become ``20 × copies``.

How an order comes about: every customer has one or two latent personas (see
``catalogue.PERSONAS``); each order is driven by one of them and is either built around a
bundle anchor (a laptop, over-ear headphones or a gaming mouse, which pull in their planted
complements, preferring the anchor's brand), an ordinary order of the persona's favoured
categories, or a browse of the whole shop. Most customers who bought over-ear headphones come
back for ear cushions three to six months later, and many again three to six months after
that. Within a category, popularity is long-tailed (Zipf over the catalogue order) and tilted
by persona brands and price sensitivity. Ratings are higher for products in the customer's
favoured categories.

Repeat purchases follow what a customer already owns (``catalogue.CONSUMABLES``,
``catalogue.REPURCHASE``). Durables (laptops, headphones, monitors, ...) are bought once: a
customer keeps one order per bundle anchor (rarely a second, an upgrade), later ordinary
orders steer away from owned durable categories towards new ones (a few customers buy a
second item of a category, never the same product twice), and heavy buyers are damped (order
counts saturate, frequent buyers place smaller orders). Consumables and wear parts (ear
cushions, memory cards, chargers, mouse pads) are bought again, often the same product.

Everything is drawn from one ``numpy.random.default_rng(seed)`` in a fixed order and written
sorted with fixed formatting, so the same seed and scale give byte-identical files.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import orjson

from recograph_lab.demo import catalogue as cat

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DAY = 86_400
WINDOW_START = "2024-11-01T00:00:00"
WINDOW_END = "2026-10-31T23:59:59"
# Customers registered before the window (a third of them) joined from this date on.
FIRST_SIGNUP = "2023-01-01T00:00:00"
# Catalogue products were listed from this date on; new arrivals within the last weeks.
FIRST_LISTING = "2022-01-03T00:00:00"
NEW_ARRIVALS = ("2026-10-12T00:00:00", "2026-10-30T23:59:59")

BASE_CUSTOMERS = 1_000
BASE_ORDERS = 5_000
BASE_LINES = 15_000
BASE_REVIEWS = 5_000

COMPLETED = "completed"
# Non-completed statuses and their exact shares; pending/processing are the most recent orders.
STATUS_SHARES: tuple[tuple[str, float], ...] = (
    ("pending", 0.015),
    ("processing", 0.02),
    ("canceled", 0.05),
    ("closed", 0.035),
)
EARLY_CUSTOMER_SHARE = 0.35
STORE_GROWTH = 0.4  # order density rises by this fraction over the window
PROMOTED_PER_COPY = 6
OUT_OF_STOCK_SHARE = 0.05
SECOND_PERSONA_SHARE = 0.3
SECOND_PERSONA_ORDER_SHARE = 0.35
CATALOGUE_SEED = 20_261_031  # the catalogue text is the same for every store seed

# Order kinds: ordinary persona orders, whole-shop browses, one per bundle, follow-ups.
KIND_PERSONA = 0
KIND_RANDOM = 1
KIND_BUNDLE0 = 2
KIND_FOLLOW_UP = KIND_BUNDLE0 + len(cat.BUNDLES)
N_KINDS = KIND_FOLLOW_UP + 1

# Line roles.
ROLE_ANCHOR = 0
ROLE_COMPLEMENT = 1
ROLE_FOLLOW_UP = 2
ROLE_FILLER = 3

# Extra (filler) lines per order: cap and relative weight by kind.
FILLER_CAP = MappingProxyType({KIND_PERSONA: 8, KIND_RANDOM: 6, KIND_FOLLOW_UP: 1})
FILLER_CAP_BUNDLE = 2
FILLER_WEIGHT = MappingProxyType({KIND_PERSONA: 1.0, KIND_RANDOM: 0.8, KIND_FOLLOW_UP: 0.3})
FILLER_WEIGHT_BUNDLE = 0.25

PERSONA_BRAND_BOOST = 3.0
POPULARITY_EXPONENT = 1.15
# Orders per customer: lognormal activity, saturating at ACTIVITY_CAP (nobody buys electronics
# weekly for two years); frequent buyers place smaller orders (extra lines ~ orders^-exponent).
ACTIVITY_SIGMA = 0.8
ACTIVITY_CAP = 4.0
FREQUENT_BUYER_EXPONENT = 2.0
REDRAW_ATTEMPTS = 20  # redraws of a durable re-buy that repeats a product, before a fallback


@dataclass(frozen=True)
class StoreSize:
    """Row counts of a generated store; ``copies`` is how many times the catalogue is repeated."""

    copies: int
    products: int
    cold_start: int
    customers: int
    orders: int
    lines: int
    reviews: int

    @classmethod
    def from_scale(cls, scale: float) -> StoreSize:
        if not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"scale must be a positive number, got {scale}")
        copies = max(1, _round_half_up(scale))
        n_items = sum(len(c.items) for c in cat.CATEGORIES)
        n_new = sum(i.new for c in cat.CATEGORIES for i in c.items)
        size = cls(
            copies=copies,
            products=n_items * copies,
            cold_start=n_new * copies,
            customers=_round_half_up(BASE_CUSTOMERS * scale),
            orders=_round_half_up(BASE_ORDERS * scale),
            lines=_round_half_up(BASE_LINES * scale),
            reviews=_round_half_up(BASE_REVIEWS * scale),
        )
        if size.customers < 10 or size.lines < size.products - size.cold_start:
            raise ValueError(
                f"scale {scale} is too small: every catalogue product must be ordered at least "
                f"once, which needs at least {size.products - size.cold_start} order lines"
            )
        return size


@dataclass(frozen=True)
class GenerationSummary:
    """What ``generate_store`` wrote: rows per file (by file stem) and how long it took."""

    out_dir: Path
    seed: int
    scale: float
    size: StoreSize
    counts: Mapping[str, int]
    seconds: float


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _seconds(iso: str) -> int:
    return int(np.datetime64(iso, "s").astype(np.int64))


def _iso(secs: IntArray) -> list[str]:
    strings: list[str] = np.datetime_as_string(secs.astype("datetime64[s]"), unit="s").tolist()
    return strings


def _money(cents: IntArray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]


def _json_str(text: str) -> str:
    return orjson.dumps(text).decode()


def _categorical(rng: np.random.Generator, probs: FloatArray) -> IntArray:
    """One draw per row of ``probs`` (rows sum to 1)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cdf[:, -1]
    picks: IntArray = (u[:, None] >= cdf).sum(axis=1).astype(np.int64)
    picks[picks >= probs.shape[1]] = probs.shape[1] - 1  # guards against rounding at u ~ 1
    return picks


# --- catalogue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueText:
    """Text of the base catalogue (one entry per catalogue item, in catalogue order)."""

    names: tuple[str, ...]
    skus: tuple[str, ...]
    specs: tuple[dict[str, cat.SpecValue], ...]
    descriptions: tuple[str, ...]


def _brand_code(brand: str) -> str:
    letters = "".join(ch for ch in brand.upper() if ch.isalnum())
    return (letters + "XXX")[:3]


# Attribute-name suffix -> unit shown in descriptions ("battery_wh" -> "battery: 70 Wh").
UNITS: tuple[tuple[str, str], ...] = (
    ("_mw_32ohm", "mW into 32 ohm"),
    ("_mb_s", "MB/s"),
    ("_mbps", "Mbps"),
    ("_khz", "kHz"),
    ("_mah", "mAh"),
    ("_ohm", "ohm"),
    ("_deg", "degrees"),
    ("_days", "days"),
    ("_m2", "sq m"),
    ("_gb", "GB"),
    ("_mm", "mm"),
    ("_in", "in"),
    ("_kg", "kg"),
    ("_wh", "Wh"),
    ("_hz", "Hz"),
    ("_ms", "ms"),
    ("_mp", "MP"),
    ("_cm", "cm"),
    ("_w", "W"),
    ("_h", "h"),
    ("_g", "g"),
    ("_k", "K"),
    ("_m", "m"),
)


def spec_phrase(attr: str, value: cat.SpecValue) -> str:
    """Human-readable ``attribute: value unit`` for a spec (booleans become yes / no)."""
    unit = ""
    for suffix, name in UNITS:
        if attr.endswith(suffix):
            attr, unit = attr[: -len(suffix)], f" {name}"
            break
    shown = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return f"{attr.replace('_', ' ')}: {shown}{unit}"


def _describe(
    item: cat.Item,
    category: cat.Category,
    tier: float,
    features: list[str],
    specs: dict[str, cat.SpecValue],
) -> str:
    adjective = ("affordable", "well-rounded", "premium", "flagship")[min(3, int(tier * 4))]
    article = "an" if adjective[0] in "aeiou" else "a"
    spec_text = "; ".join(spec_phrase(attr, value) for attr, value in specs.items())
    return (
        f"The {item.name} is {article} {adjective} {category.noun} from {item.brand}. "
        f"{' '.join(features)} Key specs: {spec_text}."
    )


def catalogue_text() -> CatalogueText:
    """Names, skus, specs and descriptions of the 291 catalogue items (seed-independent)."""
    rng = np.random.default_rng(CATALOGUE_SEED)
    names: list[str] = []
    skus: list[str] = []
    specs_out: list[dict[str, cat.SpecValue]] = []
    descriptions: list[str] = []
    for category in cat.CATEGORIES:
        prices = np.array([item.price for item in category.items])
        ranks = np.argsort(np.argsort(prices, kind="stable"), kind="stable")
        tiers = ranks / max(1, len(prices) - 1)
        for pos, item in enumerate(category.items):
            tier = float(tiers[pos])
            specs: dict[str, cat.SpecValue] = {}
            for spec in category.specs:
                n = len(spec.values)
                if spec.ordered:
                    idx = round(tier * (n - 1) + rng.normal(0.0, 0.4))
                    specs[spec.attr] = spec.values[min(n - 1, max(0, idx))]
                else:
                    specs[spec.attr] = spec.values[int(rng.integers(n))]
            specs.update(category.brand_specs.get(item.brand, {}))
            specs.update(dict(item.specs))
            picked = np.sort(rng.choice(len(category.features), size=3, replace=False))
            features = [category.features[int(i)] for i in picked]
            names.append(item.name)
            skus.append(f"{category.code}-{_brand_code(item.brand)}-{pos + 1:03d}")
            specs_out.append(specs)
            descriptions.append(_describe(item, category, tier, features, specs))
    return CatalogueText(tuple(names), tuple(skus), tuple(specs_out), tuple(descriptions))


@dataclass(frozen=True)
class Products:
    """The catalogue repeated ``copies`` times; index ``p`` is a product position, not its id.

    ``item`` is the catalogue item (0..290), ``copy`` the variant number (0 = original),
    ``category`` / ``brand`` index ``cat.CATEGORIES`` / ``brands``, ``popularity`` is the
    base choice weight within the category and ``new`` marks never-ordered new arrivals.
    """

    item: IntArray
    copy: IntArray
    category: IntArray
    brand: IntArray
    brands: tuple[str, ...]
    price_cents: IntArray
    popularity: FloatArray
    new: BoolArray

    def __len__(self) -> int:
        return len(self.item)


def build_products(copies: int) -> Products:
    """Product arrays for ``copies`` copies of the catalogue (copy-major order)."""
    items = [(ci, pos, it) for ci, c in enumerate(cat.CATEGORIES) for pos, it in enumerate(c.items)]
    brands = tuple(sorted({it.brand for _, _, it in items}))
    brand_index = {b: i for i, b in enumerate(brands)}
    n = len(items)
    category = np.array([ci for ci, _, _ in items], dtype=np.int64)
    brand = np.array([brand_index[it.brand] for _, _, it in items], dtype=np.int64)
    cents = np.array([round(it.price * 100) for _, _, it in items], dtype=np.int64)
    popularity = np.array([1.0 / (pos + 1) ** POPULARITY_EXPONENT for _, pos, _ in items])
    new = np.array([it.new for _, _, it in items], dtype=np.bool_)
    return Products(
        item=np.tile(np.arange(n, dtype=np.int64), copies),
        copy=np.repeat(np.arange(copies, dtype=np.int64), n),
        category=np.tile(category, copies),
        brand=np.tile(brand, copies),
        brands=brands,
        price_cents=np.tile(cents, copies),
        popularity=np.tile(popularity, copies),
        new=np.tile(new, copies),
    )


def variant_label(copy: int) -> str:
    """Colour / edition label of catalogue copy ``copy`` (>= 1)."""
    k = copy - 1
    colour = cat.VARIANT_COLOURS[k % len(cat.VARIANT_COLOURS)]
    edition = cat.VARIANT_EDITIONS[(k // len(cat.VARIANT_COLOURS)) % len(cat.VARIANT_EDITIONS)]
    label = f"{colour} {edition}".strip()
    cycle = k // (len(cat.VARIANT_COLOURS) * len(cat.VARIANT_EDITIONS))
    return f"{label} {cycle + 1}" if cycle else label


# --- customers and orders -------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Order-date density over the window: the shop grows, November and December peak."""

    bounds: FloatArray  # day boundaries in epoch seconds, len = days + 1
    cdf: FloatArray  # cumulative share of orders at each boundary

    @classmethod
    def build(cls) -> Calendar:
        start = _seconds(WINDOW_START)
        end = _seconds(WINDOW_END) + 1
        days = (end - start) // DAY
        day_starts = start + DAY * np.arange(days, dtype=np.int64)
        months = (day_starts.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)) % 12
        season = np.ones(12)
        season[[10, 11, 0]] = (1.35, 1.5, 0.85)  # Nov, Dec, Jan
        weights = (1.0 + STORE_GROWTH * np.arange(days) / days) * season[months]
        cdf = np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum()
        bounds = np.append(day_starts, end).astype(np.float64)
        return cls(bounds, cdf)

    def sample(self, rng: np.random.Generator, lo: IntArray, hi: int | None = None) -> IntArray:
        """One date per entry, from the density restricted to ``[lo, hi]`` (hi: window end)."""
        hi = _seconds(WINDOW_END) if hi is None else hi
        f_lo = np.interp(lo.astype(np.float64), self.bounds, self.cdf)
        f_hi = float(np.interp(float(hi), self.bounds, self.cdf))
        u = f_lo + rng.random(len(lo)) * (f_hi - f_lo)
        secs = np.floor(np.interp(u, self.cdf, self.bounds)).astype(np.int64)
        return np.clip(np.maximum(secs, lo), None, hi)


@dataclass(frozen=True)
class Customers:
    created: IntArray
    first: IntArray
    last: IntArray
    domain: IntArray
    primary: IntArray
    secondary: IntArray  # -1 when the customer has one persona

    def __len__(self) -> int:
        return len(self.created)


def _customers(rng: np.random.Generator, n: int, calendar: Calendar) -> Customers:
    start = _seconds(WINDOW_START)
    before = rng.random(n) < EARLY_CUSTOMER_SHARE
    early = rng.integers(_seconds(FIRST_SIGNUP), start, size=n)
    latest = _seconds(WINDOW_END) - 14 * DAY
    in_window = calendar.sample(rng, np.full(n, start, dtype=np.int64), latest)
    created = np.sort(np.where(before, early, in_window))
    shares = np.array([p.share for p in cat.PERSONAS])
    shares /= shares.sum()
    primary = rng.choice(len(shares), size=n, p=shares).astype(np.int64)
    second = rng.choice(len(shares), size=n, p=shares).astype(np.int64)
    mixed = (rng.random(n) < SECOND_PERSONA_SHARE) & (second != primary)
    return Customers(
        created=created.astype(np.int64),
        first=rng.integers(len(cat.FIRST_NAMES), size=n).astype(np.int64),
        last=rng.integers(len(cat.LAST_NAMES), size=n).astype(np.int64),
        domain=rng.integers(len(cat.EMAIL_DOMAINS), size=n).astype(np.int64),
        primary=primary,
        secondary=np.where(mixed, second, -1).astype(np.int64),
    )


def _kind_matrix() -> FloatArray:
    """P(order kind | source persona), shape (personas, N_KINDS); no follow-ups drawn here."""
    rows = np.zeros((len(cat.PERSONAS), N_KINDS))
    for i, persona in enumerate(cat.PERSONAS):
        bundles = [persona.bundles.get(b.name, 0.0) for b in cat.BUNDLES]
        rest = 1.0 - sum(bundles)
        rows[i, KIND_PERSONA] = rest * (1.0 - cat.RANDOM_ORDER_SHARE)
        rows[i, KIND_RANDOM] = rest * cat.RANDOM_ORDER_SHARE
        rows[i, KIND_BUNDLE0 : KIND_BUNDLE0 + len(bundles)] = bundles
    return rows


@dataclass(frozen=True)
class Orders:
    customer: IntArray
    date: IntArray
    source: IntArray  # persona driving the order
    kind: IntArray
    follows: IntArray  # for follow-up orders, the anchor order they follow; else -1

    def __len__(self) -> int:
        return len(self.customer)


def _first_per_group(
    groups: IntArray, order_key: IntArray | FloatArray
) -> tuple[IntArray, IntArray]:
    """Positions sorted by (group, key) and, per group, the index into them of its first row."""
    ordered = np.lexsort((order_key, groups)).astype(np.int64)
    _, first = np.unique(groups[ordered], return_index=True)
    return ordered, first.astype(np.int64)


def _orders(
    rng: np.random.Generator, size: StoreSize, customers: Customers, calendar: Calendar
) -> Orders:
    n_cust = len(customers)
    if size.orders < n_cust:
        raise ValueError("every customer places at least one order: orders >= customers")
    start, end = _seconds(WINDOW_START), _seconds(WINDOW_END)
    active_from = np.maximum(customers.created, start)
    span = (end - active_from) / (end - start)
    raw = rng.lognormal(0.0, ACTIVITY_SIGMA, n_cust)
    activity = raw * ACTIVITY_CAP / (raw + ACTIVITY_CAP) * (0.1 + span)
    per_customer = 1 + rng.multinomial(size.orders - n_cust, activity / activity.sum())
    customer = np.repeat(np.arange(n_cust, dtype=np.int64), per_customer)
    date = calendar.sample(rng, active_from[customer])
    use_second = (customers.secondary[customer] >= 0) & (
        rng.random(len(customer)) < SECOND_PERSONA_ORDER_SHARE
    )
    source = np.where(use_second, customers.secondary[customer], customers.primary[customer])
    kind = _categorical(rng, _kind_matrix()[source])
    _one_anchor_each(rng, customer, date, kind)
    follows = np.full(len(customer), -1, dtype=np.int64)
    _plant_follow_ups(rng, customer, date, kind, follows)
    return Orders(customer, date, source.astype(np.int64), kind, follows)


def _run_positions(keys: IntArray) -> IntArray:
    """Position of each row within its run of equal consecutive ``keys`` (0 for a run's first)."""
    n = len(keys)
    starts = np.ones(n, dtype=np.bool_)
    starts[1:] = keys[1:] != keys[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    positions: IntArray = (np.arange(n) - first).astype(np.int64)
    return positions


def _one_anchor_each(
    rng: np.random.Generator, customer: IntArray, date: IntArray, kind: IntArray
) -> None:
    """A customer builds one order around each bundle anchor, rarely two (an upgrade or a gift).

    A laptop, over-ear headphones or a gaming mouse is a durable: of the orders a customer
    drew around the same anchor, the earliest stays, a second one stays with probability
    ``REPURCHASE.second_anchor_share`` and the rest become ordinary orders. Mutates ``kind``.
    """
    rows = np.flatnonzero((kind >= KIND_BUNDLE0) & (kind < KIND_FOLLOW_UP))
    keys = customer[rows] * N_KINDS + kind[rows]
    ordered = rows[np.lexsort((rows, date[rows], keys))]
    position = _run_positions(customer[ordered] * N_KINDS + kind[ordered])
    keep_second = rng.random(len(ordered)) < cat.REPURCHASE.second_anchor_share
    browse = rng.random(len(ordered)) < cat.RANDOM_ORDER_SHARE
    drop = (position >= 2) | ((position == 1) & ~keep_second)
    kind[ordered[drop]] = np.where(browse[drop], KIND_RANDOM, KIND_PERSONA)


def _plant_follow_ups(
    rng: np.random.Generator, customer: IntArray, date: IntArray, kind: IntArray, follows: IntArray
) -> None:
    """Turn ordinary orders into ear-cushion follow-ups of each customer's first headphone order.

    The first cushions come ``FOLLOW_UP.days`` after the headphones, each re-buy
    ``FOLLOW_UP.rebuy_days`` after the previous cushions, while the window and the customer's
    ordinary orders last.

    Mutates ``date``, ``kind`` and ``follows`` in place (they are fresh arrays of ``_orders``).
    """
    fu = cat.FOLLOW_UP
    audio_kind = KIND_BUNDLE0 + next(i for i, b in enumerate(cat.BUNDLES) if b.anchor == fu.anchor)
    end = _seconds(WINDOW_END)
    audio = np.flatnonzero(kind == audio_kind)
    ordered, first = _first_per_group(customer[audio], date[audio])
    anchors = audio[ordered[first]]
    n = len(anchors)
    goes = rng.random(n) < fu.share
    off = rng.random(n) < fu.off_share
    gap_days = np.where(off, rng.uniform(*fu.off_days, n), rng.uniform(*fu.days, n))
    steps = max(0, fu.purchases - 1)
    again = rng.random((n, steps)) < fu.rebuy_share
    rebuy_days = rng.uniform(*fu.rebuy_days, (n, steps))

    # Each customer's ordinary orders, in random order, are the slots a follow-up can take.
    convertible = np.flatnonzero((kind == KIND_PERSONA) | (kind == KIND_RANDOM))
    if n == 0 or len(convertible) == 0:
        return
    slot_order, slot_first = _first_per_group(customer[convertible], rng.random(len(convertible)))
    slot_customers = customer[convertible][slot_order][slot_first]
    slot_counts = np.diff(np.append(slot_first, len(slot_order)))
    where = np.minimum(np.searchsorted(slot_customers, customer[anchors]), len(slot_customers) - 1)
    has_slot = slot_customers[where] == customer[anchors]
    when = date[anchors] + (gap_days * DAY).astype(np.int64)
    ok = goes & has_slot
    for step in range(fu.purchases):
        if step:
            when = when + (rebuy_days[:, step - 1] * DAY).astype(np.int64)
            ok = ok & again[:, step - 1]
        ok = ok & (slot_counts[where] > step) & (when <= end)
        slots = convertible[slot_order[slot_first[where[ok]] + step]]
        kind[slots] = KIND_FOLLOW_UP
        date[slots] = when[ok]
        follows[slots] = anchors[ok]


# --- order lines ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Lines:
    order: IntArray
    category: IntArray
    role: IntArray
    anchor_line: IntArray  # the anchor line a complement / follow-up goes with; else -1
    product: IntArray
    qty: IntArray

    def __len__(self) -> int:
        return len(self.order)


def _category_index() -> dict[str, int]:
    return {name: i for i, name in enumerate(cat.CATEGORY_NAMES)}


def _filler_weights() -> tuple[FloatArray, FloatArray]:
    """Category weights of filler lines: per persona (personas × categories), and per kind mask.

    Categories a persona does not list weigh ``EVERYDAY`` or else ``OTHER_CATEGORY_WEIGHT``.
    """
    index = _category_index()
    n_cat = len(cat.CATEGORY_NAMES)
    persona_w = np.full((len(cat.PERSONAS), n_cat), cat.OTHER_CATEGORY_WEIGHT)
    for name, weight in cat.EVERYDAY.items():
        persona_w[:, index[name]] = weight
    for i, persona in enumerate(cat.PERSONAS):
        for name, weight in persona.categories.items():
            persona_w[i, index[name]] = weight
    mask = np.ones((N_KINDS, n_cat))
    for name in cat.ANCHOR_ONLY:
        mask[:, index[name]] = 0.0
    for b, bundle in enumerate(cat.BUNDLES):
        for name, _ in bundle.complements:
            mask[KIND_BUNDLE0 + b, index[name]] = 0.0
    return persona_w, mask


def _filler_sizes(
    rng: np.random.Generator, kind: IntArray, allowed: IntArray, budget: int, scale: FloatArray
) -> IntArray:
    """Filler lines per order summing exactly to ``budget``: >= 1 for ordinary orders, capped.

    ``scale`` multiplies each order's share of the extra lines (frequent buyers buy less often).
    """
    base = ((kind == KIND_PERSONA) | (kind == KIND_RANDOM)).astype(np.int64)
    cap = np.full(len(kind), FILLER_CAP_BUNDLE, dtype=np.int64)
    weight = np.full(len(kind), FILLER_WEIGHT_BUNDLE)
    for k, c in FILLER_CAP.items():
        cap[kind == k] = c
        weight[kind == k] = FILLER_WEIGHT[k]
    cap = np.minimum(cap, allowed)
    weight = weight * scale * rng.gamma(1.5, 1.0, len(kind))
    remaining = budget - int(base.sum())
    if remaining < 0:
        raise ValueError("too few order lines for the orders: lower orders or raise lines")
    sizes: IntArray = base.copy()
    while remaining > 0:
        room = cap - sizes
        w = np.where(room > 0, weight, 0.0)
        if w.sum() <= 0:
            raise ValueError("too many order lines for the orders: baskets are full")
        add = np.minimum(rng.multinomial(remaining, w / w.sum()), room)
        sizes += add
        remaining -= int(add.sum())
    return sizes


class _ProductPicker:
    """Chooses products within a category for (persona, anchor brand) groups of lines."""

    def __init__(self, products: Products) -> None:
        self.products = products
        eligible = ~products.new
        self.by_category = [
            np.flatnonzero(eligible & (products.category == c)) for c in range(len(cat.CATEGORIES))
        ]
        brand_index = {b: i for i, b in enumerate(products.brands)}
        self.persona_brands = np.zeros((len(cat.PERSONAS), len(products.brands)), dtype=np.bool_)
        for i, persona in enumerate(cat.PERSONAS):
            for brand in persona.brands:
                if brand in brand_index:
                    self.persona_brands[i, brand_index[brand]] = True
        self.sensitivity = np.array([p.price_sensitivity for p in cat.PERSONAS])

    def weights(self, category: int, persona: int, anchor_brand: int) -> FloatArray:
        cands = self.by_category[category]
        p = self.products
        w = p.popularity[cands].copy()
        w[self.persona_brands[persona, p.brand[cands]]] *= PERSONA_BRAND_BOOST
        if self.sensitivity[persona] > 0:
            price = p.price_cents[cands].astype(np.float64)
            w *= (np.median(price) / price) ** self.sensitivity[persona]
        if anchor_brand >= 0:
            w[p.brand[cands] == anchor_brand] *= cat.ANCHOR_BRAND_BOOST
        normalised: FloatArray = w / w.sum()
        return normalised

    def pick(
        self,
        rng: np.random.Generator,
        category: IntArray,
        persona: IntArray,
        anchor_brand: IntArray,
    ) -> IntArray:
        n_brands = len(self.products.brands) + 1
        key = (category * len(cat.PERSONAS) + persona) * n_brands + (anchor_brand + 1)
        groups, inverse = np.unique(key, return_inverse=True)
        ordered = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[ordered], np.arange(len(groups) + 1))
        out = np.empty(len(key), dtype=np.int64)
        for g, k in enumerate(groups.tolist()):
            brand = k % n_brands - 1
            c, persona_g = divmod(k // n_brands, len(cat.PERSONAS))
            members = ordered[bounds[g] : bounds[g + 1]]
            cands = self.by_category[c]
            out[members] = cands[
                rng.choice(len(cands), size=len(members), p=self.weights(c, persona_g, brand))
            ]
        return out


def _consumable_mask() -> BoolArray:
    index = _category_index()
    mask = np.zeros(len(cat.CATEGORIES), dtype=np.bool_)
    mask[[index[name] for name in sorted(cat.CONSUMABLES)]] = True
    return mask


def _first_purchases_only(
    orders: Orders, order: IntArray, category: IntArray, role: IntArray
) -> BoolArray:
    """Which planted lines to keep: a durable complement the customer gets earlier is left out.

    (Two bundles share a complement, e.g. the laptop and the gaming bundle both pull in a
    mechanical keyboard; a second laptop order does not bring a second mouse.)
    """
    n_cat = len(cat.CATEGORIES)
    keys = orders.customer[order] * n_cat + category
    ordered = np.lexsort((np.arange(len(order)), orders.date[order], keys))
    repeat = np.zeros(len(order), dtype=np.bool_)
    repeat[ordered] = _run_positions(keys[ordered]) > 0
    keep: BoolArray = ~(repeat & (role == ROLE_COMPLEMENT) & ~_consumable_mask()[category])
    return keep


def _filler_categories(
    rng: np.random.Generator,
    orders: Orders,
    weights: FloatArray,
    sizes: IntArray,
    planted_order: IntArray,
    planted_category: IntArray,
) -> IntArray:
    """Categories of the filler lines (grouped by order, as ``np.repeat(orders, sizes)``).

    Orders are filled customer by customer in date order, all customers at once: a category the
    customer already owns is down-weighted if durable (``REPURCHASE.durable_weight``) and
    up-weighted if consumable; a durable the customer gets in a planted line (an anchor, a
    complement) counts as owned from the start. Within an order categories are distinct
    (Gumbel top-k without replacement).
    """
    n_orders, n_cat = weights.shape
    consumable = _consumable_mask()
    owned_factor = np.where(
        consumable, cat.REPURCHASE.consumable_weight, cat.REPURCHASE.durable_weight
    )
    owned = np.zeros((int(orders.customer.max(initial=-1)) + 1, n_cat), dtype=np.bool_)
    durable = ~consumable[planted_category]
    owned[orders.customer[planted_order[durable]], planted_category[durable]] = True

    by_customer = np.lexsort((np.arange(n_orders), orders.date, orders.customer))
    rank = np.empty(n_orders, dtype=np.int64)
    rank[by_customer] = _run_positions(orders.customer[by_customer])
    by_rank = np.argsort(rank, kind="stable")
    rank_bounds = np.searchsorted(rank[by_rank], np.arange(int(rank.max(initial=-1)) + 2))
    planted_by_rank = np.argsort(rank[planted_order], kind="stable")
    planted_bounds = np.searchsorted(
        rank[planted_order][planted_by_rank], np.arange(len(rank_bounds))
    )

    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out = np.empty(int(offsets[-1]), dtype=np.int64)
    for r in range(len(rank_bounds) - 1):
        rows = by_rank[rank_bounds[r] : rank_bounds[r + 1]]
        who = orders.customer[rows]
        w = weights[rows] * np.where(owned[who], owned_factor, 1.0)
        with np.errstate(divide="ignore"):
            keys = np.log(w) + rng.gumbel(size=w.shape)
        widest = int(sizes[rows].max())
        top = np.argsort(-keys, axis=1, kind="stable")[:, :widest]
        take = np.arange(widest)[None, :] < sizes[rows][:, None]
        picked = top[take]
        out[(offsets[rows][:, None] + np.arange(widest)[None, :])[take]] = picked
        owned[np.repeat(who, sizes[rows]), picked] = True
        planted = planted_by_rank[planted_bounds[r] : planted_bounds[r + 1]]
        owned[orders.customer[planted_order[planted]], planted_category[planted]] = True
    return out


def _lines(rng: np.random.Generator, size: StoreSize, orders: Orders, products: Products) -> Lines:
    index = _category_index()
    n_orders = len(orders)
    order_ids = np.arange(n_orders, dtype=np.int64)
    parts_order: list[IntArray] = []
    parts_cat: list[IntArray] = []
    parts_role: list[IntArray] = []
    # Bundle anchors, then their complements (independent coin flips per category).
    for b, bundle in enumerate(cat.BUNDLES):
        members = order_ids[orders.kind == KIND_BUNDLE0 + b]
        parts_order.append(members)
        parts_cat.append(np.full(len(members), index[bundle.anchor], dtype=np.int64))
        parts_role.append(np.full(len(members), ROLE_ANCHOR, dtype=np.int64))
        for name, prob in bundle.complements:
            chosen = members[rng.random(len(members)) < prob]
            parts_order.append(chosen)
            parts_cat.append(np.full(len(chosen), index[name], dtype=np.int64))
            parts_role.append(np.full(len(chosen), ROLE_COMPLEMENT, dtype=np.int64))
    follow_ups = order_ids[orders.kind == KIND_FOLLOW_UP]
    parts_order.append(follow_ups)
    parts_cat.append(np.full(len(follow_ups), index[cat.FOLLOW_UP.item], dtype=np.int64))
    parts_role.append(np.full(len(follow_ups), ROLE_FOLLOW_UP, dtype=np.int64))
    planted_order = np.concatenate(parts_order)
    planted_cat = np.concatenate(parts_cat)
    planted_role = np.concatenate(parts_role)
    keep = _first_purchases_only(orders, planted_order, planted_cat, planted_role)
    planted_order, planted_cat = planted_order[keep], planted_cat[keep]
    planted_role = planted_role[keep]

    # Filler lines from the source persona's categories (uniform for whole-shop browses).
    persona_w, kind_mask = _filler_weights()
    weights = persona_w[orders.source]
    weights[orders.kind == KIND_RANDOM] = 1.0
    weights *= kind_mask[orders.kind]
    budget = size.lines - len(planted_order)
    per_customer = np.bincount(orders.customer)[orders.customer]
    smaller = per_customer.astype(np.float64) ** -FREQUENT_BUYER_EXPONENT
    sizes = _filler_sizes(rng, orders.kind, (weights > 0).sum(axis=1), budget, smaller)
    fillers = _filler_categories(rng, orders, weights, sizes, planted_order, planted_cat)

    order = np.concatenate([planted_order, np.repeat(order_ids, sizes)])
    category = np.concatenate([planted_cat, fillers])
    role = np.concatenate([planted_role, np.full(len(fillers), ROLE_FILLER, dtype=np.int64)])
    # Anchor line of each order, so complements and follow-ups can match the anchor's brand.
    anchor_of_order = np.full(n_orders, -1, dtype=np.int64)
    anchor_rows = np.flatnonzero(role == ROLE_ANCHOR)
    anchor_of_order[order[anchor_rows]] = anchor_rows
    anchor_line = np.full(len(order), -1, dtype=np.int64)
    comp = role == ROLE_COMPLEMENT
    anchor_line[comp] = anchor_of_order[order[comp]]
    fol = role == ROLE_FOLLOW_UP
    anchor_line[fol] = anchor_of_order[orders.follows[order[fol]]]

    picker = _ProductPicker(products)
    source = orders.source[order]
    product = np.full(len(order), -1, dtype=np.int64)
    first = role == ROLE_ANCHOR
    no_brand = np.full(int(first.sum()), -1, dtype=np.int64)
    product[first] = picker.pick(rng, category[first], source[first], no_brand)
    rest = ~first
    brand = np.full(len(order), -1, dtype=np.int64)
    brand[rest] = np.where(
        anchor_line[rest] >= 0, products.brand[product[np.maximum(anchor_line[rest], 0)]], -1
    )
    product[rest] = picker.pick(rng, category[rest], source[rest], brand[rest])
    _settle_repurchases(
        rng, picker, orders.customer[order], orders.date[order], category, source, brand, product
    )
    _cover_catalogue(rng, products, order, category, role, product)

    qty_probs = np.zeros((len(cat.CATEGORIES), max(len(c.qty_weights) for c in cat.CATEGORIES)))
    for c, category_def in enumerate(cat.CATEGORIES):
        qty_probs[c, : len(category_def.qty_weights)] = category_def.qty_weights
    qty_probs /= qty_probs.sum(axis=1, keepdims=True)
    qty = _categorical(rng, qty_probs[category]) + 1
    return Lines(order, category, role, anchor_line, product, qty)


def _settle_repurchases(
    rng: np.random.Generator,
    picker: _ProductPicker,
    customer: IntArray,
    date: IntArray,
    category: IntArray,
    persona: IntArray,
    brand: IntArray,
    product: IntArray,
) -> None:
    """Second purchases of a category: consumables often repeat, durables never do (mutates).

    Walks each customer's purchases of a category in date order, all customers at once. A
    consumable bought again is the previous product with probability
    ``REPURCHASE.same_product_share``; a durable bought again (an upgrade, a gift) is redrawn
    until it differs from every earlier product of the category the customer bought.
    """
    n_cat = len(cat.CATEGORIES)
    keys = customer * n_cat + category
    ordered = np.lexsort((np.arange(len(keys)), date, keys))
    position = _run_positions(keys[ordered])
    consumable = _consumable_mask()[category[ordered]]
    same = rng.random(len(ordered)) < cat.REPURCHASE.same_product_share
    for k in range(1, int(position.max(initial=0)) + 1):
        at = np.flatnonzero(position == k)
        again = at[consumable[at] & same[at]]
        product[ordered[again]] = product[ordered[again - 1]]
        durable = at[~consumable[at]]
        if len(durable):
            _redraw_repeats(rng, picker, ordered, durable, k, category, persona, brand, product)


def _redraw_repeats(
    rng: np.random.Generator,
    picker: _ProductPicker,
    ordered: IntArray,
    at: IntArray,
    k: int,
    category: IntArray,
    persona: IntArray,
    brand: IntArray,
    product: IntArray,
) -> None:
    """Redraw lines ``ordered[at]`` (the k-th purchase of a run) that repeat an earlier product."""
    earlier = product[ordered[at[:, None] - np.arange(1, k + 1)[None, :]]]
    rows = ordered[at]
    for _ in range(REDRAW_ATTEMPTS):
        clash = (earlier == product[rows][:, None]).any(axis=1)
        if not clash.any():
            return
        redo = rows[clash]
        product[redo] = picker.pick(rng, category[redo], persona[redo], brand[redo])
    clash = (earlier == product[rows][:, None]).any(axis=1)
    kept = 0
    for row, used in zip(rows[clash].tolist(), earlier[clash].tolist(), strict=True):
        free = np.setdiff1d(picker.by_category[category[row]], used)
        if len(free):
            product[row] = free[0]
        else:  # the customer already bought every product of the category
            kept += 1
    if kept:
        logger.warning("%d durable re-buys repeat a product: no other product left", kept)


def _cover_catalogue(
    rng: np.random.Generator,
    products: Products,
    order: IntArray,
    category: IntArray,
    role: IntArray,
    product: IntArray,
) -> None:
    """Make every product except new arrivals appear in at least one line (mutates arrays).

    A never-picked product takes over a random line of its own category whose product is
    also on other lines; categories are unique within an order, so baskets stay valid. When
    its category has no such line (tiny scales), a filler line of another category moves to
    it, in an order that does not already contain the category.
    """
    counts = np.bincount(product, minlength=len(products))
    missing = np.flatnonzero((counts == 0) & ~products.new)
    if len(missing) == 0:
        return
    n_cat = len(cat.CATEGORIES)
    by_category = np.argsort(category, kind="stable")
    bounds = np.searchsorted(category[by_category], np.arange(n_cat + 1))
    for p in missing.tolist():
        c = int(products.category[p])
        rows = by_category[bounds[c] : bounds[c + 1]]
        spare = rows[counts[product[rows]] >= 2]
        if len(spare) == 0:
            basket = order * n_cat + category
            spare = np.flatnonzero(
                (role == ROLE_FILLER) & (counts[product] >= 2) & ~np.isin(order * n_cat + c, basket)
            )
            if len(spare) == 0:
                raise ValueError("too few order lines to order every product; raise scale")
        row = spare[int(rng.integers(len(spare)))]
        counts[product[row]] -= 1
        product[row] = p
        category[row] = c
        counts[p] += 1
    logger.debug("moved %d lines onto never-picked products", len(missing))


# --- statuses, products, reviews ------------------------------------------------------------


def _statuses(rng: np.random.Generator, orders: Orders) -> npt.NDArray[np.str_]:
    """Exact status counts; follow-up chains stay completed, pending/processing are recent."""
    n = len(orders)
    protected = np.zeros(n, dtype=np.bool_)
    chained = orders.follows >= 0
    protected[chained] = True
    protected[orders.follows[chained]] = True
    counts = {name: _round_half_up(share * n) for name, share in STATUS_SHARES}
    status = np.full(n, COMPLETED, dtype="<U10")
    free = np.flatnonzero(~protected)
    recent_n = counts["pending"] + counts["processing"]
    by_date = free[np.lexsort((free, orders.date[free]))]
    recent = by_date[len(by_date) - min(len(by_date), 2 * recent_n) :]
    chosen = rng.permutation(recent)[:recent_n]
    status[chosen[: counts["pending"]]] = "pending"
    status[chosen[counts["pending"] :]] = "processing"
    rest = np.setdiff1d(free, chosen)
    late = rng.permutation(rest)[: counts["canceled"] + counts["closed"]]
    status[late[: counts["canceled"]]] = "canceled"
    status[late[counts["canceled"] :]] = "closed"
    return status


def _product_dates(
    rng: np.random.Generator, products: Products, lines: Lines, orders: Orders
) -> IntArray:
    """Listing dates: before each product's first order; new arrivals are the most recent."""
    n = len(products)
    first_order = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_order, lines.product, orders.date[lines.order])
    lead = (rng.uniform(14, 540, n) * DAY).astype(np.int64)
    new_lo, new_hi = (_seconds(s) for s in NEW_ARRIVALS)
    listed = np.clip(first_order - lead, _seconds(FIRST_LISTING), new_lo - DAY)
    fresh = rng.integers(new_lo, new_hi, size=n)
    return np.where(products.new, fresh, np.minimum(listed, first_order - DAY)).astype(np.int64)


@dataclass(frozen=True)
class Reviews:
    customer: IntArray
    product: IntArray
    rating: IntArray
    created: IntArray


def _reviews(
    rng: np.random.Generator,
    size: StoreSize,
    customers: Customers,
    orders: Orders,
    lines: Lines,
    status: npt.NDArray[np.str_],
    products: Products,
) -> Reviews:
    """Reviews of products bought in completed orders, dated after the (first) purchase."""
    end = _seconds(WINDOW_END)
    done = status[lines.order] == COMPLETED
    cust = orders.customer[lines.order[done]]
    prod = lines.product[done]
    when = orders.date[lines.order[done]]
    pair = cust * len(products) + prod
    ordered, first = _first_per_group(pair, when)
    cust, prod, when = cust[ordered[first]], prod[ordered[first]], when[ordered[first]]
    ok = when <= end - 2 * 3600
    cust, prod, when = cust[ok], prod[ok], when[ok]
    if len(cust) < size.reviews:
        raise ValueError(f"only {len(cust)} purchases to review, {size.reviews} reviews wanted")
    # Weighted sampling without replacement (Efraimidis-Spirakis): some customers review a lot.
    propensity = rng.lognormal(0.0, 1.0, len(customers))
    keys = np.log(rng.random(len(cust))) / propensity[cust]
    pick = np.sort(np.argsort(-keys, kind="stable")[: size.reviews])
    cust, prod, when = cust[pick], prod[pick], when[pick]

    index = _category_index()
    favoured = np.zeros((len(cat.PERSONAS) + 1, len(cat.CATEGORIES)), dtype=np.bool_)
    for i, persona in enumerate(cat.PERSONAS):
        favoured[i, [index[name] for name in sorted(persona.favoured)]] = True
    category = products.category[prod]
    fit = (
        favoured[customers.primary[cust], category] | favoured[customers.secondary[cust], category]
    )
    quality = rng.normal(0.0, 0.35, len(products))
    latent = np.where(fit, 4.35, 3.4) + quality[prod] + rng.normal(0.0, 0.85, len(cust))
    rating = np.clip(np.rint(latent), 1, 5).astype(np.int64)
    lo = when + 3600
    hi = np.minimum(when + 45 * DAY, end)
    created = lo + np.floor(rng.random(len(cust)) * (hi - lo)).astype(np.int64)
    return Reviews(cust, prod, rating, created)


# --- writing --------------------------------------------------------------------------------

CHUNK = 50_000


def _write_json_array(path: Path, chunks: Iterable[list[str]]) -> int:
    """Stream JSON objects (already serialised, one per line) into a JSON array file.

    Writes ``path`` atomically (a temporary file renamed at the end); returns the row count.
    """
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("[")
        for rows in chunks:
            if rows:
                fh.write(("\n" if n == 0 else ",\n") + ",\n".join(rows))
                n += len(rows)
        fh.write("\n]\n" if n else "]\n")
    os.replace(tmp, path)
    return n


def _chunked(n: int) -> Iterator[slice]:
    for start in range(0, n, CHUNK):
        yield slice(start, min(n, start + CHUNK))


@dataclass(frozen=True)
class _Store:
    size: StoreSize
    products: Products
    product_ids: IntArray
    product_created: IntArray
    stock: IntArray
    promoted: BoolArray
    cost_cents: IntArray
    customers: Customers
    orders: Orders
    order_ids: IntArray
    status: npt.NDArray[np.str_]
    lines: Lines
    reviews: Reviews


def _product_rows(store: _Store, text: CatalogueText) -> Iterator[list[str]]:
    p = store.products
    order = np.argsort(store.product_ids, kind="stable")
    names = [_json_str(n) for n in text.names]
    descriptions = [_json_str(d) for d in text.descriptions]
    categories = [_json_str(n) for n in cat.CATEGORY_NAMES]
    brands = [_json_str(b) for b in p.brands]
    for part in _chunked(len(order)):
        idx = order[part]
        rows = []
        for pid, item, copy, c, b, price, cost, stock, promoted, created in zip(
            store.product_ids[idx].tolist(),
            p.item[idx].tolist(),
            p.copy[idx].tolist(),
            p.category[idx].tolist(),
            p.brand[idx].tolist(),
            _money(p.price_cents[idx]),
            _money(store.cost_cents[idx]),
            store.stock[idx].tolist(),
            store.promoted[idx].tolist(),
            _iso(store.product_created[idx]),
            strict=True,
        ):
            name, sku, specs = names[item], text.skus[item], text.specs[item]
            description = descriptions[item]
            if copy:
                label = variant_label(copy)
                name = _json_str(f"{text.names[item]} ({label})")
                sku = f"{sku}-V{copy:03d}"
                specs = {**specs, "variant": label}
                description = _json_str(f"{text.descriptions[item]} Variant: {label}.")
            rows.append(
                f'{{"id":{pid},"sku":{_json_str(sku)},"name":{name},"brand":{brands[b]},'
                f'"category":{categories[c]},"price":{price},"description":{description},'
                f'"specs":{orjson.dumps(specs).decode()},"stock":{stock},'
                f'"promoted":{"true" if promoted else "false"},"cost":{cost},'
                f'"created_at":"{created}"}}'
            )
        yield rows


def _customer_rows(store: _Store) -> Iterator[list[str]]:
    c = store.customers
    for part in _chunked(len(c)):
        ids = np.arange(part.start, part.stop) + 1
        rows = []
        for cid, f, la, d, created in zip(
            ids.tolist(),
            c.first[part].tolist(),
            c.last[part].tolist(),
            c.domain[part].tolist(),
            _iso(c.created[part]),
            strict=True,
        ):
            email = f"{cat.FIRST_NAMES[f]}.{cat.LAST_NAMES[la]}{cid}@{cat.EMAIL_DOMAINS[d]}"
            name = _json_str(f"{cat.FIRST_NAMES[f]} {cat.LAST_NAMES[la]}")
            rows.append(
                f'{{"customer_id":{cid},"name":{name},'
                f'"email":{_json_str(email.lower())},"created_at":"{created}"}}'
            )
        yield rows


def _order_rows(store: _Store, totals: IntArray) -> Iterator[list[str]]:
    o = store.orders
    order = np.argsort(store.order_ids, kind="stable")
    for part in _chunked(len(order)):
        idx = order[part]
        rows = [
            f'{{"order_id":{oid},"customer_id":{cid},"status":"{st}",'
            f'"grand_total":{total},"order_date":"{when}"}}'
            for oid, cid, st, total, when in zip(
                store.order_ids[idx].tolist(),
                (o.customer[idx] + 1).tolist(),
                store.status[idx].tolist(),
                _money(totals[idx]),
                _iso(o.date[idx]),
                strict=True,
            )
        ]
        yield rows


def _item_rows(store: _Store) -> Iterator[list[str]]:
    p, ln = store.products, store.lines
    text_names = catalogue_names(store.products)
    categories = [_json_str(n) for n in cat.CATEGORY_NAMES]
    prices = _money(p.price_cents)
    oid = store.order_ids[ln.order]
    pid = store.product_ids[ln.product]
    order = np.lexsort((pid, oid))
    for part in _chunked(len(order)):
        idx = order[part]
        rows = [
            f'{{"order_id":{o},"product_id":{pi},"product_name":{text_names[pr]},'
            f'"qty":{q},"price":{prices[pr]},"category":{categories[c]}}}'
            for o, pi, pr, q, c in zip(
                oid[idx].tolist(),
                pid[idx].tolist(),
                ln.product[idx].tolist(),
                ln.qty[idx].tolist(),
                ln.category[idx].tolist(),
                strict=True,
            )
        ]
        yield rows


def catalogue_names(products: Products) -> list[str]:
    """JSON-encoded display name of every product position (variants carry their label)."""
    base = [item.name for c in cat.CATEGORIES for item in c.items]
    labels = {k: variant_label(k) for k in range(1, int(products.copy.max(initial=0)) + 1)}
    return [
        _json_str(base[i] if k == 0 else f"{base[i]} ({labels[k]})")
        for i, k in zip(products.item.tolist(), products.copy.tolist(), strict=True)
    ]


def _review_rows(store: _Store) -> Iterator[list[str]]:
    r = store.reviews
    order = np.lexsort((r.product, r.customer, r.created))
    for part in _chunked(len(order)):
        idx = order[part]
        ids = np.arange(part.start, part.stop) + 1
        rows = [
            f'{{"review_id":{rid},"product_id":{pid},"customer_id":{cid},'
            f'"rating":{rating},"created_at":"{when}"}}'
            for rid, pid, cid, rating, when in zip(
                ids.tolist(),
                store.product_ids[r.product[idx]].tolist(),
                (r.customer[idx] + 1).tolist(),
                r.rating[idx].tolist(),
                _iso(r.created[idx]),
                strict=True,
            )
        ]
        yield rows


def _ground_truth(store: _Store, seed: int, scale: float, path: Path) -> int:
    """Planted personas and patterns, for tests and evaluation only (models never read it)."""
    p = store.products
    index = _category_index()
    pairs: list[dict[str, int | str]] = []
    if store.size.copies == 1:
        planted = [(b.anchor, [c for c, _ in b.complements]) for b in cat.BUNDLES]
        planted.append((cat.FOLLOW_UP.anchor, [cat.FOLLOW_UP.item]))
        for anchor, consequents in planted:
            for a in np.flatnonzero((p.category == index[anchor]) & ~p.new).tolist():
                for name in consequents:
                    same = (p.category == index[name]) & (p.brand == p.brand[a]) & ~p.new
                    pairs.extend(
                        {
                            "antecedent_id": int(store.product_ids[a]),
                            "consequent_id": int(store.product_ids[b]),
                            "kind": "follow_up" if name == cat.FOLLOW_UP.item else "basket",
                        }
                        for b in np.flatnonzero(same).tolist()
                    )
    cold = np.sort(store.product_ids[p.new]).tolist()
    meta: dict[str, object] = {
        "note": "Planted structure of the generated store; for tests and evaluation only.",
        "seed": seed,
        "scale": scale,
        "window": {"start": WINDOW_START, "end": WINDOW_END},
        "personas": [
            {
                "name": persona.name,
                "share": persona.share,
                "categories": dict(persona.categories),
                "brands": list(persona.brands),
                "bundles": dict(persona.bundles),
                "price_sensitivity": persona.price_sensitivity,
                "favoured_categories": sorted(persona.favoured),
            }
            for persona in cat.PERSONAS
        ],
        "category_patterns": [
            {"antecedent": b.anchor, "consequent": c, "probability": prob, "bundle": b.name}
            for b in cat.BUNDLES
            for c, prob in b.complements
        ],
        "anchor_brand_boost": cat.ANCHOR_BRAND_BOOST,
        "follow_up": {
            "antecedent": cat.FOLLOW_UP.anchor,
            "consequent": cat.FOLLOW_UP.item,
            "share": cat.FOLLOW_UP.share,
            "days": list(cat.FOLLOW_UP.days),
            "off_share": cat.FOLLOW_UP.off_share,
            "rebuy_share": cat.FOLLOW_UP.rebuy_share,
            "rebuy_days": list(cat.FOLLOW_UP.rebuy_days),
            "purchases": cat.FOLLOW_UP.purchases,
        },
        "consumable_categories": sorted(cat.CONSUMABLES),
        "repurchase": {
            "durable_weight": cat.REPURCHASE.durable_weight,
            "consumable_weight": cat.REPURCHASE.consumable_weight,
            "second_anchor_share": cat.REPURCHASE.second_anchor_share,
            "same_product_share": cat.REPURCHASE.same_product_share,
        },
        "product_pairs": pairs,
        "cold_start_product_ids": cold,
    }
    names = cat.PERSONA_NAMES
    c = store.customers
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("{\n")
        for key, value in meta.items():
            fh.write(f'"{key}":{orjson.dumps(value).decode()},\n')
        fh.write('"customers":[')
        for part in _chunked(len(c)):
            rows = []
            for cid, first, second in zip(
                (np.arange(part.start, part.stop) + 1).tolist(),
                c.primary[part].tolist(),
                c.secondary[part].tolist(),
                strict=True,
            ):
                personas = [names[first]] + ([names[second]] if second >= 0 else [])
                rows.append(f'{{"customer_id":{cid},"personas":{orjson.dumps(personas).decode()}}}')
            fh.write(("\n" if part.start == 0 else ",\n") + ",\n".join(rows))
        fh.write("\n]\n}\n")
    os.replace(tmp, path)
    return len(c)


# --- entry point ----------------------------------------------------------------------------


def _assemble(rng: np.random.Generator, size: StoreSize) -> _Store:
    calendar = Calendar.build()
    products = build_products(size.copies)
    customers = _customers(rng, size.customers, calendar)
    orders = _orders(rng, size, customers, calendar)
    lines = _lines(rng, size, orders, products)
    status = _statuses(rng, orders)
    order_ids = np.empty(len(orders), dtype=np.int64)
    order_ids[np.lexsort((np.arange(len(orders)), orders.date))] = np.arange(1, len(orders) + 1)

    created = _product_dates(rng, products, lines, orders)
    product_ids = np.empty(len(products), dtype=np.int64)
    product_ids[np.lexsort((np.arange(len(products)), created))] = np.arange(1, len(products) + 1)
    ratio_lo = np.array([c.cost_ratio[0] for c in cat.CATEGORIES])[products.category]
    ratio_hi = np.array([c.cost_ratio[1] for c in cat.CATEGORIES])[products.category]
    ratio = ratio_lo + rng.random(len(products)) * (ratio_hi - ratio_lo)
    cost = np.rint(products.price_cents * ratio).astype(np.int64)
    stock = np.clip(np.rint(rng.lognormal(3.2, 0.9, len(products))), 1, 500).astype(np.int64)
    stock[(rng.random(len(products)) < OUT_OF_STOCK_SHARE) & ~products.new] = 0
    promoted = np.zeros(len(products), dtype=np.bool_)
    new_idx = np.flatnonzero(products.new)
    old_idx = np.flatnonzero(~products.new & (stock > 0))
    n_new = min(len(new_idx), 2 * size.copies)
    promoted[rng.choice(new_idx, size=n_new, replace=False)] = True
    n_old = PROMOTED_PER_COPY * size.copies - n_new
    promoted[rng.choice(old_idx, size=n_old, replace=False)] = True

    reviews = _reviews(rng, size, customers, orders, lines, status, products)
    return _Store(
        size=size,
        products=products,
        product_ids=product_ids,
        product_created=created,
        stock=stock,
        promoted=promoted,
        cost_cents=cost,
        customers=customers,
        orders=orders,
        order_ids=order_ids,
        status=status,
        lines=lines,
        reviews=reviews,
    )


def generate_store(out_dir: Path, seed: int = 42, scale: float = 1.0) -> GenerationSummary:
    """Write the demo store (five export files plus ``ground_truth.json``) into ``out_dir``.

    Raises ValueError for a scale too small to honour the store's invariants.
    """
    started = time.perf_counter()
    size = StoreSize.from_scale(scale)
    rng = np.random.default_rng(seed)
    store = _assemble(rng, size)
    logger.info("generated %d orders and %d lines; writing %s", size.orders, size.lines, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = catalogue_text()
    cents = store.lines.qty * store.products.price_cents[store.lines.product]
    totals = np.bincount(store.lines.order, weights=cents, minlength=len(store.orders))
    totals = np.rint(totals).astype(np.int64)
    counts = {
        "products": _write_json_array(out_dir / "products.json", _product_rows(store, text)),
        "customers": _write_json_array(out_dir / "customers.json", _customer_rows(store)),
        "orders": _write_json_array(out_dir / "orders.json", _order_rows(store, totals)),
        "order_items": _write_json_array(out_dir / "order_items.json", _item_rows(store)),
        "reviews": _write_json_array(out_dir / "reviews.json", _review_rows(store)),
        "ground_truth": _ground_truth(store, seed, scale, out_dir / "ground_truth.json"),
    }
    seconds = time.perf_counter() - started
    logger.info("wrote the demo store to %s in %.1f s", out_dir, seconds)
    return GenerationSummary(out_dir, seed, scale, size, counts, seconds)
