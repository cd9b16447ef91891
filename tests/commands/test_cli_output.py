"""What the CLI prints where: human output on stdout, logs on stderr (warnings only unless -v),
one JSON document under --json, plain unwrapped lines off a terminal, tables in build order.

A small demo store (50 customers, 250 orders) is built once per module; every run goes through
`recograph.cli.main` with stdout and stderr captured (neither is a terminal here)."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from recograph import artifacts
from recograph.cli import main
from recograph.commands.evaluate import build_order
from recograph.evaluation import evaluate
from recograph.pipeline import SERVED_ROW
from recograph.recommenders import intent

# A log record as either handler formats it: "[time ]LEVEL logger.name: message".
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d [\d:,]+ )?(DEBUG|INFO|WARNING|ERROR) [\w.]+: ", re.M)


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


def run_cli(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(list(argv))
    return Run(status, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class SmallBuild:
    store: Path
    root: Path
    database: str
    run: Run


@pytest.fixture(scope="module")
def small_build(tmp_path_factory: pytest.TempPathFactory) -> SmallBuild:
    base = tmp_path_factory.mktemp("cli-output")
    store, root = base / "store", base / "artifacts"
    database = f"sqlite+aiosqlite:///{base / 'versions.db'}"
    assert run_cli("demo-data", "--out", str(store), "--scale", "0.05").status == 0
    run = run_cli("build", "--data", str(store), "--artifacts", str(root), "--record-to", database)
    return SmallBuild(store, root, database, run)


def test_build_prints_tables_and_a_one_line_summary_and_no_logs(small_build: SmallBuild) -> None:
    run = small_build.run
    assert run.status == 0
    assert LOG_LINE.search(run.out) is None
    assert LOG_LINE.search(run.err) is None  # nothing at WARNING or above in a clean build
    assert "{'" not in run.out
    assert "Context impl" not in run.out + run.err
    version = artifacts.current_version(small_build.root)
    assert version is not None
    metrics = json.loads((small_build.root / version / "manifest.json").read_text())["metrics"]
    served = metrics["models"][SERVED_ROW]["segments"]["all"]["ndcg@10"]
    popular = metrics["models"]["popularity"]["segments"]["all"]["ndcg@10"]
    assert run.out.splitlines()[-1] == (
        f"build: read the export in {small_build.store} (250 orders, 750 lines); "
        f"published {version} to {small_build.root / version}; "
        f"recorded in {small_build.database}; "
        f"served NDCG@10 {served:.4f} on {metrics['users']} customers (popularity {popular:.4f})"
    )
    # The validation account is printed as written, brackets included (no console markup).
    manifest = json.loads((small_build.root / version / "manifest.json").read_text())
    decisions = [
        line
        for line in evaluate.validation_summary(manifest["validation"]).splitlines()
        if " serves " in line
    ]
    assert decisions
    assert all(line.endswith("]") and line in run.out.splitlines() for line in decisions)
    # One line for complements vs substitutes, with the figures the manifest stores.
    intents = metrics["intents"]
    assert intent.summary_line(intents) in run.out.splitlines()
    assert intents["all"]["seeds"] == 120
    # The headline table: one row per model, in the order the build scored them.
    rows = [line.split("  ")[0].strip() for line in run.out.splitlines()]
    history_rows = [name for name in rows if name in metrics["models"]]
    assert history_rows[: len(metrics["models"])] == [
        name for name in build_order() if name in metrics["models"]
    ]
    assert f"read the export in {small_build.store}: 291 products, 50 customers" in run.err


def test_evaluate_lists_models_in_the_build_order(small_build: SmallBuild) -> None:
    run = run_cli("evaluate", "--artifacts", str(small_build.root))
    assert run.status == 0
    lines = run.out.splitlines()
    table = lines[1 : lines.index("") if "" in lines else len(lines)]
    models = list(dict.fromkeys(line.split("  ")[0] for line in table[2:]))
    build_rows = [line.split("  ")[0].strip() for line in small_build.run.out.splitlines()]
    assert models == [name for name in build_rows if name in models][: len(models)]
    assert [line.split()[1] for line in table[2:6]] == [
        "all",
        "new",
        "light",
        "regular",
    ]


def test_verbose_logs_go_to_stderr_with_alembic(small_build: SmallBuild, tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    quiet = run_cli("import", "--data", str(small_build.store), "--database-url", database)
    assert quiet.status == 0
    assert quiet.err.splitlines() == [  # the finished steps, no log record
        line for line in quiet.err.splitlines() if line.startswith("  ✓ ")
    ]
    assert [line.split()[1:3] for line in quiet.err.splitlines()] == [
        ["reading", "the"],
        ["writing", "the"],
    ]
    assert quiet.out.splitlines()[-1].startswith(f"imported into {database} in ")

    again = run_cli("-v", "import", "--data", str(small_build.store), "--database-url", database)
    assert again.status == 0
    assert LOG_LINE.search(again.out) is None
    assert "INFO alembic.runtime.migration: Context impl SQLiteImpl." in again.err
    assert "INFO recograph.io.reader: products.json: 291 rows read, 0 rejected" in again.err

    after = run_cli("import", "-v", "--data", str(small_build.store), "--database-url", database)
    assert "Context impl SQLiteImpl." in after.err  # -v after the subcommand works too


def test_quiet_hides_warnings(small_build: SmallBuild, tmp_path: Path) -> None:
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:1/nothing"  # connection refused
    args = ("build", "--data", str(small_build.store), "--artifacts", str(tmp_path / "a"))
    loud = run_cli(*args, "--no-eval", "--record-to", unreachable)
    assert loud.status == 0
    assert re.search(
        r"^WARNING recograph.pipeline: could not record the model version", loud.err, re.M
    )
    assert "not recorded in a database" in loud.out.splitlines()[-1]
    quiet = run_cli("-q", *args, "--no-eval", "--record-to", unreachable)
    assert "WARNING" not in quiet.err


def test_json_is_the_only_thing_on_stdout(small_build: SmallBuild, tmp_path: Path) -> None:
    run = run_cli(
        "build",
        "--data",
        str(small_build.store),
        "--artifacts",
        str(tmp_path),
        "--json",
        "--no-eval",
    )
    assert run.status == 0
    summary = json.loads(run.out)
    assert summary["source"] == f"the export in {small_build.store}"
    assert summary["path"] == str(tmp_path / summary["version"])
    assert summary["counts"]["order_items"] == 750
    assert run.err == ""


def test_output_off_a_terminal_is_not_wrapped(tmp_path: Path) -> None:
    run = run_cli("demo-data", "--out", str(tmp_path / "store"), "--scale", "0.05")
    assert run.status == 0
    long_lines = [line for line in run.out.splitlines() if len(line) > 80]
    assert long_lines, "the summary has lines longer than 80 characters"
    assert "\x1b[" not in run.out


@pytest.mark.parametrize(("bench", "phrase"), [("serve", "Each endpoint"), ("load", "open-loop")])
def test_bench_help_has_a_description_without_markup(bench: str, phrase: str) -> None:
    text = run_cli_help("bench", bench)
    assert phrase in text
    assert "`" not in text


def run_cli_help(*argv: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit):
        main([*argv, "--help"])
    return out.getvalue()


def test_the_build_reports_progress_through_its_hook(small_build: SmallBuild) -> None:
    """Each fit counts its ten steps, tuning its nine threshold pairs and the cart weights,
    the evaluation every customer of every row; every task ends at its total."""
    from recograph.build import FIT_STEPS, BuildParams, build_artifacts
    from recograph.io.reader import read_store

    calls: list[tuple[str, int, int]] = []
    data = read_store(small_build.store, lambda *call: calls.append(call)).data
    result = build_artifacts(
        data, None, BuildParams(), tune=True, progress=lambda *call: calls.append(call)
    )
    assert result.report is not None
    last = {task: (done, total) for task, done, total in calls}
    fits = len(FIT_STEPS)
    rows = len(result.report.results) - 1  # every row but random is scored by the engine
    assert last == {
        "reading the export": (last["reading the export"][1],) * 2,
        "fit for validation": (fits, fits),
        "validation": (last["validation"][1],) * 2,
        "tuning": (3, 3),
        "fit for evaluation": (fits, fits),
        "evaluation": (result.report.users * rows,) * 2,
        "fit on all orders": (fits, fits),
    }
    sizes = sum((small_build.store / f"{name}.json").stat().st_size for name in STORE_NAMES)
    assert last["reading the export"][1] == sizes
    for task in last:
        done = [d for t, d, _ in calls if t == task]
        assert done == sorted(done), task


STORE_NAMES = ("products", "customers", "orders", "order_items", "reviews")
