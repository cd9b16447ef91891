"""``recograph serve``: arguments become the RECOGRAPH_* settings the workers read."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from recograph import artifacts
from recograph.cli import main
from recograph.commands.serve import _environment, _workers, cores, pass_verified_build
from recograph.online.config import VERIFIED_BUILD_VARIABLE, ServingConfig
from recograph.snapshot import ModelSnapshot
from recograph_lab.bench.serve import free_port, wait_ready


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


@pytest.mark.parametrize(
    "argv", [["evaluate"], ["report", "online"], ["build", "--data", "nowhere"]]
)
def test_a_bad_setting_is_a_clear_error_in_every_command(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECOGRAPH_PORT", "eighty")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"recograph {argv[0]}: RECOGRAPH_PORT must be an integer")
    assert "Traceback" not in err


def test_workers_auto_is_one_per_core() -> None:
    assert _workers("auto") == cores() >= 1
    assert _workers("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="'auto'"):
        _workers("many")


def test_forked_workers_share_live_purchases(
    artifacts_root: Path, tmp_path: Path, snapshot: ModelSnapshot
) -> None:
    """``serve --workers 2``: two forked workers behind one socket; a purchase recorded
    through one connection is seen through every later connection, whichever worker
    accepts it."""
    port = free_port()
    url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    command = [sys.executable, "-m", "recograph.cli", "serve", "--workers", "2"]
    command += ["--artifacts", str(artifacts_root), "--database-url", url, "--port", str(port)]
    env = {**os.environ, "RECOGRAPH_RELOAD_POLL_SECONDS": "0"}
    server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server, timeout=120)
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 2
        customer = int(snapshot.histories.user_ids[2])
        bought = int(snapshot.catalogue.item_ids[4])
        record = "mutation($i: EventInput!) { recordEvent(input: $i) { accepted } }"
        event = {"type": "PURCHASE", "customerId": customer, "productId": bought}
        posted = httpx.post(f"{base}/graphql", json={"query": record, "variables": {"i": event}})
        assert posted.json()["data"]["recordEvent"]["accepted"] is True
        time.sleep(1.5)  # the writer's flush (0.5 s) and the feed's poll (0.5 s)
        live = (
            "query($c: Int) { recommendationJourney(customerId: $c, limit: 1) "
            "{ profile { livePurchases { id } } } }"
        )
        for _ in range(12):  # a new connection each time: the kernel picks the worker
            body = {"query": live, "variables": {"c": customer}}
            answer = httpx.post(f"{base}/graphql", json=body)
            profile = answer.json()["data"]["recommendationJourney"]["profile"]
            assert profile["livePurchases"] == [{"id": bought}]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert all(not w.is_running() for w in workers)


def _copy_of_build(artifacts_root: Path, root: Path) -> str:
    version = artifacts.current_version(artifacts_root)
    assert version is not None
    shutil.copytree(artifacts_root / version, root / version)
    artifacts.set_current(root, version)
    return version


def _tamper_in_place(victim: Path) -> None:
    """Flip the last byte of ``victim``, keeping its size and modification time."""
    stat = victim.stat()
    with victim.open("r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)[0]
        handle.seek(-1, 2)
        handle.write(bytes([last ^ 0xFF]))
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_the_parent_hands_its_workers_only_a_check_that_passed(
    artifacts_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    version = _copy_of_build(artifacts_root, root)
    monkeypatch.setenv(VERIFIED_BUILD_VARIABLE, "set by someone else")
    pass_verified_build(root)
    identity = os.environ[VERIFIED_BUILD_VARIABLE]
    assert ServingConfig.from_env().verified_build == identity
    artifacts.load(root, mmap=True, verified=identity)
    copies = artifacts.mmap_dir(root / version)
    _tamper_in_place(max(copies.glob("*.npy"), key=lambda p: p.stat().st_size))
    pass_verified_build(root)
    assert VERIFIED_BUILD_VARIABLE not in os.environ  # each worker checks on its own
    with pytest.raises(artifacts.ArtifactError, match="checksum"):
        artifacts.load(root, mmap=True, verified=identity)


def test_forked_workers_refuse_a_tampered_build(artifacts_root: Path, tmp_path: Path) -> None:
    """``serve --workers 2`` checks the build once before forking; a mapped copy tampered in
    place (same size and modification time) is refused by the parent's check and then by
    each worker's own: /readyz stays 503 and names the checksum."""
    root = tmp_path / "root"
    version = _copy_of_build(artifacts_root, root)
    artifacts.load(root, mmap=True)  # the aligned copies, then one of them tampered with
    copies = artifacts.mmap_dir(root / version)
    _tamper_in_place(max(copies.glob("*.npy"), key=lambda p: p.stat().st_size))
    port = free_port()
    command = [sys.executable, "-m", "recograph.cli", "serve", "--workers", "2", "--no-migrate"]
    command += ["--artifacts", str(root), "--port", str(port)]
    env = {**os.environ, "RECOGRAPH_RELOAD_POLL_SECONDS": "0", "RECOGRAPH_DATABASE_URL": ""}
    server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    answers: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 120
        while len(answers) < 8 and time.monotonic() < deadline:
            assert server.poll() is None
            try:
                answer = httpx.get(f"{base}/readyz", timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            body = answer.json()
            if body["lastReloadError"] is not None:  # the worker's startup load has ended
                assert answer.status_code == 503
                answers.append(body)
        assert len(psutil.Process(server.pid).children()) == 2
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert len(answers) == 8
    assert all(not body["ready"] for body in answers)
    assert all("checksum mismatch" in body["lastReloadError"]["message"] for body in answers)
