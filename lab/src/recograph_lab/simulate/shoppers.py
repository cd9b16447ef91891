"""Shoppers with the demo store's latent personas, and how much each likes a product.

The demo generator plants personas (category weights, favoured brands, price sensitivity) and
writes which customer has which in ``ground_truth.json``. A shopper's *affinity* for a product
is in ``[0, 1]``: the category's weight relative to the persona's favourite category (a
secondary persona counts `SECONDARY_WEIGHT` as much), `FAVOURED_AFFINITY` for categories the
persona buys through bundles without listing them, `BASE_AFFINITY` for everything else, times
`BRAND_BOOST` for the persona's brands (capped at 1). As in the generated store, durable goods
are bought once: a category the shopper already owns (from the store's completed orders,
then from their simulated purchases) counts `OWNED_DURABLE_FACTOR` as much unless it is a
consumable. Recommendations that match the latent taste are clicked and bought
more often: that is what an online test should detect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from recograph.io.reader import StoreFormatError, iter_rows, locate

GROUND_TRUTH = "ground_truth.json"
SECONDARY_WEIGHT = 0.6
FAVOURED_AFFINITY = 0.35
BASE_AFFINITY = 0.03
BRAND_BOOST = 1.25
OWNED_DURABLE_FACTOR = 0.05


class GroundTruthError(ValueError):
    """``ground_truth.json`` is missing or not the demo generator's."""


@dataclass(frozen=True)
class Product:
    id: int
    category: str
    brand: str
    price: float


@dataclass(frozen=True)
class Persona:
    name: str
    share: float
    affinity: Mapping[str, float]  # category -> [0, 1]
    brands: frozenset[str]
    price_sensitivity: float


@dataclass(frozen=True)
class Shopper:
    """A customer (or an anonymous visitor, ``customer_id=None``) and their latent taste."""

    customer_id: int | None
    personas: tuple[Persona, ...]
    affinity: Mapping[str, float] = field(default_factory=dict)
    owned: frozenset[str] = frozenset()  # durable categories bought already

    @property
    def price_sensitivity(self) -> float:
        return self.personas[0].price_sensitivity if self.personas else 0.0

    def likes(self, product: Product) -> float:
        """Affinity in [0, 1] for a product: category, then favoured brand."""
        base = self.affinity.get(product.category, BASE_AFFINITY)
        if any(product.brand in p.brands for p in self.personas):
            base *= BRAND_BOOST
        if product.category in self.owned:
            base *= OWNED_DURABLE_FACTOR
        return min(1.0, base)

    def category_weights(self, categories: Sequence[str]) -> list[float]:
        """Weights to pick a category to browse: squared affinity (taste dominates)."""
        return [self.affinity.get(c, BASE_AFFINITY) ** 2 for c in categories]


def persona_from(raw: Mapping[str, object]) -> Persona:
    categories = raw.get("categories")
    favoured = raw.get("favoured_categories", [])
    if not isinstance(categories, Mapping) or not categories:
        raise GroundTruthError(f"persona {raw.get('name')!r} has no categories")
    top = max(float(v) for v in categories.values())
    affinity = {str(c): float(w) / top for c, w in categories.items()}
    for category in favoured if isinstance(favoured, list) else []:
        affinity.setdefault(str(category), FAVOURED_AFFINITY)
    brands = raw.get("brands", [])
    share = raw.get("share", 0.0)
    sensitivity = raw.get("price_sensitivity", 0.0)
    return Persona(
        name=str(raw.get("name")),
        share=float(share) if isinstance(share, int | float) else 0.0,
        affinity=MappingProxyType(affinity),
        brands=frozenset(str(b) for b in brands) if isinstance(brands, list) else frozenset(),
        price_sensitivity=float(sensitivity) if isinstance(sensitivity, int | float) else 0.0,
    )


def shopper_of(customer_id: int | None, personas: Sequence[Persona]) -> Shopper:
    """A shopper whose affinity is the best of their personas (secondaries count less)."""
    affinity: dict[str, float] = {}
    for rank, persona in enumerate(personas):
        weight = 1.0 if rank == 0 else SECONDARY_WEIGHT
        for category, value in persona.affinity.items():
            affinity[category] = max(affinity.get(category, 0.0), weight * value)
    return Shopper(customer_id, tuple(personas), MappingProxyType(affinity))


@dataclass(frozen=True)
class Population:
    """The store's shoppers (one per customer), its personas (for anonymous visitors) and
    the categories bought again and again (not durable)."""

    shoppers: tuple[Shopper, ...]
    personas: tuple[Persona, ...]
    consumables: frozenset[str] = frozenset()


def owned_categories(data_dir: Path) -> dict[int, set[str]]:
    """Per customer, the categories of their completed orders (the export's files)."""
    completed: dict[int, int] = {}
    for _, row in iter_rows(locate(data_dir, "orders")):
        if isinstance(row, Mapping) and row.get("status") == "completed":
            completed[int(row["order_id"])] = int(row["customer_id"])
    owned: dict[int, set[str]] = {}
    for _, row in iter_rows(locate(data_dir, "order_items")):
        if isinstance(row, Mapping) and int(row.get("order_id", -1)) in completed:
            owned.setdefault(completed[int(row["order_id"])], set()).add(str(row["category"]))
    return owned


def load_population(data_dir: Path) -> Population:
    """Shoppers from the demo store's ``ground_truth.json`` and completed orders."""
    path = data_dir / GROUND_TRUTH
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GroundTruthError(
            f"{path} not found: simulate needs a demo store made by 'recograph demo-data'"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise GroundTruthError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(raw, Mapping) or "personas" not in raw or "customers" not in raw:
        raise GroundTruthError(f"{path} has no personas and customers")
    personas = {p.name: p for p in (persona_from(item) for item in raw["personas"])}
    consumables = frozenset(str(c) for c in raw.get("consumable_categories", []))
    try:
        owned = owned_categories(data_dir)
    except StoreFormatError as exc:
        raise GroundTruthError(str(exc)) from None
    shoppers = []
    for row in raw["customers"]:
        names = [n for n in row.get("personas", []) if n in personas]
        if names:
            customer = int(row["customer_id"])
            shopper = shopper_of(customer, [personas[n] for n in names])
            durable = frozenset(owned.get(customer, set()) - consumables)
            shoppers.append(replace(shopper, owned=durable))
    if not shoppers:
        raise GroundTruthError(f"{path} lists no customer with a known persona")
    return Population(tuple(shoppers), tuple(personas.values()), consumables)
