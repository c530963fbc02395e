"""Baselines: Pillow codecs and the bpp search, CompressAI zoo wiring and its offline error, learned codecs."""
from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image

from ditic_lite import baselines as B
from ditic_lite import registry as R
from ditic_lite.images import load_image
from ditic_lite.metrics import bits_per_pixel, psnr


@pytest.fixture(scope="module")
def photo(sample_paths) -> Image.Image:
    if sample_paths:
        return load_image(sample_paths[0]).crop((0, 0, 384, 256))
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:256, 0:384] / 256
    a = np.stack([np.sin(3 * x + c) * 0.4 + 0.5 for c in range(3)], -1) + rng.normal(0, 0.05, (256, 384, 3))
    return Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8))


def _bpp(data: bytes, img: Image.Image) -> float:
    return bits_per_pixel(len(data), img.height, img.width)


def _pillow_codec(fmt: str) -> B.PillowCodec:
    try:
        return B.PillowCodec(fmt)
    except B.BaselineUnavailable as err:
        pytest.skip(str(err))


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_pillow_round_trip_and_ladder(fmt, photo):
    codec = _pillow_codec(fmt)
    rec = codec.decompress(codec.compress(photo))
    assert rec.size == photo.size and rec.mode == "RGB"
    rates = [_bpp(B.get_codec(fmt, r).compress(photo), photo) for r in codec.rates]
    assert rates == sorted(rates), "the quality ladder must give increasing rates"
    low, high = B.get_codec(fmt, 0), B.get_codec(fmt, codec.rates[-1])
    assert psnr(photo, high.decompress(high.compress(photo))) > psnr(photo, low.decompress(low.compress(photo)))


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_downscaled_variant_reaches_below_quality_zero(fmt, photo):
    plain, small = B.pillow_codec(fmt), B.pillow_codec(f"{fmt}-ds")
    floor = _bpp(plain.encode(photo, B.QUALITY_RANGE[fmt][0]), photo)
    target = floor / 3
    data, q = small.at_bpp(photo, target)
    assert _bpp(data, photo) <= target < floor
    rec = small.decompress(data)
    assert rec.size == photo.size and rec.mode == "RGB"
    # the chosen file is the best of the scale x quality grid: no single scale beats it
    for s in (B.DOWNSCALES[0], B.DOWNSCALES[len(B.DOWNSCALES) // 2]):
        found = B._highest_quality(lambda k: small.encode(photo, k, s), B.QUALITY_RANGE[fmt], target * photo.width * photo.height)
        if found is not None:
            assert psnr(photo, small.decode(found[0])) <= psnr(photo, rec) + 1e-9
    # more bits, better picture
    richer, _ = small.at_bpp(photo, 4 * target)
    assert psnr(photo, small.decompress(richer)) > psnr(photo, rec)


def test_downscaled_ladder_and_bad_files(photo):
    codec = B.get_codec("webp-ds", 0)
    assert codec.name == "webp-ds" and codec.rates == list(range(len(B.DOWNSCALED_LADDER)))
    sizes = [len(B.get_codec("webp-ds", r).compress(photo)) for r in codec.rates]
    assert sizes == sorted(sizes)
    with pytest.raises(ValueError, match="scale"):
        B.DownscaledPillowCodec("webp", 50, scale=0)
    with pytest.raises(B.container.DecodeError):
        codec.decompress(b"\x00\x01")
    with pytest.raises(B.container.DecodeError, match="empty"):
        codec.decompress(b"\x00\x00\x00\x00" + b"RIFF")


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_at_bpp_is_the_closest_at_or_below(fmt, photo):
    codec = _pillow_codec(fmt)
    for target in (0.3, 0.8):
        data, q = codec.at_bpp(photo, target)
        assert _bpp(data, photo) <= target
        assert data == codec.encode(photo, q)
        if q < B.QUALITY_RANGE[fmt][1]:
            assert _bpp(codec.encode(photo, q + 1), photo) > target
    data, q = codec.at_bpp(photo, 1e-4)  # unreachable: the lowest quality is returned
    assert q == B.QUALITY_RANGE[fmt][0] and _bpp(data, photo) > 1e-4


def test_pillow_codec_accepts_arrays_and_tensors(photo):
    codec = B.PillowCodec("jpeg", 80)
    a = np.array(photo)  # a writable copy
    t = torch.from_numpy(a).permute(2, 0, 1).float() / 255
    assert codec.compress(a) == codec.compress(photo) == codec.compress(t)


def test_unknown_codec_and_rate_are_clear_errors():
    with pytest.raises(ValueError, match="unknown codec"):
        B.get_codec("jpeg2000")
    with pytest.raises(ValueError, match="rate ids are 0..6"):
        B.get_codec("jpeg", 7)
    with pytest.raises(ValueError, match="quality must be in"):
        B.PillowCodec("jpeg", 0)
    assert {"jpeg", "webp", "avif", "tiny", "mse", "bmshj2018-hyperprior"} <= set(B.codec_names())


def test_registry_is_the_one_table_of_codec_names():
    assert R.names(R.TINY) == ["tiny", "mse"] and R.names(R.OFFICIAL) == ["official"]
    assert R.names(R.PILLOW) == ["jpeg", "webp", "avif", "jpeg-ds", "webp-ds", "avif-ds"]
    assert B.codec_names() == [n for n in R.names() if n != "official"]  # needs checkpoint=
    assert R.CODECS["tiny"].dit_steps and not R.CODECS["mse"].dit_steps
    for name in R.names(R.PILLOW):
        assert B.codec_rates(name) == R.CODECS[name].rate_ids == B.pillow_codec(name, 0).rates
    assert B.LADDERS["webp"] == R.CODECS["webp"].rate_settings and B.DOWNSCALED_LADDER == R.CODECS["avif-ds"].rate_settings
    entry = R.find("cheng2020-anchor")
    assert entry.kind == R.COMPRESSAI and entry.rate_ids == B.codec_rates("cheng2020_anchor")
    assert R.find("jpeg2000") is None and R.CODECS["tiny"].rate_ids is None
    with pytest.raises(ValueError, match="unknown codec kind"):
        R.names("video")


def test_load_get_codec_and_cli_read_the_registry(tmp_path, capsys):
    from ditic_lite import cli, zoo

    with pytest.raises(ValueError, match=r"unknown model 'jpeg'; choose from \['mse', 'official', 'tiny'\]"):
        zoo.load("jpeg")
    with pytest.raises(ValueError, match="checkpoint= is only for the official model"):
        zoo.load("mse", checkpoint="q2_merge_ema.pt")
    with pytest.raises(ValueError, match="unknown codec 'official'"):
        B.get_codec("official")
    official = B.container.pack(B.container.Header("official", b"release!", 0, 64, 64), [b"\x01", b"\x02"])
    (tmp_path / "o.ditic").write_bytes(official)
    assert cli.main(["decompress", str(tmp_path / "o.ditic"), str(tmp_path / "o.png")]) == 2
    assert "files of the official model decode with" in capsys.readouterr().err


def test_zoo_codec_wiring_with_random_weights(photo):
    """The container round trip of a CompressAI model (random weights: checks wiring, not quality)."""
    small = photo.crop((0, 0, 100, 70))  # not a multiple of 64: padded and cropped back
    codec = B.ZooCodec("bmshj2018_hyperprior", 1, pretrained=False)
    data = codec.compress(small)
    assert data[:4] == b"DTIC"
    assert codec.decompress(data).size == small.size
    assert B.codec_rates("cheng2020-anchor") == list(range(6))
    with pytest.raises(ValueError, match="qualities are"):
        B.ZooCodec("cheng2020-anchor", 7, pretrained=False)


def test_zoo_pretrained_offline_is_a_clear_error(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network (test)")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "urlopen", no_network)
    with pytest.raises(B.BaselineUnavailable, match="mbt2018-mean q2 needs CompressAI's pretrained weights"):
        B.get_codec("mbt2018-mean", 1)


@pytest.mark.pretrained
def test_zoo_pretrained_where_weights_load(photo):
    try:
        codec = B.get_codec("bmshj2018-hyperprior", 3)
    except B.BaselineUnavailable as err:
        pytest.skip(str(err))
    data = codec.compress(photo)
    assert psnr(photo, codec.decompress(data)) > 28 and _bpp(data, photo) < 1.0


@pytest.mark.parametrize("name", ["tiny", "mse"])
def test_learned_codecs_share_the_interface(name, photo):
    codec = B.get_codec(name, 0)  # the shipped checkpoints are in the repository: a load failure fails
    img = photo.crop((0, 0, 256, 256))
    data = codec.compress(img)
    rec = codec.decompress(data, steps=1)
    assert rec.size == img.size and 0 in codec.rates and codec.name == name
