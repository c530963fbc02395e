"""The .ditic container: layout, limits and one clear error per problem."""
import struct
import zlib

import pytest

from ditic_lite.container import MAGIC, DecodeError, Header, pack, unpack

HEADER = Header("tiny", b"12345678", 3, 512, 768)
STREAMS = [b"y" * 100, b"z" * 7]


def test_round_trip_and_layout():
    data = pack(HEADER, STREAMS)
    header, streams = unpack(data)
    assert header == HEADER and streams == STREAMS
    assert data[:4] == MAGIC and data[4] == 1 and data[5] == 4 and data[6:10] == b"tiny"
    assert len(data) == 4 + 2 + 4 + 8 + 1 + 4 + 4 + 1 + 2 * 4 + 107 + 4
    assert struct.unpack(">I", data[-4:])[0] == zlib.crc32(data[:-4])


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"JUNK" + d[4:], "bad magic"),
    (lambda d: d[:3], "bad magic"),
    (lambda d: d[:30], "truncated"),
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"\0", "trailing data"),
    (lambda d: d[:40] + bytes([d[40] ^ 1]) + d[41:], "checksum"),
    (lambda d: d[:4] + b"\x09" + d[5:], "version"),
])
def test_each_problem_has_its_message(mutate, message):
    with pytest.raises(DecodeError, match=message):
        unpack(mutate(pack(HEADER, STREAMS)))


def _repack(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


def test_declared_size_limits_checked_with_valid_crc():
    data = pack(Header("tiny", b"12345678", 0, 70000, 70000), STREAMS)
    with pytest.raises(DecodeError, match="outside the decoder's limits"):
        unpack(data)
    body = bytearray(pack(HEADER, STREAMS)[:-4])
    body[27] = 0  # stream count 0 (offset 23 + len("tiny"))
    with pytest.raises(DecodeError, match="streams declared"):
        unpack(_repack(bytes(body)))


def test_huge_declared_stream_length_is_not_allocated():
    body = bytearray(pack(HEADER, STREAMS)[:-4])
    body[28:32] = struct.pack(">I", 0xFFFFFFFF)
    with pytest.raises(DecodeError, match="truncated"):
        unpack(_repack(bytes(body)))


def test_not_bytes():
    with pytest.raises(DecodeError, match="expected bytes"):
        unpack("a string")


def test_pack_rejects_bad_headers():
    with pytest.raises(ValueError):
        pack(Header("x" * 300, b"12345678", 0, 1, 1), STREAMS)
    with pytest.raises(ValueError):
        pack(Header("tiny", b"short", 0, 1, 1), STREAMS)


def test_quant_step_in_version_2_only_when_not_one():
    stepped = Header("tiny", b"12345678", 3, 512, 768, quant_step_index=-8)
    data = pack(stepped, STREAMS)
    header, streams = unpack(data)
    assert header == stepped and header.quant_step == 0.5 and streams == STREAMS
    assert data[4] == 2 and len(data) == len(pack(HEADER, STREAMS)) + 1
    assert pack(HEADER, STREAMS)[4] == 1 and HEADER.quant_step == 1.0  # step 1: version 1 bytes


def test_quant_step_grid():
    from ditic_lite.container import MAX_QUANT_STEP_INDEX, quant_step, quant_step_index
    from ditic_lite.latent_codec import QUANT_STEP_RANGE

    assert (quant_step(-MAX_QUANT_STEP_INDEX), quant_step(MAX_QUANT_STEP_INDEX)) == QUANT_STEP_RANGE
    assert quant_step_index(1.0) == 0 and quant_step_index(2.0) == 8 and quant_step_index(0.6) == -6
    for bad in (0, -1, 20.0, 0.01, "2"):
        with pytest.raises(ValueError, match="quantisation step"):
            quant_step_index(bad)


@pytest.mark.parametrize("index", [0, 33, -128])
def test_version_2_step_index_checked(index):
    body = pack(Header("tiny", b"12345678", 3, 512, 768, quant_step_index=5), STREAMS)[:-4]
    at = 6 + 4 + 8 + 1  # magic, version, name length, name, checkpoint id, rate
    body = body[:at] + struct.pack(">b", index) + body[at + 1:]
    with pytest.raises(DecodeError, match="quantisation step index"):
        unpack(_repack(body))
