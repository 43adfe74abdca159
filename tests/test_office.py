"""The office's work end to end on a real database (SQLite and PostGIS): import the small
district, draw samples, record findings, score months and the year, export."""

import geopandas as gpd
import pytest
import shapely
from fixtures import box, finding, small_district

from gisgrid.services import office
from gisgrid.domain.errors import LayerError, NotFound, SampleError
from gisgrid.reports import scores

INSIDE_R11 = (114.035, 33.5951)
NEAR_R11 = (114.035, 33.595245)     # ~5 m north of R11's edge: snapped
FAR_FROM_R11 = (114.035, 33.59556)  # ~40 m north of R11's edge: rejected


def test_import_stores_wgs84_and_reimport_updates_without_duplicates(district, district_files):
    assert (district.count("grids"), district.count("roads")) == (4, 6)
    again = office.import_layer(district, "roads", district_files[1])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)     # the same file changes nothing
    assert district.count("roads") == 6
    roads = district.roads_frame().set_index("code")
    assert roads.at["R21", "grid"] == "G2"
    assert roads.at["R11", "geometry"].equals_exact(box(114.031, 33.5950, 114.039, 33.5952), 1e-9)


def test_road_without_grid_attribute_goes_to_the_grid_holding_most_of_it(district, tmp_path):
    straddling = gpd.GeoDataFrame({"code": ["RX"], "name": ["跨界路"]},
                                  geometry=[box(114.038, 33.5980, 114.0440, 33.5982)], crs=4326)  # 2/6 in G1, 4/6 in G2
    path = tmp_path / "rx.geojson"
    straddling.to_file(path, driver="GeoJSON")
    result = office.import_layer(district, "roads", path)
    assert result.placed == 1
    assert district.road_grids()["RX"] == "G2"


def test_road_naming_an_unknown_grid_is_refused_and_nothing_is_written(district, tmp_path):
    _, roads = small_district()
    roads.loc[0, "grid"] = "G99"
    roads["code"] = roads["code"] + "x"
    path = tmp_path / "bad.geojson"
    roads.to_file(path, driver="GeoJSON")
    with pytest.raises(LayerError, match="G99"):
        office.import_layer(district, "roads", path)
    assert district.count("roads") == 6


def test_sample_gives_min_two_and_leaves_out_a_grid_with_none(district):
    result = office.sample_month(district, "2026-11", seed=7)
    assert {g: len(r) for g, r in result.grids.items()} == {"G1": 2, "G2": 1, "G4": 2}
    assert result.as_json()["seed"] == 7
    stored = district.sample("2026-11")
    assert stored.sample == result.grids and stored.seed == 7 and stored.method == "seed"
    # anyone can redraw it from the recorded seed
    assert office.sample_month(district, "2026-11", seed=7).changed is False


def test_designation_and_unknown_codes(district):
    result = office.sample_month(district, "2026-11", seed=1, roads=["R13", "R11"])
    assert result.grids["G1"] == ["R11", "R13"] and result.method == "mixed"
    with pytest.raises(SampleError, match="Unknown road code 'R77'"):
        office.sample_month(district, "2026-11", roads=["R77"])
    with pytest.raises(SampleError, match="at most 2"):
        office.sample_month(district, "2026-11", roads=["R11", "R12", "R13"])


def test_sample_with_findings_changes_only_when_forced_and_old_draws_are_kept(district):
    office.sample_month(district, "2026-11", roads=["R11", "R12", "R21", "R41", "R42"])
    office.record_findings(district, [finding("a", *INSIDE_R11, "5.1")])
    with pytest.raises(SampleError, match="already has 1 findings"):
        office.sample_month(district, "2026-11", seed=3)
    office.sample_month(district, "2026-11", seed=3, force=True)
    draws = district.draws("2026-11")
    assert len(draws) == 2 and draws[0].seed == 3 and draws[1].superseded_at is not None
    assert draws[1].sample["G1"] == ["R11", "R12"]


def test_findings_inside_snapped_rejected_and_duplicates(district):
    batch = [finding("in", *INSIDE_R11, "5.1"), finding("near", *NEAR_R11, "5.2"),
             finding("far", *FAR_FROM_R11, "5.2"), finding("bad-rule", *INSIDE_R11, "9.9"),
             finding("no-area", *INSIDE_R11, "4.1"), finding("no-time", *INSIDE_R11, "3", observed_at=None)]
    result = office.record_findings(district, batch)
    assert (result.accepted, result.snapped, result.duplicates) == (2, 1, 0)
    reasons = {r["id"]: r["reason"] for r in result.rejected}
    assert reasons["far"].startswith("outside every road: 40 m from the nearest road (tolerance 10 m)")
    assert "'9.9'" in reasons["bad-rule"] and "needs the area" in reasons["no-area"]
    assert "observed_at is missing" in reasons["no-time"]
    frame = district.findings_frame().set_index("id")
    assert frame.at["near", "road"] == "R11" and 4 < frame.at["near", "snapped_m"] < 6
    # the same ids again: stored once
    again = office.record_findings(district, batch[:2])
    assert (again.accepted, again.duplicates) == (0, 2)
    assert district.count("findings") == 2
    # the same id with other content is not silently taken
    changed = office.record_findings(district, [finding("in", *INSIDE_R11, "5.2")])
    assert changed.rejected == [{"id": "in", "reason": "this id is already stored with different content"}]


def test_findings_without_id_are_deduplicated_by_content(district):
    props = ({"rule": "5.1", "observed_at": "2026-11-25T10:00:00+08:00"}, *INSIDE_R11)
    assert office.record_findings(district, [props]).accepted == 1
    assert office.record_findings(district, [props]).duplicates == 1


@pytest.fixture
def november(district):
    office.sample_month(district, "2026-10", roads=["R11", "R12", "R21", "R41", "R42"])
    office.sample_month(district, "2026-11", roads=["R11", "R12", "R21", "R41", "R42"])
    r12, r21, r41, r42, r13 = (114.0351, 33.593), (114.045, 33.5951), (114.035, 33.5851), (114.035, 33.5871), (114.035, 33.5971)
    result = office.record_findings(district, [
        finding("f1", *INSIDE_R11, "5.1"),                                           # R11 95
        finding("f2", *r12, "4.1", area_m2=4.0),                                     # R12 98 (4 m² inclusive)
        finding("f3", *r21, "5.4", deadline="2026-09-30"),                           # R21 -10 (doubled)
        finding("f4", *r21, "5.3.2", observed_at="2026-11-01T07:00:00+08:00"),       # R21 -1: November in Beijing
        finding("f5", *r41, "5.1"),                                                  # R41 95
        finding("f6", *r42, "4.1", area_m2=3),                                       # R42 98
        finding("f7", *r13, "8.3.1"),                                                # R13 not sampled: kept, not scored
        finding("f8", *INSIDE_R11, "8.3.1", observed_at="2026-10-31T23:30:00"),      # local time: October
    ])
    assert result.accepted == 8, result.rejected
    return district


def test_month_scores_ranks_and_edges(november):
    document = scores.month_json(november, "2026-11")
    grids = {g["code"]: g for g in document["grids"]}
    assert {c: (g["score"], g["rank"]) for c, g in grids.items()} == {
        "G1": (96.5, 1), "G4": (96.5, 1), "G2": (89.0, 3), "G3": (None, None)}
    assert grids["G2"]["roads"] == [{"code": "R21", "score": 89.0, "deductions": 11.0,
                                     "by_rule": {"5.3.2": 1.0, "5.4": 10.0}}]
    assert [r["code"] for r in grids["G1"]["roads"]] == ["R11", "R12"]
    assert grids["G1"]["name"] == "沙北街道第1网格" and grids["G1"]["town"] == "沙北街道"
    assert [g["code"] for g in document["grids"]][-1] == "G3"


def test_year_is_the_mean_of_assessed_months(november):
    document = scores.year_json(november, 2026, published_only=False)
    assert {g["code"]: (g["score"], g["rank"], g["months"]) for g in document["grids"]} == {
        "G4": (98.25, 1, {"2026-10": 100.0, "2026-11": 96.5}),
        "G1": (97.5, 2, {"2026-10": 98.5, "2026-11": 96.5}),
        "G2": (94.5, 3, {"2026-10": 100.0, "2026-11": 89.0}),
    }


def test_scoring_a_month_without_sample_says_what_to_do(district):
    with pytest.raises(NotFound, match="run `gisgrid sample 2026-12` first"):
        scores.month_json(district, "2026-12")


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp"])
def test_exports_read_back(november, tmp_path, suffix):
    for what in ("grids", "roads", "findings", "scores"):
        path = tmp_path / f"{what}{suffix}"
        written = scores.export(november, what, path)
        frame = gpd.read_file(path)
        assert len(frame) == written and frame.crs.to_epsg() == 4326
    grids = gpd.read_file(tmp_path / f"grids{suffix}")
    assert "沙北街道第1网格" in set(grids["name"])
    exported = gpd.read_file(tmp_path / f"scores{suffix}")
    november_g2 = exported[(exported["grid"] == "G2") & (exported["month"] == "2026-11")]
    assert float(november_g2["score"].iloc[0]) == 89.0
    findings = gpd.read_file(tmp_path / f"findings{suffix}")
    assert len(findings) == 8 and shapely.get_type_id(findings.geometry.iloc[0]) == 0
