"""GraphiQL and the playground with the network cut off: every request that does not go to
the loopback server is aborted, and each page still runs a query and shows its answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, expect

from recograph.settings import Settings
from recograph.snapshot import ModelSnapshot
from tests.integration.browser.conftest import LAPTOP, ServerThread, open_page

pytestmark = pytest.mark.browser

MODEL_VERSION_QUERY = "{ modelInfo { version loadedAt } }"


@pytest.fixture(scope="module")
def graphiql_url(artifacts_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo build served with GraphiQL on (the package's other browser tests turn it off)."""
    database = tmp_path_factory.mktemp("graphiql-db") / "recograph.db"
    server = ServerThread(
        Settings(
            artifacts_dir=artifacts_root,
            database_url=f"sqlite+aiosqlite:///{database}",
            graphiql=True,
        )
    )
    url = server.start()
    yield url
    server.stop()


def test_graphiql_runs_a_query_offline(
    browser: Browser, graphiql_url: str, snapshot: ModelSnapshot
) -> None:
    page, problems = open_page(browser, graphiql_url, LAPTOP)
    try:
        page.goto(f"/graphql?q={quote(MODEL_VERSION_QUERY)}")
        page.locator(".graphiql-execute-button").click()
        result = page.locator(".result-window")
        expect(result).to_contain_text(f'"version": "{snapshot.version}"')
        expect(result).to_contain_text("+00:00")  # loadedAt names its zone
        loaded = page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
    finally:
        page.context.close()
    assert problems.offsite == [], "GraphiQL must not load anything from another origin"
    assert problems.errors == []
    assert any(url.endswith("/graphiql/graphiql.min.js") for url in loaded)


def test_playground_runs_a_query_offline(
    browser: Browser, graphiql_url: str, snapshot: ModelSnapshot
) -> None:
    page, problems = open_page(browser, graphiql_url, LAPTOP)
    try:
        page.goto("/")
        expect(page.get_by_test_id("model-version")).to_have_text(snapshot.version)
    finally:
        page.context.close()
    assert problems.offsite == [], "the playground must not load anything from another origin"
    assert problems.errors == []
