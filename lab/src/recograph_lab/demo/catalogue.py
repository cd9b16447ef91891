"""What the TechHeaven demo store sells and who buys it: categories, products, personas, patterns.

Everything here is fixed data (no randomness), read from the package's ``data/`` files: the
generator turns it into a store. ``categories.json`` holds 291 products in 40 categories; 20
of them (``"new": true``) are the newest arrivals that nobody has ordered yet.
``personas.json`` says which categories and brands a kind of customer favours;
``patterns.toml`` holds the bundles (the planted complement patterns: an anchor product pulls
complements into the same order), the follow-up (the planted later purchase: ear cushions a
few months after over-ear headphones), the consumables (the categories customers buy again;
everything else is a durable, bought once: ``CONSUMABLES``, ``REPURCHASE``) and the order-mix
parameters; ``names.json`` the customer names and the labels of scaled-up catalogue copies.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from types import MappingProxyType
from typing import Any

SpecValue = str | int | float | bool


def _data(name: str) -> Any:
    """One of the package's data files, parsed (JSON, or TOML for the commented parameters)."""
    text = (files(__package__) / "data" / name).read_text(encoding="utf-8")
    return tomllib.loads(text) if name.endswith(".toml") else json.loads(text)


@dataclass(frozen=True)
class Item:
    """One catalogue product; ``name`` is ``f"{brand} {model}"``."""

    brand: str
    model: str
    price: float
    new: bool = False
    specs: tuple[tuple[str, SpecValue], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.brand} {self.model}"


@dataclass(frozen=True)
class Spec:
    """A spec attribute; ordered values run from entry-level to high-end and follow price."""

    attr: str
    values: tuple[SpecValue, ...]
    ordered: bool = True


@dataclass(frozen=True)
class Category:
    """A category: its products (most popular first), spec schema and description vocabulary."""

    name: str
    code: str
    noun: str
    items: tuple[Item, ...]
    specs: tuple[Spec, ...]
    features: tuple[str, ...]
    cost_ratio: tuple[float, float] = (0.6, 0.8)
    qty_weights: tuple[float, ...] = (1.0,)
    brand_specs: Mapping[str, Mapping[str, SpecValue]] = field(
        default_factory=lambda: MappingProxyType({})
    )


def _frozen(mapping: dict[str, dict[str, SpecValue]]) -> Mapping[str, Mapping[str, SpecValue]]:
    return MappingProxyType({k: MappingProxyType(v) for k, v in mapping.items()})


def _category(raw: dict[str, Any]) -> Category:
    """A category of ``categories.json``; specs and brand specs keep the file's order."""
    return Category(
        raw["name"],
        raw["code"],
        raw["noun"],
        tuple(
            Item(i["brand"], i["model"], i["price"], i.get("new", False), tuple(i["specs"].items()))
            for i in raw["items"]
        ),
        tuple(Spec(s["attr"], tuple(s["values"]), s.get("ordered", True)) for s in raw["specs"]),
        tuple(raw["features"]),
        cost_ratio=(raw["cost_ratio"][0], raw["cost_ratio"][1]),
        qty_weights=tuple(raw.get("qty_weights", (1.0,))),
        brand_specs=_frozen(raw.get("brand_specs", {})),
    )


CATEGORIES: tuple[Category, ...] = tuple(_category(raw) for raw in _data("categories.json"))

CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)

_PATTERNS: dict[str, Any] = _data("patterns.toml")


@dataclass(frozen=True)
class Bundle:
    """A planted complement pattern: an order built around ``anchor`` pulls in complements.

    ``complements`` maps a category to the probability that an anchor order also contains
    it. Complements of the same brand as the anchor product are ``ANCHOR_BRAND_BOOST`` times
    as likely to be picked, which plants product-level rules (a Lenovo laptop with a Lenovo
    mouse); so are follow-up items of the anchor's brand.
    """

    name: str
    anchor: str
    complements: tuple[tuple[str, float], ...]


ANCHOR_BRAND_BOOST: float = _PATTERNS["anchor_brand_boost"]


BUNDLES: tuple[Bundle, ...] = tuple(
    Bundle(b["name"], b["anchor"], tuple((c, p) for c, p in b["complements"]))
    for b in _PATTERNS["bundles"]
)


@dataclass(frozen=True)
class FollowUp:
    """A planted later purchase: ``item`` some months after an order containing ``anchor``.

    ``share`` of eligible customers come back after ``days`` (uniform); ``off_share`` of
    those come back at ``off_days`` instead (noise). After each purchase of ``item``,
    ``rebuy_share`` of them buy it again ``rebuy_days`` later (worn pads are replaced), up to
    ``purchases`` purchases in all.
    """

    anchor: str
    item: str
    share: float
    days: tuple[int, int]
    off_share: float
    off_days: tuple[int, int]
    rebuy_share: float
    rebuy_days: tuple[int, int]
    purchases: int


def _follow_up(raw: dict[str, Any]) -> FollowUp:
    """patterns.toml's ``[follow_up]``; day ranges are (low, high) pairs."""
    days = {key: (value[0], value[1]) for key, value in raw.items() if key.endswith("days")}
    return FollowUp(**{**raw, **days})


FOLLOW_UP = _follow_up(_PATTERNS["follow_up"])

# The categories customers buy again: the follow-up item and patterns.toml's consumables.
CONSUMABLES: frozenset[str] = frozenset({FOLLOW_UP.item, *_PATTERNS["consumables"]})


@dataclass(frozen=True)
class Repurchase:
    """How customers treat a category they already bought.

    An owned durable keeps ``durable_weight`` of its weight in later ordinary orders (an
    upgrade or a gift now and then); an owned consumable gets ``consumable_weight`` times its
    weight (it wears out). A customer who draws a second order around the same bundle anchor
    keeps it with probability ``second_anchor_share`` (a second laptop), never a third; its
    complements the customer already owns are left out. A consumable bought again is the
    same product as last time with probability ``same_product_share``.
    """

    durable_weight: float
    consumable_weight: float
    second_anchor_share: float
    same_product_share: float


REPURCHASE = Repurchase(**_PATTERNS["repurchase"])

# Categories that only enter an order as a bundle anchor or a follow-up, never as filler.
ANCHOR_ONLY: frozenset[str] = frozenset({b.anchor for b in BUNDLES} | {FOLLOW_UP.item})


@dataclass(frozen=True)
class Persona:
    """A latent kind of customer.

    ``categories`` weighs the categories of ordinary orders, ``brands`` are boosted in every
    category, ``bundles`` gives the probability that an order is drawn as one built around
    that bundle's anchor (a customer keeps the first such order, rarely a second: see
    ``REPURCHASE``), and ``price_sensitivity`` (0 = none) tilts choices towards cheaper
    products.
    """

    name: str
    share: float
    categories: Mapping[str, float]
    brands: tuple[str, ...]
    bundles: Mapping[str, float]
    price_sensitivity: float = 0.0

    @property
    def favoured(self) -> frozenset[str]:
        """Categories this persona likes: its own, plus those of the bundles it often buys."""
        liked = set(self.categories)
        for bundle in BUNDLES:
            if self.bundles.get(bundle.name, 0.0) >= 0.15:
                liked.add(bundle.anchor)
                liked.update(c for c, _ in bundle.complements)
                if bundle.anchor == FOLLOW_UP.anchor:
                    liked.add(FOLLOW_UP.item)
        return frozenset(liked)


def _persona(raw: dict[str, Any]) -> Persona:
    return Persona(
        raw["name"],
        raw["share"],
        MappingProxyType(raw["categories"]),
        tuple(raw["brands"]),
        MappingProxyType(raw["bundles"]),
        raw.get("price_sensitivity", 0.0),
    )


PERSONAS: tuple[Persona, ...] = tuple(_persona(raw) for raw in _data("personas.json"))

PERSONA_NAMES: tuple[str, ...] = tuple(p.name for p in PERSONAS)

# Share of an ordinary order's source persona that browses the whole shop instead.
RANDOM_ORDER_SHARE: float = _PATTERNS["random_order_share"]
# Weight, in a persona's ordinary orders, of a category the persona does not list: where a
# customer who already owns the favourites goes next.
OTHER_CATEGORY_WEIGHT: float = _PATTERNS["other_category_weight"]
# Categories nearly every customer needs sooner or later, whatever the persona: their weight
# in the ordinary orders of personas that do not list them (not a favoured category).
EVERYDAY: Mapping[str, float] = MappingProxyType(_PATTERNS["everyday"])


def category_patterns() -> tuple[tuple[str, str], ...]:
    """(antecedent, consequent) category pairs planted at the order level, bundle by bundle."""
    return tuple((b.anchor, c) for b in BUNDLES for c, _ in b.complements)


_NAMES: dict[str, list[str]] = _data("names.json")

FIRST_NAMES: tuple[str, ...] = tuple(_NAMES["first_names"])

LAST_NAMES: tuple[str, ...] = tuple(_NAMES["last_names"])

EMAIL_DOMAINS: tuple[str, ...] = tuple(_NAMES["email_domains"])

# Labels for the extra catalogue copies made when scale > 1 (copy 1, 2, ... of every product).
VARIANT_COLOURS: tuple[str, ...] = tuple(_NAMES["variant_colours"])
VARIANT_EDITIONS: tuple[str, ...] = tuple(_NAMES["variant_editions"])
