"""GIS input and output: read grid, road and finding layers in any common format and CRS
(CGCS2000 Gauss-Krüger zones included) into WGS84, with UTF-8 or GBK attributes, repairing
what can be repaired safely; write layers back out. No Flask, no SQL."""

from __future__ import annotations

import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from .errors import LayerError

KINDS = ("grids", "roads")
ALIASES = {
    "code": ("code", "编码", "编号", "id", "网格编码", "道路编码"),
    "name": ("name", "名称", "网格名称", "道路名称"),
    "town": ("town", "镇办", "街道", "乡镇"),
    "grid_class": ("class", "grid_class", "类别", "等级", "网格类别"),
    "leader": ("leader", "网格长"),
    "grade": ("grade", "道路等级"),
    "grid": ("grid", "grid_code", "网格", "所属网格"),
}
COLUMNS = {"grids": ["code", "name", "town", "grid_class", "leader"], "roads": ["code", "name", "grade", "grid"]}
CLASSES = {"a": "A", "b": "B", "c": "C", "一类": "A", "二类": "B", "三类": "C"}
CHINA = (70.0, 0.0, 140.0, 56.0)
WRITERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile", ".fgb": "FlatGeobuf"}


@dataclass
class LayerReport:
    source_crs: str
    encoding: str | None
    repaired: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def metric_crs(lon: float, lat: float) -> CRS:
    """A metric CRS for areas and distances: the CGCS2000 3° Gauss-Krüger zone (no zone prefix)
    in China's longitudes, the WGS84 UTM zone elsewhere."""
    if 73.5 <= lon < 136.5:
        return CRS.from_epsg(4534 + int(round(lon / 3.0)) - 25)
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def parse_crs(text: str) -> CRS:
    value = str(text).strip()
    if value.isdigit():
        value = f"EPSG:{value}"
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise LayerError("Unknown CRS {crs!r}; give an EPSG code such as EPSG:4547", crs=text) from None


# reading ------------------------------------------------------------------------------


def _unpack(path: Path, folder: Path) -> Path:
    """A zipped Shapefile (or other layer) extracted safely into `folder`."""
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                target = (folder / member).resolve()
                if not target.is_relative_to(folder.resolve()):
                    raise LayerError("{path}: the zip file holds a path outside itself ({member})", path=path.name,
                                     member=member)
            archive.extractall(folder)
    except zipfile.BadZipFile:
        raise LayerError("{path} is not a valid zip file", path=path.name) from None
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".shp", ".gpkg", ".geojson", ".json", ".kml",
                                                                         ".fgb"))
    if not found:
        raise LayerError("{path}: the zip file holds no Shapefile or other layer", path=path.name)
    return found[0]


def _shapefile_encoding(path: Path) -> str | None:
    """None to let GDAL decide (a .cpg or the dbf's code page says); else our guess."""
    if path.suffix.lower() != ".shp" or path.with_suffix(".cpg").exists() or path.with_suffix(".CPG").exists():
        return None
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
    if dbf is None:
        return None
    raw = dbf.read_bytes()
    if len(raw) > 29 and raw[29] != 0:  # the dbf names its code page
        return None
    try:
        raw.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        return "GB18030"  # a superset of GBK: what Chinese offices' files without .cpg are


def _read(path: Path, layer: str | None) -> tuple[gpd.GeoDataFrame, str | None]:
    if not path.exists():
        raise LayerError("File not found: {path}", path=path)
    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:
        raise LayerError("Cannot read {path}: {error}", path=path.name, error=str(exc).splitlines()[0]) from None
    if layer is None and len(layers) > 1:
        raise LayerError("{path} has several layers ({layers}); choose one with --layer", path=path.name,
                         layers=", ".join(layers))
    if layer is not None and layer not in layers:
        raise LayerError("{path} has no layer {layer!r} (it has {layers})", path=path.name, layer=layer,
                         layers=", ".join(layers))
    encoding = _shapefile_encoding(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding, on_invalid="ignore")
    except UnicodeDecodeError:
        raise LayerError("{path}: the attribute table is neither UTF-8 nor GBK", path=path.name) from None
    except Exception as exc:
        raise LayerError("Cannot read {path}: {error}", path=path.name, error=str(exc).splitlines()[0]) from None
    return frame, encoding or "as declared"


def _to_wgs84(frame: gpd.GeoDataFrame, crs: str | None, name: str, report: LayerReport) -> gpd.GeoDataFrame:
    if crs is not None:
        wanted = parse_crs(crs)
        if frame.crs is not None and not CRS(frame.crs).equals(wanted):
            report.warnings.append(f"{name} declares {CRS(frame.crs).to_string()}; using {wanted.to_string()} as asked")
        frame = frame.set_crs(wanted, allow_override=True)
    if frame.crs is None:
        raise LayerError("{path} has no CRS; pass --crs, e.g. --crs EPSG:4547 (CGCS2000 3° Gauss-Krüger, "
                         "central meridian 114°E)", path=name)
    source = CRS(frame.crs)
    report.source_crs = source.to_string()
    out = frame.to_crs(4326) if not source.equals(CRS.from_epsg(4326)) else frame
    bounds = shapely.bounds(out.geometry.values)
    if not np.all(np.isfinite(bounds[~np.isnan(bounds).all(axis=1)])) or \
            np.nanmin(bounds[:, [0, 2]]) < -180 or np.nanmax(bounds[:, [0, 2]]) > 180 or \
            np.nanmin(bounds[:, [1, 3]]) < -90 or np.nanmax(bounds[:, [1, 3]]) > 90:
        hint = ""
        raw_x = np.nanmax(np.abs(shapely.bounds(frame.geometry.values)[:, [0, 2]]))
        if source.is_geographic and raw_x > 180:
            hint = "; the coordinates look like metres: pass the projected CRS, e.g. --crs EPSG:4547"
        elif raw_x > 1e7:
            hint = ("; x values like 38500000 carry a zone prefix: use EPSG:4513–4533 (with zone prefix), "
                    "not EPSG:4534–4554")
        raise LayerError("{path}: coordinates cannot be in {crs}{hint}", path=name, crs=source.to_string(), hint=hint)
    x0, y0, x1, y1 = out.total_bounds
    if x0 < CHINA[0] or y0 < CHINA[1] or x1 > CHINA[2] or y1 > CHINA[3]:
        report.warnings.append(f"{name} lies partly outside China ({x0:.3f}, {y0:.3f} – {x1:.3f}, {y1:.3f}); "
                               "check its CRS")
    return out


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _columns(frame: pd.DataFrame, kind: str, name: str) -> dict[str, str]:
    """Our field -> the file's field, matched case-insensitively through ALIASES."""
    lowered = {str(c).strip().lower(): c for c in frame.columns if c != frame.geometry.name}
    if name.lower().endswith((".kml", ".kmz")):
        lowered.pop("id", None)  # KML feature ids are made up by the writer, not codes
    found = {}
    for ours in COLUMNS[kind]:
        for alias in ALIASES[ours]:
            if alias.lower() in lowered:
                found[ours] = lowered[alias.lower()]
                break
    if "code" not in found:
        if "name" in found:  # KML: Name is the only label
            found["code"] = found["name"]
        else:
            raise LayerError("{path} has no code field (one of: {aliases}); its fields are {fields}", path=name,
                             aliases=", ".join(ALIASES["code"]),
                             fields=", ".join(map(str, lowered.values())) or "none")
    return found


def _polygons(frame: gpd.GeoDataFrame, codes: list[str], name: str, report: LayerReport) -> np.ndarray:
    geoms = frame.geometry.values
    missing = [c for c, g in zip(codes, geoms) if g is None or g.is_empty]
    if missing:
        raise LayerError("{path}: features without geometry: {codes}", path=name, codes=", ".join(missing[:10]))
    types = set(shapely.get_type_id(geoms).tolist())
    if not types <= {3, 6}:
        raise LayerError("{path}: grids and roads must be polygons (this layer has {types})", path=name,
                         types=", ".join(sorted({g.geom_type for g in geoms})))
    geoms = np.array(shapely.force_2d(geoms), dtype=object)
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    broken = []
    for i in invalid:
        reason = shapely.is_valid_reason(geoms[i])
        fixed = _repair(geoms[i])
        if fixed is None:
            broken.append(f"{codes[i]} ({reason})")
        else:
            geoms[i] = fixed
            report.repaired.append((codes[i], reason))
    if broken:
        raise LayerError("{path}: invalid geometry that cannot be repaired safely: {features}", path=name,
                         features="; ".join(broken[:10]))
    single = shapely.get_type_id(geoms) == 3
    geoms[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
    return geoms


def _polygonal_part(geometry):
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type == "Polygon" and not p.is_empty]
    return shapely.MultiPolygon(parts) if parts else None


def _repair(geometry):
    """Repair when two standard repairs agree (so no reading of the drawing is guessed)."""
    structure = _polygonal_part(shapely.make_valid(geometry, method="structure", keep_collapsed=False))
    linework = _polygonal_part(shapely.make_valid(geometry, method="linework"))
    if structure is None or linework is None:
        return None
    larger = max(structure.area, linework.area)
    if larger == 0 or structure.symmetric_difference(linework).area > 0.01 * larger:
        return None
    return structure


def read_layer(path, kind: str, crs: str | None = None, layer: str | None = None
               ) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Read grids or roads into WGS84 with our columns (see COLUMNS, plus geometry)."""
    if kind not in KINDS:
        raise LayerError("Layers are grids or roads, not {kind!r}", kind=kind)
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="gisgrid-") as folder:
        source = _unpack(path, Path(folder)) if path.suffix.lower() == ".zip" else path
        frame, encoding = _read(source, layer)
    name = path.name
    if len(frame) == 0:
        raise LayerError("{path} has no features", path=name)
    report = LayerReport(source_crs="", encoding=encoding)
    frame = _to_wgs84(frame, crs, name, report)
    fields = _columns(frame, kind, name)
    out = pd.DataFrame({ours: [_text(v) for v in frame[theirs]] for ours, theirs in fields.items()})
    for column in COLUMNS[kind]:
        if column not in out:
            out[column] = None
    if out["code"].isna().any():
        raise LayerError("{path}: {n} features have no code", path=name, n=int(out["code"].isna().sum()))
    duplicated = sorted(set(out.loc[out["code"].duplicated(), "code"]))
    if duplicated:
        raise LayerError("{path}: duplicate codes {codes}", path=name, codes=", ".join(duplicated[:10]))
    out["name"] = out["name"].fillna(out["code"])
    if kind == "grids":
        out["grid_class"] = [CLASSES.get(c.lower(), c.upper()) if c else None for c in out["grid_class"]]
        bad = sorted({c for c in out["grid_class"] if c not in (None, "A", "B", "C")})
        if bad:
            raise LayerError("{path}: grid class must be A, B or C (found {classes})", path=name,
                             classes=", ".join(bad))
    geoms = _polygons(frame, out["code"].tolist(), name, report)
    return gpd.GeoDataFrame(out[COLUMNS[kind]], geometry=geoms, crs=4326), report


def read_points(path, crs: str | None = None, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read findings: points in any vector format, or a CSV with lon/lat (or x/y) columns."""
    path = Path(path)
    report = LayerReport(source_crs="", encoding=None)
    if path.suffix.lower() == ".csv":
        if not path.exists():
            raise LayerError("File not found: {path}", path=path)
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        lower = {c.lower(): c for c in table.columns}
        xy = next(((lower[a], lower[b]) for a, b in (("lon", "lat"), ("lng", "lat"), ("x", "y"))
                   if a in lower and b in lower), None)
        if xy is None:
            raise LayerError("{path}: a CSV of findings needs lon and lat (or x and y) columns", path=path.name)
        try:
            x, y = table[xy[0]].astype(float), table[xy[1]].astype(float)
        except ValueError:
            raise LayerError("{path}: lon/lat must be numbers", path=path.name) from None
        frame = gpd.GeoDataFrame(table.drop(columns=list(xy)).replace("", None), geometry=gpd.points_from_xy(x, y),
                                 crs=None if crs else 4326)
    else:
        with tempfile.TemporaryDirectory(prefix="gisgrid-") as folder:
            source = _unpack(path, Path(folder)) if path.suffix.lower() == ".zip" else path
            frame, _ = _read(source, layer)
    frame = _to_wgs84(frame, crs, path.name, report)
    if len(frame) and not set(shapely.get_type_id(frame.geometry.values).tolist()) <= {0}:
        raise LayerError("{path}: findings must be points", path=path.name)
    if "id" in frame.columns:
        frame["id"] = [_text(v) for v in frame["id"]]
    return frame


# writing ------------------------------------------------------------------------------


def _short_names(columns: list[str]) -> dict[str, str]:
    """Shapefile field names: at most 10 bytes, unique."""
    out, used = {}, set()
    for column in columns:
        base = column.encode("utf-8")[:10].decode("utf-8", "ignore")
        name, n = base, 1
        while name.lower() in used:
            suffix = str(n)
            name = base.encode("utf-8")[:10 - len(suffix)].decode("utf-8", "ignore") + suffix
            n += 1
        used.add(name.lower())
        out[column] = name
    return out


def write_layer(frame: gpd.GeoDataFrame, path, layer: str | None = None) -> None:
    path = Path(path)
    driver = WRITERS.get(path.suffix.lower())
    if driver is None:
        raise LayerError("Cannot write {path}: use .gpkg, .geojson, .shp or .fgb", path=path.name)
    frame = frame.copy()
    for column in frame.columns:
        if column != frame.geometry.name and frame[column].dtype == object:
            frame[column] = [None if v is None else (v.isoformat() if hasattr(v, "isoformat") else v)
                             for v in frame[column]]
    options = {}
    if driver == "ESRI Shapefile":
        frame = frame.rename(columns=_short_names([c for c in frame.columns if c != frame.geometry.name]))
        options["encoding"] = "UTF-8"
    if driver == "GPKG":
        options["layer"] = layer or path.stem
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and driver != "ESRI Shapefile":
        path.unlink()
    try:
        pyogrio.write_dataframe(frame, path, driver=driver, **options)
    except Exception as exc:
        raise LayerError("Cannot write {path}: {error}", path=path.name, error=str(exc).splitlines()[0]) from None


# places -------------------------------------------------------------------------------


def place_in_grids(roads: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> pd.Series:
    """For each road, the code of the grid holding the largest part of its area (None if none)."""
    result = pd.Series([None] * len(roads), index=roads.index, dtype=object)
    if len(roads) == 0 or len(grids) == 0:
        return result
    x0, y0, x1, y1 = roads.total_bounds
    metric = metric_crs((x0 + x1) / 2, (y0 + y1) / 2)
    road_m = roads.geometry.to_crs(metric).values
    grid_m = grids.geometry.to_crs(metric).values
    r, g = shapely.STRtree(grid_m).query(road_m, predicate="intersects")
    if len(r) == 0:
        return result
    area = shapely.area(shapely.intersection(road_m[r], grid_m[g]))
    pairs = pd.DataFrame({"road": r, "grid": g, "area": area})
    pairs = pairs[pairs["area"] > 0].sort_values(["road", "area"], ascending=[True, False]).drop_duplicates("road")
    codes = grids["code"].to_numpy()
    result.iloc[pairs["road"].to_numpy()] = codes[pairs["grid"].to_numpy()]
    return result

