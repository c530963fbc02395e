"""Analysis helpers behind the seven notebooks: every number a notebook shows is computed here.

Notebook cells only load, call and plot; each function below names the notebook that explains
it. Results come back as tidy ``pandas`` tables (one row per measurement) and PIL images.

* ``01_quickstart``: :func:`pipeline_shapes`, :func:`zoom_box`
* ``02_variance_and_pseudo_timesteps``: :func:`texture_map`, :func:`sigma_texture_table`,
  :func:`correlations`, :func:`timestep_ablation`
* ``03_one_step_vs_multi_step``: :func:`step_sweep`, :func:`base_dit_decode`,
  :func:`base_dit_sweep`, :func:`one_step_summary`
* ``04_bitrate_slider``: :class:`CodecCache`, :func:`slider_update`, :func:`bitrate_slider`
* ``05_rate_perception_curves``: :func:`rd_table`, :func:`bd_rate_table`
* ``06_alignment_mechanisms``: :func:`distillation_table`, :func:`retrieval_table`,
  :func:`condition_ablation`, :func:`alignment_ablation`
* ``07_official_dit_ic``: :func:`official_status`, :func:`official_plan`, :func:`decode_timing`,
  :func:`reproduce_points`
"""
from __future__ import annotations

import csv
import hashlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image

from . import align, flow
from . import metrics as M
from .codec import Codec
from .determinism import deterministic_threads
from .images import ImageLike, load_image, pad_to_multiple, to_pil, to_tensor
from .notebook import online, samples_dir

LATENT_FACTOR = 32  # the DiT works at 1/32 of the image size (DC-AE f32)


def _pil(img: ImageLike) -> Image.Image:
    return img if isinstance(img, Image.Image) else to_pil(to_tensor(img))


PERCEPTUAL_WEIGHTS = {"lpips": "alexnet-owt-7be5be79.pth", "dists": "vgg16-397923af.pth"}
"""torchvision backbone files LPIPS / DISTS need (looked up in the torch hub cache)."""


def perceptual_metrics(allow_download: bool | None = None) -> list[str]:
    """Those of LPIPS / DISTS that can be computed here: their backbone weights are in the torch
    hub cache, or ``allow_download`` (default: :func:`ditic_lite.notebook.online`). Offline and
    uncached this returns ``[]`` without trying a download. Explained in notebook ``05_rate_perception_curves``."""
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    allow = online() if allow_download is None else allow_download
    return [m for m, f in PERCEPTUAL_WEIGHTS.items() if ((hub / f).exists() or allow) and M.available(m)]


def default_metrics() -> list[str]:
    """PSNR, MS-SSIM, the offline perception proxy ``detail`` (``perception.detail_retention``) and
    whichever of LPIPS / DISTS :func:`perceptual_metrics` allows.
    Explained in notebook ``05_rate_perception_curves``."""
    return ["psnr", "ms_ssim", "detail", *perceptual_metrics()]


# =============================================================================== 01 quickstart
@torch.no_grad()
def pipeline_shapes(codec: Codec, image: ImageLike) -> pd.DataFrame:
    """Every tensor of the DiT-IC pipeline for one image, with its shape read off the model.

    One row per tensor, in pipeline order (encoder -> 64x code -> entropy coding -> 32x latent ->
    one-step DiT -> decoder): ``stage``, ``key`` (short name: ``latent``, ``y``, ``z``, ``bytes``,
    ``y_tilde``, ``sigma``, ``tokens``, ``y_hat``, ...), ``tensor``, ``shape``, ``scale`` (tensor side / image side) and
    ``values`` (numbers held). Runs the real model (the ``bytes`` row is the real file).
    Explained in notebook ``01_quickstart``.
    """
    model = codec.model
    x = to_tensor(image)
    h, w = x.shape[-2:]
    xp = pad_to_multiple(x, codec.pad_multiple).to(codec.device)
    with deterministic_threads():
        latent, latent2 = model.encode_latents(xp)
        out = model.codec(latent, latent2)
    data = codec.compress(image)
    _, info = codec.decompress(data, steps=1, return_intermediates=True)
    rows = [
        ("input", "x", "image x", x), ("input", "x_pad", "padded image", xp),
        ("encoder", "latent", "DC-AE latent E(x)", latent), ("encoder", "aux", "auxiliary features", latent2),
        ("64x code", "y", "y = g_a(E(x), aux)", out["y"]), ("64x code", "z", "hyper-latent z", out["likelihoods"]["z"]),
        ("32x latent", "y_tilde", "decoded mean y_tilde", info["y_tilde"]),
        ("32x latent", "sigma", "predicted std sigma", info["sigma"]),
        ("32x latent", "t_map", "pseudo-timestep map", info["t_map"]), ("32x latent", "res", "residual res", info["res"]),
        ("latent condition", "tokens", "tokens c", info["tokens"]),
        ("one-step DiT", "y_hat", "y_hat = y_tilde - sigma_map v + res", info["y_hat"]),
    ]
    table = []
    for stage, key, name, t in rows:
        shape = tuple(t.shape)
        scale = f"1/{round(h / shape[-2])}" if t.ndim == 4 and shape[-2] < h else ("1" if t.ndim == 4 else "-")
        table.append({"stage": stage, "key": key, "tensor": name, "shape": "x".join(map(str, shape)), "scale": scale,
                      "values": int(t.numel())})
    table.insert(6, {"stage": "entropy coding", "key": "bytes", "tensor": "rANS bitstream (y, z) + header",
                     "shape": f"{len(data)} bytes", "scale": "-", "values": len(data)})
    table.append({"stage": "decoder", "key": "x_hat", "tensor": "reconstruction x_hat", "shape": f"1x3x{h}x{w}",
                  "scale": "1", "values": int(3 * h * w)})
    return pd.DataFrame(table)


def describe_codec(codec: Codec) -> str:
    """One paragraph about a loaded codec: model, rate points, parameters, and what its weights
    are (the card's ``status`` when untrained, the validation numbers of the card when trained).
    Explained in notebook ``01_quickstart``.
    """
    from .model import count_parameters

    card = codec.card or {}
    parts = [f"model {codec.name!r}, rate {codec.rate} of the shipped rate points {codec.rates}, "
             f"{count_parameters(codec.model) / 1e6:.2f} M parameters, device {codec.device}"]
    if card.get("status"):
        parts.append(f"weights: {card['status']}")
    if card.get("lambda") is not None:
        parts.append(f"trained with lambda = {card['lambda']}")
    val = card.get("validation")
    if isinstance(val, dict) and "bpp" in val:
        parts.append(f"model card (validation set): {val['bpp']:.4f} bpp, PSNR {val['psnr']:.2f} dB, "
                     f"MS-SSIM {val['ms_ssim']:.4f}")
    return "; ".join(parts)


def zoom_box(image: ImageLike, size: int = 128) -> tuple[int, int, int]:
    """``(x, y, size)`` of the most textured ``size`` x ``size`` square (mean gradient magnitude),
    on a grid of half-overlapping squares: where compression artefacts show first.

    Explained in notebook ``01_quickstart``.
    """
    tex = _gradient_magnitude(to_tensor(image))
    h, w = tex.shape
    size = min(size, h, w)
    stride = max(size // 2, 1)
    best, best_xy = -1.0, (0, 0)
    for top in range(0, h - size + 1, stride):
        for left in range(0, w - size + 1, stride):
            v = float(tex[top:top + size, left:left + size].mean())
            if v > best:
                best, best_xy = v, (left, top)
    return best_xy[0], best_xy[1], size


# =============================================================================== 02 variance
def _gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Luma gradient magnitude (finite differences) of a 1x3xHxW image in [0, 1] -> HxW."""
    luma = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[0]
    gx = F.pad(luma[:, 1:] - luma[:, :-1], (0, 1))
    gy = F.pad(luma[1:, :] - luma[:-1, :], (0, 0, 0, 1))
    return torch.sqrt(gx ** 2 + gy ** 2)


def texture_map(image: ImageLike, block: int = LATENT_FACTOR) -> np.ndarray:
    """Local texture at latent resolution: mean luma gradient magnitude over each ``block`` x
    ``block`` square (one value per latent pixel of the DiT), shape ceil(H/32) x ceil(W/32).

    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    x = pad_to_multiple(to_tensor(image), block)
    g = _gradient_magnitude(x)
    return F.avg_pool2d(g[None, None], block)[0, 0].numpy()


def _latent_crop(t: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Channel mean of a 1xCxhxw latent map, cropped to the latent pixels that cover the image."""
    hh, ww = math.ceil(height / LATENT_FACTOR), math.ceil(width / LATENT_FACTOR)
    return t[0].float().mean(0)[:hh, :ww].cpu().numpy()


def latent_map(t: torch.Tensor, image: ImageLike) -> np.ndarray:
    """Channel mean of a 1xCxhxw latent tensor (e.g. ``info["sigma"]``), cropped to the latent
    pixels that cover ``image``: a 2-D array to draw as a heatmap.
    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    pil = _pil(image)
    return _latent_crop(t, pil.height, pil.width)


def sigma_texture_table(image: ImageLike, info: dict[str, Any]) -> pd.DataFrame:
    """One row per latent pixel: ``row``, ``col``, channel-mean ``sigma`` (predicted std),
    ``t`` (pseudo-timestep, 0..1000) and ``texture`` (:func:`texture_map`).

    ``info`` is what ``codec.decompress(..., return_intermediates=True)`` returns for ``image``.
    Explained in notebook ``02_variance_and_pseudo_timesteps``.
    """
    pil = _pil(image)
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
        pil = _pil(img)
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
    pil = _pil(image)
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


# =============================================================================== 03 steps
def step_sweep(codec: Codec, image: ImageLike, steps: Sequence[int] = (1, 2, 4, 8, 20),
               metrics: Sequence[str] = ("psnr", "ms_ssim"), repeats: int = 1) -> tuple[dict[int, Image.Image], pd.DataFrame]:
    """Decode the same bytes with K Euler steps of the adapted (LoRA) variance-guided flow.

    Returns ``{K: image}`` and a table: ``method``, ``steps``, ``dit_calls``, ``decode_s``
    (entropy + DiT + decoder seconds, median over ``repeats``), ``entropy_s``, ``dit_s``,
    ``decoder_s``, ``bpp`` and
    the metrics. Explained in notebook ``03_one_step_vs_multi_step``.
    """
    pil = _pil(image)
    data = codec.compress(pil)
    images, rows = {}, []
    for k in steps:
        times, last = [], None
        for _ in range(max(1, repeats)):
            last = codec.decompress(data, steps=int(k), return_intermediates=True)
            times.append(sum(last[1]["timings"].values()))
        rec, info = last
        images[int(k)] = rec
        rows.append({"method": "DiT-IC (adapted, variance-guided)", "steps": int(k), "dit_calls": int(k),
                     "decode_s": float(np.median(times)), "entropy_s": info["timings"]["entropy"],
                     "dit_s": info["timings"]["dit"], "decoder_s": info["timings"]["decoder"], "bpp": info["bpp"],
                     **M.scores(pil, rec, metrics)})
    return images, pd.DataFrame(rows)


def _flow_sigmas(strength: float, steps: int, shift: float = 3.0) -> list[float]:
    """Unshifted sigmas whose shift-``shift`` images run from ``strength`` down, ``steps`` of them."""
    start = strength / (shift - (shift - 1.0) * strength)  # inverse of s -> shift*s / (1 + (shift-1)*s)
    return np.linspace(start, 0.0, steps + 1)[:-1].tolist()


@torch.no_grad()
def base_dit_decode(codec: Codec, data: bytes, steps: int, strength: float | None = None,
                    tokens: torch.Tensor | None = None, seed: int = 0,
                    switch_lora: bool = True, base_decoder: bool = False) -> tuple[Image.Image, dict[str, Any]]:
    """Decode with the UN-adapted base DiT used as an ordinary multi-step flow sampler.

    The codec's coarse latent ``x0 = y_tilde + res`` is noised to level ``strength`` of the
    base's rectified flow, ``x_s = (1 - s) x0 + s * noise`` (SDEdit), then integrated to 0 in
    ``steps`` Euler steps by diffusers' ``FlowMatchEulerDiscreteScheduler`` (shift 3, as the base
    was trained), with LoRA switched off in the DiT only, so the adapted decoder is shared with
    DiT-IC and only the DiT differs (``base_decoder=True`` also switches off the decoder's LoRA;
    pass ``switch_lora=False`` when the caller already switched it off). ``strength`` defaults to
    the mean of DiT-IC's pseudo-timestep map; ``tokens`` ([1, T, 384] caption embeddings) default
    to the empty condition (zeros, the base's dropped caption). Returns the image and
    ``{"strength", "decode_s", "entropy_s", "dit_s", "decoder_s"}`` (decode_s = the three stages).
    Explained in notebook ``03_one_step_vs_multi_step``.
    """
    from diffusers import FlowMatchEulerDiscreteScheduler

    if switch_lora:
        with codec.model.lora_disabled(_lora_parts(base_decoder)):
            return base_dit_decode(codec, data, steps, strength, tokens, seed, switch_lora=False)
    model = codec.model
    header, out, entropy_s = codec.entropy_decode(data)
    if strength is None:
        std = flow.std_from_log_scale(out["log_scale"], model.config.flow)
        strength = float(flow.pseudo_timestep_map(std, model.config.flow).mean())
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    x0 = out["mean"] + out["res"]
    if tokens is None:
        tokens = torch.zeros(1, 1, model.DiT.config.caption_channels, device=x0.device)
    tokens = tokens.to(x0.device, x0.dtype)
    if tokens.ndim == 2:
        tokens = tokens[:, None, :]
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)
    scheduler.set_timesteps(sigmas=_flow_sigmas(strength, steps), device=x0.device)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device, x0.dtype)
    s0 = float(scheduler.sigmas[0])
    with deterministic_threads():
        tic = time.perf_counter()
        x = (1.0 - s0) * x0 + s0 * noise
        for t in scheduler.timesteps:
            v = model.velocity(x, t.reshape(1).to(x.dtype), tokens)
            x = scheduler.step(v, t, x, return_dict=False)[0]
        dit_s = time.perf_counter() - tic
        tic = time.perf_counter()
        image = model.decode_latent(x)
        decoder_s = time.perf_counter() - tic
    rec = to_pil(image[..., : header.height, : header.width])
    return rec, {"strength": s0, "decode_s": entropy_s + dit_s + decoder_s, "entropy_s": entropy_s,
                 "dit_s": dit_s, "decoder_s": decoder_s}


def _lora_parts(base_decoder: bool) -> tuple[str, ...]:
    return ("DiT", "vae") if base_decoder else ("DiT",)


def base_dit_sweep(codec: Codec, image: ImageLike, steps: Sequence[int] = (1, 2, 4, 8, 20),
                   strength: float | None = None, tokens: torch.Tensor | None = None, seed: int = 0,
                   metrics: Sequence[str] = ("psnr", "ms_ssim"),
                   base_decoder: bool = False) -> tuple[dict[int, Image.Image], pd.DataFrame]:
    """:func:`base_dit_decode` for each K in ``steps``, same bytes and noise, same (adapted)
    decoder as DiT-IC unless ``base_decoder``; same table columns as :func:`step_sweep`
    (``method`` = un-adapted base) plus ``strength``.

    Explained in notebook ``03_one_step_vs_multi_step``.
    """
    pil = _pil(image)
    data = codec.compress(pil)
    bpp = M.bits_per_pixel(len(data), pil.height, pil.width)
    images, rows = {}, []
    with codec.model.lora_disabled(_lora_parts(base_decoder)):
        for k in steps:
            rec, t = base_dit_decode(codec, data, int(k), strength=strength, tokens=tokens, seed=seed, switch_lora=False)
            images[int(k)] = rec
            rows.append({"method": "base DiT (un-adapted, SDEdit sampler)", "steps": int(k), "dit_calls": int(k),
                         "decode_s": t["decode_s"], "entropy_s": t["entropy_s"], "dit_s": t["dit_s"],
                         "decoder_s": t["decoder_s"], "bpp": bpp,
                         **M.scores(pil, rec, metrics), "strength": t["strength"]})
    return images, pd.DataFrame(rows)


def compare_steps(codec: Codec, image: ImageLike, steps: Sequence[int] = (1, 2, 4, 8, 20),
                  tokens: torch.Tensor | None = None, seed: int = 0) -> tuple[dict[str, dict[int, Image.Image]], pd.DataFrame]:
    """:func:`step_sweep` and :func:`base_dit_sweep` on the same bytes: images by method and K,
    and one table. Explained in notebook ``03_one_step_vs_multi_step``.
    """
    adapted_imgs, adapted = step_sweep(codec, image, steps)
    base_imgs, base = base_dit_sweep(codec, image, steps, tokens=tokens, seed=seed)
    images = {"DiT-IC, adapted": adapted_imgs, "base DiT, un-adapted": base_imgs}
    return images, pd.concat([adapted, base], ignore_index=True)


def caption_for(image_name: str) -> torch.Tensor | None:
    """Caption embedding [1, 384] of a sample photo (by stem), or ``None`` without a caption.
    Used by notebook ``03_one_step_vs_multi_step`` (the base DiT's prompt)."""
    caps = sample_captions()
    stems = [Path(f).stem for f in caps["file"]]
    if image_name not in stems:
        return None
    return caption_embeddings(caps["caption"].tolist())[stems.index(image_name)][None]


def one_step_summary(table: pd.DataFrame, metric: str = "psnr") -> str:
    """The paper's point, stated from a step-sweep table (:func:`step_sweep` + :func:`base_dit_sweep`):
    the adapted one-step decode vs the adapted flow's best K and vs the base sampler at its best K.

    Explained in notebook ``03_one_step_vs_multi_step``.
    """
    adapted = table[table["method"].str.startswith("DiT-IC")].set_index("steps")
    base = table[table["method"].str.startswith("base")].set_index("steps")
    if 1 not in adapted.index:
        raise ValueError("the table needs the adapted one-step row (steps == 1)")
    one = adapted.loc[1]
    unit = " dB" if metric == "psnr" else ""
    best_k = int(adapted[metric].idxmax())
    lines = [f"DiT-IC one step: {metric} {one[metric]:.3f}{unit}, {one['decode_s']:.2f} s per decode."]
    if best_k != 1:
        b = adapted.loc[best_k]
        lines.append(f"More steps of the same adapted flow: best at K={best_k} ({b[metric]:.3f}{unit}, "
                     f"{b[metric] - one[metric]:+.3f}{unit}) with {best_k} DiT calls instead of 1 "
                     f"(DiT {b['dit_s']:.3f} s vs {one['dit_s']:.3f} s).")
    else:
        lines.append("More steps of the same adapted flow do not improve on one step (best at K=1).")
    if len(base):
        kb = int(base[metric].idxmax())
        b = base.loc[kb]
        lines.append(f"Un-adapted base DiT (same decoder), best at K={kb}: {b[metric]:.3f}{unit}; one adapted step "
                     f"differs by {one[metric] - b[metric]:+.3f}{unit}, with 1 DiT call instead of {kb} "
                     f"(DiT {one['dit_s']:.3f} s vs {b['dit_s']:.3f} s).")
    lines.append(f"Of the one-step decode's {one['decode_s']:.3f} s (one timing, not averaged), the DiT took {one['dit_s']:.3f} s "
                 f"({one['dit_s'] / one['decode_s']:.0%}), the decoder {one['decoder_s']:.3f} s "
                 f"({one['decoder_s'] / one['decode_s']:.0%}), entropy decoding {one['entropy_s']:.3f} s.")
    return "\n".join(lines)


# =============================================================================== 04 slider
@dataclass
class CodecCache:
    """Loaded codecs by ``(name, rate)`` and their bitstreams by ``(name, rate, image key)``,
    so moving a slider decodes but never reloads or re-encodes. Explained in notebook ``04_bitrate_slider``."""

    device: str = "cpu"
    loader: Any = None  # ``(name, rate) -> codec``; default ``ditic_lite.load``
    codecs: dict[tuple[str, int], Any] = field(default_factory=dict)
    streams: dict[tuple[str, int, str], bytes] = field(default_factory=dict)

    def codec(self, name: str, rate: int):
        key = (name, int(rate))
        if key not in self.codecs:
            if self.loader is not None:
                self.codecs[key] = self.loader(name, int(rate))
            else:
                from .zoo import load
                self.codecs[key] = load(name, rate=int(rate), device=self.device)
        return self.codecs[key]

    def rates(self, name: str = "tiny") -> list[int]:
        if self.loader is None:
            from .zoo import available_rates
            return available_rates(name)
        return list(self.codec(name, 0).rates)

    def compress(self, name: str, rate: int, image: Image.Image) -> bytes:
        key = (name, int(rate), hashlib.sha1(image.tobytes() + repr(image.size).encode()).hexdigest())
        if key not in self.streams:
            self.streams[key] = self.codec(name, rate).compress(image)
        return self.streams[key]


def slider_update(cache: CodecCache, image: ImageLike, rate: int, steps: int = 1,
                  name: str = "tiny") -> tuple[Image.Image, dict[str, Any]]:
    """What one move of the bitrate slider shows: the reconstruction at ``rate`` with ``steps``
    decoding steps, and ``{"model", "rate", "steps", "bytes", "bpp", "psnr", "ms_ssim", "decode_s"}``.

    ``bpp`` is the real file size. Models without a diffusion step (``mse``) ignore ``steps``.
    Raises ``ValueError`` for a rate the model does not ship. Explained in notebook ``04_bitrate_slider``.
    """
    pil = _pil(image)
    codec = cache.codec(name, rate)
    if int(rate) not in codec.rates:
        raise ValueError(f"rate {rate} not available for {name!r}; choose from {codec.rates}")
    data = cache.compress(name, rate, pil)
    tic = time.perf_counter()
    rec = codec.decompress(data, steps=int(steps))
    decode_s = time.perf_counter() - tic
    q = M.scores(pil, rec, ("psnr", "ms_ssim"))
    return rec, {"model": name, "rate": int(rate), "steps": int(steps), "bytes": len(data),
                 "bpp": M.bits_per_pixel(len(data), pil.height, pil.width), **q, "decode_s": decode_s}


def slider_table(cache: CodecCache, image: ImageLike, names: Sequence[str] = ("tiny",),
                 steps: Sequence[int] = (1,)) -> tuple[dict[str, Image.Image], pd.DataFrame]:
    """Every position of the slider, without a browser: :func:`slider_update` for each model, rate
    point and step count. Returns the images by label and the table of their numbers.
    Explained in notebook ``04_bitrate_slider``.
    """
    images, rows = {}, []
    for name in names:
        for rate in cache.rates(name):
            for k in (steps if name != "mse" else steps[:1]):
                rec, m = slider_update(cache, image, rate, k, name)
                images[f"{name} r{rate}" + (f" K={k}" if len(steps) > 1 and name != "mse" else "") + f"\n{m['bpp']:.3f} bpp"] = rec
                rows.append(m)
    return images, pd.DataFrame(rows)


def bitrate_slider(image: ImageLike, cache: CodecCache | None = None, name: str = "tiny",
                   steps_options: Sequence[int] = (1, 2, 4, 8)):
    """An ipywidgets panel: a slider over the shipped rate points and a steps selector, showing
    the reconstruction beside the original with bpp and metrics; every change calls
    :func:`slider_update`. Returns the widget (display it; it also has ``.update()`` for tests).

    Explained in notebook ``04_bitrate_slider``.
    """
    import io

    import ipywidgets as W

    pil = _pil(image)
    cache = cache or CodecCache()
    rates = cache.rates(name)

    def png(im: Image.Image) -> bytes:
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue()

    rate_w = W.SelectionSlider(options=rates, value=rates[0], description="rate point",
                               continuous_update=False)
    steps_w = W.Dropdown(options=list(steps_options), value=steps_options[0], description="steps")
    original = W.Image(value=png(pil), format="png", layout=W.Layout(width="48%"))
    recon = W.Image(format="png", layout=W.Layout(width="48%"))
    label = W.HTML()

    def update(*_: Any) -> dict[str, Any]:
        rec, m = slider_update(cache, pil, rate_w.value, steps_w.value, name)
        recon.value = png(rec)
        label.value = (f"<b>{name}</b>, rate {m['rate']}, {m['steps']} step(s): {m['bytes']} bytes, "
                       f"<b>{m['bpp']:.4f} bpp</b>, PSNR {m['psnr']:.2f} dB, MS-SSIM {m['ms_ssim']:.4f}, "
                       f"decode {m['decode_s']:.2f} s")
        box.last = m
        return m

    rate_w.observe(update, names="value")
    steps_w.observe(update, names="value")
    box = W.VBox([W.HBox([rate_w, steps_w]), label, W.HBox([original, recon])])
    box.update, box.last = update, None
    update()
    return box


# =============================================================================== 05 rate curves
def rd_table(data: str | Path | None = None, learned: Sequence[str] = ("tiny", "mse"),
             pillow: Sequence[str] = ("jpeg", "webp", "webp-ds"), pillow_rates: Sequence[int] = (0, 1, 2, 3),
             max_images: int | None = None, metrics: Sequence[str] | None = None,
             steps: Sequence[int] = (1,)) -> pd.DataFrame:
    """Per-image rate-distortion table of the kit's models (every shipped rate point) and Pillow
    baselines (the lowest ``pillow_rates`` of their ladders, ``baselines.LADDERS`` and, for the
    downscaled ``-ds`` variants that reach the DiT-IC rates, ``baselines.DOWNSCALED_LADDER``) on
    ``data`` (default: the sample images), via :func:`ditic_lite.evaluate.evaluate`.
    ``metrics`` default: :func:`default_metrics` (no download attempt offline).
    Explained in notebook ``05_rate_perception_curves``.
    """
    from .evaluate import evaluate

    data = samples_dir() if data is None else data
    metrics = default_metrics() if metrics is None else list(metrics)
    parts = [evaluate(data, list(learned), steps=steps, metrics=metrics, max_images=max_images, progress=False)]
    if pillow:
        parts.append(evaluate(data, list(pillow), metrics=metrics, rates=list(pillow_rates),
                              max_images=max_images, progress=False))
    return pd.concat(parts, ignore_index=True)


def bd_rate_table(results: pd.DataFrame, anchor: str | Sequence[str] = "jpeg",
                  metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """BD-rate (%) of every codec against ``anchor`` (or each of several anchors) per metric, from
    mean rate points. Only metrics with a direction (``metrics.HIGHER_IS_BETTER``) are used: the
    detail ratio, best at 1, has none.

    One row per (codec, metric): ``bd_rate`` (negative = fewer bits at equal quality), ``points``
    and ``note`` saying why a value is missing (fewer than 2 rate points, a non-monotonic curve,
    no overlap). Explained in notebook ``05_rate_perception_curves``.
    """
    from .plots import rate_points

    if not isinstance(anchor, str):
        return pd.concat([bd_rate_table(results, a, metrics) for a in anchor], ignore_index=True)
    pts = rate_points(results)
    metrics = [m for m in (metrics or ("psnr", "ms_ssim", "lpips", "dists"))
               if m in M.HIGHER_IS_BETTER and m in pts and pts[m].notna().any()]
    keys = ["codec", "steps"] if "steps" in pts else ["codec"]
    anchor_pts = pts[pts["codec"] == anchor]
    if anchor_pts.empty:
        raise ValueError(f"anchor {anchor!r} not in the table; codecs are {sorted(pts['codec'].unique())}")
    rows = []
    for key, g in pts.groupby(keys, sort=False):
        codec = key[0] if isinstance(key, tuple) else key
        if codec == anchor:
            continue
        label = f"{codec} ({int(key[1])} step)" if isinstance(key, tuple) and key[1] else str(codec)
        for metric in metrics:
            row = {"codec": label, "anchor": anchor, "metric": metric, "points": len(g), "bd_rate": float("nan"), "note": ""}
            if len(g) < 2:
                row["note"] = "needs >= 2 rate points (1 measured)"
            else:
                try:
                    row["bd_rate"] = M.bd_rate(anchor_pts["bpp"], anchor_pts[metric], g["bpp"], g[metric])
                except ValueError as err:
                    row["note"] = str(err).split(";")[0][:90]
            rows.append(row)
    return pd.DataFrame(rows)


def rd_summary(results: pd.DataFrame, metric: str = "psnr") -> str:
    """Sentences from a results table: per codec the range of bpp it reached and its ``metric``
    there, and which codec is best at the lowest rate every codec reaches.
    Explained in notebook ``05_rate_perception_curves``.
    """
    from .plots import rate_points

    pts = rate_points(results)
    unit = " dB" if metric == "psnr" else ""
    lines = []
    for codec, g in pts.groupby("codec", sort=False):
        lo, hi = g.iloc[0], g.iloc[-1]
        span = f"{lo['bpp']:.3f} bpp ({lo[metric]:.3f}{unit})"
        if len(g) > 1:
            span += f" to {hi['bpp']:.3f} bpp ({hi[metric]:.3f}{unit})"
        lines.append(f"{codec}: {len(g)} rate point(s), {span}")
    common = pts.groupby("codec")["bpp"].min().max()
    near = pts.loc[(pts["bpp"] - common).abs().groupby(pts["codec"]).idxmin()]
    best = near.loc[near[metric].idxmax() if M.HIGHER_IS_BETTER.get(metric, True) else near[metric].idxmin()]
    lines.append(f"Near {common:.3f} bpp (the highest of the codecs' lowest rates), the best {metric} is {best['codec']} "
                 f"({best[metric]:.3f}{unit} at {best['bpp']:.3f} bpp).")
    return "\n".join(lines)


# =============================================================================== 06 alignment
def sample_captions() -> pd.DataFrame:
    """``data/samples/captions.csv`` (``file``, ``caption``) of the sample photos.
    Explained in notebook ``06_alignment_mechanisms``."""
    path = samples_dir() / "captions.csv"
    with open(path, newline="") as f:
        return pd.DataFrame(list(csv.DictReader(f)))


def caption_embeddings(captions: Sequence[str], cache: str | Path | None = "samples") -> torch.Tensor:
    """all-MiniLM-L6-v2 embeddings [N, 384] of ``captions`` (offline), from a cache file when its
    captions match (``"samples"``: the shipped ``data/samples/caption_embeddings.safetensors``).
    Explained in notebook ``06_alignment_mechanisms``."""
    from safetensors.torch import load_file, save_file

    path = samples_dir() / "caption_embeddings.safetensors" if cache == "samples" else (Path(cache) if cache else None)
    digest = hashlib.sha256("\n".join(captions).encode()).hexdigest()
    if path is not None and path.exists():
        from safetensors import safe_open
        with safe_open(str(path), "pt") as f:
            if (f.metadata() or {}).get("captions_sha256") == digest:
                return load_file(str(path))["emb"]
    from .train import caption_embeddings as embed
    emb = embed(list(captions))
    if path is not None and cache != "samples":  # the shipped file is data, never rewritten
        save_file({"emb": emb.contiguous()}, str(path), metadata={"captions_sha256": digest, "model": "all-MiniLM-L6-v2"})
    return emb


@torch.no_grad()
def encoder_latent(codec: Codec, image: ImageLike) -> torch.Tensor:
    """The frozen DC-AE encoder's latent of ``image`` (scaled, padded size): the distillation
    target. Explained in notebook ``06_alignment_mechanisms``."""
    x = pad_to_multiple(to_tensor(image), codec.pad_multiple).to(codec.device)
    with deterministic_threads():
        return codec.model.encode_latents(x)[0]


def distillation_table(codec: Codec, images: dict[str, ImageLike], steps: int = 1) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Self-distillation, measured: per image the channel cosine between the frozen encoder's
    latent ``E(x)`` and (a) the decoded mean ``y_tilde`` (before the DiT), (b) the one-step output
    ``y_hat``. Columns: ``image``, ``latent``, ``cosine`` (mean over positions), ``above_margin``
    (fraction with cos > 1 - m, where the margin loss is zero), ``loss`` (L_sd, weight w).
    Also returns the per-position cosine maps of ``y_hat`` by image. Explained in notebook ``06_alignment_mechanisms``.
    """
    cfg = codec.model.config.align
    rows, maps = [], {}
    for name, img in images.items():
        pil = _pil(img)
        target = encoder_latent(codec, pil)
        _, info = codec.decompress(codec.compress(pil), steps=steps, return_intermediates=True)
        for label, latent in (("y_tilde (before the DiT)", info["y_tilde"]), ("y_hat (one-step output)", info["y_hat"])):
            cos = align.channel_cosine(latent, target)
            rows.append({"image": name, "latent": label, "cosine": float(cos.mean()),
                         "above_margin": float((cos > 1 - cfg.distill_margin).float().mean()),
                         "loss": float(align.self_distillation_loss(latent, target, cfg.distill_margin, cfg.distill_weight))})
        maps[name] = align.channel_cosine(info["y_hat"], target)[0].cpu().numpy()
    return pd.DataFrame(rows), maps


def retrieval_table(codec: Codec, images: dict[str, ImageLike], captions: dict[str, str]) -> tuple[pd.DataFrame, np.ndarray, float]:
    """Latent-conditioned guidance, measured: the latent condition of each image (mean of the
    prompter tokens) against every caption embedding. Returns a table (``image``, ``own caption
    similarity``, ``best other``, ``retrieved``, ``correct``), the cosine matrix [images, captions]
    and the retrieval accuracy (chance = 1 / number of images). Explained in notebook ``06_alignment_mechanisms``.
    """
    names = list(images)
    emb = caption_embeddings([captions[n] for n in names])
    tokens = []
    for n in names:
        _, info = codec.decompress(codec.compress(_pil(images[n])), steps=1, return_intermediates=True)
        tokens.append(info["tokens"])
    tokens = torch.cat(tokens)
    sim = (F.normalize(tokens.mean(1), dim=-1) @ F.normalize(emb, dim=-1).t()).cpu().numpy()
    acc = align.retrieval_accuracy(tokens, emb)
    rows = []
    for i, n in enumerate(names):
        others = np.delete(sim[i], i)
        best = int(sim[i].argmax())
        rows.append({"image": n, "own_caption": float(sim[i, i]), "best_other": float(others.max()) if len(others) else float("nan"),
                     "retrieved": names[best], "correct": best == i})
    return pd.DataFrame(rows), sim, acc


@torch.no_grad()
def decode_with_tokens(codec: Codec, data: bytes, tokens: torch.Tensor | None, steps: int = 1) -> Image.Image:
    """Decode ``data`` with the given latent condition instead of the prompter's (``None``: the
    empty condition, zeros). Same flow (``flow.multi_step``), residual and decoder as the codec.
    Explained in notebook ``06_alignment_mechanisms``."""
    model = codec.model
    header, out, _ = codec.entropy_decode(data)
    std = flow.std_from_log_scale(out["log_scale"], model.config.flow)
    sigma_map = flow.pseudo_timestep_map(std, model.config.flow)
    with deterministic_threads():
        own = model.prompter(out["prompt"])
        cond = torch.zeros_like(own) if tokens is None else tokens.to(own)
        x0 = flow.multi_step(lambda x, t: model.velocity(x, t, cond), out["mean"], sigma_map,
                             steps=steps, cfg=model.config.flow)
        image = model.decode_latent(x0 + out["res"])
    return to_pil(image[..., : header.height, : header.width])


def condition_ablation(codec: Codec, image: ImageLike, metrics: Sequence[str] = ("psnr", "ms_ssim")) -> tuple[dict[str, Image.Image], pd.DataFrame]:
    """Reconstruct the same bytes with the latent condition and with an empty one (zero tokens).
    Returns the images and a table (``condition``, metrics, and a ``change`` row).
    Explained in notebook ``06_alignment_mechanisms``.
    """
    pil = _pil(image)
    data = codec.compress(pil)
    latent = codec.decompress(data)
    empty = decode_with_tokens(codec, data, None)
    images = {"latent condition": latent, "empty condition": empty}
    table = pd.DataFrame([{"condition": k, **M.scores(pil, v, metrics)} for k, v in images.items()])
    change = {"condition": "change (empty - latent)", **{m: float(table[m].iloc[1] - table[m].iloc[0]) for m in metrics}}
    return images, pd.concat([table, pd.DataFrame([change])], ignore_index=True)


ABLATION_CSV = Path(__file__).resolve().parent.parent / "data" / "ablations" / "alignment.csv"
ABLATION_COMMAND = "python scripts/ablation_alignment.py --runs runs --steps 150"


def alignment_ablation(path: str | Path | None = None) -> pd.DataFrame | None:
    """The shipped self-distillation ablation (``data/ablations/alignment.csv``, written by
    ``scripts/ablation_alignment.py``), or ``None`` when it has not been run.
    Explained in notebook ``06_alignment_mechanisms``.
    """
    path = Path(path) if path is not None else ABLATION_CSV
    return pd.read_csv(path) if path.exists() else None


def ablation_report(table: pd.DataFrame | None) -> str:
    """What the ablation CSV says, or that it has not been run and the command that runs it.
    Explained in notebook ``06_alignment_mechanisms``.
    """
    if table is None:
        return ("The self-distillation ablation has NOT been run: data/ablations/alignment.csv is missing.\n"
                f"Run it (needs a trained stage 1 and the training photos):\n    {ABLATION_COMMAND}\n"
                "The live measurements below do not need it.")
    lines = [f"Ablation from {ABLATION_CSV.name}: {len(table)} variant(s), "
             f"{int(table['steps'].iloc[0])} stage-2 steps each."]
    by = table.set_index("variant")
    if {"full", "no_distill"} <= set(by.index):
        f, n = by.loc["full"], by.loc["no_distill"]
        lines.append(f"cos(y_hat, E(x)): {f['cosine_yhat_encoder']:.3f} with L_sd vs {n['cosine_yhat_encoder']:.3f} "
                     f"without ({f['cosine_yhat_encoder'] - n['cosine_yhat_encoder']:+.3f}); PSNR "
                     f"{f['psnr'] - n['psnr']:+.3f} dB, bpp {f['bpp'] - n['bpp']:+.4f}.")
    return "\n".join(lines)


# =============================================================================== 07 official
OFFICIAL_FILES_HINT = "*_merge_ema.pt (quality points q1..q4)"


def cached_official_checkpoints() -> list[Path]:
    """``*_merge_ema.pt`` files of the official release already in the Hugging Face cache
    (``$DITIC_OFFICIAL_CHECKPOINT`` adds a local file). Never downloads. Explained in notebook
    ``07_official_dit_ic``."""
    found = []
    env = os.environ.get("DITIC_OFFICIAL_CHECKPOINT")
    if env and Path(env).is_file():
        found.append(Path(env))
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
        repo = Path(HF_HUB_CACHE) / "models--JunqiShi--DiT-IC"
        found += sorted(repo.glob("snapshots/*/*_merge_ema.pt"))
    except ImportError:
        pass
    return found


def official_status(check_network: bool = True) -> dict[str, Any]:
    """What the official tier can do here: ``gpu``, ``hub_reachable`` (:func:`ditic_lite.notebook.online`:
    a 3 s socket probe, skipped with ``HF_HUB_OFFLINE=1``), ``cached`` checkpoints and ``can_run``:
    a checkpoint is cached (any machine: the official model also runs on a CPU, slowly), or a GPU
    and the hub are there to download one (about 4 GB, not worth it for a CPU run). Never
    downloads. Explained in notebook ``07_official_dit_ic``.
    """
    gpu = torch.cuda.is_available()
    cached = cached_official_checkpoints()
    reachable = online("huggingface.co") if check_network else False
    return {"gpu": gpu, "gpu_name": torch.cuda.get_device_name(0) if gpu else None,
            "hub_reachable": reachable, "cached": [str(p) for p in cached],
            "can_run": bool(cached) or (gpu and reachable)}


def official_plan(status: dict[str, Any]) -> str:
    """Plain words: what notebook ``07_official_dit_ic`` does with this status (and what it would
    do on a GPU with internet)."""
    from .official import HUB_REPO

    lines = []
    if status["can_run"]:
        src = status["cached"][0] if status["cached"] else f"the hub repo {HUB_REPO} ({OFFICIAL_FILES_HINT})"
        where = status["gpu_name"] or "the CPU (fp32; about a minute per Kodak image, decode sizes capped)"
        lines.append(f"Official tier: loading the released DiT-IC checkpoint from {src} on {where}.")
        if len(status["cached"]) > 1:
            lines.append(f"Cached checkpoints: {', '.join(Path(c).name for c in status['cached'])} "
                         "(choose one with the checkpoint parameter).")
    else:
        why = []
        if not status["cached"]:
            why.append("no cached checkpoint")
        if not status["gpu"]:
            why.append("no CUDA GPU to justify a 4 GB download (a cached checkpoint also runs on a CPU)")
        elif not status["hub_reachable"]:
            why.append("the hub is not reachable (offline)")
        lines.append("Official tier NOT run here: " + "; ".join(why) + ".")
        lines.append(f"On a GPU with internet (Colab) this notebook would download one file {OFFICIAL_FILES_HINT} "
                     f"from https://huggingface.co/{HUB_REPO} (about 4 GB), load it with "
                     "dl.load('official', checkpoint=...), code a few Kodak images and time 1024x1024 "
                     "and 2048x2048 decodes in bfloat16 (float16 on GPUs without bfloat16, e.g. a T4). "
                     "With a checkpoint already on disk (DITIC_OFFICIAL_CHECKPOINT=path or the Hugging Face "
                     "cache) it also runs here on the CPU, with smaller decode sizes.")
        lines.append("Below, the same cells run on the kit's tiny model instead; nothing is downloaded.")
    return "\n".join(lines)


def synthetic_photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A deterministic photo-like image of any size (for timing large decodes offline).
    Used by notebook ``07_official_dit_ic``."""
    from .bench import synthetic_image
    return Image.fromarray(synthetic_image(width, height, seed))


def decode_timing(codec: Codec, sizes: Sequence[tuple[int, int]], steps: int = 1, repeats: int = 3,
                  warmup: int = 1) -> pd.DataFrame:
    """Decode latency per image size: ``size``, ``megapixels``, ``bytes``, ``bpp``, ``decode_s``
    and per-stage seconds (entropy / dit / decoder), each the median over ``repeats`` timed decodes
    after ``warmup`` untimed ones (``ditic_lite.bench.measure``; on a GPU every stage ends with a
    CUDA synchronisation), ``repeats`` and ``peak_mem_mb`` (GPU: peak allocated; CPU: peak
    resident memory of the process). Explained in notebook ``07_official_dit_ic``.
    """
    from .bench import measure

    device = str(codec.device)
    rows = []
    for w, h in sizes:
        img = synthetic_photo(w, h)
        data = codec.compress(img)
        stages: list[dict[str, float]] = []

        def decode(data: bytes = data) -> Any:
            out = codec.decompress(data, steps=steps, return_intermediates=True)
            stages.append(out[1]["timings"])
            return out

        m = measure(decode, device, repeats, warmup)
        timed = stages[warmup:]
        rows.append({"model": codec.name, "size": f"{w}x{h}", "megapixels": w * h / 1e6, "device": device,
                     "bytes": len(data), "bpp": M.bits_per_pixel(len(data), h, w), "decode_s": m["median_s"],
                     **{f"{k}_s": float(np.median([t[k] for t in timed])) for k in timed[0]},
                     "repeats": repeats, "peak_mem_mb": m["peak_mem_mb"]})
    return pd.DataFrame(rows)


def reproduce_points(codec: Codec, images: Sequence[ImageLike | str | Path], metrics: Sequence[str] | None = None,
                     steps: int = 1) -> pd.DataFrame:
    """Code each image with ``codec`` (any tier): real bytes, bpp and metrics per image, plus the
    mean as a last row. Explained in notebook ``07_official_dit_ic``.
    """
    metrics = list(metrics) if metrics is not None else default_metrics()
    rows = []
    for img in images:
        name = Path(img).stem if isinstance(img, (str, Path)) else f"image {len(rows)}"
        pil = load_image(img) if isinstance(img, (str, Path)) else _pil(img)
        data = codec.compress(pil)
        rec = codec.decompress(data, steps=steps)
        rows.append({"image": name, "model": codec.name, "rate": codec.rate, "bytes": len(data),
                     "bpp": M.bits_per_pixel(len(data), pil.height, pil.width), **M.scores(pil, rec, metrics)})
    df = pd.DataFrame(rows)
    mean = {"image": "mean", "model": codec.name, "rate": codec.rate, "bytes": df["bytes"].mean(),
            **{c: df[c].mean() for c in ("bpp", *metrics)}}
    return pd.concat([df, pd.DataFrame([mean])], ignore_index=True)


def official_or_tiny(status: dict[str, Any], device: str = "cpu", checkpoint: str | Path | None = None,
                     dtype: str = "bf16") -> tuple[Any, str]:
    """The official codec when ``status["can_run"]``, else the tiny codec. Returns ``(codec, tier)``
    with tier ``"official"`` or ``"tiny"``. Never downloads when it cannot run.

    ``checkpoint``: a local file, a file name (``"q2_merge_ema.pt"``: the cached copy, else that
    file of the hub repo), ``owner/repo/file``, or ``None``/``""`` (the first cached file, else the
    first ``*_merge_ema.pt`` of the hub repo, downloaded once).
    Explained in notebook ``07_official_dit_ic``.
    """
    from .zoo import load

    if not status.get("can_run"):
        return load("tiny", rate=0, device=device), "tiny"
    from .official import HUB_REPO

    checkpoint = checkpoint or None
    if checkpoint is not None and "/" not in str(checkpoint) and not Path(checkpoint).is_file():
        named = [c for c in status["cached"] if Path(c).name == str(checkpoint)]
        checkpoint = named[0] if named else f"{HUB_REPO}/{checkpoint}"
    if checkpoint is None and status["cached"]:
        checkpoint = status["cached"][0]
    if checkpoint is None:
        from huggingface_hub import list_repo_files
        files = sorted(f for f in list_repo_files(HUB_REPO) if f.endswith("_merge_ema.pt"))
        if not files:
            raise FileNotFoundError(f"no *_merge_ema.pt file in the hub repo {HUB_REPO}")
        checkpoint = f"{HUB_REPO}/{files[0]}"
    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    return load("official", checkpoint=checkpoint, device=device, dtype=torch_dtype), "official"


def evaluation_images(tier: str, count: int) -> list[Path]:
    """The first ``count`` Kodak images for the official tier (downloaded with checksums by
    ``ditic_lite.data``), the sample photos for the tiny tier (offline).
    Explained in notebook ``07_official_dit_ic``.
    """
    if tier == "official":
        from .data import list_images, resolve
        return list_images(resolve("kodak"))[:count]
    from .notebook import sample_paths
    return sample_paths()[:count]
