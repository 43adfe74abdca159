"""Photos are judged by content, turned upright, stripped of EXIF, and size-limited."""

import io

import pytest
from PIL import Image

from gisgrid.storage.photos import PhotoError, process_photo


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


# what a file carries beside its pixels ----------------------------------------------------

SCRIPT = b"<script>alert(1)</script>"
BASELINE = {"SOI", "APP0", "DQT", "SOF0", "DHT", "DRI", "SOS", "EOI"}   # all a baseline JPEG needs
NAMES = {0xD8: "SOI", 0xD9: "EOI", 0xDA: "SOS", 0xDB: "DQT", 0xC4: "DHT", 0xDD: "DRI", 0xFE: "COM",
         **{0xC0 + n: f"SOF{n}" for n in (0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15)},
         **{0xE0 + n: f"APP{n}" for n in range(16)}}


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def markers(data: bytes) -> list[str]:
    """The JPEG's segments in order, walked by their lengths (entropy-coded data skipped)."""
    assert data[:2] == b"\xff\xd8"
    found, at = ["SOI"], 2
    while at < len(data):
        assert data[at] == 0xFF, f"no marker at byte {at}"
        marker = data[at + 1]
        if marker == 0xFF:            # fill byte
            at += 1
            continue
        found.append(NAMES.get(marker, hex(marker)))
        if marker == 0xD9:
            break
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")
        if marker == 0xDA:            # scan data runs to the next marker that is not a stuffed 0 or a restart
            while not (data[at] == 0xFF and data[at + 1] not in (0x00, *range(0xD0, 0xD8))):
                at += 1
    return found


def hostile_jpeg() -> bytes:
    """A portrait photo stored on its side (EXIF orientation 6), with GPS, an XMP packet, an ICC
    profile, a comment holding a script, and a Photoshop (APP13) block holding one too."""
    image = Image.new("RGB", (400, 200), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (33.0, 35.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=SCRIPT, icc_profile=b"\x00" * 128,
               xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' + SCRIPT + b"</x:xmpmeta>")
    data = out.getvalue()
    photoshop = segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x20" + SCRIPT + b"\x00")
    return data[:2] + photoshop + data[2:]


def test_the_hostile_photo_carries_what_it_should():
    """The test's photo really has the segments that must go (else the next test proves nothing)."""
    found = markers(hostile_jpeg())
    assert {"COM", "APP1", "APP2", "APP13"} <= set(found) and SCRIPT in hostile_jpeg()


def test_stored_photo_and_thumbnail_carry_pixels_only():
    photo = process_photo(hostile_jpeg(), max_bytes=10_000_000)
    for data in (photo.image, photo.thumbnail):
        assert set(markers(data)) <= BASELINE, markers(data)
        assert b"<script" not in data and b"Photoshop" not in data and b"Exif" not in data
    assert (photo.width, photo.height) == (200, 400)          # still turned upright first
    stored = Image.open(io.BytesIO(photo.image))
    assert (stored.width, stored.height) == (200, 400) and stored.getpixel((100, 200))[0] > 150


def test_a_png_comment_does_not_become_a_jpeg_comment():
    from PIL.PngImagePlugin import PngInfo

    text = PngInfo()
    text.add_text("comment", SCRIPT.decode())
    text.add_itxt("XML:com.adobe.xmp", SCRIPT.decode())
    out = io.BytesIO()
    Image.new("RGBA", (60, 40), (0, 90, 200, 255)).save(out, "PNG", pnginfo=text)
    photo = process_photo(out.getvalue(), max_bytes=10_000_000)
    for data in (photo.image, photo.thumbnail):
        assert set(markers(data)) <= BASELINE and b"<script" not in data


def test_an_uploaded_photo_is_served_without_its_segments(app, client, auth, district):
    from gisgrid.services import office
    from gisgrid.storage import inspections

    office.sample_month(district, "2026-11", roads=["R11", "R12"])
    auth.account("wang", "inspector")
    inspections.assign(district, "2026-11", "R11", "wang", "test")
    auth.login("wang", "inspector")
    token = {"X-CSRFToken": auth.csrf("/inspect/")}
    created = client.post("/api/findings", headers=token, json={
        "id": "tablet-0001", "rule": "5.1", "observed_at": "2026-11-25T10:00:00+08:00",
        "lon": 114.035, "lat": 33.5951})
    assert created.status_code == 201
    sent = client.post(f"/api/findings/{created.json['finding']['id']}/photos", headers=token,
                       data={"client_id": "tablet-0001-p0", "photo": (io.BytesIO(hostile_jpeg()), "p.jpg")})
    assert sent.status_code == 201
    for url in (sent.json["url"], sent.json["url"] + "/thumb"):
        with client.get(url) as response:
            assert response.status_code == 200
            served = response.get_data()
        assert set(markers(served)) <= BASELINE and b"<script" not in served
