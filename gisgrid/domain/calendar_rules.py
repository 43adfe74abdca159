"""When the office draws a month's sample, pure: seed 002 has it drawn in the month's last
third (下旬), from the 21st to the month's last day."""

from __future__ import annotations

import calendar
from datetime import date

LAST_THIRD_FROM = 21     # 上旬 1-10, 中旬 11-20, 下旬 21 to the end


def draw_window(month: str) -> tuple[date, date]:
    """First and last day (inclusive) of the month's last third."""
    year, mon = (int(p) for p in month.split("-"))
    return date(year, mon, LAST_THIRD_FROM), date(year, mon, calendar.monthrange(year, mon)[1])


def draw_due(month: str, today: date) -> str:
    """"early" before the last third of `month`, "due" within it, "late" after the month."""
    start, end = draw_window(month)
    if today < start:
        return "early"
    return "due" if today <= end else "late"
