"""Notices the office kept in Excel before gisgrid: a CSV or XLSX file, one row per item, read,
checked and planned first (what would be added, what is stored already, what is wrong), then
written in one transaction with its audit row. A notice already stored under its number is
never overwritten: the same content is left alone, another content is shown as a conflict."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from .. import clock
from ..domain import rectification as rules
from ..domain.errors import Conflict, GisgridError
from ..domain.months import parse_date
from ..domain.rulebook import rulebook_for
from ..storage import Store, audit, notices, publishing
from .policy import PUBLISHED, Actor, Facts, decide

MAX_BYTES = 10 * 1024 * 1024            # a city's notices of several years are a few MB
MAX_UNPACKED = 100 * 1024 * 1024        # an XLSX is a zip: its parts unpacked, at most
MAX_ROWS = 50_000
# our column <- the headers offices write (Chinese or English), compared without spaces, any case
HEADERS = {
    "number": ("number", "文号", "通知书编号", "通知书文号", "编号"),
    "grid": ("grid", "网格", "网格编码", "网格编号"),
    "rule": ("rule", "条款", "考核条款", "规则"),
    "issued": ("issued", "下发日期", "下发时间", "发文日期"),
    "deadline": ("deadline", "整改期限", "期限", "截止日期"),
    "item": ("item", "序号", "项"),
    "text": ("text", "整改内容", "问题", "内容", "问题描述"),
    "reported_on": ("reported_on", "报告整改日期", "镇办报告日期"),
    "fixed_on": ("fixed_on", "复查整改日期", "整改完成日期", "复查日期"),
}
REQUIRED = ("number", "grid", "deadline", "text")


@dataclass
class NoticePlan:
    new: list[dict] = field(default_factory=list)          # notices to add, with their items
    unchanged: list[str] = field(default_factory=list)     # numbers stored already with the same items
    # {number, kind, month}: "stored" otherwise (kept as stored), or due in a "published" month
    conflicts: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)       # {row, message}: the file's, to fix first

    def as_json(self) -> dict:
        return {"new": [{**n, "issued": n["issued"].isoformat(), "deadline": n["deadline"].isoformat(),
                         "items": [{**i, "reported_on": _iso(i["reported_on"]), "fixed_on": _iso(i["fixed_on"])}
                                   for i in n["items"]]} for n in self.new],
                "unchanged": self.unchanged, "conflicts": self.conflicts, "errors": self.errors}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _key(text) -> str:
    return "".join(str(text or "").split()).lower()


def read_rows(path: Path) -> list[dict]:
    """The file's rows as {our column: text}, headers matched to ours; CSV in UTF-8 (with or
    without BOM) or GB18030 (what Excel writes in China), or the first sheet of an XLSX."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise GisgridError("Cannot read {path}: {error}", path=path.name, error=exc.strerror) from None
    if size > MAX_BYTES:
        raise GisgridError("{path} is larger than {mb} MB", path=path.name, mb=MAX_BYTES >> 20)
    if path.suffix.lower() == ".xlsx":
        table = _xlsx(path)
    elif path.suffix.lower() == ".csv":
        table = _csv(path.read_bytes(), path.name)
    else:
        raise GisgridError("{path}: give the notices as a CSV or XLSX file", path=path.name)
    if not table:
        raise GisgridError("{path} has no rows", path=path.name)
    aliases = {_key(alias): ours for ours, names in HEADERS.items() for alias in names}
    columns = [aliases.get(_key(h)) for h in table[0]]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise GisgridError("{path} lacks the column(s) {columns} (e.g. 文号, 网格, 整改期限, 整改内容)",
                           path=path.name, columns=", ".join(missing))
    if len(table) - 1 > MAX_ROWS:
        raise GisgridError("{path} has more than {n} rows", path=path.name, n=MAX_ROWS)
    return [{c: v for c, v in zip(columns, row) if c} for row in table[1:] if any(_text(v) for v in row)]


def _csv(data: bytes, name: str) -> list[list]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise GisgridError("{path} is neither UTF-8 nor GB18030 text", path=name)
    return list(csv.reader(io.StringIO(text)))


def _xlsx(path: Path) -> list[list]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(path) as archive:
            if sum(i.file_size for i in archive.infolist()) > MAX_UNPACKED:
                raise GisgridError("{path} unpacks to more than {mb} MB", path=path.name, mb=MAX_UNPACKED >> 20)
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise GisgridError("{path} is not an XLSX workbook", path=path.name) from None
    try:
        rows = []
        for row in book.worksheets[0].iter_rows(values_only=True):
            rows.append(list(row))
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        book.close()


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value).replace("/", "-").replace(".", "-")
    if not text:
        return None
    parts = text[:10].split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):         # 2026-9-5 as Excel users type it
        text = f"{int(parts[0]):04d}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    return parse_date(text)


def plan(store: Store, actor: Actor, path) -> NoticePlan:
    """What importing the file would do, without writing anything."""
    decide("issue_notice", actor)
    rows = read_rows(Path(path))
    today = clock.today(store.timezone())
    books = store.rulebooks()
    grids = store.grid_details()
    result = NoticePlan()
    by_number: dict[str, dict] = {}
    for n, row in enumerate(rows, start=2):             # row 1 is the header, as Excel numbers them
        try:
            number = _text(row.get("number"))
            if not number:
                raise GisgridError("A row needs the notice's number (文号)")
            grid = _text(row.get("grid"))
            if grid not in grids:
                raise GisgridError("Unknown grid code {code!r}", code=grid)
            rule = rules.check_rule(_text(row.get("rule")) or rules.DEFAULT_RULE)
            deadline = _date(row.get("deadline"))
            if deadline is None:
                raise GisgridError("A row needs the deadline (整改期限)")
            issued = _date(row.get("issued")) or deadline
            text = _text(row.get("text"))
            if not text:
                raise GisgridError("An item needs its text")
            item = _text(row.get("item"))
            reported_on, fixed_on = _date(row.get("reported_on")), _date(row.get("fixed_on"))
            for day in (issued, reported_on, fixed_on):
                if day is not None and day > today:
                    raise GisgridError("The date {day} is in the future", day=day.isoformat())
            if deadline < issued:
                raise GisgridError("The deadline {deadline} is before the issue date {issued}",
                                   deadline=deadline.isoformat(), issued=issued.isoformat())
            if rule not in rulebook_for(f"{deadline:%Y-%m}", books).rules:
                raise GisgridError("Rulebook {book}, in force in {month}, has no rule {rule}",
                                   book=rulebook_for(f"{deadline:%Y-%m}", books).id, month=f"{deadline:%Y-%m}",
                                   rule=rule)
            notice = by_number.setdefault(number, {"number": number, "grid": grid, "rule": rule, "issued": issued,
                                                   "deadline": deadline, "items": [], "row": n})
            if (notice["grid"], notice["rule"], notice["issued"], notice["deadline"]) != (grid, rule, issued, deadline):
                raise GisgridError("Notice {number}'s rows disagree on its grid, rule or dates (first at row {row})",
                                   number=number, row=notice["row"])
            number_of_item = int(item) if item.isdigit() else len(notice["items"]) + 1
            if any(i["item"] == number_of_item for i in notice["items"]):
                raise GisgridError("Notice {number} has item {item} twice", number=number, item=number_of_item)
            notice["items"].append({"item": number_of_item, "text": text, "reported_on": reported_on,
                                    "fixed_on": fixed_on})
        except GisgridError as error:
            result.errors.append({"row": n, "message": error.message, "template": error.template,
                                  "params": {k: str(v) for k, v in error.params.items()}})
    stored = {n["number"]: n for n in notices.notices(store) if n["number"] in by_number}
    with store.engine.connect() as conn:
        frozen = {m for m in {f"{n['deadline']:%Y-%m}" for n in by_number.values()}
                  if publishing.state_in(conn, m) == PUBLISHED}
    for number, notice in by_number.items():
        del notice["row"]
        notice["items"].sort(key=lambda i: i["item"])
        if number in stored:
            if _same(stored[number], notice):
                result.unchanged.append(number)
            else:
                result.conflicts.append({"number": number, "kind": "stored", "month": None})
        elif f"{notice['deadline']:%Y-%m}" in frozen:
            result.conflicts.append({"number": number, "kind": "published", "month": f"{notice['deadline']:%Y-%m}"})
        else:
            result.new.append(notice)
    return result


def _same(stored: dict, notice: dict) -> bool:
    return ((stored["grid"], stored["rule"], stored["issued_on"], stored["deadline"]) ==
            (notice["grid"], notice["rule"], notice["issued"], notice["deadline"]) and
            [(i["item"], i["text"], i["reported_on"], i["fixed_on"]) for i in stored["items"]] ==
            [(i["item"], i["text"], i["reported_on"], i["fixed_on"]) for i in notice["items"]])


def write(store: Store, actor: Actor, planned: NoticePlan) -> int:
    """Add the planned notices in one transaction with one audit row; refused whole while the
    file has errors, or when a number was stored meanwhile (plan again to see it)."""
    if planned.errors:
        raise GisgridError("The file has {n} row(s) to correct first (row {row}: {message})", n=len(planned.errors),
                           row=planned.errors[0]["row"], message=planned.errors[0]["message"])
    with store.begin() as conn:
        notices.numbering_in(conn)
        for notice in planned.new:
            state = publishing.state_in(conn, f"{notice['deadline']:%Y-%m}")
            decide("issue_notice", actor, Facts(month=state, month_label=f"{notice['deadline']:%Y-%m}"))
            if notices.number_taken_in(conn, notice["number"]):
                raise Conflict("Notice {number} was stored since the preview; preview the file again",
                               number=notice["number"])
            notices.insert_notice(conn, {"number": notice["number"], "grid_id": notices.grid_id_in(conn, notice["grid"]),
                                         "rule": notice["rule"], "issued_on": notice["issued"],
                                         "deadline": notice["deadline"], "issued_by": actor.name,
                                         "source": "imported"},
                                  [{"item": i["item"], "text": i["text"], "reported_on": i["reported_on"],
                                    "reported_by": actor.name if i["reported_on"] else None,
                                    "fixed_on": i["fixed_on"], "checked_on": i["fixed_on"],
                                    "checked_by": actor.name if i["fixed_on"] else None} for i in notice["items"]])
        if planned.new:
            audit.record(conn, "notice_import", actor.name, subject=f"{len(planned.new)} notices",
                         after={"numbers": [n["number"] for n in planned.new],
                                "items": sum(len(n["items"]) for n in planned.new)})
    return len(planned.new)
