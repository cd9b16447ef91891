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
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
ARRAYS_FILE = "arrays.npz"
MANIFEST_FILE = "manifest.json"
CURRENT_FILE = "current"

Arrays = Mapping[str, npt.NDArray[Any]]


class ArtifactError(Exception):
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


def resolve(path: Path) -> Path:
    """An artifact directory from either a root (follows ``current``) or a build directory."""
    if (path / MANIFEST_FILE).is_file():
        return path
    version = current_version(path)
    if version is None:
        raise ArtifactError(f"no published build in {path} (missing {path / CURRENT_FILE})")
    return path / version


def load(path: Path, *, verify: bool = True) -> LoadedArtifacts:
    """Load and validate a build: format version, every array present with its dtype, shape
    and (when ``verify``) checksum. Raises ArtifactError naming what is wrong."""
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
    arrays: dict[str, npt.NDArray[Any]] = {}
    try:
        with (
            (directory / ARRAYS_FILE).open("rb") as handle,
            np.load(handle, allow_pickle=False) as npz,
        ):
            for name, (dtype, shape, digest) in expected.items():
                if name not in npz.files:
                    raise ArtifactError(f"{directory}: array {name!r} missing")
                array = npz[name]
                if str(array.dtype) != dtype or list(array.shape) != shape:
                    raise ArtifactError(
                        f"{directory}: array {name!r} is {array.dtype}{list(array.shape)}, "
                        f"manifest says {dtype}{shape}"
                    )
                if verify and _digest(array) != digest:
                    raise ArtifactError(f"{directory}: array {name!r} checksum mismatch")
                array.setflags(write=False)
                arrays[name] = array
    except ArtifactError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{directory / ARRAYS_FILE}: unreadable ({exc})") from None
    return LoadedArtifacts(path=directory, manifest=manifest, arrays=arrays)
