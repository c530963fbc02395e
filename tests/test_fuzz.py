"""Hostile bitstreams: whatever bytes reach ``Codec.decompress``, the answer is an image or a DecodeError.

Outcomes allowed (issue 7), checked by :func:`check_outcome` for every generated case:

* the unmodified file decodes to exactly the reference image;
* a changed file raises :class:`~ditic_lite.DecodeError` whose message is one of
  :data:`DECODE_ERRORS` (a specific reason, never a bare "invalid file");
* a file *rebuilt with a valid CRC-32* around crafted fields or streams may also decode: the
  checksum cannot tell such a file from a real one and a rANS decoder reads any byte string, so
  the decoder must then return an RGB image of the declared size (what it shows is undefined);
* never another exception type, a crash, a hang (each case runs under :func:`watchdog`) or
  a memory blow-up (sizes and stream lengths are checked against limits before allocation).

The same case generator drives the short run here (hypothesis profile ``ditic-fuzz-ci``, a few
hundred cases, derandomised so CI is reproducible) and the long documented run::

    PYTHONPATH=. python scripts/fuzz_long.py --cases 10000

Select another profile with ``DITIC_FUZZ_PROFILE=ditic-fuzz-long pytest tests/test_fuzz.py``.
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ditic_lite import container
from ditic_lite.cli import main
from ditic_lite.container import MAGIC, DecodeError, Header

_QUIET = dict(deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ditic-fuzz-ci", max_examples=300, derandomize=True, **_QUIET)
settings.register_profile("ditic-fuzz-long", max_examples=10_000, **_QUIET)
PROFILE = os.environ.get("DITIC_FUZZ_PROFILE", "ditic-fuzz-ci")

HANG_SECONDS = 120
"""A case still running after this is a hang: the process dumps its stack and exits."""

DECODE_ERRORS = {  # start of every message the decoder raises -> short reason used in the counts
    "expected bytes": "not bytes",
    "file of ": "file too large",
    "not a ditic-lite file": "bad magic",
    "truncated file": "truncated",
    "unsupported format version": "version",
    "corrupted header": "corrupted header",
    "trailing data": "trailing data",
    "checksum mismatch": "checksum",
    "declared image size": "declared size",
    "the file was made by model": "wrong model",
    "the file was made with checkpoint": "wrong checkpoint",
    "expected 2 streams": "stream count",
    "the streams take": "stream budget",
    "entropy decoding failed": "entropy decoding",
}


# ------------------------------------------------------------------------------------ cases
@dataclass(frozen=True)
class Case:
    """One input for ``decompress``: how it was made, its bytes, and whether its CRC was recomputed."""

    kind: str
    data: bytes
    crafted: bool = False


def layout(seed: bytes) -> dict[str, tuple[int, int]]:
    """Byte ranges ``[start, end)`` of each field of a valid file (see ``ditic_lite/container.py``);
    a version 2 file has the quantisation step index after the rate."""
    base = 6 + seed[5]
    step = int(seed[4] == container.VERSION_WITH_QUANT_STEP)  # 1 byte more from the height on
    size = base + 9 + step
    count = seed[size + 8]
    table_end = size + 9 + 4 * count
    y_len = struct.unpack_from(">I", seed, size + 9)[0]
    fields = {
        "magic": (0, 4), "version": (4, 5), "name_length": (5, 6), "name": (6, base),
        "checkpoint": (base, base + 8), "rate": (base + 8, base + 9), "height": (size, size + 4),
        "width": (size + 4, size + 8), "count": (size + 8, size + 9), "lengths": (size + 9, table_end),
        "y": (table_end, table_end + y_len), "z": (table_end + y_len, len(seed) - 4),
        "crc": (len(seed) - 4, len(seed)),
    }
    if step:
        fields["quant_step"] = (base + 9, base + 10)
    return fields


def with_crc(body: bytes) -> bytes:
    """``body`` followed by its CRC-32: what a forger appends to pass the integrity check."""
    return body + struct.pack(">I", zlib.crc32(body))


def _position(draw: st.DrawFn, seed: bytes) -> int:
    """A byte position, first choosing a field so that every region of the file is hit."""
    start, end = layout(seed)[draw(st.sampled_from(sorted(layout(seed))))]
    return draw(st.integers(start, max(start, end - 1)))


@st.composite
def _bit_flips(draw: st.DrawFn, seed: bytes) -> Case:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        data[_position(draw, seed)] ^= 1 << draw(st.integers(0, 7))
    return Case("bit flips", bytes(data))


@st.composite
def _substitution(draw: st.DrawFn, seed: bytes) -> Case:
    data = bytearray(seed)
    data[_position(draw, seed)] = draw(st.integers(0, 255))
    return Case("byte substitution", bytes(data))


@st.composite
def _truncation(draw: st.DrawFn, seed: bytes) -> Case:
    return Case("truncation", seed[:_position(draw, seed)])


@st.composite
def _extension(draw: st.DrawFn, seed: bytes) -> Case:
    return Case("extension", seed + draw(st.binary(min_size=1, max_size=64)))


@st.composite
def _splice(draw: st.DrawFn, seed: bytes) -> Case:
    at = _position(draw, seed)
    if draw(st.booleans()):
        return Case("deletion", seed[:at] + seed[at + draw(st.integers(1, 64)):])
    return Case("insertion", seed[:at] + draw(st.binary(min_size=1, max_size=64)) + seed[at:])


@st.composite
def _random_bytes(draw: st.DrawFn, seed: bytes) -> Case:
    prefix = draw(st.sampled_from([b"", MAGIC, MAGIC + b"\x01", seed[:layout(seed)["lengths"][0]]]))
    return Case("random bytes", prefix + draw(st.binary(max_size=512)))


_SIDES = [0, 1, 2, 17, 255, 256, 257, 300, 511, 512, 65536 + 1, 1 << 31, (1 << 32) - 1]
"""Declared sides for header edits: small ones decode quickly, the huge ones must be refused."""


@st.composite
def _field_edit(draw: st.DrawFn, seed: bytes, fix_crc: bool) -> Case:
    """Overwrite one header field (sizes, lengths, count, version, name, ...), keeping the file length."""
    fields = ["version", "name_length", "name", "checkpoint", "rate", "height", "width", "count", "lengths"]
    name = draw(st.sampled_from(fields + (["quant_step"] if "quant_step" in layout(seed) else [])))
    start, end = layout(seed)[name]
    if name in ("height", "width"):
        value = struct.pack(">I", draw(st.sampled_from(_SIDES)))
    elif name == "lengths":
        value = struct.pack(">I", draw(st.one_of(st.integers(0, 2 * len(seed)), st.just((1 << 32) - 1))))
        end = start + 4 * draw(st.integers(1, (end - start) // 4))
        value = value * ((end - start) // 4)
    else:
        value = draw(st.binary(min_size=end - start, max_size=end - start))
    body = seed[:start] + value + seed[end:-4]
    return Case(f"{name} edit" + (" (CRC fixed)" if fix_crc else ""),
                with_crc(body) if fix_crc else body + seed[-4:], crafted=fix_crc)


@st.composite
def _renamed(draw: st.DrawFn, seed: bytes) -> Case:
    """A different model name of any length (name-length byte updated, CRC fixed)."""
    end = layout(seed)["name"][1]
    name = draw(st.binary(max_size=255))
    return Case("model name (CRC fixed)", with_crc(seed[:5] + bytes([len(name)]) + name + seed[end:-4]),
                crafted=True)


def _payload(original: bytes) -> st.SearchStrategy[bytes]:
    """Streams a forger could put in a valid container; all of them reach the rANS decoder."""
    flipped = st.tuples(st.integers(0, max(0, len(original) - 1)), st.integers(0, 7)).map(
        lambda p: original[:p[0]] + bytes([original[p[0]] ^ (1 << p[1])]) + original[p[0] + 1:]
        if original else b"\x01")
    return st.one_of(
        st.just(original), flipped, st.binary(max_size=2048),
        st.builds(lambda v, n: bytes([v]) * n, st.sampled_from([0x00, 0x0F, 0xF0, 0xFF, 0x80]),
                  st.integers(0, 70_000)),  # fills up to just above the budget of one 256x256 tile
        st.integers(0, len(original)).map(lambda n: original[:n]),
        st.binary(min_size=1, max_size=64).map(lambda extra: original + extra),
    )


@st.composite
def _crafted_streams(draw: st.DrawFn, seed: bytes, header: Header, streams: list[bytes]) -> Case:
    y, z = streams
    new = [draw(_payload(y)), draw(_payload(z))]
    if draw(st.integers(0, 9)) == 0:  # swapped, one stream or three
        new = draw(st.sampled_from([[z, y], [y], [y, z, z]]))
    return Case("streams (CRC fixed)", container.pack(header, new), crafted=True)


@st.composite
def _crafted_size(draw: st.DrawFn, seed: bytes, header: Header, streams: list[bytes]) -> Case:
    height, width = draw(st.sampled_from(_SIDES)), draw(st.sampled_from(_SIDES))
    body = seed[:layout(seed)["height"][0]] + struct.pack(">II", height, width) + seed[layout(seed)["count"][0]:-4]
    return Case("declared size (CRC fixed)", with_crc(body), crafted=True)


def cases(seed: bytes) -> st.SearchStrategy[Case]:
    """Every kind of hostile input made from one valid file ``seed`` (about 1 in 4 crafted)."""
    header, streams = container.unpack(seed)
    return st.one_of(
        st.just(Case("unmodified", seed)),
        _bit_flips(seed), _substitution(seed), _truncation(seed), _extension(seed), _splice(seed),
        _random_bytes(seed), _field_edit(seed, fix_crc=False),
        _field_edit(seed, fix_crc=True), _renamed(seed),
        _crafted_streams(seed, header, streams), _crafted_size(seed, header, streams),
    )


# ------------------------------------------------------------------------------------ outcomes
def decode_error_reason(message: str) -> str:
    """The short reason of a DecodeError message; an unknown message fails the check."""
    for start, reason in DECODE_ERRORS.items():
        if message.startswith(start):
            return reason
    raise AssertionError(f"DecodeError without a specific known message: {message!r}")


@contextlib.contextmanager
def watchdog(seconds: float | None = None) -> Iterator[None]:
    """Turn a hang into a failure: after ``seconds`` (default :data:`HANG_SECONDS`) dump every
    thread's stack and exit the process."""
    faulthandler.dump_traceback_later(seconds or HANG_SECONDS, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def check_outcome(codec, case: Case, seed: bytes, reference: Image.Image) -> str:
    """Decode ``case`` and check that the outcome is allowed; returns a label for the counts."""
    try:
        with watchdog():
            image = codec.decompress(case.data)
    except DecodeError as err:
        return f"DecodeError: {decode_error_reason(str(err))}"
    if case.data == seed:
        assert image.tobytes() == reference.tobytes(), "the unmodified file decoded differently"
        return "image: unmodified file"
    assert case.crafted, f"{case.kind}: a changed file decoded without DecodeError"
    header, _ = container.unpack(case.data)
    assert image.mode == "RGB" and image.size == (header.width, header.height), \
        f"{case.kind}: decoded {image.mode} {image.size}, declared {header.width}x{header.height}"
    return "image: crafted well-formed file"


def make_seeds(codec) -> dict[str, tuple[bytes, Image.Image]]:
    """Three valid files (one and two 256x256 tiles, and one tile with quantisation step 2, a
    version 2 header) with their reference decodes."""
    photo = Image.open(Path(__file__).resolve().parents[1] / "data" / "samples" / "kite.png").convert("RGB")
    seeds = {}
    for name, box, step in (("40x24", (300, 200, 340, 224), 1.0), ("300x200", (200, 150, 500, 350), 1.0),
                            ("40x24 step 2", (300, 200, 340, 224), 2.0)):
        data = codec.compress(photo.crop(box), quant_step=step)
        seeds[name] = (data, codec.decompress(data))
    return seeds


# ------------------------------------------------------------------------------------ tests
@pytest.fixture(scope="module")
def codec():
    import ditic_lite

    return ditic_lite.load("tiny", rate=0)


@pytest.fixture(scope="module")
def seeds(codec):
    return make_seeds(codec)


@pytest.mark.slow
def test_fuzz_decompress(codec, seeds):
    """A few hundred hostile inputs (profile ``ditic-fuzz-ci``): only allowed outcomes."""
    counts: dict[str, int] = {}
    worst = [0.0, ""]

    @settings(settings.get_profile(PROFILE))
    @given(data=st.data())
    def run(data):
        seed, reference = seeds[data.draw(st.sampled_from(sorted(seeds)), label="seed")]
        case = data.draw(cases(seed), label="case")
        tic = time.perf_counter()
        label = check_outcome(codec, case, seed, reference)
        seconds = time.perf_counter() - tic
        if seconds > worst[0]:
            worst[:] = [seconds, case.kind]
        counts[label] = counts.get(label, 0) + 1

    run()
    print(f"\nfuzz outcomes ({sum(counts.values())} cases, slowest {worst[0]:.2f} s: {worst[1]}):")
    for label, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {label}")
    # the generator is not vacuous: mostly refusals, and both image outcomes were exercised
    assert sum(v for k, v in counts.items() if k.startswith("DecodeError")) > 0.5 * sum(counts.values())
    assert counts.get("image: unmodified file", 0) and counts.get("image: crafted well-formed file", 0)


@pytest.mark.parametrize("kind", ["0xFF y", "0xFF z", "random y", "0x0F both"])
def test_work_is_bounded_per_byte(codec, seeds, kind):
    """Streams that maximise rANS escape reads, at the byte budget of one tile, decode in bounded time."""
    seed, _ = seeds["40x24"]
    header, (y, z) = container.unpack(seed)
    n = container.max_stream_bytes(256 * 256) - 4096
    streams = {"0xFF y": [b"\xff" * n, z], "0xFF z": [y, b"\xff" * n],
               "random y": [np.random.default_rng(0).bytes(n), z],
               "0x0F both": [b"\x0f" * (n // 2), b"\x0f" * (n // 2)]}[kind]
    tic = time.perf_counter()
    codec.decompress(seed)
    normal = time.perf_counter() - tic
    tic = time.perf_counter()
    with watchdog():
        image = codec.decompress(container.pack(header, streams))
    assert image.size == (40, 24)
    assert time.perf_counter() - tic < 10 * normal + 5.0


def test_oversized_streams_refused_before_decoding(codec, seeds):
    seed, _ = seeds["40x24"]
    header, (y, z) = container.unpack(seed)
    budget = container.max_stream_bytes(256 * 256)
    with pytest.raises(DecodeError, match=r"above the budget of 65536 for a 40x24 image"):
        codec.decompress(container.pack(header, [b"\0" * budget, z]))
    with pytest.raises(DecodeError, match="MAX_FILE_BYTES"):
        codec.decompress(bytes(container.MAX_FILE_BYTES + 1))


def test_declared_size_refused_by_its_padded_size(codec, seeds):
    """32769x257 is 8.4 MP but pads to 33024x512 = 16.9 MP: refused before decoding, naming the limit."""
    seed, _ = seeds["40x24"]
    body = bytearray(seed[:-4])
    start = layout(seed)["height"][0]
    body[start:start + 8] = struct.pack(">II", 257, 32769)
    with pytest.raises(DecodeError, match=r"declared image size refused: .*padded.*MAX_PIXELS"):
        codec.decompress(with_crc(bytes(body)))


def _hostile_files(seed: bytes) -> dict[str, bytes]:
    body = bytearray(seed[:-4])
    body[layout(seed)["checkpoint"][0]] ^= 0xFF
    return {
        "empty": b"", "junk": b"not a ditic file", "truncated": seed[: len(seed) // 2],
        "flipped": seed[:40] + bytes([seed[40] ^ 4]) + seed[41:], "extended": seed + b"\0",
        "version": seed[:4] + b"\x07" + seed[5:], "other checkpoint": with_crc(bytes(body)),
    }


@pytest.mark.parametrize("command", ["decompress", "info"])
def test_cli_one_error_line_exit_2(tmp_path, seeds, capsys, command):
    seed, _ = seeds["40x24"]
    for name, data in _hostile_files(seed).items():
        if command == "info" and name == "other checkpoint":
            continue  # a well-formed header: info prints it
        path = tmp_path / f"{name}.ditic"
        path.write_bytes(data)
        args = [command, str(path)] + ([str(tmp_path / "out.png")] if command == "decompress" else [])
        assert main(args) == 2, name
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, err)
        assert not (tmp_path / "out.png").exists()


def test_cli_reads_at_most_the_limit(tmp_path, capsys):
    """A huge (sparse) file or an endless device is refused after reading MAX_FILE_BYTES + 1 bytes."""
    huge = tmp_path / "huge.ditic"
    with open(huge, "wb") as f:
        f.truncate(1 << 34)  # 16 GiB, sparse
    sources = [huge] + ([Path("/dev/zero")] if Path("/dev/zero").exists() else [])
    for source in sources:
        assert main(["decompress", str(source), str(tmp_path / "out.png")]) == 2
        assert "larger than the limit" in capsys.readouterr().err


def test_layout_matches_each_seed_header(seeds):
    """The fuzzer's field map reads back the header of every seed, version 1 and 2."""
    for seed, _ in seeds.values():
        header, streams = container.unpack(seed)
        at = layout(seed)
        assert struct.unpack(">II", seed[at["height"][0]:at["width"][1]]) == (header.height, header.width)
        assert seed[slice(*at["y"])] == streams[0] and seed[slice(*at["z"])] == streams[1]
        assert ("quant_step" in at) == (header.quant_step_index != 0)
    assert container.unpack(seeds["40x24 step 2"][0])[0].quant_step == 2.0
