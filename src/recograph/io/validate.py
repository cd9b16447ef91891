"""Row rules for the five export files (docs/data-format.md): types, ranges, keys, references.

Pure and I/O-free: `TableValidator.check` takes one decoded record and returns the row's values
(in the order of ``recograph.dataset.COLUMNS``) or a `Reject`. A validator remembers the keys it
accepted and rejected so that later files can check their references against it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from recograph.core.errors import RecographError
from recograph.io.rejects import Reject

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# datetime64[ns] (the frames' dtype) only spans 1677-09-21 .. 2262-04-11.
MIN_YEAR = 1678
MAX_YEAR = 2261
ORDER_STATUSES = frozenset({"completed", "pending", "processing", "canceled", "closed"})


class Kind(Enum):
    INT = "an integer"
    NUMBER = "a number"
    STR = "a string"
    BOOL = "a boolean"
    SPECS = "an object"
    DATETIME = "an ISO-8601 date-time string"


@dataclass(frozen=True)
class Field:
    """One required field of a file and the range its value must lie in."""

    name: str
    kind: Kind
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: frozenset[str] | None = None


@dataclass(frozen=True)
class Reference:
    """``field`` must hold a key accepted from ``table`` (a file read earlier)."""

    field: str
    table: str
    noun: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    fields: tuple[Field, ...]  # in the order of the frame's columns
    key: tuple[str, ...]
    references: tuple[Reference, ...] = ()


def _iso(name: str) -> Field:
    return Field(name, Kind.DATETIME)


_NON_NEGATIVE = 0.0

SPECS: dict[str, TableSpec] = {
    "products": TableSpec(
        "products",
        (
            Field("id", Kind.INT),
            Field("sku", Kind.STR),
            Field("name", Kind.STR),
            Field("brand", Kind.STR),
            Field("category", Kind.STR),
            Field("price", Kind.NUMBER, minimum=_NON_NEGATIVE),
            Field("description", Kind.STR),
            Field("specs", Kind.SPECS),
            Field("stock", Kind.INT, minimum=_NON_NEGATIVE),
            Field("promoted", Kind.BOOL),
            Field("cost", Kind.NUMBER, minimum=_NON_NEGATIVE),
            _iso("created_at"),
        ),
        key=("id",),
    ),
    "customers": TableSpec(
        "customers",
        (
            Field("customer_id", Kind.INT),
            Field("name", Kind.STR),
            Field("email", Kind.STR),
            _iso("created_at"),
        ),
        key=("customer_id",),
    ),
    "orders": TableSpec(
        "orders",
        (
            Field("order_id", Kind.INT),
            Field("customer_id", Kind.INT),
            Field("status", Kind.STR, choices=ORDER_STATUSES),
            Field("grand_total", Kind.NUMBER, minimum=_NON_NEGATIVE),
            _iso("order_date"),
        ),
        key=("order_id",),
        references=(Reference("customer_id", "customers", "customer"),),
    ),
    "order_items": TableSpec(
        "order_items",
        (
            Field("order_id", Kind.INT),
            Field("product_id", Kind.INT),
            Field("product_name", Kind.STR),
            Field("qty", Kind.INT, minimum=0, exclusive_minimum=True),
            Field("price", Kind.NUMBER, minimum=_NON_NEGATIVE),
            Field("category", Kind.STR),
        ),
        key=("order_id", "product_id"),
        references=(
            Reference("order_id", "orders", "order"),
            Reference("product_id", "products", "product"),
        ),
    ),
    "reviews": TableSpec(
        "reviews",
        (
            Field("review_id", Kind.INT),
            Field("product_id", Kind.INT),
            Field("customer_id", Kind.INT),
            Field("rating", Kind.INT, minimum=1, maximum=5),
            _iso("created_at"),
        ),
        key=("review_id",),
        references=(
            Reference("product_id", "products", "product"),
            Reference("customer_id", "customers", "customer"),
        ),
    ),
}


class FieldError(RecographError):
    """A field's value breaks a rule; carries the field name and the reported reason."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def describe(value: object) -> str:
    """A short JSON-flavoured description of a value for messages: ``string "12"``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {quoted(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def quoted(text: str) -> str:
    """``text`` in double quotes, shortened to 40 characters for messages."""
    shown = text if len(text) <= 40 else text[:37] + "..."
    return '"' + shown.replace('"', '\\"') + '"'


def _expected(kind: Kind, value: object) -> str:
    return f"expected {kind.value}, got {describe(value)}"


def _clean_str(name: str, value: str) -> str:
    """Refuse strings that no database can store: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise FieldError(name, "contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise FieldError(name, "contains an invalid Unicode character") from None
    return value


def parse_datetime(text: str) -> datetime:
    """ISO-8601 → naive UTC; raises ValueError for text that is not a date-time."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _check_specs(value: object) -> dict[str, Any]:
    if type(value) is not dict:
        raise FieldError("specs", _expected(Kind.SPECS, value))
    for key, item in value.items():
        _clean_str("specs", key)
        where = f"specs.{key}"
        if isinstance(item, str):
            _clean_str(where, item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise FieldError(where, f"must be a finite number, got {item!r}")
        elif not isinstance(item, int | float):  # bool is an int
            raise FieldError(where, f"expected a string, number or boolean, got {describe(item)}")
    return value


def _as_int(spec: Field, value: object) -> int:
    if type(value) is not int:
        raise FieldError(spec.name, _expected(spec.kind, value))
    if not INT64_MIN <= value <= INT64_MAX:
        raise FieldError(spec.name, f"integer {value} is out of the 64-bit range")
    _check_range(spec, value)
    return value


def _as_number(spec: Field, value: object) -> float:
    if type(value) is float:
        if not math.isfinite(value):
            raise FieldError(spec.name, f"must be a finite number, got {value!r}")
    elif type(value) is not int:
        raise FieldError(spec.name, _expected(spec.kind, value))
    _check_range(spec, value)
    return float(value)


def _as_str(spec: Field, value: object) -> str:
    if type(value) is not str:
        raise FieldError(spec.name, _expected(spec.kind, value))
    _clean_str(spec.name, value)
    if spec.choices is not None and value not in spec.choices:
        allowed = ", ".join(sorted(spec.choices))
        raise FieldError(spec.name, f"must be one of {allowed}; got {quoted(value)}")
    return value


def _as_bool(spec: Field, value: object) -> bool:
    if type(value) is not bool:
        raise FieldError(spec.name, _expected(spec.kind, value))
    return value


def _as_specs(spec: Field, value: object) -> dict[str, Any]:
    return _check_specs(value)


def _as_datetime(spec: Field, value: object) -> datetime:
    if type(value) is not str:
        raise FieldError(spec.name, _expected(spec.kind, value))
    try:
        stamp = parse_datetime(value)
    except ValueError:
        raise FieldError(spec.name, f"not an ISO-8601 date-time: {quoted(value)}") from None
    if not MIN_YEAR <= stamp.year <= MAX_YEAR:
        raise FieldError(
            spec.name, f"year {stamp.year} is outside the supported {MIN_YEAR}–{MAX_YEAR}"
        )
    return stamp


# Each converter returns the value to store or raises FieldError naming the broken rule.
_CONVERTERS: dict[Kind, Callable[[Field, object], Any]] = {
    Kind.INT: _as_int,
    Kind.NUMBER: _as_number,
    Kind.STR: _as_str,
    Kind.BOOL: _as_bool,
    Kind.SPECS: _as_specs,
    Kind.DATETIME: _as_datetime,
}


def _check_range(spec: Field, value: float) -> None:
    low, high = spec.minimum, spec.maximum
    if low is not None and high is not None:
        if not low <= value <= high:
            raise FieldError(spec.name, f"must be from {low:g} to {high:g}, got {value!r}")
    elif low is not None:
        if spec.exclusive_minimum and not value > low:
            raise FieldError(spec.name, f"must be > {low:g}, got {value!r}")
        if not spec.exclusive_minimum and not value >= low:
            raise FieldError(spec.name, f"must be >= {low:g}, got {value!r}")


# A single-column key is the id itself; order lines use (order_id, product_id).
Key = int | tuple[int, ...]

# The exact Python type each kind has in a well-formed row (numbers may also be ints).
_FAST_TYPES: dict[Kind, type] = {
    Kind.INT: int,
    Kind.NUMBER: float,
    Kind.STR: str,
    Kind.BOOL: bool,
    Kind.SPECS: dict,
    Kind.DATETIME: str,
}


@dataclass
class KeyRegistry:
    """Keys seen in one file: accepted ones and rejected ones, each with its first row."""

    file: str
    accepted: dict[Key, int] = field(default_factory=dict)
    rejected: dict[Key, int] = field(default_factory=dict)


def _key_text(key: Key) -> str:
    return str(key) if isinstance(key, int) else "(" + ", ".join(map(str, key)) + ")"


def _specs_ok(value: dict[str, Any]) -> bool:
    try:
        _check_specs(value)
    except FieldError:
        return False
    return True


def _text_ok(text: str) -> bool:
    try:
        _clean_str("", text)
    except FieldError:
        return False
    return True


class TableValidator:
    """Checks the rows of one file in order; remembers keys for duplicates and references.

    Each row first takes a fast path that only says yes (the values) or "look closer"; rows
    it does not accept go through the field-by-field checks that name the broken rule. Both
    apply the same rules; the fast one exists because order lines come by the million.
    """

    def __init__(
        self,
        spec: TableSpec,
        file: str,
        earlier: Mapping[str, KeyRegistry],
        *,
        fast_path: bool = True,
    ) -> None:
        missing = {ref.table for ref in spec.references} - set(earlier)
        if missing:
            raise ValueError(f"{spec.name} references tables not read yet: {sorted(missing)}")
        self.spec = spec
        self.file = file
        self.registry = KeyRegistry(file)
        self._fast_path = fast_path
        fields = spec.fields
        positions = {f.name: i for i, f in enumerate(fields)}
        # One position gives the bare id, several give a tuple: the two forms of `Key`.
        self._key_getter = operator.itemgetter(*(positions[name] for name in spec.key))
        self._key_label = "+".join(spec.key)
        self._converters = [(f, _CONVERTERS[f.kind]) for f in fields]
        self._references = [
            (positions[ref.field], ref, earlier[ref.table]) for ref in spec.references
        ]
        self._getter = operator.itemgetter(*(f.name for f in fields))
        self._types = tuple(_FAST_TYPES[f.kind] for f in fields)
        self._numbers = frozenset(i for i, f in enumerate(fields) if f.kind is Kind.NUMBER)
        self._ints = [i for i, f in enumerate(fields) if f.kind is Kind.INT]
        self._texts = [i for i, f in enumerate(fields) if f.kind is Kind.STR]
        self._specs = [i for i, f in enumerate(fields) if f.kind is Kind.SPECS]
        self._dates = [i for i, f in enumerate(fields) if f.kind is Kind.DATETIME]
        self._choices = [(i, f.choices) for i, f in enumerate(fields) if f.choices is not None]
        self._ranges = [
            (i, f) for i, f in enumerate(fields) if f.minimum is not None or f.maximum is not None
        ]

    def reject(self, row: int, field: str | None, reason: str, record: object) -> Reject:
        return Reject(self.file, row, field, reason, record)

    def check(self, row: int, record: object) -> tuple[Any, ...] | Reject:
        """The row's values in column order, or why it is rejected."""
        if type(record) is not dict:
            reason = f"expected a JSON object, got {describe(record)}"
            return self.reject(row, None, reason, record)
        values = self._fast_values(record) if self._fast_path else None
        if values is None:
            try:
                values = self._convert_fields(record)
            except FieldError as error:
                self._remember_rejected(row, record)
                return self.reject(row, error.field, error.reason, record)
        key: Key = self._key_getter(values)
        registry = self.registry
        first = registry.accepted.get(key)
        if first is not None:
            reason = f"duplicate id {_key_text(key)}, first seen at row {first}"
            return self.reject(row, self._key_label, reason, record)
        for position, ref, target in self._references:
            value = values[position]
            if value not in target.accepted:
                registry.rejected.setdefault(key, row)
                return self.reject(row, ref.field, _reference_problem(ref, value, target), record)
        registry.accepted[key] = row
        return values

    def _fast_values(self, record: dict[str, Any]) -> tuple[Any, ...] | None:
        """The row's values when it is plainly valid; None when it needs a closer look."""
        try:
            values: tuple[Any, ...] = self._getter(record)
        except KeyError:
            return None
        if tuple(map(type, values)) != self._types:
            if not all(
                type(v) is t or (i in self._numbers and type(v) is int)
                for i, (v, t) in enumerate(zip(values, self._types, strict=True))
            ):
                return None
            values = tuple(float(v) if i in self._numbers else v for i, v in enumerate(values))
        for i in self._ints:
            if not INT64_MIN <= values[i] <= INT64_MAX:
                return None
        for i in self._numbers:  # infinity comes from numbers beyond the double range
            if not math.isfinite(values[i]):
                return None
        for i in self._texts:
            text = values[i]
            if "\x00" in text or not (text.isascii() or _text_ok(text)):
                return None
        for i, allowed in self._choices:
            if values[i] not in allowed:
                return None
        for i, spec in self._ranges:
            value = values[i]
            low, high = spec.minimum, spec.maximum
            if low is not None and (value <= low if spec.exclusive_minimum else value < low):
                return None
            if high is not None and value > high:
                return None
        for i in self._specs:
            if not _specs_ok(values[i]):
                return None
        if not self._dates:
            return values
        converted = list(values)
        for i in self._dates:
            try:
                stamp = parse_datetime(values[i])
            except ValueError:
                return None
            if not MIN_YEAR <= stamp.year <= MAX_YEAR:
                return None
            converted[i] = stamp
        return tuple(converted)

    def _convert_fields(self, record: dict[str, Any]) -> tuple[Any, ...]:
        values = []
        for spec, convert in self._converters:
            try:
                value = record[spec.name]
            except KeyError:
                raise FieldError(spec.name, "missing required field") from None
            values.append(convert(spec, value))
        return tuple(values)

    def _remember_rejected(self, row: int, record: dict[str, Any]) -> None:
        parts = [record.get(name) for name in self.spec.key]
        ints = tuple(part for part in parts if type(part) is int)
        if len(ints) == len(parts):
            key: Key = ints[0] if len(ints) == 1 else ints
            self.registry.rejected.setdefault(key, row)


def _reference_problem(ref: Reference, value: int, target: KeyRegistry) -> str:
    rejected_row = target.rejected.get(value)
    if rejected_row is not None:
        return f"{ref.noun} {value} was rejected ({target.file} row {rejected_row})"
    return f"unknown {ref.noun} {value}"
