"""Finding photos: accept images only (judged by their content, not their name), turn them
upright by their EXIF orientation, keep a JPEG and a thumbnail of the pixels alone: no EXIF
(it carries the camera's GPS), no comment, no XMP, ICC or Photoshop segment. No Flask here."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from ..domain.errors import GisgridError

FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_PIXELS = 50_000_000          # a 50-megapixel photo; larger is a decompression bomb, not a photo
LONG_SIDE = 2048                 # stored photo
THUMB_SIDE = 320


class PhotoError(GisgridError):
    """A photo cannot be accepted."""

    http_status = 422


@dataclass(frozen=True)
class ProcessedPhoto:
    image: bytes
    thumbnail: bytes
    width: int
    height: int


def _jpeg(image: Image.Image, quality: int) -> bytes:
    """A baseline JPEG of the pixels only. Pillow writes back what it read into `info` (a
    JPEG's COM segment, a PNG's "comment" text): a new image made from the bytes has none, so
    what a file carried beside its pixels (`<script>` in a comment, the Photoshop block, GPS
    in XMP) is never stored or served."""
    rgb = image.convert("RGB")
    pixels = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def process_photo(data: bytes, max_bytes: int) -> ProcessedPhoto:
    if len(data) > max_bytes:
        raise PhotoError("The photo is too large ({size} MB; at most {limit} MB)",
                         size=round(len(data) / 1048576, 1), limit=round(max_bytes / 1048576, 1))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            if probe.format not in FORMATS:
                raise PhotoError("Only JPEG, PNG or WebP photos are accepted (this file is {kind})",
                                 kind=probe.format or "unknown")
            if probe.width * probe.height > MAX_PIXELS:
                raise PhotoError("The photo has too many pixels ({w}×{h})", w=probe.width, h=probe.height)
            probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise PhotoError("This file is not a photo (JPEG, PNG or WebP)") from None
    image = ImageOps.exif_transpose(image)
    image.thumbnail((LONG_SIDE, LONG_SIDE))
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return ProcessedPhoto(_jpeg(image, 85), _jpeg(thumb, 75), image.width, image.height)
