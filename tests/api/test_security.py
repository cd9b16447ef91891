"""Security promises: admin operations need the token, production refuses weak settings, CORS
is an allow-list, introspection and GraphiQL switch off, e-mails only for the admin, and no
SQL is assembled by string formatting anywhere in the source."""

from __future__ import annotations

import ast
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLNonNull, GraphQLObjectType

from recograph.api import build_schema
from recograph.cli import main
from recograph.online.security import MIN_ADMIN_TOKEN_LENGTH, check_settings
from recograph.resolvers import context
from recograph.serving.app import VERSION_HEADER, create_app
from recograph.settings import Settings, SettingsError
from recograph.snapshot import ModelSnapshot
from tests.conftest import REPO
from tests.serving_helpers import STRONG_TOKEN, app_client, graphql

SRC = REPO / "src" / "recograph"
RELOAD = "mutation { reloadArtifacts { version changed } }"


def settings_for(root: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "artifacts_dir": root,
        "database_url": "",
        "admin_token": STRONG_TOKEN,
        **overrides,
    }
    return Settings(**values)


# ---------------------------------------------------------------------------- admin token


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {STRONG_TOKEN}", "Bearer ", STRONG_TOKEN],
)
async def test_reload_without_the_admin_token_is_refused_and_logged(
    artifacts_root: Path, caplog: pytest.LogCaptureFixture, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    async with app_client(settings_for(artifacts_root)) as client:
        with caplog.at_level(logging.WARNING, logger="recograph.resolvers.mutations"):
            response = await client.post("/graphql", json={"query": RELOAD}, headers=headers)
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["message"] == "reloadArtifacts needs the admin bearer token"
    refused = [r for r in caplog.records if "reloadArtifacts refused" in r.getMessage()]
    assert len(refused) == 1
    assert refused[0].levelno == logging.WARNING


async def test_reload_with_the_admin_token_is_done(
    artifacts_root: Path, snapshot: ModelSnapshot
) -> None:
    async with app_client(settings_for(artifacts_root)) as client:
        body = await graphql(client, RELOAD, token=STRONG_TOKEN)
    assert body == {"data": {"reloadArtifacts": {"version": snapshot.version, "changed": False}}}


async def test_with_admin_operations_off_even_the_token_grants_nothing(
    artifacts_root: Path, snapshot: ModelSnapshot
) -> None:
    customer = int(snapshot.histories.user_ids[0])
    settings = settings_for(artifacts_root, admin_operations=False)
    async with app_client(settings) as client:
        reload = await graphql(client, RELOAD, token=STRONG_TOKEN)
        email = await graphql(
            client, "query($id: Int!) { customer(id: $id) { email } }", {"id": customer}
        )
    assert reload["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert reload["errors"][0]["message"] == "admin operations are disabled on this server"
    assert email == {"data": {"customer": {"email": None}}}


def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = context.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(context.hmac, "compare_digest", spy)
    assert context.is_admin(f"Bearer {STRONG_TOKEN}", STRONG_TOKEN)
    assert not context.is_admin("Bearer x" * 3, STRONG_TOKEN)
    assert compared == [
        (STRONG_TOKEN.encode(), STRONG_TOKEN.encode()),
        (b"xBearer xBearer x", STRONG_TOKEN.encode()),
    ]


# ---------------------------------------------------------------------------- production


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("changeme", "is a well-known default"),
        ("SECRET", "is a well-known default"),
        (
            "x" * (MIN_ADMIN_TOKEN_LENGTH - 1),
            f"is shorter than {MIN_ADMIN_TOKEN_LENGTH} characters",
        ),
    ],
)
def test_production_refuses_to_start_with_a_weak_admin_token(
    artifacts_root: Path, token: str, problem: str
) -> None:
    settings = settings_for(artifacts_root, production=True, admin_token=token)
    with pytest.raises(SettingsError, match="RECOGRAPH_ADMIN_TOKEN " + problem):
        create_app(settings)


def test_production_starts_with_a_strong_token_or_without_admin_operations(
    artifacts_root: Path,
) -> None:
    check_settings(settings_for(artifacts_root, production=True))
    check_settings(
        settings_for(artifacts_root, production=True, admin_token="", admin_operations=False)
    )
    check_settings(settings_for(artifacts_root, production=False, admin_token=""))


def test_production_refuses_a_wildcard_origin_and_debug(artifacts_root: Path) -> None:
    with pytest.raises(SettingsError, match="RECOGRAPH_CORS_ORIGINS"):
        check_settings(settings_for(artifacts_root, production=True, cors_origins=("*",)))
    with pytest.raises(SettingsError, match="RECOGRAPH_DEBUG"):
        check_settings(settings_for(artifacts_root, production=True, debug=True))


def test_serve_command_refuses_production_with_the_default_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setenv("RECOGRAPH_PRODUCTION", "true")
    monkeypatch.setenv("RECOGRAPH_ARTIFACTS", str(tmp_path))  # restored afterwards
    monkeypatch.delenv("RECOGRAPH_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("RECOGRAPH_ADMIN_OPERATIONS", raising=False)
    with caplog.at_level(logging.ERROR):
        status = main(["serve", "--no-migrate"])
    assert status == 2
    assert any("RECOGRAPH_ADMIN_TOKEN is empty" in r.getMessage() for r in caplog.records)


def test_a_real_serve_process_exits_at_once_with_the_reason(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RECOGRAPH_PRODUCTION": "1",
        "RECOGRAPH_ADMIN_TOKEN": "changeme",
        "RECOGRAPH_ARTIFACTS": str(tmp_path),
    }
    env.pop("RECOGRAPH_ADMIN_OPERATIONS", None)
    done = subprocess.run(
        [sys.executable, "-m", "recograph.cli", "serve", "--no-migrate", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "RECOGRAPH_ADMIN_TOKEN is a well-known default" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RECOGRAPH_MAX_QUERY_DEPTH", "0"),
        ("RECOGRAPH_MAX_ALIASES", "-1"),
        ("RECOGRAPH_MAX_TOKENS", "0"),
        ("RECOGRAPH_MAX_BODY_BYTES", "0"),
    ],
)
def test_limits_below_one_are_refused_naming_the_variable(variable: str, value: str) -> None:
    settings = Settings.from_env({variable: value})
    with pytest.raises(SettingsError, match=f"{variable} must be at least 1, got {value}"):
        check_settings(settings)


# ---------------------------------------------------------------------------- CORS


async def test_cors_is_an_allow_list_from_configuration(artifacts_root: Path) -> None:
    allowed = "https://shop.example"
    settings = Settings.from_env(
        {
            "RECOGRAPH_CORS_ORIGINS": f"{allowed}, https://m.shop.example",
            "RECOGRAPH_ARTIFACTS": str(artifacts_root),
            "RECOGRAPH_DATABASE_URL": "",
        }
    )
    assert settings.cors_origins == (allowed, "https://m.shop.example")
    preflight = {"access-control-request-method": "POST"}
    async with app_client(settings) as client:
        ok = await client.options("/graphql", headers={"origin": allowed, **preflight})
        evil = await client.options(
            "/graphql", headers={"origin": "https://evil.example", **preflight}
        )
        simple = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"origin": "https://evil.example"},
        )
        shop = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": allowed}
        )
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == allowed
    assert evil.status_code == 400
    assert "access-control-allow-origin" not in evil.headers
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers
    assert shop.headers["access-control-allow-origin"] == allowed
    assert shop.headers["access-control-expose-headers"] == VERSION_HEADER  # readable by JS


async def test_no_cors_headers_without_configured_origins(artifacts_root: Path) -> None:
    async with app_client(settings_for(artifacts_root)) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"origin": "https://shop.example"},
        )
    assert response.status_code == 200
    assert not [h for h in response.headers if h.startswith("access-control-")]


# ---------------------------------------------------------------------------- introspection


async def test_production_turns_introspection_and_graphiql_off(artifacts_root: Path) -> None:
    settings = Settings.from_env(
        {
            "RECOGRAPH_PRODUCTION": "1",
            "RECOGRAPH_ADMIN_TOKEN": STRONG_TOKEN,
            "RECOGRAPH_ARTIFACTS": str(artifacts_root),
            "RECOGRAPH_DATABASE_URL": "",
        }
    )
    assert (settings.graphiql, settings.introspection) == (False, False)
    async with app_client(settings) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        schema = await graphql(client, "{ __schema { types { name } } }")
        one_type = await graphql(client, '{ __type(name: "Customer") { fields { name } } }')
        typename = await graphql(client, "{ __typename }")
    assert page.status_code == 404
    assert page.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    for body in (schema, one_type):
        error = body["errors"][0]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection" in error["message"].lower()
    assert typename == {"data": {"__typename": "Query"}}


# ---------------------------------------------------------------------------- e-mails


def test_email_is_the_only_personal_contact_field_and_it_is_nullable() -> None:
    schema = build_schema()._schema
    contact = re.compile(r"e_?mail|phone|address", re.IGNORECASE)
    found = {
        f"{name}.{field_name}": field.type
        for name, kind in schema.type_map.items()
        if isinstance(kind, GraphQLObjectType) and not name.startswith("__")
        for field_name, field in kind.fields.items()
        if contact.search(field_name)
    }
    assert list(found) == ["Customer.email"]
    assert not isinstance(found["Customer.email"], GraphQLNonNull)


CUSTOMER_PAGES = """query($id: Int!) {
  customer(id: $id) { id name email orders { id } }
  customers(first: 100) { edges { node { id name email } } }
  customerTimeline(customerId: $id, limit: 3) { customer { email } }
  recommendationJourney(customerId: $id, limit: 3) {
    similarCustomers { customerId name } profile { customerId } }
}"""


async def test_no_email_address_in_any_response_unless_the_admin_asks(
    artifacts_root: Path, snapshot: ModelSnapshot
) -> None:
    histories = snapshot.histories
    customer = int(histories.user_ids[0])
    emails = [str(e) for e in histories.user_email[:100]]
    assert all("@" in e for e in emails)
    async with app_client(settings_for(artifacts_root)) as client:
        anonymous = await client.post(
            "/graphql", json={"query": CUSTOMER_PAGES, "variables": {"id": customer}}
        )
        admin = await client.post(
            "/graphql",
            json={"query": CUSTOMER_PAGES, "variables": {"id": customer}},
            headers={"authorization": f"Bearer {STRONG_TOKEN}"},
        )
    assert "errors" not in anonymous.json()
    assert "@" not in anonymous.text
    assert not [e for e in emails if e in anonymous.text]
    data = admin.json()["data"]
    assert data["customer"]["email"] == emails[0]
    assert [e["node"]["email"] for e in data["customers"]["edges"]] == emails[:100]


# ---------------------------------------------------------------------------- SQL


SQL = re.compile(
    r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|PRAGMA|"
    r"CREATE\s+(TABLE|INDEX)|DROP\s+TABLE|ALTER\s+TABLE|WHERE\s+\w+\s*=)"
)
EXECUTORS = {"execute", "executemany", "executescript", "exec_driver_sql", "text"}


def _constant_text(node: ast.AST) -> str:
    """The literal parts of a formatted string, joined."""
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ""


def _is_constant_name(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id.isupper()


def _formatted(node: ast.AST) -> tuple[str, list[ast.AST]] | None:
    """(literal text, interpolated expressions) of an f-string, ``%`` or ``.format`` string."""
    if isinstance(node, ast.JoinedStr):
        values = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
        return _constant_text(node), values
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        text = _constant_text(node.left) + _constant_text(node.right)
        if text:
            return text, [n for n in (node.left, node.right) if not isinstance(n, ast.Constant)]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        return _constant_text(node.func.value), [*node.args, *(k.value for k in node.keywords)]
    return None


def sql_formatting(source: str) -> list[int]:
    """Line numbers where SQL text is built by string formatting from anything but an
    UPPER_CASE constant, or where a formatted string is handed to an executor."""
    found: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in EXECUTORS and node.args and _formatted(node.args[0]) is not None:
                found.append(node.lineno)
                continue
        formatted = _formatted(node)
        if formatted is None:
            continue
        text, values = formatted
        if SQL.search(text) and not all(_is_constant_name(v) for v in values):
            found.append(node.lineno)
    return sorted(set(found))


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ('conn.execute(text(f"SELECT * FROM t WHERE id = {x}"))', True),
        ('cursor.execute("DELETE FROM t WHERE id = %s" % x)', True),
        ('q = "UPDATE t SET a = {}".format(value)', True),
        ('q = "SELECT name FROM " + table', True),
        ('conn.exec_driver_sql(f"{statement}")', True),
        ('cursor.execute("SELECT * FROM t WHERE id = ?", (x,))', False),
        ('PRAGMAS = (f"PRAGMA busy_timeout={TIMEOUT_MS}",)', False),
        ("rows = await conn.execute(select(Event.product_id).where(Event.id == x))", False),
        ('message = f"selected {n} products from the catalogue"', False),
    ],
)
def test_the_sql_formatting_detector(source: str, flagged: bool) -> None:
    assert bool(sql_formatting(source)) is flagged


def test_no_sql_is_built_by_string_formatting() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50
    offenders = {
        str(path.relative_to(SRC)): lines
        for path in files
        if (lines := sql_formatting(path.read_text()))
    }
    assert offenders == {}
