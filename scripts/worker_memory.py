#!/usr/bin/env python
"""What each serving worker costs in memory, right after start and after traffic.

``python scripts/worker_memory.py --artifacts ROOT [--workers 2] [--seconds 6]
[--concurrency 16]``
runs ``recograph serve`` itself (``python -m recograph.cli serve``, forked workers as
production runs them, a throwaway SQLite database), waits until every worker answers
``/readyz``, and prints each worker's RSS and USS (USS: the pages only that worker holds, what
one more worker adds; RSS also counts the pages it shares with the parent and the other
workers: the imports made before the fork and the memory-mapped model) and the CPU seconds it
spent starting (importing what the parent had not, loading the build), and its private dirty
pages (USS without the mapped-file pages only that worker has read so far). It then drives the
storefront query of `recograph bench serve` with wrk for ``--seconds`` at ``--concurrency``
connections and prints the same figures again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from recograph import db
from recograph_lab.bench.serve import (
    _wrk_level,
    benchmark_requests,
    free_port,
    wait_ready,
    worker_memory,
)

IDLE_CPU = 0.1  # CPU seconds a second


def worker_cpu(server: psutil.Process) -> list[float]:
    """User + system CPU seconds of each worker so far, first started first."""
    workers = sorted(server.children() or [server], key=lambda p: p.create_time())
    return [sum(worker.cpu_times()[:2]) for worker in workers]


def private_dirty_mb(worker: psutil.Process) -> float:
    """The worker's private dirty pages (its heap, copied pages): USS also counts the pages of
    mapped files only this worker has read so far, which the page cache holds once."""
    for line in Path(f"/proc/{worker.pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def describe(label: str, server: psutil.Process) -> str:
    memory = worker_memory(server)
    cpu = worker_cpu(server)
    dirty = [
        private_dirty_mb(w)
        for w in sorted(server.children() or [server], key=lambda p: p.create_time())
    ]
    rows = [
        f"  worker {i + 1}: RSS {rss:.0f} MB, USS {uss:.0f} MB (private dirty {mb:.0f} MB), "
        f"CPU so far {seconds:.2f} s"
        for i, ((rss, uss), mb, seconds) in enumerate(zip(memory, dirty, cpu, strict=True))
    ]
    return "\n".join([label, *rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="recograph-memory-") as work:
        database_url = f"sqlite+aiosqlite:///{Path(work) / 'serve.db'}"
        asyncio.run(db.upgrade_schema(database_url))
        port = free_port()
        env = {**os.environ, "RECOGRAPH_RELOAD_POLL_SECONDS": "0"}
        command = [
            sys.executable,
            "-m",
            "recograph.cli",
            "serve",
            "--artifacts",
            str(args.artifacts),
            "--database-url",
            database_url,
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--no-migrate",
        ]
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            server = psutil.Process(process.pid)
            wait_ready(base, process)
            while args.workers > 1 and len(server.children()) < args.workers:
                time.sleep(0.1)
            # a worker has loaded once its CPU grows by less than IDLE_CPU a second (an idle
            # worker still polls for live purchases)
            previous = [0.0] * max(1, args.workers)
            while True:
                current = worker_cpu(server)
                if max(a - b for a, b in zip(current, previous, strict=True)) < IDLE_CPU:
                    break
                previous = current
                time.sleep(1.0)
            print(f"{args.workers} worker(s) on {args.artifacts}")
            print(f"ready after {time.perf_counter() - started:.1f} s (wall, launch to idle)")
            print(describe("after start:", server))
            _, bodies, response = benchmark_requests(base)
            if response.status_code != 200:
                print(response.text[:500], file=sys.stderr)
                return 1
            result = _wrk_level(wrk, f"{base}/graphql", bodies, args.concurrency, args.seconds)
            print(f"traffic: {result.requests} requests at concurrency {args.concurrency}")
            print(describe("after traffic:", server))
        finally:
            process.terminate()
            process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
