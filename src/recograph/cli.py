"""The ``recograph`` command line: one subcommand per module in ``recograph.commands``, plus
the commands other distributions register under the ``recograph.commands`` entry-point group.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``handler`` (a callable taking the parsed namespace and returning an exit status). Modules
are imported lazily only for the command that runs, so ``recograph --help`` stays fast. The
lab (``lab/``, distribution recograph-lab: demo data, benchmarks, the simulator) registers its
commands through the entry points, so the product never imports it; without the lab those
commands say which package they need.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType

from recograph.settings import SettingsError
from recograph.terminal import setup_logging

# Subcommand name -> module under recograph.commands, or LAB for a command another
# distribution registers in the COMMANDS_GROUP entry points; add a line to add a command.
LAB = ""
COMMANDS: dict[str, str] = {
    "demo-data": LAB,
    "import": "import_data",
    "build": "build",
    "evaluate": "evaluate",
    "serve": "serve",
    "bench": LAB,
    "report": "report",
    "simulate": LAB,
}
COMMANDS_GROUP = "recograph.commands"
LAB_PACKAGE = "recograph-lab"

Handler = Callable[[argparse.Namespace], int]


def _plugins() -> dict[str, EntryPoint]:
    """Installed command modules by name (entry point value: the module with ``register``)."""
    return {entry.name: entry for entry in entry_points(group=COMMANDS_GROUP)}


def _command_names(plugins: dict[str, EntryPoint]) -> list[str]:
    """Every command in help order: the product's table, then other registered commands."""
    return list(COMMANDS) + sorted(set(plugins) - set(COMMANDS))


def _lab_missing(name: str) -> str:
    """What a lab command says when the lab is not installed."""
    return (
        f"recograph {name}: this command needs the {LAB_PACKAGE} package, which is not "
        f"installed (from the repository: pip install -e lab)"
    )


def _command_module(name: str, plugins: dict[str, EntryPoint]) -> ModuleType | None:
    """The module registering ``name``, or None when no installed package provides it."""
    if name in plugins:
        loaded = plugins[name].load()
        assert isinstance(loaded, ModuleType), f"{COMMANDS_GROUP} {name}: not a module"
        return loaded
    module_name = COMMANDS.get(name, LAB)
    if module_name == LAB:
        return None
    try:
        return importlib.import_module(f"recograph.commands.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"recograph.commands.{module_name}":
            raise
        return None


def _parser(selected: str | None, plugins: dict[str, EntryPoint]) -> argparse.ArgumentParser:
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
    for name in _command_names(plugins):
        if selected is not None and name != selected:
            sub.add_parser(name, help=f"(run 'recograph {name} --help')")
            continue
        module = _command_module(name, plugins)
        if module is not None and selected is None and hasattr(module, "HELP"):
            # The command list only: its flags (and what they import) wait for its own --help.
            sub.add_parser(name, help=module.HELP)
        elif module is not None:
            module.register(sub)
        elif COMMANDS.get(name) == LAB:
            sub.add_parser(name, help=f"(needs the {LAB_PACKAGE} package)")
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
    plugins = _plugins()
    names = _command_names(plugins)
    selected = next((a for a in args_list if a in names), None)
    if selected is not None and COMMANDS.get(selected) == LAB and selected not in plugins:
        print(_lab_missing(selected), file=sys.stderr)
        return 2
    parser = _parser(selected, plugins)
    args = parser.parse_args(args_list)
    args.verbosity = args.verbose - args.quiet
    setup_logging(args.verbosity)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0 if args.command is None else 2
    from recograph.online.configuration import Configuration

    args.configuration = Configuration.from_env()  # the one settings object, read once
    try:
        return handler(args)
    except SettingsError as exc:  # a bad RECOGRAPH_* variable, whichever command read it
        print(f"recograph {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
