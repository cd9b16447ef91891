"""The ``recograph`` command line: one subcommand per module in ``recograph.commands``.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``handler`` (a callable taking the parsed namespace and returning an exit status). Modules
are imported lazily only for the command that runs, so ``recograph --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from recograph.settings import SettingsError
from recograph.terminal import setup_logging

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
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more on stderr: -v info (with alembic's), -vv debug (default: warnings)",
    )
    parser.add_argument(
        "-q", "--quiet", action="count", default=0, help="log only errors on stderr"
    )
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


VERBOSITY_FLAGS = frozenset({"-v", "-vv", "-vvv", "--verbose", "-q", "--quiet"})


def _verbosity_first(args: list[str]) -> list[str]:
    """``-v``/``-q`` may follow the subcommand (``recograph build -v``): move them in front,
    where the top-level parser reads them (no subcommand has a flag of those names)."""
    cut = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:cut] if a in VERBOSITY_FLAGS]
    return flags + [a for a in args[:cut] if a not in VERBOSITY_FLAGS] + args[cut:]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 for bad input, 1 for failures)."""
    args_list = _verbosity_first(list(sys.argv[1:] if argv is None else argv))
    selected = next((a for a in args_list if a in COMMANDS), None)
    parser = _parser(selected)
    args = parser.parse_args(args_list)
    args.verbosity = args.verbose - args.quiet
    setup_logging(args.verbosity)
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
