"""GIS input and output: read grid, road and finding layers in any common format and CRS
(CGCS2000 Gauss-Krüger zones included) into WGS84, with UTF-8 or GBK attributes, repairing
what can be repaired safely; write layers back out. No Flask, no SQL."""

from __future__ import annotations

import codecs
import functools
import json
import math
import re
from collections.abc import Callable
import tempfile
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from ..domain.errors import LayerError

KINDS = ("grids", "roads")
# Our column -> the field names a file may use for it, matched case-insensitively, first match wins.
FIELDS = {
    "grids": {
        "code": ("code", "编码", "编号", "id", "网格编码"),
        "name": ("name", "名称", "网格名称"),
        "town": ("town", "镇办", "街道", "乡镇"),
        "grid_class": ("class", "grid_class", "类别", "等级", "网格类别"),
        "leader": ("leader", "网格长"),
    },
    "roads": {
        "code": ("code", "编码", "编号", "id", "道路编码"),
        "name": ("name", "名称", "道路名称"),
        "grade": ("grade", "道路等级", "等级"),
        "grid": ("grid", "grid_code", "网格", "网格编码", "所属网格"),
    },
}
CLASSES = {"a": "A", "b": "B", "c": "C", "一类": "A", "二类": "B", "三类": "C"}
CHINA = (70.0, 0.0, 140.0, 56.0)
FORMATS = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".fgb")
WRITERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile", ".fgb": "FlatGeobuf"}
POLYGON, MULTIPOLYGON, COLLECTION, POINT = 3, 6, 7, 0  # shapely type ids
GDAL_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, ValueError)


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
        zone = math.floor(lon / 3 + 0.5)  # not round(): it rounds 24.5 to 24, a zone west of 75°E
        return CRS.from_epsg(4534 + zone - 25)
    zone = min(int((lon + 180) // 6) + 1, 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def parse_crs(text: str) -> CRS:
    value = str(text).strip()
    if value.isdigit():
        value = f"EPSG:{value}"
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise LayerError("Unknown CRS {crs!r}; give an EPSG code such as EPSG:4547", crs=text) from None


def _crs_label(crs: CRS) -> str:
    """EPSG:n when the CRS is one (a Shapefile's .prj rarely says so itself), else its name."""
    code = crs.to_epsg(min_confidence=70)
    return f"EPSG:{code}" if code else crs.name


# reading ------------------------------------------------------------------------------


@contextmanager
def _opened(path: Path, layer: str | None, restricted: bool = True):
    """The file to read and the layer to pick: a zip is extracted into a temporary folder."""
    if not path.exists():
        raise LayerError("File not found: {path}", path=path)
    if path.suffix.lower() != ".zip":
        yield path, layer
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


UNZIPPED_MAX_BYTES = 2 << 30   # a city's roads are a few hundred MB; a zip bomb is far more
# what a zipped layer may hold beside its layer files: a Shapefile's parts, ArcGIS metadata, a note
ZIP_SIDECARS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml", ".txt")


def _unzip(path: Path, folder: Path, restricted: bool = True) -> list[Path]:
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if not (folder / member).resolve().is_relative_to(folder.resolve()):
                    raise LayerError("{path}: the zip file holds a path outside itself ({member})", path=path.name,
                                     member=member)
                # GDAL opens only the layer files found below, but a VRT among them would name any file
                if restricted and not member.endswith("/") and "__MACOSX" not in member \
                        and not member.lower().endswith(FORMATS + ZIP_SIDECARS):
                    raise LayerError("{path}: the zip file holds {member}, which is no part of a layer gisgrid "
                                     "accepts", path=path.name, member=member)
            # each member is read up to its declared size, so the declared total bounds the disk used
            if sum(info.file_size for info in archive.infolist()) > UNZIPPED_MAX_BYTES:
                raise LayerError("{path} would unpack to more than {mb} MB; send the layer in smaller parts",
                                 path=path.name, mb=UNZIPPED_MAX_BYTES >> 20)
            archive.extractall(folder)
    except zipfile.BadZipFile:
        raise LayerError("{path} is not a valid zip file", path=path.name) from None
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in FORMATS and "__MACOSX" not in p.parts)
    if not found:
        raise LayerError("{path}: the zip file holds no Shapefile or other layer", path=path.name)
    return found


# restricted reading ---------------------------------------------------------------------
# A web upload is opened only as one of the formats gisgrid accepts, told by its first bytes:
# GDAL itself picks a driver by content, whatever the name, so a VRT saved as .geojson would be
# opened as a VRT and show any file or URL it names. The command line, a local operator's own
# files, keeps every driver (restricted=False).
SNIFF_BYTES = 64 * 1024
# the drivers that may open each accepted format (LIBKML reads KML when GDAL has it)
DRIVERS = {"GeoJSON": ("GeoJSON",), "GPKG": ("GPKG",), "FlatGeobuf": ("FlatGeobuf",),
           "ESRI Shapefile": ("ESRI Shapefile",), "KML": ("LIBKML", "KML"), "OSM": ("OSM",)}
# a "DRIVER:" prefix GDAL hands to that driver alone: to any other the file does not exist
DRIVER_PREFIX = {"GeoJSON": "GeoJSON:", "GPKG": "GPKG:"}
# what other GDAL drivers look for anywhere in an XML file's start, to claim it before KML or OSM
FOREIGN_XML = (b"ogrvrtdatasource", b"vrtdataset", b"ogrwfsdatasource", b"wfs_capabilities", b"/vsi")
XML_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*)")
XML_COMMENT = re.compile(rb"<!--.*?(-->|$)", re.S)


def sniff(path) -> str | None:
    """The accepted format (a key of DRIVERS) the file's first bytes show, or None."""
    with open(path, "rb") as file:
        return sniff_head(file.read(SNIFF_BYTES), Path(path).name)


def sniff_head(head: bytes, name: str) -> str | None:
    """sniff() of a file's first SNIFF_BYTES bytes; `name` is the file's, for messages."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{"):
        return "GeoJSON"
    if head.startswith(b"SQLite format 3\x00"):
        return "GPKG"
    if head[:3] == b"fgb" and head[3:4] == b"\x03":
        return "FlatGeobuf"
    if head.startswith(b"\x00\x00\x27\x0a"):
        return "ESRI Shapefile"
    if b"OSMHeader" in head[:64]:
        return "OSM"
    if text.startswith(b"<"):
        text = XML_COMMENT.sub(b"", text)          # a root element named inside a comment is none
        root = XML_ROOT.search(text)
        if root is None or any(marker in text.lower() for marker in FOREIGN_XML):
            return None
        # Entities and DTDs are declared before the root element; KML and OSM files need none, and
        # an external one would name a file or URL for the XML parser to read.
        if b"<!doctype" in text[:root.start()].lower() or b"<!entity" in text[:root.start()].lower():
            raise LayerError("{path} declares a DOCTYPE or XML entities, which gisgrid does not read; "
                             "save the file without them", path=name)
        return {b"kml": "KML", b"osm": "OSM"}.get(root.group(1).lower())
    return None


# GDAL settings of the web server process (never of the command line). GDAL has no switch that
# turns its network off: every HTTP request it makes (/vsicurl/ and the cloud file systems built on
# it, and CPLHTTPFetch, which e.g. a GeoJSON "crs" link triggers) goes through a proxy at port 0 of
# the loopback, where nothing can listen, so none leaves the process; /vsicurl/ also accepts no
# file name at all (only names ending in an extension no file has), so it is refused before curl.
SERVER_GDAL_CONFIG = {
    "GDAL_HTTP_PROXY": "127.0.0.1:0",
    "GDAL_HTTPS_PROXY": "127.0.0.1:0",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".gisgrid-no-network",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_NETRC": "NO",                 # no credentials from ~/.netrc for any host
    "GDAL_VRT_ENABLE_PYTHON": "NO",          # restricted mode opens no VRT; this is a second lock
}


def confine_gdal() -> None:
    """Apply SERVER_GDAL_CONFIG to this process (GDAL configuration is process-wide)."""
    pyogrio.set_gdal_config_options(SERVER_GDAL_CONFIG)


def check_upload(path, osm: bool = False) -> None:
    """Refuse at once, from its first bytes alone, an upload that restricted reading would refuse
    (for a zip: its members' names and first bytes), before its preview runs in the background.
    `osm`: the upload must be an OpenStreetMap extract."""
    path = Path(path)
    if path.suffix.lower() != ".zip":
        if sniff(path) not in (("OSM",) if osm else DRIVERS):
            raise _not_accepted(path)
        return
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                lower = member.filename.lower()
                if member.is_dir() or "__MACOSX" in member.filename:
                    continue
                if not lower.endswith(FORMATS + ZIP_SIDECARS):
                    raise LayerError("{path}: the zip file holds {member}, which is no part of a layer gisgrid "
                                     "accepts", path=path.name, member=member.filename)
                if lower.endswith(FORMATS):
                    with archive.open(member) as file:
                        if sniff_head(file.read(SNIFF_BYTES), Path(member.filename).name) is None:
                            raise _not_accepted(Path(member.filename))
    except zipfile.BadZipFile:
        raise LayerError("{path} is not a valid zip file", path=path.name) from None


def _not_accepted(path: Path) -> LayerError:
    return LayerError("{path} is not a layer file gisgrid accepts (GeoJSON, Shapefile or a zipped one, GeoPackage, "
                      "KML, FlatGeobuf, OpenStreetMap); its content decides, not its name", path=path.name)


def _gdal_path(path: Path, restricted: bool) -> tuple[str, tuple[str, ...] | None]:
    """What to hand GDAL for `path`, and the drivers allowed to open it (None: any)."""
    if not restricted:
        return str(path), None
    found = sniff(path)
    if found is None:
        raise _not_accepted(path)
    return DRIVER_PREFIX.get(found, "") + str(path), DRIVERS[found]


def restricted_source(path, formats: tuple[str, ...]) -> str:
    """What to hand GDAL for an uploaded file that must be one of `formats` (keys of DRIVERS),
    checked by content and by the driver GDAL then picks."""
    path = Path(path)
    if not path.exists():
        raise LayerError("File not found: {path}", path=path)
    if sniff(path) not in formats:
        raise _not_accepted(path)
    source, drivers = _gdal_path(path, True)
    try:
        _check_driver(source, drivers, path)
    except GDAL_ERRORS as exc:
        raise LayerError("Cannot read {path}: {error}", path=path.name, error=gdal_error(exc, path)) from None
    return source


def _check_driver(source: str, drivers: tuple[str, ...] | None, path: Path) -> None:
    """The driver GDAL chose is one the content allows (a second lock, should sniffing miss a case;
    a "DRIVER:" prefix needs none, and skipping it spares a GeoJSON a whole parse)."""
    if drivers is None or any(source.startswith(prefix) for prefix in DRIVER_PREFIX.values()):
        return
    try:
        # Latin-1 decodes any field name, so a GBK .dbf cannot fail here: only the driver is looked at
        driver = pyogrio.read_info(source, layer=0, encoding="ISO-8859-1").get("driver")
    except pyogrio.errors.DataLayerError:
        return      # no layer: nothing will be read, and the caller says so
    if driver not in drivers:
        raise _not_accepted(path)


def _sidecar(path: Path, suffix: str) -> Path | None:
    return next((p for p in (path.with_suffix(suffix), path.with_suffix(suffix.upper())) if p.exists()), None)


# dbf code page bytes for Chinese text; other non-zero bytes are left to GDAL.
CHINESE_CODE_PAGES = {0x4D: "GB18030", 0x7A: "GB18030", 0x4F: "Big5", 0x78: "Big5"}


def _shapefile_encoding(path: Path) -> tuple[str | None, str | None]:
    """(Python codec for the .dbf, or None to let GDAL decode it; the encoding to report)."""
    cpg, dbf = _sidecar(path, ".cpg"), _sidecar(path, ".dbf")
    if cpg is not None:
        declared = cpg.read_text(encoding="ascii", errors="replace").strip()
        try:
            codec = codecs.lookup(f"cp{declared}" if declared.isdigit() else declared).name
        except LookupError:
            return None, declared  # a name only GDAL knows
        # GBK text decodes the same as GB18030, which also reads what GBK cannot
        return ("gb18030" if codec in ("gbk", "cp936") else codec), declared
    if dbf is None:
        return None, None
    raw = dbf.read_bytes()
    # Byte 29 names the dbf's code page. 0 says nothing; 0x57 is "the Windows ANSI code page",
    # which GDAL reads as Latin-1 but on the Chinese Windows that wrote the file means GBK.
    if len(raw) > 32 and raw[29] in CHINESE_CODE_PAGES:
        return CHINESE_CODE_PAGES[raw[29]], CHINESE_CODE_PAGES[raw[29]]
    if len(raw) > 32 and raw[29] not in (0, 0x57):
        return None, f"as the .dbf declares (code page byte {raw[29]:#04x})"
    records = raw[int.from_bytes(raw[8:10], "little"):]  # the header holds binary counts: skip it
    try:
        records.decode("utf-8")
        return "UTF-8", "UTF-8"
    except UnicodeDecodeError:
        return "GB18030", "GB18030"  # a superset of GBK


def _transcoded(frame: gpd.GeoDataFrame, codec: str, name: str) -> gpd.GeoDataFrame:
    """A .dbf read as Latin-1 (byte for byte) decoded with its real code page. Field names are
    cut at 10 bytes, often inside a character: the broken tail is dropped."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    try:
        for column in columns:
            if pd.api.types.is_string_dtype(frame[column].dtype):
                frame[column] = [v.encode("latin-1").decode(codec) if isinstance(v, str) else v
                                 for v in frame[column]]
    except UnicodeDecodeError:
        raise LayerError("{path}: the attribute table is neither UTF-8 nor GBK", path=name) from None
    names: dict[str, str] = {}
    for column in columns:
        decoded = column.encode("latin-1").decode(codec, "ignore")
        names[column] = decoded if decoded not in names.values() else column.encode("latin-1").decode(codec, "replace")
    return frame.rename(columns=names)


def _read(path: Path, layer: str | None, max_features: int | None = None, restricted: bool = True
          ) -> tuple[gpd.GeoDataFrame, str | None]:
    """The features of one layer of `path` (a file, not a zip) and the attribute encoding used."""
    source, drivers = _gdal_path(path, restricted)
    shapefile = path.suffix.lower() == ".shp"
    codec, encoding = _shapefile_encoding(path) if shapefile else (None, None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's notes, e.g. "measured (M) geometry not supported"
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
            frame = pyogrio.read_dataframe(source, layer=layer, encoding="ISO-8859-1" if codec else None,
                                           on_invalid="ignore", max_features=max_features)
            if not shapefile:
                encoding = (geojson or pyogrio.read_info(source, layer=layer)).get("encoding")
    except UnicodeDecodeError:
        raise LayerError("{path}: the attribute table is neither UTF-8 nor GBK", path=path.name) from None
    except GDAL_ERRORS as exc:
        raise LayerError("Cannot read {path}: {error}", path=path.name, error=gdal_error(exc, path)) from None
    return (_transcoded(frame, codec, path.name) if codec else frame), encoding


def gdal_error(exc: Exception, path: Path | None = None) -> str:
    """GDAL's message, without the folder of `path`: where the server keeps uploads is not the
    planner's business."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if path is not None:
        for prefix in (*DRIVER_PREFIX.values(), ""):
            text = text.replace(f"{prefix}{path.parent}/", "")
    if "not recognized as" in text:
        return "not a layer format gisgrid reads (GeoJSON, Shapefile or a zipped one, GeoPackage, KML, FlatGeobuf)"
    return text


def _to_wgs84(geoms: gpd.GeoSeries, crs: str | None, name: str, report: LayerReport) -> gpd.GeoSeries:
    """Non-empty geometries into EPSG:4326, refusing coordinates that cannot be in their CRS."""
    source = CRS(geoms.crs) if geoms.crs is not None else None
    if crs is not None:
        wanted = parse_crs(crs)
        if source is not None and _crs_label(source) != _crs_label(wanted):
            report.warnings.append(f"{name} declares {_crs_label(source)}; using {_crs_label(wanted)} as asked")
        source = wanted
    if source is None:
        raise LayerError("{path} has no CRS; pass --crs, e.g. --crs EPSG:4547 (CGCS2000 3° Gauss-Krüger, "
                         "central meridian 114°E)", path=name)
    report.source_crs = _crs_label(source)
    raw = shapely.bounds(geoms.values)
    out = geoms.set_crs(source, allow_override=True).to_crs(4326)
    lon_lat = shapely.bounds(out.values)
    outside_earth = not (np.isfinite(lon_lat).all() and np.abs(lon_lat[:, [0, 2]]).max() <= 180
                         and np.abs(lon_lat[:, [1, 3]]).max() <= 90)
    # Degrees taken for metres land within 200 m of the projection's false origin, still "on earth".
    degrees_in_projected = source.is_projected and np.abs(raw[:, [0, 2]]).max() <= 180 and \
        np.abs(raw[:, [1, 3]]).max() <= 90
    if outside_earth or degrees_in_projected:
        raise _coordinate_error(name, source, raw)
    x0, y0, x1, y1 = out.total_bounds
    if x0 < CHINA[0] or y0 < CHINA[1] or x1 > CHINA[2] or y1 > CHINA[3]:
        report.warnings.append(f"{name} lies partly outside China ({x0:.3f}, {y0:.3f} – {x1:.3f}, {y1:.3f}); "
                               "check its CRS")
    return out


def _coordinate_error(name: str, source: CRS, raw: np.ndarray) -> LayerError:
    """Coordinates that cannot be in their CRS, with what the raw values suggest they are in:
    one message per case, so each translates whole."""
    crs = _crs_label(source)
    first_x = f"{raw[0, 0]:.0f}" if np.isfinite(raw).all() else ""
    largest_x = np.abs(raw[:, [0, 2]]).max() if first_x else 0
    if first_x and source.is_geographic and largest_x > 180:
        return LayerError("{path}: coordinates cannot be in {crs}; they look like metres: use a projected "
                          "CRS, e.g. EPSG:4547", path=name, crs=crs)
    if first_x and source.is_projected and largest_x <= 180:
        return LayerError("{path}: coordinates cannot be in {crs}; they look like degrees: use EPSG:4326 "
                          "(or EPSG:4490 for CGCS2000)", path=name, crs=crs)
    epsg = source.to_epsg(min_confidence=70) or 0
    if first_x and largest_x < 1e7 and 4513 <= epsg <= 4533:
        # A zone with prefix, x without: the same zone without prefix is 21 codes on.
        return LayerError("{path}: coordinates cannot be in {crs}; x values like {x} have no zone prefix: "
                          "use {epsg}, the same zone without", path=name, crs=crs, x=first_x,
                          epsg=f"EPSG:{epsg + 21}")
    zone = int(raw[:, 0].min() // 1_000_000) if first_x and largest_x >= 1e7 else 0
    if zone and zone == int(raw[:, 2].max() // 1_000_000):
        if 25 <= zone <= 45:
            return LayerError("{path}: coordinates cannot be in {crs}; x values like {x} carry the zone prefix "
                              "{zone}: use {epsg} (EPSG:4513–4533 are the 3° zones with zone prefix, "
                              "EPSG:4534–4554 those without)", path=name, crs=crs, x=first_x, zone=zone,
                              epsg=f"EPSG:{4513 + zone - 25}")
        if 13 <= zone <= 23:
            return LayerError("{path}: coordinates cannot be in {crs}; x values like {x} carry the 6° zone "
                              "prefix {zone}: use {epsg}", path=name, crs=crs, x=first_x, zone=zone,
                              epsg=f"EPSG:{4491 + zone - 13}")
    return LayerError("{path}: coordinates cannot be in {crs}", path=name, crs=crs)


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


def _attributes(frame: gpd.GeoDataFrame, kind: str, name: str, chosen: dict[str, str] | None = None) -> pd.DataFrame:
    fields = _chosen_fields(frame, kind, name, chosen) if chosen else _fields(frame, kind, name)
    out = pd.DataFrame({ours: [_text(v) for v in frame[fields[ours]]] if ours in fields else None
                        for ours in FIELDS[kind]}, index=range(len(frame)), dtype=object)  # None, not NaN
    if out["code"].isna().any():
        raise LayerError("{path}: {n} features have no code", path=name, n=int(out["code"].isna().sum()))
    duplicated = sorted(set(out.loc[out["code"].duplicated(), "code"]))
    if duplicated:
        raise LayerError("{path}: duplicate codes {codes}", path=name, codes=", ".join(duplicated[:20]))
    out["name"] = out["name"].fillna(out["code"])
    if kind == "grids":
        out["grid_class"] = [CLASSES.get(c.lower(), c) if c else None for c in out["grid_class"]]
        unknown = sorted({c for c in out["grid_class"] if c not in (None, "A", "B", "C")})
        if unknown:
            raise LayerError("{path}: grid class must be A, B or C (found {classes})", path=name,
                             classes=", ".join(unknown))
    return out


def _require_geometry(geoms: np.ndarray, labels: list[str], name: str) -> None:
    missing = [label for label, g in zip(labels, shapely.is_missing(geoms) | shapely.is_empty(geoms)) if g]
    if missing:
        raise LayerError("{path}: features without geometry: {codes}", path=name, codes=", ".join(missing[:20]))


def _polygons(geoms: np.ndarray, codes: list[str], name: str, report: LayerReport) -> np.ndarray:
    """2D polygons; collections keep their polygons when they have some (lines, points dropped)."""
    types = shapely.get_type_id(geoms)
    for i in np.flatnonzero(types == COLLECTION):
        polygonal = _polygonal_part(geoms[i])
        if polygonal is not None:
            geoms[i] = polygonal
            types[i] = MULTIPOLYGON
            report.repaired.append((codes[i], "geometry collection reduced to its polygons"))
    if not np.isin(types, (POLYGON, MULTIPOLYGON)).all():
        kinds = sorted({g.geom_type for g, t in zip(geoms, types) if t not in (POLYGON, MULTIPOLYGON)})
        raise LayerError("{path}: grids and roads must be polygons (this layer has {types})", path=name,
                         types=", ".join(kinds))
    return shapely.force_2d(geoms)


def _repaired(geoms: np.ndarray, codes: list[str], name: str, report: LayerReport) -> np.ndarray:
    """Valid MultiPolygons: invalid ones repaired when that is safe, else the layer is refused."""
    geoms = geoms.copy()
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    broken = []
    for i, reason in zip(invalid, shapely.is_valid_reason(geoms[invalid])):
        fixed = _repair(geoms[i])
        if fixed is None:
            broken.append(f"{codes[i]} ({reason})")
        else:
            geoms[i] = fixed
            report.repaired.append((codes[i], reason))
    if broken:
        raise LayerError("{path}: invalid geometry that cannot be repaired safely: {features}", path=name,
                         features="; ".join(broken[:20]))
    single = np.flatnonzero(shapely.get_type_id(geoms) == POLYGON)
    geoms[single] = shapely.multipolygons(geoms[single], indices=np.arange(len(single)))
    return geoms


def _polygonal_part(geometry):
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
    parts = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(parts) if parts else None


def _repair(geometry):
    """The repair when two standard repairs agree (so no reading of the drawing is guessed), else None."""
    structure = _polygonal_part(shapely.make_valid(geometry, method="structure", keep_collapsed=False))
    linework = _polygonal_part(shapely.make_valid(geometry, method="linework"))
    if structure is None or linework is None:
        return None
    larger = max(structure.area, linework.area)
    if larger == 0 or structure.symmetric_difference(linework).area > 0.01 * larger:
        return None
    return structure


def no_progress(_stage: str, _fraction: float) -> None:
    pass


def read_layer(path, kind: str, crs: str | None = None, layer: str | None = None,
               fields: dict[str, str] | None = None, progress: Callable[[str, float], None] = no_progress,
               restricted: bool = True) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Grids or roads in EPSG:4326 with our columns (FIELDS[kind], then geometry), in file order.
    `fields` (our column -> the file's field) replaces the guess from the usual field names;
    `progress(stage, fraction)` hears how far the reading is; `restricted=False` (the command
    line) lets GDAL open any format it knows."""
    if kind not in KINDS:
        raise LayerError("Layers are grids or roads, not {kind!r}", kind=kind)
    path = Path(path)
    name = path.name
    progress("read", 0.05)
    with _opened(path, layer, restricted) as (source, chosen):
        frame, encoding = _read(source, chosen, restricted=restricted)
    if len(frame) == 0:
        raise LayerError("{path} has no features", path=name)
    report = LayerReport(source_crs="", encoding=encoding)
    progress("attributes", 0.3)
    table = _attributes(frame, kind, name, fields)
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
        return _list_layers(path, restricted)
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


PREVIEW_FEATURES = 2000


def _geojson_info(path: Path) -> dict:
    """pyogrio's read_info of a GeoJSON file (layer name, feature count, encoding). GDAL parses
    the whole file to count its features, so the answer is kept while the file is unchanged:
    a preview asks twice (layers, then count) and again for each choice of CRS."""
    stat = path.stat()
    return dict(_geojson_info_of(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=16)
def _geojson_info_of(path: str, _mtime_ns: int, _size: int) -> dict:
    return pyogrio.read_info(DRIVER_PREFIX["GeoJSON"] + path)


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
    if kind not in KINDS:
        raise LayerError("Layers are grids or roads, not {kind!r}", kind=kind)
    path = Path(path)
    names = layer_names(path, restricted)
    out = {"layers": names, "layer": layer if layer is not None else (names[0] if len(names) == 1 else None),
           "count": None, "fields": [], "mapping": {}, "rows": [], "encoding": None, "crs": None,
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


def gk_zones() -> list[dict]:
    """The CRS a planner can pick for a file that names none: CGCS2000 Gauss-Krüger zones by
    central meridian (3° zones without and with the zone prefix, then 6° zones), and the
    geographic CGCS2000 and WGS84."""
    zones = [{"epsg": f"EPSG:{4534 + i}", "central_meridian": 75 + 3 * i, "width": 3, "zone_prefix": False}
             for i in range(21)]
    zones += [{"epsg": f"EPSG:{4513 + i}", "central_meridian": 75 + 3 * i, "width": 3, "zone_prefix": True}
              for i in range(21)]
    zones += [{"epsg": f"EPSG:{4502 + i}", "central_meridian": 75 + 6 * i, "width": 6, "zone_prefix": False}
              for i in range(11)]
    zones += [{"epsg": f"EPSG:{4491 + i}", "central_meridian": 75 + 6 * i, "width": 6, "zone_prefix": True}
              for i in range(11)]
    for zone in zones:
        zone["label"] = (f"CGCS2000 {zone['width']}° Gauss-Krüger, CM {zone['central_meridian']}°E"
                         + (" (x with zone prefix)" if zone["zone_prefix"] else ""))
    return zones + [{"epsg": "EPSG:4490", "central_meridian": None, "width": None, "zone_prefix": False,
                     "label": "CGCS2000 longitude/latitude"},
                    {"epsg": "EPSG:4326", "central_meridian": None, "width": None, "zone_prefix": False,
                     "label": "WGS84 longitude/latitude"}]


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


def _short_names(columns: list[str]) -> dict[str, str]:
    """Shapefile field names: at most 10 bytes, unique regardless of case, the same every time."""
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
    """Write `frame` to `path`, the format chosen by its extension; an existing file is replaced."""
    path = Path(path)
    driver = WRITERS.get(path.suffix.lower())
    if driver is None:
        raise LayerError("Cannot write {path}: use .gpkg, .geojson, .shp or .fgb", path=path.name)
    frame = frame.copy()
    for column in frame.columns:
        if column != frame.geometry.name and frame[column].dtype == object:
            frame[column] = [v.isoformat() if hasattr(v, "isoformat") else v for v in frame[column]]
    options = {}
    if driver == "ESRI Shapefile":
        frame = frame.rename(columns=_short_names([c for c in frame.columns if c != frame.geometry.name]))
        options["encoding"] = "UTF-8"  # pyogrio then writes a .cpg saying so
    if driver == "GPKG":
        options["layer"] = layer or path.stem
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and driver != "ESRI Shapefile":  # GDAL replaces a Shapefile's whole set of files itself
        path.unlink()
    try:
        pyogrio.write_dataframe(frame, path, driver=driver, **options)
    except GDAL_ERRORS as exc:
        raise LayerError("Cannot write {path}: {error}", path=path.name, error=gdal_error(exc)) from None


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
