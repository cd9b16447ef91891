"""The ``recograph`` command line: one subcommand per module in ``recograph.commands``.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``handler`` (a callable taking the parsed namespace and returning an exit status). Modules
are imported lazily only for the command that runs, so ``recograph --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from recograph.settings import SettingsError

# Subcommand name -> module under recograph.commands; add a line to add a command.
COMMANDS: dict[str, str] = {
    "demo-data": "demo_data",
    "import": "import_data",
    "build": "build",
    "evaluate": "evaluate",
    "serve": "serve",
    "bench": "bench",
    "report": "report",
    "simulate": "simulate",
}

Handler = Callable[[argparse.Namespace], int]


def _parser(selected: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recograph",
        description="Product recommendations for online stores, served as a GraphQL API.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if selected is not None and name != selected:
            sub.add_parser(name, help=f"(run 'recograph {name} --help')")
            continue
        try:
            module = importlib.import_module(f"recograph.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"recograph.commands.{module_name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 for bad input, 1 for failures)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in args_list if a in COMMANDS), None)
    parser = _parser(selected)
    args = parser.parse_args(args_list)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:  # one line per plugin set up / per HTTP request at INFO otherwise
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return handler(args)
    except SettingsError as exc:  # a bad RECOGRAPH_* variable, whichever command read it
        print(f"recograph {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
