"""Root resolvers called directly, with their arguments converted by a plan made once.

For every field it resolves, strawberry's resolver wrapper converts graphql-core's coerced
arguments into Python values by walking the argument types (``convert_arguments``: optional,
list, scalar, enum and input-type checks for every value of every request), then runs the
field-extension chain and builds the resolver's ``Info``. In the profile of a storefront
request (`scripts/profile_request.py --profile app`) that was ≈ 8 % of the whole request, for
the one root field it resolves. A `DirectResolver` makes the same conversion a tree of small
closures, built once per field from the same strawberry types, and calls the resolver function
itself; what strawberry would add for the field is none of what we use: a field qualifies only
without field extensions (permission classes are extensions), without exception handlers,
with an async resolver that takes no ``root`` or ``parent``, and with argument types
this module can convert as strawberry does (scalars, enums, lists, optionals and plain
input types: no ``Maybe``, ``GlobalID`` or ``from_input``). Anything else returns None here,
and graphql-core calls strawberry's resolver as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass
from typing import Any

from graphql import GraphQLField, GraphQLResolveInfo
from strawberry.relay.types import GlobalID
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import _is_leaf_type, _is_optional_leaf_type
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.enum import has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

Convert = Callable[[Any], Any]


class _Unsupported(Exception):
    """A type this module does not convert; strawberry's path must."""


def converter(type_: Any, registry: Mapping[object, Any], config: StrawberryConfig) -> Convert:
    """How strawberry's ``convert_argument`` converts a value of ``type_``, as a closure.

    Raises `_Unsupported` for the types it leaves to strawberry."""
    if isinstance(type_, StrawberryMaybe) or type_ is GlobalID:
        raise _Unsupported
    if isinstance(type_, StrawberryOptional):
        return converter(type_.of_type, registry, config)
    if isinstance(type_, LazyType):
        return converter(type_.resolve_type(), registry, config)
    if isinstance(type_, StrawberryList):
        item = type_.of_type
        skip = (GlobalID,)
        if _is_leaf_type(item, registry, skip_classes=skip) or _is_optional_leaf_type(
            item, registry, skip_classes=skip
        ):
            return _copied_list
        return _list_of(converter(item, registry, config))
    if _is_leaf_type(type_, registry) or has_enum_definition(type_):
        return _same
    if has_object_definition(type_):
        definition = type_.__strawberry_definition__
        if definition.from_input is not None or not definition.is_input:
            raise _Unsupported
        defaults = {
            field.python_name: None
            for field in definition.fields
            if field.default_value is MISSING and field.default_factory is MISSING
        }
        fields = tuple(
            (
                config.name_converter.from_field(field),
                field.python_name,
                converter(field.resolve_type(type_definition=definition), registry, config),
            )
            for field in definition.fields
        )
        return _input_of(type_, defaults, fields)
    raise _Unsupported


def _same(value: Any) -> Any:
    return value


def _copied_list(value: Any) -> Any:
    """Leaf items need no conversion, but the list is copied (graphql-core shares a default
    list between the requests that omit it)."""
    if value is None or value is UNSET:
        return value
    return list(value)


def _list_of(item: Convert) -> Convert:
    def convert(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        return [item(element) for element in value]

    return convert


def _input_of(
    cls: type, defaults: dict[str, None], fields: tuple[tuple[str, str, Convert], ...]
) -> Convert:
    def convert(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        kwargs: dict[str, Any] = dict(defaults)
        for graphql_name, python_name, field in fields:
            if graphql_name in value:
                kwargs[python_name] = field(value[graphql_name])
        return cls(**kwargs)

    return convert


@dataclass(frozen=True)
class DirectResolver:
    """A strawberry field's resolver, called with arguments converted by plan."""

    definition: StrawberryField
    function: Callable[..., Any]
    arguments: tuple[tuple[str, str, Convert], ...]  # (GraphQL name, Python name, convert)
    info_parameter: str | None
    info_class: type[Any]
    takes_source: bool  # a method's ``self``: the parent value, first (as strawberry passes it)

    def __call__(self, source: Any, info: GraphQLResolveInfo[Any], args: dict[str, Any]) -> Any:
        kwargs = {
            python_name: convert(args[graphql_name])
            for graphql_name, python_name, convert in self.arguments
            if graphql_name in args
        }
        if self.info_parameter is not None:
            kwargs[self.info_parameter] = self.info_class(_raw_info=info, _field=self.definition)
        if self.takes_source:
            return self.function(source, **kwargs)
        return self.function(**kwargs)


def direct_resolver(field: GraphQLField, schema: Any) -> DirectResolver | None:
    """The field's `DirectResolver`, or None when strawberry's wrapper must call it."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or field.resolve is None:
        return None
    resolver = definition.base_resolver
    if resolver is None or definition.extensions or not resolver.is_async:
        return None
    if resolver.parent_parameter or resolver.root_parameter:
        return None
    converter_of_schema = schema.schema_converter
    handlers = getattr(converter_of_schema, "_get_field_exception_handlers", None)
    if handlers is None or handlers(definition):
        return None
    config: StrawberryConfig = schema.config
    registry = converter_of_schema.scalar_registry
    try:
        arguments = tuple(
            (
                config.name_converter.from_argument(argument),
                argument.python_name,
                converter(argument.type, registry, config),
            )
            for argument in definition.arguments
        )
    except _Unsupported:
        return None
    function = resolver.wrapped_func
    if not callable(function):  # a staticmethod or classmethod object: strawberry's call
        return None
    info = resolver.info_parameter
    return DirectResolver(
        definition=definition,
        function=function,
        arguments=arguments,
        info_parameter=None if info is None else info.name,
        info_class=config.info_class,
        takes_source=resolver.self_parameter is not None,
    )
