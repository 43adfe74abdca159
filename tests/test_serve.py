"""`gisgrid serve` as it runs in production (gunicorn, two workers, on a loopback port with a
SQLite file): ten clients sending bodies at 10 KB/s do not keep a plain page from being served.
The time it takes is measured by `python -m gisgrid.bench_serve`, not here."""

import json
import urllib.request

from gisgrid.bench_serve import Server, SlowClients

BODY = 100 * 1024     # ten seconds at 10 KB/s: the page must come while every body is still on its way


def login_page(url: str) -> str:
    with urllib.request.urlopen(url + "/login", timeout=60) as response:
        assert response.status == 200
        return response.read().decode()


def test_a_page_is_served_while_ten_slow_clients_send_their_bodies(tmp_path):
    with Server(tmp_path, workers=2) as server:           # the serving model `gisgrid serve` starts
        server.wait_ready()
        slow = SlowClients(server.url, count=10, rate=10 * 1024, size=BODY).start()
        try:
            page = login_page(server.url)
            still_sending = slow.all_sending()
        finally:
            slow.stop()
    assert 'name="csrf-token"' in page
    assert still_sending     # with sync workers the page came only after the first bodies were in


def test_findings_written_by_many_tablets_during_an_import_are_each_stored_once(db_url):
    """Tablets keep posting findings while a planner imports roads into the same database from
    the command line: every write the server answered with 200/201 is stored exactly once,
    none is lost, and the import finishes. Its speed is printed by `python -m gisgrid.bench_writes`."""
    from gisgrid.bench_writes import run

    figures = run(db_url, clients=4, seconds=1.0, n_roads=800, workers=2, threads=4)
    assert figures["import_exit"] == 0
    assert figures["alone"]["writes"] > 0 and figures["during_import"]["writes"] > 0
    assert figures["alone"]["errors"] == figures["during_import"]["errors"] == 0, json.dumps(figures)
    assert figures["stored"] == figures["answered_ok"] and figures["doubled"] == figures["lost"] == 0
