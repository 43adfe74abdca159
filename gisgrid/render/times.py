"""Times as a person reads them: in the district's time zone, in the UI language's format
(zh 2026年12月21日 15:12, en 21 Dec 2026 15:12). Machine outputs (JSON, files) keep ISO 8601
with an offset; this is for pages, bulletins and the command line's messages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

# written out, not strftime's %b: that follows the machine's locale, not the reader's language
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def shown_time(moment: datetime | str | None, tz: ZoneInfo, lang: str = "zh") -> str:
    """An aware datetime, or ISO 8601 text with an offset (as the JSON data carries), to the
    minute in the district's time; nothing for no time."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:  # which zone? showing a guess would mislead
        raise ValueError(f"a naive time ({moment}) cannot be shown: give it a time zone")
    local = moment.astimezone(tz)
    if lang == "en":
        return f"{local.day} {MONTHS_EN[local.month - 1]} {local.year} {local:%H:%M}"
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
