"""The inspector's work: record, edit, move and delete findings, add and remove photos, submit
a road. Each runs in one transaction that reads what the policy needs, writes the change and its
audit row; a retry with the same client-made id is answered with what was stored and writes
nothing again (the tablet's outbox re-sends whatever it did not hear back about)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import shapely

from . import office
from .client_writes import claimed, fingerprint, replayed
from ..domain.errors import Conflict, FindingError, Gone, NotFound
from ..storage.photos import process_photo
from ..storage import Store, inspections, publishing
from .policy import OPEN, SUBMITTED, Actor, Facts, decide


def _facts(conn, actor: Actor, month: str, road_id: int, road_code: str, reason: str | None,
           owner: bool | None = None) -> Facts:
    """The policy's facts of a road in a month: the actor owns it when it is assigned to them
    (or, given `owner`, when the finding is theirs)."""
    assigned = inspections.assignment_in(conn, month, road_id)
    if owner is None:
        owner = assigned is not None and actor.id is not None and assigned["inspector_id"] == actor.id
    return Facts(owner=owner, month=publishing.state_in(conn, month),
                 road=SUBMITTED if assigned and assigned["submitted_at"] else OPEN,
                 reason=bool((reason or "").strip()), month_label=month, road_label=road_code)


def _alive(row: dict | None) -> dict:
    if row is None:
        raise NotFound("No such finding")
    if row["deleted_at"] is not None:
        raise Gone("This finding was deleted; it is kept but can no longer be changed")
    return row


def _road_id(conn, code: str) -> int:
    return inspections._road_id(conn, code)


FindingRef = int | str   # the database id, or the client-made id the tablet gave it


def _finding(conn, ref: FindingRef) -> dict:
    row = (inspections.finding_in(conn, id=ref) if isinstance(ref, int)
           else inspections.finding_in(conn, external_id=ref))
    if row is None:
        raise NotFound("No such finding")
    return row


def record(store: Store, actor: Actor, props: dict, lon: float, lat: float) -> tuple[dict, bool]:
    """One finding from the tablet: (stored finding, created?). The same client-made id and
    content again (a retry, or the same request twenty times at once) returns the stored finding,
    created once with one audit row; another inspector's id is refused."""
    external = props.get("id") if isinstance(props.get("id"), str) else None
    external = office._text(external)
    if not external or len(external) > 128:
        raise FindingError("A finding needs its client-made id")
    row = office._parse_finding(props, store.timezone(), store.rulebooks())
    office.spot_rule(store.rulebooks(), row["month"], row["rule"])
    road_id, road_code, snapped = office.place(store, lon, lat, row["month"])
    with store.begin() as conn:
        stored = inspections.finding_in(conn, external_id=external)
        if stored is None:
            facts = _facts(conn, actor, row["month"], road_id, road_code, None)
            # the window closes observations after its date; one observed before it and sent
            # late (an offline tablet's queue) is still taken
            closes = publishing.window_in(conn, row["month"])
            if closes is not None and row["observed_at"].astimezone(store.timezone()).date() > closes:
                facts = replace(facts, closed_on=closes.isoformat())
            decide("record_finding", actor, facts)
            new_id = inspections.insert_finding(conn, {
                **row, "external_id": external, "road_id": road_id, "snapped_m": snapped,
                "geom": shapely.Point(lon, lat), "created_by": actor.name, "inspector_id": actor.id})
            if new_id is not None:
                created = inspections.finding_in(conn, id=new_id)
                inspections.log_change(conn, new_id, "create", actor.name, None, None, created)
                return created, True
    # stored before this request, or by a concurrent one just now: a retry of the same finding?
    stored = inspections.finding(store, external_id=external)
    if actor.role == "inspector" and stored["inspector_id"] != actor.id:
        raise Conflict("This id is already used by another finding")
    if not office._same(stored, row, road_code):
        raise Conflict("This id is already stored with different content")
    return stored, False


def edit(store: Store, actor: Actor, finding: FindingRef, props: dict, reason: str | None = None,
         lon: float | None = None, lat: float | None = None, client_id: str | None = None) -> dict:
    """Change a finding's rule, count, area, time, note or place. The policy is asked where the
    finding is and, when a move or a new time takes it elsewhere, where it goes. A replayed
    `client_id` answers the finding as it is now and changes nothing."""
    tz, books = store.timezone(), store.rulebooks()
    asked = fingerprint({k: v for k, v in props.items() if k in EDITABLE}, lon, lat, reason)
    with store.begin() as conn:
        row = _finding(conn, finding)
        finding_id = row["id"]
        replay = not claimed(conn, actor, client_id, "edit", finding_id, asked)
        if not replay:
            return _edit_in(conn, store, actor, _alive(row), props, reason, lon, lat, tz, books)
    replayed(store, actor, client_id, "edit", finding_id, asked)
    return inspections.finding(store, id=finding_id)


EDITABLE = ("rule", "count", "area_m2", "note", "observed_at", "deadline")


def _edit_in(conn, store: Store, actor: Actor, row: dict, props: dict, reason, lon, lat, tz, books) -> dict:
    finding_id = row["id"]
    mine = actor.id is not None and row["inspector_id"] == actor.id
    source = _road_id(conn, row["road"])
    decide("edit_finding", actor, _facts(conn, actor, row["month"], source, row["road"], reason, owner=mine))
    merged = {"rule": row["rule"], "count": row["count"], "area_m2": row["area_m2"], "note": row["note"],
              "observed_at": row["observed_at"].astimezone(tz).isoformat(),
              "deadline": row["deadline"].isoformat() if row["deadline"] else None}
    merged.update({k: v for k, v in props.items() if k in EDITABLE})
    values = office._parse_finding(merged, tz, books)
    if "rule" in props:
        rule = office.spot_rule(books, values["month"], values["rule"])
        # another rule: what the old one needed and the new one does not (an area, a deadline) goes
        values.update({k: None for k, needed in (("area_m2", rule.needs_area), ("deadline", rule.needs_deadline))
                       if not needed and k not in props})
    target, target_code = source, row["road"]
    if lon is not None and lat is not None:
        target, target_code, snapped = office.place(store, lon, lat, values["month"])
        values.update(road_id=target, snapped_m=snapped, geom=shapely.Point(lon, lat))
    moved = (target, values["month"]) != (source, row["month"])
    later = values["observed_at"] != row["observed_at"]
    if moved or later:
        facts = _facts(conn, actor, values["month"], target, target_code, reason)
        # a new time may not take a finding past the window either (its month's, where it goes)
        closes = publishing.window_in(conn, values["month"]) if later else None
        if closes is not None and values["observed_at"].astimezone(tz).date() > closes:
            facts = replace(facts, closed_on=closes.isoformat())
        decide("move_finding", actor, facts)
    inspections.write_finding(conn, finding_id, values)
    after = inspections.finding_in(conn, id=finding_id)
    inspections.log_change(conn, finding_id, "update", actor.name, reason, row, after)
    return after


def delete(store: Store, actor: Actor, finding: FindingRef, reason: str | None = None,
           client_id: str | None = None) -> dict:
    """Soft delete, logged; a second delete is refused (the finding is gone), not logged again,
    except the replay of the same `client_id`, answered as the first time."""
    asked = fingerprint(reason)
    with store.begin() as conn:
        row = _finding(conn, finding)
        if claimed(conn, actor, client_id, "delete", row["id"], asked):
            row = _alive(row)
            mine = actor.id is not None and row["inspector_id"] == actor.id
            decide("delete_finding", actor,
                   _facts(conn, actor, row["month"], _road_id(conn, row["road"]), row["road"], reason, owner=mine))
            inspections.mark_deleted(conn, row["id"])
            inspections.log_change(conn, row["id"], "delete", actor.name, reason, row, None)
            return row
    replayed(store, actor, client_id, "delete", row["id"], asked)
    return row


def add_photo(store: Store, actor: Actor, folder: Path, finding: FindingRef, client_id: str, data: bytes,
              max_bytes: int, per_finding: int) -> tuple[dict, bool]:
    """Store a photo of a finding: (photo row, created?). A re-sent client id returns the stored
    photo and never touches its files; the files are written before their row, so a row always
    points at files that exist."""
    photo = process_photo(data, max_bytes)
    with store.begin() as conn:
        row = _finding(conn, finding)
        finding_id = row["id"]
        stored = inspections.photo_in(conn, client_id)
        if stored is not None:
            if stored["finding_id"] != finding_id:
                raise Conflict("This photo id is already used by another finding")
            return stored, False
        row = _alive(row)
        mine = actor.id is not None and row["inspector_id"] == actor.id
        decide("add_photo", actor,
               _facts(conn, actor, row["month"], _road_id(conn, row["road"]), row["road"], None, owner=mine))
        if inspections.photo_count_in(conn, finding_id) >= per_finding:
            raise FindingError("At most {n} photos per finding", n=per_finding)
        names = {"file": f"{finding_id}/{client_id}.jpg", "thumb": f"{finding_id}/{client_id}.thumb.jpg"}
        (folder / str(finding_id)).mkdir(parents=True, exist_ok=True)
        (folder / names["file"]).write_bytes(photo.image)
        (folder / names["thumb"]).write_bytes(photo.thumbnail)
        values = {"finding_id": finding_id, "client_id": client_id, **names, "width": photo.width,
                  "height": photo.height, "bytes": len(photo.image), "created_by": actor.name}
        photo_id = inspections.insert_photo(conn, values)
        inspections.log_change(conn, finding_id, "photo", actor.name, None, None, None)
        return {"id": photo_id, **values}, True


def remove_photo(store: Store, actor: Actor, photo_ref: int | str, client_id: str | None = None) -> dict:
    """Take a photo off a finding, under the rules that let one be added. The photo is kept
    (files and row, for the audit), only no longer shown nor counted against the limit. A
    replayed `client_id` answers as the first time; a second removal otherwise is refused."""
    with store.begin() as conn:
        photo = (inspections.photo_by_id_in(conn, photo_ref) if isinstance(photo_ref, int)
                 else inspections.photo_in(conn, photo_ref))
        if photo is None:
            raise NotFound("No such photo")
        asked = fingerprint(photo["id"])
        if claimed(conn, actor, client_id, "remove_photo", photo["id"], asked):
            if photo["removed_at"] is not None:
                raise Gone("This photo was removed already")
            row = _alive(inspections.finding_in(conn, id=photo["finding_id"]))
            mine = actor.id is not None and row["inspector_id"] == actor.id
            decide("remove_photo", actor,
                   _facts(conn, actor, row["month"], _road_id(conn, row["road"]), row["road"], None, owner=mine))
            inspections.remove_photo_in(conn, photo["id"], actor.name)
            inspections.log_change(conn, row["id"], "unphoto", actor.name, None, None, None)
            return photo
    replayed(store, actor, client_id, "remove_photo", photo["id"], asked)
    return photo


def submit(store: Store, actor: Actor, month: str, road_code: str, client_id: str | None = None) -> None:
    """The inspector declares the road's inspection done; later changes need a reason. A
    replayed `client_id` (the answer was lost) is answered as done."""
    with store.begin() as conn:
        road_id = _road_id(conn, road_code)
        if claimed(conn, actor, client_id, "submit_road", f"{month}/{road_code}", fingerprint(month, road_code)):
            if inspections.assignment_in(conn, month, road_id) is None:
                raise Conflict("The inspection of {code} in {month} is not assigned or already submitted",
                               code=road_code, month=month)
            decide("submit_road", actor, _facts(conn, actor, month, road_id, road_code, None))
            inspections.submit_in(conn, month, road_id, actor.name)
            return
    replayed(store, actor, client_id, "submit_road", f"{month}/{road_code}", fingerprint(month, road_code))
