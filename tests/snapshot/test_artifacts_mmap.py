"""Memory-mapped loading: the same arrays as reading, mapped read-only from aligned files, the
published build untouched, corruption still refused."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from recograph import artifacts
from recograph.engine import Request, recommend
from recograph.snapshot import load_snapshot


def _digests(directory: Path) -> dict[str, str]:
    return {
        entry.name: hashlib.sha256(entry.read_bytes()).hexdigest()
        for entry in directory.iterdir()
        if entry.is_file()
    }


@pytest.fixture
def root(artifacts_root: Path, tmp_path: Path) -> Path:
    version = artifacts.current_version(artifacts_root)
    assert version is not None
    shutil.copytree(artifacts_root / version, tmp_path / "root" / version)
    artifacts.set_current(tmp_path / "root", version)
    return tmp_path / "root"


def test_mapped_arrays_equal_read_arrays_and_leave_the_build_unchanged(root: Path) -> None:
    build = artifacts.resolve(root)
    before = _digests(build)
    read = artifacts.load(root)
    mapped = artifacts.load(root, mmap=True)
    assert _digests(build) == before  # arrays.npz and the manifest, byte for byte
    assert sorted(p.name for p in build.iterdir()) == ["arrays.npz", "manifest.json"]
    assert mapped.arrays.keys() == read.arrays.keys()
    for name, array in read.arrays.items():
        m = mapped.arrays[name]
        assert m.dtype == array.dtype
        assert m.shape == array.shape
        np.testing.assert_array_equal(m, array)
        assert not m.flags.writeable
        assert m.flags.aligned
        assert type(m) is np.ndarray
    big = max(mapped.arrays.values(), key=lambda a: a.nbytes)
    assert not big.flags.owndata  # a view of the map, not a copy in this process
    again = artifacts.load(root, mmap=True)  # the second load maps the same files
    np.testing.assert_array_equal(
        again.arrays[next(iter(read.arrays))], next(iter(read.arrays.values()))
    )


def test_a_mapped_snapshot_recommends_as_a_read_one(root: Path) -> None:
    read, mapped = load_snapshot(root), load_snapshot(root, mmap=True)
    for user in range(0, 40, 7):
        request = Request(user=user, limit=10)
        a, b = recommend(read, request), recommend(mapped, request)
        assert [(i.position, i.score, i.reason.text) for i in a.items] == [
            (i.position, i.score, i.reason.text) for i in b.items
        ]


def test_corrupt_mapped_copies_are_refused(root: Path) -> None:
    artifacts.load(root, mmap=True)
    copies = artifacts.mmap_dir(artifacts.resolve(root))
    victim = max(copies.glob("*.npy"), key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(artifacts.ArtifactError, match="checksum"):
        artifacts.load(root, mmap=True)


def test_prune_removes_the_mapped_copies_of_deleted_builds(root: Path) -> None:
    old = artifacts.current_version(root)
    assert old is not None
    artifacts.load(root, mmap=True)
    loaded = artifacts.load(root)
    manifest = {k: v for k, v in loaded.manifest.items() if k not in {"arrays", "version"}}
    artifacts.publish(dict(loaded.arrays), manifest, root, version="z-newer", keep=1)
    assert not (root / old).exists()
    assert not (root / artifacts.MMAP_DIR / old).exists()
