"""Notebook ``02_variance_and_pseudo_timesteps``: the predicted std against local texture, and the
pixel-wise pseudo-timestep map against one global timestep.

:func:`texture_map`, :func:`latent_map`, :func:`sigma_texture_table`, :func:`correlations`,
:func:`texture_correlations`, :func:`timestep_ablation`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image

from .. import metrics as M
from ..codec import Codec
from ..images import ImageLike, pad_to_multiple, to_tensor
from .common import LATENT_FACTOR, as_pil, gradient_magnitude, latent_size


def texture_map(image: ImageLike, block: int = LATENT_FACTOR) -> np.ndarray:
    """Local texture at latent resolution: mean luma gradient magnitude over each ``block`` x
    ``block`` square (one value per latent pixel of the DiT), shape ceil(H/32) x ceil(W/32).

    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    x = pad_to_multiple(to_tensor(image), block)
    g = gradient_magnitude(x)
    return F.avg_pool2d(g[None, None], block)[0, 0].numpy()


def _latent_crop(t: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Channel mean of a 1xCxhxw latent map, cropped to the latent pixels that cover the image."""
    hh, ww = latent_size(height, width)
    return t[0].float().mean(0)[:hh, :ww].cpu().numpy()


def latent_map(t: torch.Tensor, image: ImageLike) -> np.ndarray:
    """Channel mean of a 1xCxhxw latent tensor (e.g. ``info["sigma"]``), cropped to the latent
    pixels that cover ``image``: a 2-D array to draw as a heatmap.
    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    pil = as_pil(image)
    return _latent_crop(t, pil.height, pil.width)


def sigma_texture_table(image: ImageLike, info: dict[str, Any]) -> pd.DataFrame:
    """One row per latent pixel: ``row``, ``col``, channel-mean ``sigma`` (predicted std),
    ``t`` (pseudo-timestep, 0..1000) and ``texture`` (:func:`texture_map`).

    ``info`` is what ``codec.decompress(..., return_intermediates=True)`` returns for ``image``.
    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    pil = as_pil(image)
    sigma = _latent_crop(info["sigma"], pil.height, pil.width)
    t_map = _latent_crop(info["t_map"], pil.height, pil.width)
    tex = texture_map(pil)[: sigma.shape[0], : sigma.shape[1]]
    rows, cols = np.mgrid[0:sigma.shape[0], 0:sigma.shape[1]]
    return pd.DataFrame({"row": rows.ravel(), "col": cols.ravel(), "sigma": sigma.ravel(),
                         "t": t_map.ravel(), "texture": tex.ravel()})


def correlations(table: pd.DataFrame, x: str = "texture", ys: Sequence[str] = ("sigma", "t")) -> pd.DataFrame:
    """Pearson and Spearman correlation of column ``x`` with each of ``ys`` (NaN when constant).

    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    rows = []
    for y in ys:
        a, b = table[x].astype(float), table[y].astype(float)
        constant = a.nunique() < 2 or b.nunique() < 2
        rows.append({"x": x, "y": y, "pearson": float("nan") if constant else float(a.corr(b)),
                     "spearman": float("nan") if constant else float(a.corr(b, method="spearman")),
                     "n": len(table)})
    return pd.DataFrame(rows)


def texture_correlations(codec: Codec, images: dict[str, ImageLike]) -> pd.DataFrame:
    """Per image: mean / spread of sigma and of the pseudo-timestep, and the Pearson / Spearman
    correlation of texture with sigma over the latent pixels.
    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    rows = []
    for name, img in images.items():
        pil = as_pil(img)
        _, info = codec.roundtrip(pil)
        table = sigma_texture_table(pil, info)
        corr = correlations(table, ys=("sigma",)).iloc[0]
        rows.append({"image": name, "bpp": info["bpp"], "sigma_mean": float(table["sigma"].mean()),
                     "sigma_std": float(table["sigma"].std()), "t_min": float(table["t"].min()),
                     "t_max": float(table["t"].max()), "pearson_texture_sigma": corr["pearson"],
                     "spearman_texture_sigma": corr["spearman"]})
    return pd.DataFrame(rows)


def timestep_ablation(codec: Codec, image: ImageLike, steps: int = 1,
                      metrics: Sequence[str] = ("psnr", "ms_ssim")) -> tuple[dict[str, Image.Image], pd.DataFrame]:
    """Decode the SAME bytes with the pixel-wise pseudo-timestep map and with its mean (a global
    timestep). Returns ``{"pixel-wise": img, "global (mean)": img}`` and a table with ``map``,
    ``bytes``, ``bpp``, ``t_mean``, ``t_std`` and the metrics (+ a ``change`` row: global - pixel-wise).

    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    pil = as_pil(image)
    data = codec.compress(pil)
    images, rows = {}, []
    for label, pixelwise in (("pixel-wise", True), ("global (mean)", False)):
        rec, info = codec.decompress(data, steps=steps, return_intermediates=True, pixelwise=pixelwise)
        t_map = info["t_map"]
        images[label] = rec
        rows.append({"map": label, "bytes": len(data), "bpp": info["bpp"], "t_mean": float(t_map.mean()),
                     "t_std": float(t_map.std()), **M.scores(pil, rec, metrics)})
    table = pd.DataFrame(rows)
    diff = {"map": "change (global - pixel-wise)", "bytes": 0, "bpp": 0.0}
    for col in ("t_mean", "t_std", *metrics):
        diff[col] = float(table[col].iloc[1] - table[col].iloc[0])
    return images, pd.concat([table, pd.DataFrame([diff])], ignore_index=True)
