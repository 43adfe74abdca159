"""One clock: nothing but gisgrid.clock reads the wall clock, and it answers in the district's
calendar (07:00 on 1 March in Beijing is March, though UTC still has February)."""

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine

from gisgrid import clock

PACKAGE = Path(clock.__file__).resolve().parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
WALL_CLOCK = re.compile(r"datetime\.(now|utcnow|today)\(|date\.today\(|time\.time\(|time\.time_ns\(")


def test_nothing_else_reads_the_wall_clock():
    readers = [f"{p.relative_to(PACKAGE)}:{n}" for p in PACKAGE.rglob("*.py") if p.name != "clock.py"
               for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if WALL_CLOCK.search(line)]
    assert readers == []


def test_the_district_calendar_decides_day_and_month():
    with time_machine.travel(datetime(2027, 3, 1, 7, 0, tzinfo=SHANGHAI), tick=False):
        assert clock.now().month == 2 and clock.now().tzinfo is not None     # still 28 Feb in UTC
        assert clock.month(SHANGHAI) == "2027-03"
        assert clock.today(SHANGHAI).isoformat() == "2027-03-01"
        assert clock.now() == datetime(2027, 2, 28, 23, 0, tzinfo=ZoneInfo("UTC"))


def test_tests_live_in_the_frozen_month():
    """The autouse fixture of conftest: whatever the machine's date, the app's is late November 2026."""
    assert clock.month(SHANGHAI) == "2026-11" and clock.today(SHANGHAI).day == 25
