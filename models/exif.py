"""EXIF orientation and capture time, read from an image's header without decoding it.

The capture time is DateTimeOriginal (or DateTimeDigitized): what a camera or scanner wrote
when the picture was made, to the fraction of a second where SubSecTimeOriginal (or
SubSecTimeDigitized) gives it - a burst's shots share their second. IFD0's DateTime is not
one: editors and converters set it to the time of the export, and dedup's ``exif`` keeper
rule took an edited copy for the camera's file (a 1/3-size GIMP export kept over its original
that had no EXIF).
"""

from __future__ import annotations

from datetime import datetime

from PIL import Image


def exif_info(im: Image.Image) -> tuple[int, datetime | None]:
    """Orientation and date from EXIF read from the header, never by decoding the image:
    Pillow's ``getexif()`` of a PNG without an early eXIf chunk decodes it, and a failure
    there (a truncated file) would be swallowed and the half-decoded image kept."""
    try:
        if isinstance(im.info.get("exif"), bytes):
            exif = Image.Exif()
            exif.load(im.info["exif"])
        elif im.format in ("JPEG", "MPO", "TIFF", "WEBP") or not hasattr(im, "tile"):
            exif = im.getexif()
        else:
            return 1, None
    except Exception:  # broken EXIF must not make a good image unreadable
        return 1, None
    orientation = exif.get(0x0112, 1)
    if not isinstance(orientation, int) or orientation not in range(1, 9):
        orientation = 1
    try:  # when the picture was taken (DateTimeOriginal), else digitised (a scan's)
        taken = exif.get_ifd(0x8769)
        tags = (0x9003, 0x9291) if taken.get(0x9003) else (0x9004, 0x9292)
        stamp, fraction = taken.get(tags[0]), taken.get(tags[1])
    except Exception:
        stamp = fraction = None
    # not IFD0's DateTime (0x0132): editors write it on every export, a modification time
    when = _parse_exif_datetime(stamp)
    return orientation, None if when is None else when.replace(microsecond=_microseconds(fraction))


def _microseconds(fraction: object) -> int:
    """A SubSecTime tag's digits (the fraction of the second: "45" is 0.45 s) in microseconds;
    0 for none or anything else."""
    if isinstance(fraction, bytes):
        fraction = fraction.decode("ascii", "ignore")
    if not isinstance(fraction, str):
        return 0
    digits = fraction.strip().strip("\x00").strip()
    if not digits.isascii() or not digits.isdigit():
        return 0
    return int(digits[:6].ljust(6, "0"))


def _parse_exif_datetime(value: object) -> datetime | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    if not isinstance(value, str):
        return None
    value = value.strip().strip("\x00")
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M"):
        try:
            return datetime.strptime(value[:19], fmt)
        except ValueError:
            continue
    return None
