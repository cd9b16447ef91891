"""A serving worker imports only what serving needs.

Every worker process pays for every module it imports (uvicorn's spawned workers import them
again; forked ones copy the pages a collection or a refcount touches), and the build-only
libraries are most of it: pandas, scikit-learn, mlxtend, implicit, Alembic and scipy.stats
took a worker from ~90 to ~210 MB. This runs a worker's whole life in a fresh interpreter:
the app module, ``create_app`` with its lifespan (the build loaded, the event writer on a
SQLite database), and every playground, README and storefront document, then lists which of
those libraries it had imported.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from recograph import db
from tests.conftest import REPO

# Top-level packages (and scipy subpackages) that only the build, the evaluation, the import
# and migrations use; scipy.stats is loaded on the first onlineMetrics request, not at start.
# (Not pygments: rich, which the CLI logs with, brings it, and so does this test's harness.)
BUILD_ONLY = (
    "pandas",
    "pyarrow",
    "sklearn",
    "mlxtend",
    "implicit",
    "joblib",
    "cloudpickle",
    "tqdm",
    "narwhals",
    "alembic",
    "mako",
    "scipy.stats",
    "scipy.optimize",
    "scipy.linalg",
)

WORKER = """
import asyncio, json, sys
from pathlib import Path

from recograph.online.config import ServingConfig
from recograph.serving.app import create_app
from recograph.settings import Settings

BUILD_ONLY = {build_only!r}


def loaded():
    return [name for name in BUILD_ONLY if name in sys.modules]


async def main(root, database_url):
    from recograph.snapshot import load_snapshot
    from tests.schema.test_compiled_documents import cases
    from tests.serving_helpers import client_of

    settings = Settings(artifacts_dir=root, database_url=database_url, admin_token="")
    app = create_app(settings, config=ServingConfig(reload_poll_seconds=0))
    stages = {{"import": loaded()}}
    async with client_of(app) as client:
        stages["start"] = loaded()
        for query, variables in cases(load_snapshot(root)):
            response = await client.post(
                "/graphql", json={{"query": query, "variables": variables}}
            )
            assert response.status_code < 500, response.text
    stages["requests"] = loaded()
    print(json.dumps(stages))


asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
"""


def test_a_worker_never_imports_build_only_libraries(artifacts_root: Path, tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
    asyncio.run(db.upgrade_schema(database_url))  # here: migrations are not a worker's job
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            WORKER.format(build_only=BUILD_ONLY),
            str(artifacts_root),
            database_url,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    stages = json.loads(done.stdout.splitlines()[-1])
    assert stages == {"import": [], "start": [], "requests": []}
