"""The import wizard's preview: the first rows, a sample of features and the count, read
without reading a large file whole."""

from __future__ import annotations
import json
import tempfile
from pathlib import Path
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS
from ..domain.errors import LayerError
from .layers import LAYERS, LayerReport, _geojson_info, _opened, _read, _text, guess_fields, layer_names
from .crs import _crs_label, _to_wgs84
from .formats import _gdal_path, sniff


PREVIEW_FEATURES = 2000


def geojson_head(path, n: int, chunk: int = 1 << 20) -> dict | None:
    """A FeatureCollection of the file's first `n` features with its other top-level members
    (crs, name ...), read with the json decoder from the start of the file: the rest of the
    file is never read. None when the file is not a FeatureCollection this reader follows."""
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8-sig") as file:
        text, at, ended = "", 0, False

        def more() -> bool:
            nonlocal text, at, ended
            piece = file.read(chunk)
            ended = not piece
            text, at = text[at:] + piece, 0
            return bool(piece)

        def skip() -> str:      # the next non-blank character, not consumed ("" at the end)
            nonlocal at
            while True:
                while at < len(text) and text[at] in " \t\r\n":
                    at += 1
                if at < len(text) or not more():
                    return text[at] if at < len(text) else ""

        def value():
            nonlocal at, ended
            skip()                  # raw_decode takes no blanks before a value
            while True:
                try:
                    found, end = decoder.raw_decode(text, at)
                    # a number cut by the chunk's end would decode as a shorter one: want a byte after
                    if end < len(text) or ended:
                        at = end
                        return found
                except json.JSONDecodeError:
                    if ended:
                        raise
                if not more():
                    ended = True

        def expect(char: str) -> None:
            nonlocal at
            if skip() != char:
                raise json.JSONDecodeError(f"expected {char!r}", text, at)
            at += 1

        try:
            members, features = {}, None
            expect("{")
            while skip() != "}":
                key = value()
                expect(":")
                if key == "features":
                    features = []
                    expect("[")
                    while skip() != "]" and len(features) < n:
                        features.append(value())
                        if skip() == ",":
                            at += 1
                    break
                members[key] = value()
                if skip() == ",":
                    at += 1
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            return None
    if features is None or members.get("type") != "FeatureCollection":
        return None
    return {**members, "type": "FeatureCollection", "features": features}


def preview_layer(path, kind: str, layer: str | None = None, crs: str | None = None, rows: int = 5,
                  restricted: bool = True) -> dict:
    """What an import would read, before anything is written (JSON-ready): the layers to pick
    from, the fields with the guessed mapping, the first rows as text, the declared CRS, and
    up to PREVIEW_FEATURES features in WGS84 when the CRS is known (declared or `crs`)."""
    if kind not in LAYERS:
        raise LayerError("Layers are grids or roads, not {kind!r}", kind=kind)
    path = Path(path)
    names = layer_names(path, restricted)
    out = {"layers": names, "layer": layer if layer is not None else (names[0] if len(names) == 1 else None),
           "count": None, "fields": [], "mapping": {}, "unmapped": [], "rows": [], "encoding": None, "crs": None,
           "features": None}
    if out["layer"] is None:
        return out   # several layers: the planner picks one first
    with _opened(path, out["layer"] if len(names) > 1 else layer, restricted) as (source, chosen):
        head = geojson_head(source, PREVIEW_FEATURES) if sniff(source) == "GeoJSON" else None
        if head is not None:
            # GDAL would parse the whole file again to give the first features: read them alone
            with tempfile.TemporaryDirectory(prefix="gisgrid-") as folder:
                extract = Path(folder) / source.name
                extract.write_text(json.dumps(head, ensure_ascii=False), encoding="utf-8")
                frame, out["encoding"] = _read(extract, None, restricted=restricted)
            info = _geojson_info(source)
            out["count"] = int(info["features"])
            if info["crs"] is not None:      # a "crs" member may follow the features, past the head
                frame = frame.set_crs(info["crs"], allow_override=True)
        else:
            frame, out["encoding"] = _read(source, chosen, max_features=PREVIEW_FEATURES, restricted=restricted)
            out["count"] = int(pyogrio.read_info(_gdal_path(source, restricted)[0], layer=chosen)["features"])
    if len(frame) == 0:
        raise LayerError("{path} has no features", path=path.name)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    out["fields"] = [str(c) for c in columns]
    out["mapping"] = guess_fields(frame, kind, path.name)
    # what no column is read from: the planner may map it, or knows its values stay as stored
    out["unmapped"] = [f for f in out["fields"] if f not in out["mapping"].values()]
    out["rows"] = [[_text(v) for v in record] for record in frame[columns].head(rows).itertuples(index=False)]
    out["crs"] = _crs_label(CRS(frame.crs)) if frame.crs is not None else None
    if crs is None and out["crs"] is None:
        return out
    geoms = frame.geometry[~(frame.geometry.isna() | frame.geometry.is_empty)]
    wgs84 = _to_wgs84(geoms, crs, path.name, LayerReport(source_crs="", encoding=None))
    code, label = out["mapping"].get("code"), out["mapping"].get("name")
    # whole columns at once: a cell at a time through pandas took most of a preview's time
    shown = frame.loc[wgs84.index]
    codes = [_text(v) for v in shown[code]] if code else [None] * len(shown)
    labels = [_text(v) for v in shown[label]] if label else [None] * len(shown)
    shapes = shapely.to_geojson(shapely.simplify(wgs84.values.to_numpy(), 1e-6))
    out["features"] = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(g), "properties": {"code": c, "name": n}}
        for g, c, n in zip(shapes, codes, labels)]}
    return out
