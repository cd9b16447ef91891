"""Direct root resolvers of compiled documents (`recograph.schema.direct`) on a small schema:
the same answers as strawberry's own call, and strawberry's call wherever the field needs
something the direct call does not do."""

from __future__ import annotations

import enum
from typing import Any

import strawberry
from strawberry.permission import BasePermission

from recograph.schema.compiled import KnownDocuments
from recograph.schema.errors import coded
from recograph.schema.execution import execution_context_class


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Inner:
    ids: list[int] = strawberry.field(default_factory=list)
    colour: Colour | None = None


@strawberry.input
class Outer:
    name: str
    inner: Inner | None = None
    inners: list[Inner] | None = None
    tags: list[str | None] | None = None


class Nobody(BasePermission):
    message = "nobody may"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


def describe(value: Any) -> str:
    """Every converted value with its Python type, so a wrong conversion shows."""
    if isinstance(value, list):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if isinstance(value, Inner | Outer):
        fields = ", ".join(f"{k}={describe(v)}" for k, v in vars(value).items())
        return f"{type(value).__name__}({fields})"
    return f"{type(value).__name__}:{value}"


@strawberry.type
class Query:
    @strawberry.field
    async def echo(
        self,
        info: strawberry.Info,
        outer: Outer | None = None,
        colour: Colour = Colour.RED,
        n: int | None = None,
        ids: list[int] | None = None,
    ) -> str:
        assert info.context == {"who": "test"}
        return describe([outer, colour, n, ids])

    @strawberry.field
    def sync_echo(self, n: int) -> str:
        return describe(n)

    @strawberry.field
    async def maybe_echo(self, n: strawberry.Maybe[int]) -> str:
        return describe(n)

    @strawberry.field(permission_classes=[Nobody])
    async def guarded(self) -> str:
        return "secret"

    @strawberry.field
    async def fails(self, n: int) -> str:
        raise ValueError(f"no {n}")


ECHO = """query($outer: Outer, $colour: Colour!, $n: Int, $ids: [Int!]) {
  a: echo(outer: $outer, colour: $colour, n: $n, ids: $ids)
  b: echo
  c: echo(outer: {name: "lit", inner: {ids: [1, 2], colour: BLUE}, tags: ["x", null]}) }"""


async def _both(
    schema: strawberry.Schema, documents: KnownDocuments, query: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    compiled = documents.get(query, None)
    assert compiled is not None
    fast, _ = await documents.execute(compiled, variables, {"who": "test"})
    slow = await schema.execute(query, variable_values=variables, context_value={"who": "test"})
    expected: dict[str, Any] = {"data": slow.data}
    if slow.errors:
        expected["errors"] = [coded(error, mask=False).formatted for error in slow.errors]
    return fast, expected


async def test_direct_calls_answer_as_strawberry_and_only_where_they_may() -> None:
    schema = strawberry.Schema(query=Query, execution_context_class=execution_context_class())
    documents = KnownDocuments(schema, (), max_tokens=10_000, mask_errors=False)
    calls = documents.executor_class.direct_calls
    variables = {
        "outer": {"name": "v", "inners": [{"ids": [3]}, {"colour": "RED"}], "tags": None},
        "colour": "BLUE",
        "n": None,
        "ids": [4, 5],
    }
    fast, slow = await _both(schema, documents, ECHO, variables)
    assert fast == slow
    assert fast["data"]["a"] == (
        "[Outer(name=str:v, inner=NoneType:None, inners=[Inner(ids=[int:3], "
        "colour=NoneType:None), Inner(ids=[], colour=Colour:Colour.RED)], tags=NoneType:None), "
        "Colour:Colour.BLUE, NoneType:None, [int:4, int:5]]"
    )
    assert fast["data"]["b"] == "[NoneType:None, Colour:Colour.RED, NoneType:None, NoneType:None]"
    assert calls[0] == 3  # a, b and c
    # strawberry's call: a sync resolver, a Maybe argument, a permission class
    for query in ("{ syncEcho(n: 2) }", "{ maybeEcho(n: 2) }", "{ guarded }"):
        fast, slow = await _both(schema, documents, query, {})
        assert fast == slow, query
    assert calls[0] == 3
    assert "nobody may" in str(fast["errors"])
    # a resolver's error is located and formatted as strawberry's path does
    fast, slow = await _both(schema, documents, "{ fails(n: 4) }", {})
    assert fast == slow
    assert fast["errors"][0]["message"] == "no 4"
    assert fast["errors"][0]["path"] == ["fails"]
    assert calls[0] == 4
