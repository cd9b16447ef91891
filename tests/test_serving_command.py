"""``recograph serve``: arguments become the RECOGRAPH_* settings the workers read."""

from __future__ import annotations

import argparse

import pytest

from recograph.cli import main
from recograph.commands.serve import _environment


def test_command_line_overrides_become_environment_variables() -> None:
    args = argparse.Namespace(
        artifacts="/srv/artifacts", database_url=None, host="0.0.0.0", port=9000
    )
    assert _environment(args) == {
        "RECOGRAPH_ARTIFACTS": "/srv/artifacts",
        "RECOGRAPH_HOST": "0.0.0.0",
        "RECOGRAPH_PORT": "9000",
    }


def test_zero_workers_is_refused_before_anything_starts() -> None:
    assert main(["serve", "--workers", "0"]) == 2


@pytest.mark.parametrize(
    "argv", [["evaluate"], ["report", "online"], ["build", "--data", "nowhere"]]
)
def test_a_bad_setting_is_a_clear_error_in_every_command(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECOGRAPH_PORT", "eighty")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"recograph {argv[0]}: RECOGRAPH_PORT must be an integer")
    assert "Traceback" not in err
