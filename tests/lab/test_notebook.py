"""The playbook notebook: committed without outputs, and executed top to bottom.

The notebook runs in a kernel of this interpreter (a kernelspec written to ``tmp_path``, so no
installed kernel is needed and nothing outside ``tmp_path`` is touched). A failing cell fails
the test; its last cell prints the headline figures as JSON, which are checked against the
session's own demo store and build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from traitlets.config import Config

from recograph.build import BuildResult
from recograph_lab.demo import catalogue as cat
from recograph_lab.demo.summary import summarize_store
from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "techheaven.ipynb"
KERNEL = "recograph-notebook-test"
CELL_TIMEOUT = 600  # seconds; a hung kernel fails the test instead of blocking the suite


def test_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert [cell.id for cell in code if cell.outputs or cell.execution_count is not None] == []


def test_committed_notebook_is_what_the_generator_writes() -> None:
    completed = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_notebook.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def _kernelspec(root: Path) -> Path:
    """A kernelspec for this interpreter under ``root/kernels``; returns ``root``."""
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "recograph (test)",
        "language": "python",
        "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    """The notebook after a full run in a fresh kernel (IPython and Jupyter state in tmp)."""
    tmp = tmp_path_factory.mktemp("notebook")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JUPYTER_PATH", str(_kernelspec(tmp / "jupyter")))
        env.setenv("JUPYTER_PLATFORM_DIRS", "1")
        env.setenv("JUPYTER_RUNTIME_DIR", str(tmp / "runtime"))
        env.setenv("JUPYTER_DATA_DIR", str(tmp / "data"))
        env.setenv("JUPYTER_CONFIG_DIR", str(tmp / "config"))
        env.setenv("IPYTHONDIR", str(tmp / "ipython"))
        env.setenv("MPLCONFIGDIR", str(tmp / "matplotlib"))
        env.setenv("TMPDIR", str(tmp))
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        # IPC sockets in tmp: no TCP port, nothing in plain text on the loopback. The client
        # creates (so owns, and shuts down) the kernel manager.
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(tmp / "kernel")
        client = NotebookClient(
            notebook,
            config=config,
            kernel_name=KERNEL,
            timeout=CELL_TIMEOUT,
            resources={"metadata": {"path": str(tmp)}},
        )
        client.execute()
    return notebook


def _headline(notebook: nbformat.NotebookNode) -> dict[str, Any]:
    cell = next(c for c in notebook.cells if "headline" in c.metadata.get("tags", []))
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    figures: dict[str, Any] = json.loads(text)
    return figures


def test_notebook_runs_and_draws_its_plots(executed: nbformat.NotebookNode) -> None:
    outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 7
    headings = [c.source.splitlines()[0] for c in executed.cells if c.cell_type == "markdown"]
    for section in range(1, 8):
        assert any(h.startswith(f"## {section}. ") for h in headings), section


def test_headline_figures_come_from_the_run(
    executed: nbformat.NotebookNode, demo_dir: Path, demo_build: BuildResult
) -> None:
    """The notebook's store and evaluation are the session's demo store and build (seed 42)."""
    figures = _headline(executed)
    summary = summarize_store(demo_dir)
    assert figures["counts"] == {**summary.counts, "categories": summary.categories}
    assert figures["top20_revenue_share"] == round(summary.top20_revenue_share, 4)
    assert figures["sparsity"] == round(summary.sparsity, 4)
    assert figures["product_rules"] == demo_build.manifest["counts"]["product_rules"]
    assert figures["category_rules"] == demo_build.manifest["counts"]["category_rules"]
    assert demo_build.report is not None
    # Rows whose rankings do not depend on the blend's tuning agree with the untuned build.
    for row in ("random", "popularity", "item_knn", "content", "rules"):
        assert figures["ndcg@10"][row] == round(demo_build.report.ndcg10(row), 4), row
    assert figures["evaluated_customers"] == demo_build.report.users
    planted = {b.anchor: {c for c, _ in b.complements} for b in cat.BUNDLES}
    anchors = {"Laptop": "Laptops", "Headphone": "Over-Ear Headphones", "Gaming": "Gaming Mice"}
    for label, anchor in anchors.items():
        assert figures["top_rules"][label]["consequent"] in planted[anchor], label
    assert figures["journey"][0] == {"orders": 0, "segment": "new", "strategy": "POPULAR"}
    assert figures["graphql_matches_engine"] is True
