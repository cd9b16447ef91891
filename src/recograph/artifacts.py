"""The artifact format: one directory per build, published atomically, loaded with validation.

Layout of ``<root>/<version>/``:

- ``arrays.npz``: every array of the build (numeric arrays, unicode string arrays, sparse
  matrices as ``<name>data`` / ``<name>indices`` / ``<name>indptr`` / ``<name>shape``);
  loaded with ``allow_pickle=False``.
- ``manifest.json``: ``format_version``, ``version``, ``created_at``, ``engine``, ``seed``,
  ``parameters``, ``data_fingerprint``, ``counts``, ``timings``, ``metrics`` and ``arrays``
  (name -> [dtype, shape, sha256 of the bytes]) so a truncated or swapped array is detected.

``<root>/current`` is a one-line text file naming the published version; it is replaced with
``os.replace`` so a reader never sees a half-written pointer. A failed build never touches it.

Memory-mapped loading (``load(..., mmap=True)``, what the server uses) lets every worker
process on a host share one copy of the arrays in the page cache. ``arrays.npz`` is stored
uncompressed, but a zip member starts wherever the previous one ended, so its data is not
aligned for its dtype, and numpy copies misaligned arrays before BLAS or sparse kernels use
them (on every request). The first load therefore writes each member once as an aligned
``.npy`` file under ``<root>/.mmap/<version>/`` (or, when the root is read-only, under the
temporary directory), checked against the manifest's checksums, and every load maps those.
What was published, ``<root>/<version>/`` with ``arrays.npz`` and the manifest, is never
changed; `prune` removes the copies of the builds it deletes.

Checking the checksums of the mapped copies costs ≈ 0.4 s of CPU at 100× (390 MB hashed).
Forked server workers map files their parent has just checked: the parent calls
`verified_build`, which checks them once and returns their identity (`mapped_identity`:
device, inode, size, modification and change times of every file, and the manifest's
expectations), and a worker given that identity (``load(..., verified=...)``) skips the hashing
when the files it mapped still have it. Any other build, or a file written or replaced since
(a new inode or change time), is hashed as before.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recograph.core.errors import RecographError

logger = logging.getLogger(__name__)

# 2: the repeat model's per-product, per-customer and store habits (builds of format 1 lack
# them and are refused with this number rather than as inconsistent arrays).
# 3: the candidate lists of two-stage ranking (``candidates.*``, `recommenders.candidates`).
# 4: the repeat model's re-buy interval quantiles per category (due dates, buy-again reasons).
# 5: each customer's best products per dense CF model (``candidates.cf.*``: SVD, ALS, EASE),
#    so two-stage ranking needs no pass over the catalogue for them.
# 6: what a server derived at load is stored, so workers map it instead of each holding its
#    own copy: every customer's purchase table (``histories.purchases.*``) and the completed
#    orders × products for co-purchase rates (``order_baskets.*``, where the entries are).
FORMAT_VERSION = 6
ARRAYS_FILE = "arrays.npz"
MANIFEST_FILE = "manifest.json"
MMAP_DIR = ".mmap"
MMAP_COMPLETE = "complete"
CURRENT_FILE = "current"

Arrays = Mapping[str, npt.NDArray[Any]]


class ArtifactError(RecographError):
    """An artifact directory is missing, incomplete, corrupt or of another format version."""


@dataclass(frozen=True)
class LoadedArtifacts:
    """Arrays (read-only) and manifest of one published build."""

    path: Path
    manifest: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]]

    @property
    def version(self) -> str:
        return str(self.manifest["version"])


def _digest(array: npt.NDArray[Any]) -> str:
    """sha256 of the array's bytes (C order), hashed in place when it is contiguous."""
    if array.flags.c_contiguous and array.ndim > 0 and array.size > 0:
        return hashlib.sha256(array.reshape(-1).view(np.uint8).data).hexdigest()
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def describe_arrays(arrays: Arrays) -> dict[str, list[Any]]:
    """Name -> [dtype, shape, sha256] for the manifest."""
    return {
        name: [str(array.dtype), list(array.shape), _digest(array)]
        for name, array in sorted(arrays.items())
    }


def new_version(now: datetime | None = None) -> str:
    """A sortable, unique build version such as ``20261127T104455123456Z`` (UTC, microseconds)."""
    moment = now or datetime.now(UTC)
    return moment.strftime("%Y%m%dT%H%M%S%fZ")


def publish(
    arrays: Arrays,
    manifest: Mapping[str, Any],
    root: Path,
    *,
    version: str | None = None,
    keep: int = 5,
) -> Path:
    """Write a build to ``root/<version>``, then switch ``root/current`` to it.

    The directory is written under a temporary name and renamed, and the pointer is replaced
    atomically, so readers see either the old build or the complete new one.
    """
    for name, array in arrays.items():
        if array.dtype == object:
            raise ArtifactError(f"array {name!r} has dtype object; artifacts allow no pickles")
    root.mkdir(parents=True, exist_ok=True)
    version = version or new_version()
    final = root / version
    if final.exists():
        raise ArtifactError(f"artifact version {version} already exists at {final}")
    full_manifest = dict(manifest)
    full_manifest.update(
        format_version=FORMAT_VERSION,
        version=version,
        arrays=describe_arrays(arrays),
    )
    full_manifest.setdefault("created_at", datetime.now(UTC).isoformat(timespec="seconds"))
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root))
    try:
        np.savez(staging / ARRAYS_FILE, allow_pickle=False, **dict(arrays))
        (staging / MANIFEST_FILE).write_text(
            json.dumps(full_manifest, indent=2, sort_keys=True, default=str) + "\n"
        )
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    set_current(root, version)
    prune(root, keep=keep)
    logger.info("published artifacts %s", final)
    return final


def set_current(root: Path, version: str) -> None:
    """Point ``root/current`` at ``version`` atomically."""
    if not (root / version / MANIFEST_FILE).is_file():
        raise ArtifactError(f"cannot point current at {version}: no manifest in {root / version}")
    pointer = root / f".{CURRENT_FILE}.tmp"
    pointer.write_text(version + "\n")
    os.replace(pointer, root / CURRENT_FILE)


def current_version(root: Path) -> str | None:
    """The version ``root/current`` names, or None when nothing was published yet."""
    try:
        text = (root / CURRENT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return text or None


def list_versions(root: Path) -> list[str]:
    """Published versions (complete directories), oldest first."""
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir() and not entry.name.startswith(".") and (entry / MANIFEST_FILE).is_file()
    )


def prune(root: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` builds (never the current one)."""
    current = current_version(root)
    versions = list_versions(root)
    for old in versions[: max(0, len(versions) - keep)]:
        if old != current:
            shutil.rmtree(root / old, ignore_errors=True)
            shutil.rmtree(root / MMAP_DIR / old, ignore_errors=True)


def resolve(path: Path) -> Path:
    """An artifact directory from either a root (follows ``current``) or a build directory."""
    if (path / MANIFEST_FILE).is_file():
        return path
    version = current_version(path)
    if version is None:
        raise ArtifactError(f"no published build in {path} (missing {path / CURRENT_FILE})")
    return path / version


def load(
    path: Path, *, verify: bool = True, mmap: bool = False, verified: str | None = None
) -> LoadedArtifacts:
    """Load and validate a build: format version, every array present with its dtype, shape
    and (when ``verify``) checksum. Raises ArtifactError naming what is wrong. ``mmap`` maps
    aligned copies of the arrays read-only instead of reading them into this process (see
    the module docstring); ``verified``: the `mapped_identity` of copies another process of
    this server checked (`verified_build`), whose checksums are not computed again while the
    mapped files still have that identity."""
    directory = resolve(path)
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{directory}: missing {MANIFEST_FILE}") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{directory / MANIFEST_FILE}: not valid JSON ({exc})") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{directory}: artifact format {manifest.get('format_version')!r}, "
            f"this server reads format {FORMAT_VERSION}"
        )
    expected: dict[str, list[Any]] = manifest.get("arrays", {})
    try:
        if mmap:
            arrays = _mapped_arrays(directory, expected, verify, verified)
        else:
            arrays = _read_arrays(directory, expected, verify)
    except ArtifactError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{directory / ARRAYS_FILE}: unreadable ({exc})") from None
    return LoadedArtifacts(path=directory, manifest=manifest, arrays=arrays)


def _check(
    directory: Path, name: str, array: npt.NDArray[Any], expected: list[Any], verify: bool
) -> None:
    dtype, shape, digest = expected
    if str(array.dtype) != dtype or list(array.shape) != shape:
        raise ArtifactError(
            f"{directory}: array {name!r} is {array.dtype}{list(array.shape)}, "
            f"manifest says {dtype}{shape}"
        )
    if verify and _digest(array) != digest:
        raise ArtifactError(f"{directory}: array {name!r} checksum mismatch")


def _npz_arrays(
    directory: Path, names: list[str], expected: dict[str, list[Any]], verify: bool
) -> Iterator[tuple[str, npt.NDArray[Any]]]:
    """Each of ``names`` read from ``arrays.npz`` and checked, one at a time (read-only)."""
    with (
        (directory / ARRAYS_FILE).open("rb") as handle,
        np.load(handle, allow_pickle=False) as npz,
    ):
        for name in names:
            if name not in npz.files:
                raise ArtifactError(f"{directory}: array {name!r} missing")
            array = npz[name]
            _check(directory, name, array, expected[name], verify)
            array.setflags(write=False)
            yield name, array


def _read_arrays(
    directory: Path, expected: dict[str, list[Any]], verify: bool
) -> dict[str, npt.NDArray[Any]]:
    return dict(_npz_arrays(directory, list(expected), expected, verify))


def _npz_stamp(directory: Path) -> str:
    """What the mapped copies were made from: arrays.npz's size and modification time."""
    stat = (directory / ARRAYS_FILE).stat()
    return f"{stat.st_size} {stat.st_mtime_ns}\n"


def mmap_dir(directory: Path) -> Path:
    """Where the aligned copies of a build live: ``<root>/.mmap/<version>``, or in the
    temporary directory when the root cannot be written."""
    if os.access(directory.parent, os.W_OK):
        return directory.parent / MMAP_DIR / directory.name
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "recograph-mmap" / f"{directory.name}-{digest}"


def _write_mapped(directory: Path, target: Path, expected: dict[str, list[Any]]) -> None:
    """Write every array as an aligned .npy file (checked against the manifest), then rename
    the directory into place. Workers starting together take a lock: the first writes, the
    others find the copies complete (a complete copy is never replaced while mapped)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _mapped_complete(directory, target):
            return
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            # One array at a time, not all of them at once (≈ 390 MB on the 100x store).
            names = sorted(expected)
            for index, (_, array) in enumerate(_npz_arrays(directory, names, expected, True)):
                np.save(staging / f"{index}.npy", array, allow_pickle=False)
            (staging / "names").write_text("\n".join(names) + "\n")
            (staging / MMAP_COMPLETE).write_text(_npz_stamp(directory))
            shutil.rmtree(target, ignore_errors=True)  # a stale copy of another arrays.npz
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _mapped_complete(directory: Path, target: Path) -> bool:
    try:
        return (target / MMAP_COMPLETE).read_text() == _npz_stamp(directory)
    except FileNotFoundError:
        return False


def _mapped_arrays(
    directory: Path, expected: dict[str, list[Any]], verify: bool, verified: str | None
) -> dict[str, npt.NDArray[Any]]:
    target = mmap_dir(directory)
    if not _mapped_complete(directory, target):
        _write_mapped(directory, target, expected)
    files = {
        name: target / f"{index}.npy"
        for index, name in enumerate((target / "names").read_text().split())
    }
    arrays: dict[str, npt.NDArray[Any]] = {}
    for name in expected:
        if name not in files:
            raise ArtifactError(f"{directory}: array {name!r} missing")
        mapped = np.load(files[name], mmap_mode="r", allow_pickle=False)
        arrays[name] = np.asarray(mapped)  # a plain read-only view of the map
    # The identity is taken after mapping: a file replaced since was mapped as it was
    # checked, and one written in place has a new change time, so it does not match.
    trusted = verified is not None and verified == mapped_identity(target, expected)
    for name, spec in expected.items():
        _check(directory, name, arrays[name], spec, verify and not trusted)
    return arrays


def mapped_identity(target: Path, expected: dict[str, list[Any]]) -> str:
    """What identifies the mapped copies in ``target`` as the ones checked against
    ``expected`` (the manifest's arrays): a digest of ``expected`` and of each file's device,
    inode, size, and modification and change times (a write, even one that restores the
    modification time, sets the change time)."""
    digest = hashlib.sha256(json.dumps(expected, sort_keys=True).encode())
    for entry in sorted(target.iterdir(), key=lambda e: e.name):
        stat = entry.stat()
        fields = (entry.name, stat.st_dev, stat.st_ino, stat.st_size)
        digest.update(repr((*fields, stat.st_mtime_ns, stat.st_ctime_ns)).encode())
    return digest.hexdigest()


def verified_build(path: Path) -> str:
    """Check the build ``path`` names (a root or a build directory) with every checksum, as
    `load` maps it, and return its `mapped_identity` for processes about to map the same
    files (`load`'s ``verified``). Raises ArtifactError when the build is refused, or when its
    files changed while they were being checked."""
    directory = resolve(path)
    loaded = load(directory, mmap=True, verify=False)  # makes the mapped copies if need be
    expected: dict[str, list[Any]] = loaded.manifest.get("arrays", {})
    target = mmap_dir(loaded.path)
    before = mapped_identity(target, expected)
    load(directory, mmap=True)
    if mapped_identity(target, expected) != before:
        raise ArtifactError(f"{directory}: the mapped arrays changed while being checked")
    return before
