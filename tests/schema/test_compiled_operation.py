"""Operation plans (`recograph.schema.compiled_operation`) on a small schema: the answers of
strawberry's general path, errors included (a resolver's error, a null where the schema says
non-null, a value that does not serialise, variables and arguments that do not coerce), with
every resolver called once; and graphql-core's execute for what the plans do not take."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

from recograph.schema.compiled import KnownDocuments
from recograph.schema.errors import coded
from recograph.schema.execution import execution_context_class
from recograph.schema.input_plans import _simply
from tests.schema.test_direct_resolvers import Colour


@strawberry.type
class Part:
    name: str
    weight: float | None


@strawberry.type
class Item:
    id: int
    name: str
    score: float
    parts: list[Part]
    best: Part | None = None


def _item(number: int) -> Item:
    """Item ``number``: 1 and 5 are whole, 2 has a null name, 3 a NaN score, 6 a part with a
    null name, 7 a null part, 8 its parts in a tuple and no best part; 4 does not exist."""
    if number == 4:
        raise ValueError("no item 4")
    name = None if number == 2 else f"item {number}"
    score = float("nan") if number == 3 else number / 2
    parts = [Part(name="a", weight=1.5), Part(name=None if number == 6 else "b", weight=None)]  # type: ignore[arg-type]
    if number == 7:  # a null in a list of non-null objects
        parts.append(None)  # type: ignore[arg-type]
    if number == 8:  # a tuple, not a list, and no best part
        return Item(id=8, name="item 8", score=4.0, parts=tuple(parts), best=None)  # type: ignore[arg-type]
    return Item(id=number, name=name, score=score, parts=parts, best=parts[0])  # type: ignore[arg-type]


@strawberry.input
class Range:
    low: int
    high: int | None = 10


@strawberry.input
class Filter:
    ids: list[int | None]
    names: list[str | None] | None = strawberry.field(default_factory=lambda: ["x"])
    colour: Colour = Colour.RED
    top: int | None = None
    range: Range | None = None


def _called(info: strawberry.Info, name: str) -> None:
    info.context["calls"].append(name)


@strawberry.type
class Query:
    @strawberry.field
    async def item(self, info: strawberry.Info, number: int = 1) -> Item | None:
        _called(info, "item")
        return _item(number)

    @strawberry.field
    async def required_item(self, info: strawberry.Info, number: int) -> Item:
        _called(info, "required_item")
        return _item(number)

    @strawberry.field
    async def items(self, info: strawberry.Info, numbers: list[int]) -> list[Item | None]:
        _called(info, "items")
        return [_item(n) for n in numbers]

    @strawberry.field
    async def echo(
        self,
        s: str,
        f: float | None = None,
        id: strawberry.ID | None = None,
        b: bool | None = None,
        tags: list[str | None] | None = None,
    ) -> str:
        return repr([s, f, id, b, tags])

    @strawberry.field
    async def find(self, filter: Filter | None = None, filters: list[Filter] | None = None) -> str:
        return repr([filter, filters])

    @strawberry.field
    def plain(self) -> str:  # not async: strawberry's call, so graphql-core's execute
        return "plain"


ITEM_FIELDS = "id name score parts { name weight } best { name }"
PLANNED = f"""query($n: Int!, $ns: [Int!]!) {{
  __typename
  item(number: $n) {{ {ITEM_FIELDS} }}
  same: item(number: $n) {{ id }}
  items(numbers: $ns) {{ ...Whole }}
  literal: item(number: 5) {{ name }}
  default: item {{ name }}
}}
fragment Whole on Item {{ {ITEM_FIELDS} }}"""
REQUIRED = f"query($n: Int!) {{ requiredItem(number: $n) {{ {ITEM_FIELDS} }} item {{ id }} }}"

CASES: list[tuple[str, dict[str, Any] | None]] = [
    (PLANNED, {"n": 1, "ns": [1, 5]}),
    # resolver errors and values that do not complete, in a nullable field
    (PLANNED, {"n": 4, "ns": [1, 2]}),
    (PLANNED, {"n": 2, "ns": [3, 6, 4]}),
    (PLANNED, {"n": 6, "ns": []}),
    (PLANNED, {"n": 3, "ns": [6, 3]}),  # a NaN score does not serialise
    (PLANNED, {"n": 7, "ns": [8, 7, 1]}),  # a null part; parts as a tuple, a null best part
    (PLANNED, {"n": 8, "ns": [8]}),
    # a non-null root field that fails nulls the whole response
    (REQUIRED, {"n": 1}),
    (REQUIRED, {"n": 2}),
    (REQUIRED, {"n": 4}),
    # variables that do not coerce, missing or null where non-null: no resolver runs
    (PLANNED, {"n": "one", "ns": [1]}),
    (PLANNED, {"ns": [1]}),
    (PLANNED, {"n": None, "ns": [None]}),
    (REQUIRED, None),
    # an Int beyond 32 bits
    (PLANNED, {"n": 2**40, "ns": [1]}),
]


def _documents() -> tuple[strawberry.Schema, KnownDocuments]:
    schema = strawberry.Schema(query=Query, execution_context_class=execution_context_class())
    return schema, KnownDocuments(schema, (), max_tokens=10_000, mask_errors=False)


async def _general(
    schema: strawberry.Schema, query: str, variables: dict[str, Any] | None
) -> tuple[dict[str, Any], list[str]]:
    calls: list[str] = []
    result = await schema.execute(query, variable_values=variables, context_value={"calls": calls})
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [coded(error, mask=False).formatted for error in result.errors]
    return body, calls


@pytest.mark.parametrize(("query", "variables"), CASES)
async def test_planned_operations_answer_as_the_general_path(
    query: str, variables: dict[str, Any] | None
) -> None:
    schema, documents = _documents()
    compiled = documents.get(query, None)
    assert compiled is not None
    assert compiled.plan is not None
    expected, expected_calls = await _general(schema, query, variables)
    for run_plans in (True, False, True):  # planned, graphql-core's execute, planned again
        documents.run_plans = run_plans
        calls: list[str] = []
        body, _ = await documents.execute(compiled, variables, {"calls": calls})
        assert body == expected, (run_plans, body)
        assert sorted(calls) == sorted(expected_calls)  # every resolver once, none again


def test_what_the_plans_do_not_take() -> None:
    _, documents = _documents()
    others = [
        "{ plain }",  # a resolver strawberry must call
        "query($skip: Boolean!) { item { id @skip(if: $skip) } }",  # a directive
        "{ __schema { queryType { name } } }",  # introspection
    ]
    for query in others:
        compiled = documents.get(query, None)
        assert compiled is not None, query
        assert compiled.plan is None, query
    assert documents.get("{ item { id } }", None).plan is not None  # type: ignore[union-attr]


async def test_documents_without_a_plan_answer_as_the_general_path() -> None:
    schema, documents = _documents()
    query = "query($skip: Boolean!) { plain item { id name @skip(if: $skip) } }"
    for skip in (True, False):
        compiled = documents.get(query, None)
        assert compiled is not None
        expected, _ = await _general(schema, query, {"skip": skip})
        body, _ = await documents.execute(compiled, {"skip": skip}, {"calls": []})
        assert body == expected


# ---------------------------------------------------------------------------- inputs

INPUTS = """query($n: Int, $ns: [Int!]!, $f: Float, $s: String!, $id: ID, $b: Boolean = true,
    $tags: [String]) {
  item(number: 1) { id }
  literal: item(number: 5) { id }
  default: item { id }
  items(numbers: $ns) { id }
  var: item(number: $n) { id }
  echo(s: $s, f: $f, id: $id, b: $b, tags: $tags)
  echoed: echo(s: "lit", f: 1, tags: ["t"], b: false)
}"""
VARIABLES: list[dict[str, Any]] = [
    {"n": 1, "ns": [1, 2], "f": 1.5, "s": "x", "id": "7", "b": False, "tags": ["a", None]},
    {"ns": [], "s": ""},  # omitted: nullable ones left out, $b its default
    {"n": None, "ns": [3], "f": None, "s": "x", "id": None, "tags": None},
    # coerced by graphql-core: an int for a Float, an int for an ID, a single value for a list
    {"ns": 3, "f": 2, "s": "x", "id": 7, "tags": "a"},
    # refused: a bool for an Int, a float for an Int, 2**31, a NaN, a null in a non-null list
    {"n": True, "ns": [], "s": "x"},
    {"n": 1.5, "ns": [], "s": "x"},
    {"n": 2**31, "ns": [], "s": "x"},
    {"ns": [], "s": "x", "f": float("nan")},
    {"ns": [1, None], "s": "x"},
    {"ns": [], "s": None},
]


# Object and list literals with variables inside, planned once (`input_plans.literal_plan`):
# variables given, null, missing (defaults of the input fields apply), of the wrong type.
LITERALS = """query($ids: [Int] = [1], $id: Int, $name: String, $colour: Colour, $top: Int,
    $low: Int = 3, $high: Int, $range: Range, $c: Colour = BLUE, $names: [String]) {
  a: find(filter: {ids: $ids, names: [$name, "y", null], colour: $colour, top: $top})
  b: find(filter: {ids: [1, $id], range: {low: $low, high: $high}, colour: $c})
  c: find(filter: {ids: [$id, $top], range: $range, names: $names})
  d: find(filters: [{ids: [$id]}, {ids: []}, {ids: $ids, top: 3}])
  e: find(filters: {ids: [$id], colour: RED})
}"""
LITERAL_VARIABLES: list[dict[str, Any] | None] = [
    {"ids": [1, 2], "id": 3, "name": "n", "colour": "BLUE", "top": 4, "low": 1, "high": 2},
    {"ids": [], "id": 0, "low": 5, "range": {"low": 1}, "names": ["a", None]},
    {"ids": [None], "id": None, "name": None, "colour": None, "top": None, "high": None},
    {"id": 2, "high": None, "range": None, "c": "RED", "names": None},
    None,
    # null where the literal needs a value: graphql-core's errors
    {"ids": None},
    {"low": None},
    # refused by the variables' coercion
    {"ids": ["x"], "id": 1},
    {"id": 1, "colour": "GREEN"},
    {"id": 2**31},
]


@pytest.mark.parametrize("variables", LITERAL_VARIABLES)
async def test_literals_with_variables_coerce_as_graphql_core(
    variables: dict[str, Any] | None,
) -> None:
    schema, documents = _documents()
    compiled = documents.get(LITERALS, None)
    assert compiled is not None
    plan = compiled.plan
    assert plan is not None
    expected = get_variable_values(
        documents.schema._schema, plan.operation.variable_definitions or (), variables or {}, 50
    )
    coerced = plan.variables.coerce(variables)
    if isinstance(expected, list):  # refused before any argument is coerced
        assert isinstance(coerced, list)
        assert [e.formatted for e in coerced] == [e.formatted for e in expected]
    else:
        assert not isinstance(coerced, list)
        for root in plan.fields:
            assert root.field is not None
            assert root.arguments is not None
            wanted = _outcome(get_argument_values, root.field, root.nodes[0], expected)
            assert _outcome(root.arguments.coerce, coerced) == wanted, root.response_key
    general, _ = await _general(schema, LITERALS, variables)
    body, _ = await documents.execute(compiled, variables, {"calls": []})
    assert body == general


def _comparable(values: VariableValues) -> tuple[Any, ...]:
    """Variable values with their types printed (graphql-core makes new wrapping types, such
    as ``[Int!]!``, for every request, and they compare by identity)."""
    sources = {
        name: (str(source.signature.type), source.signature.default, source.value)
        for name, source in values.sources.items()
    }
    return sources, values.coerced


@pytest.mark.parametrize("variables", VARIABLES)
def test_variables_and_arguments_coerce_as_graphql_core(variables: dict[str, Any]) -> None:
    _, documents = _documents()
    compiled = documents.get(INPUTS, None)
    assert compiled is not None
    plan = compiled.plan
    assert plan is not None
    schema = documents.schema._schema
    operation = plan.operation
    expected = get_variable_values(schema, operation.variable_definitions or (), variables, 50)
    coerced = plan.variables.coerce(variables)
    if isinstance(expected, list):
        assert isinstance(coerced, list)
        assert [e.formatted for e in coerced] == [e.formatted for e in expected]
        return
    assert not isinstance(coerced, list)
    assert _comparable(coerced) == _comparable(expected)
    for root in plan.fields:
        assert root.field is not None
        assert root.arguments is not None
        wanted = _outcome(get_argument_values, root.field, root.nodes[0], expected)
        assert _outcome(root.arguments.coerce, coerced) == wanted


def _outcome(call: Callable[..., dict[str, Any]], *args: Any) -> tuple[Any, ...]:
    """The arguments in their order, or the error."""
    try:
        values = call(*args)
    except GraphQLError as error:
        return ("error", error.formatted)
    return ("values", list(values.items()))


def test_simple_variables_skip_graphql_cores_walk() -> None:
    _, documents = _documents()
    compiled = documents.get(INPUTS, None)
    assert compiled is not None
    assert compiled.plan is not None
    variables = compiled.plan.variables
    assert variables.simple is not None
    simple = VARIABLES[0]
    assert _simply(variables.simple, simple) is not None
    assert _simply(variables.simple, VARIABLES[3]) is None  # an int for a Float: graphql-core's


@pytest.mark.parametrize("variables", VARIABLES)
async def test_inputs_reach_the_resolvers_as_in_the_general_path(
    variables: dict[str, Any],
) -> None:
    schema, documents = _documents()
    compiled = documents.get(INPUTS, None)
    assert compiled is not None
    expected, _ = await _general(schema, INPUTS, variables)
    body, _ = await documents.execute(compiled, variables, {"calls": []})
    assert body == expected


async def test_a_planned_request_leaves_no_reference_cycle() -> None:
    """What a planned request makes is freed when its answer is done, not left to the garbage
    collector (a collection every few dozen storefront requests, and their memory kept)."""
    _, documents = _documents()
    compiled = documents.get(PLANNED, None)
    assert compiled is not None
    await documents.execute(compiled, {"n": 1, "ns": [1, 5]}, {"calls": []})  # warm
    gc.collect()
    gc.disable()
    try:
        body, _ = await documents.execute(compiled, {"n": 1, "ns": [1, 5]}, {"calls": []})
        del body
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0
