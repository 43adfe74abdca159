"""A month's findings are placed on the roads as they stood when its sample was drawn: a
planner's later boundary change moves the findings of later months, not of that one."""

import pytest
from fixtures import box, finding

from gisgrid.services import office
from gisgrid.domain.errors import FindingError
from gisgrid.services import Actor, findings
from gisgrid.storage import boundaries

DRAWN = "2026-11"        # drawn before the edit
LATER = "2026-12"        # not drawn yet
# 30 m north of R11 (33.5950–33.5952): outside R11 as drawn, inside R11 after the planner widens it
NORTH_OF_R11 = (114.035, 33.5955)
WIDER_R11 = box(114.031, 33.5950, 114.039, 33.5958)


def _widen_r11(store):
    current = boundaries.feature(store, "road", "R11")
    boundaries.save_feature(store, "road", "R11", current["properties"], WIDER_R11,
                            current["properties"]["version"], "planner1", "the pavement belongs to the road")


def _month_sample(store):
    office.sample_month(store, DRAWN, roads=["R11", "R12", "R21", "R41", "R42"])


def test_imported_findings_use_the_roads_of_their_months_draw(district):
    _month_sample(district)
    _widen_r11(district)
    result = office.record_findings(district, [
        finding("nov", *NORTH_OF_R11, "5.1", observed_at="2026-11-25T10:00:00+08:00"),
        finding("dec", *NORTH_OF_R11, "5.1", observed_at="2026-12-03T10:00:00+08:00")])
    assert [r["id"] for r in result.rejected] == ["nov"]          # outside R11 as it was when drawn
    assert "m from the nearest road" in result.rejected[0]["reason"]
    assert result.accepted == 1
    stored = district.findings_frame(LATER)
    assert stored["road"].tolist() == ["R11"]


def test_tablet_findings_follow_the_same_rule(district):
    _month_sample(district)
    _widen_r11(district)
    user = Actor(None, "wang", "admin")     # placement is the point here, not who may record
    inside_old = (114.035, 33.5951)
    stored, _ = findings.record(district, user, {"id": "t1", "rule": "5.1", "observed_at": "2026-11-26T09:00"},
                                     *inside_old)
    assert stored["road"] == "R11"
    with pytest.raises(FindingError, match="m from the nearest road"):   # outside R11 as drawn
        findings.record(district, user, {"id": "t2", "rule": "5.1", "observed_at": "2026-11-26T09:05"},
                        *NORTH_OF_R11)
    later, _ = findings.record(district, user, {"id": "t3", "rule": "5.1", "observed_at": "2026-12-02T09:00"},
                                    *NORTH_OF_R11)
    assert later["road"] == "R11"


def test_a_road_added_after_the_draw_gets_none_of_that_months_findings(district):
    _month_sample(district)
    east_of_r21 = (114.0495, 33.5980)
    boundaries.save_feature(district, "road", "R22", {"name": "新路", "grid": "G2"},
                            box(114.049, 33.5975, 114.0499, 33.5985), None, "planner1")
    result = office.record_findings(district, [
        finding("nov", *east_of_r21, "5.1", observed_at="2026-11-25T10:00:00+08:00"),
        finding("dec", *east_of_r21, "5.1", observed_at="2026-12-03T10:00:00+08:00")])
    assert [r["id"] for r in result.rejected] == ["nov"]
    assert district.findings_frame(LATER)["road"].tolist() == ["R22"]


def test_roads_as_of_a_time_before_and_after_changes(district):
    from gisgrid.storage.schema import utcnow

    before_edit = utcnow()
    _widen_r11(district)
    boundaries.retire(district, "road", "R13", 1, "planner1", "merged into the square")
    ids, codes, geoms = boundaries.road_geometries_as_of(district, before_edit)
    shapes = dict(zip(codes, geoms))
    assert sorted(codes) == ["R11", "R12", "R13", "R21", "R41", "R42"]
    assert shapes["R11"].equals(box(114.031, 33.5950, 114.039, 33.5952))
    now_ids, now_codes, now_geoms = district.road_geometries()
    assert "R13" not in now_codes and dict(zip(now_codes, now_geoms))["R11"].equals(WIDER_R11)
