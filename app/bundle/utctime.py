"""Timestamps in signed documents: UTC, whole seconds, ``YYYY-MM-DDTHH:MM:SSZ`` and nothing else."""

from __future__ import annotations

from datetime import datetime, time, timezone

from app.errors import ValidationError
from app.i18n import N_

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(_FORMAT)


def parse_utc(text: object, *, what: str) -> datetime:
    """Parse the one timestamp form signed documents use; anything else is a :class:`ValidationError`."""
    if isinstance(text, str):
        try:
            return datetime.strptime(text, _FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    raise ValidationError(N_("{what} is not a UTC time like 2027-01-31T00:00:00Z: {value}"), what=what, value=text)


def parse_user_time(text: str, *, end_of_day: bool, what: str) -> datetime:
    """A time typed by a person: a full UTC timestamp, or a date (start or end of that day, UTC)."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return parse_utc(text, what=what)
    bound = time(23, 59, 59) if end_of_day else time(0, 0, 0)
    return datetime.combine(day.date(), bound, tzinfo=timezone.utc)
