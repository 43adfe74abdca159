"""GIS input and output: formats, CRS (CGCS2000 Gauss-Krüger zones), GBK attribute tables,
geometry repair, and the clear errors for files that cannot be used."""

import zipfile

import geopandas as gpd
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from gisgrid.errors import LayerError
from gisgrid.layers import metric_crs, place_in_grids, read_layer, read_points, write_layer

# A block near Luohe in CGCS2000 / 3-degree Gauss-Kruger CM 114E (EPSG:4547), in metres.
X0, Y0 = 503000.0, 3717000.0
TO_WGS84 = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)


def gk_grids() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "编码": ["411103001001001", "411103001001002"],
        "名称": ["沙北街道第1网格", "沙北街道第2网格"],
        "街道": ["沙北街道", "沙北街道"],
        "类别": ["一类", "b"],
    }, geometry=[shapely.box(X0, Y0, X0 + 500, Y0 + 400), shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 400)],
        crs="EPSG:4547")


def test_gauss_kruger_shapefile_with_chinese_attributes(tmp_path):
    path = tmp_path / "grids.shp"
    gk_grids().to_file(path, encoding="UTF-8")
    frame, report = read_layer(path, "grids")
    assert report.source_crs == "EPSG:4547"
    assert list(frame.columns) == ["code", "name", "town", "grid_class", "leader", "geometry"]
    assert frame["code"].tolist() == ["411103001001001", "411103001001002"]
    assert frame["name"].tolist() == ["沙北街道第1网格", "沙北街道第2网格"]
    assert frame["grid_class"].tolist() == ["A", "B"] and frame.crs.to_epsg() == 4326
    lon, lat = TO_WGS84.transform(X0, Y0)
    corners = shapely.get_coordinates(frame.geometry.iloc[0])
    assert (abs(corners[:, 0] - lon) + abs(corners[:, 1] - lat)).min() < 1e-9
    assert frame.geometry.iloc[0].geom_type == "MultiPolygon"


def test_zipped_shapefile(tmp_path):
    gk_grids().to_file(tmp_path / "grids.shp", encoding="UTF-8")
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("grids.*"):
            if part != archive:
                z.write(part, f"data/{part.name}")
    frame, _ = read_layer(archive, "grids")
    assert frame["town"].tolist() == ["沙北街道", "沙北街道"]


def test_zip_escaping_its_folder_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../outside.shp", b"")
    with pytest.raises(LayerError, match="outside itself"):
        read_layer(archive, "grids")


def test_gbk_shapefile_without_cpg(tmp_path):
    path = tmp_path / "gbk.shp"
    pyogrio.write_dataframe(gk_grids(), path, encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    assert "沙北街道".encode("gbk") in path.with_suffix(".dbf").read_bytes()
    frame, report = read_layer(path, "grids")
    assert frame["name"].tolist() == ["沙北街道第1网格", "沙北街道第2网格"]
    assert report.encoding == "GB18030"


def test_geopackage_layers(tmp_path):
    path = tmp_path / "district.gpkg"
    grids = gk_grids().to_crs(4326)
    grids.to_file(path, layer="grids")
    grids.head(1).to_file(path, layer="other", mode="a")
    with pytest.raises(LayerError, match="several layers \\(grids, other\\); choose one with --layer"):
        read_layer(path, "grids")
    assert len(read_layer(path, "grids", layer="grids")[0]) == 2
    with pytest.raises(LayerError, match="no layer 'nope'"):
        read_layer(path, "grids", layer="nope")


@pytest.mark.parametrize("suffix, driver", [(".kml", "KML"), (".fgb", "FlatGeobuf"), (".geojson", "GeoJSON")])
def test_other_formats(tmp_path, suffix, driver):
    frame = gk_grids().to_crs(4326).rename(columns={"编码": "code", "名称": "Name"})
    path = tmp_path / f"grids{suffix}"
    pyogrio.write_dataframe(frame[["code", "Name", "geometry"]] if driver != "KML" else frame[["Name", "geometry"]],
                            path, driver=driver)
    read, _ = read_layer(path, "grids")
    assert sorted(read["name"]) == ["沙北街道第1网格", "沙北街道第2网格"]
    expected = ["沙北街道第1网格", "沙北街道第2网格"] if driver == "KML" else ["411103001001001", "411103001001002"]
    assert sorted(read["code"]) == expected  # a KML's only label is its Name


def test_bowtie_is_repaired_and_reported(tmp_path):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    assert not bowtie.is_valid
    frame = gpd.GeoDataFrame({"code": ["R1"], "name": ["人民路"]}, geometry=[bowtie], crs="EPSG:4547")
    path = tmp_path / "roads.geojson"
    pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    read, report = read_layer(path, "roads")
    geometry = read.geometry.iloc[0]
    assert geometry.is_valid and len(geometry.geoms) == 2
    assert [code for code, _ in report.repaired] == ["R1"] and "Self-intersection" in report.repaired[0][1]


def test_unsafe_invalid_geometry_is_refused(tmp_path):
    # A hole sticking out of its shell: cut it away, or add the part outside? The two standard
    # repairs disagree, so gisgrid does not guess.
    shell = [(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0, Y0 + 100)]
    hole_across = [(X0 + 50, Y0 + 25), (X0 + 150, Y0 + 25), (X0 + 150, Y0 + 75), (X0 + 50, Y0 + 75)]
    frame = gpd.GeoDataFrame({"code": ["G9"]}, geometry=[shapely.Polygon(shell, [hole_across])], crs="EPSG:4547")
    path = tmp_path / "grids.geojson"
    pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    with pytest.raises(LayerError, match="cannot be repaired safely: G9 \\(Self-intersection"):
        read_layer(path, "grids")


def test_missing_crs_asks_for_one(tmp_path):
    path = tmp_path / "grids.shp"
    gk_grids().to_file(path, encoding="UTF-8")
    path.with_suffix(".prj").unlink()
    with pytest.raises(LayerError, match="has no CRS; pass --crs, e.g. --crs EPSG:4547"):
        read_layer(path, "grids")
    frame, _ = read_layer(path, "grids", crs="4547")
    assert abs(frame.total_bounds[0] - TO_WGS84.transform(X0, Y0)[0]) < 1e-6


def test_metres_declared_as_degrees_are_refused(tmp_path):
    path = tmp_path / "grids.geojson"
    gk_grids().set_crs(4326, allow_override=True).to_file(path)
    with pytest.raises(LayerError, match="cannot be in EPSG:4326.*look like metres"):
        read_layer(path, "grids")


def test_zone_prefixed_x_hints_at_the_right_epsg(tmp_path):
    prefixed = gk_grids().translate(xoff=38_000_000)
    path = tmp_path / "grids.shp"
    gpd.GeoDataFrame(gk_grids().drop(columns="geometry"), geometry=prefixed, crs="EPSG:4547").to_file(
        path, encoding="UTF-8")
    with pytest.raises(LayerError, match="EPSG:4513–4533"):
        read_layer(path, "grids")
    frame, _ = read_layer(path, "grids", crs="EPSG:4526")  # zone 38 with prefix, CM 114E
    assert abs(frame.total_bounds[0] - TO_WGS84.transform(X0, Y0)[0]) < 1e-6


def test_duplicate_codes_and_points_as_grids_are_refused(tmp_path):
    grids = gk_grids()
    grids["编码"] = ["G1", "G1"]
    path = tmp_path / "dup.geojson"
    grids.to_file(path)
    with pytest.raises(LayerError, match="duplicate codes G1"):
        read_layer(path, "grids")
    points = gpd.GeoDataFrame({"code": ["P"]}, geometry=[shapely.Point(114, 33.6)], crs=4326)
    points.to_file(tmp_path / "p.geojson")
    with pytest.raises(LayerError, match="must be polygons"):
        read_layer(tmp_path / "p.geojson", "grids")


def test_unknown_crs_and_missing_file(tmp_path):
    with pytest.raises(LayerError, match="File not found"):
        read_layer(tmp_path / "none.geojson", "grids")
    gk_grids().to_file(tmp_path / "g.geojson")
    with pytest.raises(LayerError, match="Unknown CRS 'EPSG:99999'"):
        read_layer(tmp_path / "g.geojson", "grids", crs="EPSG:99999")


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp", ".fgb"])
def test_write_round_trip(tmp_path, suffix):
    frame = gpd.GeoDataFrame({"code": ["R1"], "name": ["人民路"], "a_very_long_field_name": [1],
                              "a_very_long_field_other": [2]},
                             geometry=[shapely.MultiPolygon([shapely.box(114, 33.6, 114.001, 33.601)])], crs=4326)
    path = tmp_path / f"roads{suffix}"
    write_layer(frame, path)
    back = gpd.read_file(path)
    assert back["name"].tolist() == ["人民路"] and back.crs.to_epsg() == 4326
    if suffix == ".shp":
        assert {"a_very_lon", "a_very_lo1"} <= set(back.columns)
    with pytest.raises(LayerError, match="use .gpkg, .geojson, .shp or .fgb"):
        write_layer(frame, tmp_path / "roads.xlsx")


def test_place_in_grids_by_most_area():
    grids = gk_grids().to_crs(4326).rename(columns={"编码": "code"})
    straddling = shapely.box(X0 + 400, Y0 + 100, X0 + 700, Y0 + 120)   # 100 m in the first, 200 m in the second
    outside = shapely.box(X0 + 5000, Y0, X0 + 5100, Y0 + 20)
    roads = gpd.GeoDataFrame({"code": ["R1", "R2"]}, geometry=[straddling, outside], crs="EPSG:4547").to_crs(4326)
    assert place_in_grids(roads, grids).tolist() == ["411103001001002", None]


def test_metric_crs_is_the_cgcs2000_zone():
    assert metric_crs(114.03, 33.6).to_epsg() == 4547
    assert metric_crs(116.3, 39.9).to_epsg() == 4548
    assert metric_crs(2.35, 48.85).to_epsg() == 32631


def test_read_points_geojson_and_csv(tmp_path):
    points = gpd.GeoDataFrame({"id": [1, 2], "rule": ["5.1", "7"]},
                              geometry=gpd.points_from_xy([X0, X0 + 10], [Y0, Y0]), crs="EPSG:4547")
    points.to_file(tmp_path / "f.geojson")
    frame = read_points(tmp_path / "f.geojson")
    assert frame["id"].tolist() == ["1", "2"] and frame.crs.to_epsg() == 4326
    (tmp_path / "f.csv").write_text("id,rule,lon,lat,note\na,5.1,114.03,33.59,门前堆放\n", encoding="utf-8-sig")
    csv = read_points(tmp_path / "f.csv")
    assert csv["note"].tolist() == ["门前堆放"] and csv.geometry.iloc[0].x == 114.03
