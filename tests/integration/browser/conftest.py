"""Browser fixtures: the app served on loopback by uvicorn in a thread, and headless Chromium.

Chromium is Debian's package (``scripts/ensure_chromium.sh`` installs it when missing; ``make
test`` runs that first). The tests skip only when it cannot be installed. The server and the
browser live for the ``tests/integration/browser`` package and are stopped after it, before
the rest of the suite runs its own event loops.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Route,
    expect,
    sync_playwright,
)

from recograph.db import upgrade_schema
from recograph.online.config import ServingConfig
from recograph.serving.app import create_app
from recograph.settings import Settings
from tests.conftest import REPO

SCREENSHOTS = REPO / "reports" / "screenshots"
ENSURE_CHROMIUM = REPO / "scripts" / "ensure_chromium.sh"
CHROMIUM = Path(os.environ.get("RECOGRAPH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = (1280, 900)
PHONE = (390, 844)
LOOPBACK = "127.0.0.1"
STARTUP_SECONDS = 60.0

expect.set_options(timeout=20_000)


def _chromium_or_reason() -> tuple[Path | None, str]:
    """Chromium's path, installing it when missing; otherwise None and why it is missing."""
    if CHROMIUM.is_file():
        return CHROMIUM, ""
    result = subprocess.run(
        ["bash", str(ENSURE_CHROMIUM)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if CHROMIUM.is_file():
        return CHROMIUM, ""
    detail = (result.stderr or result.stdout).strip().splitlines()
    return None, detail[-1] if detail else f"{ENSURE_CHROMIUM} exited {result.returncode}"


@pytest.fixture(scope="package")
def chromium() -> Path:
    path, reason = _chromium_or_reason()
    if path is None:
        pytest.skip(f"chromium is not at {CHROMIUM} and could not be installed: {reason}")
    return path


class ServerThread:
    """uvicorn serving ``create_app`` on a socket bound here, in its own thread and loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind((LOOPBACK, 0))
        self.port: int = self.socket.getsockname()[1]
        app = create_app(settings, config=ServingConfig(reload_poll_seconds=0))
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", http="h11", ws="none", loop="asyncio"
        )
        self.server = uvicorn.Server(config)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="playground-server", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            await upgrade_schema(self.settings.database_url)
            await self.server.serve(sockets=[self.socket])

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start(), never swallowed
            self.error = exc

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the test server did not start: {self.error!r}")
            time.sleep(0.05)
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()


@pytest.fixture(scope="package")
def server_url(artifacts_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo store's build served on loopback, with a fresh SQLite event database."""
    database = tmp_path_factory.mktemp("playground-db") / "recograph.db"
    settings = Settings(
        artifacts_dir=artifacts_root,
        database_url=f"sqlite+aiosqlite:///{database}",
        graphiql=False,
    )
    server = ServerThread(settings)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="package")
def playwright_driver(chromium: Path) -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright, chromium: Path) -> Iterator[Browser]:
    launched = playwright_driver.chromium.launch(
        executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
    )
    yield launched
    launched.close()


class PageProblems:
    """What went wrong in the page: script errors, console errors, requests off the loopback."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.offsite: list[str] = []

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")

    def on_route(self, route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname == LOOPBACK:
            route.continue_()
        else:
            self.offsite.append(request.url)
            route.abort()


def open_page(
    browser: Browser, server_url: str, size: tuple[int, int]
) -> tuple[Page, PageProblems]:
    context = browser.new_context(
        base_url=server_url, viewport={"width": size[0], "height": size[1]}
    )
    problems = PageProblems()
    context.route("**/*", problems.on_route)
    page = context.new_page()
    page.on("console", problems.on_console)
    page.on("pageerror", problems.on_page_error)
    return page, problems


def _checked_page(browser: Browser, server_url: str, size: tuple[int, int]) -> Iterator[Page]:
    page, problems = open_page(browser, server_url, size)
    yield page
    page.context.close()
    assert problems.offsite == [], "the playground must not leave the server"
    assert problems.errors == []


@pytest.fixture
def page(browser: Browser, server_url: str) -> Iterator[Page]:
    """A laptop-sized page; fails the test on script errors or any request off the loopback."""
    yield from _checked_page(browser, server_url, LAPTOP)


@pytest.fixture
def phone_page(browser: Browser, server_url: str) -> Iterator[Page]:
    yield from _checked_page(browser, server_url, PHONE)


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """Save a full-page screenshot under reports/screenshots/ for a person to look at."""

    def save(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
