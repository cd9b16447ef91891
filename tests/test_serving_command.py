"""``recograph serve``: arguments become the RECOGRAPH_* settings the workers read."""

from __future__ import annotations

import argparse

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
