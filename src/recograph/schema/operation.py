"""Names a GraphQL request for monitoring: its operation type and root field, and the outcome.

Clients choose operation names freely, so a metric labelled by them could grow without bound;
root fields are fixed by the schema. The label is the root field when the operation selects
one (``recommendations``), ``multiple`` when it selects several, ``invalid`` when the document
did not parse. It is left on the HTTP request's state (``request.state.graphql``), where the
monitoring middleware reads it once the response is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

STATE_KEY = "graphql"


@dataclass(frozen=True)
class OperationLabel:
    operation: str  # root field, "multiple" or "invalid"
    type: str  # query, mutation, subscription or "unknown"
    failed: bool  # the response carries errors


def label_of(document: DocumentNode | None, operation_name: str | None) -> tuple[str, str]:
    """(root field, operation type) of the operation that runs."""
    if document is None:
        return "invalid", "unknown"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = next(
        (o for o in operations if o.name is not None and o.name.value == operation_name),
        operations[0] if operations else None,
    )
    if chosen is None:
        return "invalid", "unknown"
    fields = {
        s.name.value
        for s in chosen.selection_set.selections
        if isinstance(s, FieldNode) and s.name.value != "__typename"
    }
    if len(fields) == 1:
        return fields.pop(), chosen.operation.value
    return ("multiple" if fields else "none"), chosen.operation.value


class LabelOperation(SchemaExtension):
    """Leaves an `OperationLabel` on the request (no-op when executed without HTTP)."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield None
        finally:
            self._label()

    def _label(self) -> None:
        context = self.execution_context
        request: Any = getattr(context.context, "request", None)
        state = getattr(request, "state", None)
        if state is None:
            return
        try:
            operation_name = context.operation_name
        except Exception:  # an unparsable document has no operation to name
            operation_name = None
        operation, kind = label_of(context.graphql_document, operation_name)
        result = context.result
        failed = (
            context.graphql_document is None  # a syntax error escapes before it is recorded
            or bool(context.pre_execution_errors)
            or bool(getattr(result, "errors", None))
        )
        setattr(state, STATE_KEY, OperationLabel(operation, kind, failed))
