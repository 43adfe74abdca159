"""Attribute tables of Shapefiles from Chinese offices: the code page from the .cpg or the .dbf,
GBK detected where nothing says, text decoded byte for byte."""

from __future__ import annotations
import codecs
import re
from pathlib import Path
import geopandas as gpd
import pandas as pd
from ..domain.errors import LayerError


def _sidecar(path: Path, suffix: str) -> Path | None:
    return next((p for p in (path.with_suffix(suffix), path.with_suffix(suffix.upper())) if p.exists()), None)


# dbf code page bytes for Chinese text; other non-zero bytes are left to GDAL.
CHINESE_CODE_PAGES = {0x4D: "GB18030", 0x7A: "GB18030", 0x4F: "Big5", 0x78: "Big5"}


# ArcGIS and QGIS write a Windows code page as "ANSI 936", "OEM 936", "936" or "CP936"
CODE_PAGE = re.compile(r"(?:ANSI|OEM|CP|WINDOWS|MS)?[\s_-]*(\d{3,5})", re.I)
# GBK and GB2312 text decode the same as GB18030, which also reads what they cannot
SUPERSETS = {"gbk": "gb18030", "cp936": "gb18030", "gb2312": "gb18030"}


def cpg_codec(declared: str) -> str | None:
    """The Python codec a .cpg's text names (a code page number with or without its ANSI / OEM /
    CP prefix, or a codec name), None for a name Python does not know."""
    found = CODE_PAGE.fullmatch(declared.strip())
    name = f"cp{found.group(1)}" if found else declared.strip()
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return SUPERSETS.get(codec, codec)


def _shapefile_encoding(path: Path) -> tuple[str | None, str | None]:
    """(Python codec for the .dbf, or None to let GDAL decode it; the encoding to report)."""
    cpg, dbf = _sidecar(path, ".cpg"), _sidecar(path, ".dbf")
    if cpg is not None:
        declared = cpg.read_text(encoding="ascii", errors="replace").strip()
        codec = cpg_codec(declared)
        if codec is None:
            return None, declared  # a name only GDAL knows
        return codec, declared
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
    texts = [c for c in columns if pd.api.types.is_string_dtype(frame[c].dtype)]
    try:
        decoded = {c: _decoded(frame[c], codec) for c in texts}
    except UnicodeDecodeError:
        if codecs.lookup(codec).name != "utf-8":
            raise LayerError("{path}: the attribute table is neither UTF-8 nor GBK", path=name) from None
        try:     # a .cpg saying UTF-8 over GBK text: a program wrote the .cpg it always writes
            decoded = {c: _decoded(frame[c], "gb18030") for c in texts}
        except UnicodeDecodeError:
            raise LayerError("{path}: the attribute table is neither UTF-8 nor GBK", path=name) from None
        codec = "gb18030"
        frame.attrs["gisgrid_warning"] = f"{name}: the .cpg says UTF-8 but the text is GBK; read as GBK"
    for column, values in decoded.items():
        frame[column] = values
    names: dict[str, str] = {}
    for column in columns:
        decoded = column.encode("latin-1").decode(codec, "ignore")
        names[column] = decoded if decoded not in names.values() else column.encode("latin-1").decode(codec, "replace")
    return frame.rename(columns=names)


def _decoded(values, codec: str) -> list:
    return [v.encode("latin-1").decode(codec) if isinstance(v, str) else v for v in values]
