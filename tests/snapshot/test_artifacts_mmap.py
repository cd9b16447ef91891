"""Memory-mapped loading: the same arrays as reading, mapped read-only from aligned files, the
published build untouched, corruption still refused."""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from recograph import artifacts
from recograph.catalogue import Purchases
from recograph.engine import Request, recommend
from recograph.recommenders.intent import completed_baskets
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


def _flip_last_byte_in_place(victim: Path) -> None:
    """Tamper with ``victim`` in place, keeping its size and modification time."""
    stat = victim.stat()
    with victim.open("r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)
        handle.seek(-1, 2)
        handle.write(bytes([last[0] ^ 0xFF]))
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_verified_identity_skips_the_checksums_only_for_the_files_checked(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = artifacts.verified_build(root)
    hashed: list[int] = []
    digest = artifacts._digest

    def counted(array: np.ndarray) -> str:
        hashed.append(array.size)
        return digest(array)

    monkeypatch.setattr(artifacts, "_digest", counted)
    trusted = artifacts.load(root, mmap=True, verified=identity)
    assert hashed == []  # the parent's check is trusted: nothing hashed again
    checked = artifacts.load(root, mmap=True)
    assert len(hashed) == len(checked.arrays)  # without it, every array is hashed
    for name, array in checked.arrays.items():
        np.testing.assert_array_equal(trusted.arrays[name], array)
    copies = artifacts.mmap_dir(artifacts.resolve(root))
    victim = max(copies.glob("*.npy"), key=lambda p: p.stat().st_size)
    _flip_last_byte_in_place(victim)
    # Same size and modification time, but written: the identity no longer matches.
    with pytest.raises(artifacts.ArtifactError, match="checksum"):
        artifacts.load(root, mmap=True, verified=identity)
    with pytest.raises(artifacts.ArtifactError, match="checksum"):
        artifacts.verified_build(root)


def test_another_builds_identity_is_not_trusted(root: Path) -> None:
    identity = artifacts.verified_build(root)
    copies = artifacts.mmap_dir(artifacts.resolve(root))
    victim = max(copies.glob("*.npy"), key=lambda p: p.stat().st_size)
    replacement = victim.with_suffix(".new")
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    replacement.write_bytes(bytes(data))
    replacement.replace(victim)  # a new file under the old name
    assert artifacts.mapped_identity(copies, artifacts.load(root).manifest["arrays"]) != identity
    with pytest.raises(artifacts.ArtifactError, match="checksum"):
        artifacts.load(root, mmap=True, verified=identity)
    with pytest.raises(artifacts.ArtifactError, match="checksum"):
        artifacts.load(root, mmap=True, verified="0" * 64)


def test_prune_removes_the_mapped_copies_of_deleted_builds(root: Path) -> None:
    old = artifacts.current_version(root)
    assert old is not None
    artifacts.load(root, mmap=True)
    loaded = artifacts.load(root)
    manifest = {k: v for k, v in loaded.manifest.items() if k not in {"arrays", "version"}}
    artifacts.publish(dict(loaded.arrays), manifest, root, version="z-newer", keep=1)
    assert not (root / old).exists()
    assert not (root / artifacts.MMAP_DIR / old).exists()


def _is_mapped(array: np.ndarray) -> bool:
    """Whether ``array`` reads a memory map (shared by every process mapping the file)."""
    base = array.base
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, mmap.mmap)


def test_a_mapped_snapshot_keeps_what_it_derived_in_the_map(root: Path) -> None:
    # What a worker derived at load was private to it: the purchase table, the order
    # baskets (rows and columns) and the ones of the CF lists are stored (format 6) and mapped.
    snapshot = load_snapshot(root, mmap=True)
    purchases = snapshot.histories.purchases
    baskets = snapshot.order_baskets
    lists = list(snapshot.customer_lists.rows.values())
    arrays = {
        "purchases.count_items": purchases.count_items,
        "purchases.count_values": purchases.count_values,
        "purchases.count_indptr": purchases.count_indptr,
        "purchases.n_completed": purchases.n_completed,
        "baskets.orders.indices": baskets.orders.indices,
        "baskets.orders.indptr": baskets.orders.indptr,
        "baskets.items.indices": baskets.items.indices,
        "baskets.items.indptr": baskets.items.indptr,
        **{f"cf_lists.{i}.indices": matrix.indices for i, matrix in enumerate(lists)},
    }
    assert lists
    assert {name: _is_mapped(array) for name, array in arrays.items()} == dict.fromkeys(
        arrays, True
    )
    for ones in (baskets.orders.data, baskets.items.data, *(m.data for m in lists)):
        assert ones.strides == (0,)  # one value, whatever the number of entries
        assert ones.size == 0 or ones.min() == ones.max() == 1
    read = load_snapshot(root)
    assert (read.order_baskets.orders != baskets.orders).nnz == 0
    assert (read.order_baskets.items != baskets.items).nnz == 0
    h = read.histories
    recounted = Purchases.count(
        h.user_order_indptr, h.order_status, h.order_date, h.order_line_indptr, h.line_item
    )
    for name in ("n_completed", "last_completed", "count_indptr", "count_items", "count_values"):
        np.testing.assert_array_equal(getattr(purchases, name), getattr(recounted, name))
    rebuilt = completed_baskets(h, read.n_items)
    assert (rebuilt.orders != baskets.orders).nnz == 0
