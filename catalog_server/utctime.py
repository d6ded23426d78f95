"""Times in the database: stored in UTC, read back aware (in UTC) on every database.

PostgreSQL keeps the zone (``timestamptz``) but hands values back in the session's zone;
SQLite keeps none and hands back naive values. :class:`UtcDateTime` makes both give aware
UTC datetimes, so no reader converts by hand. The column type in the database is unchanged
(``DateTime(timezone=True)``): no migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator):
    """``DateTime(timezone=True)`` that binds and returns aware UTC datetimes. A naive value
    bound is taken to be in UTC already (as every time this service writes is)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value)


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware datetime in UTC; a naive one is taken to be in UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso_utc(value: datetime | None) -> str | None:
    """RFC 3339 in UTC to the second (``2024-01-02T03:04:05Z``), as the API writes times."""
    value = as_utc(value)
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
