"""The validation report finds each kind of defect in a crafted layer set, and nothing in a
clean one."""

import geopandas as gpd
import shapely

from fixtures import box, small_district
from gisgrid.gis.validation import validate


def kinds(defects):
    return sorted({d.kind for d in defects})


def test_the_small_district_has_only_its_deliberate_edge_cases():
    grids, roads = small_district()
    found = validate(grids, roads)
    # G2 has one road and G3 none: they cannot be sampled fairly; nothing else is wrong
    assert [(d.kind, d.codes) for d in found] == [("grid_few_roads", ["G2"]), ("grid_few_roads", ["G3"])]
    assert not any(d.blocking for d in found)


def test_each_defect_kind_is_found():
    grids, roads = small_district()
    bowtie = shapely.Polygon([(114.06, 33.59), (114.07, 33.60), (114.07, 33.59), (114.06, 33.60)])
    extra = gpd.GeoDataFrame({
        "code": ["G5", "G1", "G6", "G7"],
        "name": ["重叠", "重复", "蝴蝶结", "细长"],
        "town": None, "class": "C",
    }, geometry=[box(114.039, 33.59, 114.045, 33.60),          # overlaps G1 and G2
                 box(114.03, 33.60, 114.04, 33.601),            # duplicate code G1
                 bowtie,                                        # invalid
                 box(114.05, 33.58, 114.06, 33.58005)],         # a 5.5 m × 930 m sliver
        crs=4326)
    outline = grids.union_all()  # the district's boundary, as the planners drew it
    grids = gpd.GeoDataFrame(pd_concat(grids, extra), crs=4326)
    grids.loc[grids["code"] == "G4", "geometry"] = box(114.0305, 33.58, 114.04, 33.59)  # leaves a gap at its west
    roads = gpd.GeoDataFrame(pd_concat(roads, gpd.GeoDataFrame({
        "code": ["RX", "RY"], "name": ["越界路", "无主路"], "grade": None, "grid": ["G3", "G99"],
    }, geometry=[box(114.055, 33.5950, 114.065, 33.5952), box(114.052, 33.5930, 114.053, 33.5932)], crs=4326)),
        crs=4326)
    found = validate(grids, roads, outline=outline)
    assert kinds(found) == ["duplicate_code", "gap", "grid_few_roads", "grid_overlap", "invalid_geometry",
                            "road_outside_grid", "road_without_grid", "sliver"]
    overlaps = {tuple(sorted(d.codes)): d.area_m2 for d in found if d.kind == "grid_overlap"}
    # G5 covers 114.039–114.045: 0.001° × 0.01° over G1 (≈ 92.7 m × 1,111 m)
    assert abs(overlaps[("G1", "G5")] - 103_000) < 2_000
    assert [d.codes for d in found if d.kind == "road_outside_grid"] == [["RX", "G3"]]
    assert [d.codes for d in found if d.kind == "road_without_grid"] == [["RY"]]
    assert [d.codes for d in found if d.kind == "sliver"] == [["G7"]]
    gaps = [d for d in found if d.kind == "gap"]
    assert len(gaps) == 1 and abs(gaps[0].area_m2 - 0.0005 * 92_700 * 0.01 * 111_000) < 1_500
    assert {d.kind for d in found if d.blocking} == {"duplicate_code", "invalid_geometry"}
    assert all(d.as_json()["bbox"] for d in found)


def pd_concat(a, b):
    import pandas as pd

    return pd.concat([a, b], ignore_index=True)
