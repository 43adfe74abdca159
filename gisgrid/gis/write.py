"""Writing layers: GeoPackage (version 1.3), GeoJSON, Shapefile (field names cut to 10 bytes, each
named; text too long for a .dbf refused) or FlatGeobuf."""

from __future__ import annotations
from pathlib import Path
import geopandas as gpd
import pyogrio
import pyogrio.errors
from ..domain.errors import LayerError
from .formats import GDAL_ERRORS, gdal_error


WRITERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile", ".fgb": "FlatGeobuf"}


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


# A GeoPackage as GDAL 3.6 / QGIS 3.22 (Debian 12) read it without "version 1.4 … may only be
# partially supported": 1.3 has all gisgrid writes (GDAL 3.8 writes 1.4 by default).
GPKG_VERSION = "1.3"
DBF_TEXT_BYTES = 254     # a .dbf text field holds at most this many bytes


def _shapefile_losses(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Refuse what a Shapefile would cut: text longer than a .dbf field holds, named by field and
    feature, with GeoPackage as the way out (it keeps everything)."""
    long = []
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        for at, value in enumerate(frame[column]):
            if isinstance(value, str) and len(value.encode("utf-8")) > DBF_TEXT_BYTES:
                label = frame["code"].iloc[at] if "code" in frame.columns else f"#{at + 1}"
                long.append(f"{column} of {label}")
    if long:
        raise LayerError("Cannot write {path}: a Shapefile keeps at most 254 bytes of text, and {values} are "
                         "longer; export to a GeoPackage (.gpkg) instead, which keeps them whole",
                         path=path.name, values=", ".join(long[:10]) + (" …" if len(long) > 10 else ""))


def write_layer(frame: gpd.GeoDataFrame, path, layer: str | None = None) -> list[str]:
    """Write `frame` to `path`, the format chosen by its extension; an existing file is replaced.
    Returns notes for the person exporting (a Shapefile's shortened field names, each named)."""
    notes: list[str] = []
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
        _shapefile_losses(frame, path)
        short = _short_names([c for c in frame.columns if c != frame.geometry.name])
        notes += [f"{path.name}: field {long!r} is named {cut!r} (a Shapefile keeps 10 bytes of a field name)"
                  for long, cut in short.items() if long != cut]
        frame = frame.rename(columns=short)
        options["encoding"] = "UTF-8"  # pyogrio then writes a .cpg saying so
    if driver == "GPKG":
        options["layer"] = layer or path.stem
        options["dataset_options"] = {"VERSION": GPKG_VERSION}
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and driver != "ESRI Shapefile":  # GDAL replaces a Shapefile's whole set of files itself
        path.unlink()
    try:
        pyogrio.write_dataframe(frame, path, driver=driver, **options)
    except GDAL_ERRORS as exc:
        raise LayerError("Cannot write {path}: {error}", path=path.name, error=gdal_error(exc)) from None
    return notes
