"""The fast path (`recograph.schema.execution`, `recograph.schema.compiled`) leans on Strawberry
and graphql-core internals; pyproject.toml caps both packages at the tested minor version.
These tests fail loudly, naming the internal, when an upgrade moves or reshapes one, before
any answer can differ."""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import version

import pytest

# (module, attribute) pairs the fast path imports that neither package documents.
INTERNALS = [
    ("strawberry.schema.schema", "StrawberryGraphQLCoreExecutionContext"),
    ("strawberry.schema.schema", "validate_document"),
    ("strawberry.schema.schema_converter", "GraphQLCoreConverter"),
    ("strawberry.types.field", "StrawberryField"),
    ("strawberry.execution", "optimized_is_awaitable"),
    ("graphql.execution.collect_fields", "FieldDetailsList"),
    ("graphql.pyutils", "AwaitableOrValue"),
    ("graphql.pyutils", "Path"),
    ("graphql.pyutils", "Undefined"),
    # operation plans (recograph.schema.compiled_operation, recograph.schema.input_plans)
    ("graphql.execution.collect_fields", "collect_fields"),
    ("graphql.execution.collect_fields", "FragmentDetails"),
    ("graphql.execution.values", "VariableValues"),
    ("graphql.execution.values", "VariableValueSource"),
    ("graphql.execution.values", "coerce_argument"),
    ("graphql.execution.get_variable_signature", "get_variable_signature"),
    ("graphql.execution.get_variable_signature", "GraphQLVariableSignature"),
    ("graphql.pyutils", "gather_with_cancel"),
]


# graphql-core's complete_value and complete_object_value, which the plans call and override
COMPLETION_PARAMETERS = [
    "self",
    "return_type",
    "field_details_list",
    "info",
    "path",
    "result",
    "position_context",
]


def test_the_execution_context_operation_plans_build_keeps_its_shape() -> None:
    """`OperationPlan._executor` passes the context's arguments by position and calls its
    error and completion steps."""
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext as Context

    signatures = [
        list(inspect.signature(cls.__init__).parameters)
        for cls in Context.__mro__
        if "__init__" in cls.__dict__
    ]
    parameters = next(names for names in signatures if "schema" in names)
    assert parameters[:15] == [
        "self",
        "schema",
        "fragment_definitions",
        "fragments",
        "root_value",
        "context_value",
        "operation",
        "variable_values",
        "field_resolver",
        "type_resolver",
        "subscribe_field_resolver",
        "enable_early_execution",
        "middleware_manager",
        "is_awaitable",
        "is_async_iterable",
    ], parameters
    for method in ("handle_field_error", "complete_value", "settle_in_background"):
        assert callable(getattr(Context, method, None)), method
    complete = list(inspect.signature(Context.complete_value).parameters)
    assert complete == COMPLETION_PARAMETERS, complete


@pytest.mark.parametrize(("module", "name"), INTERNALS)
def test_internal_still_exists(module: str, name: str) -> None:
    found = getattr(importlib.import_module(module), name, None)
    assert found is not None, f"{module}.{name} moved: recograph.schema.execution needs it"


def test_execution_context_hooks_keep_their_shape() -> None:
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext as Context

    complete = inspect.signature(Context.complete_object_value).parameters
    assert list(complete) == COMPLETION_PARAMETERS, (
        f"complete_object_value changed: {list(complete)}"
    )
    collect = inspect.signature(Context.collect_subfields).parameters
    assert list(collect) == ["self", "return_type", "field_details_list"]
    initialisers = [
        inspect.getsource(cls.__init__)
        for cls in Context.__mro__
        if "__init__" in cls.__dict__ and cls.__module__.startswith(("graphql", "strawberry"))
    ]
    assert any("self.middleware_manager" in code for code in initialisers)


def test_basic_fields_are_recognised_as_the_fast_path_expects() -> None:
    from strawberry.schema.schema_converter import GraphQLCoreConverter
    from strawberry.types.field import StrawberryField

    from recograph.api import build_schema

    graphql_schema = build_schema()._schema
    product = graphql_schema.type_map["Product"]
    field = product.fields["name"]  # type: ignore[union-attr]
    definition = field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
    assert isinstance(definition, StrawberryField)
    assert definition.is_basic_field
    assert getattr(field.resolve, "_is_default", False), "default resolvers lost _is_default"


def test_installed_versions_are_the_tested_ones() -> None:
    # Raise these together with the caps in pyproject.toml, after this file passes.
    assert version("strawberry-graphql").startswith("0.341."), version("strawberry-graphql")
    assert version("graphql-core").startswith("3.3."), version("graphql-core")
