"""Finding writes at saturation: `clients` loopback tablets (five inspectors' sessions) each post
findings to `gisgrid serve` as fast as it answers, first alone, then while a planner imports
120,000 road polygons into the same database from the command line. Prints writes a second,
p50 / p99 / max latency and errors of each phase, and checks that the server holds every
finding exactly once (each was sent with its own client id; a retried one must not double).

    python -m gisgrid.bench_writes [--db URL] [--clients 50] [--seconds 20] [--roads 120000]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from . import clock
from .bench_serve import Server
from .gis import write
from .gis.synthetic import synthetic_city
from .services import OPERATOR, office
from .services import accounts as account_work
from .services import month as month_work
from .services.demo import load_demo
from .storage import Store, finding_t

INSPECTORS = 5
PASSWORD = "bench-inspector-password"


def _prepare(db: str, folder: Path, n_roads: int) -> tuple[str, dict[str, tuple[float, float]], Path]:
    """The demo district with this month drawn and shared among the bench's inspectors; the
    synthetic city's grids imported already, its roads written to a file for the import."""
    store = Store(db)
    month = load_demo(store, log=lambda _m: None)
    names = [f"bench{i}" for i in range(INSPECTORS)]
    for name in names:
        if store.user(name=name) is None:
            account_work.add_account(store, OPERATOR, name, "inspector", PASSWORD, "en")
    given = month_work.assign_roads(store, OPERATOR, month, names)
    ids, codes, geoms = store.road_geometries()
    spot = {code: geom.representative_point() for code, geom in zip(codes, geoms)}
    points = {name: [] for name in names}
    for road, name in given.items():
        points[name].append((spot[road].x, spot[road].y))
    grids, roads = synthetic_city(max(1, n_roads // 8), 8, seed=0)
    write.write_layer(grids, folder / "city-grids.gpkg")
    write.write_layer(roads, folder / "city-roads.gpkg")
    office.import_layer(store, "grids", folder / "city-grids.gpkg")
    store.engine.dispose()
    return month, points, folder / "city-roads.gpkg"


class Tablet(threading.Thread):
    """One client: logs in, then posts findings (each with its own client id) until told to stop,
    keeping each write's start, latency and outcome."""

    def __init__(self, url: str, name: str, points: list[tuple[float, float]], index: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.url, self.name, self.points, self.index, self.stop = url, name, points, index, stop
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.writes: list[tuple[float, float, int]] = []     # (started, seconds, status)
        self.sent: set[str] = set()

    def _token(self, path: str) -> str:
        with self.opener.open(self.url + path, timeout=60) as response:
            page = response.read().decode()
        return re.search(r'name="csrf[-_]token" (?:content|value)="([^"]+)"', page).group(1)

    def log_in(self) -> None:
        form = urllib.parse.urlencode({"name": self.name, "password": PASSWORD, "csrf_token": self._token("/login")})
        self.opener.open(urllib.request.Request(self.url + "/login", data=form.encode()), timeout=60).read()
        self.csrf = self._token("/inspect/")

    def run(self) -> None:
        n = 0
        observed = clock.now().isoformat()
        while not self.stop.is_set():
            lon, lat = self.points[n % len(self.points)]
            client_id = f"bench-{self.index}-{n}"
            body = json.dumps({"id": client_id, "rule": "5.3.1", "count": 1, "observed_at": observed,
                               "lon": lon, "lat": lat}).encode()
            request = urllib.request.Request(self.url + "/api/findings", data=body, method="POST", headers={
                "Content-Type": "application/json", "X-CSRFToken": self.csrf})
            started = time.perf_counter()
            try:
                with self.opener.open(request, timeout=60) as response:
                    response.read()
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = 0
            self.writes.append((started, time.perf_counter() - started, status))
            if status in (200, 201):
                self.sent.add(client_id)
            n += 1


def _figures(writes: list[tuple[float, float, int]], since: float, until: float) -> dict:
    inside = [w for w in writes if since <= w[0] < until]
    seconds = sorted(w[1] for w in inside)
    if not seconds:
        return {"writes": 0}
    return {"writes": len(inside), "per_s": round(len(inside) / (until - since), 1),
            "p50_s": round(statistics.median(seconds), 3),
            "p99_s": round(seconds[min(len(seconds) - 1, int(0.99 * len(seconds)))], 3),
            "max_s": round(seconds[-1], 3), "errors": sum(1 for w in inside if w[2] not in (200, 201)),
            "statuses": dict(Counter(str(w[2]) for w in inside))}


def run(db: str | None, clients: int, seconds: float, n_roads: int, workers: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="gisgrid-bench-writes-") as root:
        folder = Path(root)
        db = db or str(folder / "gisgrid.sqlite")
        month, points, roads_file = _prepare(db, folder, n_roads)
        # plain http on loopback: the cookie may not insist on HTTPS (urllib does not send it then)
        with Server(folder, workers, threads, db=db, SESSION_COOKIE_SECURE="false") as server:
            server.wait_ready()
            stop = threading.Event()
            names = sorted(points)
            tablets = [Tablet(server.url, names[i % len(names)], points[names[i % len(names)]], i, stop)
                       for i in range(clients)]
            for tablet in tablets:
                tablet.log_in()
            for tablet in tablets:
                tablet.start()
            alone_from = time.perf_counter()
            time.sleep(seconds)
            import_from = time.perf_counter()
            planner = subprocess.run([sys.executable, "-m", "gisgrid", "--db", db, "import", "roads", str(roads_file)],
                                     capture_output=True, text=True, env=server.env)
            import_until = time.perf_counter()
            stop.set()
            for tablet in tablets:
                tablet.join(timeout=120)
        writes = [w for t in tablets for w in t.writes]
        sent = set().union(*(t.sent for t in tablets))
        store = Store(db)
        with store.engine.connect() as conn:   # every row, deleted or not: a double would show here
            stored = list(conn.execute(select(finding_t.c.external_id).where(finding_t.c.external_id.like("bench-%")))
                          .scalars())
        store.engine.dispose()
    return {"clients": clients, "month": month, "alone": _figures(writes, alone_from, import_from),
            "during_import": _figures(writes, import_from, import_until),
            "import_s": round(import_until - import_from, 1), "import_exit": planner.returncode,
            "import_roads": n_roads, "answered_ok": len(sent), "stored": len(stored),
            "doubled": len(stored) - len(set(stored)), "lost": len(sent - set(stored)),
            "unexpected": len(set(stored) - sent)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a PostgreSQL URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="of writes alone before the import starts")
    parser.add_argument("--roads", type=int, default=120_000, help="road polygons the planner imports")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args.db, args.clients, args.seconds, args.roads, args.workers, args.threads)
    if args.json:
        print(json.dumps(figures))
        return
    for phase in ("alone", "during_import"):
        f = figures[phase]
        print(f"{phase:14} {f.get('writes', 0)} writes, {f.get('per_s', 0)}/s, p50 {f.get('p50_s')} s, "
              f"p99 {f.get('p99_s')} s, max {f.get('max_s')} s, errors {f.get('errors', 0)}")
    print(f"import of {figures['import_roads']} roads: {figures['import_s']} s (exit {figures['import_exit']}); "
          f"answered ok {figures['answered_ok']}, stored {figures['stored']}, doubled {figures['doubled']}, "
          f"lost {figures['lost']}, "
          f"unexpected {figures['unexpected']}")


if __name__ == "__main__":  # pragma: no cover
    main()
