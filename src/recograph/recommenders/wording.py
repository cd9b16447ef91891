"""What the reasons say that depends on the snapshot alone, worded once at load.

A category rule's sentence ("Laptop buyers often add Wireless Mice (category lift 3.1)"), its
antecedent categories and lift, a product rule's sentence ("Bought together with Sony Ear Pads
(lift 2.4)"), the category names and their "Popular in …" and "Trending in …" are the same for
every request of a snapshot; the engine's reasons (`engine.explain`) read them here instead of
decoding the rule and wording it for every shown item.
"""

from __future__ import annotations

from dataclasses import dataclass

from recograph.catalogue import Catalogue
from recograph.recommenders.rules import RuleSet

CATEGORY_LIFT = "category lift"


def buyers(category: str) -> str:
    """ "Laptops" → "Laptop" as in "Laptop buyers"; names with "&" stay as they are."""
    if "&" in category:
        return category
    head, _, last = category.rpartition(" ")
    if last.endswith("Mice"):
        last = last[: -len("Mice")] + "Mouse"
    elif last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith(("ches", "shes", "sses", "xes")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return f"{head} {last}" if head else last


@dataclass(frozen=True, slots=True)
class CategoryRuleWording:
    """One category rule as its reason says it."""

    antecedent: tuple[int, ...]  # the rule's antecedent categories, ascending
    categories: frozenset[int]  # the same, to test a product's category against
    lift: float
    text: str  # "Laptop buyers often add Wireless Mice (category lift 3.1)"


def joined(names: list[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True, slots=True)
class ProductRuleWording:
    """One product rule's antecedent as a reason names it."""

    antecedent: tuple[int, ...]  # the rule's antecedent products, ascending
    names: str  # "Sony Ear Pads and Bose Case" ("" for a rule without antecedent)
    lift: float
    text: str  # "Bought together with Sony Ear Pads and Bose Case (lift 2.4)"


@dataclass(frozen=True, slots=True)
class ReasonWording:
    """The snapshot's reason texts that no request changes (`ModelSnapshot.wording`)."""

    category_names: tuple[str, ...]
    category_rules: tuple[CategoryRuleWording, ...]  # by category rule
    product_rules: tuple[ProductRuleWording, ...]  # by product rule
    popular: tuple[str, ...]  # by category: "Popular in Laptops"
    trending: tuple[str, ...]  # by category: "Trending in Laptops"

    @classmethod
    def of(
        cls, catalogue: Catalogue, product_rules: RuleSet, category_rules: RuleSet
    ) -> ReasonWording:
        names = tuple(str(name) for name in catalogue.category_names.tolist())
        said = tuple(buyers(name) for name in names)
        antecedent_indptr = category_rules.antecedent_indptr.tolist()
        antecedent_indices = category_rules.antecedent_indices.tolist()
        consequent_indptr = category_rules.consequent_indptr.tolist()
        consequent_indices = category_rules.consequent_indices.tolist()
        worded = []
        for rule, lift in enumerate(category_rules.lift.tolist()):
            antecedent = tuple(
                antecedent_indices[antecedent_indptr[rule] : antecedent_indptr[rule + 1]]
            )
            consequent = consequent_indices[consequent_indptr[rule] : consequent_indptr[rule + 1]]
            added = " and ".join(names[c] for c in consequent)
            who = " + ".join(said[c] for c in antecedent)
            text = f"{who} buyers often add {added} ({CATEGORY_LIFT} {lift:.1f})"
            worded.append(CategoryRuleWording(antecedent, frozenset(antecedent), lift, text))
        return cls(
            names,
            tuple(worded),
            _product_rules(catalogue, product_rules),
            tuple(f"Popular in {name}" for name in names),
            tuple(f"Trending in {name}" for name in names),
        )


def _product_rules(catalogue: Catalogue, rules: RuleSet) -> tuple[ProductRuleWording, ...]:
    indptr = rules.antecedent_indptr.tolist()
    indices = rules.antecedent_indices.tolist()
    worded = []
    for rule, lift in enumerate(rules.lift.tolist()):
        antecedent = tuple(indices[indptr[rule] : indptr[rule + 1]])
        names = [str(name) for name in catalogue.name[list(antecedent)].tolist()]
        said = joined(names) if names else ""
        text = f"Bought together with {said} (lift {lift:.1f})"
        worded.append(ProductRuleWording(antecedent, said, lift, text))
    return tuple(worded)
