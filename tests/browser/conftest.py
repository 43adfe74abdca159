"""Browser fixtures: the real app served on 127.0.0.1 in a thread, Debian's Chromium driven
by Playwright with a tablet viewport, touch and emulated geolocation, and a record of every
request so a test can show that nothing left the app's origin."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("GISGRID_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]
TABLETS = {"landscape": {"width": 1024, "height": 768}, "portrait": {"width": 768, "height": 1024}}
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(scope="session")
def chromium():
    if not shutil.which(CHROMIUM):
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class LiveServer:
    def __init__(self, app, port: int = 0):
        # `port`: a server started again where a stopped one was (the tablet's URL stays the same)
        self.app = app
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def store(self):
        return self.app.extensions["gisgrid.storage"]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def live_app(tmp_path):
    """The app on a fresh SQLite file; tests add their data through the store before browsing."""
    from gisgrid.web import create_app

    return create_app({"DATABASE_URL": str(tmp_path / "gisgrid.sqlite"), "INSTANCE_PATH": str(tmp_path / "instance"),
                       "SECRET_KEY": "browser-test", "TILES": "none"})


@pytest.fixture
def live_server(live_app):
    server = LiveServer(live_app)
    yield server
    server.stop()
    live_app.extensions["gisgrid.storage"].dispose()


class Tablet:
    """A Chromium context as a tablet in the street: touch, GPS, Chinese, and a request log."""

    def __init__(self, browser, server: LiveServer, orientation="landscape", geolocation=None,
                 service_workers="allow"):
        self.server = server
        self.context = browser.new_context(
            viewport=TABLETS[orientation], has_touch=True, is_mobile=False, device_scale_factor=1,
            locale="zh-CN", timezone_id="Asia/Shanghai", permissions=["geolocation"],
            geolocation=geolocation or {"latitude": 33.59, "longitude": 114.04, "accuracy": 5},
            service_workers=service_workers)
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()

    def offsite(self) -> list[str]:
        """Every request that went anywhere but the app's own origin (data: and blob: are local)."""
        return [u for u in self.requests
                if not u.startswith(self.server.url + "/") and not u.startswith(("data:", "blob:"))]

    def login(self, name: str, password: str):
        self.page.goto(self.server.url + "/login")
        self.page.fill("input[name=name]", name)
        self.page.fill("input[name=password]", password)
        self.page.click("main button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def until(self, expression: str, arg=None, timeout: float = 30_000, polling: float | None = None):
        """`page.wait_for_function` for pages under the app's Content-Security-Policy: Playwright
        compiles its predicate with the page's eval, which the policy refuses (no 'unsafe-eval'),
        so here the predicate is part of the evaluated source (compiled by DevTools, outside the
        page's policy) and checked on every animation frame (or every `polling` ms) until it holds
        or `timeout` ms pass. `expression` is an expression or a function of `arg`, as for
        wait_for_function, and may give a promise."""
        return self.page.evaluate(
            "([arg, timeout, polling]) => new Promise((resolve, reject) => {"
            f" const predicate = (arg) => {{ const r = ({expression}); return typeof r === 'function' ? r(arg) : r; }};"
            " const deadline = performance.now() + timeout;"
            " const later = (f) => polling ? setTimeout(f, polling) : requestAnimationFrame(f);"
            " (function next() {"
            "   Promise.resolve().then(() => predicate(arg)).then((value) => {"
            "     if (value) { resolve(value); return; }"
            f"     if (performance.now() > deadline) {{ reject(new Error('timed out: ' + {json.dumps(expression)})); return; }}"
            "     later(next);"
            "   }, reject);"
            " })();"
            "})", [arg, timeout, polling])

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=False)
        return path

    def close(self):
        self.context.close()


@pytest.fixture
def tablet(chromium, live_server):
    device = Tablet(chromium, live_server)
    yield device
    device.close()
