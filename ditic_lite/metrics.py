"""Image-quality metrics, bits per pixel and Bjontegaard deltas: one place for every number we report.

* Distortion: PSNR, MS-SSIM (``pytorch-msssim``), LPIPS (``lpips``, AlexNet), DISTS
  (``DISTS_pytorch``, VGG16) per image; FID/KID per data set on 256x256 patches.
* Offline perception proxy: ``detail``, the high-frequency power kept (``spectrum.py``, no weights).
* Rate: :func:`bits_per_pixel` from the real file size (defined in ``sizes.py``, without torch).
* Comparison of rate-distortion curves: :func:`bd_rate` and :func:`bd_metric`.

LPIPS, DISTS and FID/KID need ImageNet / Inception backbone weights that torchvision or
torch-fidelity download on first use. Where that fails (offline) they raise
:class:`MetricUnavailable` with the reason instead of hanging or returning a wrong number.

Explained in notebook ``05_rate_perception_curves``.
"""
from __future__ import annotations

import contextlib
import functools
import socket
import sys
import warnings
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .images import ImageLike, to_tensor
from .sizes import bits_per_pixel  # noqa: F401  (the rate; defined torch-free for `ditic-lite info`)

NETWORK_TIMEOUT_S = 20.0  # a weight download that stalls longer than this counts as failed


class WeightsUnavailable(RuntimeError):
    """Pretrained weights that a metric or a baseline needs cannot be loaded here (e.g. offline)."""


class MetricUnavailable(WeightsUnavailable):
    """A metric needs weights (or a package) that cannot be loaded here."""


# ---------------------------------------------------------------------------------------------
# Full-reference distortion metrics (one image pair -> one float)
# ---------------------------------------------------------------------------------------------

def _pair(reference: ImageLike, test: ImageLike) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = to_tensor(reference), to_tensor(test)
    if x.shape != y.shape:
        raise ValueError(f"images differ in size: {tuple(x.shape[-2:])} vs {tuple(y.shape[-2:])}")
    return x, y


def psnr(reference: ImageLike, test: ImageLike) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels, peak value 1 (i.e. 255).

    ``inf`` for identical images.
    """
    x, y = _pair(reference, test)
    mse = torch.mean((x.double() - y.double()) ** 2).item()
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


MS_SSIM_MIN_SIDE = 161  # 5 scales of an 11-tap window: (11 - 1) * 2**4 < side


def ms_ssim(reference: ImageLike, test: ImageLike) -> float:
    """Multi-scale SSIM (Wang et al. 2003) with pytorch-msssim defaults (5 scales, 11x11 Gaussian)."""
    from pytorch_msssim import ms_ssim as _ms_ssim

    x, y = _pair(reference, test)
    if min(x.shape[-2:]) < MS_SSIM_MIN_SIDE:
        raise ValueError(
            f"MS-SSIM needs both sides >= {MS_SSIM_MIN_SIDE} px, got {x.shape[-1]}x{x.shape[-2]}"
        )
    return float(_ms_ssim(x, y, data_range=1.0, size_average=True))


_FAILED: dict[str, str] = {}  # what -> reason, so a second call fails at once


@contextlib.contextmanager
def weights_download(what: str, needs: str, error: type[WeightsUnavailable] = MetricUnavailable) -> Iterator[None]:
    """Turn any failure while fetching pretrained weights into ``error`` with the reason.

    A socket timeout bounds a stalled download; a failure is remembered for the process so that
    a second attempt fails at once.
    """
    if what in _FAILED:
        raise error(_FAILED[what])
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(NETWORK_TIMEOUT_S)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torchvision's "pretrained=" deprecation
            yield
    except Exception as err:  # URLError, HTTPError, socket.timeout, a corrupt partial file, ...
        msg = (f"{what} needs {needs} (download failed: {type(err).__name__}: {err}); "
               "run where they can be fetched or are cached in the torch hub folder")
        _FAILED[what] = msg
        raise error(msg) from err
    finally:
        socket.setdefaulttimeout(old)


@functools.lru_cache(maxsize=None)
def _lpips_model(net: str) -> torch.nn.Module:
    import lpips as lpips_pkg

    backbone = {"alex": "AlexNet", "vgg": "VGG16", "squeeze": "SqueezeNet"}[net]
    with weights_download(f"LPIPS ({net})", f"the {backbone} ImageNet weights from torchvision"):
        return lpips_pkg.LPIPS(net=net, verbose=False).eval()


def lpips(reference: ImageLike, test: ImageLike, net: str = "alex") -> float:
    """LPIPS distance (Zhang et al. 2018), AlexNet backbone as in the paper's tables; lower is better."""
    x, y = _pair(reference, test)
    with torch.no_grad():
        return float(_lpips_model(net)(x, y, normalize=True))  # normalize: [0,1] -> [-1,1]


@functools.lru_cache(maxsize=None)
def _dists_model() -> torch.nn.Module:
    try:
        import DISTS_pytorch
    except ImportError as err:
        raise MetricUnavailable("DISTS needs the DISTS_pytorch package: pip install DISTS_pytorch") from err
    with weights_download("DISTS", "the VGG16 ImageNet weights from torchvision"):
        model = DISTS_pytorch.DISTS(load_weights=False)
    # the package reads its alpha/beta from sys.prefix; look next to the module first
    candidates = [Path(DISTS_pytorch.__file__).parent / "weights.pt", Path(sys.prefix) / "weights.pt"]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        raise MetricUnavailable(f"DISTS weights.pt not found in {[str(p) for p in candidates]}")
    weights = torch.load(path, map_location="cpu", weights_only=True)
    model.alpha.data, model.beta.data = weights["alpha"], weights["beta"]
    return model.eval()


def dists(reference: ImageLike, test: ImageLike) -> float:
    """DISTS distance (Ding et al. 2020), structure + texture similarity on VGG16 features; lower is better."""
    x, y = _pair(reference, test)
    with torch.no_grad():
        return float(_dists_model()(x, y, require_grad=False, batch_average=True))


def detail(reference: ImageLike, test: ImageLike) -> float:
    """Detail retention (offline perception proxy, no weights): high-frequency power of ``test``
    over that of ``reference``, 1 = the original's fine detail (``spectrum.detail_retention``;
    neither higher nor lower is better, closeness to 1 is)."""
    from .spectrum import detail_retention

    return detail_retention(reference, test)


METRICS: dict[str, Callable[[ImageLike, ImageLike], float]] = {
    "psnr": psnr, "ms_ssim": ms_ssim, "lpips": lpips, "dists": dists, "detail": detail,
}
HIGHER_IS_BETTER = {"psnr": True, "ms_ssim": True, "lpips": False, "dists": False, "fid": False, "kid": False}
NEEDS_WEIGHTS = ("lpips", "dists")


def scores(reference: ImageLike, test: ImageLike, names: Sequence[str], warn: bool = False) -> dict[str, float]:
    """Metrics by name (keys of :data:`METRICS`). A metric that cannot be computed on this pair
    (MS-SSIM below its minimum size) or here (LPIPS / DISTS without their weights) gives NaN;
    ``warn`` says so with a warning."""
    out = {}
    for name in names:
        try:
            out[name] = METRICS[name](reference, test)
        except (ValueError, MetricUnavailable) as err:
            if warn:
                warnings.warn(f"{name}: {err}; recorded as NaN", stacklevel=2)
            out[name] = float("nan")
    return out


def require(name: str) -> None:
    """Load what metric ``name`` needs now; raise :class:`MetricUnavailable` (with the reason) if it can't."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose from {sorted(METRICS)}")
    if name == "lpips":
        _lpips_model("alex")
    elif name == "dists":
        _dists_model()


def available(name: str) -> bool:
    """True if metric ``name`` can be computed here (its weights load); never raises."""
    try:
        require(name)
        return True
    except MetricUnavailable:
        return False


# ---------------------------------------------------------------------------------------------
# FID / KID on patches (a data-set metric)
# ---------------------------------------------------------------------------------------------

def extract_patches(img: ImageLike, size: int = 256, shifted: bool = True) -> torch.Tensor:
    """Cut an image into non-overlapping ``size`` x ``size`` patches -> Nx3xsizexsize.

    The protocol of HiFiC (Mentzer et al. 2020), followed by PerCo and DiT-IC for FID/KID: a grid
    from the top-left corner, plus (``shifted``) a second grid offset by ``size // 2`` in both
    directions. Border remainders are dropped; an image smaller than a patch gives none.
    """
    x = to_tensor(img)[0]
    _, h, w = x.shape
    patches = []
    for offset in ((0, size // 2) if shifted else (0,)):
        for top in range(offset, h - size + 1, size):
            for left in range(offset, w - size + 1, size):
                patches.append(x[:, top:top + size, left:left + size])
    return torch.stack(patches) if patches else x.new_zeros(0, 3, size, size)


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """FID formula (Heusel et al. 2017): |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))."""
    from scipy import linalg

    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():  # singular product: regularise slightly
        eps = 1e-6 * np.eye(len(s_a))
        covmean = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(covmean))


def kernel_distance(feats_a: np.ndarray, feats_b: np.ndarray, subset_size: int = 1000,
                    num_subsets: int = 100, seed: int = 0) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): unbiased MMD^2 with kernel (a.b / d + 1)^3, mean and std over
    random subsets of ``min(subset_size, n)`` samples."""
    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("KID needs at least 2 samples per set")
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        off_diag = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(off_diag - 2.0 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


@functools.lru_cache(maxsize=None)
def _inception() -> torch.nn.Module:
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as err:
        raise MetricUnavailable("FID/KID need the torch-fidelity package: pip install torch-fidelity") from err
    with weights_download("FID/KID", "the Inception-v3 (FID) weights from the torch-fidelity release"):
        return FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).eval()


class PatchFIDKID:
    """Accumulate Inception features of original / reconstructed patches, then FID and KID.

    >>> m = PatchFIDKID(); m.update(original, reconstruction); m.compute()  # doctest: +SKIP
    {'fid': ..., 'kid': ..., 'kid_std': ..., 'patches': ...}

    The Inception network is the one torch-fidelity uses (TF-FID compatible); its weights are
    downloaded on construction (``MetricUnavailable`` offline).
    """

    def __init__(self, patch_size: int = 256, shifted: bool = True, batch_size: int = 16):
        self.patch_size, self.shifted, self.batch_size = patch_size, shifted, batch_size
        self.net = _inception()
        self.real: list[np.ndarray] = []
        self.fake: list[np.ndarray] = []

    @torch.no_grad()
    def _features(self, patches: torch.Tensor) -> np.ndarray:
        out = []
        for i in range(0, len(patches), self.batch_size):
            batch = (patches[i:i + self.batch_size] * 255.0).round().to(torch.uint8)
            out.append(self.net(batch)[0].double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 2048))

    def update(self, original: ImageLike, reconstruction: ImageLike) -> None:
        self.real.append(self._features(extract_patches(original, self.patch_size, self.shifted)))
        self.fake.append(self._features(extract_patches(reconstruction, self.patch_size, self.shifted)))

    def compute(self) -> dict[str, float]:
        real, fake = np.concatenate(self.real), np.concatenate(self.fake)
        if len(real) < 2:
            raise ValueError(f"FID/KID need at least 2 patches of {self.patch_size} px, got {len(real)}")
        kid, kid_std = kernel_distance(real, fake)
        return {"fid": frechet_distance(real, fake), "kid": kid, "kid_std": kid_std, "patches": len(real)}


# ---------------------------------------------------------------------------------------------
# Bjontegaard deltas (piecewise cubic interpolation)
# ---------------------------------------------------------------------------------------------

def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Shape-preserving derivatives (Fritsch & Carlson 1980; end rule of Moler, NCM sec. 3.4)."""
    h = np.diff(x)
    delta = np.diff(y) / h
    n = len(x)
    d = np.zeros(n)
    if n == 2:
        return np.full(2, delta[0])
    # interior: weighted harmonic mean of neighbouring secants, zero at local extrema
    w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
    same_sign = delta[:-1] * delta[1:] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        hm = (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:])
    d[1:-1] = np.where(same_sign, hm, 0.0)

    def end_slope(h0: float, h1: float, d0: float, d1: float) -> float:
        s = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        if np.sign(s) != np.sign(d0):
            return 0.0
        if np.sign(d0) != np.sign(d1) and abs(s) > abs(3 * d0):
            return 3 * d0
        return s

    d[0] = end_slope(h[0], h[1], delta[0], delta[1])
    d[-1] = end_slope(h[-1], h[-2], delta[-1], delta[-2])
    return d


def _pchip_integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    """Integral over [lo, hi] (inside [x0, xn]) of the piecewise cubic Hermite interpolant."""
    d = _pchip_slopes(x, y)
    total = 0.0
    for k in range(len(x) - 1):
        a, b = max(lo, x[k]), min(hi, x[k + 1])
        if b <= a:
            continue
        h = x[k + 1] - x[k]
        delta = (y[k + 1] - y[k]) / h
        c2 = (3 * delta - 2 * d[k] - d[k + 1]) / h
        c3 = (d[k] + d[k + 1] - 2 * delta) / h ** 2
        # antiderivative of y_k + d_k t + c2 t^2 + c3 t^3, with t = x - x_k
        prim = lambda t: y[k] * t + d[k] * t ** 2 / 2 + c2 * t ** 3 / 3 + c3 * t ** 4 / 4  # noqa: E731
        total += prim(b - x[k]) - prim(a - x[k])
    return total


def _curve(rate: Sequence[float], metric: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    r, m = np.asarray(rate, np.float64), np.asarray(metric, np.float64)
    if r.ndim != 1 or r.shape != m.shape or len(r) < 2:
        raise ValueError(f"{name}: need two equal-length 1-D sequences of >= 2 points, got {r.shape}, {m.shape}")
    if not (np.isfinite(r).all() and np.isfinite(m).all()) or (r <= 0).any():
        raise ValueError(f"{name}: rates must be positive and all values finite")
    order = np.argsort(r)
    step = np.diff(m[order])
    if not ((step > 0).all() or (step < 0).all()):
        raise ValueError(f"{name}: the metric must be strictly monotonic in the rate, got {m[order].tolist()}")
    return np.log(r), m


def _overlap(a: np.ndarray, b: np.ndarray, what: str) -> tuple[float, float]:
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    if hi <= lo:
        raise ValueError(f"the two curves do not overlap in {what}; a Bjontegaard delta is undefined")
    return lo, hi


def _mean_over(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    order = np.argsort(x)
    return _pchip_integral(x[order], y[order], lo, hi) / (hi - lo)


def bd_rate(rate_anchor: Sequence[float], metric_anchor: Sequence[float],
            rate_test: Sequence[float], metric_test: Sequence[float]) -> float:
    """Bjontegaard delta rate in percent: average rate change of test vs anchor at equal quality.

    Each curve's log-rate is interpolated as a function of the metric with a piecewise cubic
    Hermite (PCHIP) interpolant -- the piecewise-cubic variant of Bjontegaard's VCEG-M33 method --
    and the mean difference over the overlapping metric range is turned into a percentage:
    ``(exp(mean(ln r_test - ln r_anchor)) - 1) * 100``. Negative = test saves rate.

    Works for higher-is-better (PSNR) and lower-is-better (LPIPS, DISTS) metrics alike, as long
    as each curve's metric is strictly monotonic in its rate.
    """
    lr_a, m_a = _curve(rate_anchor, metric_anchor, "anchor")
    lr_t, m_t = _curve(rate_test, metric_test, "test")
    lo, hi = _overlap(m_a, m_t, "the metric")
    avg = _mean_over(m_t, lr_t, lo, hi) - _mean_over(m_a, lr_a, lo, hi)
    return float((np.exp(avg) - 1.0) * 100.0)


def bd_metric(rate_anchor: Sequence[float], metric_anchor: Sequence[float],
              rate_test: Sequence[float], metric_test: Sequence[float]) -> float:
    """Bjontegaard delta metric (BD-PSNR for PSNR): mean metric difference test - anchor over the
    overlapping log-rate range, metric interpolated by PCHIP as a function of log-rate."""
    lr_a, m_a = _curve(rate_anchor, metric_anchor, "anchor")
    lr_t, m_t = _curve(rate_test, metric_test, "test")
    lo, hi = _overlap(lr_a, lr_t, "rate")
    return float(_mean_over(lr_t, m_t, lo, hi) - _mean_over(lr_a, m_a, lo, hi))
