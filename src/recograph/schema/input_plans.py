"""Variables and root-field arguments of a planned operation, coerced as graphql-core coerces
them, with what never changes between requests worked out once.

graphql-core's ``get_variable_values`` rebuilds every variable's signature from the document
(the type from its AST) and walks every value twice (a depth check, then the coercion);
``get_argument_values`` coerces every argument of a field again, literals and defaults
included. For the storefront query the two took ≈ 55 µs CPU per request, more than completing
the whole response. Here:

- **Variables.** The signatures are made once. A request whose variables are all of the
  simplest shape — built-in scalars already of their Python type (``int`` in 32 bits for
  ``Int``, a finite ``float`` for ``Float``, ``str`` for ``String`` and ``ID``, ``bool`` for
  ``Boolean``), nulls where the type allows them, and lists of those — gets the values
  graphql-core would give (the same scalars, lists copied) without the walk. Anything else,
  an omitted variable with a default, and every value graphql-core would refuse take
  ``get_variable_values`` itself, so the errors are its own.
- **Arguments.** An argument that the field does not receive, or receives as a literal without
  variables, coerces to the same value on every request: when that value is immutable (a
  scalar, an enum member or null) it is coerced once; every other argument is coerced per
  request by graphql-core's ``coerce_argument``, in the field's order, as
  ``get_argument_values`` does.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    VariableNode,
    Visitor,
    specified_scalar_types,
    visit,
)
from graphql.execution.get_variable_signature import (
    GraphQLVariableSignature,
    get_variable_signature,
)
from graphql.execution.values import (
    VariableValues,
    VariableValueSource,
    coerce_argument,
    get_variable_values,
)
from graphql.language import BREAK, ArgumentNode, Node
from graphql.pyutils import Undefined

MAX_COERCION_ERRORS = 50  # graphql-core's default, as its execute uses

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class _NotSimple(Exception):
    """The value is not of the simplest shape: graphql-core's coercion must judge it."""


Coerce = Callable[[Any], Any]


def _leaf_check(name: str) -> Callable[[Any], bool]:
    isfinite = math.isfinite
    checks: dict[str, Callable[[Any], bool]] = {
        "Int": lambda v: type(v) is int and _INT_MIN <= v <= _INT_MAX,
        "Float": lambda v: type(v) is float and isfinite(v),
        "String": lambda v: type(v) is str,
        "ID": lambda v: type(v) is str,
        "Boolean": lambda v: type(v) is bool,
    }
    return checks[name]


def simple_coercion(type_: GraphQLInputType) -> Coerce | None:
    """graphql-core's ``coerce_input_value`` for the simplest values of ``type_``, raising
    `_NotSimple` for any other; None when the type has no simple values (enums, input
    objects, custom scalars)."""
    if isinstance(type_, GraphQLNonNull):
        inner = simple_coercion(type_.of_type)
        return None if inner is None else _required(inner)
    if isinstance(type_, GraphQLList):
        item = simple_coercion(type_.of_type)
        return None if item is None else _items(item)
    if not isinstance(type_, GraphQLScalarType):
        return None
    if specified_scalar_types.get(type_.name) is not type_:
        return None
    return _leaf(_leaf_check(type_.name))


def _required(inner: Coerce) -> Coerce:
    def coerce(value: Any) -> Any:
        if value is None:
            raise _NotSimple
        return inner(value)

    return coerce


def _items(item: Coerce) -> Coerce:
    def coerce(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not list:
            raise _NotSimple
        return [item(element) for element in value]

    return coerce


def _leaf(check: Callable[[Any], bool]) -> Coerce:
    def coerce(value: Any) -> Any:
        if value is None or check(value):
            return value
        raise _NotSimple

    return coerce


@dataclass(frozen=True)
class _Variable:
    name: str
    signature: GraphQLVariableSignature
    coerce: Coerce
    required: bool
    has_default: bool


@dataclass(frozen=True)
class VariablePlan:
    """How the operation's variables are coerced (module docstring)."""

    schema: GraphQLSchema
    operation: OperationDefinitionNode
    simple: tuple[_Variable, ...] | None  # None: always graphql-core's coercion

    def coerce(self, inputs: dict[str, Any] | None) -> VariableValues | list[GraphQLError]:
        """What graphql-core's ``get_variable_values`` returns for ``inputs``."""
        inputs = inputs or {}
        simple = None if self.simple is None else _simply(self.simple, inputs)
        if simple is not None:
            return simple
        return get_variable_values(
            self.schema,
            self.operation.variable_definitions or (),
            inputs,
            max_errors=MAX_COERCION_ERRORS,
        )


def _simply(variables: tuple[_Variable, ...], inputs: dict[str, Any]) -> VariableValues | None:
    """``coerce_variable_values`` for simple values; None when any value is not."""
    sources: dict[str, VariableValueSource] = {}
    coerced: dict[str, Any] = {}
    for variable in variables:
        value = inputs.get(variable.name, Undefined)
        if value is Undefined:
            if variable.has_default or variable.required:
                return None
            sources[variable.name] = VariableValueSource(variable.signature)
            continue
        sources[variable.name] = VariableValueSource(variable.signature, value)
        try:
            coerced[variable.name] = variable.coerce(value)
        except _NotSimple:
            return None
    return VariableValues(sources, coerced)


def variable_plan(schema: GraphQLSchema, operation: OperationDefinitionNode) -> VariablePlan:
    variables: list[_Variable] = []
    for node in operation.variable_definitions or ():
        signature = get_variable_signature(schema, node)
        coerce = None if isinstance(signature, GraphQLError) else simple_coercion(signature.type)
        if isinstance(signature, GraphQLError) or coerce is None:
            return VariablePlan(schema, operation, None)
        variables.append(
            _Variable(
                name=signature.name,
                signature=signature,
                coerce=coerce,
                required=isinstance(signature.type, GraphQLNonNull),
                has_default=node.default_value is not None,
            )
        )
    return VariablePlan(schema, operation, tuple(variables))


# ---------------------------------------------------------------------------- arguments

_ABSENT = object()


@dataclass(frozen=True)
class _Argument:
    name: str
    definition: Any  # GraphQLArgument
    node: ArgumentNode | None
    constant: Any  # its coerced value (_ABSENT: not in the arguments) or None if per request
    out_name: str
    per_request: bool


@dataclass(frozen=True)
class ArgumentPlan:
    """How a root field's arguments are coerced (module docstring)."""

    field_node: FieldNode
    arguments: tuple[_Argument, ...]

    def coerce(self, variables: VariableValues) -> dict[str, Any]:
        """What graphql-core's ``get_argument_values`` returns (or raises)."""
        coerced: dict[str, Any] = {}
        for argument in self.arguments:
            if argument.per_request:
                coerce_argument(
                    coerced,
                    self.field_node,
                    argument.name,
                    argument.definition,
                    argument.node,
                    variables,
                    None,
                    False,
                )
            elif argument.constant is not _ABSENT:
                coerced[argument.out_name] = argument.constant
        return coerced


class _Finder(Visitor):
    def __init__(self, kind: type[Node]) -> None:
        super().__init__()
        self.kind = kind
        self.found = False

    def enter(self, node: Node, *_: Any) -> Any:
        if isinstance(node, self.kind):
            self.found = True
            return BREAK
        return None


def contains(node: Node, kind: type[Node]) -> bool:
    """Whether the AST below ``node`` holds a node of ``kind``."""
    finder = _Finder(kind)
    visit(node, finder)
    return finder.found


def _immutable(value: Any) -> bool:
    return value is None or type(value) in (int, float, str, bool) or isinstance(value, enum.Enum)


def argument_plan(field: GraphQLField, node: FieldNode) -> ArgumentPlan:
    nodes = {argument.name.value: argument for argument in node.arguments or ()}
    arguments: list[_Argument] = []
    for name, definition in field.args.items():
        argument_node = nodes.get(name)
        out_name = definition.out_name or name
        constant: Any = None
        per_request = argument_node is not None and contains(argument_node, VariableNode)
        if not per_request:
            once: dict[str, Any] = {}
            try:
                coerce_argument(once, node, name, definition, argument_node, None, None, False)
            except Exception:
                per_request = True  # it fails on every request, as graphql-core reports it
            constant = once.get(out_name, _ABSENT)
            if constant is not _ABSENT and not _immutable(constant):
                per_request = True
        arguments.append(
            _Argument(name, definition, argument_node, constant, out_name, per_request)
        )
    return ArgumentPlan(node, tuple(arguments))
