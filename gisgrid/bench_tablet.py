"""The tablet on a weak network (issue 13): in headless Chromium throttled by DevTools to 1.5 s
round trip and 12 KB/s up, on the demo district — bytes and seconds of the road page's first
load, the time from Save to the form closed, and the bytes a 12-megapixel photo sends.

    python -m gisgrid.bench_tablet

Needs Playwright (the test extra) and the Chromium of the CHROMIUM setting."""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

from .settings import load as load_settings

# the profile: 1.5 s round trip, 12 KB/s up; down at 1.6 Mbit/s, a weak 4G cell's
WEAK_NETWORK = {"offline": False, "latency": 1500, "uploadThroughput": 12 * 1024, "downloadThroughput": 200 * 1024}
TABLET = {"width": 1024, "height": 768}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]


def throttle(context, page) -> object:
    """Throttle one page's network as WEAK_NETWORK; returns its DevTools session."""
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", WEAK_NETWORK)
    return cdp


def camera_photo(path: Path, width: int = 4000, height: int = 3000) -> Path:
    """A 12-megapixel JPEG as a camera makes one: smooth light, edges and sensor noise (pure noise
    would not compress as a real scene does; a flat image would compress far better)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(13)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([120 + 80 * np.sin(x / 310) * np.cos(y / 270), 110 + 60 * np.cos(x / 190 + y / 420),
                     100 + 90 * np.sin(y / 150)], axis=-1)
    base[(x // 250 + y // 250) % 2 == 0] *= 0.8          # edges: façades, windows, kerbs
    noisy = base + rng.normal(0, 9, size=base.shape).astype(np.float32)
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=92)
    return path


def count_writes(app, sink: list) -> None:
    """Record (path, body bytes) of every write the app receives: what the tablet sent, counted
    where it arrives (the browser does not expose a FormData upload's body to DevTools)."""
    inner = app.wsgi_app

    def counted(environ, start_response):
        if environ.get("REQUEST_METHOD") in ("POST", "PATCH", "DELETE"):
            sink.append((environ.get("PATH_INFO", ""), int(environ.get("CONTENT_LENGTH") or 0)))
        return inner(environ, start_response)

    app.wsgi_app = counted


def _serve(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def _login(page, url: str, name: str, password: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")


def run(log=print) -> dict:
    from playwright.sync_api import sync_playwright

    from .services.demo import load_demo
    from .storage import inspections
    from .web import create_app
    from .web.auth import add_account

    folder = Path(tempfile.mkdtemp(prefix="gisgrid-bench-tablet-"))
    app = create_app({"DATABASE_URL": str(folder / "bench.sqlite"), "INSTANCE_PATH": str(folder / "instance"),
                      "SECRET_KEY": "bench-tablet", "TILES": "none"})
    store = app.extensions["gisgrid.storage"]
    month = load_demo(store, log=lambda *_: None, months=1)
    password = add_account(store, "bench", "inspector")
    road = sorted(inspections.assign_round_robin(store, month, ["bench"]))[0]
    writes: list = []
    count_writes(app, writes)
    server, url = _serve(app)
    photo = camera_photo(folder / "camera.jpg")
    figures: dict = {"road": road, "camera_photo_bytes": photo.stat().st_size}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=load_settings()["CHROMIUM"], args=CHROMIUM_ARGS)
            context = browser.new_context(viewport=TABLET, has_touch=True, locale="zh-CN", service_workers="block",
                                          permissions=["geolocation"],
                                          geolocation={"latitude": 33.59, "longitude": 114.04, "accuracy": 5})
            page = context.new_page()
            _login(page, url, "bench", password)
            cdp = throttle(context, page)
            sizes: dict = {}
            cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
            started = time.perf_counter()
            page.goto(f"{url}/inspect/{month}/{road}")
            page.wait_for_selector("#map .leaflet-overlay-pane path")
            figures["first_load_s"] = round(time.perf_counter() - started, 2)
            page.wait_for_load_state("networkidle")
            figures["first_load_bytes"] = sum(sizes.values())

            del writes[:]   # the login's
            page.evaluate("document.getElementById('save').addEventListener('click',"
                          " () => { window.benchClick = performance.now(); }, {capture: true})")
            box = page.locator("#map").bounding_box()
            page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_selector("dialog[open]")
            if page.locator("#chooser[open]").count():
                page.click("#choose-new")
            page.select_option("#rule", "5.1")
            page.set_input_files("#photos", str(photo))
            page.click("#save")
            figures["save_to_closed_ms"] = round(page.evaluate("window.gisgridLastSave.closed_at - window.benchClick"), 1)
            figures["form_open_after_save"] = page.locator("#finding-form[open]").count() == 1
            _wait_sent(page)
            figures["bytes_per_photo"] = sum(n for path, n in writes if path.endswith("/photos"))
            figures["finding_with_photo_bytes"] = sum(n for _, n in writes)
            browser.close()
    finally:
        server.shutdown()
        store.dispose()
    for key, value in figures.items():
        log(f"{key:>24}: {value}")
    return figures


def _wait_sent(page, timeout_s: float = 180) -> None:
    # the page's policy allows no eval, so the outbox is asked from outside until it is empty
    deadline = time.perf_counter() + timeout_s
    while page.evaluate("Outbox.all().then(items => items.length)") > 0:
        if time.perf_counter() > deadline:
            raise TimeoutError("the outbox did not empty")
        time.sleep(0.5)


if __name__ == "__main__":
    run()
    sys.exit(0)
