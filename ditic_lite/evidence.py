"""Per-image measurements behind the verdicts of ``claims.py``: one row per image, so that a
claim is judged against the spread between images, not against one photo.

Each function repeats a measurement of ``ditic_lite.teaching`` over several images (same model,
same bytes per image) and returns a tidy table; ``claims.py`` turns the tables into verdicts.

* ``02_variance_and_pseudo_timesteps``: :func:`sigma_maps`, :func:`position_table`,
  :func:`sigma_evidence` (with :func:`border_excess`), :func:`timestep_ablation_images`
* ``03_one_step_vs_multi_step``: :func:`compare_steps_images`
* ``06_alignment_mechanisms``: :func:`condition_ablation_images`

The loops over images show a progress bar (``progress=False`` hides it): on the official tier
at full size one image takes minutes.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm.auto import tqdm

from .codec import Codec
from .images import ImageLike
from .teaching.alignment import condition_ablation, encoder_latent
from .teaching.common import as_pil, latent_size
from .teaching.steps import caption_for, compare_steps
from .teaching.variance import texture_map, timestep_ablation


def _crop(t: torch.Tensor, image: Image.Image) -> torch.Tensor:
    """``C x h x w`` of a 1xCxHxW latent tensor, cropped to the latent pixels covering ``image``."""
    hh, ww = latent_size(image.height, image.width)
    return t[0, :, :hh, :ww].float().cpu()


# ===================================================================================== 02
def sigma_maps(codec: Codec, image: ImageLike, info: dict[str, Any]) -> dict[str, np.ndarray]:
    """Latent-resolution maps of one decode (``info`` from ``decompress(..., return_intermediates=True)``):

    * ``log_sigma``: the mean over channels of ``ln σ`` (the log of the geometric mean): every
      channel counts by its relative change, so a few channels with huge σ cannot dominate it
      (the plain channel mean of σ is mostly those channels);
    * ``error``: the mean over channels of ``|E(x) - (ỹ + res)|``, how far the latent the DiT
      starts from (plus the residual) is from the frozen encoder's latent of the original: the
      local *denoising demand*;
    * ``saturated``: the fraction of channels with ``|σ| >= saturation``, where the map is
      clipped at the full ``σ_t`` and σ carries no further information;
    * ``texture``: ``teaching.texture_map``.

    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    pil = as_pil(image)
    sigma = _crop(info["sigma"], pil)
    target = _crop(encoder_latent(codec, pil), pil)
    start = _crop(info["y_tilde"] + info["res"], pil)
    sat = codec.model.config.flow.saturation
    return {
        "log_sigma": sigma.clamp_min(1e-30).log().mean(0).numpy(),
        "error": (target - start).abs().mean(0).numpy(),
        "saturated": (sigma.abs() >= sat).float().mean(0).numpy(),
        "texture": texture_map(pil)[: sigma.shape[1], : sigma.shape[2]],
    }


def position_table(maps: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One row per latent position, one column per map of :func:`sigma_maps` (for scatter plots).
    Explained in notebook ``02_variance_and_pseudo_timesteps``."""
    return pd.DataFrame({k: np.ravel(v) for k, v in maps.items()})


def _each_image(images: Mapping[str, ImageLike], desc: str, progress: bool) -> Iterator[tuple[str, ImageLike]]:
    """``images.items()`` behind a progress bar (one tick per image)."""
    return tqdm(images.items(), desc=desc, total=len(images), unit="image", disable=not progress, leave=False)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    a, b = pd.Series(np.ravel(a)), pd.Series(np.ravel(b))
    if a.nunique() < 2 or b.nunique() < 2:
        return float("nan")
    return float(a.corr(b, method="spearman"))


def border_excess(values: np.ndarray) -> float:
    """How much higher a 2-D map is on its outer ring of positions than inside, in units of its
    standard deviation: ``(mean(ring) - mean(interior)) / std(map)`` (nan for maps under 3x3 or flat)."""
    values = np.asarray(values, dtype=float)
    if min(values.shape) < 3 or values.std() == 0:
        return float("nan")
    inside = np.zeros(values.shape, dtype=bool)
    inside[1:-1, 1:-1] = True
    return float((values[~inside].mean() - values[inside].mean()) / values.std())


def sigma_evidence(codec: Codec, images: Mapping[str, ImageLike], progress: bool = True) -> pd.DataFrame:
    """Per image: ``positions`` (latent pixels), ``bpp``, ``log_sigma_mean``, ``saturated``
    (fraction of σ values that clip the map), ``r_error`` (Spearman of the per-position mean
    ``ln σ`` with the denoising demand ``|E(x) - (ỹ + res)|``, :func:`sigma_maps`), ``r_texture``
    (same with local texture), ``r_texture_channel_mean`` (texture with the plain channel mean
    of σ, for contrast) and ``ring_sigma``, ``ring_error``, ``ring_texture`` (:func:`border_excess`
    of each map: a ring in σ that the demand and texture do not have is a border artefact).
    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    rows = []
    for name, img in _each_image(images, "sigma maps", progress):
        pil = as_pil(img)
        _, info = codec.roundtrip(pil)
        maps = sigma_maps(codec, pil, info)
        mean_sigma = _crop(info["sigma"], pil).mean(0).numpy()
        rows.append({"image": name, "positions": int(maps["log_sigma"].size), "bpp": info["bpp"],
                     "log_sigma_mean": float(maps["log_sigma"].mean()), "saturated": float(maps["saturated"].mean()),
                     "r_error": _spearman(maps["log_sigma"], maps["error"]),
                     "r_texture": _spearman(maps["log_sigma"], maps["texture"]),
                     "r_texture_channel_mean": _spearman(mean_sigma, maps["texture"]),
                     **{f"ring_{k}": border_excess(maps[m]) for k, m in
                        (("sigma", "log_sigma"), ("error", "error"), ("texture", "texture"))}})
    return pd.DataFrame(rows)


def timestep_ablation_images(codec: Codec, images: Mapping[str, ImageLike],
                             metrics: Sequence[str] = ("psnr", "ms_ssim"), progress: bool = True) -> pd.DataFrame:
    """``teaching.timestep_ablation`` on each image (same bytes, pixel-wise map vs its mean):
    per image ``bytes``, ``t_std`` and ``<metric>_pixelwise``, ``<metric>_global``.
    Explained in notebook ``02_variance_and_pseudo_timesteps``."""
    rows = []
    for name, img in _each_image(images, "pixel-wise vs global", progress):
        _, t = timestep_ablation(codec, as_pil(img), metrics=metrics)
        row = {"image": name, "bytes": int(t["bytes"].iloc[0]), "t_std": float(t["t_std"].iloc[0])}
        for m in metrics:
            row[f"{m}_pixelwise"], row[f"{m}_global"] = float(t[m].iloc[0]), float(t[m].iloc[1])
        rows.append(row)
    return pd.DataFrame(rows)


# ===================================================================================== 03
def compare_steps_images(codec: Codec, images: Mapping[str, ImageLike], steps: Sequence[int] = (1, 2, 4, 8, 20),
                         seed: int = 0, progress: bool = True) -> tuple[dict[str, dict], pd.DataFrame]:
    """``teaching.compare_steps`` on each image (the base DiT gets the image's caption where the
    sample photos have one, and shares DiT-IC's decoder). Returns the reconstructions by image
    (then by method and K) and one table with an ``image`` column.
    Explained in notebook ``03_one_step_vs_multi_step``."""
    recons, parts = {}, []
    for name, img in _each_image(images, "K-step decodes", progress):
        recons[name], table = compare_steps(codec, as_pil(img), steps=steps, tokens=caption_for(name), seed=seed)
        parts.append(table.assign(image=name))
    return recons, pd.concat(parts, ignore_index=True)


# ===================================================================================== 06
def condition_ablation_images(codec: Codec, images: Mapping[str, ImageLike],
                              metrics: Sequence[str] = ("psnr", "ms_ssim"), progress: bool = True) -> pd.DataFrame:
    """``teaching.condition_ablation`` on each image: per image ``<metric>_latent`` (prompter
    tokens) and ``<metric>_empty`` (zero tokens), same bytes.
    Explained in notebook ``06_alignment_mechanisms``."""
    rows = []
    for name, img in _each_image(images, "condition ablation", progress):
        _, t = condition_ablation(codec, as_pil(img), metrics=metrics)
        row = {"image": name}
        for m in metrics:
            row[f"{m}_latent"], row[f"{m}_empty"] = float(t[m].iloc[0]), float(t[m].iloc[1])
        rows.append(row)
    return pd.DataFrame(rows)
