"""The offline perception proxy (``ditic_lite.perception``): spectra and detail retention."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from ditic_lite import metrics as M
from ditic_lite import perception as P


@pytest.fixture(scope="module")
def photo(sample_paths) -> Image.Image:
    return Image.open(sample_paths[0]).convert("RGB").crop((100, 50, 420, 290))


def test_spectrum_rings_and_frequencies(photo):
    f, p = P.radial_power_spectrum(photo, bins=16)
    assert f.shape == p.shape == (16,)
    assert f[0] == pytest.approx(0.5 / 32) and f[-1] == pytest.approx(0.5 - 0.5 / 32)
    assert np.isfinite(p).all() and (p > 0).all()
    assert p[:4].mean() > p[-4:].mean()  # photos: energy falls with frequency
    with pytest.raises(ValueError, match="8 px"):
        P.radial_power_spectrum(photo.crop((0, 0, 4, 4)))


def test_spectrum_finds_a_stripe_frequency():
    x = np.arange(128)
    stripes = (127.5 + 100 * np.sin(2 * np.pi * 0.25 * x))[None, :].repeat(128, 0)  # 0.25 cycles/px
    img = Image.fromarray(np.stack([stripes] * 3, -1).astype(np.uint8))
    f, p = P.radial_power_spectrum(img, bins=32)
    assert abs(f[np.nanargmax(p)] - 0.25) <= 0.5 / 32


def test_detail_retention_is_one_for_the_original_and_falls_with_blur(photo):
    assert P.detail_retention(photo, photo) == pytest.approx(1.0)
    mild = P.detail_retention(photo, photo.filter(ImageFilter.GaussianBlur(0.7)))
    strong = P.detail_retention(photo, photo.filter(ImageFilter.GaussianBlur(2.0)))
    assert strong < mild < 1.0
    noisy = np.asarray(photo).astype(float) + np.random.default_rng(0).normal(0, 10, np.asarray(photo).shape)
    assert P.detail_retention(photo, Image.fromarray(noisy.clip(0, 255).astype(np.uint8))) > 1.0
    assert P.detail_error(1.0) == 0.0 and P.detail_error(0.5) == pytest.approx(1.0) == P.detail_error(2.0)


def test_detail_is_a_metric_and_checks_sizes(photo):
    assert M.METRICS["detail"](photo, photo) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="differ"):
        P.detail_retention(photo, photo.crop((0, 0, 64, 64)))


def test_spectra_table(photo):
    blurred = photo.filter(ImageFilter.GaussianBlur(2.0))
    df = P.spectra_table(photo, {"blurred": blurred}, bins=8)
    assert list(df["source"].unique()) == ["original", "blurred"] and len(df) == 16
    assert (df[df["source"] == "original"]["ratio"] == 1.0).all()
    assert df[df["source"] == "blurred"]["ratio"].iloc[-1] < 0.5
