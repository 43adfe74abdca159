"""The one clock gisgrid reads: the app, the command line and the tests share it, so that a
test can freeze it (time-machine) and the suite passes on any date. Nothing else reads the
wall clock."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def now() -> datetime:
    """This instant, time-zone aware (UTC)."""
    return datetime.now(timezone.utc)


def today(tz: ZoneInfo) -> date:
    """The district's calendar date now (a finding at 07:00 Beijing time is that day, not UTC's)."""
    return now().astimezone(tz).date()


def month(tz: ZoneInfo) -> str:
    """The district's calendar month now, as YYYY-MM."""
    return now().astimezone(tz).strftime("%Y-%m")


def timestamp() -> float:
    """Seconds since the epoch, for file ages."""
    return now().timestamp()
