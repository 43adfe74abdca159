"""Layer files an attacker with a planner's account would upload: a GDAL virtual layer (VRT)
named .geojson, a zip holding one, a CSV, a GDAL pipeline. A web upload is opened only as a
format gisgrid accepts, told by its content; nothing of the files such a layer names is shown.
The command line, a local operator's own files, keeps every GDAL driver."""

import json
import select
import socket
import threading
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from gisgrid.gis import layers, osm
from gisgrid.gis import formats
from gisgrid.gis import preview
from gisgrid.cli import main
from gisgrid.domain.errors import LayerError
from test_plan_import import multipart

SECRET = "secret-grid-key-0451"


def vrt(source: str, layer: str = "stolen") -> str:
    """A VRT that turns each line of `source` into a point feature with the line as a field:
    what, unrestricted, a preview would show row by row."""
    return f"""<OGRVRTDataSource>
  <OGRVRTLayer name="{layer}">
    <SrcDataSource>{source}</SrcDataSource>
    <SrcSQL>SELECT *, 114.01 AS x, 33.6 AS y FROM {layer}</SrcSQL>
    <GeometryType>wkbPoint</GeometryType>
    <LayerSRS>EPSG:4326</LayerSRS>
    <GeometryField encoding="PointFromColumns" x="x" y="y"/>
  </OGRVRTLayer>
</OGRVRTDataSource>
"""


@pytest.fixture
def secret_file(tmp_path):
    """A server file the attacker names (like instance/secret_key), one line per record."""
    path = tmp_path / "stolen.csv"
    path.write_text(f"line\n{SECRET}\n")
    return path


@pytest.fixture
def planner(auth):
    auth.login("planner1", "planner")
    return {"X-CSRFToken": auth.csrf("/")}


def send(client, planner, path, name=None, kind="grids"):
    body = multipart(path, kind)
    if name is not None:
        body = body.replace(f'filename="{path.name}"'.encode(), f'filename="{name}"'.encode(), 1)
    return client.post("/api/plan/uploads", data=body,
                       headers={**planner, "Content-Type": "multipart/form-data; boundary=B0UNDARY"})


def refused(response, app) -> str:
    """The refusal's message (the planner reads Chinese); nothing of the secret in the whole
    answer, and the upload is not kept."""
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"] == "LayerError"
    assert SECRET not in response.get_data(as_text=True)
    uploads = Path(app.instance_path) / "uploads"
    assert not uploads.is_dir() or list(uploads.iterdir()) == []
    return response.get_json()["message"]


def test_a_vrt_named_geojson_is_refused_and_shows_nothing_of_the_files_it_names(client, planner, app, tmp_path,
                                                                               secret_file):
    hostile = tmp_path / "grids.geojson"
    for source in (str(secret_file), "CSV:/etc/passwd"):
        hostile.write_text(vrt(source, layer="stolen" if source == str(secret_file) else "passwd"))
        text = refused(send(client, planner, hostile), app)
        assert SECRET not in text and "root:" not in text and "nologin" not in text
        assert "GeoJSON" in text          # the message names what may be sent


def test_restricted_reading_refuses_what_unrestricted_gdal_would_open(tmp_path, secret_file):
    hostile = tmp_path / "grids.geojson"
    hostile.write_text(vrt(str(secret_file)))
    # the danger is real: GDAL alone opens it as a VRT and reads the named file
    shown = preview.preview_layer(hostile, "grids", restricted=False)
    assert shown["rows"][0][0] == SECRET
    for read in (lambda: preview.preview_layer(hostile, "grids"), lambda: layers.layer_names(hostile),
                 lambda: layers.read_layer(hostile, "grids"), lambda: layers.read_points(hostile)):
        with pytest.raises(LayerError, match="grids.geojson is not a layer file gisgrid accepts") as error:
            read()
        assert SECRET not in str(error.value)


def test_a_zip_holding_a_vrt_is_refused(client, planner, app, tmp_path, secret_file):
    for member in ("grids.vrt", "grids.geojson"):      # by its name, and by its content under a good name
        archive = tmp_path / "grids.zip"
        with zipfile.ZipFile(archive, "w") as out:
            out.writestr(member, vrt(str(secret_file)))
        text = refused(send(client, planner, archive), app)
        assert SECRET not in text
        assert ("zip 文件中含有 grids.vrt，它不属于 gisgrid 接受的任何图层" if member == "grids.vrt" else
                "grids.geojson 不是 gisgrid 接受的图层文件") in text


def test_a_csv_is_refused_whatever_its_name(client, planner, app, tmp_path):
    table = tmp_path / "grids.csv"
    table.write_text(f'WKT,code\n"{box(114, 33, 114.01, 33.01).wkt}",{SECRET}\n')
    for name in ("grids.geojson", "CSV:grids.geojson", "CSV:grids.csv.kml"):
        text = refused(send(client, planner, table, name=name), app)
        assert SECRET not in text
    with pytest.raises(LayerError, match="grids.csv is not a layer file gisgrid accepts"):
        layers.read_layer(table, "grids", crs="EPSG:4326")


def test_a_gdal_pipeline_named_geojson_is_not_run(client, planner, app, tmp_path, secret_file):
    """GDAL 3.11+ opens a JSON "gdal_streamed_alg" as the result of the command line it holds;
    forcing the GeoJSON driver reads it as the (broken) GeoJSON it pretends to be."""
    pipeline = tmp_path / "grids.geojson"
    pipeline.write_text(json.dumps({"type": "gdal_streamed_alg",
                                    "command_line": f"gdal vector pipeline ! read {secret_file} ! write "
                                                    "--output-format stream streamed_dataset"}))
    text = refused(send(client, planner, pipeline), app)
    assert SECRET not in text


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".fgb", ".kml", ".zip"])
def test_every_accepted_format_still_previews(client, planner, tmp_path, suffix):
    frame = gpd.GeoDataFrame({"code": ["W1"], "name": ["网格一"]}, geometry=[box(114, 33, 114.01, 33.01)], crs=4326)
    path = tmp_path / f"grids{suffix}"
    if suffix == ".zip":
        frame.to_file(tmp_path / "grids.shp", engine="pyogrio", encoding="UTF-8")
        with zipfile.ZipFile(path, "w") as out:
            for part in tmp_path.glob("grids.*"):
                if part.suffix != ".zip":
                    out.write(part, part.name)
    else:
        frame.to_file(path, engine="pyogrio", driver={".geojson": "GeoJSON", ".gpkg": "GPKG", ".fgb": "FlatGeobuf",
                                                      ".kml": "KML"}[suffix])
    sent = send(client, planner, path)
    assert sent.status_code == 201, sent.get_json()
    assert "网格一" in sent.get_json()["rows"][0] and sent.get_json()["count"] == 1


def test_the_command_line_keeps_every_driver(db_url, store, tmp_path):
    """A local operator may import a VRT or CSV of their own, as GDAL reads it."""
    grids = gpd.GeoDataFrame({"code": ["V1"], "name": ["虚拟网格"]}, geometry=[box(114, 33, 114.01, 33.01)], crs=4326)
    grids.to_file(tmp_path / "source.geojson", engine="pyogrio")
    (tmp_path / "grids.vrt").write_text(f"""<OGRVRTDataSource><OGRVRTLayer name="source">
<SrcDataSource>{tmp_path / "source.geojson"}</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>""")
    assert main(["--db", db_url, "import", "grids", str(tmp_path / "grids.vrt")]) == 0
    (tmp_path / "more.csv").write_text(f'WKT,code,name\n"{box(114.01, 33, 114.02, 33.01).wkt}",C1,表格网格\n')
    assert main(["--db", db_url, "import", "grids", str(tmp_path / "more.csv"), "--crs", "EPSG:4326"]) == 0
    assert sorted(store.grid_codes()) == ["C1", "V1"]


def test_a_vrt_named_osm_is_refused(client, planner, app, tmp_path, secret_file):
    hostile = tmp_path / "haidian.osm"
    hostile.write_text(vrt(str(secret_file)))
    text = refused(send(client, planner, hostile), app)
    assert SECRET not in text and "haidian.osm 不是 gisgrid 接受的图层文件" in text


# the network and XML entities --------------------------------------------------------------


class Listener:
    """A real listener on a free loopback port, in a thread: it records each connection's first
    bytes and closes it at once, so that a client it gets (the failure this looks for) is not
    left waiting."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.seen: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            if select.select([self.socket], [], [], 0.05)[0]:
                connection, _ = self.socket.accept()
                connection.settimeout(0.5)
                try:
                    self.seen.append(connection.recv(4096))
                except OSError:
                    self.seen.append(b"")
                connection.close()

    def received(self) -> list[bytes]:
        """Every connection made so far: GDAL's requests are synchronous, so one made is queued
        by now, and the thread takes it within its next turn."""
        self.stop.set()
        self.thread.join(timeout=5)
        while select.select([self.socket], [], [], 0)[0]:
            self.seen.append(self.socket.accept()[0].recv(4096))
        return self.seen


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.stop.set()
    server.thread.join(timeout=5)
    server.socket.close()


def point_collection(**extra) -> str:
    return json.dumps({"type": "FeatureCollection", **extra, "features": [
        {"type": "Feature", "properties": {"code": "W1"},
         "geometry": {"type": "Polygon", "coordinates": [[[114, 33], [114.01, 33], [114.01, 33.01], [114, 33]]]}}]})


def test_no_request_leaves_the_server_process(app, client, planner, tmp_path, listener):
    import pyogrio

    # a GeoJSON, an accepted format, whose "crs" is a link GDAL would fetch
    linked = tmp_path / "grids.geojson"
    linked.write_text(point_collection(crs={"type": "link", "properties": {"href": listener.url + "/crs",
                                                                             "type": "proj4"}}))
    assert send(client, planner, linked).status_code == 201
    # a KML whose NetworkLink names another KML
    kml = tmp_path / "grids.kml"
    kml.write_text(f'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><NetworkLink>'
                   f'<Link><href>{listener.url}/more.kml</href></Link></NetworkLink><Placemark><name>W1</name>'
                   '<Polygon><outerBoundaryIs><LinearRing><coordinates>114,33 114.01,33 114.01,33.01 114,33'
                   '</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>')
    send(client, planner, kml)
    # and GDAL asked straight for a URL, as a VRT's source would
    # (the second past the extension lock, to the dead proxy: curl's failure is a GDAL warning)
    for url in (f"/vsicurl/{listener.url}/grids.geojson", f"/vsicurl/{listener.url}/grids.gisgrid-no-network"):
        with pytest.raises(pyogrio.errors.DataSourceError), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pyogrio.read_info(url)
    assert listener.received() == []


def entity_files(tmp_path, target: str) -> dict:
    doctype = lambda root: f'<?xml version="1.0"?>\n<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "{target}">]>\n'  # noqa: E731
    kml = tmp_path / "grids.kml"
    kml.write_text(doctype("kml") + '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark>'
                   '<name>&xxe;</name><Polygon><outerBoundaryIs><LinearRing><coordinates>114,33 114.01,33 '
                   '114.01,33.01 114,33</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>'
                   '</Document></kml>')
    extract = tmp_path / "haidian.osm"
    extract.write_text(doctype("osm") + '<osm version="0.6"><node id="1" lat="33" lon="114"/>'
                       '<node id="2" lat="33.01" lon="114.01"/><way id="3"><nd ref="1"/><nd ref="2"/>'
                       '<tag k="highway" v="primary"/><tag k="name" v="&xxe;"/></way></osm>')
    return {"kml": kml, "osm": extract}


def test_xml_external_entities_are_not_expanded(app, client, planner, tmp_path, secret_file, listener):
    for target in (secret_file.as_uri(), listener.url + "/entity"):
        files = entity_files(tmp_path, target)
        for path in files.values():
            text = refused(send(client, planner, path), app)
            assert SECRET not in text and "DOCTYPE" in text
        # nor does GDAL's XML parsing expand them where the command line reads such a file
        for read in (lambda: preview.preview_layer(files["kml"], "grids", restricted=False),
                     lambda: osm.read_streets(files["osm"], restricted=False)):
            try:
                shown = read()
            except LayerError as error:
                shown = str(error)
            assert SECRET not in str(shown)
    assert listener.received() == []


# a bounded preview -------------------------------------------------------------------------


def polygon_feature(i: int) -> dict:
    x, y = 114 + (i % 100) * 0.001, 33 + (i // 100) * 0.001
    return {"type": "Feature", "properties": {"code": f"G{i:05d}", "name": f"网格{i}"},
            "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + 0.001, y], [x + 0.001, y + 0.001],
                                                             [x, y + 0.001], [x, y]]]}}


def test_a_preview_reads_the_first_features_only(tmp_path):
    """A point after the first PREVIEW_FEATURES polygons: the import refuses the layer, the
    preview never gets that far, yet counts every feature."""
    n = preview.PREVIEW_FEATURES + 10
    features = [polygon_feature(i) for i in range(n)]
    features.append({"type": "Feature", "properties": {"code": "P1", "name": "点"},
                     "geometry": {"type": "Point", "coordinates": [114, 33]}})
    path = tmp_path / "grids.geojson"
    # the "crs" after the features, where a reader of the first features alone does not see it
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features,
                                "crs": {"type": "name", "properties": {"name": "EPSG:4490"}}}, ensure_ascii=False))
    with pytest.raises(LayerError, match="grids and roads must be polygons"):
        layers.read_layer(path, "grids")
    shown = preview.preview_layer(path, "grids")
    assert shown["count"] == n + 1 and len(shown["features"]["features"]) == preview.PREVIEW_FEATURES
    assert shown["rows"][0] == ["G00000", "网格0"] and shown["crs"] == "EPSG:4490"
    assert shown["features"]["features"][-1]["properties"] == {"code": f"G{preview.PREVIEW_FEATURES - 1:05d}",
                                                               "name": f"网格{preview.PREVIEW_FEATURES - 1}"}


def test_the_head_of_a_geojson_is_read_without_the_rest(tmp_path):
    """What follows the features shown is never read: here it is not even JSON."""
    path = tmp_path / "grids.geojson"
    start = json.dumps({"type": "FeatureCollection", "name": "区", "features": [polygon_feature(i) for i in range(3)]})
    path.write_text(start[:-2] + ", " + "x" * (4 << 20))       # 4 MB of garbage where feature 4 would be
    head = preview.geojson_head(path, 3, chunk=4096)
    assert head["name"] == "区" and [f["properties"]["code"] for f in head["features"]] == ["G00000", "G00001",
                                                                                           "G00002"]
    assert preview.geojson_head(path, 4, chunk=4096) is None          # asked for more, it meets the garbage
    (tmp_path / "one.geojson").write_text(json.dumps(polygon_feature(0)))
    assert preview.geojson_head(tmp_path / "one.geojson", 3) is None   # a lone Feature: GDAL reads it whole


def test_a_geojson_preview_has_gdal_parse_the_file_once(tmp_path, monkeypatch):
    """GDAL parses a whole GeoJSON at each opening (a 190 MB one for seconds): a preview opens
    it once, for its count, and again for no change of CRS. pyogrio's calls are counted as they
    run, nothing is replaced."""
    import pyogrio

    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [polygon_feature(i) for i in range(50)]}))
    opened = []
    for name in ("read_info", "list_layers", "read_dataframe"):
        real = getattr(pyogrio, name)
        monkeypatch.setattr(pyogrio, name, lambda source, *a, _real=real, **k: (opened.append(str(source)),
                                                                               _real(source, *a, **k))[1])
    preview.preview_layer(path, "grids")
    preview.preview_layer(path, "grids", crs="EPSG:4326")
    assert [s for s in opened if s.endswith(str(path))] == [f"GeoJSON:{path}"]


# the preview off the request path ------------------------------------------------------------


def test_the_preview_runs_in_the_background_and_the_page_polls_it(app, client, planner, tmp_path, secret_file):
    from test_plan_import import previewed

    app.config["PREVIEW_WAIT_S"] = 0          # the request never waits: what a large file gets
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [polygon_feature(i) for i in range(30)]},
                               ensure_ascii=False))
    sent = send(client, planner, path)
    assert sent.status_code == 202 and sent.get_json()["state"] == "running"
    token = sent.get_json()["token"]
    shown = previewed(client, sent)
    assert shown.status_code == 200 and shown.get_json()["count"] == 30 and shown.get_json()["token"] == token
    # a choice that fails is reported by the poll; the upload stays for the next choice
    bad = previewed(client, client.get(f"/api/plan/uploads/{token}/preview", query_string={"crs": "EPSG:1"}))
    assert bad.status_code == 400 and "EPSG:1" in bad.get_json()["message"]
    again = previewed(client, client.get(f"/api/plan/uploads/{token}/preview", query_string={"crs": "EPSG:4490"}))
    assert again.status_code == 200 and len(again.get_json()["features"]["features"]) == 30
    # what restricted reading refuses is still refused at once, before any background work
    hostile = tmp_path / "other.geojson"
    hostile.write_text(vrt(str(secret_file)))
    assert send(client, planner, hostile).status_code == 400


def test_one_preview_runs_per_choice_however_often_it_is_asked(tmp_path):
    import io
    import threading
    import time as clock

    from gisgrid.storage.uploads import Uploads

    uploads = Uploads(tmp_path)
    token = uploads.save(io.BytesIO(b"{}"), "a.geojson", "planner1", 1 << 20)
    ran, release = [], threading.Event()

    def slow():
        ran.append(1)
        release.wait(5)
        return {"count": 1}

    answers = [uploads.preview(token, "grids", slow) for _ in range(8)]
    assert [a["state"] for a in answers] == ["running"] * 8
    release.set()
    for _ in range(100):
        if uploads.preview(token, "grids", slow)["state"] == "done":
            break
        clock.sleep(0.05)
    assert uploads.preview(token, "grids", slow) == {"state": "done", "result": {"count": 1}} and len(ran) == 1
    failed = uploads.preview(token, "roads", lambda: 1 / 0)          # a bug: logged, not shown
    for _ in range(100):
        if (failed := uploads.preview(token, "roads", slow))["state"] != "running":
            break
        clock.sleep(0.05)
    assert failed["state"] == "failed" and "unexpected error" in failed["error"]["template"]


def test_gdal_messages_do_not_show_where_the_server_keeps_uploads(app, client, planner, tmp_path):
    broken = tmp_path / "grids.kml"          # GDAL names the file it could not parse
    broken.write_text('<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark>')
    message = refused(send(client, planner, broken), app)
    assert "grids.kml" in message and "uploads" not in message and str(tmp_path) not in message


def test_an_xml_file_is_kml_or_osm_by_its_root_element_only(client, planner, app, tmp_path):
    """GML (whose driver fetches schemas and resolves links) with <kml> in a comment, or a KML
    that carries a VRT in its description, is neither."""
    gml = tmp_path / "grids.kml"
    gml.write_text('<?xml version="1.0"?><!-- <kml> --><gml:FeatureCollection xmlns:gml="http://www.opengis.net/gml">'
                   '<gml:featureMember><code>W1</code></gml:featureMember></gml:FeatureCollection>')
    assert "grids.kml 不是 gisgrid 接受的图层文件" in refused(send(client, planner, gml), app)
    assert formats.sniff_head(b'<kml><Document><description>&lt;OGRVRTDataSource&gt;</description>', "a.kml") \
        is None
    assert formats.sniff_head(b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- by hand --><kml xmlns="k"/>', "a.kml") == "KML"
