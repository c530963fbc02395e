"""Odd images (issue 7): each one either round-trips at its own size or is refused with a clear message.

Grayscale, RGBA (composited on white, with a warning), palette, 16-bit PNG and TIFF, WebP, CMYK,
EXIF-rotated JPEG, 1x1, 17x9, very wide strips, photos above ``MAX_SIDE`` (downscaled with a note),
4000x3000 (under the limit: measured memory), above-limit sizes and files that are not images. The tiny model's weights are irrelevant here: only sizes, modes, warnings
and errors are checked.
"""
from __future__ import annotations

import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ditic_lite.cli import main
from ditic_lite.images import MAX_PIXELS, MAX_SIDE, ImageError, load_image, to_tensor

ROOT = Path(__file__).resolve().parents[1]
ALPHA_WARNING = "transparent pixels composited on white"
PEAK_MEMORY_LIMIT_GB = 4.0


@pytest.fixture(scope="module")
def codec():
    import ditic_lite

    return ditic_lite.load("tiny", rate=0)


def gradient(width: int, height: int) -> np.ndarray:
    """A smooth HxWx3 uint8 test picture."""
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1), (xx + yy) % 256], axis=2)
    return rgb.astype(np.uint8)


def round_trip(codec, source, size: tuple[int, int]) -> Image.Image:
    """Compress ``source`` (path, PIL image or array), decompress, check the size and mode."""
    out = codec.decompress(codec.compress(source))
    assert out.mode == "RGB" and out.size == size
    return out


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def write_png16_rgb(path: Path, rgb16: np.ndarray) -> None:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one), written chunk by chunk."""
    height, width, _ = rgb16.shape
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in rgb16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
                     + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


# ------------------------------------------------------------------------------- modes
def test_grayscale(codec, tmp_path):
    path = tmp_path / "gray.png"
    Image.fromarray(gradient(48, 32)[..., 0], "L").save(path)
    x = to_tensor(path)
    assert x.shape == (1, 3, 32, 48) and bool((x[:, 0] == x[:, 1]).all() and (x[:, 1] == x[:, 2]).all())
    round_trip(codec, path, (48, 32))


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_white_with_a_warning(codec, tmp_path, mode):
    rgb = gradient(40, 30)
    rgba = Image.fromarray(np.dstack([rgb, np.full((30, 40), 128, np.uint8)]), "RGBA")
    im = rgba if mode == "RGBA" else rgba.convert(mode)
    path = tmp_path / "alpha.png"
    im.save(path)
    with pytest.warns(UserWarning, match=ALPHA_WARNING):
        loaded = load_image(path)
    assert loaded.mode == "RGB" and loaded.size == (40, 30)
    if mode == "RGBA":  # half transparent: half way between the colour and white
        expected = rgb * (128 / 255) + 255 * (127 / 255)
        assert np.abs(np.asarray(loaded) - expected).max() <= 1
    with pytest.warns(UserWarning, match=ALPHA_WARNING):
        round_trip(codec, path, (40, 30))


def test_rgba_array_warns_and_is_composited_on_white(codec):
    transparent = np.dstack([gradient(20, 10), np.zeros((10, 20), np.uint8)])
    with pytest.warns(UserWarning, match=ALPHA_WARNING):
        assert bool((to_tensor(transparent) == 1.0).all())  # fully transparent: white
    with pytest.warns(UserWarning, match=ALPHA_WARNING):
        round_trip(codec, transparent, (20, 10))


def test_palette(codec, tmp_path):
    path = tmp_path / "palette.png"
    Image.fromarray(gradient(33, 21)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an opaque palette image drops nothing: no warning
        assert load_image(path).mode == "RGB"
    round_trip(codec, path, (33, 21))


def test_palette_with_transparency_is_composited_on_white(tmp_path):
    path = tmp_path / "palette_t.png"
    im = Image.fromarray(gradient(8, 8)).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    im.save(path, transparency=0)
    with pytest.warns(UserWarning, match=ALPHA_WARNING):
        loaded = np.asarray(load_image(path))
    transparent = np.asarray(im) == 0
    assert transparent.any() and bool((loaded[transparent] == 255).all())


def test_16bit_big_endian_tiff(codec, tmp_path):
    values = np.linspace(0, 65535, 20 * 12).reshape(12, 20).astype(np.uint16)
    path = tmp_path / "big_endian.tif"
    Image.frombytes("I;16B", (20, 12), values.astype(">u2").tobytes()).save(path)
    assert Image.open(path).mode == "I;16B"
    got = np.asarray(load_image(path))[..., 0].astype(int)
    assert np.abs(got - np.round(values / 257.0)).max() <= 1
    round_trip(codec, path, (20, 12))


def test_webp(codec, tmp_path):
    path = tmp_path / "photo.webp"
    Image.fromarray(gradient(36, 20)).save(path, quality=90)
    assert load_image(path).size == (36, 20)
    round_trip(codec, path, (36, 20))


def test_16bit_grayscale_png_is_scaled_by_its_bit_depth(codec, tmp_path):
    """16-bit values v map to round(v * 255 / 65535), also for a dark image whose values are <= 255."""
    for name, top in (("bright", 65535), ("dark", 255)):
        values = np.linspace(0, top, 24 * 16).reshape(16, 24).astype(np.uint16)
        path = tmp_path / f"{name}.png"
        Image.fromarray(values).save(path)
        assert Image.open(path).mode.startswith("I")
        got = np.asarray(load_image(path))[..., 0].astype(int)
        assert np.abs(got - np.round(values / 257.0)).max() <= 1, name
    round_trip(codec, path, (24, 16))


def test_16bit_rgb_png(codec, tmp_path):
    rgb16 = gradient(30, 20).astype(np.uint16) * 257  # 8-bit v -> 16-bit v * 257
    path = tmp_path / "rgb16.png"
    write_png16_rgb(path, rgb16)
    assert np.array_equal(np.asarray(load_image(path)), gradient(30, 20))
    round_trip(codec, path, (30, 20))


def test_cmyk_jpeg(codec, tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(gradient(32, 24)).convert("CMYK").save(path)
    assert load_image(path).mode == "RGB"
    round_trip(codec, path, (32, 24))


def test_exif_rotated_jpeg_is_upright(codec, tmp_path):
    """Stored 60x20 with orientation 6 (rotate 90 degrees clockwise): displayed and coded as 20x60."""
    stored = np.zeros((20, 60, 3), np.uint8)
    stored[:, :30] = (255, 0, 0)  # left half red, right half blue
    stored[:, 30:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)
    upright = np.asarray(load_image(path)).astype(int)
    assert upright.shape == (60, 20, 3)
    assert upright[5, 10, 0] > 200 and upright[5, 10, 2] < 60  # the left edge is now the top: red
    assert upright[55, 10, 2] > 200 and upright[55, 10, 0] < 60  # bottom: blue
    round_trip(codec, path, (20, 60))


# ------------------------------------------------------------------------------- sizes
@pytest.mark.parametrize("width, height", [(1, 1), (17, 9), (1, 300), (4096, 1), (1000, 3)])
def test_small_odd_and_strip_sizes(codec, width, height):
    """1x1, 17x9 and strips (4096x1 pads to 4096x256) round-trip at exactly their size."""
    round_trip(codec, gradient(width, height), (width, height))


@pytest.mark.parametrize("width, height, padded", [(70_000, 1, ", padded to multiples of 256: 70144x256"),
                                                   (4000, 4150, ", padded to multiples of 256: 4096x4352"),
                                                   (4097, 4097, "")])
def test_above_the_limit_is_refused_naming_it(codec, width, height, padded):
    """Refused before the model allocates anything; the message names the (padded) size and the limit.

    4000x4150 and the 70000x1 strip are under the limit themselves but not once padded, which is
    what the codec would allocate.
    """
    img = np.zeros((height, width, 3), np.uint8)
    limit = rf"above the limit of {MAX_PIXELS / 1e6:.1f} MP \(ditic_lite.images.MAX_PIXELS\)"
    with pytest.raises(ImageError, match=rf"image is {width}x{height}{padded} = .* MP, {limit}"):
        codec.compress(img)


def _png_header_only(path: Path, width: int, height: int) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + png_chunk(b"IDAT", zlib.compress(b"\0" * 100)) + png_chunk(b"IEND", b""))
    return path


def test_huge_png_refused_from_its_header(tmp_path):
    """At full size (``max_side=None``) a PNG declaring 6000x5000 (30 MP) is refused from its header:
    its pixels are never decoded (they could not be: the file holds 100 bytes of them)."""
    with pytest.raises(ImageError, match=r"6000x5000 = 30.0 MP, above the limit of 16.8 MP"):
        load_image(_png_header_only(tmp_path / "huge.png", 6000, 5000), max_side=None)


@pytest.mark.parametrize("kind, size, exif_rotated", [("jpg", (4032, 3024), False), ("png", (2500, 3001), False),
                                                      ("jpg", (3000, 1000), True)])
def test_large_photos_are_downscaled_with_a_note(tmp_path, capsys, kind, size, exif_rotated):
    """A phone photo (JPEG: decoded at a reduced scale first), a large PNG and an EXIF-rotated
    JPEG come out with their longer side at MAX_SIDE, the aspect ratio kept, and one printed note."""
    width, height = size
    small = gradient(width // 8, height // 8)
    path = tmp_path / f"large.{kind}"
    exif = Image.Exif()
    exif[0x0112] = 6 if exif_rotated else 1
    Image.fromarray(small).resize(size).save(path, exif=exif.tobytes())
    shown = (height, width) if exif_rotated else (width, height)
    loaded = load_image(path)
    assert max(loaded.size) == MAX_SIDE
    assert abs(loaded.width / loaded.height - shown[0] / shown[1]) < 0.01
    note = capsys.readouterr().out.strip().splitlines()
    assert len(note) == 1 and note[0].startswith(f"note: large.{kind} is {shown[0]}x{shown[1]} px; downscaled to "
                                                 f"{loaded.width}x{loaded.height}")
    assert load_image(path, max_side=None).size == shown and load_image(path, max_side=max(size)).size == shown
    assert "note" not in capsys.readouterr().out


def test_decompression_bomb_refused(tmp_path):
    """Above Pillow's own bomb limit (2 x 89 MP) Pillow refuses at open: still an ImageError."""
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(_png_header_only(tmp_path / "bomb.png", 20000, 20000))


_MEASURE = """
import resource, sys, numpy as np, ditic_lite
codec = ditic_lite.load("tiny", rate=0)
rng = np.random.default_rng(0)
small = rng.integers(0, 256, (3000 // 16 + 1, 4000 // 16, 3), dtype=np.uint8)
img = np.kron(small, np.ones((16, 16, 1), np.uint8))[:3000]  # 4000x3000, blocky content
out = codec.decompress(codec.compress(img))
try:  # VmHWM: this address space's peak (ru_maxrss keeps the forking parent's peak across exec on Linux)
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(out.size[0], out.size[1], peak)
"""


@pytest.mark.slow
def test_4000x3000_round_trips_in_bounded_memory():
    """12 MP (padded 4096x3072) round-trips; peak memory of the whole process stays under 4 GB.

    Measured on a 2-core CPU: compress peaks at 2.9 GB, decompress at 3.2 GB, about 25 s each.
    """
    proc = subprocess.run([sys.executable, "-c", _MEASURE], capture_output=True, text=True, cwd=ROOT,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    width, height, peak_kib = map(int, proc.stdout.split()[-3:])
    print(f"4000x3000 round trip: peak resident memory {peak_kib / 2**20:.2f} GB")
    assert (width, height) == (4000, 3000)
    assert peak_kib / 2**20 < PEAK_MEMORY_LIMIT_GB, f"peak {peak_kib / 2**20:.2f} GB"


# ------------------------------------------------------------------------------- not images
def _jpeg_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(gradient(64, 64)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _not_images(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.png"
    Image.fromarray(gradient(64, 64)).save(good)
    files = {"text": b"hello, I am not a picture\n", "empty": b"", "truncated png": good.read_bytes()[:len(good.read_bytes()) // 2],
             "png magic then junk": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
             "jpeg magic then junk": b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(500),
             "truncated jpeg": _jpeg_bytes()[:600]}
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / (name.replace(" ", "_") + ".png")
        paths[name].write_bytes(data)
    paths["directory"] = tmp_path
    return paths


def test_non_image_files_are_refused(codec, tmp_path):
    for name, path in _not_images(tmp_path).items():
        with pytest.raises(ImageError, match="not a readable image"):
            codec.compress(path)
    with pytest.raises(FileNotFoundError):
        codec.compress(tmp_path / "missing.png")


def test_cli_refuses_non_images_with_one_line(tmp_path, capsys):
    for name, path in _not_images(tmp_path).items():
        assert main(["compress", str(path), str(tmp_path / "out.ditic")]) == 2, name
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "not a readable image" in lines[0], name
    assert not (tmp_path / "out.ditic").exists()


@pytest.mark.parametrize("bad, message", [
    (np.zeros((0, 5, 3), np.uint8), "empty image"),
    (np.zeros((4, 5, 2), np.uint8), "expected an HxWx3 array"),
    (np.zeros((4, 5, 3), np.int64), "unsupported array dtype"),
    (np.full((4, 5, 3), np.nan, np.float32), "NaN"),
    ("a string that is no file", None),
])
def test_bad_in_memory_inputs(codec, bad, message):
    if message is None:
        with pytest.raises(FileNotFoundError):
            codec.compress(bad)
    else:
        with pytest.raises(ImageError, match=message):
            codec.compress(bad)


def test_cli_compress_downscales_to_max_side_with_a_note(tmp_path, capsys):
    path = tmp_path / "photo.jpg"
    Image.fromarray(gradient(200, 150)).save(path)
    out = tmp_path / "small.ditic"
    assert main(["compress", str(path), str(out), "--max-side", "64"]) == 0
    printed = capsys.readouterr().out
    assert "note: photo.jpg is 200x150 px; downscaled to 64x48" in printed and "(64x48, model tiny" in printed
    assert main(["compress", str(path), str(out), "--max-side", "0"]) == 0
    assert "note" not in (printed := capsys.readouterr().out) and "(200x150, model tiny" in printed
