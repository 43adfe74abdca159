"""`python -m gisgrid.bench_login [N]`: the median time of a refused login for an existing account
(wrong password) and for a name no account has, N of each, interleaved in one run on a fresh
SQLite database, through the real login form. They should be equal: the unknown name is
checked against a hash of the same cost."""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path


def run_bench(rounds: int = 30) -> dict:
    from .web import create_app
    from .web.auth import add_account

    with tempfile.TemporaryDirectory(prefix="gisgrid-bench-login-") as folder:
        # limits out of the way: the throttle would answer early, which is not what is measured
        app = create_app({"DATABASE_URL": str(Path(folder) / "g.sqlite"), "INSTANCE_PATH": folder,
                          "SECRET_KEY": "bench", "SESSION_COOKIE_SECURE": False,
                          "LOGIN_FAILURES_PER_ACCOUNT": 10 ** 6, "LOGIN_FAILURES_UNKNOWN_ADDRESSES": 10 ** 6,
                          "LOGIN_FAILURES_PER_ADDRESS": 10 ** 6})
        try:
            password = add_account(app.extensions["gisgrid.storage"], "wang", "inspector")
            client = app.test_client()
            page = client.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
            times: dict[str, list[float]] = {"existing": [], "missing": [], "correct": []}

            def attempt(name: str, secret: str) -> tuple[int, float]:
                start = time.perf_counter()
                response = client.post("/login", data={"name": name, "password": secret, "csrf_token": token})
                return response.status_code, time.perf_counter() - start

            attempt("wang", "warm-up")
            for n in range(rounds):
                for kind, name in (("existing", "wang"), ("missing", f"nobody{n}")):
                    status, seconds = attempt(name, "wrong password")
                    assert status == 401, status
                    times[kind].append(seconds)
            for _ in range(max(3, rounds // 5)):
                status, seconds = attempt("wang", password)
                assert status == 302, status
                times["correct"].append(seconds)
                client.delete_cookie("session")
                page = client.get("/login").get_data(as_text=True)
                token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        finally:
            app.extensions["gisgrid.storage"].dispose()
    medians = {kind: round(statistics.median(values) * 1000, 1) for kind, values in times.items()}
    return {"rounds": rounds, "median_ms_wrong_password_existing_account": medians["existing"],
            "median_ms_missing_account": medians["missing"], "median_ms_correct_password": medians["correct"]}


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 30), indent=2))
