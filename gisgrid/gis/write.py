"""Writing layers: GeoPackage, GeoJSON, Shapefile (field names cut to 10 bytes) or FlatGeobuf."""

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
