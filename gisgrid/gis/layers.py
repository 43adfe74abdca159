"""GIS input and output: read grid, road and finding layers in any common format and CRS
(CGCS2000 Gauss-Krüger zones included) into WGS84, with UTF-8 or GBK attributes, repairing
what can be repaired safely; write layers back out. No Flask, no SQL."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely

from ..domain.errors import LayerError
from .formats import DRIVER_PREFIX, GDAL_ERRORS, _check_driver, _gdal_path, _unzip, gdal_error, plain_path, sniff
from .repair import POINT, _polygons, _repaired, _require_geometry
from .encodings import _shapefile_encoding, _transcoded
from .crs import _to_wgs84, metric_crs

LAYERS = ("grids", "roads")
# Our column -> the field names a file may use for it, matched case-insensitively, first match wins.
FIELDS = {
    "grids": {
        "code": ("code", "编码", "编号", "id", "网格编码", "网格编号", "网格代码", "代码"),
        "name": ("name", "名称", "网格名称", "网格名"),
        # the town (镇办 / 街道 / 乡镇) a grid belongs to, as Chinese offices' tables head it
        "town": ("town", "镇办", "街道", "乡镇", "所属街道", "所属镇办", "所属乡镇", "所属镇街", "镇街", "街道办",
                 "街道办事处", "乡镇街道", "镇（街道）", "镇(街道)", "所属镇", "street"),
        "grid_class": ("class", "grid_class", "类别", "等级", "网格类别", "网格等级", "网格类型", "类型", "级别"),
        "leader": ("leader", "网格长", "网格长姓名", "负责人", "责任人", "网格负责人"),
    },
    "roads": {
        "code": ("code", "编码", "编号", "id", "道路编码", "道路编号", "道路代码", "代码"),
        "name": ("name", "名称", "道路名称", "道路名", "路名"),
        "grade": ("grade", "道路等级", "等级", "道路类型", "类型"),
        "grid": ("grid", "grid_code", "网格", "网格编码", "所属网格", "网格编号", "所属网格编码"),
    },
}
CLASSES = {"a": "A", "b": "B", "c": "C", "一类": "A", "二类": "B", "三类": "C"}


@dataclass
class LayerReport:
    source_crs: str
    encoding: str | None
    repaired: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)   # our column -> the file's field it was read from
    unmapped: list[str] = field(default_factory=list)       # the file's fields no column was read from


# reading ------------------------------------------------------------------------------


@contextmanager
def _opened(path: Path, layer: str | None, restricted: bool = True):
    """The file to read and the layer to pick: a zip is extracted into a temporary folder."""
    if not path.exists():
        raise LayerError("File not found: {path}", path=path)
    if path.suffix.lower() != ".zip":
        with plain_path(path) as plain:
            yield plain, layer
        return
    with tempfile.TemporaryDirectory(prefix="gisgrid-") as folder:
        found = _unzip(path, Path(folder), restricted)
        if layer is not None and any(p.stem == layer for p in found):
            yield next(p for p in found if p.stem == layer), None
        elif len(found) > 1:
            raise LayerError("{path} has several layers ({layers}); choose one with --layer", path=path.name,
                             layers=", ".join(p.stem for p in found))
        else:
            yield found[0], layer


def _read(path: Path, layer: str | None, max_features: int | None = None, restricted: bool = True
          ) -> tuple[gpd.GeoDataFrame, str | None]:
    """The features of one layer of `path` (a file, not a zip) and the attribute encoding used."""
    source, drivers = _gdal_path(path, restricted)
    shapefile = path.suffix.lower() == ".shp"
    codec, encoding = _shapefile_encoding(path) if shapefile else (None, None)
    try:
        with warnings.catch_warnings(record=True) as heard:
            warnings.simplefilter("always", RuntimeWarning)  # GDAL's notes, e.g. "measured (M) geometry not supported"
            # A GeoJSON field holding numbers and text is typed JSON; pyogrio keeps it as text and says so.
            warnings.filterwarnings("ignore", "Could not parse column", UserWarning)
            _check_driver(source, drivers, path)
            # GDAL parses a whole GeoJSON at each opening: its layer and encoding come from one
            geojson = _geojson_info(path) if sniff(path) == "GeoJSON" else None
            layers = [geojson["layer_name"]] if geojson else [name for name, _ in pyogrio.list_layers(source)]
            if not layers:
                raise LayerError("{path} has no features", path=path.name)
            if layer is None and len(layers) > 1:
                raise LayerError("{path} has several layers ({layers}); choose one with --layer", path=path.name,
                                 layers=", ".join(layers))
            if layer is not None and layer not in layers:
                raise LayerError("{path} has no layer {layer!r} (it has {layers})", path=path.name, layer=layer,
                                 layers=", ".join(layers))
            # Latin-1 maps every byte to one character, so reading never fails and _transcoded undoes it.
            # "fix" closes a ring left open (KML writers do that; GDAL reads it): nothing else is changed
            frame = pyogrio.read_dataframe(source, layer=layer, encoding="ISO-8859-1" if codec else None,
                                           on_invalid="fix", max_features=max_features)
            if not shapefile:
                encoding = (geojson or pyogrio.read_info(source, layer=layer)).get("encoding")
    except UnicodeDecodeError:
        raise LayerError("{path}: the attribute table is neither UTF-8 nor GBK", path=path.name) from None
    except GDAL_ERRORS as exc:
        raise LayerError("Cannot read {path}: {error}", path=path.name, error=gdal_error(exc, path)) from None
    frame = _transcoded(frame, codec, path.name) if codec else frame
    if any("Non closed ring" in str(w.message) for w in heard):
        frame.attrs["gisgrid_closed_rings"] = f"{path.name}: polygon rings the file left open were closed"
    return frame, encoding


def _text(value) -> str | None:
    """A stripped string, None for blanks; numbers without ".0" so numeric codes stay codes."""
    if value is None or value is pd.NaT or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _dbf_cut(alias: str) -> str:
    """The alias as a Shapefile keeps it: at most 10 bytes of UTF-8, no broken character."""
    return alias.encode("utf-8")[:10].decode("utf-8", "ignore")


def _chosen_fields(frame: gpd.GeoDataFrame, kind: str, name: str, chosen: dict[str, str]) -> dict[str, str]:
    """The planner's own mapping (our column -> the file's field), checked."""
    theirs = [c for c in frame.columns if c != frame.geometry.name]
    for ours, field_name in chosen.items():
        if ours not in FIELDS[kind]:
            raise LayerError("{field} is not a column of {kind}", field=ours, kind=kind)
        if field_name not in theirs:
            raise LayerError("{path} has no field {field!r} (its fields are {fields})", path=name, field=field_name,
                             fields=", ".join(map(str, theirs)))
    twice = sorted({f for f in chosen.values() if list(chosen.values()).count(f) > 1})
    if twice:
        raise LayerError("The field {field} is chosen for two columns", field=twice[0])
    if "code" not in chosen:
        raise LayerError("Choose the field that holds the code")
    return dict(chosen)


def guess_fields(frame: gpd.GeoDataFrame, kind: str, name: str) -> dict[str, str]:
    """Our column -> the file's field, matched by the usual names; each file field serves one
    column at most; `code` may be missing (the planner then chooses it)."""
    lowered = {str(c).strip().lower(): c for c in frame.columns if c != frame.geometry.name}
    if name.lower().endswith((".kml", ".kmz")):
        lowered.pop("id", None)  # KML placemark ids are made up by the writing program, not codes
    found: dict[str, str] = {}
    for ours, aliases in FIELDS[kind].items():
        names = [n for a in aliases for n in (a, _dbf_cut(a))]
        theirs = next((lowered[n] for n in names if n in lowered and lowered[n] not in found.values()), None)
        if theirs is not None:
            found[ours] = theirs
    if "code" not in found and "name" in found:
        found["code"] = found["name"]  # a KML's only label is its Name
    return found


def _fields(frame: gpd.GeoDataFrame, kind: str, name: str) -> dict[str, str]:
    found = guess_fields(frame, kind, name)
    lowered = {str(c).strip().lower(): c for c in frame.columns if c != frame.geometry.name}
    if "code" not in found:
        if "name" not in found:
            raise LayerError("{path} has no code field (one of: {aliases}); its fields are {fields}", path=name,
                             aliases=", ".join(FIELDS[kind]["code"]),
                             fields=", ".join(map(str, lowered.values())) or "none")
    return found


def _attributes(frame: gpd.GeoDataFrame, kind: str, name: str, chosen: dict[str, str] | None = None,
                report: LayerReport | None = None) -> pd.DataFrame:
    """Our columns read from the file's fields; a column the file does not provide is all None."""
    fields = _chosen_fields(frame, kind, name, chosen) if chosen else _fields(frame, kind, name)
    if report is not None:
        report.mapping = {ours: str(theirs) for ours, theirs in fields.items()}
        report.unmapped = [str(c) for c in frame.columns if c != frame.geometry.name and c not in fields.values()]
    out = pd.DataFrame({ours: [_text(v) for v in frame[fields[ours]]] if ours in fields else None
                        for ours in FIELDS[kind]}, index=range(len(frame)), dtype=object)  # None, not NaN
    if out["code"].isna().any():
        raise LayerError("{path}: {n} features have no code", path=name, n=int(out["code"].isna().sum()))
    duplicated = sorted(set(out.loc[out["code"].duplicated(), "code"]))
    if duplicated:
        raise LayerError("{path}: duplicate codes {codes}", path=name, codes=", ".join(duplicated[:20]))
    # a blank name stays None here: a stored feature keeps its name, a new one is named by its code
    # (changes.diff), as a file that says nothing about a value must not change it (issue 14)
    if kind == "grids":
        out["grid_class"] = [CLASSES.get(c.lower(), c) if c else None for c in out["grid_class"]]
        unknown = sorted({c for c in out["grid_class"] if c not in (None, "A", "B", "C")})
        if unknown:
            raise LayerError("{path}: grid class must be A, B or C (found {classes})", path=name,
                             classes=", ".join(unknown))
    return out


def no_progress(_stage: str, _fraction: float) -> None:
    pass


def read_layer(path, kind: str, crs: str | None = None, layer: str | None = None,
               fields: dict[str, str] | None = None, progress: Callable[[str, float], None] = no_progress,
               restricted: bool = True) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Grids or roads in EPSG:4326 with our columns (FIELDS[kind], then geometry), in file order.
    `fields` (our column -> the file's field) replaces the guess from the usual field names;
    `progress(stage, fraction)` hears how far the reading is; `restricted=False` (the command
    line) lets GDAL open any format it knows."""
    if kind not in LAYERS:
        raise LayerError("Layers are grids or roads, not {kind!r}", kind=kind)
    path = Path(path)
    name = path.name
    progress("read", 0.05)
    with _opened(path, layer, restricted) as (source, chosen):
        frame, encoding = _read(source, chosen, restricted=restricted)
    if len(frame) == 0:
        raise LayerError("{path} has no features", path=name)
    report = LayerReport(source_crs="", encoding=encoding)
    if frame.attrs.get("gisgrid_closed_rings"):
        report.warnings.append(frame.attrs["gisgrid_closed_rings"])
    if frame.attrs.get("gisgrid_warning"):
        report.warnings.append(frame.attrs["gisgrid_warning"])
        report.encoding = "GB18030"
    progress("attributes", 0.3)
    table = _attributes(frame, kind, name, fields, report)
    codes = table["code"].tolist()
    geoms = frame.geometry.values.to_numpy()
    _require_geometry(geoms, codes, name)
    progress("reproject", 0.4)
    polygons = gpd.GeoSeries(_polygons(geoms.copy(), codes, name, report), crs=frame.crs)
    wgs84 = _to_wgs84(polygons, crs, name, report)
    progress("repair", 0.55)
    return gpd.GeoDataFrame(table, geometry=_repaired(wgs84.values.to_numpy(), codes, name, report), crs=4326), report


def layer_names(path, restricted: bool = True) -> list[str]:
    """The layers a file offers: a GeoPackage's layers, the layer files in a zip."""
    path = Path(path)
    if path.suffix.lower() != ".zip":
        with plain_path(path) as plain:
            return _list_layers(plain, restricted)
    with tempfile.TemporaryDirectory(prefix="gisgrid-") as folder:
        found = _unzip(path, Path(folder), restricted)
        return [p.stem for p in found] if len(found) > 1 else _list_layers(found[0], restricted)


def _list_layers(path: Path, restricted: bool) -> list[str]:
    if not path.exists():
        raise LayerError("File not found: {path}", path=path)
    source, drivers = _gdal_path(path, restricted)
    try:
        if sniff(path) == "GeoJSON":            # one layer; its name comes with the count a preview needs
            return [_geojson_info(path)["layer_name"]]
        _check_driver(source, drivers, path)
        return [name for name, _ in pyogrio.list_layers(source)]
    except GDAL_ERRORS as exc:
        raise LayerError("Cannot read {path}: {error}", path=path.name, error=gdal_error(exc, path)) from None


def _geojson_info(path: Path) -> dict:
    """pyogrio's read_info of a GeoJSON file (layer name, feature count, encoding). GDAL parses
    the whole file to count its features, so the answer is kept while the file is unchanged:
    a preview asks twice (layers, then count) and again for each choice of CRS."""
    stat = path.stat()
    return dict(_geojson_info_of(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=16)
def _geojson_info_of(path: str, _mtime_ns: int, _size: int) -> dict:
    return pyogrio.read_info(DRIVER_PREFIX["GeoJSON"] + path)


def read_points(path, crs: str | None = None, layer: str | None = None, restricted: bool = True) -> gpd.GeoDataFrame:
    """Findings in EPSG:4326: points in any vector format (the accepted ones unless not
    `restricted`), or a CSV with lon/lat (or x/y) columns; every other field is kept as a
    column, `id` as text."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        frame = _read_csv(path, crs)
    else:
        with _opened(path, layer, restricted) as (source, chosen):
            frame, _ = _read(source, chosen, restricted=restricted)
    if len(frame) == 0:
        raise LayerError("{path} has no features", path=path.name)
    frame = _plain_text(frame)
    labels = [str(i) for i in frame["id"]] if "id" in frame.columns else [f"#{n + 1}" for n in range(len(frame))]
    geoms = frame.geometry.values.to_numpy()
    _require_geometry(geoms, labels, path.name)
    if not (shapely.get_type_id(geoms) == POINT).all():
        raise LayerError("{path}: findings must be points", path=path.name)
    frame = frame.set_geometry(_to_wgs84(frame.geometry, crs, path.name, LayerReport("", None)))
    return frame.set_geometry(shapely.force_2d(frame.geometry.values))


def _plain_text(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Text columns hold str or None (pandas would give NaN); `id` is text whatever its type."""
    for column in frame.columns:
        if column == "id":
            frame[column] = pd.Series([_text(v) for v in frame[column]], index=frame.index, dtype=object)
        elif column != frame.geometry.name and pd.api.types.is_string_dtype(frame[column].dtype):
            frame[column] = pd.Series([None if pd.isna(v) else v for v in frame[column]], index=frame.index,
                                      dtype=object)
    return frame


CSV_COORDINATES = (("lon", "lat"), ("lng", "lat"), ("longitude", "latitude"), ("经度", "纬度"), ("x", "y"))


def _read_csv(path: Path, crs: str | None) -> gpd.GeoDataFrame:
    """A CSV of findings; UTF-8 (with or without BOM) or, as Excel saves it in China, GBK."""
    if not path.exists():
        raise LayerError("File not found: {path}", path=path)
    try:
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except UnicodeDecodeError:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gb18030")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise LayerError("Cannot read {path}: {error}", path=path.name, error=str(exc).splitlines()[0]) from None
    lower = {str(c).strip().lower(): c for c in table.columns}
    xy = next(((lower[a], lower[b]) for a, b in CSV_COORDINATES if a in lower and b in lower), None)
    if xy is None:
        raise LayerError("{path}: a CSV of findings needs lon and lat (or x and y) columns", path=path.name)
    try:
        x = pd.to_numeric(table[xy[0]].str.strip(), errors="raise")
        y = pd.to_numeric(table[xy[1]].str.strip(), errors="raise")
    except ValueError:
        raise LayerError("{path}: lon/lat must be numbers", path=path.name) from None
    if x.isna().any() or y.isna().any():
        raise LayerError("{path}: lon/lat must be numbers", path=path.name)
    attributes = pd.DataFrame({c: [v.strip() or None for v in table[c]] for c in table.columns if c not in xy},
                              index=table.index, dtype=object)
    # Coordinates in a CSV are lon/lat unless told otherwise: _to_wgs84 assigns `crs` when given.
    return gpd.GeoDataFrame(attributes, geometry=gpd.points_from_xy(x, y), crs=None if crs else 4326)


# writing ------------------------------------------------------------------------------


# places -------------------------------------------------------------------------------


def place_in_grids(roads: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> pd.Series:
    """For each road, the code of the grid holding the largest part of its area (None if none)."""
    result = pd.Series([None] * len(roads), index=roads.index, dtype=object)
    if len(roads) == 0 or len(grids) == 0:
        return result
    x0, y0, x1, y1 = roads.to_crs(4326).total_bounds
    metric = metric_crs((x0 + x1) / 2, (y0 + y1) / 2)
    road_m = roads.geometry.to_crs(metric).values.to_numpy()
    grid_m = grids.geometry.to_crs(metric).values.to_numpy()
    r, g = shapely.STRtree(grid_m).query(road_m, predicate="intersects")
    area = shapely.area(shapely.intersection(road_m[r], grid_m[g]))
    pairs = pd.DataFrame({"road": r, "grid": g, "area": area})
    # A road sharing only an edge with a grid overlaps it by rounding noise (~1e-9 m²): not a part of it.
    pairs = pairs[pairs["area"] > 1e-6 * shapely.area(road_m[r])]
    # Largest area first; on a tie the grid earlier in the layer, so the answer never varies.
    pairs = pairs.sort_values(["road", "area", "grid"], ascending=[True, False, True])
    pairs = pairs.drop_duplicates("road")
    result.iloc[pairs["road"].to_numpy()] = grids["code"].to_numpy()[pairs["grid"].to_numpy()]
    return result
