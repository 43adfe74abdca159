"""The locks that let an import run once among app servers: on PostgreSQL an advisory lock
another server's store sees (and the database drops when the process holding it dies), on
SQLite an flock on a file; and the database lock is what the uploads use on PostgreSQL."""

import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from gisgrid.storage import Store, locks
from gisgrid.storage.uploads import Uploads

ROOT = Path(__file__).resolve().parent.parent


def _servers(db_url):
    """Two stores on one database: what two app servers have."""
    return Store(db_url), Store(db_url)


def test_a_lock_is_held_once_among_servers_and_released(db_url, tmp_path):
    one, two = _servers(db_url)
    file = tmp_path / "lock"
    try:
        held = locks.try_lock(one, "import x", file)
        assert held is not None
        assert locks.try_lock(two, "import x", file) is None            # the other server is refused
        assert locks.is_locked(two, "import x", file) and locks.is_locked(one, "import x", file)
        other = locks.try_lock(two, "import y", file.with_name("lock-y"))  # another key is free
        assert other is not None
        other.release()
        held.release()
        held.release()                                                  # twice is harmless
        assert not locks.is_locked(two, "import x", file)
        with locks.try_lock(two, "import x", file) as again:
            assert again is not None and locks.is_locked(one, "import x", file)
        assert not locks.is_locked(one, "import x", file)
        assert one.engine.pool.checkedout() == 0 and two.engine.pool.checkedout() == 0
    finally:
        one.dispose()
        two.dispose()


def test_a_lock_goes_when_the_process_holding_it_is_killed(db_url, tmp_path):
    store, file = Store(db_url), tmp_path / "lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import sys, time\nfrom pathlib import Path\nfrom gisgrid.storage import Store, locks\n"
                                "held = locks.try_lock(Store(sys.argv[1]), 'import z', Path(sys.argv[2]))\n"
                                "print('held' if held else 'refused', flush=True)\ntime.sleep(60)"),
         db_url, str(file)], stdout=subprocess.PIPE, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline() == "held\n"
        assert locks.is_locked(store, "import z", file) and locks.try_lock(store, "import z", file) is None
        holder.kill()                                    # the server restarted away mid-import
        holder.communicate()
        for _ in range(200):                             # PostgreSQL ends the dead client's session
            if not locks.is_locked(store, "import z", file):
                break
            time.sleep(0.05)
        taken = locks.try_lock(store, "import z", file)
        assert taken is not None
        taken.release()
    finally:
        holder.kill()
        store.dispose()


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)
def test_uploads_on_postgresql_hold_the_database_lock_not_a_file(db_url, tmp_path):
    store = Store(db_url)
    try:
        uploads = Uploads(tmp_path, store=store)
        token = uploads.save(io.BytesIO(b"{}"), "a.geojson", "planner1", 1 << 20)
        release = threading.Event()
        uploads.run(token, lambda progress: release.wait(10) and {"created": 1})
        with store.engine.connect() as conn:
            advisory = conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                         "AND classid = CAST(:space AS oid)"), {"space": locks.NAMESPACE}).scalar()
        assert advisory == 1 and not (tmp_path / token / "lock").exists()
        assert uploads.progress(token)["state"] == "running"
        release.set()
        key = f"gisgrid upload {token}"
        for _ in range(200):      # the import writes its outcome, then lets go of the lock
            if not locks.is_locked(store, key, tmp_path / token / "lock"):
                break
            time.sleep(0.05)
        assert uploads.progress(token)["state"] == "done" and not locks.is_locked(store, key, tmp_path / token / "lock")
    finally:
        store.dispose()


def test_an_upload_is_forgotten_a_day_after_its_stamp_whatever_its_files_dates(tmp_path, clock):
    """Age by the clock that stamped the upload: a file system whose dates disagree with it (a
    frozen test clock, a skewed server) neither removes a fresh upload nor keeps an old one."""
    import os
    from datetime import timedelta

    uploads = Uploads(tmp_path / "uploads")
    old = uploads.save(io.BytesIO(b"{}"), "old.geojson", "planner1", 1 << 20)
    clock.shift(timedelta(hours=23))
    fresh = uploads.save(io.BytesIO(b"{}"), "fresh.geojson", "planner1", 1 << 20)
    for path in (tmp_path / "uploads" / fresh).rglob("*"):
        os.utime(path, (0, 0))                   # its files dated 1970 by the file system
    os.utime(tmp_path / "uploads" / fresh, (0, 0))
    clock.shift(timedelta(hours=2))              # 25 h after the first, 2 h after the second
    uploads.save(io.BytesIO(b"{}"), "third.geojson", "planner1", 1 << 20)
    kept = {p.name for p in (tmp_path / "uploads").iterdir()}
    assert old not in kept and fresh in kept and len(kept) == 2
