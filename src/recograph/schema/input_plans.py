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
  scalar, an enum member or null) it is coerced once. An argument given as a variable, or as a
  list or object literal with variables inside (a storefront's ``context: {cartProductIds:
  $cart, pageType: CART}``), is coerced per request by a `literal_plan`: graphql-core's
  ``coerce_input_literal`` worked out once for the literal (its fields matched to the input
  type's, its constant parts coerced), so a request only reads its variables and builds the
  value (≈ 26 µs of a storefront request in graphql-core, ≈ 3 µs planned). When the plan finds
  no value (``Undefined``: a missing variable, a null where it is not allowed) graphql-core's
  ``coerce_argument`` runs instead, for the default or the error of its own; so does every
  other argument, in the field's order, as ``get_argument_values`` does.
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
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    ValueNode,
    VariableNode,
    Visitor,
    is_required_input_field,
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
from graphql.utilities.coerce_input_value import coerce_default_value, coerce_input_literal

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


_ABSENT = object()


# ---------------------------------------------------------------------------- literals

Literal = Callable[[VariableValues], Any]
"""A literal's coerced value for a request's variables, or ``Undefined`` (invalid)."""


def literal_plan(node: ValueNode, type_: GraphQLInputType) -> Literal:
    """graphql-core's ``coerce_input_literal(node, type_, variables)`` as a function of the
    variables, with what does not depend on them decided once (same values, same
    ``Undefined``s; a part it does not plan runs ``coerce_input_literal`` itself)."""
    if isinstance(node, VariableNode):
        return _variable(node.name.value, isinstance(type_, GraphQLNonNull))
    if not contains(node, VariableNode):
        return _constant(node, type_)
    if isinstance(type_, GraphQLNonNull):  # the node is not null: it holds a variable
        return literal_plan(node, type_.of_type)
    if isinstance(type_, GraphQLList):
        if not isinstance(node, ListValueNode):
            return _one_item(literal_plan(node, type_.of_type))
        nullable = not isinstance(type_.of_type, GraphQLNonNull)
        items = tuple(
            (literal_plan(item, type_.of_type), _null_if_missing(item, nullable))
            for item in node.values
        )
        return _items_of(items)
    if isinstance(type_, GraphQLInputObjectType) and isinstance(node, ObjectValueNode):
        return _input_object(node, type_)
    return _general(node, type_)


def _general(node: ValueNode, type_: GraphQLInputType) -> Literal:
    def coerce(variables: VariableValues) -> Any:
        return coerce_input_literal(node, type_, variables)

    return coerce


def _constant(node: ValueNode, type_: GraphQLInputType) -> Literal:
    """A literal without variables: coerced once when its value is immutable."""
    try:
        value = coerce_input_literal(node, type_)
    except Exception:  # an invalid default inside: graphql-core raises on every request
        return _general(node, type_)
    if value is not Undefined and not _immutable(value):
        return _general(node, type_)

    def coerce(_: VariableValues) -> Any:
        return value

    return coerce


def _variable(name: str, required: bool) -> Literal:
    def coerce(variables: VariableValues) -> Any:
        value = variables.coerced.get(name, Undefined)
        if required and value is None:
            return Undefined
        return value

    return coerce


def _one_item(item: Literal) -> Literal:
    """A list type given one value: a list of one."""

    def coerce(variables: VariableValues) -> Any:
        value = item(variables)
        return Undefined if value is Undefined else [value]

    return coerce


def _null_if_missing(node: ValueNode, nullable: bool) -> str | None:
    """The variable whose missing or null value becomes a null item (of a nullable list)."""
    return node.name.value if nullable and isinstance(node, VariableNode) else None


def _items_of(items: tuple[tuple[Literal, str | None], ...]) -> Literal:
    def coerce(variables: VariableValues) -> Any:
        values: list[Any] = []
        for item, null_if_missing in items:
            value = item(variables)
            if value is Undefined:
                if null_if_missing is None:
                    return Undefined
                missing = variables.coerced.get(null_if_missing, Undefined)
                if missing is not None and missing is not Undefined:
                    return Undefined
                value = None
            values.append(value)
        return values

    return coerce


@dataclass(frozen=True)
class _Field:
    """One field of an input object literal: the literal's value (None: not given), the
    variable that, when missing, makes it "not given", and what "not given" means."""

    out_name: str
    value: Literal | None
    variable: str | None
    definition: GraphQLInputField
    required: bool


def _input_object(node: ObjectValueNode, type_: GraphQLInputObjectType) -> Literal:
    given = {field.name.value: field for field in node.fields}
    if type_.is_one_of:
        return _general(node, type_)
    if any(name not in type_.fields for name in given):
        return _constant(node, type_)  # an unknown field: Undefined on every request
    fields = []
    for name, definition in type_.fields.items():
        field_node = given.get(name)
        value = None if field_node is None else field_node.value
        fields.append(
            _Field(
                out_name=definition.out_name or name,
                value=None if value is None else literal_plan(value, definition.type),
                variable=value.name.value if isinstance(value, VariableNode) else None,
                definition=definition,
                required=is_required_input_field(definition),
            )
        )
    return _object_of(tuple(fields), type_.out_type)


def _object_of(fields: tuple[_Field, ...], out_type: Callable[[dict[str, Any]], Any]) -> Literal:
    def coerce(variables: VariableValues) -> Any:
        coerced: dict[str, Any] = {}
        for field in fields:
            if field.value is None or (
                field.variable is not None
                and variables.coerced.get(field.variable, Undefined) is Undefined
            ):
                if field.required:
                    return Undefined
                default = coerce_default_value(field.definition)
                if default is not Undefined:
                    coerced[field.out_name] = default
                continue
            value = field.value(variables)
            if value is Undefined:
                return Undefined
            coerced[field.out_name] = value
        return out_type(coerced)

    return coerce


# ---------------------------------------------------------------------------- arguments


@dataclass(frozen=True)
class _Argument:
    name: str
    definition: Any  # GraphQLArgument
    node: ArgumentNode | None
    constant: Any  # its coerced value (_ABSENT: not in the arguments) or None if per request
    out_name: str
    per_request: Literal | None  # how it is coerced per request (None: once, `constant`)


@dataclass(frozen=True)
class ArgumentPlan:
    """How a root field's arguments are coerced (module docstring)."""

    field_node: FieldNode
    arguments: tuple[_Argument, ...]

    def coerce(self, variables: VariableValues) -> dict[str, Any]:
        """What graphql-core's ``get_argument_values`` returns (or raises)."""
        coerced: dict[str, Any] = {}
        for argument in self.arguments:
            literal = argument.per_request
            if literal is not None:
                value = literal(variables)
                if value is not Undefined:
                    coerced[argument.out_name] = value
                    continue
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


def _fails(_: VariableValues) -> Any:
    """No planned value: graphql-core's ``coerce_argument`` coerces the argument."""
    return Undefined


def _immutable(value: Any) -> bool:
    return value is None or type(value) in (int, float, str, bool) or isinstance(value, enum.Enum)


def argument_plan(field: GraphQLField, node: FieldNode) -> ArgumentPlan:
    nodes = {argument.name.value: argument for argument in node.arguments or ()}
    arguments: list[_Argument] = []
    for name, definition in field.args.items():
        argument_node = nodes.get(name)
        out_name = definition.out_name or name
        constant: Any = None
        per_request: Literal | None = None
        if argument_node is not None and contains(argument_node, VariableNode):
            per_request = literal_plan(argument_node.value, definition.type)
        else:
            once: dict[str, Any] = {}
            try:
                coerce_argument(once, node, name, definition, argument_node, None, None, False)
            except Exception:
                per_request = _fails  # it fails on every request, as graphql-core reports it
            constant = once.get(out_name, _ABSENT)
            if constant is not _ABSENT and not _immutable(constant):
                per_request = _fails
        arguments.append(
            _Argument(name, definition, argument_node, constant, out_name, per_request)
        )
    return ArgumentPlan(node, tuple(arguments))
