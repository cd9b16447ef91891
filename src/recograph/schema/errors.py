"""Errors a client can act on: each carries a stable ``extensions.code``.

Resolvers raise `ApiError` subclasses; everything else is a bug and is masked (outside debug
mode) by the schema's `MaskErrors` predicate, `should_mask`.

    ApiError
    ├── BadInput        BAD_INPUT     out-of-range limits, malformed context or cursors
    ├── NotFound        NOT_FOUND     unknown product or customer ids
    ├── Forbidden       FORBIDDEN     admin-only operations without the admin token
    └── Unavailable     UNAVAILABLE   no model loaded yet, or a reload that was refused
"""

from __future__ import annotations

from typing import Any, ClassVar

from graphql import GraphQLError


class ApiError(Exception):
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


def should_mask(error: GraphQLError) -> bool:
    """`MaskErrors` predicate: hide unexpected errors, keep validation and API messages."""
    return is_unexpected(error)
