"""Errors a client can act on: each carries a stable ``extensions.code``.

Resolvers raise `ApiError` subclasses; everything else is a bug and is masked (outside debug
mode). `coded` gives every error of a response a code (``RecographSchema.execute`` applies it),
so a client can tell a rejection from a fault without reading messages:

    ApiError
    ├── BadInput        BAD_INPUT     out-of-range limits, malformed context or cursors
    ├── NotFound        NOT_FOUND     unknown product or customer ids
    ├── Forbidden       FORBIDDEN     admin-only operations without the admin token
    └── Unavailable     UNAVAILABLE   no model loaded yet, or a reload that was refused
    GraphQLSyntaxError  GRAPHQL_PARSE_FAILED       not GraphQL, or over the token limit
    other GraphQLError  GRAPHQL_VALIDATION_FAILED  unknown fields, wrong argument or variable
                                                   types, depth, alias and introspection limits
    anything else       INTERNAL      a bug: "Unexpected error." unless in debug mode
"""

from __future__ import annotations

from typing import Any, ClassVar

from graphql import GraphQLError, GraphQLSyntaxError

from recograph.core.errors import RecographError


class ApiError(RecographError):
    """An error whose message is meant for the client."""

    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **details}


class BadInput(ApiError):
    code = "BAD_INPUT"


class NotFound(ApiError):
    code = "NOT_FOUND"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class Unavailable(ApiError):
    code = "UNAVAILABLE"


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors raised by a bug rather than by the client's request."""
    original = error.original_error
    return original is not None and not isinstance(original, ApiError | GraphQLError)


PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL"
MASKED_MESSAGE = "Unexpected error."


def error_code(error: GraphQLError) -> str:
    """The ``extensions.code`` of an error (see the table at the top of this module)."""
    original = error.original_error
    if isinstance(original, ApiError):
        return original.code
    if isinstance(error, GraphQLSyntaxError):
        return PARSE_FAILED
    if is_unexpected(error):
        return INTERNAL
    return VALIDATION_FAILED


def coded(error: GraphQLError, *, mask: bool) -> GraphQLError:
    """``error`` with its code; an unexpected one without its message when ``mask``."""
    code = error_code(error)
    if mask and code == INTERNAL:
        return GraphQLError(
            MASKED_MESSAGE,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": INTERNAL},
        )
    error.extensions = {**(error.extensions or {}), "code": code}
    return error
