"""An offline perception proxy: radially averaged power spectra and a detail-retention ratio.

LPIPS and DISTS, the paper's perceptual measures, need ImageNet backbone weights that are not
available offline (``metrics.py`` adds them where they are). What this module measures needs no
weights: how much fine-scale energy a reconstruction keeps.

* :func:`radial_power_spectrum`: the luma's power spectrum (mean removed, 2-D Hann window),
  averaged over rings of equal spatial frequency ``f`` in cycles per pixel (0 .. 0.5).
* :func:`detail_retention`: the geometric mean, over the rings of a high-frequency band
  (default ``1/8 .. 1/2`` cycles per pixel: structures 2 to 8 pixels wide), of
  ``P_test(f) / P_reference(f)``. 1 = as much fine detail as the original; below 1 = detail
  lost (blur: MSE-trained decoders and downscaled classical codecs at low rates); above 1 =
  extra high-frequency energy (noise, ringing, blocking, or invented texture).
* :func:`detail_error`: ``|log2 detail_retention|``, 0 at the original; the distance used when
  one codec is said to keep detail *better* than another (``claims.py``).
* :func:`spectra_table`: the spectra of an original and its reconstructions as one long table.

``perception.py`` re-exports these names (``dl.perception.*`` in the notebooks).

What it does NOT measure: whether the detail is in the right place or is the right detail. The
spectrum ignores phase, so a plausible invented texture scores like the true one. That is what
"perceptual realism" is about (and why generative codecs score well on it), but it is not
fidelity: read it next to PSNR / MS-SSIM, never instead of them. It is one global number per
image, blind to where artefacts are, and it is not LPIPS, DISTS or FID (no learned features,
no human calibration). Explained in notebook ``05_rate_perception_curves``.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .images import LUMA_WEIGHTS, ImageLike, luma, to_tensor

DETAIL_BAND = (0.125, 0.5)  # cycles per pixel: periods of 2 to 8 pixels
SPECTRUM_BINS = 32


def _luma(image: ImageLike) -> np.ndarray:
    x = to_tensor(image)[0].double().numpy()
    r, g, b = LUMA_WEIGHTS
    return r * x[0] + g * x[1] + b * x[2]


def radial_power_spectrum(image: ImageLike, bins: int = SPECTRUM_BINS) -> tuple[np.ndarray, np.ndarray]:
    """``(frequency, power)``: the luma's power spectrum averaged over ``bins`` rings of equal
    width between 0 and 0.5 cycles per pixel (ring centres; corners beyond 0.5 are dropped).

    The mean is removed and a separable Hann window applied first, so the image borders do not
    leak a cross of false high frequencies into the spectrum. Power is normalised by the
    window's energy (comparable across image sizes). Explained in notebook ``05_rate_perception_curves``.
    """
    y = _luma(image)
    h, w = y.shape
    if min(h, w) < 8:
        raise ValueError(f"the power spectrum needs both sides >= 8 px, got {w}x{h}")
    window = np.outer(np.hanning(h), np.hanning(w))
    spec = np.abs(np.fft.fft2((y - y.mean()) * window)) ** 2 / (window ** 2).sum()
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    radius = np.hypot(fy, fx)
    edges = np.linspace(0.0, 0.5, bins + 1)
    ring = np.digitize(radius, edges) - 1  # 0 .. bins-1 inside, bins beyond 0.5
    keep = (ring >= 0) & (ring < bins) & (radius > 0)
    total = np.bincount(ring[keep], weights=spec[keep], minlength=bins)
    count = np.bincount(ring[keep], minlength=bins)
    power = np.divide(total, count, out=np.full(bins, np.nan), where=count > 0)
    return 0.5 * (edges[:-1] + edges[1:]), power


def detail_retention(reference: ImageLike, test: ImageLike, band: tuple[float, float] = DETAIL_BAND,
                     bins: int = SPECTRUM_BINS) -> float:
    """Geometric mean of ``P_test(f) / P_reference(f)`` over the rings of ``band`` (cycles per
    pixel): 1 = the original's fine-detail energy, < 1 = lost (blur), > 1 = added (noise,
    artefacts, invented texture). Phase-blind: see the module docstring for what it does not
    measure. Explained in notebook ``05_rate_perception_curves``.
    """
    if to_tensor(reference).shape != to_tensor(test).shape:
        raise ValueError("images differ in size")
    f, p_ref = radial_power_spectrum(reference, bins)
    _, p_test = radial_power_spectrum(test, bins)
    sel = (f >= band[0]) & (f <= band[1]) & (p_ref > 0) & np.isfinite(p_ref) & np.isfinite(p_test)
    if not sel.any():
        raise ValueError(f"no spectrum ring with energy in the band {band} cycles per pixel")
    ratio = np.maximum(p_test[sel], 1e-30) / p_ref[sel]
    return float(np.exp(np.mean(np.log(ratio))))


def detail_error(retention: float | np.ndarray) -> float | np.ndarray:
    """``|log2 retention|``: 0 for the original's amount of fine detail, 1 for half or double.
    Lower is better. Explained in notebook ``05_rate_perception_curves``."""
    return np.abs(np.log2(retention))


def spectra_table(original: ImageLike, reconstructions: Mapping[str, ImageLike],
                  bins: int = SPECTRUM_BINS) -> pd.DataFrame:
    """Long table of radially averaged spectra: ``source`` (``original`` then each key of
    ``reconstructions``), ``frequency`` (cycles per pixel), ``power`` and ``ratio`` (power over
    the original's). Explained in notebook ``05_rate_perception_curves``."""
    f, p0 = radial_power_spectrum(original, bins)
    rows = [pd.DataFrame({"source": "original", "frequency": f, "power": p0, "ratio": 1.0})]
    for name, img in reconstructions.items():
        _, p = radial_power_spectrum(img, bins)
        rows.append(pd.DataFrame({"source": name, "frequency": f, "power": p, "ratio": p / p0}))
    return pd.concat(rows, ignore_index=True)


# --------------------------------------------------------------- Laplacian detail (realism decoder)
DETAIL_BLOCK = 16  # pixels: the side of the blocks of the block measures


def laplacian_energy(image: ImageLike) -> np.ndarray:
    """The squared 4-neighbour Laplacian of the luma on the 8-bit scale, ``(4 p - up - down - left -
    right) ** 2``, at every interior pixel: large where the image has fine detail or edges."""
    y = 255.0 * _luma(image)
    lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
    return lap ** 2


def block_energy(images: "torch.Tensor", block: int = DETAIL_BLOCK) -> "torch.Tensor":
    """:func:`laplacian_energy` averaged over ``block`` x ``block`` blocks, for a batch of images
    in [0, 1] (N, 3, H, W) as a differentiable torch tensor (N, 1, H', W'): what the realism
    decoder's training matches (``training/stages/realism.py``)."""
    import torch
    import torch.nn.functional as F

    y = 255.0 * luma(images)
    kernel = torch.tensor([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=images.dtype, device=images.device)
    energy = F.conv2d(y, kernel.view(1, 1, 3, 3)) ** 2  # interior pixels only, as laplacian_energy
    return F.avg_pool2d(energy, block)


def _block_means(energy: np.ndarray, block: int) -> np.ndarray:
    h, w = (energy.shape[0] // block) * block, (energy.shape[1] // block) * block
    return energy[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3)).ravel()


def laplacian_detail(original: ImageLike, reconstruction: ImageLike, block: int = DETAIL_BLOCK) -> dict[str, float]:
    """Three fixed measures of fine detail (issue 32's definitions), reconstruction against original:

    * ``detail_ratio``: the mean Laplacian energy (:func:`laplacian_energy`) of the reconstruction
      over the original's: 1 = as much fine detail, near 0 = blur, above 1 = more (noise);
    * ``block_correlation``: the Spearman correlation of that energy averaged over ``block`` x
      ``block`` blocks, reconstruction against original: is the detail where the original has it?
    * ``flat_block_ratio``: over the quarter of blocks where the original is flattest, the
      reconstruction's mean energy over the original's: noise sprayed everywhere makes it large.
    """
    from scipy.stats import spearmanr

    if to_tensor(original).shape != to_tensor(reconstruction).shape:
        raise ValueError("images differ in size")
    e_orig, e_rec = laplacian_energy(original), laplacian_energy(reconstruction)
    b_orig, b_rec = _block_means(e_orig, block), _block_means(e_rec, block)
    flat = b_orig <= np.quantile(b_orig, 0.25)
    tiny = 1e-12  # a perfectly flat original (8-bit photos rarely are) compares by this floor
    return {"detail_ratio": float(e_rec.mean() / max(e_orig.mean(), tiny)),
            "block_correlation": float(spearmanr(b_orig, b_rec).statistic),
            "flat_block_ratio": float(max(b_rec[flat].mean(), tiny) / max(b_orig[flat].mean(), tiny))}
