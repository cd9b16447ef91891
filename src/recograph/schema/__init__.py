"""The GraphQL schema: types, inputs and enums, assembled with its limits and caches.

The root types and the served schema built from them are one layer up, in `recograph.api`
(they attach the resolvers, which import these types); ``schema.graphql`` at the repository
root is its SDL (regenerate with ``python -m recograph.schema``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.types import ExecutionContext, ExecutionResult

from recograph.schema.errors import coded, is_unexpected
from recograph.schema.limits import DEFAULT_MAX_FIELDS, validation_rules
from recograph.schema.operation import LabelOperation

logger = logging.getLogger(__name__)

CACHE_SIZE = 256
SDL_FILE = "schema.graphql"


@dataclass(frozen=True)
class SchemaLimits:
    """What a schema refuses and hides (from `recograph.settings.Settings`)."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    max_fields: int = DEFAULT_MAX_FIELDS
    introspection: bool = True
    mask_errors: bool = True


class RecographSchema(strawberry.Schema):
    """Logs only unexpected errors (with their traceback); client errors are not news. Every
    error of a result gets an ``extensions.code``, and unexpected ones lose their message
    unless ``mask_errors`` is off (`recograph.schema.errors.coded`).

    The codes are set here rather than in an extension because a syntax error escapes the
    extensions' ``on_operation`` hooks (``ParserCache`` parses while entering ``on_parse``).
    """

    def __init__(self, *args: Any, mask_errors: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mask_errors = mask_errors

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        result = await super().execute(*args, **kwargs)
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [coded(error, mask=self.mask_errors) for error in errors]
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if is_unexpected(error):
                logger.error("unexpected error: %s", error.message, exc_info=error.original_error)
            else:
                logger.debug("client error: %s", error.message)


def extensions_for(limits: SchemaLimits) -> list[Callable[[], SchemaExtension]]:
    rules = list(
        validation_rules(
            limits.max_depth,
            limits.max_aliases,
            introspection=limits.introspection,
            max_fields=limits.max_fields,
        )
    )
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        LabelOperation,
    ]
    return extensions


def validation_cache_info() -> Any:
    """Hits and misses of the shared validation cache (``functools`` cache_info)."""
    from strawberry.extensions.validation_cache import _get_validate_cache

    return _get_validate_cache(CACHE_SIZE).cache_info()  # type: ignore[attr-defined]
