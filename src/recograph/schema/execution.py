"""A graphql-core execution context that completes plain-object subtrees without per-field calls.

graphql-core spends ≈ 4–5 µs on every field it executes (resolve info, resolver call,
awaitability checks, completion), so a recommendation response of ≈ 300 fields costs more than
the recommendation itself. Our output types are plain objects whose fields are attributes
(strawberry "basic" fields, without resolver, arguments or extensions). For an object whose
selected fields are all basic, this context compiles the selection once per request into a
small plan, then builds each object's response dict with ``getattr`` and the leaf types' own
``coerce_output_value``: the same values in the same order, without the per-field machinery.

Anything outside that shape (resolvers, arguments, ``@defer``, abstract types, ``is_type_of``,
middleware) takes graphql-core's normal path. So does an object on which the plan meets
anything unexpected (a null in a non-null field, a failing coercion): the plan has no side
effects, so the normal path simply runs again and reports the error exactly as it would have.
"""

from __future__ import annotations

import keyword
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    specified_scalar_types,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values
from graphql.pyutils import AwaitableOrValue, Path, Undefined, UndefinedType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from recograph.schema.direct import DirectResolver, direct_resolver

Plan = Callable[[Any], dict[str, Any]]
_SPECIFIED = dict(specified_scalar_types)
Completer = Callable[[Any], Any]


class Fallback(Exception):
    """The plan cannot complete this value; graphql-core's completion must (and reports the
    error)."""


def _attribute(field: GraphQLField) -> str | None:
    """The Python attribute behind a basic strawberry field, or None for anything else."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if field.args or not getattr(field.resolve, "_is_default", False):
        return None
    return definition.python_name


SharedKey = tuple[GraphQLObjectType, tuple[int, ...]]


class PlainObjectExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with compiled completion of plain-object subtrees.

    Plans are kept for the request and, when the document has no directives (so the selected
    fields cannot depend on variables), in ``shared_plans`` for later requests with the same
    parsed document (the parser cache returns the same nodes for the same query text).
    """

    shared_plans: ClassVar[OrderedDict[SharedKey, tuple[tuple[FieldNode, ...], Plan | None]]]
    shared_size: ClassVar[int] = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (type, id(field details list)) -> (the list, kept alive; its plan or None)
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, Plan | None]]
        self._plans = {}
        source = self.operation.loc.source.body if self.operation.loc is not None else "@"
        self._shareable = "@" not in source

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        plan = self._plan(return_type, field_details_list)
        if plan is not None:
            try:
                return plan(result)
            except Fallback:
                pass
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    # ------------------------------------------------------------------ compilation

    def _plan(self, return_type: GraphQLObjectType, details: FieldDetailsList) -> Plan | None:
        key = (return_type, id(details))
        cached = self._plans.get(key)
        if cached is not None:
            return cached[1]
        nodes = tuple(d.node for d in details)
        shareable = self._shareable and all(d.fragment_variable_values is None for d in details)
        shared_key = (return_type, tuple(id(node) for node in nodes))
        shared = self.shared_plans.get(shared_key) if shareable else None
        if shared is not None and all(a is b for a, b in zip(shared[0], nodes, strict=True)):
            plan = shared[1]
        else:
            self._plans[key] = (details, None)
            plan = self._compile(return_type, details)
            if shareable:
                self.shared_plans[shared_key] = (nodes, plan)
                while len(self.shared_plans) > self.shared_size:
                    self.shared_plans.popitem(last=False)
        self._plans[key] = (details, plan)
        return plan

    def _compile(self, return_type: GraphQLObjectType, details: FieldDetailsList) -> Plan | None:
        manager = self.middleware_manager
        if (manager is not None and manager.middlewares) or return_type.is_type_of is not None:
            return None
        grouped, new_defer_usages, forbidden = self.collect_subfields(return_type, details)
        if new_defer_usages or forbidden:
            return None
        steps: list[Step] = []
        for response_key, sub_details in grouped.items():
            if any(d.defer_usage is not None for d in sub_details):
                return None
            name = sub_details[0].node.name.value
            if name == "__typename":
                steps.append(Step(response_key, None, _constant(return_type.name), None))
                continue
            field = return_type.fields.get(name)
            attribute = None if field is None else _attribute(field)
            if field is None or attribute is None:
                return None
            completer = self._completer(field.type, sub_details)
            if completer is None:
                return None
            nested = self._nested(field.type, sub_details)
            steps.append(Step(response_key, attribute, completer, _as_is(field.type), nested))
        return _object_plan(return_type.name, steps)

    def _nested(self, field_type: GraphQLOutputType, details: FieldDetailsList) -> Nested | None:
        """How a field of an object type, or of a list of one, calls that type's plan inline
        (its completer having been made: the plan exists)."""
        required = isinstance(field_type, GraphQLNonNull)
        inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        of_list = isinstance(inner, GraphQLList)
        item = inner.of_type if isinstance(inner, GraphQLList) else inner
        item_required = isinstance(item, GraphQLNonNull)
        if isinstance(item, GraphQLNonNull):
            item = item.of_type
        if not isinstance(item, GraphQLObjectType):
            return None
        plan = self._plan(item, details)
        return None if plan is None else Nested(plan, required, of_list, item_required)

    def _completer(
        self, field_type: GraphQLOutputType, details: FieldDetailsList
    ) -> Completer | None:
        """How to complete a value of ``field_type``; None when the plan cannot."""
        required = is_non_null_type(field_type)
        if required:
            assert isinstance(field_type, GraphQLNonNull)
            field_type = field_type.of_type
        if is_list_type(field_type):
            assert isinstance(field_type, GraphQLList)
            item = self._completer(field_type.of_type, details)
            return None if item is None else _list(item, required)
        if is_leaf_type(field_type):
            return _leaf(field_type, required)
        if is_object_type(field_type):
            assert isinstance(field_type, GraphQLObjectType)
            plan = self._plan(field_type, details)
            return None if plan is None else _object(plan, required)
        return None


class DirectRootExecutionContext(PlainObjectExecutionContext):
    """`PlainObjectExecutionContext` that calls root resolvers directly (`recograph.schema.
    direct`), for compiled known documents: graphql-core still coerces the variables and
    arguments, locates and nulls errors and completes the value exactly as before; only
    strawberry's per-call argument conversion and resolver wrapper are left out.

    ``direct_resolvers`` (one per schema) maps a root field to its direct resolver, or None
    when strawberry's wrapper must run; ``direct_calls`` counts the fields resolved directly.
    """

    strawberry_schema: ClassVar[Any]
    # id(field) -> (the field, kept alive; its direct resolver or None)
    direct_resolvers: ClassVar[dict[int, tuple[GraphQLField, DirectResolver | None]]]
    direct_calls: ClassVar[list[int]]

    def _direct(self, field: GraphQLField) -> DirectResolver | None:
        known = self.direct_resolvers.get(id(field))
        if known is None or known[0] is not field:
            known = (field, direct_resolver(field, self.strawberry_schema))
            self.direct_resolvers[id(field)] = known
        return known[1]

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any] | UndefinedType:
        first = field_details_list[0]
        field_def = parent_type.fields.get(first.node.name.value)
        manager = self.middleware_manager
        direct = (
            None
            if path.prev is not None
            or field_def is None
            or (manager is not None and manager.middlewares)
            else self._direct(field_def)
        )
        if direct is None or field_def is None:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        return_type = field_def.type
        nodes = [details.node for details in field_details_list]
        info = self.build_resolve_info(field_def, nodes, parent_type, path)
        try:
            args = get_argument_values(
                field_def,
                first.node,
                self.variable_values,
                first.fragment_variable_values,
                self.hide_suggestions,
            )
            result = direct(source, info, args)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        self.direct_calls[0] += 1
        if not self.is_awaitable(result):
            result = _resolved(result)
        return self.complete_awaitable_value(
            return_type, field_details_list, info, path, result, position_context
        )


async def _resolved(value: Any) -> Any:
    return value


def direct_context_class(
    schema: Any, base: type[PlainObjectExecutionContext]
) -> type[DirectRootExecutionContext]:
    """``base`` (the schema's execution context, its plan cache shared) with direct root
    resolvers for ``schema`` (a strawberry schema)."""
    return type(
        "RecographDirectExecutionContext",
        (DirectRootExecutionContext, base),
        {"strawberry_schema": schema, "direct_resolvers": {}, "direct_calls": [0]},
    )


def execution_context_class(cache_size: int = 512) -> type[PlainObjectExecutionContext]:
    """A subclass with its own bounded plan cache (one per schema)."""
    return type(
        "RecographExecutionContext",
        (PlainObjectExecutionContext,),
        {"shared_plans": OrderedDict(), "shared_size": cache_size},
    )


@dataclass(frozen=True)
class Step:
    """One field of an object plan: its response key, the attribute that holds its value (None
    for ``__typename``, whose value is ``complete(None)``), how to complete the value, and
    `AsIs`, when the value is returned unchanged."""

    key: str
    attribute: str | None
    complete: Completer
    as_is: AsIs | None
    nested: Nested | None = None


@dataclass(frozen=True)
class Nested:
    """A field whose value is an object (or a list of objects) completed by ``plan``, called
    from the generated code, not through a completer per object and per list."""

    plan: Plan
    required: bool
    of_list: bool
    item_required: bool


@dataclass(frozen=True)
class AsIs:
    """When a leaf's value is its completed value: a condition on ``X`` (Python source, with
    the names in ``names``), checked inline before ``complete`` is called; or, for an enum,
    the member -> name table its ``coerce_output_value`` would look up."""

    condition: str
    names: dict[str, Any]


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1

_AS_IS = {
    "String": AsIs("type(X) is str", {}),
    "ID": AsIs("type(X) is str", {}),
    "Int": AsIs(f"type(X) is int and {_INT_MIN} <= X <= {_INT_MAX}", {}),
    # X - X is 0.0 exactly for a finite float (NaN for inf and NaN): no call per leaf
    "Float": AsIs("type(X) is float and X - X == 0.0", {}),
    "Boolean": AsIs("type(X) is bool", {}),
}


def _as_is(field_type: GraphQLOutputType) -> AsIs | None:
    """When a value of a leaf type completes to itself (or, for an enum, to its name)."""
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    if isinstance(field_type, GraphQLScalarType) and field_type.name in _AS_IS:
        if field_type is not _SPECIFIED.get(field_type.name):
            return None  # a scalar of the same name that is not graphql-core's
        return _AS_IS[field_type.name]
    wrapped = getattr(field_type, "wrapped_cls", None)
    if isinstance(field_type, GraphQLEnumType) and isinstance(wrapped, type):
        names = _enum_names(field_type, wrapped)
        return AsIs("type(X) is E", {"E": wrapped, "N": names}) if names else None
    return None


def _enum_names(enum_type: GraphQLEnumType, wrapped: type) -> dict[Any, str]:
    """Member -> name, as strawberry's ``CustomGraphQLEnumType.coerce_output_value`` finds it
    (the first name whose value equals the member's value)."""
    names: dict[Any, str] = {}
    for member in list(wrapped):  # type: ignore[call-overload]
        for name, value in enum_type.values.items():
            if member.value == value.value:
                names[member] = name
                break
    if len(names) != len(list(wrapped)):  # type: ignore[call-overload]
        return {}
    return names


def _object_plan(type_name: str, steps: list[Step]) -> Plan:
    """The plan of an object type as one generated function: every field read and, for
    leaves, checked inline, the response dict built as a literal. A call per field (as
    graphql-core makes, and a closure per leaf made) showed in the profile: a storefront
    response has ≈ 60 objects and ≈ 150 leaves."""
    names: dict[str, Any] = {"Fallback": Fallback, "fail": _fail}
    lines = [f"def plan_{type_name}(v):", "    try:"]
    keys = []
    for i, step in enumerate(steps):
        value, complete = f"x{i}", f"c{i}"
        names[complete] = step.complete
        if step.attribute is None:
            lines.append(f"        {value} = {complete}(None)")
        else:
            lines.append(f"        {value} = {_read('v', step.attribute)}")
            as_is = step.as_is
            if step.nested is not None:
                names[f"p{i}"] = step.nested.plan
                lines += _nested_lines(value, f"p{i}", complete, step.nested)
            elif as_is is None:
                lines.append(f"        {value} = {complete}({value})")
            elif "N" in as_is.names:
                table = f"n{i}"
                condition = as_is.condition.replace("X", value).replace("E", f"e{i}")
                names[f"e{i}"], names[table] = as_is.names["E"], as_is.names["N"]
                lines.append(f"        {value} = {table}[{value}] if {condition} else ")
                lines[-1] += f"{complete}({value})"
            else:
                names.update(as_is.names)
                condition = as_is.condition.replace("X", value)
                lines.append(f"        if not ({condition}):")
                lines.append(f"            {value} = {complete}({value})")
        keys.append(f"{step.key!r}: {value}")
    lines.append("        return {" + ", ".join(keys) + "}")
    lines += ["    except Fallback:", "        raise", "    except Exception:"]
    lines.append("        raise Fallback from None")
    exec("\n".join(lines), names)  # the source is built above from schema names only
    plan: Plan = names[f"plan_{type_name}"]
    return plan


def _nested_lines(value: str, plan: str, complete: str, nested: Nested) -> list[str]:
    """Generated lines completing ``value`` with the plan called ``plan``: an object, or the
    items of a list or tuple, inline; anything else (a null list, another iterable) by the
    completer, which raises `Fallback` where graphql-core would report an error."""
    if nested.of_list:
        call = (
            f"{plan}(e) if e is not None else fail()"
            if nested.item_required
            else f"None if e is None else {plan}(e)"
        )
        return [  # a tuple too: graphql-core completes any iterable as a list
            f"        if type({value}) is list or type({value}) is tuple:",
            f"            {value} = [{call} for e in {value}]",
            "        else:",
            f"            {value} = {complete}({value})",
        ]
    return [
        f"        if {value} is not None:",
        f"            {value} = {plan}({value})",
        *(["        else:", "            raise Fallback"] if nested.required else []),
    ]


def _fail() -> Any:
    raise Fallback


def _read(name: str, attribute: str) -> str:
    """Python source reading ``attribute`` of the object called ``name``."""
    if attribute.isidentifier() and not keyword.iskeyword(attribute):
        return f"{name}.{attribute}"
    return f"getattr({name}, {attribute!r})"


def _constant(value: str) -> Completer:
    def complete(_: Any) -> str:
        return value

    return complete


def _object(plan: Plan, required: bool) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if required:
                raise Fallback
            return None
        return plan(value)

    return complete


def _list(item: Completer, required: bool) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if required:
                raise Fallback
            return None
        if type(value) is not list and (
            isinstance(value, str | bytes) or not isinstance(value, Iterable)
        ):
            raise Fallback
        return [item(element) for element in value]

    return complete


_EXACT: dict[str, type] = {"String": str, "ID": str, "Float": float, "Int": int, "Boolean": bool}


def _leaf(leaf_type: GraphQLLeafType, required: bool) -> Completer:
    coerce = leaf_type.coerce_output_value
    name = leaf_type.name
    if name in ("String", "ID") and required:
        return _required_text(coerce)
    exact = _EXACT.get(name)
    isfinite = math.isfinite

    def complete(value: Any) -> Any:
        kind = type(value)
        # the built-in scalars' values graphql-core returns unchanged, checked inline (a
        # response has ≈ 150 leaves: a call per leaf showed in the profile)
        if kind is exact and (
            (kind is not float or isfinite(value))
            and (kind is not int or _INT_MIN <= value <= _INT_MAX)
        ):
            return value
        if value is None:
            if required:
                raise Fallback
            return None
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Fallback
        return coerced

    return complete


def _required_text(coerce: Callable[[Any], Any]) -> Completer:
    """`_leaf` of a non-null String or ID: the most frequent leaf of a response, so its common
    case (a ``str``, returned as it is) is checked first and alone."""

    def complete(value: Any) -> Any:
        if type(value) is str:
            return value
        if value is None:
            raise Fallback
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Fallback
        return coerced

    return complete
