"""A known query executed by a plan made once per document, not by graphql-core's operation walk.

`recograph.schema.compiled` keeps a document parsed and validated; graphql-core's ``execute``
still walks the operation on every request: it scans the document for the operation and its
fragments, collects the root fields, builds the resolve info, looks every plain-object plan up
again (`recograph.schema.execution`) and wraps each step in awaitables. For a storefront
request that is about a fifth of what is not the engine. An `OperationPlan` does that walk
once, when the document is compiled, and keeps for each root field its response key, field
nodes, direct resolver (`recograph.schema.direct`) and the completion of its whole value as one
plan; a request then coerces its variables, resolves the root fields and completes their values
with the plans, and ``orjson`` turns the result into bytes.

**Which operations.** A query (not a mutation: those run serially, and are rare) whose
document holds no directive at all (so no ``@skip``/``@include`` makes the selection depend on
variables, and no ``@defer``, ``@stream`` or ``@disableErrorPropagation``) and no fragment
with variables; every root field is ``__typename`` or has a direct resolver; and the value of
every root field completes by a plan (plain objects, lists and leaves: see
`PlainObjectExecutionContext`). Anything else keeps graphql-core's ``execute``.

**The same answers, errors included.** Each step is graphql-core's own, in graphql-core's
order: the variables are coerced as ``get_variable_values`` coerces them (a refusal answers
with its errors before anything runs), each root field's arguments as ``get_argument_values``
does, just before its resolver is called (`recograph.schema.input_plans`: what never changes
is worked out once), an error of a resolver is located and nulled by the execution context's
``handle_field_error`` (a non-null root field nulls ``data``), several root fields are awaited
together with ``gather_with_cancel``. A value the plan cannot complete (a null in a non-null
field, a failing coercion) is completed again by the execution context's ``complete_value``,
which reports the error as graphql-core does: the plans have no side effects, and the resolver
is not called again (the recommendations resolver logs an impression).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    OperationDefinitionNode,
    OperationType,
    default_field_resolver,
    default_type_resolver,
)
from graphql.execution.collect_fields import FieldDetailsList, FragmentDetails, collect_fields
from graphql.execution.values import VariableValues
from graphql.pyutils import Path, gather_with_cancel
from graphql.type.definition import GraphQLResolveInfoHelpers

from recograph.schema.direct import DirectResolver, direct_resolver
from recograph.schema.execution import Completer, DirectRootExecutionContext, Fallback
from recograph.schema.input_plans import (
    ArgumentPlan,
    VariablePlan,
    argument_plan,
    contains,
    variable_plan,
)


@dataclass(frozen=True)
class RootField:
    """One root field of the operation: how to resolve it and complete its value."""

    response_key: str
    field: GraphQLField | None  # None for __typename
    details: FieldDetailsList
    nodes: list[FieldNode]
    resolver: DirectResolver | None
    complete: Completer | None
    arguments: ArgumentPlan | None


@dataclass(frozen=True)
class OperationPlan:
    """Everything about a query that does not change between requests (module docstring)."""

    strawberry_schema: Any
    document: DocumentNode
    operation: OperationDefinitionNode
    root_type: GraphQLObjectType
    fragment_definitions: dict[str, FragmentDefinitionNode]
    fragments: dict[str, FragmentDetails]
    fields: tuple[RootField, ...]
    variables: VariablePlan
    executor_class: type[DirectRootExecutionContext]
    is_awaitable: Any

    def _executor(
        self, variables: VariableValues, context: Any, extensions: dict[str, Any] | None
    ) -> DirectRootExecutionContext:
        """The execution context graphql-core's ``execute`` would build for this request: the
        resolve info and the error handling are its own."""
        return self.executor_class(
            self.strawberry_schema._schema,
            self.fragment_definitions,
            self.fragments,
            None,
            context,
            self.operation,
            variables,
            default_field_resolver,
            default_type_resolver,
            default_field_resolver,
            False,
            None,
            self.is_awaitable,
            None,
            hide_suggestions=False,
            abort_signal=None,
            hooks=None,
            operation_extensions=extensions,
        )

    async def execute(
        self,
        variables: dict[str, Any] | None,
        context: Any,
        extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        """The result graphql-core's ``execute`` gives for this request."""
        coerced = self.variables.coerce(variables)
        if isinstance(coerced, list):
            return ExecutionResult(None, coerced)
        request = _Request(self, coerced, context, extensions)
        try:
            data = await self._execute_fields(request, coerced)
        except GraphQLError as error:  # a non-null root field failed: no data
            request.context().collected_errors.add(error, None)
            data = None
        return ExecutionResult(data, request.errors())

    async def _execute_fields(self, request: _Request, variables: VariableValues) -> dict[str, Any]:
        """graphql-core's ``execute_fields`` for the root, with the planned fields."""
        results: dict[str, Any] = {}
        awaited: list[str] = []
        root_type = self.root_type
        try:
            for root in self.fields:
                field, resolver, complete = root.field, root.resolver, root.complete
                arguments = root.arguments
                if field is None or resolver is None or complete is None or arguments is None:
                    results[root.response_key] = root_type.name
                    continue
                path = Path(None, root.response_key, root_type.name)
                info = request.resolve_info(field, root.nodes, root_type, path)
                try:
                    args = arguments.coerce(variables)
                    result = resolver(None, info, args)
                except Exception as raw_error:
                    request.context().handle_field_error(raw_error, field.type, root.details, path)
                    results[root.response_key] = None
                    continue
                self.executor_class.direct_calls[0] += 1
                if not self.is_awaitable(result):
                    result = _resolved(result)
                results[root.response_key] = _completed(
                    request, root, field, complete, info, path, result
                )
                awaited.append(root.response_key)
        except Exception:
            if awaited:
                request.context().settle_in_background([results[key] for key in awaited])
            raise
        if len(awaited) == 1:
            results[awaited[0]] = await results[awaited[0]]
        elif awaited:
            values = await gather_with_cancel(*(results[key] for key in awaited))
            results.update(zip(awaited, values, strict=True))
        return results


class _Request:
    """One request of a planned operation: what the resolve info reads (the attributes of an
    execution context that strawberry's ``build_resolve_info`` uses), and the graphql-core
    execution context itself, made only when an error, a value the plans cannot complete or
    a resolver's use of ``info.async_helpers`` needs it: making one costs about as much as
    completing a whole storefront response."""

    __slots__ = (
        "_context",
        "abort_signal",
        "context_value",
        "fragment_definitions",
        "is_awaitable",
        "operation",
        "operation_extensions",
        "plan",
        "root_value",
        "schema",
        "variable_values",
    )

    def __init__(
        self,
        plan: OperationPlan,
        variables: VariableValues,
        context: Any,
        extensions: dict[str, Any] | None,
    ) -> None:
        self.plan = plan
        self.schema = plan.strawberry_schema._schema
        self.fragment_definitions = plan.fragment_definitions
        self.root_value = None
        self.operation = plan.operation
        self.variable_values = variables
        self.context_value = context
        self.is_awaitable = plan.is_awaitable
        self.abort_signal = None
        self.operation_extensions = extensions
        self._context: DirectRootExecutionContext | None = None

    def context(self) -> DirectRootExecutionContext:
        """graphql-core's execution context for this request (made on first use)."""
        if self._context is None:
            self._context = self.plan._executor(
                self.variable_values, self.context_value, self.operation_extensions
            )
        return self._context

    @property
    def async_helpers(self) -> GraphQLResolveInfoHelpers:
        """The helpers a resolve info carries, made when one is built (once per root field)
        and not kept here: kept, their bound methods and this request would make a reference
        cycle, and every request would leave its context, variables and HTTP request to the
        garbage collector (a young-generation collection every ≈ 30 requests) instead of
        being freed when the response is sent."""
        return GraphQLResolveInfoHelpers(gather=self._gather, track=self._track)

    def errors(self) -> list[GraphQLError] | None:
        return None if self._context is None else self._context.collected_errors.errors or None

    def resolve_info(
        self, field: GraphQLField, nodes: list[FieldNode], parent: GraphQLObjectType, path: Path
    ) -> GraphQLResolveInfo[Any]:
        """The resolve info the execution context would build (its own method, on this)."""
        build = self.plan.executor_class.build_resolve_info
        return build(self, field, nodes, parent, path)  # type: ignore[arg-type]

    def _gather(self, values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        return self.context().gather_async_work(values)

    def _track(self, values: Sequence[Any]) -> None:
        self.context().track_async_work(values)


async def _completed(
    request: _Request,
    root: RootField,
    field: GraphQLField,
    complete: Completer,
    info: Any,
    path: Path,
    result: Awaitable[Any],
) -> Any:
    """graphql-core's ``complete_awaitable_value``, with the plan first (a coroutine function
    called with its arguments: no closure and cells made per request)."""
    try:
        resolved = await result
        try:
            return complete(resolved)
        except Fallback:
            executor = request.context()
            value = executor.complete_value(field.type, root.details, info, path, resolved, None)
            return await value if executor.is_awaitable(value) else value
    except Exception as raw_error:
        request.context().handle_field_error(raw_error, field.type, root.details, path)
        return None


async def _resolved(value: Any) -> Any:
    return value


def operation_plan(
    strawberry_schema: Any,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    executor_class: type[DirectRootExecutionContext],
    is_awaitable: Any,
) -> OperationPlan | None:
    """The plan of ``operation`` (of a validated ``document``), or None when graphql-core's
    ``execute`` must run it (the criterion is in the module docstring)."""
    if operation.operation is not OperationType.QUERY or contains(document, DirectiveNode):
        return None
    schema = strawberry_schema._schema
    root_type = schema.query_type
    fragment_definitions: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            if definition.variable_definitions:
                return None
            fragment_definitions[definition.name.value] = definition
    fragments = {name: FragmentDetails(d) for name, d in fragment_definitions.items()}
    no_variables = VariableValues({}, {})  # no directives: the selection cannot depend on them
    grouped, defer_usages, forbidden = collect_fields(
        schema, fragments, no_variables, root_type, operation
    )
    if defer_usages or forbidden:
        return None
    plan = OperationPlan(
        strawberry_schema=strawberry_schema,
        document=document,
        operation=operation,
        root_type=root_type,
        fragment_definitions=fragment_definitions,
        fragments=fragments,
        fields=(),
        variables=variable_plan(schema, operation),
        executor_class=executor_class,
        is_awaitable=is_awaitable,
    )
    planner = plan._executor(no_variables, None, None)
    fields: list[RootField] = []
    for response_key, details in grouped.items():
        nodes = [d.node for d in details]
        name = nodes[0].name.value
        if name == "__typename":
            fields.append(RootField(response_key, None, details, nodes, None, None, None))
            continue
        field = root_type.fields.get(name)
        resolver = None if field is None else direct_resolver(field, strawberry_schema)
        complete = None if field is None else planner._completer(field.type, details)
        if field is None or resolver is None or complete is None:
            return None
        arguments = argument_plan(field, nodes[0])
        fields.append(RootField(response_key, field, details, nodes, resolver, complete, arguments))
    return replace(plan, fields=tuple(fields))
