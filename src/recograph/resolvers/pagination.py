"""Opaque offset cursors for connections (``base64("<kind>:<offset>")``)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Protocol

from recograph.schema import types as t
from recograph.schema.errors import BadInput

MAX_PAGE = 100


def encode_cursor(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> int:
    """The offset just after ``cursor`` (0 without one); a foreign or garbled cursor raises."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, number = text.partition(":")
        offset = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInput(f"after: {cursor!r} is not a {kind} cursor", argument="after") from None
    if prefix != kind or offset < 0:
        raise BadInput(f"after: {cursor!r} is not a {kind} cursor", argument="after")
    return offset + 1


def check_first(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise BadInput(f"first must be between 1 and {MAX_PAGE}, got {first}", argument="first")
    return first


class _Edge(Protocol):
    @property
    def cursor(self) -> str: ...


def page_info(edges: Sequence[_Edge], *, start: int, first: int, total: int) -> t.PageInfo:
    """The page info of ``edges``, the page of ``first`` rows from offset ``start`` of
    ``total``: shared by every connection so they all page the same way."""
    return t.PageInfo(
        has_next_page=start + first < total,
        end_cursor=edges[-1].cursor if edges else None,
    )


SHOWN_KIND = "shown"
MAX_SHOWN = 1000  # products a recommendations cursor may carry (infinite scroll depth)


def encode_shown(product_ids: Sequence[int]) -> str:
    """A ``recommendations`` cursor: the ids already shown, so the next page can leave them
    out (an offset would repeat products when the ranking moves between pages)."""
    text = f"{SHOWN_KIND}:{','.join(map(str, product_ids))}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_shown(cursor: str | None) -> list[int]:
    """The product ids a ``recommendations`` cursor carries (none without one); a foreign,
    garbled or over-long cursor raises."""
    if cursor is None:
        return []
    error = BadInput(f"after: {cursor[:40]!r} is not a recommendations cursor", argument="after")
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise error from None
    prefix, _, rest = text.partition(":")
    if prefix != SHOWN_KIND:
        raise error
    try:
        ids = [int(part) for part in rest.split(",") if part]
    except ValueError:
        raise error from None
    if len(ids) > MAX_SHOWN:
        raise BadInput(
            f"after: the cursor carries {len(ids)} products; at most {MAX_SHOWN} pages deep",
            argument="after",
        )
    return ids
