"""``recograph --help`` lists every command without importing what the commands run.

A newcomer's first command must answer at once: the list reads each command's one-line
``HELP``; a command's flags (and its heavy imports) load only for ``recograph CMD --help``.
"""

from __future__ import annotations

import json
import subprocess
import sys

from recograph.cli import COMMANDS

HEAVY = ("numpy", "pandas", "sqlalchemy", "sklearn", "scipy", "implicit", "mlxtend", "strawberry")


def _help_run(*argv: str) -> tuple[str, list[str]]:
    """Run the CLI with ``argv`` in a fresh interpreter; its stdout and the heavy modules
    it had imported."""
    script = (
        "import contextlib, io, json, sys\n"
        "from recograph.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        f"    main({list(argv)!r})\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps({'out': out.getvalue(), 'heavy': heavy}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout.splitlines()[-1])
    return result["out"], result["heavy"]


def test_the_command_list_imports_no_heavy_package() -> None:
    out, heavy = _help_run("--help")
    assert heavy == []
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("    ")}
    assert set(COMMANDS) <= listed
    assert "build and evaluate the recommendation artifacts" in out


def test_a_commands_own_help_still_shows_its_flags() -> None:
    out, _ = _help_run("build", "--help")
    assert "--ranking" in out
    assert "--tune-budget" in out
    out, _ = _help_run("demo-data", "--help")
    assert "--stores" in out
