"""Locks that let a job (an import) run once among every app server of one database. On
PostgreSQL an advisory lock, held by a connection the job keeps for its whole life: the
server drops it when that connection ends, so also when the process holding it dies. On
SQLite, which one machine serves by definition, an `flock` on a file, which the system drops
when the process dies."""

from __future__ import annotations

import fcntl
import time
from pathlib import Path
from typing import Self

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from . import Store

# The first half of every two-part advisory key gisgrid takes ("gisg"), so that another
# program's advisory locks on the same database do not meet ours; the second half is
# hashtext(key). Two keys of ours meeting on one 32-bit hash would refuse a second start
# wrongly, never allow a double one.
NAMESPACE = 0x67697367
_HELD = text("SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted "
             "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
             "AND classid = CAST(:space AS oid) AND objsubid = 2 "
             "AND objid = CAST(CAST(hashtext(:key) AS bigint) & 4294967295 AS oid))")


class Lock:
    """A lock held until `release()` (or the end of a `with` block); releasing twice is harmless."""

    def __init__(self, release):
        self._release = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _advisory(store: Store | None) -> bool:
    return store is not None and store.postgis


ATTEMPTS, PAUSE_S = 3, 0.02


def try_lock(store: Store | None, key: str, file: Path) -> Lock | None:
    """The lock named `key`, or None if someone holds it: asked three times 20 ms apart, since a
    job writes its outcome an instant before it lets go (and an flock probe holds the file for an
    instant), so that a retry right after a failure is not refused. `file` is where the lock
    lives when the database is not PostgreSQL (or there is no store)."""
    if _advisory(store):
        return _advisory_lock(store, key)
    handle = open(file, "a")   # noqa: SIM115 - held until released
    for attempt in range(ATTEMPTS):
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return Lock(handle.close)
        except BlockingIOError:
            if attempt < ATTEMPTS - 1:
                time.sleep(PAUSE_S)
    handle.close()
    return None


def _advisory_lock(store: Store, key: str) -> Lock | None:
    conn = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")  # no transaction left open
    conn.detach()      # closed for good when released: never back to the pool still holding the lock
    try:
        for attempt in range(ATTEMPTS):
            if conn.execute(text("SELECT pg_try_advisory_lock(:space, hashtext(:key))"),
                            {"space": NAMESPACE, "key": key}).scalar():
                break
            if attempt < ATTEMPTS - 1:
                time.sleep(PAUSE_S)
        else:
            conn.close()
            return None
    except BaseException:
        conn.close()
        raise

    def unlock() -> None:
        try:     # unlocked now, not when the server notices the closed connection
            conn.execute(text("SELECT pg_advisory_unlock(:space, hashtext(:key))"), {"space": NAMESPACE, "key": key})
        except SQLAlchemyError:
            pass     # the connection is lost, and the lock went with it
        finally:
            conn.close()

    return Lock(unlock)


def is_locked(store: Store | None, key: str, file: Path) -> bool:
    """Whether a live process (this one or another, on any app server) holds the lock `key`."""
    if _advisory(store):
        with store.engine.connect() as conn:
            return bool(conn.execute(_HELD, {"space": NAMESPACE, "key": key}).scalar())
    if not file.exists():
        return False
    with open(file, "a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False
