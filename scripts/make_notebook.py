#!/usr/bin/env python
"""Write ``notebooks/techheaven.ipynb`` (without outputs) from ``notebooks/techheaven.py``.

The notebook's source is a plain Python file in jupytext's percent format (``# %%`` starts a
code cell, ``# %% [markdown]`` a markdown one), so ruff and mypy check it like any module and
its diff stays readable; the committed ``.ipynb`` is generated from it, without outputs and
with stable cell ids: ``python scripts/make_notebook.py`` after changing the source.
``--check`` exits 1 when the committed notebook differs from what this script writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCE = NOTEBOOKS / "techheaven.py"
NOTEBOOK = NOTEBOOKS / "techheaven.ipynb"
KEPT_CELL_METADATA = ("tags",)  # e.g. the headline cell's tag, which the notebook test reads


def build_notebook(source: Path = SOURCE) -> nbformat.NotebookNode:
    """The notebook, cells in the source's order, with stable ids and no outputs."""
    notebook: nbformat.NotebookNode = jupytext.read(source, fmt="py:percent")
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}"
        cell["metadata"] = {k: v for k, v in cell["metadata"].items() if k in KEPT_CELL_METADATA}
    notebook["metadata"] = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    return notebook


def render() -> str:
    text: str = nbformat.writes(build_notebook())  # type: ignore[no-untyped-call]
    return text + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the notebook is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = NOTEBOOK.read_text(encoding="utf-8") if NOTEBOOK.exists() else ""
        if current != text:
            print(f"{NOTEBOOK} is out of date: run python scripts/make_notebook.py")
            return 1
        return 0
    NOTEBOOK.parent.mkdir(parents=True, exist_ok=True)
    NOTEBOOK.write_text(text, encoding="utf-8")
    print(f"wrote {NOTEBOOK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
