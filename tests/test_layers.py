"""GIS input and output: formats, CRS (CGCS2000 Gauss-Krüger zones), GBK attribute tables,
geometry repair, and the clear errors for files that cannot be used."""

import json
import zipfile

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import CRS, Transformer

from gisgrid.gis import layers
from gisgrid.gis import crs as gis_crs
from gisgrid.gis import preview as gis_preview
from gisgrid.domain.errors import LayerError
from gisgrid.gis.crs import metric_crs
from gisgrid.gis.layers import place_in_grids, read_layer, read_points
from gisgrid.gis.write import write_layer

# A block in Luohe's 郾城区 in CGCS2000 / 3-degree Gauss-Kruger CM 114E (EPSG:4547), in metres.
X0, Y0 = 500000.0, 3718000.0
TO_WGS84 = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)
CODES = ["411103001001001", "411103001001002"]
NAMES = ["沙北街道第1网格", "沙北街道第2网格"]


def gk_grids() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "编码": CODES,
        "名称": NAMES,
        "街道": ["沙北街道", "沙北街道"],
        "类别": ["一类", "b"],
    }, geometry=[shapely.box(X0, Y0, X0 + 500, Y0 + 400), shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 400)],
        crs="EPSG:4547")


def gk_roads(n: int = 2) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "code": [f"R{i}" for i in range(n)],
        "name": ["人民路"] * n,
        "grid": ["G1"] * n,
    }, geometry=[shapely.box(X0 + 10 * i, Y0, X0 + 10 * i + 8, Y0 + 300) for i in range(n)], crs="EPSG:4547")


def shapefile_without_cpg(frame, path, encoding):
    pyogrio.write_dataframe(frame, path, encoding=encoding)
    path.with_suffix(".cpg").unlink()
    return path


def test_gauss_kruger_shapefile_with_chinese_attributes(tmp_path):
    path = tmp_path / "grids.shp"
    gk_grids().to_file(path, encoding="UTF-8")
    frame, report = read_layer(path, "grids")
    assert (report.source_crs, report.encoding, report.repaired, report.warnings) == ("EPSG:4547", "UTF-8", [], [])
    assert list(frame.columns) == ["code", "name", "town", "grid_class", "leader", "geometry"]
    assert frame["code"].tolist() == CODES and frame["name"].tolist() == NAMES
    assert frame["town"].tolist() == ["沙北街道", "沙北街道"] and frame["leader"].tolist() == [None, None]
    assert frame["grid_class"].tolist() == ["A", "B"] and frame.crs.to_epsg() == 4326
    assert frame.geometry.iloc[0].geom_type == "MultiPolygon"
    expected = np.array(TO_WGS84.transform([X0, X0 + 500, X0 + 500, X0], [Y0, Y0, Y0 + 400, Y0 + 400])).T
    corners = shapely.get_coordinates(frame.geometry.iloc[0])
    assert len(corners) == 5
    for lon, lat in expected:  # each corner is there, wherever the ring starts
        assert np.hypot(corners[:, 0] - lon, corners[:, 1] - lat).min() < 1e-6
    assert 113.99 < expected[0, 0] < 114.01 and 33.5 < expected[0, 1] < 33.7  # 郾城区


def test_zipped_shapefile(tmp_path):
    gk_grids().to_file(tmp_path / "grids.shp", encoding="UTF-8")
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("grids.*"):
            if part != archive:
                z.write(part, f"data/{part.name}")
    frame, report = read_layer(archive, "grids")
    assert frame["town"].tolist() == ["沙北街道", "沙北街道"] and frame["code"].tolist() == CODES
    assert report.source_crs == "EPSG:4547"


def test_zip_with_two_shapefiles_needs_a_layer(tmp_path):
    gk_grids().to_file(tmp_path / "grids.shp", encoding="UTF-8")
    gk_roads().to_file(tmp_path / "roads.shp", encoding="UTF-8")
    archive = tmp_path / "district.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("*.*"):
            if part != archive:
                z.write(part, part.name)
    with pytest.raises(LayerError, match="several layers \\(grids, roads\\); choose one with --layer"):
        read_layer(archive, "roads")
    assert read_layer(archive, "roads", layer="roads")[0]["code"].tolist() == ["R0", "R1"]


def test_zip_escaping_its_folder_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../outside.shp", b"")
    with pytest.raises(LayerError, match="outside itself \\(../outside.shp\\)"):
        read_layer(archive, "grids")
    assert not (tmp_path / "outside.shp").exists()


def test_a_zip_that_would_unpack_too_far_is_refused_before_unpacking(tmp_path, monkeypatch):
    import gisgrid.gis.layers

    monkeypatch.setattr(gisgrid.gis.formats, "UNZIPPED_MAX_BYTES", 1 << 20)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("grids.shp", bytes(2 << 20))         # 2 MB of zeros, a few KB zipped
    assert archive.stat().st_size < 1 << 14
    with pytest.raises(LayerError, match="bomb.zip would unpack to more than 1 MB"):
        read_layer(archive, "grids")


def test_gbk_shapefile_without_cpg(tmp_path):
    path = shapefile_without_cpg(gk_grids(), tmp_path / "gbk.shp", "GBK")
    assert "沙北街道".encode("gbk") in path.with_suffix(".dbf").read_bytes()
    frame, report = read_layer(path, "grids")
    assert frame["name"].tolist() == NAMES and frame["town"].tolist() == ["沙北街道", "沙北街道"]
    assert report.encoding == "GB18030"


def test_gbk_shapefile_marked_windows_ansi(tmp_path):
    # ArcGIS on a Chinese Windows marks GBK tables "ANSI" (code page byte 0x57), which GDAL alone reads as Latin-1.
    path = shapefile_without_cpg(gk_roads(), tmp_path / "roads.shp", "GBK")
    dbf = bytearray(path.with_suffix(".dbf").read_bytes())
    dbf[29] = 0x57
    path.with_suffix(".dbf").write_bytes(bytes(dbf))
    frame, report = read_layer(path, "roads")
    assert frame["name"].tolist() == ["人民路", "人民路"] and report.encoding == "GB18030"


def test_utf8_shapefile_without_cpg_is_not_taken_for_gbk(tmp_path):
    # 200 records and a 254-byte field put bytes >= 0x80 in the .dbf header: only the records tell the encoding.
    roads = gk_roads(200)
    roads["note"] = ["门前" * 40] * 200
    path = shapefile_without_cpg(roads, tmp_path / "roads.shp", "UTF-8")
    frame, report = read_layer(path, "roads")
    assert report.encoding == "UTF-8" and frame["name"].iloc[199] == "人民路" and len(frame) == 200


def test_chinese_field_names_cut_at_ten_bytes(tmp_path):
    # A Shapefile keeps 10 bytes of a field name: 道路编码 and 网格编码 in UTF-8 end inside their 4th character.
    frame = gk_roads().rename(columns={"code": "AAAAAAAAAA", "grid": "BBBBBBBBBB", "name": "名称"})
    path = tmp_path / "roads.shp"
    pyogrio.write_dataframe(frame, path, encoding="UTF-8")
    dbf = path.with_suffix(".dbf").read_bytes()
    dbf = dbf.replace(b"AAAAAAAAAA", "道路编码".encode()[:10]).replace(b"BBBBBBBBBB", "网格编码".encode()[:10])
    path.with_suffix(".dbf").write_bytes(dbf)
    roads, report = read_layer(path, "roads")
    assert roads["code"].tolist() == ["R0", "R1"] and roads["grid"].tolist() == ["G1", "G1"]
    assert roads["name"].tolist() == ["人民路", "人民路"] and report.encoding == "UTF-8"


def test_roads_grid_code_field_is_the_grid_not_the_road(tmp_path):
    roads = gk_roads().rename(columns={"code": "道路编码", "name": "道路名称", "grid": "网格编码"})
    roads["道路等级"] = ["主干道", " 次干道 "]
    path = tmp_path / "roads.gpkg"
    roads.to_file(path)
    frame, report = read_layer(path, "roads")
    assert list(frame.columns) == ["code", "name", "grade", "grid", "geometry"]
    assert frame[["code", "grade", "grid"]].values.tolist() == [["R0", "主干道", "G1"], ["R1", "次干道", "G1"]]
    assert report.encoding == "UTF-8"


def test_geopackage_layers(tmp_path):
    path = tmp_path / "district.gpkg"
    grids = gk_grids().to_crs(4326)
    grids.to_file(path, layer="grids")
    grids.head(1).to_file(path, layer="other", mode="a")
    with pytest.raises(LayerError, match="several layers \\(grids, other\\); choose one with --layer"):
        read_layer(path, "grids")
    frame, _ = read_layer(path, "grids", layer="grids")
    assert frame["code"].tolist() == CODES and frame["name"].tolist() == NAMES
    assert read_layer(path, "grids", layer="other")[0]["code"].tolist() == CODES[:1]
    with pytest.raises(LayerError, match="no layer 'nope' \\(it has grids, other\\)"):
        read_layer(path, "grids", layer="nope")


def test_kml_name_and_code(tmp_path):
    frame = gk_grids().to_crs(4326).rename(columns={"编码": "code", "名称": "Name"})
    with_code, only_name = tmp_path / "with_code.kml", tmp_path / "only_name.kml"
    pyogrio.write_dataframe(frame[["Name", "code", "geometry"]], with_code, driver="KML")
    pyogrio.write_dataframe(frame[["Name", "geometry"]], only_name, driver="KML")
    read, _ = read_layer(with_code, "grids")
    assert read["code"].tolist() == CODES and read["name"].tolist() == NAMES
    read, _ = read_layer(only_name, "grids")
    assert read["code"].tolist() == NAMES and read["name"].tolist() == NAMES  # a KML's only label is its Name
    lon, lat = TO_WGS84.transform(X0, Y0)
    assert read.total_bounds[:2] == pytest.approx([lon, lat], abs=1e-6)


def test_flatgeobuf(tmp_path):
    path = tmp_path / "grids.fgb"
    pyogrio.write_dataframe(gk_grids(), path, driver="FlatGeobuf")
    frame, report = read_layer(path, "grids")
    # FlatGeobuf stores features in the order of its spatial index, not the order written
    assert sorted(zip(frame["code"], frame["name"])) == list(zip(CODES, NAMES)) and report.source_crs == "EPSG:4547"


def test_geojson_with_15_digit_codes_as_numbers_and_text(tmp_path):
    path = tmp_path / "grids.geojson"
    feature = {"type": "Feature", "geometry": shapely.geometry.mapping(shapely.box(114.0, 33.6, 114.01, 33.61))}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {**feature, "properties": {"Code": 411103001001001, "Name": " 沙北 ", "Class": "c", "网格长": "张三"}},
        {**feature, "properties": {"Code": "011103001001002", "Name": None, "Class": "二类"}},
    ]}, ensure_ascii=False), encoding="utf-8")
    frame, report = read_layer(path, "grids")
    assert frame["code"].tolist() == ["411103001001001", "011103001001002"]
    assert frame["name"].tolist() == ["沙北", None]  # stripped; no name stays None (a new grid is named by its code when saved)
    assert frame["grid_class"].tolist() == ["C", "B"] and frame["leader"].tolist() == ["张三", None]
    assert report.source_crs == "EPSG:4326" and report.warnings == []


def test_bowtie_is_repaired_and_reported(tmp_path):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    assert not bowtie.is_valid
    frame = gpd.GeoDataFrame({"code": ["R1", "R2"], "name": ["人民路", "黄河路"]},
                             geometry=[bowtie, shapely.box(X0, Y0, X0 + 8, Y0 + 100)], crs="EPSG:4547")
    path = tmp_path / "roads.geojson"
    pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    read, report = read_layer(path, "roads")
    geometry = read.geometry.iloc[0]
    assert geometry.is_valid and geometry.geom_type == "MultiPolygon"
    assert [len(shapely.get_coordinates(p)) for p in geometry.geoms] == [4, 4]  # two triangles
    assert geometry.area == pytest.approx(read.geometry.iloc[1].area * 100 / 8 / 2, rel=0.01)
    assert [code for code, _ in report.repaired] == ["R1"] and "Self-intersection" in report.repaired[0][1]


def test_unsafe_invalid_geometry_is_refused(tmp_path):
    # A hole sticking out of its shell: cut it away, or add the part outside? The two standard
    # repairs disagree, so gisgrid does not guess.
    shell = [(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0, Y0 + 100)]
    hole_across = [(X0 + 50, Y0 + 25), (X0 + 150, Y0 + 25), (X0 + 150, Y0 + 75), (X0 + 50, Y0 + 75)]
    frame = gpd.GeoDataFrame({"code": ["G8", "G9"]}, geometry=[shapely.box(X0, Y0, X0 + 9, Y0 + 9),
                                                               shapely.Polygon(shell, [hole_across])], crs="EPSG:4547")
    path = tmp_path / "grids.geojson"
    pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    with pytest.raises(LayerError, match="cannot be repaired safely: G9 \\(Self-intersection"):
        read_layer(path, "grids")


def test_collection_keeps_its_polygons(tmp_path):
    collection = shapely.GeometryCollection([shapely.box(114.0, 33.6, 114.01, 33.61),
                                             shapely.LineString([(114.0, 33.6), (114.1, 33.7)])])
    path = tmp_path / "grids.gpkg"
    gpd.GeoDataFrame({"code": ["G1"]}, geometry=[collection], crs=4326).to_file(path)
    frame, report = read_layer(path, "grids")
    assert frame.geometry.iloc[0].equals(shapely.MultiPolygon([shapely.box(114.0, 33.6, 114.01, 33.61)]))
    assert report.repaired == [("G1", "geometry collection reduced to its polygons")]


def test_feature_without_geometry_is_named(tmp_path):
    path = tmp_path / "grids.gpkg"
    gpd.GeoDataFrame({"code": ["G1", "G2"]}, geometry=[shapely.box(114, 33.6, 114.01, 33.61), None],
                     crs=4326).to_file(path)
    with pytest.raises(LayerError, match="features without geometry: G2$"):
        read_layer(path, "grids")


def test_missing_crs_asks_for_one(tmp_path):
    path = tmp_path / "grids.shp"
    gk_grids().to_file(path, encoding="UTF-8")
    path.with_suffix(".prj").unlink()
    with pytest.raises(LayerError, match="has no CRS; pass --crs, e.g. --crs EPSG:4547"):
        read_layer(path, "grids")
    frame, report = read_layer(path, "grids", crs="4547")
    assert frame.total_bounds[0] == pytest.approx(TO_WGS84.transform(X0, Y0)[0], abs=1e-6)
    assert report.source_crs == "EPSG:4547" and report.warnings == []


def test_crs_given_overrides_the_files_with_a_warning(tmp_path):
    path = tmp_path / "grids.geojson"
    gk_grids().to_crs(4326).to_file(path)
    frame, report = read_layer(path, "grids", crs="EPSG:4490")
    assert report.source_crs == "EPSG:4490"
    assert report.warnings == ["grids.geojson declares EPSG:4326; using EPSG:4490 as asked"]
    assert frame.total_bounds[0] == pytest.approx(TO_WGS84.transform(X0, Y0)[0], abs=1e-6)


def test_metres_declared_as_degrees_are_refused(tmp_path):
    path = tmp_path / "grids.geojson"
    gk_grids().set_crs(4326, allow_override=True).to_file(path)
    with pytest.raises(LayerError, match="cannot be in EPSG:4326; they look like metres: use a projected"):
        read_layer(path, "grids")


def test_degrees_declared_as_metres_are_refused(tmp_path):
    path = tmp_path / "grids.gpkg"
    gk_grids().to_crs(4326).set_crs(4547, allow_override=True).to_file(path)
    with pytest.raises(LayerError, match="cannot be in EPSG:4547; they look like degrees: use EPSG:4326"):
        read_layer(path, "grids")


def test_zone_prefix_hints_at_the_right_epsg(tmp_path):
    prefixed = gpd.GeoDataFrame(gk_grids().drop(columns="geometry"), geometry=gk_grids().translate(xoff=38_000_000),
                                crs="EPSG:4547")
    path = tmp_path / "grids.shp"
    prefixed.to_file(path, encoding="UTF-8")
    with pytest.raises(LayerError, match="carry the zone prefix 38: use EPSG:4526 \\(EPSG:4513–4533 are"):
        read_layer(path, "grids")
    frame, report = read_layer(path, "grids", crs="EPSG:4526")  # zone 38 with prefix, CM 114E
    assert frame.total_bounds[0] == pytest.approx(TO_WGS84.transform(X0, Y0)[0], abs=1e-6)
    assert report.warnings == ["grids.shp declares EPSG:4547; using EPSG:4526 as asked"]
    plain = tmp_path / "plain.gpkg"
    gk_grids().to_file(plain)
    with pytest.raises(LayerError, match="no zone prefix: use EPSG:4547"):
        read_layer(plain, "grids", crs="EPSG:4526")


def test_outside_china_is_a_warning(tmp_path):
    path = tmp_path / "grids.geojson"
    gpd.GeoDataFrame({"code": ["P1"]}, geometry=[shapely.box(2.3, 48.8, 2.4, 48.9)], crs=4326).to_file(path)
    frame, report = read_layer(path, "grids")
    assert frame["code"].tolist() == ["P1"]
    assert report.warnings == [
        "grids.geojson lies partly outside China (2.300, 48.800 – 2.400, 48.900); check its CRS"]


def test_duplicate_codes_and_points_as_grids_are_refused(tmp_path):
    grids = gk_grids()
    grids["编码"] = ["G1", "G1"]
    path = tmp_path / "dup.geojson"
    grids.to_file(path)
    with pytest.raises(LayerError, match="duplicate codes G1$"):
        read_layer(path, "grids")
    points = gpd.GeoDataFrame({"code": ["P"]}, geometry=[shapely.Point(114, 33.6)], crs=4326)
    points.to_file(tmp_path / "p.geojson")
    with pytest.raises(LayerError, match="grids and roads must be polygons \\(this layer has Point\\)"):
        read_layer(tmp_path / "p.geojson", "grids")


def test_missing_code_field_lists_the_fields(tmp_path):
    path = tmp_path / "grids.gpkg"
    gpd.GeoDataFrame({"标识": ["G1"]}, geometry=[shapely.box(114, 33.6, 114.01, 33.61)], crs=4326).to_file(path)
    with pytest.raises(LayerError, match="has no code field \\(one of: code, 编码, .*\\); its fields are 标识"):
        read_layer(path, "grids")


def test_unknown_crs_missing_file_empty_layer_and_unknown_format(tmp_path):
    with pytest.raises(LayerError, match="File not found"):
        read_layer(tmp_path / "none.geojson", "grids")
    gk_grids().to_file(tmp_path / "g.geojson")
    with pytest.raises(LayerError, match="Unknown CRS 'EPSG:99999'"):
        read_layer(tmp_path / "g.geojson", "grids", crs="EPSG:99999")
    gk_grids().iloc[:0].to_file(tmp_path / "empty.gpkg")
    with pytest.raises(LayerError, match="empty.gpkg has no features"):
        read_layer(tmp_path / "empty.gpkg", "grids")
    (tmp_path / "broken.gpkg").write_bytes(b"SQLite format 3\x00" + bytes(100))
    with pytest.raises(LayerError, match="Cannot read broken.gpkg: "):
        read_layer(tmp_path / "broken.gpkg", "grids")
    (tmp_path / "notes.txt").write_text("not a map")
    with pytest.raises(LayerError, match="notes.txt is not a layer file gisgrid accepts"):
        read_layer(tmp_path / "notes.txt", "grids")
    with pytest.raises(LayerError, match="Cannot read notes.txt: not a layer format gisgrid reads"):
        read_layer(tmp_path / "notes.txt", "grids", restricted=False)


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".json", ".shp", ".fgb"])
def test_write_round_trip(tmp_path, suffix):
    frame = gpd.GeoDataFrame({"code": ["R1"], "name": ["人民路"], "a_very_long_field_name": [1],
                              "a_very_long_field_other": [2], "网格名称备注": ["沙北街道"]},
                             geometry=[shapely.MultiPolygon([shapely.box(114, 33.6, 114.001, 33.601)])], crs=4326)
    path = tmp_path / f"roads{suffix}"
    path.write_text("an older file in the way")
    write_layer(frame, path)
    back = gpd.read_file(path)
    assert back["name"].tolist() == ["人民路"] and back.crs.to_epsg() == 4326
    assert back.geometry.iloc[0].equals(frame.geometry.iloc[0])
    if suffix == ".shp":
        assert path.with_suffix(".cpg").read_text().strip() == "UTF-8"
        assert back[["a_very_lon", "a_very_lo1", "网格名"]].values.tolist() == [[1, 2, "沙北街道"]]
    else:
        assert back["a_very_long_field_other"].tolist() == [2] and back["网格名称备注"].tolist() == ["沙北街道"]
    read, _ = read_layer(path, "roads")
    assert read[["code", "name"]].values.tolist() == [["R1", "人民路"]]


def test_write_geopackage_layer_name_and_unknown_extension(tmp_path):
    frame = gk_grids().to_crs(4326)
    write_layer(frame, tmp_path / "district.gpkg", layer="grids")
    write_layer(frame, tmp_path / "other.gpkg")
    assert [n for n, _ in pyogrio.list_layers(tmp_path / "district.gpkg")] == ["grids"]
    assert [n for n, _ in pyogrio.list_layers(tmp_path / "other.gpkg")] == ["other"]
    with pytest.raises(LayerError, match="Cannot write roads.xlsx: use .gpkg, .geojson, .shp or .fgb"):
        write_layer(frame, tmp_path / "roads.xlsx")


def test_place_in_grids_by_most_area():
    grids = gk_grids().to_crs(4326).rename(columns={"编码": "code"})
    straddling = shapely.box(X0 + 400, Y0 + 100, X0 + 700, Y0 + 120)   # 100 m in the first, 200 m in the second
    inside_first = shapely.box(X0 + 10, Y0 + 10, X0 + 20, Y0 + 300)
    outside = shapely.box(X0 + 5000, Y0, X0 + 5100, Y0 + 20)
    touching = shapely.box(X0 + 1000, Y0, X0 + 1100, Y0 + 20)         # shares only an edge with the second
    roads = gpd.GeoDataFrame({"code": ["R1", "R2", "R3", "R4"]}, index=[10, 20, 30, 40],
                             geometry=[straddling, inside_first, outside, touching], crs="EPSG:4547").to_crs(4326)
    placed = place_in_grids(roads, grids)
    assert placed.index.tolist() == [10, 20, 30, 40]
    assert placed.tolist() == [CODES[1], CODES[0], None, None]
    assert place_in_grids(roads.iloc[:0], grids).tolist() == []


def test_metric_crs_is_the_cgcs2000_zone():
    assert metric_crs(114.03, 33.6).to_epsg() == 4547
    assert metric_crs(116.3, 39.9).to_epsg() == 4548
    assert metric_crs(73.5, 39.0).to_epsg() == 4534  # the western edge of CM 75E, not a zone further west
    assert metric_crs(136.49, 48.0).to_epsg() == 4554
    assert metric_crs(2.35, 48.85).to_epsg() == 32631
    assert metric_crs(151.2, -33.9).to_epsg() == 32756


def test_read_points_geojson(tmp_path):
    points = gpd.GeoDataFrame({"id": [1, 2], "rule": ["5.1", "7"], "count": [1, 3]},
                              geometry=gpd.points_from_xy([X0, X0 + 10], [Y0, Y0]), crs="EPSG:4547")
    points.to_file(tmp_path / "f.geojson")
    frame = read_points(tmp_path / "f.geojson")
    assert frame["id"].tolist() == ["1", "2"] and frame["rule"].tolist() == ["5.1", "7"]
    assert frame["count"].tolist() == [1, 3] and frame.crs.to_epsg() == 4326
    lon, lat = TO_WGS84.transform(X0 + 10, Y0)
    assert (frame.geometry.iloc[1].x, frame.geometry.iloc[1].y) == pytest.approx((lon, lat), abs=1e-9)


def test_read_points_csv(tmp_path):
    (tmp_path / "f.csv").write_text("id,rule,lon,lat,note\na,5.1,114.03,33.59, 门前堆放 \nb,7,114.04,33.6,\n",
                                    encoding="utf-8-sig")
    frame = read_points(tmp_path / "f.csv")
    assert frame["id"].tolist() == ["a", "b"] and frame["note"].tolist() == ["门前堆放", None]
    assert (frame.geometry.iloc[0].x, frame.geometry.iloc[0].y) == (114.03, 33.59) and frame.crs.to_epsg() == 4326
    # As Excel saves it in China: GBK, Chinese column names, metres with a CRS given
    (tmp_path / "gk.csv").write_bytes(f"编号,x,y,说明\n7,{X0},{Y0},乱堆乱放\n".encode("gbk"))
    frame = read_points(tmp_path / "gk.csv", crs="4547")
    assert frame["说明"].tolist() == ["乱堆乱放"] and frame["编号"].tolist() == ["7"]
    assert (frame.geometry.iloc[0].x, frame.geometry.iloc[0].y) == pytest.approx(TO_WGS84.transform(X0, Y0), abs=1e-9)


def test_read_points_refusals(tmp_path):
    (tmp_path / "blank.csv").write_text("id,lon,lat\n1,,33.6\n")
    with pytest.raises(LayerError, match="lon/lat must be numbers"):
        read_points(tmp_path / "blank.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(LayerError, match="Cannot read empty.csv: "):
        read_points(tmp_path / "empty.csv")
    (tmp_path / "nocoords.csv").write_text("id,place\n1,人民路\n")
    with pytest.raises(LayerError, match="needs lon and lat \\(or x and y\\) columns"):
        read_points(tmp_path / "nocoords.csv")
    gk_roads().to_file(tmp_path / "roads.geojson")
    with pytest.raises(LayerError, match="findings must be points"):
        read_points(tmp_path / "roads.geojson")
    gpd.GeoDataFrame({"id": [5, 6]}, geometry=[shapely.Point(114, 33.6), None], crs=4326).to_file(tmp_path / "p.gpkg")
    with pytest.raises(LayerError, match="features without geometry: 6$"):
        read_points(tmp_path / "p.gpkg")


def test_gauss_kruger_choices_name_their_central_meridian_truly():
    zones = [z for z in gis_crs.gk_zones() if z["central_meridian"] is not None]
    assert len(zones) == 64 and {"EPSG:4547", "EPSG:4526", "EPSG:4509", "EPSG:4495"} <= {z["epsg"] for z in zones}
    for zone in zones:
        crs = CRS.from_user_input(zone["epsg"])
        meridian = next(p.value for p in crs.coordinate_operation.params if p.name == "Longitude of natural origin")
        false_easting = next(p.value for p in crs.coordinate_operation.params if "false easting" in p.name.lower())
        assert meridian == zone["central_meridian"], zone
        assert (false_easting > 1_000_000) == zone["zone_prefix"], zone


def test_preview_reads_first_rows_and_maps_fields_without_writing(tmp_path):
    frame = gk_grids().rename(columns={"编码": "BH", "名称": "MC"})
    shapefile_without_cpg(frame, tmp_path / "grids.shp", "GBK")
    preview = gis_preview.preview_layer(tmp_path / "grids.shp", "grids", rows=1)
    assert preview["count"] == len(frame) and preview["crs"] == "EPSG:4547"
    assert preview["rows"][0][:2] == [frame["BH"].iloc[0], frame["MC"].iloc[0]]   # GBK decoded
    assert "code" not in preview["mapping"]
    read, _ = layers.read_layer(tmp_path / "grids.shp", "grids", fields={"code": "BH", "name": "MC"})
    assert read["name"].tolist() == frame["MC"].tolist()
    with pytest.raises(LayerError, match="no field 'XX'"):
        layers.read_layer(tmp_path / "grids.shp", "grids", fields={"code": "XX"})
    with pytest.raises(LayerError, match="two columns"):
        layers.read_layer(tmp_path / "grids.shp", "grids", fields={"code": "BH", "name": "BH"})
