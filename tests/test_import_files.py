"""Real files that did not import (issue 14, §4), each made here in a few lines as the program
that wrote the original makes it: a .cpg naming its code page the Windows way, a .cpg saying
UTF-8 over GBK text, a zip whose member names are GBK, a world layer whose edge is 180° plus
rounding, a path with "!" in it."""

import json
import zipfile

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gisgrid.gis.encodings import cpg_codec
from gisgrid.gis.layers import layer_names, read_layer

NAMES = ["沙北街道第1网格", "沙北街道第2网格"]


def gbk_shapefile(folder, stem="grids", names=NAMES, encoding="GBK"):
    frame = gpd.GeoDataFrame({"code": ["G1", "G2"], "name": names},
                             geometry=[shapely.box(114.0, 33.6, 114.01, 33.61), shapely.box(114.01, 33.6, 114.02, 33.61)],
                             crs=4326)
    folder.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame, folder / f"{stem}.shp", encoding=encoding)
    return folder / f"{stem}.shp"


@pytest.mark.parametrize("declared", ["ANSI 936", "OEM 936", "936", "CP936", "cp936", "GB2312", "GB18030", "GBK"])
def test_a_cpg_naming_a_chinese_code_page_the_windows_way_is_honoured(tmp_path, declared):
    path = gbk_shapefile(tmp_path)
    path.with_suffix(".cpg").write_text(declared, encoding="ascii")
    frame, report = read_layer(path, "grids")
    assert frame["name"].tolist() == NAMES                  # not É³±±½ÖµÀµÚ1Íø¸ñ
    assert report.encoding == declared


def test_a_cpg_naming_another_windows_code_page_is_honoured(tmp_path):
    path = gbk_shapefile(tmp_path, names=["Příbram", "Łódź"], encoding="cp1250")
    path.with_suffix(".cpg").write_text("ANSI 1250", encoding="ascii")
    frame, _ = read_layer(path, "grids")
    assert frame["name"].tolist() == ["Příbram", "Łódź"]
    assert (cpg_codec("ANSI 1252"), cpg_codec("UTF-8"), cpg_codec("x-unknown")) == ("cp1252", "utf-8", None)


def test_a_cpg_saying_utf8_over_gbk_text_is_read_as_gbk_with_a_warning(tmp_path):
    path = gbk_shapefile(tmp_path)
    path.with_suffix(".cpg").write_text("UTF-8", encoding="ascii")
    frame, report = read_layer(path, "grids")
    assert frame["name"].tolist() == NAMES
    assert any("the .cpg says UTF-8 but the text is GBK" in w for w in report.warnings)


def test_zip_members_named_in_gbk_are_listed_right_and_one_is_picked_by_name(tmp_path, capsys):
    """Windows' own zip tool writes member names in GBK without the UTF-8 flag. Python's zipfile
    always flags non-ASCII names, so the zip is written with ASCII names of the same byte length
    and those bytes replaced by the GBK ones."""
    chosen, other = "郾城区网格", "郾城区道路"                  # 10 bytes each in GBK
    placeholders = {chosen: b"AAAAAAAAAA", other: b"BBBBBBBBBB"}
    archive = tmp_path / "layers.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for name, placeholder in placeholders.items():
            shp = gbk_shapefile(tmp_path / name, stem=placeholder.decode())
            for part in shp.parent.iterdir():
                out.write(part, part.name)
    data = archive.read_bytes()
    for name, placeholder in placeholders.items():
        data = data.replace(placeholder, name.encode("gbk"))
    archive.write_bytes(data)
    assert sorted(layer_names(archive)) == sorted([chosen, other])
    frame, _ = read_layer(archive, "grids", layer=chosen)
    assert frame["code"].tolist() == ["G1", "G2"]
    # and as the planner types it on the command line
    from gisgrid.cli import main

    db = tmp_path / "gisgrid.sqlite"
    assert main(["--db", str(db), "init"]) == 0
    capsys.readouterr()
    assert main(["--db", str(db), "import", "grids", str(archive), "--layer", chosen, "--dry-run", "--json"]) == 0
    preview = json.loads(capsys.readouterr().out)
    assert sorted(preview["new"]) == ["G1", "G2"]


def test_a_world_layer_whose_edge_is_180_plus_rounding_is_degrees(tmp_path):
    path = tmp_path / "world.geojson"
    world = {"type": "Polygon", "coordinates": [[[-180, -60], [180.00000000000006, -60], [180.00000000000006, 80],
                                                 [-180, 80], [-180, -60]]]}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "W"}, "geometry": world}]}), encoding="utf-8")
    frame, report = read_layer(path, "grids")
    assert frame["code"].tolist() == ["W"] and report.source_crs == "EPSG:4326"


def test_a_path_with_an_exclamation_mark_is_a_file_not_a_gdal_virtual_path(tmp_path):
    written = gbk_shapefile(tmp_path / "plain", stem="grids")
    folder = tmp_path / "网格!最终版"                        # written plainly (GDAL would misread it too), then named
    written.parent.rename(folder)
    for part in folder.iterdir():
        part.rename(folder / part.name.replace("grids", "grids!v2"))
    path = folder / "grids!v2.shp"
    frame, _ = read_layer(path, "grids")
    assert frame["name"].tolist() == NAMES
    assert len(layer_names(path)) == 1


def test_a_kml_polygon_with_an_unclosed_ring_is_closed_with_a_note(tmp_path):
    path = tmp_path / "open.kml"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
                    "<Placemark><name>G1</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
                    "114.0,33.6 114.01,33.6 114.01,33.61 114.0,33.61</coordinates></LinearRing></outerBoundaryIs>"
                    "</Polygon></Placemark></Document></kml>", encoding="utf-8")
    frame, report = read_layer(path, "grids")
    assert frame["code"].tolist() == ["G1"]
    assert frame.geometry.iloc[0].equals(shapely.MultiPolygon([shapely.box(114.0, 33.6, 114.01, 33.61)]))
    assert report.warnings == ["open.kml: polygon rings the file left open were closed"]


OSM_UNSORTED = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="gisgrid tests">
 <node id="5" lat="33.595" lon="114.031"/>
 <node id="2" lat="33.595" lon="114.035"/>
 <node id="9" lat="33.595" lon="114.039"/>
 <way id="1"><nd ref="5"/><nd ref="2"/><nd ref="9"/><tag k="highway" v="primary"/><tag k="name" v="人民路"/></way>
</osm>
"""


@pytest.mark.parametrize("form", ["xml", "pbf"])
def test_an_extract_whose_node_ids_are_not_increasing_is_read_with_gdals_other_index(tmp_path, form):
    """GDAL's OSM driver refuses such a file ("Non increasing node id. Use OSM_USE_CUSTOM_INDEXING=NO"),
    PBF or XML alike; an XML one is written here in a few lines, and its PBF twin by osmium in
    the same (unsorted) order."""
    import osmium

    from gisgrid.gis import osm

    path = tmp_path / "unsorted.osm"
    path.write_text(OSM_UNSORTED, encoding="utf-8")
    if form == "pbf":
        pbf = tmp_path / "unsorted.osm.pbf"
        with osmium.SimpleWriter(str(pbf)) as writer:
            for entity in osmium.FileProcessor(str(path)):
                writer.add(entity)
        path = pbf
    streets = osm.read_streets(path)
    assert streets["name"].tolist() == ["人民路"]


def test_an_extract_outside_every_grid_says_why_no_road_is_drafted(tmp_path):
    from fixtures import small_district
    from gisgrid.domain.errors import LayerError
    from gisgrid.gis import osm

    grids, _ = small_district()
    path = tmp_path / "far.osm"
    path.write_text(OSM_UNSORTED.replace('lon="114.0', 'lon="116.3'), encoding="utf-8")   # in Beijing
    with pytest.raises(LayerError, match="1 streets lie outside every grid"):
        osm.bootstrap_roads(path, grids)
