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

Format version 2 inserts one byte after the rate id: the quantisation step index ``s``, a signed
byte in -32..32, and the decoder quantises y with the step ``2 ** (s / 8)`` (eight steps per
doubling, 1/16 to 16; see ``latent_codec.py``). A file with step 1 (``s = 0``) is written as
version 1, byte for byte what earlier releases wrote, and version 1 files decode with step 1.

The official release writes a bare file without magic, size or checksum
(``ditic_lite.official.write_official_bin``); this container adds what a standalone decoder
needs. Every malformed input raises :class:`DecodeError` naming the problem, and sizes are checked
against limits before anything is allocated. The module needs neither torch nor numpy, so
``ditic-lite info`` reads a header in a fraction of a second (``tests/test_imports.py``).
"""
from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

from .sizes import MAX_PIXELS

MAGIC = b"DTIC"
VERSION = 1
VERSION_WITH_QUANT_STEP = 2
QUANT_STEPS_PER_DOUBLING = 8
MAX_QUANT_STEP_INDEX = 32
"""Quantisation step indexes run over -32..32: steps 1/16 to 16 in ratios of 2 ** (1/8)."""
MAX_SIDE = 1 << 16  # declared image sides above this are refused
MAX_STREAMS = 8
MAX_BITS_PER_PIXEL = 8
"""Stream budget per pixel of the padded image: a learned codec at its highest rate stays well
under 1 bpp and raw RGB is 24, so larger streams are refused; this bounds the rANS decoder's
buffers and work per declared pixel."""
MAX_FILE_BYTES = MAX_PIXELS * MAX_BITS_PER_PIXEL // 8 + 4096  # the budget of the largest image + header
_FIXED = struct.Struct(">8sBII B")  # checkpoint id, rate, height, width, stream count
_FIXED_V2 = struct.Struct(">8sBbII B")  # the same with the quantisation step index after the rate


class DecodeError(ValueError):
    """A bitstream that cannot be decoded: bad magic, truncated, corrupted, wrong model, ..."""


def quant_step(index: int) -> float:
    """The quantisation step of a step index: ``2 ** (index / 8)``."""
    return 2.0 ** (index / QUANT_STEPS_PER_DOUBLING)


def quant_step_index(step: float) -> int:
    """The index of the header's step nearest to ``step`` (in log scale); ``ValueError`` if out of range."""
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0:
        raise ValueError(f"the quantisation step must be a positive number, got {step!r}")
    index = round(math.log2(step) * QUANT_STEPS_PER_DOUBLING)
    if abs(index) > MAX_QUANT_STEP_INDEX:
        lo, hi = quant_step(-MAX_QUANT_STEP_INDEX), quant_step(MAX_QUANT_STEP_INDEX)
        raise ValueError(f"the quantisation step must lie in [{lo}, {hi}], got {step!r}")
    return index


@dataclass(frozen=True)
class Header:
    model: str
    checkpoint_id: bytes
    rate: int
    height: int
    width: int
    quant_step_index: int = 0
    """y was quantised with step ``quant_step(quant_step_index)`` (0: the trained step 1)."""

    @property
    def quant_step(self) -> float:
        return quant_step(self.quant_step_index)


def pack(header: Header, streams: list[bytes]) -> bytes:
    """Header and streams -> file bytes (with the trailing CRC-32)."""
    name = header.model.encode("utf-8")
    if len(name) > 255 or len(header.checkpoint_id) != 8 or not 0 <= header.rate < 256:
        raise ValueError("model name must be < 256 bytes, checkpoint id 8 bytes, rate 0..255")
    if not 0 < len(streams) <= MAX_STREAMS:
        raise ValueError(f"expected 1..{MAX_STREAMS} streams, got {len(streams)}")
    step = header.quant_step_index
    if not -MAX_QUANT_STEP_INDEX <= step <= MAX_QUANT_STEP_INDEX:
        raise ValueError(f"quantisation step index must be in "
                         f"-{MAX_QUANT_STEP_INDEX}..{MAX_QUANT_STEP_INDEX}, got {step}")
    if step == 0:
        fixed = _FIXED.pack(header.checkpoint_id, header.rate, header.height, header.width, len(streams))
    else:
        fixed = _FIXED_V2.pack(header.checkpoint_id, header.rate, step, header.height, header.width, len(streams))
    body = b"".join([
        MAGIC, bytes([VERSION if step == 0 else VERSION_WITH_QUANT_STEP, len(name)]), name, fixed,
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
    if data[4] not in (VERSION, VERSION_WITH_QUANT_STEP):
        raise DecodeError(f"unsupported format version {data[4]} "
                          f"(this decoder reads versions {VERSION} and {VERSION_WITH_QUANT_STEP})")
    fixed_layout = _FIXED if data[4] == VERSION else _FIXED_V2
    n = data[5]
    fixed_end = 6 + n + fixed_layout.size
    if len(data) < fixed_end + 4:
        raise DecodeError("truncated file: header incomplete")
    try:
        model = data[6:6 + n].decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("corrupted header: model name is not UTF-8") from None
    if fixed_layout is _FIXED:
        checkpoint_id, rate, height, width, count = _FIXED.unpack_from(data, 6 + n)
        step = 0
    else:
        checkpoint_id, rate, step, height, width, count = _FIXED_V2.unpack_from(data, 6 + n)
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
    if fixed_layout is _FIXED_V2 and not (step != 0 and abs(step) <= MAX_QUANT_STEP_INDEX):
        raise DecodeError(f"corrupted header: quantisation step index {step} "
                          f"(version 2 holds -{MAX_QUANT_STEP_INDEX}..{MAX_QUANT_STEP_INDEX}, not 0)")
    streams, pos = [], lengths_end
    for length in lengths:
        streams.append(data[pos:pos + length])
        pos += length
    return Header(model, checkpoint_id, rate, height, width, step), streams
