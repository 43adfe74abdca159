"""Which layer files a web upload may be: the format decided by the file's first bytes, GDAL
held to that one driver and kept off the network, zips and XML checked before GDAL opens them."""

from __future__ import annotations
import re
import shutil
import tempfile
from contextlib import contextmanager
import zipfile
from pathlib import Path
import pyogrio
import pyogrio.errors
from ..domain.errors import LayerError


FORMATS = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".fgb")


GDAL_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, ValueError)


UNZIPPED_MAX_BYTES = 2 << 30   # a city's roads are a few hundred MB; a zip bomb is far more


# what a zipped layer may hold beside its layer files: a Shapefile's parts, ArcGIS metadata, a note
ZIP_SIDECARS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml", ".txt")


def member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's name as its writer meant it. Without the UTF-8 flag Python reads the name as
    CP437, but Windows' own zip tool on a Chinese system writes it in GBK (and some tools write
    UTF-8 without saying so)."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for codec in ("ascii", "utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return info.filename


def _unzip(path: Path, folder: Path, restricted: bool = True) -> list[Path]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = {info.filename: member_name(info) for info in archive.infolist()}
            for member in names.values():
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
            for info in archive.infolist():       # under the names their writer meant (GBK included)
                target = folder / names[info.filename]
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
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


@contextmanager
def plain_path(path: Path):
    """`path`, or where GDAL can be handed it: pyogrio reads a "!" in a path as "archive!member"
    (a GDAL virtual path) and then finds no file, so a file whose path has one is seen through
    links in a temporary folder, its Shapefile parts with it."""
    if "!" not in str(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="gisgrid-") as folder:
        stem = path.name[:-len(path.suffix)] if path.suffix else path.name
        for part in path.parent.glob("*"):
            if part.name == path.name or (part.name.startswith(stem + ".") and part.is_file()):
                (Path(folder) / part.name.replace("!", "_")).symlink_to(part.resolve())
        yield Path(folder) / path.name.replace("!", "_")
