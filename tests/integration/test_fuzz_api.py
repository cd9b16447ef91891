"""Hostile input against the GraphQL API over HTTP (in process), generated with hypothesis.

Documents are generated from the served schema itself (every root field, random selections,
aliases and arguments passed as variables of the declared types) with values chosen to hurt:
unknown and extreme ids, negative and huge limits, enormous carts, garbage cursors, non-finite
floats. Beside them: deeply nested and heavily aliased documents, documents over the token
limit, random text, random JSON and random bytes as bodies, oversized bodies.

Every answer must be a 200/400/413 JSON document without a traceback; every error must carry
a known ``extensions.code`` and a readable message, and none may be an unexpected (masked)
error. The outcomes are tallied and printed at the end of the module.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import string
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLSyntaxError,
    get_named_type,
    parse,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recograph.online.config import ServingConfig
from recograph.schema import SchemaLimits
from recograph.serving.app import create_app
from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot
from tests.serving_helpers import app_client, client_of

CODES = {
    "BAD_INPUT",
    "NOT_FOUND",
    "FORBIDDEN",
    "UNAVAILABLE",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_REQUEST",
    "TOO_LARGE",
    "METHOD_NOT_ALLOWED",
}
STATUSES = {200, 400, 413}
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_DEPTH = 6  # of generated selections (the server's limit is 12)
# RECOGRAPH_FUZZ_SCALE=10 runs ten times as many examples (a longer hunt, outside make test).
SCALE = int(os.environ.get("RECOGRAPH_FUZZ_SCALE", "1"))

Post = Callable[..., httpx.Response]


# ---------------------------------------------------------------------------- server


@pytest.fixture(scope="module")
def tally() -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()
    yield counts
    total = counts.pop("requests", 0)
    summary = ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
    print(f"\nAPI fuzz: {total} generated requests; outcomes: {summary}")


@pytest.fixture(scope="module")
def server(artifacts_root: Path, tally: Counter[str]) -> Iterator[tuple[Post, GraphQLSchema]]:
    """The app with its default limits, served in a background event loop; ``post`` sends
    one request and checks the answer against the contract."""
    app = create_app(
        Settings(artifacts_dir=artifacts_root, database_url=""),
        config=ServingConfig(reload_poll_seconds=0),
        playground=False,
    )
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(client_of(app)) as client,
    ):

        def post(**kwargs: Any) -> httpx.Response:
            response = portal.call(functools.partial(client.post, "/graphql", **kwargs))
            check(response, tally)
            return response

        yield post, app.state.schema._schema


def check(response: httpx.Response, tally: Counter[str]) -> None:
    """The contract of every answer, whatever was sent."""
    tally["requests"] += 1
    assert response.status_code in STATUSES, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    body = response.json()
    assert isinstance(body, dict)
    errors = body.get("errors")
    if not errors:
        assert response.status_code == 200
        assert body.get("data") is not None
        tally["answered"] += 1
        return
    for error in errors:
        message = error["message"]
        assert isinstance(message, str)
        assert message.strip()
        assert message != "Unexpected error.", body
        code = error["extensions"]["code"]
        assert code in CODES, error
        tally[code] += 1


# ---------------------------------------------------------------------------- values


def _cursor(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode()


@dataclass(frozen=True)
class Pool:
    """Real ids and names of the served build, so generated requests also reach resolvers."""

    ids: tuple[int, ...]
    categories: tuple[str, ...]
    hostile: bool = True  # False: values of the declared types, mostly valid

    @classmethod
    def of(cls, snapshot: ModelSnapshot) -> Pool:
        products = snapshot.catalogue.item_ids[:40].tolist()
        customers = snapshot.histories.user_ids[:40].tolist()
        categories = snapshot.catalogue.category_names[:5].tolist()
        return cls(tuple(int(i) for i in products + customers), tuple(map(str, categories)))

    def __repr__(self) -> str:  # hypothesis prints strategies' arguments
        return f"Pool({len(self.ids)} ids)"


def ints(pool: Pool) -> st.SearchStrategy[Any]:
    """Ids and limits: real ids, edges of the 32-bit range, beyond it, and small numbers."""
    if not pool.hostile:
        return st.one_of(st.sampled_from(pool.ids), st.integers(min_value=1, max_value=20))
    return st.one_of(
        st.sampled_from(pool.ids),
        st.integers(min_value=-3, max_value=120),
        st.sampled_from([-(2**31), 2**31 - 1, 2**31, 2**53, -(2**63), 10**30]),
        st.integers(min_value=-(2**31), max_value=2**31 - 1),
    )


def strings(pool: Pool) -> st.SearchStrategy[Any]:
    if not pool.hostile:
        return st.one_of(
            st.sampled_from(pool.categories), st.text(string.ascii_letters, max_size=8)
        )
    kinds = st.sampled_from(["product", "customer", "rule", "order", ""])
    offsets = st.one_of(st.integers(-5, 500), st.just(10**30), st.just(-(10**30)))
    return st.one_of(
        st.sampled_from([*pool.categories, "", " ", "\x00", "%", "'; DROP TABLE events;--"]),
        st.builds(_cursor, kinds, offsets),
        st.text(max_size=40),
        st.builds(str.__mul__, st.sampled_from(string.printable), st.integers(2000, 20_000)),
    )


def floats(pool: Pool) -> st.SearchStrategy[Any]:
    if not pool.hostile:
        return st.floats(min_value=0.0, max_value=10.0)
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, -0.0, -1.0, 1e308, -1e308, 5e-324]),
    )


def value_for(draw: st.DrawFn, kind: GraphQLInputType, pool: Pool, depth: int = 0) -> Any:
    """A value for an input type: usually of the type, sometimes not (null, a string for a
    number, a list for an object) so variable coercion is fuzzed too."""
    if pool.hostile and draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from([None, "x", 1.5, [], {}, True]))
    if isinstance(kind, GraphQLNonNull):
        return value_for(draw, kind.of_type, pool, depth)
    if isinstance(kind, GraphQLList):
        inner = kind.of_type
        if pool.hostile and get_named_type(inner).name == "Int" and draw(st.integers(0, 9)) == 0:
            first, size = draw(ints(pool)), draw(st.integers(101, 4000))
            return [first + i % 7 for i in range(size)]  # an enormous cart, cheap to draw
        return [value_for(draw, inner, pool, depth + 1) for _ in range(draw(st.integers(0, 4)))]
    if isinstance(kind, GraphQLEnumType):
        return draw(st.sampled_from([*kind.values, *(["NOT_A_VALUE"] if pool.hostile else [])]))
    if isinstance(kind, GraphQLInputObjectType):
        if depth > 3:
            return {}
        names = draw(st.lists(st.sampled_from(sorted(kind.fields)), unique=True))
        required = [n for n, f in kind.fields.items() if isinstance(f.type, GraphQLNonNull)]
        return {
            name: value_for(draw, kind.fields[name].type, pool, depth + 1)
            for name in dict.fromkeys([*required, *names])
        }
    assert isinstance(kind, GraphQLScalarType)
    if kind.name == "Int":
        return draw(ints(pool))
    if kind.name == "Float":
        return draw(st.one_of(floats(pool), ints(pool)))
    if kind.name == "Boolean":
        return draw(st.booleans())
    if kind.name == "JSON":
        return draw(st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))
    return draw(strings(pool))  # String, ID, DateTime


# ---------------------------------------------------------------------------- documents


class Document:
    """A generated operation: its text and the variables its arguments refer to."""

    def __init__(self) -> None:
        self.declarations: list[str] = []
        self.variables: dict[str, Any] = {}

    def variable(self, kind: GraphQLInputType, value: Any) -> str:
        name = f"v{len(self.declarations)}"
        self.declarations.append(f"${name}: {kind}")
        self.variables[name] = value
        return f"${name}"


def selection(
    draw: st.DrawFn,
    doc: Document,
    kind: GraphQLObjectType,
    pool: Pool,
    depth: int,
) -> str:
    fields = sorted(kind.fields)
    if depth >= MAX_DEPTH:
        scalars = [
            f
            for f in fields
            if not isinstance(get_named_type(kind.fields[f].type), GraphQLObjectType)
        ]
        return "{ " + " ".join(scalars[:3] or ["__typename"]) + " }"
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=4, unique=True))
    parts = [field_text(draw, doc, kind, name, pool, depth) for name in chosen]
    return "{ " + " ".join(parts) + " }"


def field_text(
    draw: st.DrawFn,
    doc: Document,
    parent: GraphQLObjectType,
    name: str,
    pool: Pool,
    depth: int,
) -> str:
    field = parent.fields[name]
    arguments = []
    for arg_name, arg in field.args.items():
        required = isinstance(arg.type, GraphQLNonNull)
        if required or draw(st.booleans()):
            value = value_for(draw, arg.type, pool)
            arguments.append(f"{arg_name}: {doc.variable(arg.type, value)}")
    text = name
    if draw(st.integers(0, 4)) == 0:
        text = f"{draw(st.sampled_from(['a', 'b', 'alias_' + name]))}: {name}"
    if arguments:
        text += "(" + ", ".join(arguments) + ")"
    result: GraphQLOutputType = field.type
    named = get_named_type(result)
    if isinstance(named, GraphQLObjectType):
        text += " " + selection(draw, doc, named, pool, depth + 1)
    return text


@st.composite
def operations(draw: st.DrawFn, schema: GraphQLSchema, pool: Pool) -> dict[str, Any]:
    doc = Document()
    pool = replace(pool, hostile=draw(st.booleans()))
    root = schema.mutation_type if draw(st.integers(0, 5)) == 0 else schema.query_type
    assert root is not None
    body = selection(draw, doc, root, pool, depth=0)
    keyword = "mutation" if root is schema.mutation_type else "query"
    header = f"{keyword} Fuzz({', '.join(doc.declarations)})" if doc.declarations else keyword
    return {"query": f"{header} {body}", "variables": doc.variables}


# ---------------------------------------------------------------------------- tests


@settings(FUZZ, max_examples=400 * SCALE)
@given(data=st.data())
def test_generated_operations_get_data_or_typed_errors(
    server: tuple[Post, GraphQLSchema], snapshot: ModelSnapshot, data: st.DataObject
) -> None:
    post, schema = server
    operation = data.draw(operations(schema, Pool.of(snapshot)))
    response = post(content=json.dumps(operation), headers={"content-type": "application/json"})
    if len(response.request.content) > 65536:
        assert response.status_code == 413


def nested(depth: int) -> str:
    """Selections ``depth`` levels below a root field (the leaf is at level ``depth``)."""
    return "{ customer(id: 1) " + "{ orders " * (depth - 1) + "{ id" + " }" * depth + " }"


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: categories {{ name }}" for i in range(count)) + " }"


def wide(count: int) -> str:
    return "{ products(first: 1) { edges { node { " + "id " * count + "} } } }"


def over_token_limit(document: str, limit: int) -> bool:
    """The parser's own verdict, as the oracle for the token limit."""
    try:
        parse(document, max_tokens=limit)
    except GraphQLSyntaxError:
        return True
    return False


@settings(FUZZ, max_examples=60 * SCALE)
@given(
    shape=st.sampled_from(["nested", "aliased", "wide"]),
    size=st.one_of(
        st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=1500)
    ),
)
def test_deep_aliased_and_long_documents_are_refused_by_the_limits(
    server: tuple[Post, GraphQLSchema], shape: str, size: int
) -> None:
    post, _ = server
    document = {"nested": nested, "aliased": aliased, "wide": wide}[shape](size)
    body = post(json={"query": document}).json()
    limits = SchemaLimits()
    errors = body.get("errors", [])
    codes = [e["extensions"]["code"] for e in errors]
    messages = " ".join(e["message"] for e in errors)
    if over_token_limit(document, limits.max_tokens):
        assert codes == ["GRAPHQL_PARSE_FAILED"]
        assert messages.startswith("Syntax Error: ")
        return
    fields = {"nested": size + 1, "aliased": 2 * size, "wide": size + 3}[shape]
    if fields > limits.max_fields:
        # (depth and alias limits are checked before the visit, and may report too)
        assert set(codes) == {"GRAPHQL_VALIDATION_FAILED"}
        assert f"{fields} fields selected; at most {limits.max_fields} are allowed" in messages
        return
    deep = shape == "nested" and size > limits.max_depth
    many = shape == "aliased" and size > limits.max_aliases
    assert ("exceeds maximum operation depth of 12" in messages) is deep
    assert ("aliases found. Allowed: 30" in messages) is many
    assert set(codes) <= {"GRAPHQL_VALIDATION_FAILED"}
    assert bool(codes) is (deep or many or (shape == "nested" and size > 2))  # no orders.orders


@settings(FUZZ, max_examples=150 * SCALE)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["query", "variables", "operationName", "x"]),
                    children,
                    max_size=3,
                )
            ),
            max_leaves=8,
        ).map(lambda v: json.dumps(v).encode()),
        st.text(max_size=200).map(lambda q: json.dumps({"query": q}).encode()),
    ),
    content_type=st.sampled_from(["application/json", "text/plain", "application/graphql"]),
)
def test_any_body_gets_a_typed_error_or_data(
    server: tuple[Post, GraphQLSchema], body: bytes, content_type: str
) -> None:
    post, _ = server
    post(content=body, headers={"content-type": content_type})


@pytest.mark.parametrize("size", [65_537, 200_000, 2_000_000])
def test_oversized_bodies_are_refused_before_parsing(
    server: tuple[Post, GraphQLSchema], size: int
) -> None:
    post, _ = server
    padding = "x" * size
    response = post(json={"query": "{ __typename }", "variables": {"pad": padding}})
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "TOO_LARGE"
    assert error["message"] == "request body larger than 65536 bytes"


def test_oversized_streamed_bodies_are_refused_too(server: tuple[Post, GraphQLSchema]) -> None:
    post, _ = server

    async def chunks() -> Any:  # no content-length: the limit counts what arrives
        yield b'{"query": "{ __typename }", "variables": {"pad": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}}'

    response = post(content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"


# ---------------------------------------------------------------------------- limits


def test_limits_have_safe_defaults() -> None:
    settings_ = Settings.from_env({})
    assert (
        settings_.max_query_depth,
        settings_.max_aliases,
        settings_.max_tokens,
        settings_.max_fields,
        settings_.max_body_bytes,
    ) == (12, 30, 2000, 300, 65536)


async def test_limits_come_from_the_environment(artifacts_root: Path) -> None:
    settings_ = Settings.from_env(
        {
            "RECOGRAPH_ARTIFACTS": str(artifacts_root),
            "RECOGRAPH_DATABASE_URL": "",
            "RECOGRAPH_MAX_QUERY_DEPTH": "3",
            "RECOGRAPH_MAX_ALIASES": "2",
            "RECOGRAPH_MAX_TOKENS": "60",
            "RECOGRAPH_MAX_FIELDS": "8",
            "RECOGRAPH_MAX_BODY_BYTES": "400",
        }
    )
    depth3 = "{ customers(first: 1) { edges { node { id } } } }"
    depth4 = "{ customers(first: 1) { edges { node { orders { id } } } } }"
    async with app_client(settings_) as client:

        async def codes(query: str) -> list[str]:
            body = (await client.post("/graphql", json={"query": query})).json()
            return [e["extensions"]["code"] for e in body.get("errors", [])]

        assert await codes(depth3) == []
        assert await codes(depth4) == ["GRAPHQL_VALIDATION_FAILED"]
        assert await codes(aliased(2)) == []
        assert await codes(aliased(3)) == ["GRAPHQL_VALIDATION_FAILED"]
        assert await codes(wide(5)) == []  # 8 fields
        assert await codes(wide(6)) == ["GRAPHQL_VALIDATION_FAILED"]
        assert await codes("{ categories { " + "name " * 60 + "} }") == ["GRAPHQL_PARSE_FAILED"]
        big = await client.post("/graphql", json={"query": "{ __typename }", "x": "z" * 400})
        assert big.status_code == 413
