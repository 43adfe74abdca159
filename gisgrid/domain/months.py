"""Calendar months and observation times in the district's time zone (default Asia/Shanghai)."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import GisgridError

DEFAULT_TIMEZONE = "Asia/Shanghai"
# ASCII digits only (\d also takes ٢ and ２), and years from 1900 as parse_year: year 0 has no
# calendar month to bound
_MONTH = re.compile(r"^(19[0-9]{2}|[2-9][0-9]{3})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    """Return a month as 'YYYY-MM', or raise a user error."""
    if not isinstance(text, str) or not _MONTH.match(text.strip()):
        raise GisgridError("Month must be written YYYY-MM, e.g. 2026-11 (got {text!r})", text=text)
    return text.strip()


def parse_year(text) -> int:
    try:
        year = int(text)
    except (TypeError, ValueError):
        year = 0
    if not 1900 <= year <= 9999:
        raise GisgridError("Year must be written YYYY, e.g. 2026 (got {text!r})", text=text)
    return year


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise GisgridError("Unknown time zone {name!r}; use an IANA name such as Asia/Shanghai", name=name) from None


def month_of(moment: datetime, tz: ZoneInfo) -> str:
    """The district month an aware datetime falls in: 07:00 on 1 Nov in Beijing is November."""
    return moment.astimezone(tz).strftime("%Y-%m")


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC start (inclusive) and end (exclusive) of a district month."""
    year, mon = (int(p) for p in parse_month(month).split("-"))
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def months_of_year(year: int) -> list[str]:
    return [f"{year:04d}-{m:02d}" for m in range(1, 13)]


def previous_month(month: str) -> str:
    year, mon = (int(p) for p in parse_month(month).split("-"))
    return f"{year - 1:04d}-12" if mon == 1 else f"{year:04d}-{mon - 1:02d}"


def parse_observed(text, tz: ZoneInfo) -> datetime:
    """An ISO 8601 time as an aware datetime; a time without offset is district local time."""
    if isinstance(text, datetime):
        moment = text
    else:
        try:
            moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
        except ValueError:
            raise GisgridError("Time {text!r} is not ISO 8601 (e.g. 2026-11-23T09:30:00+08:00)", text=text) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=tz)
    try:
        moment.astimezone(timezone.utc)
    except OverflowError:       # year 1 at +14:00 is before the first representable instant
        raise GisgridError("Time {text!r} is out of range", text=text) from None
    if not 1900 <= moment.year <= 9999:
        raise GisgridError("Time {text!r} is out of range", text=text)
    return moment


def parse_date(text) -> date:
    if isinstance(text, date) and not isinstance(text, datetime):
        return text
    try:
        return date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        raise GisgridError("Date {text!r} is not ISO 8601 (e.g. 2026-09-30)", text=text) from None


def one_month_after(day: date) -> date:
    """The same day of the next month, or that month's last day when it is shorter (31 Jan -> 28/29 Feb)."""
    year, mon = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, mon, min(day.day, calendar.monthrange(year, mon)[1]))


def utc(moment: datetime) -> datetime:
    """An aware datetime as the same instant in UTC, the form the database gives back."""
    return moment.astimezone(timezone.utc)

