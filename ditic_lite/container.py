"""The ``.ditic`` file: a small self-describing container around the entropy-coded streams.

Layout (all integers unsigned big-endian)::

    offset  size  field
    0       4     magic b"DTIC"
    4       1     format version (1)
    5       1     n = length of the model name
    6       n     model name, UTF-8 (e.g. "tiny")
    6+n     8     checkpoint id: first 8 bytes of the SHA-256 of the weights that encoded it
    14+n    1     rate id
    15+n    4     image height (original, before padding)
    19+n    4     image width
    23+n    1     k = number of streams (2: y then z)
    24+n    4k    stream lengths
    ...           the streams, concatenated
    end-4   4     CRC-32 of every byte before it

The official release writes a bare file without magic, size or checksum
(``ditic_lite.official.write_official_bin``); this container adds what a standalone decoder
needs. Every malformed input raises :class:`DecodeError` naming the problem, and sizes are checked
against limits before anything is allocated. The module needs neither torch nor numpy, so
``ditic-lite info`` reads a header in a fraction of a second (``tests/test_imports.py``).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .sizes import MAX_PIXELS

MAGIC = b"DTIC"
VERSION = 1
MAX_SIDE = 1 << 16  # declared image sides above this are refused
MAX_STREAMS = 8
MAX_BITS_PER_PIXEL = 8
"""Stream budget per pixel of the padded image: a learned codec at its highest rate stays well
under 1 bpp and raw RGB is 24, so larger streams are refused; this bounds the rANS decoder's
buffers and work per declared pixel."""
MAX_FILE_BYTES = MAX_PIXELS * MAX_BITS_PER_PIXEL // 8 + 4096  # the budget of the largest image + header
_FIXED = struct.Struct(">8sBII B")  # checkpoint id, rate, height, width, stream count


class DecodeError(ValueError):
    """A bitstream that cannot be decoded: bad magic, truncated, corrupted, wrong model, ..."""


@dataclass(frozen=True)
class Header:
    model: str
    checkpoint_id: bytes
    rate: int
    height: int
    width: int


def pack(header: Header, streams: list[bytes]) -> bytes:
    """Header and streams -> file bytes (with the trailing CRC-32)."""
    name = header.model.encode("utf-8")
    if len(name) > 255 or len(header.checkpoint_id) != 8 or not 0 <= header.rate < 256:
        raise ValueError("model name must be < 256 bytes, checkpoint id 8 bytes, rate 0..255")
    if not 0 < len(streams) <= MAX_STREAMS:
        raise ValueError(f"expected 1..{MAX_STREAMS} streams, got {len(streams)}")
    body = b"".join([
        MAGIC, bytes([VERSION, len(name)]), name,
        _FIXED.pack(header.checkpoint_id, header.rate, header.height, header.width, len(streams)),
        struct.pack(f">{len(streams)}I", *(len(s) for s in streams)),
        *streams,
    ])
    return body + struct.pack(">I", zlib.crc32(body))


def max_stream_bytes(padded_pixels: int) -> int:
    """The most stream bytes a file may hold for an image of ``padded_pixels`` (after padding)."""
    return padded_pixels * MAX_BITS_PER_PIXEL // 8


def unpack(data: bytes) -> tuple[Header, list[bytes]]:
    """File bytes -> (header, streams). Raises :class:`DecodeError` on any inconsistency."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    if len(data) > MAX_FILE_BYTES:
        raise DecodeError(f"file of {len(data)} bytes is above the limit of {MAX_FILE_BYTES} bytes "
                          "(ditic_lite.container.MAX_FILE_BYTES)")
    data = bytes(data)
    if len(data) < 4 or data[:4] != MAGIC:
        raise DecodeError("not a ditic-lite file (bad magic bytes)")
    if len(data) < 6:
        raise DecodeError("truncated file: header incomplete")
    if data[4] != VERSION:
        raise DecodeError(f"unsupported format version {data[4]} (this decoder reads version {VERSION})")
    n = data[5]
    fixed_end = 6 + n + _FIXED.size
    if len(data) < fixed_end + 4:
        raise DecodeError("truncated file: header incomplete")
    try:
        model = data[6:6 + n].decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("corrupted header: model name is not UTF-8") from None
    checkpoint_id, rate, height, width, count = _FIXED.unpack_from(data, 6 + n)
    if not 0 < count <= MAX_STREAMS:
        raise DecodeError(f"corrupted header: {count} streams declared (1..{MAX_STREAMS} allowed)")
    lengths_end = fixed_end + 4 * count
    if len(data) < lengths_end + 4:
        raise DecodeError("truncated file: stream table incomplete")
    lengths = struct.unpack_from(f">{count}I", data, fixed_end)
    expected = lengths_end + sum(lengths) + 4
    if len(data) < expected:
        raise DecodeError(f"truncated file: {len(data)} bytes, the header declares {expected}")
    if len(data) > expected:
        raise DecodeError(f"trailing data: {len(data)} bytes, the header declares {expected}")
    (crc,) = struct.unpack_from(">I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise DecodeError("checksum mismatch: the file is corrupted")
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE and height * width <= MAX_PIXELS):
        raise DecodeError(f"declared image size {width}x{height} is outside the decoder's limits")
    streams, pos = [], lengths_end
    for length in lengths:
        streams.append(data[pos:pos + length])
        pos += length
    return Header(model, checkpoint_id, rate, height, width), streams
