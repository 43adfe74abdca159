"""The demo district is reproducible, tiles without gaps, and its findings look like a month."""

from datetime import date

import geopandas as gpd
import shapely

from gisgrid.services.demo import build_demo_layers, demo_layer_paths, generate_findings
from gisgrid.domain.rulebook import load_rulebooks, rulebook_for
from gisgrid.settings import load

GRIDS, ROADS = demo_layer_paths(load(environ={}))


def test_regenerating_gives_the_shipped_files(tmp_path):
    build_demo_layers(tmp_path)
    assert (tmp_path / "grids.geojson").read_bytes() == GRIDS.read_bytes()
    assert (tmp_path / "roads.geojson").read_bytes() == ROADS.read_bytes()


def test_grids_tile_the_district_and_roads_lie_in_their_grid():
    grids = gpd.read_file(GRIDS).to_crs(4547)
    roads = gpd.read_file(ROADS).to_crs(4547)
    tree = shapely.STRtree(grids.geometry.values)
    a, b = tree.query(grids.geometry.values, predicate="intersects")
    overlaps = [grids.geometry[i].intersection(grids.geometry[j]).area for i, j in zip(a, b) if i < j]
    assert max(overlaps) < 1.0
    union = grids.union_all()
    assert union.geom_type == "Polygon" and len(union.interiors) == 0
    assert grids["code"].str.fullmatch(r"411103\d{9}").all() and grids["code"].is_unique
    assert set(grids["class"]) == {"A", "B", "C"} and grids["town"].nunique() == 4 and grids["leader"].notna().all()
    assert roads.is_valid.all() and roads["code"].is_unique
    by_code = grids.set_index("code").geometry
    assert max(r.geometry.difference(by_code[r.grid]).area for r in roads.itertuples()) < 1.0
    counts = roads.groupby("grid").size().reindex(grids["code"], fill_value=0)
    assert sorted(counts)[:2] == [0, 1] and all(3 <= n <= 6 for n in sorted(counts)[2:])


def test_findings_are_plausible_and_deterministic():
    roads = gpd.read_file(ROADS)
    triples = [(r.code, r.geometry, r.grade) for r in roads.itertuples()]
    features = generate_findings(triples, "2026-11", seed=1)
    assert features == generate_findings(triples, "2026-11", seed=1)
    assert len(features) > 150
    book = rulebook_for("2026-11", load_rulebooks())
    for feature in features:
        props = feature["properties"]
        rule = book.rule(props["rule"])
        assert rule.pinned, rule.code        # 6.3.2 and 8.1 are the grid's work, never a pin
        assert (props["area_m2"] is not None) == rule.needs_area
        assert (props["deadline"] is not None) == (props["rule"] in {"5.4", "5.5", "6.3.1"})
        assert props["observed_at"].endswith("+08:00") and 21 <= int(props["observed_at"][8:10]) <= 30
        if props["deadline"]:
            assert date.fromisoformat(props["deadline"]) < date.fromisoformat(props["observed_at"][:10])
    assert any(f["properties"]["area_m2"] == 4.0 for f in features)
    metric = roads.to_crs(4547).union_all()
    points = gpd.GeoSeries.from_xy([f["geometry"]["coordinates"][0] for f in features],
                                   [f["geometry"]["coordinates"][1] for f in features], crs=4326).to_crs(4547)
    distance = points.distance(metric)
    share_inside = (distance == 0).mean()
    assert 0.9 < share_inside < 0.99
    assert (distance > 30).sum() >= 1 and ((distance > 0) & (distance <= 10)).sum() >= 1
