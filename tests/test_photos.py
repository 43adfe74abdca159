"""Photos are judged by content, turned upright, stripped of EXIF, and size-limited."""

import io

import pytest
from PIL import Image

from gisgrid.photos import PhotoError, process_photo


def jpeg(width=400, height=200, orientation=None, gps=False):
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (33.0, 35.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_exif_orientation_is_applied_and_exif_dropped():
    photo = process_photo(jpeg(400, 200, orientation=6, gps=True), max_bytes=10_000_000)
    stored = Image.open(io.BytesIO(photo.image))
    assert (stored.width, stored.height) == (200, 400) == (photo.width, photo.height)
    assert not stored.getexif()
    thumb = Image.open(io.BytesIO(photo.thumbnail))
    assert max(thumb.size) == 320 and thumb.format == "JPEG"


def test_a_text_file_named_jpg_is_refused():
    with pytest.raises(PhotoError, match="not a photo"):
        process_photo(b"this is not an image, whatever its name says", max_bytes=10_000_000)


def test_a_gif_is_refused_by_its_content():
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    with pytest.raises(PhotoError, match="this file is GIF"):
        process_photo(out.getvalue(), max_bytes=10_000_000)


def test_size_limit():
    data = jpeg()
    with pytest.raises(PhotoError, match="too large"):
        process_photo(data, max_bytes=len(data) - 1)


def test_truncated_jpeg_is_refused():
    with pytest.raises(PhotoError, match="not a photo"):
        process_photo(jpeg()[:300], max_bytes=10_000_000)
