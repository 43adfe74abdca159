"""Attribute tables of Shapefiles from Chinese offices: the code page from the .cpg or the .dbf,
GBK detected where nothing says, text decoded byte for byte."""

from __future__ import annotations
import codecs
from pathlib import Path
import geopandas as gpd
import pandas as pd
from ..domain.errors import LayerError


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
