"""Streams a store export (JSON arrays or JSON Lines) and validates it row by row.

Files are never loaded whole: ijson parses JSON arrays incrementally in 64 KiB reads, JSON
Lines are read line by line. A broken JSON Lines line is one rejected row; a JSON array
that does not parse (or a missing file) stops the whole read with `StoreFormatError`, because
nothing after the break can be trusted.

Some arrays are well-formed but hold a value the fast (yajl) parser refuses: an integer beyond
64 bits, a number beyond the double range, bytes that are not UTF-8 inside a string. Such a
file is read again from the row it stopped at with ijson's tolerant Python parser, which keeps
those values (big integers as they are, huge numbers as infinity, invalid bytes as lone
surrogates), so validation rejects that one row with its reason instead of the whole file.
"""

from __future__ import annotations

import codecs
import gc
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import ijson.backends.python as tolerant_json
import numpy as np
import orjson
import pandas as pd

from recograph.core.errors import RecographError
from recograph.dataset import COLUMNS, StoreData
from recograph.io.rejects import Reject
from recograph.io.validate import SPECS, KeyRegistry, TableValidator
from recograph.progress import Progress, no_progress

logger = logging.getLogger(__name__)

# The export's files in dependency order: each file's references point to earlier ones.
STORE_FILES: tuple[str, ...] = ("products", "customers", "orders", "order_items", "reviews")
CHUNK_BYTES = 64 * 1024
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
# yajl's messages for well-formed JSON holding values it cannot represent (see module doc).
_VALUE_ERRORS = ("integer overflow", "numeric (floating point) overflow", "invalid bytes in UTF8")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


class StoreFormatError(RecographError):
    """The export cannot be read at all (missing file, broken JSON array, unreadable file)."""


@dataclass(frozen=True, slots=True)
class BrokenLine:
    """A JSON Lines line that is not valid JSON; becomes a rejected row."""

    text: str
    reason: str


def locate(data_dir: Path, name: str) -> Path:
    """``name.json`` or ``name.jsonl`` inside ``data_dir``; exactly one must exist."""
    if not data_dir.is_dir():
        raise StoreFormatError(f"data directory {data_dir} does not exist")
    found = [p for p in (data_dir / f"{name}.json", data_dir / f"{name}.jsonl") if p.is_file()]
    if not found:
        raise StoreFormatError(f"missing required file {name}.json (or {name}.jsonl) in {data_dir}")
    if len(found) > 1:
        raise StoreFormatError(
            f"both {name}.json and {name}.jsonl exist in {data_dir}; keep only one"
        )
    return found[0]


def iter_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(1-based row, decoded value) pairs; JSON Lines yield `BrokenLine` for unparsable lines."""
    try:
        if path.suffix == ".jsonl":
            yield from _iter_json_lines(path)
        else:
            yield from _iter_json_array(path)
    except OSError as exc:
        raise StoreFormatError(f"{path.name}: cannot read: {exc.strerror or exc}") from None


def _iter_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as handle:
        _skip_bom(handle)
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue  # blank lines are not rows
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                yield number, BrokenLine(text, f"invalid JSON: {exc}")


def _skip_bom(handle: BinaryIO) -> int:
    """Position ``handle`` after a UTF-8 byte order mark, if any; returns that offset."""
    if handle.read(len(_BOM)) == _BOM:
        return len(_BOM)
    handle.seek(0)
    return 0


def _check_top_level(path: Path, chunk: bytes) -> None:
    stripped = chunk.lstrip(_WHITESPACE)
    if not stripped:
        raise StoreFormatError(f"{path.name}: file is empty; expected a JSON array of objects")
    if not stripped.startswith(b"["):
        found = stripped[:1].decode("ascii", errors="replace")
        raise StoreFormatError(
            f"{path.name}: expected a JSON array ('[') at the top level, found {found!r}"
        )


def _iter_json_array(path: Path) -> Iterator[tuple[int, Any]]:
    row = 0
    with path.open("rb") as handle:
        start = _skip_bom(handle)
        _check_top_level(path, handle.read(CHUNK_BYTES))
        handle.seek(start)
        try:
            for item in ijson.items(handle, "item", use_float=True, buf_size=CHUNK_BYTES):
                row += 1
                yield row, item
            return
        except ijson.JSONError as exc:
            if not _is_value_error(exc):
                raise StoreFormatError(_array_error_message(path, row, exc)) from None
    logger.warning(
        "%s: row %d holds a value the fast parser refuses; reading on with the tolerant parser",
        path.name,
        row + 1,
    )
    yield from _iter_tolerantly(path, skip=row)


def _error_text(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else str(exc)
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)


def _is_value_error(exc: Exception) -> bool:
    text = _error_text(exc)
    return any(marker in text for marker in _VALUE_ERRORS)


class _EscapedBytes:
    """A binary reader giving valid UTF-8: each byte that is not UTF-8 becomes the JSON escape
    ``\\udcXX`` (a lone surrogate once decoded), which a string keeps and validation refuses."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes with read(0) whether the file gives bytes or text
            return b""
        while True:
            chunk = self._raw.read(size if size > 0 else CHUNK_BYTES)
            text = self._decoder.decode(chunk, final=not chunk)
            if text or not chunk:
                escaped = _ESCAPED_BYTE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
                return escaped.encode("utf-8")


def _floats(value: Any) -> Any:
    """Decimals (the tolerant parser's numbers) as floats, inside objects and arrays too."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_floats(item) for item in value]
    return value


def _iter_tolerantly(path: Path, skip: int) -> Iterator[tuple[int, Any]]:
    """Rows after the first ``skip`` through the pure-Python parser (numbers as Decimal, so a
    number beyond the double range is not a parse error but an infinite float)."""
    row = 0
    with path.open("rb") as handle:
        _skip_bom(handle)
        try:
            items = tolerant_json.items(_EscapedBytes(handle), "item", use_float=False)
            for item in items:
                row += 1
                if row > skip:
                    yield row, _floats(item)
        except ijson.JSONError as exc:
            first_line = (_error_text(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreFormatError(
                f"{path.name}: invalid JSON (after row {row}): {first_line}"
            ) from None


def _array_error_message(path: Path, rows_read: int, exc: Exception) -> str:
    text = _error_text(exc)
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    offset = _error_offset(path)
    where = "" if offset is None else f" at {_line_column(path, offset)}"
    return f"{path.name}: invalid JSON{where} (after row {rows_read}): {first_line}"


def _error_offset(path: Path) -> int | None:
    """Byte offset where the JSON parser gives up, found by parsing again (error path only).

    Whole chunks first; the failing chunk is then fed one byte at a time from a fresh parser
    that has seen everything before it.
    """
    with path.open("rb") as handle:
        start = _skip_bom(handle)
        events = ijson.sendable_list()
        parser = ijson.basic_parse_coro(events, use_float=True)
        chunk_start = start
        failing = b""
        while chunk := handle.read(CHUNK_BYTES):
            try:
                parser.send(chunk)
            except ijson.JSONError:
                failing = chunk
                break
            del events[:]
            chunk_start += len(chunk)
        if not failing:
            try:
                parser.close()
            except ijson.JSONError:
                return chunk_start  # premature end of file
            return None
        handle.seek(start)
        events = ijson.sendable_list()
        parser = ijson.basic_parse_coro(events, use_float=True)
        remaining = chunk_start - start
        while remaining > 0:
            prefix = handle.read(min(CHUNK_BYTES, remaining))
            parser.send(prefix)
            del events[:]
            remaining -= len(prefix)
        for index, byte in enumerate(failing):
            try:
                parser.send(bytes((byte,)))
            except ijson.JSONError:
                return chunk_start + index
            del events[:]
        return chunk_start + len(failing)


def _line_column(path: Path, offset: int) -> str:
    line, last_newline = 1, -1
    with path.open("rb") as handle:
        consumed = 0
        while consumed < offset and (chunk := handle.read(min(CHUNK_BYTES, offset - consumed))):
            newlines = chunk.count(b"\n")
            if newlines:
                line += newlines
                last_newline = consumed + chunk.rindex(b"\n")
            consumed += len(chunk)
    return f"line {line}, column {offset - last_newline} (byte {offset})"


@dataclass(frozen=True)
class FileCount:
    """How many rows of one file were read, kept and rejected."""

    file: str
    read: int
    valid: int
    rejected: int


@dataclass(frozen=True)
class ValidatedTable:
    """The valid rows of one file as tuples in the order of ``COLUMNS[name]``."""

    name: str
    file: str
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class ScannedStore:
    tables: dict[str, ValidatedTable]
    rejects: list[Reject]
    counts: dict[str, FileCount]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of (acyclic) rows pile up.

    Each collection walks every live row, so with the collector on a 1.5M-line read spends
    about half its time there; reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def scan_store(data_dir: Path, progress: Progress = no_progress) -> ScannedStore:
    """Read and validate all five files; raises StoreFormatError if any cannot be read.
    ``progress`` hears "reading the export" in bytes, file by file."""
    paths = {name: locate(data_dir, name) for name in STORE_FILES}
    with _collector_paused():
        return _scan(paths, progress)


def _scan(paths: dict[str, Path], progress: Progress = no_progress) -> ScannedStore:
    total_bytes = sum(path.stat().st_size for path in paths.values())
    done_bytes = 0
    progress("reading the export", 0, total_bytes)
    registries: dict[str, KeyRegistry] = {}
    tables: dict[str, ValidatedTable] = {}
    counts: dict[str, FileCount] = {}
    rejects: list[Reject] = []
    for name in STORE_FILES:
        path = paths[name]
        validator = TableValidator(SPECS[name], path.name, registries)
        rows: list[tuple[Any, ...]] = []
        read = 0
        file_rejects = 0
        for row, value in iter_rows(path):
            read += 1
            if isinstance(value, BrokenLine):
                result: tuple[Any, ...] | Reject = Reject(
                    path.name, row, None, value.reason, value.text
                )
            else:
                result = validator.check(row, value)
            if isinstance(result, Reject):
                rejects.append(result)
                file_rejects += 1
            else:
                rows.append(result)
        registries[name] = validator.registry
        tables[name] = ValidatedTable(name, path.name, rows)
        counts[name] = FileCount(path.name, read, len(rows), file_rejects)
        logger.info("%s: %d rows read, %d rejected", path.name, read, file_rejects)
        done_bytes += path.stat().st_size
        progress("reading the export", done_bytes, total_bytes)
    return ScannedStore(tables, rejects, counts)


@dataclass(frozen=True)
class ReadResult:
    """A validated export: the frames, every rejected row, and per-file counts."""

    data: StoreData
    rejects: list[Reject]
    counts: dict[str, FileCount]


def read_store(data_dir: Path, progress: Progress = no_progress) -> ReadResult:
    """Read ``data_dir`` into `StoreData`; bad rows are returned in ``rejects``, not raised."""
    scanned = scan_store(data_dir, progress)
    with _collector_paused():
        frames = {name: build_frame(name, table.rows) for name, table in scanned.tables.items()}
    return ReadResult(StoreData(**frames), scanned.rejects, scanned.counts)


def _spec_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)


def _column(name: str, values: list[Any]) -> pd.Series[Any]:
    if name in {"created_at", "order_date"}:
        stamps = pd.DatetimeIndex(pd.to_datetime(values)).as_unit("ns")
        return pd.Series(stamps, name=name)
    if name == "specs":
        texts = [{k: _spec_text(v) for k, v in specs.items()} for specs in values]
        return pd.Series(texts, dtype=object, name=name)
    if name == "promoted":
        return pd.Series(np.array(values, dtype=bool), name=name)
    if name in {"price", "cost", "grand_total"}:
        return pd.Series(np.array(values, dtype=np.float64), name=name)
    if name.endswith("_id") or name in {"stock", "qty", "rating"}:
        return pd.Series(np.array(values, dtype=np.int64), name=name)
    return pd.Series(values, dtype=str, name=name)


def build_frame(name: str, rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """A frame with exactly ``COLUMNS[name]`` and the dtypes documented in recograph.dataset.

    ``rows`` hold validated values in column order (datetimes naive UTC, specs as decoded
    JSON objects whose values become strings here).
    """
    columns = COLUMNS[name]
    by_column: list[list[Any]] = (
        [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in columns]
    )
    return pd.DataFrame(
        {col: _column(col, values) for col, values in zip(columns, by_column, strict=True)}
    )
