"""Metrics: PSNR / MS-SSIM values, weight-needing metrics offline, FID/KID maths, BD-rate vs bjontegaard."""
from __future__ import annotations

import urllib.error
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from ditic_lite import metrics as M
from ditic_lite.reference import load as load_reference


def smooth_image(h: int = 192, w: int = 256, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, h // 16, w // 16, generator=g)
    return torch.nn.functional.interpolate(low, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


# ------------------------------------------------------------------------------- rate and distortion
def test_bits_per_pixel():
    assert M.bits_per_pixel(1000, 100, 80) == pytest.approx(1.0)
    assert M.bits_per_pixel(0, 10, 10) == 0.0
    with pytest.raises(ValueError):
        M.bits_per_pixel(10, 0, 10)


def test_psnr_known_values():
    x = torch.full((1, 3, 32, 32), 0.5)
    assert M.psnr(x, x) == float("inf")
    y = x + 0.1  # MSE 0.01 -> 20 dB
    assert M.psnr(x, y) == pytest.approx(20.0, abs=1e-4)
    # PIL / uint8 arrays give the same number as tensors
    a = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    b = np.clip(a.astype(int) + 3, 0, 255).astype(np.uint8)
    mse = np.mean(((a.astype(float) - b) / 255) ** 2)
    assert M.psnr(a, b) == pytest.approx(10 * np.log10(1 / mse), abs=1e-6)


def test_psnr_rejects_size_mismatch():
    with pytest.raises(ValueError, match="differ in size"):
        M.psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))


def test_ms_ssim_orders_quality():
    x = smooth_image()
    assert M.ms_ssim(x, x) == pytest.approx(1.0, abs=1e-6)
    g = torch.Generator().manual_seed(1)
    mild = (x + 0.02 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    strong = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    assert 1.0 > M.ms_ssim(x, mild) > M.ms_ssim(x, strong) > 0.0


def test_ms_ssim_small_image_is_a_clear_error():
    x = torch.rand(1, 3, 100, 200)
    with pytest.raises(ValueError, match="161"):
        M.ms_ssim(x, x)


# ------------------------------------------------------------------------------- pretrained metrics
@pytest.mark.pretrained
@pytest.mark.parametrize("name", ["lpips", "dists"])
def test_perceptual_metrics_where_weights_load(name):
    try:
        M.require(name)
    except M.MetricUnavailable as err:
        pytest.skip(str(err))
    x = smooth_image()
    noisy = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    fn = M.METRICS[name]
    assert fn(x, x) == pytest.approx(0.0, abs=1e-3)
    assert fn(x, noisy) > fn(x, (x + 0.01 * torch.randn_like(x)).clamp(0, 1))


@pytest.mark.pretrained
def test_patch_fid_where_weights_load():
    try:
        same, blurred = M.PatchFIDKID(), M.PatchFIDKID()
    except M.MetricUnavailable as err:
        pytest.skip(str(err))
    for seed in range(4):
        x = smooth_image(512, 512, seed)
        same.update(x, x)
        blurred.update(x, torch.nn.functional.avg_pool2d(x, 9, 1, 4))
    a, b = same.compute(), blurred.compute()
    assert a["patches"] == 20
    assert a["fid"] < 0.1 * b["fid"] and a["kid"] < b["kid"]


def test_missing_weights_raise_metric_unavailable(monkeypatch, tmp_path):
    """Offline: a failed download becomes MetricUnavailable naming the metric and the reason."""
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network (test)")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # empty cache
    monkeypatch.setattr(torch.hub, "urlopen", no_network)
    monkeypatch.setattr(M, "_FAILED", {})
    M._lpips_model.cache_clear()
    M._dists_model.cache_clear()
    try:
        with pytest.raises(M.MetricUnavailable, match=r"LPIPS \(alex\) needs the AlexNet.*download failed"):
            M.lpips(smooth_image(), smooth_image())
        with pytest.raises(M.MetricUnavailable, match="DISTS needs the VGG16"):
            M.require("dists")
        assert not M.available("lpips")
        # remembered: the second attempt fails at once, with the same message
        with pytest.raises(M.MetricUnavailable, match="no network"):
            M.require("lpips")
    finally:
        M._lpips_model.cache_clear()
        M._dists_model.cache_clear()


# ------------------------------------------------------------------------------- FID / KID
def test_extract_patches_grid_and_shifted_grid():
    x = torch.rand(1, 3, 512, 768)
    p = M.extract_patches(x, 256, shifted=False)
    assert p.shape == (6, 3, 256, 256)
    assert torch.equal(p[4], x[0, :, 256:512, 256:512])  # row 1, column 1
    p = M.extract_patches(x, 256, shifted=True)
    # 3x2 grid + shifted grid from (128, 128): 2 columns x 1 row
    assert p.shape == (8, 3, 256, 256)
    assert torch.equal(p[6], x[0, :, 128:384, 128:384])
    assert torch.equal(p[7], x[0, :, 128:384, 384:640])
    assert M.extract_patches(torch.rand(1, 3, 100, 300), 256).shape[0] == 0


def test_frechet_distance_closed_form():
    rng = np.random.default_rng(0)
    n, d = 20000, 4
    a = rng.normal(0, 1, (n, d))
    b = rng.normal(0, 1, (n, d)) * np.array([1, 2, 1, 1]) + np.array([1.0, 0, 0, 0])
    # |mu|^2 + sum(s_a + s_b - 2 sqrt(s_a s_b)) for diagonal covariances: 1 + (1 + 4 - 4) = 2
    assert M.frechet_distance(a, b) == pytest.approx(2.0, abs=0.1)
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_kernel_distance_separates_distributions():
    rng = np.random.default_rng(0)
    a, a2 = rng.normal(0, 1, (300, 8)), rng.normal(0, 1, (300, 8))
    b = rng.normal(0.5, 1, (300, 8))
    same, _ = M.kernel_distance(a, a2, subset_size=100, num_subsets=20)
    diff, _ = M.kernel_distance(a, b, subset_size=100, num_subsets=20)
    assert abs(same) < 0.02 and diff > 0.05


# ------------------------------------------------------------------------------- Bjontegaard
def _published_pairs() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Paper (rank 32/64) vs updated (rank 64/128) DiT-IC curves from the reference data."""
    df = load_reference("results")
    pairs = []
    for ds in ("Kodak", "CLIC2020", "DIV2K"):
        for metric in ("psnr", "ms_ssim", "lpips", "dists"):
            a = df[(df.dataset == ds) & df.model.str.startswith("rank32")].sort_values("bpp")
            t = df[(df.dataset == ds) & df.model.str.startswith("rank64")].sort_values("bpp")
            pairs.append((f"{ds}-{metric}", a.bpp.values, a[metric].values, t.bpp.values, t[metric].values))
    return pairs


def _synthetic_pairs():
    r = np.array([0.1, 0.25, 0.5, 1.0, 1.6])
    psnr = np.array([28.0, 30.5, 33.0, 36.0, 38.0])
    return [
        ("shift-up", r, psnr, r * 1.1, psnr + 0.7),
        ("crossing", r, psnr, np.array([0.08, 0.3, 0.45, 1.2]), np.array([27.5, 31.2, 32.9, 36.4])),
        ("sparse", r[:4], psnr[:4], np.array([0.12, 0.6, 1.5]), np.array([29.0, 34.0, 37.5])),
        ("lpips-like", r, 0.4 / (1 + 3 * r), r * 0.9, 0.38 / (1 + 3 * r)),
    ]


@pytest.mark.parametrize("case", _published_pairs() + _synthetic_pairs(), ids=lambda c: c[0])
def test_bd_rate_agrees_with_bjontegaard_package(case):
    bjontegaard = pytest.importorskip("bjontegaard")
    name, ra, ma, rt, mt = case
    sign = -1.0 if ("lpips" in name or "dists" in name) else 1.0  # the package wants rising metrics
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = dict(method="pchip", require_matching_points=False, min_overlap=0)
        expected = bjontegaard.bd_rate(ra, sign * ma, rt, sign * mt, **kw)
        expected_db = sign * bjontegaard.bd_psnr(ra, sign * ma, rt, sign * mt, **kw)
    assert M.bd_rate(ra, ma, rt, mt) == pytest.approx(expected, abs=0.1)  # issue: within 0.1 pp
    assert M.bd_rate(ra, ma, rt, mt) == pytest.approx(expected, abs=1e-6)  # in fact: same numbers
    assert M.bd_metric(ra, ma, rt, mt) == pytest.approx(expected_db, abs=1e-6)


def test_bd_rate_of_a_pure_rate_scaling_is_exact():
    r = np.array([0.1, 0.2, 0.4, 0.8])
    q = np.array([27.0, 30.0, 32.5, 35.0])
    assert M.bd_rate(r, q, 0.8 * r, q) == pytest.approx(-20.0, abs=1e-9)
    assert M.bd_rate(r, q, r, q) == pytest.approx(0.0, abs=1e-12)
    assert M.bd_metric(r, q, r, q + 0.5) == pytest.approx(0.5, abs=1e-9)


def test_pchip_integral_matches_scipy():
    from scipy.interpolate import PchipInterpolator

    x = np.array([0.0, 0.7, 1.0, 2.5, 3.0, 4.2])
    y = np.array([0.0, 1.0, 1.2, 1.1, 2.0, 2.2])  # non-monotonic: exercises the zero-slope rule
    for lo, hi in [(0.0, 4.2), (0.3, 2.9), (1.0, 1.0001)]:
        assert M._pchip_integral(x, y, lo, hi) == pytest.approx(PchipInterpolator(x, y).integrate(lo, hi), rel=1e-10)


def test_bd_rate_rejects_bad_curves():
    r = [0.1, 0.2, 0.4]
    with pytest.raises(ValueError, match="do not overlap"):
        M.bd_rate(r, [20, 21, 22], r, [30, 31, 32])
    with pytest.raises(ValueError, match="monotonic"):
        M.bd_rate(r, [20, 23, 22], r, [20, 21, 22])
    with pytest.raises(ValueError, match="positive"):
        M.bd_rate([0, 0.2, 0.4], [20, 21, 22], r, [20, 21, 22])


def test_reference_main_table_is_consistent_with_bd_rate_sign():
    """Sanity link between the two: the paper's DiT-IC saves rate vs PerCo (negative BD-rate)."""
    table = load_reference("main_table").set_index("method")
    assert isinstance(table, pd.DataFrame)
    assert table.loc["DiT-IC", "lpips_bd_rate_pct"] < 0 and table.loc["PerCo", "lpips_bd_rate_pct"] == 0
