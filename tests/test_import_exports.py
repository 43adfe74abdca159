"""Exports as QGIS users open them (issue 14, §5): GeoPackages of version 1.3 (GDAL 3.6 / QGIS 3.22
open them without the 1.4 warning), `rank` an integer in every format, and no silent loss in a
Shapefile: shortened field names are named, text too long for a .dbf is refused with the hint."""

import sqlite3

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gisgrid.cli import main
from gisgrid.domain.errors import LayerError
from gisgrid.gis.write import write_layer


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def sampled(db_url, district_files, capsys):
    for kind, path in zip(("grids", "roads"), district_files):
        assert run(capsys, "--db", db_url, "import", kind, path)[0] == 0
    assert run(capsys, "--db", db_url, "sample", "2026-11", "--seed", "7")[0] == 0
    return db_url


def test_a_geopackage_export_is_version_1_3(sampled, tmp_path, capsys):
    path = tmp_path / "grids.gpkg"
    assert run(capsys, "--db", sampled, "export", "grids", path)[0] == 0
    with sqlite3.connect(path) as db:
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        user_version = db.execute("PRAGMA user_version").fetchone()[0]
    assert application_id == 0x47504B47 and user_version == 10300      # "GPKG", 1.3.0


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp", ".fgb"])
def test_rank_is_an_integer_in_every_export(sampled, tmp_path, capsys, suffix):
    path = tmp_path / f"scores{suffix}"
    code, _out, err = run(capsys, "--db", sampled, "export", "scores", path)
    assert code == 0, err
    info = pyogrio.read_info(path)
    kinds = dict(zip(info["fields"], info["dtypes"]))
    assert kinds["rank"].startswith("int"), kinds          # not 1.0: G3 (no roads) is unranked, not NaN-ranked
    frame = pyogrio.read_dataframe(path)
    ranked = frame.loc[frame["grid"] != "G3", "rank"].tolist()
    assert sorted(ranked) == [1, 1, 1] and all(float(r).is_integer() for r in ranked)


def one_grid(**columns):
    return gpd.GeoDataFrame({"code": ["G1"], **{k: [v] for k, v in columns.items()}},
                            geometry=[shapely.box(114.0, 33.6, 114.01, 33.61)], crs=4326)


def test_a_shapefile_refuses_text_a_dbf_would_cut_and_names_it(tmp_path):
    with pytest.raises(LayerError, match=r"name of G1 are longer; export to a GeoPackage \(.gpkg\)"):
        write_layer(one_grid(name="网" * 90), tmp_path / "g.shp")      # 270 bytes of UTF-8
    assert not (tmp_path / "g.shp").exists()
    write_layer(one_grid(name="网" * 84), tmp_path / "ok.shp")         # 252 bytes: kept whole
    assert pyogrio.read_dataframe(tmp_path / "ok.shp")["name"].tolist() == ["网" * 84]


def test_a_shapefile_names_each_field_it_shortens(tmp_path):
    notes = write_layer(one_grid(observed_at="2026-11-25T10:00:00+08:00", rule="5.1"), tmp_path / "f.shp")
    assert notes == ["f.shp: field 'observed_at' is named 'observed_a' (a Shapefile keeps 10 bytes of a field name)"]
    assert write_layer(one_grid(rule="5.1"), tmp_path / "f.gpkg") == []


def test_the_command_line_refuses_a_lossy_shapefile_with_exit_code_2(sampled, tmp_path, capsys):
    from gisgrid.storage import Store, boundaries

    store = Store(sampled)
    row = boundaries.feature(store, "grid", "G1")
    boundaries.save_feature(store, "grid", "G1", {**row["properties"], "leader": "张" * 100},
                            shapely.geometry.shape(row["geometry"]), row["properties"]["version"], "setup")
    store.dispose()
    code, _out, err = run(capsys, "--db", sampled, "export", "grids", tmp_path / "grids.shp")
    assert code == 2 and "leader of G1" in err and ".gpkg" in err
