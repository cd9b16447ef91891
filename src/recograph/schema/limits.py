"""Query depth, alias and field-count limits as validation-rule classes built once per value.

Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` create a new rule class for every
request; the validation cache is keyed by the rule classes, so it would never hit (strawberry
issue #4635). Building each class once and adding it with ``AddValidationRules`` keeps the key
stable, and validation of a repeated query costs a cache look-up.

The field-count rule exists because graphql-core's "overlapping fields can be merged" rule is
quadratic in the fields of a selection set: within the 2,000-token limit, ~2,000 repeated
``__typename`` fields cost 0.6 s of event-loop time to validate (measured on the 2-core
development machine). The rule counts field selections before any other rule looks at them and
aborts validation of a document over the limit.
"""

from __future__ import annotations

from functools import cache

from graphql import DocumentNode, FieldNode, Node
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

DEFAULT_MAX_FIELDS = 300


@cache
def depth_rule(max_depth: int) -> type[ASTValidationRule]:
    return depth_validator(max_depth, None, None)


@cache
def alias_rule(max_aliases: int) -> type[ASTValidationRule]:
    return alias_validator(max_aliases)


def count_fields(document: DocumentNode) -> int:
    """Field selections written in ``document`` (fragments counted once, where defined)."""
    count = 0
    stack: list[Node] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode):
            count += 1
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return count


@cache
def field_count_rule(max_fields: int) -> type[ASTValidationRule]:
    class MaxFieldsRule(ASTValidationRule):
        """Abort validation of a document selecting more than ``max_fields`` fields."""

        def enter_document(self, node: DocumentNode, *_: object) -> None:
            count = count_fields(node)
            if count > max_fields:
                raise ValidationAbortedError(
                    f"{count} fields selected; at most {max_fields} are allowed"
                )

    return MaxFieldsRule


def validation_rules(
    max_depth: int,
    max_aliases: int,
    *,
    introspection: bool,
    max_fields: int = DEFAULT_MAX_FIELDS,
) -> tuple[type[ASTValidationRule], ...]:
    """The extra rules of a schema; the same classes for the same limits, every time. The
    field count comes first so that nothing costly runs on a document over it."""
    rules: list[type[ASTValidationRule]] = [
        field_count_rule(max_fields),
        depth_rule(max_depth),
        alias_rule(max_aliases),
    ]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)
