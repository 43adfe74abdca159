"""Every write the tablet's outbox sends carries a client-made id, so a lost answer and its retry
cannot change, delete, remove or audit twice (SQLite and PostGIS): a replay answers as the first
time, the same id with another change is refused, findings and photos can be named by the ids the
tablet made for them, and a removed photo is kept but no longer shown or counted."""

import io

import pytest
from PIL import Image

from gisgrid.services import office
from gisgrid.services import Actor, findings
from gisgrid.storage import inspections

MONTH = "2026-11"
ON_R11, ON_R12 = (114.035, 33.5951), (114.0351, 33.593)


@pytest.fixture
def wang(app, district, auth):
    """wang walks R11 and R12 in November; li walks R21."""
    office.sample_month(district, MONTH, roads=["R11", "R12", "R21", "R41", "R42"])
    for name in ("wang", "li"):
        auth.account(name, "inspector")
    for road, name in (("R11", "wang"), ("R12", "wang"), ("R21", "li")):
        inspections.assign(district, MONTH, road, name, "office")
    auth.login("wang", "inspector")
    return auth


def send(client, auth, path, payload=None, method="POST"):
    return client.open(path, method=method, json=payload, headers={"X-CSRFToken": auth.csrf("/inspect/")})


def new(id="tablet-0001", at=ON_R11, **extra):
    return {"id": id, "rule": "5.1", "observed_at": "2026-11-25T10:00:00+08:00", "lon": at[0], "lat": at[1], **extra}


def jpeg(colour="red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), colour).save(out, "JPEG")
    return out.getvalue()


def photo(client, auth, finding_ref, client_id):
    return client.post(f"/api/findings/{finding_ref}/photos", headers={"X-CSRFToken": auth.csrf("/inspect/")},
                       data={"client_id": client_id, "photo": (io.BytesIO(jpeg()), "p.jpg")})


def actions(district, finding_id):
    return [c["action"] for c in inspections.changes(district, finding_id)]


def test_a_replayed_edit_answers_and_changes_nothing_again(client, wang, district):
    finding_id = send(client, wang, "/api/findings", new()).json["finding"]["id"]
    first = send(client, wang, f"/api/findings/{finding_id}", {"count": 2, "client_id": "edit-aaaa-0001"}, "PATCH")
    second = send(client, wang, f"/api/findings/{finding_id}", {"count": 3, "client_id": "edit-aaaa-0002"}, "PATCH")
    replay = send(client, wang, f"/api/findings/{finding_id}", {"count": 2, "client_id": "edit-aaaa-0001"}, "PATCH")
    assert (first.status_code, second.status_code, replay.status_code) == (200, 200, 200)
    # the replay is answered with the finding as it is, not written back over the later edit
    assert replay.json["finding"]["properties"]["count"] == 3
    assert inspections.finding(district, id=finding_id)["count"] == 3
    assert actions(district, finding_id) == ["create", "update", "update"]


def test_the_same_change_id_for_another_change_is_refused(client, wang, district):
    finding_id = send(client, wang, "/api/findings", new()).json["finding"]["id"]
    assert send(client, wang, f"/api/findings/{finding_id}", {"count": 2, "client_id": "edit-bbbb-0001"},
                "PATCH").status_code == 200
    other = send(client, wang, f"/api/findings/{finding_id}", {"count": 5, "client_id": "edit-bbbb-0001"}, "PATCH")
    assert other.status_code == 409 and "已被另一项修改使用" in other.json["message"]
    bad = send(client, wang, f"/api/findings/{finding_id}", {"count": 5, "client_id": "x"}, "PATCH")
    assert bad.status_code == 422
    assert inspections.finding(district, id=finding_id)["count"] == 2
    assert actions(district, finding_id) == ["create", "update"]


def test_another_account_cannot_replay_a_change_id(client, wang, district):
    finding_id = send(client, wang, "/api/findings", new()).json["finding"]["id"]
    assert send(client, wang, f"/api/findings/{finding_id}", {"count": 2, "client_id": "edit-cccc-0001"},
                "PATCH").status_code == 200
    office_actor = Actor(None, "office", "admin")
    with pytest.raises(Exception) as refused:
        findings.edit(district, office_actor, finding_id, {"count": 2}, client_id="edit-cccc-0001")
    assert refused.value.http_status == 409
    assert actions(district, finding_id) == ["create", "update"]


def test_a_replayed_delete_answers_as_the_first_time(client, wang, district):
    finding_id = send(client, wang, "/api/findings", new()).json["finding"]["id"]
    first = send(client, wang, f"/api/findings/{finding_id}", {"client_id": "delete-0001"}, "DELETE")
    replay = send(client, wang, f"/api/findings/{finding_id}", {"client_id": "delete-0001"}, "DELETE")
    assert first.status_code == replay.status_code == 200
    assert replay.json == first.json and replay.json["deleted"] == finding_id
    # a delete that is not a replay of this one still finds the finding gone
    assert send(client, wang, f"/api/findings/{finding_id}", {"client_id": "delete-0002"}, "DELETE").status_code == 410
    assert send(client, wang, f"/api/findings/{finding_id}", {}, "DELETE").status_code == 410
    assert actions(district, finding_id) == ["create", "delete"]


def test_a_refused_change_leaves_its_id_free(client, wang, district):
    """The id is claimed in the change's own transaction: a refusal rolls the claim back, so the
    corrected change (here: with the reason a submitted road asks for) can be sent under it."""
    finding_id = send(client, wang, "/api/findings", new()).json["finding"]["id"]
    assert send(client, wang, f"/api/months/{MONTH}/roads/R11/submit").status_code == 200
    refused = send(client, wang, f"/api/findings/{finding_id}", {"count": 2, "client_id": "edit-dddd-0001"}, "PATCH")
    assert refused.status_code == 409
    assert inspections.client_write(district, "edit-dddd-0001") is None
    assert actions(district, finding_id) == ["create"]


def test_findings_and_photos_are_named_by_the_tablets_ids(app, client, wang, district):
    """An offline tablet knows only the ids it made: edit, move, photo, remove and delete by them."""
    send(client, wang, "/api/findings", new(id="tablet-0009"))
    edited = send(client, wang, "/api/findings/client/tablet-0009",
                  {"lon": ON_R12[0], "lat": ON_R12[1], "note": "moved", "client_id": "edit-eeee-0001"}, "PATCH")
    assert edited.status_code == 200 and edited.json["road"] == "R12"
    assert photo(client, wang, "client/tablet-0009", "tablet-0009-p1").status_code == 201
    assert photo(client, wang, "client/tablet-0009", "tablet-0009-p2").status_code == 201
    removed = send(client, wang, "/api/photos/client/tablet-0009-p1", {"client_id": "unphoto-0001"}, "DELETE")
    assert removed.status_code == 200
    replay = send(client, wang, "/api/photos/client/tablet-0009-p1", {"client_id": "unphoto-0001"}, "DELETE")
    assert replay.status_code == 200 and replay.json == removed.json
    again = send(client, wang, "/api/photos/client/tablet-0009-p1", {}, "DELETE")
    assert again.status_code == 410
    stored = inspections.finding(district, external_id="tablet-0009")
    kept = inspections.photo(district, removed.json["removed"])
    assert len(stored["photos"]) == 1 and kept["removed_at"] is not None and kept["removed_by"] == "wang"
    # the removed photo's file is kept for the audit
    assert (app.extensions["gisgrid.settings"].photo_dir / kept["file"]).exists()
    assert send(client, wang, "/api/findings/client/tablet-0009", {"client_id": "delete-0009"}, "DELETE").status_code == 200
    assert send(client, wang, "/api/findings/client/nobody-0000", {"count": 2}, "PATCH").status_code == 404
    assert actions(district, stored["id"]) == ["create", "update", "photo", "photo", "unphoto", "delete"]


def test_a_removed_photo_frees_its_place_and_none_is_removed_after_submission(app, client, wang, district):
    app.config["PHOTOS_PER_FINDING"] = 1
    finding_id = send(client, wang, "/api/findings", new()).json["finding"]["id"]
    first = photo(client, wang, finding_id, "tablet-0001-p1")
    assert photo(client, wang, finding_id, "tablet-0001-p2").status_code == 422
    assert send(client, wang, f"/api/photos/{first.json['id']}", {}, "DELETE").status_code == 200
    second = photo(client, wang, finding_id, "tablet-0001-p2")
    assert second.status_code == 201
    assert send(client, wang, f"/api/months/{MONTH}/roads/R11/submit", {"client_id": "submit-0001"}).status_code == 200
    late = send(client, wang, f"/api/photos/{second.json['id']}", {"client_id": "unphoto-0002"}, "DELETE")
    assert late.status_code == 409 and "不能再删除照片" in late.json["message"]
    assert inspections.finding(district, id=finding_id)["photos"] == [second.json["id"]]
    # the submission's answer was lost: its replay is answered as done, not as "already submitted"
    replay = send(client, wang, f"/api/months/{MONTH}/roads/R11/submit", {"client_id": "submit-0001"})
    assert replay.status_code == 200 and replay.json["submitted_at"]
    assert send(client, wang, f"/api/months/{MONTH}/roads/R11/submit", {"client_id": "submit-0002"}).status_code == 409


def test_another_inspector_may_not_remove_a_photo(app, client, wang, district):
    finding_id = send(client, wang, "/api/findings", new()).json["finding"]["id"]
    stored = photo(client, wang, finding_id, "tablet-0001-p1").json["id"]
    li = Actor.of(district.user(name="li"))
    with pytest.raises(Exception) as refused:
        findings.remove_photo(district, li, stored, client_id="unphoto-li-01")
    assert refused.value.http_status == 403
    assert inspections.finding(district, id=finding_id)["photos"] == [stored]
    assert inspections.client_write(district, "unphoto-li-01") is None


def test_rules_that_are_no_spot_in_the_street_are_not_pinned(client, wang, district):
    """6.3.2 and 8.1 come from the rectification and patrol records (DOMAIN.md): the tablet's
    use case refuses them as pins, as a new finding and as an edit, with the reason."""
    for rule in ("6.3.2", "8.1"):
        refused = send(client, wang, "/api/findings", new(id=f"tablet-{rule}", rule=rule))
        assert refused.status_code == 422 and "不是街面上的点位" in refused.json["message"], rule
    finding_id = send(client, wang, "/api/findings", new()).json["finding"]["id"]
    assert send(client, wang, f"/api/findings/{finding_id}", {"rule": "8.1"}, "PATCH").status_code == 422
    assert inspections.road_findings(district, MONTH, "R11")[0]["rule"] == "5.1"


def test_another_rule_drops_what_the_old_one_needed(client, wang, district):
    """An area rule changed to a count rule keeps no area ("×2 · 4 m²" was the bug); a count
    rule changed to 5.4 needs its deadline, which the next change away from 5.4 drops."""
    finding_id = send(client, wang, "/api/findings", new(rule="4.1", area_m2=4)).json["finding"]["id"]
    counted = send(client, wang, f"/api/findings/{finding_id}", {"rule": "6.1.2", "count": 2}, "PATCH")
    assert counted.status_code == 200 and counted.json["finding"]["properties"]["area_m2"] is None
    assert send(client, wang, f"/api/findings/{finding_id}", {"rule": "5.4"}, "PATCH").status_code == 422
    overdue = send(client, wang, f"/api/findings/{finding_id}", {"rule": "5.4", "deadline": "2026-10-20"}, "PATCH")
    assert overdue.status_code == 200 and overdue.json["finding"]["properties"]["deadline"] == "2026-10-20"
    again = send(client, wang, f"/api/findings/{finding_id}", {"rule": "5.1"}, "PATCH")
    assert again.json["finding"]["properties"]["deadline"] is None
    stored = inspections.finding(district, id=finding_id)
    assert (stored["rule"], stored["area_m2"], stored["deadline"]) == ("5.1", None, None)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)   # PostgreSQL has no database-wide lock
def test_a_write_that_waited_too_long_for_sqlites_lock_is_refused_as_busy_and_sent_again(app, client, wang, district,
                                                                                       monkeypatch):
    """A large import holds SQLite's one write lock while it writes; a tablet's write that waits
    longer than a write may wait is answered 503 with Retry-After, having written nothing, and
    its outbox's second sending stores the finding once."""
    import sqlite3

    from gisgrid.storage import db

    send(client, wang, "/api/findings", new("tablet-0000"))       # the app's connection is open already
    monkeypatch.setattr(db, "WRITE_WAIT_S", 0.2)
    app.extensions["gisgrid.storage"].engine.dispose()              # its new connections wait 0.2 s
    importer = sqlite3.connect(district.engine.url.database, isolation_level=None)
    importer.execute("BEGIN IMMEDIATE")                            # another process's import, writing
    try:
        refused = send(client, wang, "/api/findings", new())
    finally:
        importer.execute("ROLLBACK")
        importer.close()
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
    assert refused.json["error"] == "Busy" and "数据库正忙" in refused.json["message"]
    with pytest.raises(Exception, match="No such finding"):
        inspections.finding(district, external_id="tablet-0001")
    again = send(client, wang, "/api/findings", new())
    assert again.status_code == 201
    assert [f["external_id"] for f in inspections.road_findings(district, MONTH, "R11")] == ["tablet-0000", "tablet-0001"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_writers_of_one_process_wait_in_turn_and_one_held_up_too_long_is_busy(district, monkeypatch):
    """An app server's writers queue for SQLite's lock in the process (no slow polling); one
    kept waiting longer than a write may wait is refused with Busy, and nothing of it is written."""
    import threading

    from gisgrid.domain.errors import Busy
    from gisgrid.storage import db

    monkeypatch.setattr(db, "WRITE_WAIT_S", 0.2)
    holding, release, outcome = threading.Event(), threading.Event(), []

    def long_write():
        with district.begin():
            holding.set()
            release.wait(5)
    writer = threading.Thread(target=long_write)
    writer.start()
    holding.wait(5)
    try:
        district.set_setting("snap_tolerance_m", "7")
    except Busy as refused:
        outcome.append(str(refused))
    release.set()
    writer.join(5)
    assert outcome and "busy" in outcome[0]
    assert district.snap_tolerance_m() == 10.0                # nothing of the refused write
    district.set_setting("snap_tolerance_m", "7")
    assert district.snap_tolerance_m() == 7.0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_writers_of_other_processes_wait_for_the_turn_on_the_file_beside_the_database(district, monkeypatch):
    """Another gisgrid process writing (an import, the other worker) holds the flock beside the
    database: a writer here waits for it, not for SQLite's lock, which is free meanwhile, and
    one kept too long is refused with Busy, having written nothing."""
    import fcntl
    import os

    from gisgrid.domain.errors import Busy
    from gisgrid.storage import db

    monkeypatch.setattr(db, "WRITE_WAIT_S", 0.2)
    other = os.open(district.engine.url.database + "-writers", os.O_WRONLY | os.O_CREAT)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(Busy, match="busy"):
            district.set_setting("snap_tolerance_m", "7")
        assert district.snap_tolerance_m() == 10.0
        fcntl.flock(other, fcntl.LOCK_UN)
        district.set_setting("snap_tolerance_m", "7")
    finally:
        os.close(other)
    assert district.snap_tolerance_m() == 7.0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_forked_worker_takes_the_turn_on_its_own_file_not_its_parents(district, monkeypatch):
    """gunicorn forks its workers from a process whose store has written already: a worker holding
    the turn keeps its parent's writers waiting (an flock shared through one open file would let
    both write at once)."""
    import multiprocessing

    from gisgrid.domain.errors import Busy
    from gisgrid.storage import db

    district.set_setting("snap_tolerance_m", "8")            # the parent's file is open now
    context = multiprocessing.get_context("fork")
    holding, release = context.Event(), context.Event()

    def worker():
        with district._turn():
            holding.set()
            release.wait(10)
    child = context.Process(target=worker)
    child.start()
    try:
        assert holding.wait(10)
        monkeypatch.setattr(db, "WRITE_WAIT_S", 0.2)
        with pytest.raises(Busy):
            district.set_setting("snap_tolerance_m", "7")
    finally:
        release.set()
        child.join(10)
    assert child.exitcode == 0
    district.set_setting("snap_tolerance_m", "7")
    assert district.snap_tolerance_m() == 7.0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_write_ahead_log_is_checkpointed_after_the_turn_is_handed_on(district, monkeypatch):
    """SQLite's own checkpoint runs inside a commit, while gisgrid's writers wait for the turn
    (0.4 s of an import's): the Store checkpoints after the turn instead — another process may
    take it meanwhile — every CHECKPOINT_EVERY writes, after an import and when the store is
    closed, copying all the log holds into the database file."""
    import fcntl
    import os

    from gisgrid.storage import db

    monkeypatch.setattr(db, "CHECKPOINT_EVERY", 3)
    checkpoints = []
    checkpoint = district._checkpoint

    def watched():
        other = os.open(district.engine.url.database + "-writers", os.O_WRONLY)
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)     # raises if the turn were still held
            fcntl.flock(other, fcntl.LOCK_UN)
        finally:
            os.close(other)
        checkpoints.append(checkpoint())
        return checkpoints[-1]
    monkeypatch.setattr(district, "_checkpoint", watched)
    district._writers._since_checkpoint = 0
    for value in ("1", "2"):
        district.set_setting("snap_tolerance_m", value)
    assert checkpoints == []
    district.set_setting("snap_tolerance_m", "3")
    with district.engine.connect() as conn, district.begin_on(conn):      # an import's: at once
        conn.exec_driver_sql("UPDATE setting SET value = '4' WHERE key = 'snap_tolerance_m'")
    assert len(checkpoints) == 2
    district.set_setting("snap_tolerance_m", "5")      # one write, not due yet ...
    assert len(checkpoints) == 2
    district.dispose()                                  # ... until the store is closed (a command ends)
    assert len(checkpoints) == 3
    for busy, logged, copied in checkpoints:       # SQLite left the log alone; all of it was copied
        assert busy == 0 and logged > 0 and copied == logged
    assert district.snap_tolerance_m() == 5.0
