"""``DateTime`` with its zone: every timestamp the API returns names its UTC offset.

The store format and the server keep naive datetimes that mean UTC; strawberry's default
``DateTime`` printed them without an offset, which a client could only guess at (and a browser's
``Date.parse`` reads as local time). Inputs are parsed as before (an offset is optional there).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition


def serialize_datetime(value: datetime) -> str:
    """ISO 8601 with an offset; a naive value is UTC (the project's convention)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.isoformat()


UTC_DATETIME: ScalarDefinition = dataclasses.replace(
    DateTimeDefinition,
    description="Date and time, ISO 8601 with its UTC offset (2026-12-03T22:27:14+00:00)",
    serialize=serialize_datetime,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {datetime: UTC_DATETIME}
