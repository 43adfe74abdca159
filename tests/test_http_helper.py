"""One JSON helper for the page scripts: only static/js/lib/http.js reads the CSRF token and
sets it on a request, and every page whose scripts call the server loads it before them."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "static" / "js"
HELPER = JS / "lib" / "http.js"


def scripts_of(template: Path) -> list[str]:
    return re.findall(r"filename='js/([^']+)'", template.read_text(encoding="utf-8"))


def test_only_the_helper_reads_the_csrf_token():
    readers = sorted(str(p.relative_to(JS)) for p in JS.rglob("*.js")
                     if "csrf-token" in p.read_text(encoding="utf-8"))
    assert readers == ["lib/http.js"]
    fetching = sorted(str(p.relative_to(JS)) for p in JS.rglob("*.js") if p != HELPER
                      and re.search(r"X-CSRFToken[\"']?\s*:", p.read_text(encoding="utf-8")))
    assert fetching == []          # no script builds its own CSRF header for fetch


def test_pages_load_the_helper_before_the_scripts_that_call_the_server():
    calling = {str(p.relative_to(JS)) for p in JS.rglob("*.js")
               if "gisgridHttp" in p.read_text(encoding="utf-8") and p != HELPER}
    assert {"outbox.js", "road.js", "plan_common.js", "plan_import.js", "review.js", "admin.js"} <= calling
    users = 0
    for template in (ROOT / "templates").rglob("*.html"):
        scripts = scripts_of(template)
        needing = [i for i, s in enumerate(scripts) if s in calling]
        if needing:
            users += 1
            assert "lib/http.js" in scripts and scripts.index("lib/http.js") < needing[0], template.name
    assert users == 7              # the road, my roads, the re-inspections, the planner's map and import, the
                                   # month, the office's month
    assert "/static/js/lib/http.js" in (JS / "sw.js").read_text(encoding="utf-8")   # offline too
