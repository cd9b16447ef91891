"""``recograph bench NAME``: benchmarks, one module per benchmark under ``recograph_lab.bench``.

Each benchmark module exposes ``register(subparsers)`` like a command module. Benchmarks are
bounded in time and requests, use loopback only, and print ratios against a baseline measured
in the same run.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

# Benchmark name -> module under recograph_lab.bench.
BENCHMARKS: dict[str, str] = {
    "build": "build",
    "serve": "serve",
    "scale": "scale",
    "load": "load",
    "quality": "quality",
    "ranking": "ranking",
}

# One line for `recograph --help`, which lists commands without importing their code.
HELP = "run a benchmark (build, serve, scale, load, quality, ranking)"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("bench", help=HELP)
    sub = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for module_name in BENCHMARKS.values():
        try:
            module = importlib.import_module(f"recograph_lab.bench.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"recograph_lab.bench.{module_name}":
                raise
            continue
        module.register(sub)
