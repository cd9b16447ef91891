"""The words every layer shares: signals, pages, segments, weights, strategies, reasons and
filter rules. The bottom layer of the package: it imports nothing of recograph, so a model, the
snapshot, the engine, the build and the API all name these the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

COMPLETED = "completed"  # the order status whose lines are purchases (export, histories, build)


class SignalName(StrEnum):
    """The four blended signals (CF is itself a choice or mix of CF models)."""

    CF = "cf"
    CONTENT = "content"
    RULES = "rules"
    POPULARITY = "popularity"


class PageType(StrEnum):
    HOME = "HOME"
    PRODUCT = "PRODUCT"
    CATEGORY = "CATEGORY"
    CART = "CART"
    CHECKOUT = "CHECKOUT"
    ACCOUNT = "ACCOUNT"


class Segment(StrEnum):
    """History strength (new, light, regular) by the build's `SegmentThresholds`; in words:
    `engine.segment_definitions`."""

    NEW = "new"
    LIGHT = "light"
    REGULAR = "regular"


@dataclass(frozen=True)
class Weights:
    """Blend weights per signal; they need not sum to one (the blend divides by the sum)."""

    cf: float = 0.0
    content: float = 0.0
    rules: float = 0.0
    popularity: float = 0.0

    def get(self, signal: SignalName) -> float:
        value: float = getattr(self, signal)  # a StrEnum member is its field's name
        return value

    def as_dict(self) -> dict[str, float]:
        return {signal.value: self.get(signal) for signal in SignalName}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Weights:
        return cls(**{s.value: float(raw.get(s.value, 0.0)) for s in SignalName})

    def total(self) -> float:
        """The sum of the positive weights (in `SignalName` order, as a sum over it adds)."""
        total = 0.0
        for value in (self.cf, self.content, self.rules, self.popularity):
            total += max(0.0, value)
        return total


class Strategy(StrEnum):
    HYBRID = "HYBRID"
    COLLABORATIVE = "COLLABORATIVE"
    CONTENT = "CONTENT"
    RULES = "RULES"
    POPULAR = "POPULAR"


class ReasonKind(StrEnum):
    BOUGHT_TOGETHER = "BOUGHT_TOGETHER"
    SIMILAR_TO = "SIMILAR_TO"
    CUSTOMERS_LIKE_YOU = "CUSTOMERS_LIKE_YOU"
    POPULAR = "POPULAR"
    TRENDING = "TRENDING"
    PROMOTED = "PROMOTED"
    BUY_AGAIN = "BUY_AGAIN"


class FilterRule(StrEnum):
    """Why a candidate was removed after blending."""

    OUT_OF_STOCK = "OUT_OF_STOCK"
    PURCHASED = "PURCHASED"
    IN_CART = "IN_CART"
    CURRENT_PRODUCT = "CURRENT_PRODUCT"
    CATEGORY_FILTER = "CATEGORY_FILTER"
    CATEGORY_CAP = "CATEGORY_CAP"
    EXCLUDED = "EXCLUDED"  # named in the request's exclude list, or shown on an earlier page
    BELOW_CUTOFF = "BELOW_CUTOFF"  # allowed, but scored below the last shown item
