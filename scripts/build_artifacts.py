#!/usr/bin/env python
"""Thin shim: ``python scripts/build_artifacts.py ARGS`` is ``recograph build ARGS``."""

import sys

from recograph.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["build", *sys.argv[1:]]))
