"""Months are calendar months in the district's time zone."""

from datetime import date, datetime, timezone

import pytest

from gisgrid.domain.errors import GisgridError
from gisgrid.domain.months import (month_bounds, month_of, one_month_after, parse_month, parse_observed, previous_month,
                            zone)

SHANGHAI = zone("Asia/Shanghai")


def test_seven_in_the_morning_of_first_november_beijing_is_november():
    moment = parse_observed("2026-11-01T07:00:00+08:00", SHANGHAI)
    assert moment.astimezone(timezone.utc).day == 31  # 31 October in UTC
    assert month_of(moment, SHANGHAI) == "2026-11"


def test_time_without_offset_is_district_local():
    assert month_of(parse_observed("2026-11-01T07:00:00", SHANGHAI), SHANGHAI) == "2026-11"
    assert month_of(parse_observed("2026-10-31T23:30:00Z", SHANGHAI), SHANGHAI) == "2026-11"
    assert month_of(parse_observed("2026-10-31T15:59:59Z", SHANGHAI), SHANGHAI) == "2026-10"


def test_month_bounds_in_utc():
    start, end = month_bounds("2026-12", SHANGHAI)
    assert start == datetime(2026, 11, 30, 16, tzinfo=timezone.utc)
    assert end == datetime(2026, 12, 31, 16, tzinfo=timezone.utc)


# 0000-01 passed once and broke month_bounds (a 500); fullwidth digits passed \d
@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-11", "", "2026/11", "0000-01", "1899-12", "２０２６-11"])
def test_bad_months_are_user_errors(text):
    with pytest.raises(GisgridError, match="YYYY-MM"):
        parse_month(text)


def test_bad_time_and_zone_are_user_errors():
    with pytest.raises(GisgridError, match="not ISO 8601"):
        parse_observed("yesterday", SHANGHAI)
    with pytest.raises(GisgridError, match="Unknown time zone"):
        zone("Mars/Olympus")


@pytest.mark.parametrize("day, after", [(date(2026, 9, 30), date(2026, 10, 30)), (date(2027, 1, 31), date(2027, 2, 28)),
                                        (date(2028, 1, 31), date(2028, 2, 29)), (date(2026, 12, 15), date(2027, 1, 15))])
def test_one_month_after(day, after):
    assert one_month_after(day) == after


def test_previous_month_wraps_the_year():
    assert previous_month("2026-01") == "2025-12"
