"""Rejected rows: what was wrong with them, and the ``rejects.jsonl`` file that lists them.

Bad rows never abort an import and are never dropped silently: each becomes a `Reject` that
names the file, the 1-based row (array position or JSON Lines line number), the field and the
reason, and keeps the original record so the store owner can fix it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Reject:
    """One rejected row. ``field`` is None when the whole row is unusable (not an object)."""

    file: str
    row: int
    field: str | None
    reason: str
    record: Any

    def __str__(self) -> str:
        if self.field is None:
            return f"{self.file}:{self.row}: {self.reason}"
        return f"{self.file}:{self.row}: {self.field}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "row": self.row,
            "field": self.field,
            "reason": self.reason,
            "record": self.record,
        }


def _dumps(reject: Reject) -> bytes:
    try:
        return orjson.dumps(reject.to_dict())
    except TypeError:
        # orjson refuses integers beyond 64 bits and lone surrogates (bytes that were not
        # UTF-8); the standard library writes the integers as they are and escapes the rest.
        return json.dumps(reject.to_dict(), default=str).encode()


def write_rejects(path: Path, rejects: Iterable[Reject]) -> int:
    """Replace ``path`` with one JSON object per reject; returns how many were written.

    The file is written beside its final place and renamed, so a reader never sees half of it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for reject in rejects:
                out.write(_dumps(reject))
                out.write(b"\n")
                count += 1
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return count
