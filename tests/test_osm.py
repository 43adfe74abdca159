"""The OSM bootstrap turns the Haidian extract into road polygons named in Chinese."""

import re

import geopandas as gpd
import shapely

from gisgrid.gis.osm import bootstrap_roads, read_streets


def test_haidian_extract_becomes_named_road_polygons(shared_dir):
    path = shared_dir / "data" / "osm" / "beijing-haidian.osm"
    streets = read_streets(path)
    assert "footway" not in set(streets["highway"]) and len(streets) > 150
    roads, grids = bootstrap_roads(path, grid_size_m=500)
    assert len(grids) > 4 and grids["code"].is_unique
    assert len(roads) > 50 and roads["code"].is_unique
    assert roads.is_valid.all() and set(roads.geom_type) == {"MultiPolygon"}
    chinese = {n for n in roads["name"] if re.search(r"[\u4e00-\u9fff]", n)}
    assert {"学清路", "石板房南路"} <= chinese
    # every road lies in its grid, and a primary street is ~30 m wide
    metric = roads.to_crs(4548)
    grid_by_code = grids.to_crs(4548).set_index("code").geometry
    assert max(r.geometry.difference(grid_by_code[r.grid]).area for r in metric.itertuples()) < 1.0
    # a primary street is buffered 15 m each side; 学清路's two carriageways overlap, so the
    # area per metre of OSM line lies between one side's 15 m and the full 30 m
    xueqing = metric[metric["name"] == "学清路"].union_all()
    line = streets[streets["name"] == "学清路"].to_crs(4548).union_all()
    assert 10 < xueqing.area / line.length <= 30
    assert set(roads["grade"]) <= {"主干道", "次干道", "背街小巷"}


def test_existing_grids_are_used_as_they_are(shared_dir):
    path = shared_dir / "data" / "osm" / "beijing-haidian.osm"
    x0, y0, x1, y1 = read_streets(path).total_bounds
    one = gpd.GeoDataFrame({"code": ["G1"], "name": ["网格"], "town": None, "grid_class": "A", "leader": None},
                           geometry=[shapely.MultiPolygon([shapely.box(x0, y0, (x0 + x1) / 2, y1)])], crs=4326)
    roads, grids = bootstrap_roads(path, grids=one)
    assert list(grids["code"]) == ["G1"] and set(roads["grid"]) == {"G1"}
    assert roads.total_bounds[2] <= (x0 + x1) / 2 + 1e-6  # clipped at the grid, up to reprojection noise


def test_a_pbf_extract_gives_the_same_roads_as_its_xml(shared_dir, tmp_path):
    import osmium

    xml = shared_dir / "data" / "osm" / "beijing-haidian.osm"
    pbf = tmp_path / "beijing-haidian.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for entity in osmium.FileProcessor(str(xml)):
            writer.add(entity)
    assert pbf.stat().st_size < xml.stat().st_size / 5        # really the binary format
    from_xml, _ = bootstrap_roads(xml)
    from_pbf, _ = bootstrap_roads(pbf)
    by_code = from_xml.set_index("code")
    assert sorted(from_pbf["code"]) == sorted(from_xml["code"])
    for road in from_pbf.itertuples():
        assert road.name == by_code.at[road.code, "name"]
        assert road.geometry.symmetric_difference(by_code.at[road.code, "geometry"]).area < 1e-12
