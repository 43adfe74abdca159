"""Spreadsheet files from plain rows, written so that they stay data when Excel opens them:
text that a spreadsheet would run as a formula is made inert, numbers stay numbers, dates are
dates and codes stay text. Every CSV and XLSX gisgrid writes goes through here."""

from __future__ import annotations

import csv
import io
import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal

# What a column holds. TEXT and CODE are both text; a CODE (grid, road, rule or finding code,
# a 15-digit national code) must also never be read as a number or a date.
TEXT, CODE, INTEGER, NUMBER, SCORE, DATE, DATETIME = "text", "code", "integer", "number", "score", "date", "datetime"
CELL_TYPES = (TEXT, CODE, INTEGER, NUMBER, SCORE, DATE, DATETIME)

# XLSX number formats. Scores are stored exact (90.625) and shown to the hundredth; Excel's
# display rounds half away from zero, as scoring.as_points does for the figures people see
# elsewhere. '@' is Excel's "Text" format: a cell a user edits and re-enters stays text.
FORMATS = {TEXT: "@", CODE: "@", INTEGER: "0", NUMBER: "General", SCORE: "0.00",
           DATE: "yyyy-mm-dd", DATETIME: "yyyy-mm-dd hh:mm"}

# A cell starting with one of these is read as a formula by Excel, LibreOffice or Google Sheets
# (OWASP "CSV Injection"): `=HYPERLINK(...)` in a grid name would become a live link. The
# full-width forms are what a Chinese input method types; they cost nothing to treat alike.
FORMULA_STARTS = frozenset("=+-@\t\r" "＝＋－＠")

# Text Excel would turn into a number, a date or a time when it opens a CSV: a code "001"
# loses its zeros, "110108001001001" becomes 1.10108E+14, "5.10" becomes 5.1, "11-2" a date.
_READS_AS_NUMBER = re.compile(r"""\s*(?:
      [+-]?(?:\d+\.?\d*|\.\d+)(?:[Ee][+-]?\d+)?%?     # 001, 5.10, 1E5, 12%
    | \d{1,3}(?:,\d{3})+(?:\.\d+)?                    # 1,000
    | \d{1,4}[-/]\d{1,2}(?:[-/]\d{1,4})?               # 11-2, 2026/11/1
    | \d{1,2}:\d{2}(?::\d{2})?                         # 10:00
    )\s*""", re.VERBOSE)

# Control characters the XLSX format cannot hold (openpyxl refuses them): replaced, so that
# one odd note cannot make the whole export fail.
_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = TEXT

    def __post_init__(self):
        if self.kind not in CELL_TYPES:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass
class Table:
    """One sheet: a title (the XLSX sheet name), typed columns and rows of plain values
    (str, int, float, Decimal, Fraction, date, datetime or None)."""

    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


def formula_like(text: str) -> bool:
    """Would a spreadsheet read this text as a formula? Leading blanks are looked through, as
    some spreadsheets trim them before they look."""
    return text[:1] in FORMULA_STARTS or text.lstrip()[:1] in FORMULA_STARTS


def neutralise(text: str) -> str:
    """The OWASP remedy: a leading apostrophe makes the cell plain text in every spreadsheet."""
    return "'" + text if formula_like(text) else text


def is_number(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, (bool, complex))


def _number(value):
    """A number a spreadsheet can hold (int, float or Decimal), or None for NaN and infinities."""
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    value = float(value)  # Fraction: the nearest float, exact for scores such as 725/8 = 90.625
    return value if math.isfinite(value) else None


def _local(moment: datetime, tz: tzinfo | None) -> datetime:
    """Spreadsheets have no time zones: an aware moment is shown as the district's clock reads it."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz) if tz is not None else moment
        moment = moment.replace(tzinfo=None)
    return moment


# CSV ----------------------------------------------------------------------------------


def csv_cell(value, kind: str = TEXT, tz: tzinfo | None = None) -> str:
    """One CSV field, as Excel should read it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        moment = _local(value, tz)
        return moment.isoformat(sep=" ", timespec="minutes" if not (moment.second or moment.microsecond)
                                else "seconds")
    if isinstance(value, date):
        return value.isoformat()
    if is_number(value) and kind != CODE:
        number = _number(value)
        if number is None:
            return ""
        return format(number, "f") if isinstance(number, Decimal) else repr(number)
    text = str(value)
    if formula_like(text):
        return "'" + text
    if kind == CODE and _READS_AS_NUMBER.fullmatch(text):
        # A CSV cannot say "text"; the apostrophe is the one marker that keeps all 15 digits
        # and is itself inert (`="…"` would be a formula, a leading tab is a formula start).
        return "'" + text
    return text


def csv_bytes(table: Table, tz: tzinfo | None = None) -> bytes:
    """CSV that Excel opens as UTF-8 (byte order mark first), every cell inert."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in table.headers])
    kinds = [c.kind for c in table.columns]
    writer.writerows([[csv_cell(v, k, tz) for v, k in zip(row, kinds)] for row in table.rows])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


# XLSX ---------------------------------------------------------------------------------


def _write_cell(cell, value, kind: str, tz: tzinfo | None) -> None:
    if value is None:
        return
    if isinstance(value, datetime):
        cell.value, cell.number_format = _local(value, tz), FORMATS[DATETIME]
    elif isinstance(value, date):
        cell.value, cell.number_format = value, FORMATS[DATE]
    elif is_number(value) and kind != CODE:
        cell.value = _number(value)
        cell.number_format = FORMATS[kind] if kind in (INTEGER, NUMBER, SCORE) else "General"
    else:
        # a CR inside XML is read back as a line feed: write the line feed that will be read
        text = neutralise(str(value)).replace("\r\n", "\n").replace("\r", "\n")
        cell.value = _NOT_IN_XLSX.sub("\ufffd", text)
        # openpyxl guesses from the value ('=' a formula, '#N/A' an error); text is text.
        cell.data_type = "s"
        cell.number_format = FORMATS[TEXT]


def _width(value) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    text = str(value)
    # a CJK character is about two Latin ones wide
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


def xlsx_bytes(tables: Sequence[Table], tz: tzinfo | None = None) -> bytes:
    """One workbook, a sheet per table: headers bold and frozen, a filter over the header row,
    columns sized for Chinese text, every cell typed by its column."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(table.title)
        for i, column in enumerate(table.columns, start=1):
            cell = sheet.cell(1, i)
            _write_cell(cell, column.header, TEXT, tz)
            cell.font = bold
        for r, row in enumerate(table.rows, start=2):
            for i, (value, column) in enumerate(zip(row, table.columns), start=1):
                _write_cell(sheet.cell(r, i), value, column.kind, tz)
        sheet.freeze_panes = "A2"
        last = get_column_letter(max(1, len(table.columns)))
        sheet.auto_filter.ref = f"A1:{last}{len(table.rows) + 1}"
        for i, column in enumerate(table.columns, start=1):
            longest = max([_width(column.header) + 2] + [_width(r[i - 1]) for r in table.rows[:500]])
            sheet.column_dimensions[get_column_letter(i)].width = min(40, longest + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
