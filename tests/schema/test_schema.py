"""The schema itself: SDL file up to date, limits, caches, error masking."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import strawberry
from graphql import GraphQLError

from recograph.api import build_schema, export_sdl
from recograph.online.config import ServingConfig
from recograph.online.events import EventWriter
from recograph.online.state import Loaded, ServingState
from recograph.resolvers.context import RequestContext, Services
from recograph.schema import SDL_FILE, SchemaLimits, validation_cache_info
from recograph.schema.enums import RuleLevel
from recograph.schema.errors import MASKED_MESSAGE, NotFound, coded
from recograph.schema.execution import execution_context_class
from recograph.schema.limits import alias_rule, depth_rule
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot
from tests.conftest import REPO


def test_sdl_file_is_up_to_date() -> None:
    assert (REPO / SDL_FILE).read_text() == export_sdl(), (
        "schema.graphql is out of date: run `python -m recograph.schema` and commit it"
    )


def _context() -> RequestContext:
    services = Services(
        settings=Settings(),
        config=ServingConfig(),
        state=ServingState(Path("unused")),
        events=EventWriter(None),
    )
    return RequestContext(services=services, loaded=None)


async def test_validation_cache_hits_on_repeated_queries() -> None:
    schema = build_schema()
    query = "query Q($id: Int!) { product(id: $id) { id name } categories { name } }"
    before = validation_cache_info()
    for i in range(20):
        await schema.execute(query, variable_values={"id": i}, context_value=_context())
    after = validation_cache_info()
    assert after.misses - before.misses <= 1
    assert after.hits - before.hits >= 19


def test_limit_rules_are_built_once() -> None:
    assert depth_rule(12) is depth_rule(12)
    assert alias_rule(30) is alias_rule(30)


async def test_depth_alias_and_token_limits() -> None:
    schema = build_schema(SchemaLimits(max_depth=3, max_aliases=2, max_tokens=60))
    deep = "{ recommendations { items { reason { evidence { specs { key } } } } } }"
    result = await schema.execute(deep, context_value=_context())
    assert result.errors is not None
    assert "exceeds maximum operation depth of 3" in result.errors[0].message
    aliased = "{ a: categories { name } b: categories { name } c: categories { name } }"
    result = await schema.execute(aliased, context_value=_context())
    assert result.errors is not None
    assert result.errors[0].message == "3 aliases found. Allowed: 2"
    long = "{ " + " ".join("categories { name }" for _ in range(30)) + " }"
    result = await schema.execute(long, context_value=_context())
    assert result.errors is not None
    assert "more than 60 tokens" in result.errors[0].message


def test_masking_hides_only_bugs() -> None:
    """`coded(mask=True)` is what the schema applies: bugs lose their message, client and
    validation errors keep theirs."""
    bug = GraphQLError("boom", original_error=RuntimeError("internal detail"))
    client = GraphQLError("unknown product id 1 in id", original_error=NotFound("x"))
    validation = GraphQLError("Cannot query field 'x' on type 'Query'.")
    masked = coded(bug, mask=True)
    assert masked.message == MASKED_MESSAGE
    assert "boom" not in str(masked.formatted)
    assert "internal detail" not in str(masked.formatted)
    assert masked.extensions == {"code": "INTERNAL"}
    assert coded(client, mask=True).message == "unknown product id 1 in id"
    assert coded(client, mask=True).extensions == {"code": "NOT_FOUND"}
    assert coded(validation, mask=True).message == "Cannot query field 'x' on type 'Query'."
    assert coded(validation, mask=True).extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_unexpected_errors_are_masked_outside_debug() -> None:
    broken = _context()
    broken.loaded = cast(Loaded, object())  # any use of the snapshot now raises AttributeError
    masked = await build_schema().execute("{ categories { name } }", context_value=broken)
    assert masked.errors is not None
    assert masked.errors[0].message == "Unexpected error."
    debug = build_schema(SchemaLimits(mask_errors=False))
    shown = await debug.execute("{ categories { name } }", context_value=broken)
    assert shown.errors is not None
    assert "derived" in shown.errors[0].message


@strawberry.type
class _Leaf:
    name: str
    score: float | None
    count: int = 1


@strawberry.type
class _Node:
    label: str
    leaves: list[_Leaf]
    kind: RuleLevel
    best: _Leaf | None = None


class _Partial:
    label = "outer"
    name = "outer"  # what a child {name} would wrongly read if ``best`` fell back to the parent
    kind = RuleLevel.PRODUCT  # no ``best``


@strawberry.type
class _Query:
    @strawberry.field
    def nodes(self) -> list[_Node] | None:
        good = _Node(label="a", leaves=[_Leaf(name="x", score=1.5)], kind=RuleLevel.PRODUCT)
        # A null where the schema says non-null: both executors must report the same error.
        bad = _Node(label=None, leaves=[_Leaf(name="y", score=None)], kind=RuleLevel.CATEGORY)  # type: ignore[arg-type]
        return [good, bad]

    @strawberry.field
    def partial(self) -> _Node | None:
        # An object missing a field the query asks for: an error, never the parent's data.
        return _Partial()  # type: ignore[return-value]

    @strawberry.field
    def odd(self) -> list[_Leaf] | None:
        # Values graphql-core refuses to serialise: NaN and an Int beyond 32 bits.
        return [_Leaf(name="z", score=float("nan")), _Leaf(name="w", score=1.0, count=2**40)]


def test_plain_object_executor_matches_graphql_core_including_errors() -> None:
    query = (
        "{ nodes { __typename label kind leaves { name score count } } alias: nodes { kind } "
        "odd { name score count } partial { label best { name } } }"
    )
    standard = strawberry.Schema(query=_Query).execute_sync(query)
    fast = strawberry.Schema(query=_Query, execution_context_class=execution_context_class())
    for _ in range(2):  # the second run uses the shared plans
        result = fast.execute_sync(query)
        assert result.data == standard.data
        assert [(e.message, e.path) for e in result.errors or []] == [
            (e.message, e.path) for e in standard.errors or []
        ]
    assert standard.errors is not None
    # the null label, the NaN, the 2**40 and the missing attribute are errors
    assert len(standard.errors) == 4
    assert standard.data is not None
    # the missing (nullable) field is null; the fast path once filled it from the parent
    assert standard.data["partial"] == {"label": "outer", "best": None}


async def test_served_schema_answers_like_graphql_core(snapshot: ModelSnapshot) -> None:
    customer = int(snapshot.histories.user_ids[5])
    product = int(snapshot.catalogue.item_ids[3])
    query = """query($c: Int!, $p: Int!) {
      recommendations(customerId: $c, context: {cartProductIds: [$p], pageType: CART}) {
        requestId modelVersion strategy explanation segment weights { signal weight }
        items { rank score product { id name category price inStock specs { key value } }
                reason { kind text metric value features evidence { id name } }
                contributions { signal score weight } }
      }
      customer(id: $c) { id name segment orders { id total lines { quantity product { id } } } }
      associationRules(first: 5) { totalCount edges { cursor node { id lift antecedents } } }
      similarProducts(productId: $p, limit: 3) { similarity sharedFeatures product { id } }
    }"""
    state = ServingState(Path("unused"))
    state.install(snapshot)
    services = Services(Settings(), ServingConfig(), state, EventWriter(None))
    results = []
    for schema in (build_schema(fast=False), build_schema(), build_schema()):
        context = RequestContext(services, state.current, request_id="fixed")
        result = await schema.execute(
            query, variable_values={"c": customer, "p": product}, context_value=context
        )
        assert result.errors is None
        results.append(result.data)
    assert results[0] == results[1] == results[2]
