"""Command modules of the ``recograph`` CLI: one ``register(subparsers)`` per module."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recograph.online.configuration import Configuration


def configuration_of(args: argparse.Namespace) -> Configuration:
    """The configuration ``cli.main`` read once at startup (``args.configuration``); a handler
    called without it (from code, not the CLI) reads the environment itself."""
    from recograph.online.configuration import Configuration

    configuration = getattr(args, "configuration", None)
    return configuration if isinstance(configuration, Configuration) else Configuration.from_env()
