"""Files a planner uploads to import: kept in the upload folder under a random token until
imported (or a day old), with the import's progress beside them in a small JSON file, so that
any worker process can report it, and a lock the running import holds, so that it starts
once. No Flask here."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from .. import clock
from ..domain.errors import GisgridError, LayerError, NotFound
from . import Store, locks

KEEP_S = 24 * 3600
TABLES = (".csv", ".xlsx")     # the office's notices kept in Excel
ACCEPTED = (".zip", ".geojson", ".json", ".gpkg", ".kml", ".fgb", ".osm", ".pbf")
TOKEN_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
# what progress reports instead of an error the planner cannot act on (never raised)
INTERRUPTED = LayerError("The import stopped before it finished (the server restarted); nothing was saved, "
                         "start it again")
UNEXPECTED = LayerError("The import failed on an unexpected error; nothing was saved, and the server log has "
                        "the details")
PREVIEW_UNEXPECTED = LayerError("The preview failed on an unexpected error; the server log has the details")
log = logging.getLogger(__name__)


class Uploads:
    def __init__(self, folder: Path, store: Store | None = None):
        """`store`: the database whose app servers share `folder`; its locks say which import runs
        (none: one process on one machine, a lock file in the upload's folder)."""
        self.folder, self.store = Path(folder), store

    def save(self, stream, filename: str, owner: str, max_bytes: int, tables: bool = False) -> str:
        """Store an uploaded file; the token names it from now on. Refuses unknown formats (a
        layer's, or with `tables` a CSV or XLSX) and files over `max_bytes` (counted while
        copying, so a lying Content-Length cannot pass)."""
        suffix = "".join(Path(filename).suffixes[-2:]).lower()
        suffix = suffix if suffix == ".osm.pbf" else Path(filename).suffix.lower()
        if tables and suffix not in TABLES:
            raise LayerError("{path}: upload a CSV or XLSX file", path=filename)
        if not tables and not suffix.endswith(ACCEPTED):
            raise LayerError("{path}: upload a GeoJSON, zipped Shapefile, GeoPackage, KML, FlatGeobuf or "
                             "OpenStreetMap file", path=filename)
        self._forget_old()
        token = secrets.token_urlsafe(16)
        folder = self.folder / token
        (folder / "file").mkdir(parents=True)    # apart from the bookkeeping, whatever the file's name
        # the planner's own file name, so that messages name the file they know
        name = "".join(ch for ch in Path(filename.replace("\\", "/")).name if ch.isprintable()).lstrip(".")[-120:]
        target = folder / "file" / (name if name.lower().endswith(suffix) else "upload" + suffix)
        written = 0
        with open(target, "wb") as out:
            while chunk := stream.read(1 << 20):
                written += len(chunk)
                if written > max_bytes:
                    out.close()
                    shutil.rmtree(folder)
                    raise LayerError("{path} is larger than {mb} MB", path=filename, mb=max_bytes >> 20)
                out.write(chunk)
        if written == 0:
            shutil.rmtree(folder)
            raise LayerError("{path} is empty", path=filename)
        self._write(token, "meta.json", {"owner": owner, "filename": filename, "file": f"file/{target.name}",
                                         "at": clock.timestamp()})
        return token

    def discard(self, token: str) -> None:
        self.meta(token)
        shutil.rmtree(self.folder / token, ignore_errors=True)

    def path(self, token: str, owner: str) -> Path:
        """The uploaded file, for its owner only."""
        meta = self.meta(token)
        if meta["owner"] != owner:
            raise NotFound("No upload {token}", token=token)
        return self.folder / token / meta["file"]

    def meta(self, token: str) -> dict:
        if not token or set(token) - TOKEN_CHARS or not (self.folder / token / "meta.json").exists():
            raise NotFound("No upload {token}", token=token)
        return json.loads((self.folder / token / "meta.json").read_text(encoding="utf-8"))

    def progress(self, token: str) -> dict:
        self.meta(token)
        state = self._state(token)
        if state["state"] == "running" and not self._running(token):
            state = self._state(token)   # the import writes its outcome before it lets go of the lock
            if state["state"] == "running":
                state = {"state": "failed", "error": _as_json(INTERRUPTED)}
        return state

    def run(self, token: str, job: Callable[[Callable[[str, float], None]], dict]) -> None:
        """Run `job(progress)` in a thread; its stages, then its result or its error, go to
        progress.json. The thread holds the upload's lock (the system drops it if the process
        dies), so one import runs per upload: a second start while one runs, or after one
        succeeded, is refused; after a failure, or a restart that cut it short, it may run again."""
        self.meta(token)
        lock = locks.try_lock(self.store, _lock_key(token), self.folder / token / "lock")  # held by the import
        if lock is None:
            raise _started()
        if self._state(token)["state"] == "done":
            lock.release()
            raise _started()
        self._write(token, "progress.json", {"state": "running", "stage": "start", "fraction": 0.0})

        def report(stage: str, fraction: float) -> None:
            self._write(token, "progress.json", {"state": "running", "stage": stage, "fraction": round(fraction, 3)})

        def work() -> None:
            try:
                result = job(report)
            except Exception as error:  # noqa: BLE001 - every failure must reach the page
                if not isinstance(error, GisgridError):
                    log.exception("import of upload %s failed", token)
                self._write(token, "progress.json", {"state": "failed", "error": error})
            else:
                self._write(token, "progress.json", {"state": "done", "fraction": 1.0, "result": result})
                self.path(token, self.meta(token)["owner"]).unlink(missing_ok=True)   # imported: not kept
            finally:
                lock.release()

        threading.Thread(target=work, name=f"import-{token[:6]}", daemon=True).start()

    def preview(self, token: str, key: str, job: Callable[[], dict]) -> dict:
        """The preview `key` (its parameters) of an upload: {"state": "running"}, then "done" with
        its result or "failed" with its error. The first call starts `job()` in a thread, which
        holds the preview's lock while it runs (as an import does), so that any worker answers
        for it, one runs per key, and one a restart cut short starts again. A preview reads a
        large GeoJSON for seconds: the request that asks for it does not wait for it."""
        self.meta(token)
        name = "preview-" + hashlib.sha256(key.encode()).hexdigest()[:16]
        # held by the preview thread; in the database on PostgreSQL, so any app server answers for it
        lock = locks.try_lock(self.store, f"{_lock_key(token)} {name}", self.folder / token / f"{name}.lock")
        if lock is None:
            return {"state": "running"}
        kept = self.folder / token / f"{name}.json"
        if kept.exists():
            state = json.loads(kept.read_text(encoding="utf-8"))
            if state["state"] != "running":          # "running" with the lock free: cut short, start again
                lock.release()
                return state
        self._write(token, f"{name}.json", {"state": "running"})

        def work() -> None:
            try:
                result = job()
            except Exception as error:  # noqa: BLE001 - every failure must reach the page
                if not isinstance(error, GisgridError):
                    log.exception("preview of upload %s failed", token)
                    error = PREVIEW_UNEXPECTED
                self._write(token, f"{name}.json", {"state": "failed", "error": error})
            else:
                self._write(token, f"{name}.json", {"state": "done", "result": result})
            finally:
                lock.release()

        threading.Thread(target=work, name=f"preview-{token[:6]}", daemon=True).start()
        return {"state": "running"}

    def _state(self, token: str) -> dict:
        path = self.folder / token / "progress.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"state": "waiting"}

    def _running(self, token: str) -> bool:
        """Whether some thread of a live process holds the upload's lock, i.e. runs its import."""
        return locks.is_locked(self.store, _lock_key(token), self.folder / token / "lock")

    def _write(self, token: str, name: str, data: dict) -> None:
        if isinstance(data.get("error"), Exception):
            error = data["error"]     # a bug's text is for the log, not the page
            data = {**data, "error": _as_json(error if isinstance(error, GisgridError) else UNEXPECTED)}
        path = self.folder / token / name
        temporary = path.with_name(f".{name}.{secrets.token_hex(4)}")
        temporary.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
        temporary.replace(path)  # readers never see half a file

    def _forget_old(self) -> None:
        if not self.folder.exists():
            return
        for folder in self.folder.iterdir():
            # an upload's age by the one clock that stamped it (meta.json's "at"), not by the file
            # system's, which need not agree with it (a test's frozen clock, a skewed server)
            try:
                at = json.loads((folder / "meta.json").read_text(encoding="utf-8"))["at"]
            except (OSError, ValueError, KeyError, TypeError):
                continue                       # being written or removed by another request
            old = clock.timestamp() - at > KEEP_S
            if old and folder.is_dir() and not self._running(folder.name):
                shutil.rmtree(folder, ignore_errors=True)


def _lock_key(token: str) -> str:
    return f"gisgrid upload {token}"


def _started() -> LayerError:
    return LayerError("This file is already being imported or was imported")


def _as_json(error: GisgridError) -> dict:
    """A user error as progress.json keeps it: its message id and parameters, translated when shown."""
    return {"kind": type(error).__name__, "template": error.template,
            "params": {k: str(v) for k, v in error.params.items()}}
