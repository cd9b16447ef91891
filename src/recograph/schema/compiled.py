"""Known documents, compiled once: parsed, validated and planned on first sight, then executed
for every later request with the same text.

Storefronts send the same few documents with new variables. Strawberry's general path runs
its extension pipeline on every request (token limit, parser and validation caches, labelling:
a dozen async context managers) before graphql-core executes. A `CompiledDocument` keeps what
never changes for a document — the parsed AST (so the execution context's shared plans for
plain-object subtrees hit, see `recograph.schema.execution`), the outcome of validation with the
schema's own limits, the operation chosen and its monitoring label, and, for a query plain
enough, its operation plan (`recograph.schema.compiled_operation`, which replaces graphql-core's
``execute``) — so a request only coerces its variables, runs the resolvers and serializes the
result with orjson.

The semantics are the general path's: the same validation rules (graphql-core's, strawberry's
two, and the depth/alias/field/introspection limits), the same token limit, the same execution
context class, the same error codes and masking (`coded`) and logging (``process_errors``).
A document this module cannot take — it does not parse or validate, names an unknown
operation, or is a subscription — is not compiled; the caller sends the request down the
general path, which reports the error exactly as before.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, TypeGuard

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
)
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import validate_document

from recograph.schema.compiled_operation import OperationPlan, operation_plan
from recograph.schema.errors import coded
from recograph.schema.execution import (
    DirectRootExecutionContext,
    PlainObjectExecutionContext,
    direct_context_class,
)
from recograph.schema.operation import label_of

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"


def _is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    """Strawberry's faster check (what its general path passes to graphql-core)."""
    return optimized_is_awaitable(value)


def document_hash(query: str) -> str:
    """The automatic-persisted-query hash of a document: sha256 of its UTF-8 text, hex."""
    return hashlib.sha256(query.encode()).hexdigest()


@dataclass(frozen=True)
class CompiledDocument:
    """A document that parsed and validated, with the operation a request runs."""

    query: str
    document: DocumentNode
    operation_name: str | None
    operation_type: OperationType
    label: tuple[str, str]  # (root field, operation type) for monitoring
    plan: OperationPlan | None = None  # None: graphql-core's execute runs it


class KnownDocuments:
    """Compiled documents of one schema, by (text, operation name), in a bounded LRU; and the
    persisted-query registry (sha256 -> text) of documents that compiled.

    A document that fails to compile is remembered as such too, so a bad document costs one
    parse and validation here, not one per request.
    """

    def __init__(
        self,
        schema: Any,
        rules: tuple[Any, ...],
        *,
        max_tokens: int,
        mask_errors: bool,
        size: int = 256,
    ) -> None:
        self.schema = schema
        self.rules = (*specified_rules, *rules)
        self.max_tokens = max_tokens
        self.mask_errors = mask_errors
        self.size = size
        self._compiled: OrderedDict[tuple[str, str | None], CompiledDocument | None]
        self._compiled = OrderedDict()
        self._persisted: OrderedDict[str, str] = OrderedDict()
        self.compilations = 0
        self.hits = 0
        base = schema.execution_context_class
        self.executor_class: type[Any] = base
        self.direct_class: type[DirectRootExecutionContext] | None = None
        self.run_plans = True  # False only to measure graphql-core's execute against them
        if isinstance(base, type) and issubclass(base, PlainObjectExecutionContext):
            self.direct_class = direct_context_class(schema, base)
            self.executor_class = self.direct_class

    # ------------------------------------------------------------------ documents

    def get(self, query: str, operation_name: str | None) -> CompiledDocument | None:
        """The compiled document, compiling it on first sight; None when it cannot be
        compiled (the general path must answer)."""
        key = (query, operation_name)
        if key in self._compiled:
            self._compiled.move_to_end(key)
            self.hits += 1
            return self._compiled[key]
        compiled = self._compile(query, operation_name)
        self.compilations += 1
        self._compiled[key] = compiled
        while len(self._compiled) > self.size:
            self._compiled.popitem(last=False)
        return compiled

    def _compile(self, query: str, operation_name: str | None) -> CompiledDocument | None:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            return None
        if validate_document(self.schema._schema, document, self.rules):
            return None
        operation = get_operation_ast(document, operation_name)
        if not isinstance(operation, OperationDefinitionNode):
            return None
        if operation.operation not in (OperationType.QUERY, OperationType.MUTATION):
            return None
        plan = None
        if self.direct_class is not None:
            plan = operation_plan(
                self.schema, document, operation, self.direct_class, _is_awaitable
            )
        return CompiledDocument(
            query=query,
            document=document,
            operation_name=operation_name,
            operation_type=operation.operation,
            label=label_of(document, operation_name),
            plan=plan,
        )

    # ------------------------------------------------------------------ persisted queries

    def persisted(self, sha256: str) -> str | None:
        """The text registered under an APQ hash, or None (the client must send it)."""
        query = self._persisted.get(sha256)
        if query is not None:
            self._persisted.move_to_end(sha256)
        return query

    def register(self, sha256: str, query: str) -> None:
        """Remember ``query`` under its hash (the caller checked that they match)."""
        self._persisted[sha256] = query
        self._persisted.move_to_end(sha256)
        while len(self._persisted) > self.size:
            self._persisted.popitem(last=False)

    # ------------------------------------------------------------------ execution

    async def execute(
        self,
        compiled: CompiledDocument,
        variables: dict[str, Any] | None,
        context: Any,
        operation_extensions: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], list[GraphQLError]]:
        """Run a compiled document: the response body (``data`` and, when any, ``errors``
        formatted as the general path formats them) and the errors before formatting."""
        if (
            compiled.plan is not None
            and self.run_plans
            and self.executor_class is self.direct_class
        ):
            result = await compiled.plan.execute(variables, context, operation_extensions)
        else:
            result = await self._execute(compiled, variables, context, operation_extensions)
        body: dict[str, Any] = {"data": result.data}
        errors = list(result.errors or ())
        if errors:
            self.schema.process_errors(errors)
            errors = [coded(error, mask=self.mask_errors) for error in errors]
            body["errors"] = [error.formatted for error in errors]
        return body, errors

    async def _execute(
        self,
        compiled: CompiledDocument,
        variables: dict[str, Any] | None,
        context: Any,
        operation_extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        """graphql-core's execute, with this schema's execution context."""
        outcome = execute(
            self.schema._schema,
            compiled.document,
            context_value=context,
            variable_values=variables,
            operation_name=compiled.operation_name,
            executor_class=self.executor_class,
            is_awaitable=_is_awaitable,
            operation_extensions=operation_extensions,
        )
        return await outcome if isawaitable(outcome) else outcome
