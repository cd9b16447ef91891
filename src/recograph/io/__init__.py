"""Reading store exports: streamed, validated row by row, bad rows reported as `Reject`s."""

from recograph.io.reader import (
    STORE_FILES,
    FileCount,
    ReadResult,
    StoreFormatError,
    read_store,
    scan_store,
)
from recograph.io.rejects import Reject, write_rejects

__all__ = [
    "STORE_FILES",
    "FileCount",
    "ReadResult",
    "Reject",
    "StoreFormatError",
    "read_store",
    "scan_store",
    "write_rejects",
]
