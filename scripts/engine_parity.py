#!/usr/bin/env python
"""Record what a build and the engine answer, so a refactor can prove it changed nothing.

``python scripts/engine_parity.py DATA OUT.json`` builds DATA (a store export, e.g. the demo
store of ``recograph demo-data``) with seed 42 (``--ranking two-stage|full|auto`` as
``recograph build --ranking``), once evaluated and once tuned (a budget large
enough that every trial runs, so the build does not depend on the clock), then asks the engine
a fixed request set on each (every 7th customer and anonymous visitors × five pages × each
strategy, with the journey trace) and writes:

- ``artifacts``: the sha256 of ``arrays.npz`` and every array's checksum from the manifest,
  and the manifest without what differs on every run (version, created_at, timings, and
  every ``seconds`` field when comparing);
- ``answers``: each request and the engine's full answer (floats as ``repr``, exact).

``python scripts/engine_parity.py --artifacts ROOT [--customers N] [--weights CF,CONTENT,RULES,POP]
OUT.json`` records only the answers on an existing build (a large store whose rebuild takes too
long): ``N`` customers spread over the build and anonymous visitors, each on the five pages
(the cart and the current product varying with the customer, as the serving benchmark's) with
every strategy, and how many products each answer scored (the candidate stage's size).
``--weights`` adds a hybrid request with those blend weights on every page: a build whose
chosen weights leave signals at 0 (the default 100x build serves CF or popularity alone)
still has its blend of every signal checked.

``python scripts/engine_parity.py --compare BEFORE.json AFTER.json`` prints the differences
and exits 1 when there are any.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from dataclasses import asdict, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

VOLATILE = {"version", "created_at", "timings"}
WALL_CLOCK = "seconds"  # rule mining's and each tuning trial's duration, in the manifest


def _plain(value: Any) -> Any:
    """JSON-ready copy with exact floats (repr) and enums by value."""
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def _requests(snapshot: Any, customers: int | None = None, weights: Any | None = None) -> list[Any]:
    """Every 7th customer (``customers``: that many, spread over the build, with pages that
    vary with the customer) and anonymous visitors, on five pages with every strategy (and,
    given ``weights``, a hybrid request with those weights)."""
    from recograph import engine
    from recograph.core.vocabulary import PageType

    n_users = int(snapshot.interactions.shape[0])
    n_items = snapshot.n_items
    step = 7 if customers is None else max(1, n_users // customers)
    users: list[int | None] = [None, *range(0, n_users, step)]
    requests = []
    for index, user in enumerate(users):
        item_a, item_b = (0, n_items // 2) if customers is None else _page_items(index, n_items)
        pages = [
            engine.Context(),
            engine.Context(page_type=PageType.HOME),
            engine.Context(current=item_a, page_type=PageType.PRODUCT),
            engine.Context(cart=(item_a, item_b), page_type=PageType.CART),
            engine.Context(category=int(snapshot.catalogue.category[item_b]), viewed=(item_b,)),
        ]
        for page in pages:
            for strategy in engine.Strategy:
                requests.append(
                    engine.Request(user=user, context=page, strategy=strategy, explain=True)
                )
            if weights is not None:
                requests.append(
                    engine.Request(user=user, context=page, weights=weights, explain=True)
                )
    return requests


def _page_items(index: int, n_items: int) -> tuple[int, int]:
    """Two products that vary with the request's customer (``index``), as the serving
    benchmark's carts do."""
    return (7 * index) % n_items, (7 * index + 3 * n_items // 5) % n_items


def _answers(
    snapshot: Any, customers: int | None = None, weights: Any | None = None
) -> list[dict[str, Any]]:
    """The engine's full answer to each of `_requests` (with the number of products it
    scored when ``customers`` is given)."""
    from recograph import engine

    answers = []
    for request in _requests(snapshot, customers, weights):
        answer = engine.recommend(snapshot, request)
        recorded = {
            "request": _plain(request),
            "items": _plain(answer.items),
            "strategy": _plain(answer.strategy),
            "explanation": answer.explanation,
            "segment": _plain(answer.segment),
            "weights": _plain(answer.weights),
            "trace": _plain(answer.trace),
            "has_more": answer.has_more,
        }
        if customers is not None:
            recorded["scored"] = answer.scored
        answers.append(recorded)
    return answers


def record_artifacts(root: Path, out: Path, customers: int, weights: str | None = None) -> None:
    """The answers on the existing build at ``root`` (no build)."""
    from recograph.core.vocabulary import Weights
    from recograph.snapshot import load_snapshot

    blend = None if weights is None else Weights(*(float(w) for w in weights.split(",")))
    answers = _answers(load_snapshot(root), customers, blend)
    out.write_text(json.dumps({"artifacts": {"answers": answers}}, indent=1, sort_keys=True))
    print(f"{len(answers)} answers")


def _build(store: Any, root: Path, tune: bool, ranking: str) -> dict[str, Any]:
    """One build of the store: its artifact checksums and the engine's answers on it."""
    from recograph.build import BuildParams, build_artifacts
    from recograph.snapshot import load_snapshot

    result = build_artifacts(
        store, root, BuildParams(seed=42, ranking=ranking), tune=tune, tune_budget=1e6
    )
    assert result.path is not None
    manifest = json.loads((result.path / "manifest.json").read_text())
    npz = hashlib.sha256((result.path / "arrays.npz").read_bytes()).hexdigest()
    answers = _answers(load_snapshot(root))
    stable = {k: v for k, v in manifest.items() if k not in VOLATILE}
    return {"arrays.npz": npz, "manifest": _plain(stable), "answers": answers}


def record(data: Path, out: Path, ranking: str = "auto") -> None:
    from recograph.io.reader import read_store

    store = read_store(data).data
    builds = {}
    for name, tune in (("evaluated", False), ("tuned", True)):
        with tempfile.TemporaryDirectory() as tmp:
            builds[name] = _build(store, Path(tmp), tune, ranking)
    out.write_text(json.dumps(builds, indent=1, sort_keys=True))
    for name, build in builds.items():
        print(f"{name}: arrays.npz {build['arrays.npz'][:16]}…, {len(build['answers'])} answers")


def _paths(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON values differ (the first few paths)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted((set(a) | set(b)) - {WALL_CLOCK}):
            found += _paths(a.get(key), b.get(key), f"{path}.{key}")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            p
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for p in _paths(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [path]


def compare(before: Path, after: Path) -> int:
    old, new = json.loads(before.read_text()), json.loads(after.read_text())
    problems = _paths(old, new)
    for line in problems[:30]:
        print("differs:", line)
    for name, build in new.items():
        npz = f"arrays.npz {build['arrays.npz'][:16]}…, " if "arrays.npz" in build else ""
        print(f"{name}: {npz}{len(build['answers'])} answers")
    print(f"{len(problems)} differences" if problems else "identical")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--compare", action="store_true", help="compare two recordings")
    parser.add_argument(
        "--ranking",
        choices=("auto", "two-stage", "full"),
        default="auto",
        help="the builds' ranking (as `recograph build --ranking`); auto: by catalogue size",
    )
    parser.add_argument(
        "--artifacts", type=Path, help="record the answers on this existing build (no build)"
    )
    parser.add_argument(
        "--customers", type=int, default=60, help="with --artifacts: customers asked"
    )
    parser.add_argument(
        "--weights",
        help="with --artifacts: also a hybrid request per page with these weights "
        "(cf,content,rules,popularity)",
    )
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path, nargs="?")
    args = parser.parse_args(argv)
    if args.artifacts is not None:
        if args.second is not None:
            parser.error("--artifacts takes one path: OUT.json")
        record_artifacts(args.artifacts, args.first, args.customers, args.weights)
        return 0
    if args.second is None:
        parser.error("two paths are needed")
    if args.compare:
        return compare(args.first, args.second)
    record(args.first, args.second, args.ranking)
    return 0


if __name__ == "__main__":
    sys.exit(main())
