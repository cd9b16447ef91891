"""Query depth and alias limits as validation-rule classes built once per limit value.

Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` create a new rule class for every
request; the validation cache is keyed by the rule classes, so it would never hit (strawberry
issue #4635). Building each class once and adding it with ``AddValidationRules`` keeps the key
stable, and validation of a repeated query costs a cache look-up.
"""

from __future__ import annotations

from functools import cache

from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator


@cache
def depth_rule(max_depth: int) -> type[ASTValidationRule]:
    return depth_validator(max_depth, None, None)


@cache
def alias_rule(max_aliases: int) -> type[ASTValidationRule]:
    return alias_validator(max_aliases)


def validation_rules(
    max_depth: int, max_aliases: int, *, introspection: bool
) -> tuple[type[ASTValidationRule], ...]:
    """The extra rules of a schema; the same classes for the same limits, every time."""
    rules: list[type[ASTValidationRule]] = [depth_rule(max_depth), alias_rule(max_aliases)]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)
