"""Coordinate systems: CGCS2000 Gauss-Krüger zones, parsing a CRS, a metric CRS for a place, and
turning a layer into WGS84 with a message that says which CRS the file must have been in."""

from __future__ import annotations
import math
import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from ..domain.errors import LayerError
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .layers import LayerReport


CHINA = (70.0, 0.0, 140.0, 56.0)
EDGE_DEG = 1e-9     # how far past ±180° / ±90° rounding may carry a coordinate that means the edge


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
    # A world layer's edge at 180.00000000000006 is 180° written by a program's rounding, not metres
    outside_earth = not (np.isfinite(lon_lat).all() and np.abs(lon_lat[:, [0, 2]]).max() <= 180 + EDGE_DEG
                         and np.abs(lon_lat[:, [1, 3]]).max() <= 90 + EDGE_DEG)
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
    if first_x and source.is_geographic and largest_x > 180 + EDGE_DEG:
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
