"""Rectification (整改), the use cases: the office issues a notice to a grid, its town office
receives it and reports items fixed, an inspector re-inspects and confirms an item fixed or not
(the confirmed date is the one the rules count). Each runs in one transaction with its audit
row; a write sent again with the same client-made id changes nothing again."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from .. import clock
from ..domain import rectification as rules
from ..domain.errors import Conflict, GisgridError, NotFound
from ..domain.months import parse_date
from ..domain.rulebook import rulebook_for
from ..storage import Store, audit, notices, publishing
from ..storage.photos import process_photo
from .client_writes import claimed, fingerprint, replayed
from .policy import DRAFT, PUBLISHED, Actor, Facts, decide

MAX_ITEMS = 200
MAX_TEXT = 2000


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _frozen(conn, months) -> tuple[str, str]:
    """(state, label) of the first published month among `months`, else (draft, "")."""
    for month in sorted(set(months)):
        if publishing.state_in(conn, month) == PUBLISHED:
            return PUBLISHED, month
    return DRAFT, ""


def _text(value) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        raise GisgridError("An item needs its text")
    if len(text) > MAX_TEXT:
        raise GisgridError("An item is too long ({n} characters; at most {limit})", n=len(text), limit=MAX_TEXT)
    return text


def _day(value, what: str, today: date) -> date:
    """A date of the past or today: an issue, a fix, a re-inspection cannot be in the future."""
    day = parse_date(value)
    if day <= today:
        return day
    if what == "issue":
        raise GisgridError("The issue date {day} is in the future", day=day.isoformat())
    if what == "fix":
        raise GisgridError("The fix date {day} is in the future", day=day.isoformat())
    raise GisgridError("The re-inspection date {day} is in the future", day=day.isoformat())


def _number(conn, pattern: str, issued: date) -> str:
    seq = notices.issued_in_year_in(conn, issued.year) + 1
    while True:
        try:
            number = pattern.format(year=issued.year, seq=seq)
        except (KeyError, IndexError, ValueError):
            raise GisgridError("NOTICE_NUMBER {pattern!r} may use only {{year}} and {{seq}}", pattern=pattern) from None
        if not notices.number_taken_in(conn, number):
            return number
        seq += 1


def as_json(notice: dict) -> dict:
    """A notice as `gisgrid notice issue --json` and the API give it."""
    def item(i: dict) -> dict:
        point = i["geom"]
        return {"item": i["item"], "text": i["text"], "finding": i["finding_id"], "road": i.get("road"),
                "lon": point.x if point is not None else None, "lat": point.y if point is not None else None,
                "reported_on": _iso(i["reported_on"]), "reported_by": i["reported_by"],
                "checked_on": _iso(i["checked_on"]), "checked_by": i["checked_by"],
                "fixed_on": _iso(i["fixed_on"]), "satisfaction": i["satisfaction"],
                "photos": [{"id": p["id"], "stage": p["stage"]} for p in i["photos"]]}
    return {"notice": str(notice["id"]), "number": notice["number"], "grid": notice["grid"],
            "town": notice["town"], "rule": notice["rule"], "issued": notice["issued_on"].isoformat(),
            "deadline": notice["deadline"].isoformat(), "issued_by": notice["issued_by"],
            "received_at": notice["received_at"].isoformat(timespec="seconds") if notice["received_at"] else None,
            "source": notice["source"], "items": [item(i) for i in notice["items"]]}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def issue(store: Store, actor: Actor, grid: str, deadline, items: list[dict], rule: str | None = None,
          issued=None) -> dict:
    """Issue a notice to `grid` with numbered items, each {"text": ...} typed or {"finding": id}
    (the finding's point and road come with it, its note or rule as the text unless a text is
    given): numbered from 1 in the order given. The deadline's month must not be published."""
    today = clock.today(store.timezone())
    rule = rules.check_rule(rule or rules.DEFAULT_RULE)
    issued_on = _day(issued, "issue", today) if issued is not None else today
    deadline = parse_date(deadline)
    if deadline < issued_on:
        raise GisgridError("The deadline {deadline} is before the issue date {issued}", deadline=deadline.isoformat(),
                           issued=issued_on.isoformat())
    if not items:
        raise GisgridError("A notice needs at least one item")
    if len(items) > MAX_ITEMS:
        raise GisgridError("A notice has at most {n} items", n=MAX_ITEMS)
    book = rulebook_for(_month(deadline), store.rulebooks())
    if rule not in book.rules:
        raise GisgridError("Rulebook {book}, in force in {month}, has no rule {rule}", book=book.id,
                           month=_month(deadline), rule=rule)
    with store.begin() as conn:
        state, label = _frozen(conn, [_month(deadline)])
        decide("issue_notice", actor, Facts(month=state, month_label=label))
        grid_id = notices.grid_id_in(conn, grid)
        rows = [_item_row(conn, book, grid, given) for given in items]
        notices.numbering_in(conn)
        number = _number(conn, store.config["NOTICE_NUMBER"], issued_on)
        notice_id = notices.insert_notice(conn, {"number": number, "grid_id": grid_id, "rule": rule,
                                                 "issued_on": issued_on, "deadline": deadline,
                                                 "issued_by": actor.name, "source": "issued"},
                                          [{"item": n, **row} for n, row in enumerate(rows, 1)])
        notice = as_json(notices.notice_in(conn, notice_id))
        audit.record(conn, "notice_issue", actor.name, month=_month(deadline), subject=f"notice {notice_id}",
                     after=notice)
    return notice


def _item_row(conn, book, grid: str, given: dict) -> dict:
    if given.get("finding") is None:
        return {"text": _text(given.get("text"))}
    try:
        finding_id = int(given["finding"])
    except (TypeError, ValueError):
        raise GisgridError("A finding is named by its id (a whole number), not {value!r}",
                           value=given["finding"]) from None
    finding = notices.finding_for_item_in(conn, finding_id)
    if finding is None:
        raise NotFound("No such finding: {id}", id=finding_id)
    if finding["deleted_at"] is not None:
        raise Conflict("Finding {id} was deleted; it cannot be a notice's item", id=finding_id)
    if finding["grid"] != grid:
        raise Conflict("Finding {id} is on road {road} of grid {other}, not of grid {grid}", id=finding_id,
                       road=finding["road"], other=finding["grid"] or "-", grid=grid)
    label = book.rules[finding["rule"]].zh if finding["rule"] in book.rules else finding["rule"]
    text = given.get("text") or finding["note"] or f"{label}（{finding['road_name']}）"
    return {"text": _text(text), "finding_id": finding_id, "road_id": finding["road_id"], "geom": finding["geom"]}


def _notice_facts(conn, actor: Actor, notice: dict, months=()) -> Facts:
    """The town office owns a notice of a grid in its towns; `months` are those the change alters."""
    state, label = _frozen(conn, months)
    return Facts(owner=notice["town"] in actor.towns, month=state, month_label=label)


def _notice_ref(ref) -> int | str:
    text = str(ref).strip()
    return int(text) if text.isdigit() else text


def receive(store: Store, actor: Actor, ref) -> dict:
    """The town office receives (签收) a notice: the case loop's dispatch time. Once."""
    with store.begin() as conn:
        notice = notices.notice_in(conn, _notice_ref(ref))
        decide("receive_notice", actor, _notice_facts(conn, actor, notice))
        if notice["received_at"] is None:
            notices.mark_received_in(conn, notice["id"], actor.name)
            audit.record(conn, "notice_receive", actor.name, month=_month(notice["deadline"]),
                         subject=f"notice {notice['id']}")
        return as_json(notices.notice_in(conn, notice["id"]))


def _item(notice: dict, number) -> dict:
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise NotFound("Notice {notice} has no item {item}", notice=notice["number"], item=number) from None
    for item in notice["items"]:
        if item["item"] == number:
            return item
    raise NotFound("Notice {notice} has no item {item}", notice=notice["number"], item=number)


def _rule_item(notice: dict, item: dict, fixed_on: date | None = None) -> rules.Item:
    return rules.Item(notice=str(notice["id"]), item=item["item"], rule=notice["rule"], deadline=notice["deadline"],
                      fixed_on=fixed_on if fixed_on is not None else item["fixed_on"])


def _changed_months(notice: dict, item: dict, on: date) -> list[str]:
    """The months whose figures a fix on `on` would change."""
    as_rules = _rule_item(notice, item)
    return [month for month, last in zip(rules.counts_in(as_rules), (as_rules.deadline, rules.doubling_day(as_rules.deadline)))
            if on <= last]


def _write(store: Store, actor: Actor, ref, number, client_id: str | None, action: str, asked: str, change):
    """Run `change(conn, notice, item)` on one item in one transaction, once per client id."""
    with store.begin() as conn:
        notice = notices.notice_in(conn, _notice_ref(ref))
        item = _item(notice, number)
        if claimed(conn, actor, client_id, action, item["id"], asked):
            change(conn, notice, item)
            return as_json(notices.notice_in(conn, notice["id"]))
    replayed(store, actor, client_id, action, item["id"], asked)
    return as_json(notices.notice(store, notice["id"]))


def report_fixed(store: Store, actor: Actor, ref, number, on, note: str | None = None,
                 client_id: str | None = None) -> dict:
    """The town office reports an item fixed on `on` (shown beside the confirmed date; it does
    not count until an inspector confirms it)."""
    today = clock.today(store.timezone())
    on = _day(on, "fix", today)
    note = (note or "").strip()[:MAX_TEXT] or None

    def change(conn, notice, item):
        decide("report_fix", actor, _notice_facts(conn, actor, notice))
        if item["fixed_on"] is not None:
            raise Conflict("Item {item} of notice {notice} was confirmed fixed on {day}", item=item["item"],
                           notice=notice["number"], day=item["fixed_on"].isoformat())
        if on < notice["issued_on"]:
            raise GisgridError("The fix date {day} is before the notice was issued ({issued})", day=on.isoformat(),
                               issued=notice["issued_on"].isoformat())
        notices.mark_received_in(conn, notice["id"], actor.name)
        values = {"reported_on": on, "reported_by": actor.name, "reported_at": clock.now(), "report_note": note}
        notices.update_item_in(conn, item["id"], values)
        audit.record(conn, "notice_report", actor.name, month=_month(notice["deadline"]),
                     subject=f"notice {notice['id']} item {item['item']}",
                     before={"reported_on": _iso(item["reported_on"])}, after={"reported_on": on.isoformat(), "note": note})

    return _write(store, actor, ref, number, client_id, "notice_report", fingerprint(on, note), change)


def check(store: Store, actor: Actor, ref, number, fixed: bool, on, note: str | None = None,
          satisfaction: int | None = None, client_id: str | None = None) -> dict:
    """An inspector re-inspects an item on `on` (复查): fixed (the date that counts) or not fixed
    (it stays open and comes back when the town office reports it again). `satisfaction` is
    the resident's optional 1-5."""
    today = clock.today(store.timezone())
    on = _day(on, "re-inspection", today)
    note = (note or "").strip()[:MAX_TEXT] or None
    if satisfaction is not None and (type(satisfaction) is not int or not 1 <= satisfaction <= 5):
        raise GisgridError("Satisfaction is a whole number from 1 to 5 (got {value!r})", value=satisfaction)

    def change(conn, notice, item):
        decide("check_fix", actor, _notice_facts(conn, actor, notice, _changed_months(notice, item, on) if fixed else ()))
        if item["fixed_on"] is not None:
            raise Conflict("Item {item} of notice {notice} was confirmed fixed on {day} already", item=item["item"],
                           notice=notice["number"], day=item["fixed_on"].isoformat())
        if on < notice["issued_on"]:
            raise GisgridError("The re-inspection date {day} is before the notice was issued ({issued})",
                               day=on.isoformat(), issued=notice["issued_on"].isoformat())
        values = {"checked_on": on, "checked_by": actor.name, "checked_at": clock.now(), "check_note": note,
                  "fixed_on": on if fixed else None, "satisfaction": satisfaction}
        notices.update_item_in(conn, item["id"], values)
        audit.record(conn, "notice_check", actor.name, month=_month(notice["deadline"]),
                     subject=f"notice {notice['id']} item {item['item']}",
                     after={"fixed": fixed, "on": on.isoformat(), "note": note, "satisfaction": satisfaction})

    return _write(store, actor, ref, number, client_id, "notice_check", fingerprint(fixed, on, note, satisfaction),
                  change)


def add_photo(store: Store, actor: Actor, folder: Path, ref, number, stage: str, client_id: str, data: bytes,
              max_bytes: int, per_item: int) -> tuple[dict, bool]:
    """An after-photo (stage "report", the town office's) or a re-inspection's ("check"): the
    photo row and whether it is new (a re-sent client id returns the stored one)."""
    if stage not in ("report", "check"):
        raise GisgridError("A notice photo is the town office's report or the re-inspection's, not {stage!r}",
                           stage=stage)
    photo = process_photo(data, max_bytes)
    with store.begin() as conn:
        notice = notices.notice_in(conn, _notice_ref(ref))
        item = _item(notice, number)
        stored = notices.photo_in(conn, client_id)
        if stored is not None:
            if stored["item_id"] != item["id"]:
                raise Conflict("This photo id is already used by another item")
            return stored, False
        decide("report_fix" if stage == "report" else "check_fix", actor, _notice_facts(conn, actor, notice))
        if sum(1 for p in item["photos"] if p["stage"] == stage) >= per_item:
            raise GisgridError("At most {n} photos per item", n=per_item)
        base = f"notices/{item['id']}"
        names = {"file": f"{base}/{client_id}.jpg", "thumb": f"{base}/{client_id}.thumb.jpg"}
        (folder / base).mkdir(parents=True, exist_ok=True)
        (folder / names["file"]).write_bytes(photo.image)
        (folder / names["thumb"]).write_bytes(photo.thumbnail)
        values = {"item_id": item["id"], "stage": stage, "client_id": client_id, **names, "width": photo.width,
                  "height": photo.height, "bytes": len(photo.image), "created_by": actor.name}
        photo_id = notices.insert_photo_in(conn, values)
        audit.record(conn, "notice_photo", actor.name, month=_month(notice["deadline"]),
                     subject=f"notice {notice['id']} item {item['item']}", after={"photo": photo_id, "stage": stage})
        return {"id": photo_id, **values}, True


def view_photo(store: Store, actor: Actor, photo_id: int) -> dict:
    photo = notices.photo(store, photo_id)
    decide("view_notices", actor, Facts(owner=photo["town"] in actor.towns))
    return photo


def listing(store: Store, actor: Actor, grid: str | None = None, month: str | None = None,
            open_only: bool = False) -> list[dict]:
    """Notices as JSON, newest deadline first: a town office's of its towns only; of one grid,
    with a deadline in one month, or those with an item not yet confirmed fixed."""
    decide("view_notices", actor, Facts(owner=True))
    towns = actor.towns if actor.role == "town" else None
    first, last = notices.month_days(month) if month is not None else (None, None)
    found = [as_json(n) for n in notices.notices(store, grid=grid, towns=towns, deadline_from=first, deadline_to=last)]
    if open_only:
        found = [n for n in found if any(i["fixed_on"] is None for i in n["items"])]
    return found


def tasks(store: Store, actor: Actor) -> list[dict]:
    """What inspectors re-inspect (复查), at its place: items reported fixed and not checked since,
    and items past their deadline not fixed nor checked since the deadline."""
    decide("check_fix", actor, Facts())
    today = clock.today(store.timezone())
    found = []
    for notice in notices.notices(store):
        for item in notice["items"]:
            if item["fixed_on"] is not None:
                continue
            reported = item["reported_at"] is not None and (item["checked_at"] is None
                                                            or item["checked_at"] < item["reported_at"])
            overdue = notice["deadline"] < today and (item["checked_on"] is None
                                                      or item["checked_on"] <= notice["deadline"])
            if reported or overdue:
                point = item["geom"]
                found.append({"notice": str(notice["id"]), "number": notice["number"], "grid": notice["grid"],
                              "grid_name": notice["grid_name"], "town": notice["town"], "rule": notice["rule"],
                              "item": item["item"], "text": item["text"], "road": item["road"],
                              "deadline": notice["deadline"].isoformat(), "reported_on": _iso(item["reported_on"]),
                              "why": "reported" if reported else "overdue",
                              "lon": point.x if point is not None else None,
                              "lat": point.y if point is not None else None,
                              "photos": [p["id"] for p in item["photos"] if p["stage"] == "report"]})
    return sorted(found, key=lambda t: (t["deadline"], t["number"], t["item"]))
