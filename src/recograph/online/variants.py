"""A/B variants: named arms with traffic shares, and the stable assignment of visitors to them.

A visitor is keyed by customer id, or by anonymous session id when there is no customer. The
key and the experiment's salt are hashed (SHA-256) into one of `BUCKETS` buckets; the bucket
never depends on the shares. Variants own contiguous bucket ranges laid out in configuration
order, each as wide as its share, so:

- the same visitor always lands in the same variant while the configuration is unchanged;
- moving share between two neighbouring variants (or appending a variant that takes share
  from the last one, or from unassigned traffic) moves only the buckets that change hands;
  unrelated visitors keep their variant. (No stateless scheme can do that for every possible
  change of three or more shares at once; change neighbours one pair at a time to keep the
  guarantee.)
- a new salt reshuffles everyone: use one per experiment.

Shares may sum to less than one: visitors in the remaining buckets, anonymous visitors without
a session id and requests that ask for a strategy or weights explicitly are served as asked,
with no variant.

Configuration, from ``RECOGRAPH_VARIANTS`` (JSON text, or the path of a ``.json`` / ``.toml``
file)::

    {"salt": "exp-2026-12", "variants": [
        {"name": "control", "share": 0.5, "strategy": "POPULAR"},
        {"name": "hybrid", "share": 0.5}]}

A bare JSON list of variants uses the salt ``"recograph"``. Each variant may set ``strategy``
(an engine strategy), ``weights`` (``cf``, ``content``, ``rules``, ``popularity``), and the
business rules ``promoted_slots`` (1-based ranks), ``margin_weight`` and ``category_cap``
(0 for none); ``description`` is free text.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from recograph.core.vocabulary import SignalName, Strategy, Weights
from recograph.engine import BusinessRules, Request
from recograph.settings import Environment, SettingsError

BUCKETS = 10_000
DEFAULT_SALT = "recograph"
ENV_VARIABLE = "RECOGRAPH_VARIANTS"
MAX_NAME = 64  # impressions.variant is VARCHAR(64)
_SHARE_TOLERANCE = 1e-9
_KEYS = frozenset(
    {
        "name",
        "share",
        "strategy",
        "weights",
        "promoted_slots",
        "margin_weight",
        "category_cap",
        "description",
    }
)


@dataclass(frozen=True)
class Variant:
    """One arm: what it changes in a request, and its traffic share. ``None`` keeps the
    request's (or the server's) own setting; ``category_cap=0`` removes the cap."""

    name: str
    share: float
    strategy: Strategy | None = None
    weights: Weights | None = None
    promoted_slots: tuple[int, ...] | None = None
    margin_weight: float | None = None
    category_cap: int | None = None
    description: str = ""

    def apply(self, request: Request, rules: BusinessRules) -> tuple[Request, BusinessRules]:
        """The request and business rules this variant serves instead."""
        request = replace(
            request,
            strategy=self.strategy or request.strategy,
            weights=self.weights if self.weights is not None else request.weights,
        )
        if self.promoted_slots is not None:
            rules = replace(rules, promoted_positions=self.promoted_slots)
        if self.margin_weight is not None:
            rules = replace(rules, margin_weight=self.margin_weight)
        if self.category_cap is not None:
            rules = replace(rules, max_per_category=self.category_cap or None)
        return request, rules


@dataclass(frozen=True)
class Experiment:
    """The configured variants (none: no experiment) and the salt of their assignment."""

    variants: tuple[Variant, ...] = ()
    salt: str = DEFAULT_SALT

    def __post_init__(self) -> None:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise SettingsError(f"variant names must be unique, got {names}")
        total = sum(v.share for v in self.variants)
        if total > 1 + _SHARE_TOLERANCE:
            raise SettingsError(f"variant shares add up to {total:g}, more than 1")

    @cached_property
    def bounds(self) -> tuple[int, ...]:
        """Exclusive upper bucket of each variant's range (ranges are contiguous from 0);
        computed once, since every assignment reads it."""
        upper: list[int] = []
        cumulative = 0.0
        for variant in self.variants:
            cumulative += variant.share
            upper.append(min(BUCKETS, round(cumulative * BUCKETS)))
        return tuple(upper)

    def variant_of_bucket(self, bucket: int) -> Variant | None:
        for variant, upper in zip(self.variants, self.bounds, strict=True):
            if bucket < upper:
                return variant
        return None

    def assign(self, customer_id: int | None, session_id: str | None) -> Variant | None:
        """The visitor's variant: by customer id, else by session id; None outside the
        experiment (no variants, unassigned buckets, or no id at all)."""
        key = visitor_key(customer_id, session_id)
        if key is None or not self.variants:
            return None
        return self.variant_of_bucket(bucket_of(key, self.salt))

    def for_request(
        self,
        customer_id: int | None,
        session_id: str | None,
        *,
        strategy: Strategy,
        weights_given: bool,
    ) -> Variant | None:
        """The variant serving a ``recommendations`` request; a request that chose its own
        strategy or weights is served as asked (outside the experiment)."""
        if strategy is not Strategy.HYBRID or weights_given:
            return None
        return self.assign(customer_id, session_id)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Experiment:
        """``RECOGRAPH_VARIANTS`` (JSON text or a file path); no experiment when unset."""
        return cls.from_environment(Environment.of(environ))

    @classmethod
    def from_environment(cls, env: Environment) -> Experiment:
        """This section of the one configuration (`online.configuration.Configuration`)."""
        raw = (env.raw(ENV_VARIABLE) or "").strip()
        if not raw:
            return cls()
        if raw[0] in "[{":
            return parse_experiment(_json(raw, ENV_VARIABLE), ENV_VARIABLE)
        return load_experiment(Path(raw))


def visitor_key(customer_id: int | None, session_id: str | None) -> str | None:
    """The assignment key: the customer when known, else the anonymous session."""
    if customer_id is not None:
        return f"customer:{customer_id}"
    if session_id:
        return f"session:{session_id}"
    return None


def bucket_of(key: str, salt: str = DEFAULT_SALT) -> int:
    """The key's bucket in ``[0, BUCKETS)``: SHA-256 of salt and key, independent of shares."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def load_experiment(path: Path) -> Experiment:
    """Read a ``.json`` or ``.toml`` variants file."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{ENV_VARIABLE}: cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".toml":
        try:
            return parse_experiment(tomllib.loads(text), source)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{source}: not valid TOML: {exc}") from None
    return parse_experiment(_json(text, source), source)


def _json(text: str, source: str) -> object:
    try:
        data: object = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{source}: not valid JSON: {exc}") from None
    return data


def parse_experiment(data: object, source: str = ENV_VARIABLE) -> Experiment:
    """Validate a decoded configuration (a list of variants, or ``{salt, variants}``);
    errors name the source and the offending field."""
    salt: object = DEFAULT_SALT
    items: object = data
    if isinstance(data, Mapping):
        unknown = set(data) - {"salt", "variants"}
        if unknown:
            raise SettingsError(f"{source}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        salt = data.get("salt", DEFAULT_SALT)
        items = data.get("variants", [])
    if not isinstance(salt, str) or not salt:
        raise SettingsError(f"{source}: salt must be a non-empty string")
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise SettingsError(f"{source}: variants must be a list")
    variants = tuple(_variant(item, f"{source}: variants[{i}]") for i, item in enumerate(items))
    try:
        return Experiment(variants, salt)
    except SettingsError as exc:
        raise SettingsError(f"{source}: {exc}") from None


def _variant(item: object, where: str) -> Variant:
    if not isinstance(item, Mapping):
        raise SettingsError(f"{where} must be an object")
    unknown = set(item) - _KEYS
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise SettingsError(f"{where}.name must be a non-empty string of at most {MAX_NAME}")
    where = f"{where} ({name})"
    share = _number(item.get("share"), f"{where}.share")
    if not 0 < share <= 1:
        raise SettingsError(f"{where}.share must be in (0, 1], got {share:g}")
    description = item.get("description", "")
    if not isinstance(description, str):
        raise SettingsError(f"{where}.description must be a string")
    return Variant(
        name=name,
        share=share,
        strategy=_strategy(item.get("strategy"), f"{where}.strategy"),
        weights=_weights(item.get("weights"), f"{where}.weights"),
        promoted_slots=_slots(item.get("promoted_slots"), f"{where}.promoted_slots"),
        margin_weight=_optional_number(item.get("margin_weight"), f"{where}.margin_weight"),
        category_cap=_cap(item.get("category_cap"), f"{where}.category_cap"),
        description=description,
    )


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SettingsError(f"{where} must be a number, got {value!r}")
    return float(value)


def _optional_number(value: object, where: str) -> float | None:
    if value is None:
        return None
    number = _number(value, where)
    if number < 0:
        raise SettingsError(f"{where} must not be negative, got {number:g}")
    return number


def _strategy(value: object, where: str) -> Strategy | None:
    if value is None:
        return None
    names = {s.value for s in Strategy}
    if not isinstance(value, str) or value.upper() not in names:
        raise SettingsError(f"{where} must be one of {', '.join(sorted(names))}, got {value!r}")
    return Strategy(value.upper())


def _weights(value: object, where: str) -> Weights | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where} must be an object of signal weights")
    signals = {s.value for s in SignalName}
    unknown = set(value) - signals
    if unknown:
        raise SettingsError(
            f"{where}: unknown signal(s) {', '.join(sorted(map(str, unknown)))}; "
            f"expected {', '.join(sorted(signals))}"
        )
    numbers: dict[str, Any] = {}
    for key, raw in value.items():
        number = _number(raw, f"{where}.{key}")
        if number < 0:
            raise SettingsError(f"{where}.{key} must not be negative, got {number:g}")
        numbers[str(key)] = number
    weights = Weights.from_dict(numbers)
    if weights.total() <= 0:
        raise SettingsError(f"{where}: at least one weight must be positive")
    return weights


def _slots(value: object, where: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise SettingsError(f"{where} must be a list of 1-based ranks")
    slots: set[int] = set()
    for raw in value:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            raise SettingsError(f"{where} must hold ranks from 1 up, got {raw!r}")
        slots.add(raw)
    return tuple(sorted(slots))


def _cap(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SettingsError(f"{where} must be a whole number ≥ 0 (0: no cap), got {value!r}")
    return value
