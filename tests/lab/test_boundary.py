"""The lab (``lab/``, distribution recograph-lab) sits outside the product: the product never
imports it (nor psutil or httpx, which only the lab needs), its commands reach ``recograph``
through the ``recograph.commands`` entry points with their names and flags, and without it
those commands say which package they need instead of failing with a traceback."""

from __future__ import annotations

import ast
import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from recograph import cli
from recograph.recommenders import intent
from recograph_lab.demo import catalogue
from tests.conftest import REPO

PRODUCT = REPO / "src" / "recograph"
LAB_ONLY = ("recograph_lab", "psutil", "httpx")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_product_module_imports_the_lab_psutil_or_httpx() -> None:
    offenders = {
        f"{path.relative_to(PRODUCT)}: {name}"
        for path in PRODUCT.rglob("*.py")
        for name in _imported_modules(path)
        if name.split(".")[0] in LAB_ONLY
    }
    assert sorted(offenders) == []


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            status = cli.main(list(argv))
        except SystemExit as exc:  # --help
            status = int(exc.code or 0)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "flags"),
    [
        (("demo-data",), ["--out DIR", "--seed N", "--scale F"]),
        (("simulate",), ["--days"]),
        (("bench",), ["build", "serve", "scale", "load", "quality"]),
        (("bench", "build"), ["--scales"]),
    ],
)
def test_lab_commands_keep_their_names_and_flags(argv: tuple[str, ...], flags: list[str]) -> None:
    status, out, _ = _run(*argv, "--help")
    assert status == 0
    assert f"usage: recograph {' '.join(argv)}" in out
    assert [flag for flag in flags if flag not in out] == []


def test_the_lab_registers_its_commands_as_entry_points() -> None:
    registered = {entry.name: entry.value for entry in cli.entry_points(group=cli.COMMANDS_GROUP)}
    assert registered == {
        "bench": "recograph_lab.commands.bench",
        "demo-data": "recograph_lab.commands.demo_data",
        "simulate": "recograph_lab.commands.simulate",
    }


@pytest.fixture
def without_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI and the build as they are where recograph-lab is not installed: no entry point
    of either group is found."""
    monkeypatch.setattr(cli, "entry_points", lambda group: ())
    monkeypatch.setattr(intent, "entry_points", lambda group: ())


@pytest.mark.usefixtures("without_lab")
@pytest.mark.parametrize(
    "argv",
    [
        ["demo-data", "--out", "var/x", "--seed", "7"],
        ["bench", "build", "--scales", "1,10"],
        ["-v", "simulate", "--days", "1"],
        ["bench", "--help"],
    ],
)
def test_without_the_lab_its_commands_name_the_package(argv: list[str]) -> None:
    name = next(arg for arg in argv if arg in cli.COMMANDS)
    status, out, err = _run(*argv)
    assert (status, out) == (2, "")
    assert err == (
        f"recograph {name}: this command needs the recograph-lab package, which is not "
        "installed (from the repository: pip install -e lab)\n"
    )


@pytest.mark.usefixtures("without_lab")
def test_without_the_lab_help_lists_its_commands_as_needing_it() -> None:
    status, out, _ = _run("--help")
    assert status == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("    ")}
    for name in ("demo-data", "bench", "simulate"):
        assert "(needs the recograph-lab package)" in lines[name]
    assert "needs" not in lines["build"]


def test_the_build_reads_the_demo_stores_planted_patterns_from_the_lab() -> None:
    assert intent.planted_patterns() == catalogue.category_patterns()
    assert ("Laptops", "Wireless Mice") in intent.planted_patterns()


@pytest.mark.usefixtures("without_lab")
def test_without_the_lab_no_patterns_are_planted() -> None:
    assert intent.planted_patterns() == ()
