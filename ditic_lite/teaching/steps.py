"""Notebook ``03_one_step_vs_multi_step``: the adapted flow with K Euler steps against the
un-adapted base DiT used as an ordinary multi-step sampler, on the same bytes and decoder.

:func:`step_sweep`, :func:`base_dit_decode`, :func:`base_dit_sweep`, :func:`compare_steps`,
:func:`has_base_dit`, :func:`caption_for`, :func:`one_step_summary`, :func:`step_drift_summary`,
:func:`decode_scores`. The samplers themselves are in
:mod:`ditic_lite.samplers`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image

from .. import flow, samplers
from .. import metrics as M
from ..codec import Codec
from ..determinism import deterministic_threads
from ..images import ImageLike, to_pil
from .alignment import caption_embeddings, encoder_latent, sample_captions
from .common import as_pil, latent_size


def step_sweep(codec: Codec, image: ImageLike, steps: Sequence[int] = (1, 2, 4, 8, 20),
               metrics: Sequence[str] = ("psnr", "ms_ssim"), repeats: int = 1) -> tuple[dict[int, Image.Image], pd.DataFrame]:
    """Decode the same bytes with K Euler steps of the adapted (LoRA) variance-guided flow.

    Returns ``{K: image}`` and a table: ``method``, ``steps``, ``dit_calls``, ``decode_s``
    (entropy + DiT + decoder seconds, median over ``repeats``), ``entropy_s``, ``dit_s``,
    ``decoder_s``, ``bpp``, the metrics and ``latent_error``: the mean ``|E(x) - y_hat|`` between
    the frozen encoder's latent of the original and the latent the decoder receives after K steps
    (over the latent pixels that cover the image; :func:`step_drift_summary`).
    Explained in notebook ``03_one_step_vs_multi_step``.
    """
    pil = as_pil(image)
    data = codec.compress(pil)
    target = _cover(encoder_latent(codec, pil), pil)
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
                     **M.scores(pil, rec, metrics),
                     "latent_error": float((_cover(info["y_hat"], pil) - target).abs().mean())})
    return images, pd.DataFrame(rows)


def _cover(latent: torch.Tensor, image: Image.Image) -> torch.Tensor:
    """The latent pixels of a 1xCxhxw tensor that cover ``image`` (float32, on the CPU)."""
    hh, ww = latent_size(image.height, image.width)
    return latent[..., :hh, :ww].float().cpu()


@torch.no_grad()
def base_dit_decode(codec: Codec, data: bytes, steps: int, strength: float | None = None,
                    tokens: torch.Tensor | None = None, seed: int = 0,
                    switch_lora: bool = True, base_decoder: bool = False) -> tuple[Image.Image, dict[str, Any]]:
    """Decode with the UN-adapted base DiT used as an ordinary multi-step flow sampler.

    The codec's coarse latent ``x0 = y_tilde + res`` is noised to level ``strength`` of the
    base's rectified flow, ``x_s = (1 - s) x0 + s * noise``, then integrated to 0 in ``steps``
    Euler steps (SDEdit, :func:`ditic_lite.samplers.sdedit`), with LoRA switched off in the DiT
    only, so the adapted decoder is shared with DiT-IC and only the DiT differs
    (``base_decoder=True`` also switches off the decoder's LoRA;
    pass ``switch_lora=False`` when the caller already switched it off). ``strength`` defaults to
    the mean of DiT-IC's pseudo-timestep map; ``tokens`` ([1, T, 384] caption embeddings) default
    to the empty condition (zeros, the base's dropped caption). Returns the image and
    ``{"strength", "decode_s", "entropy_s", "dit_s", "decoder_s"}`` (decode_s = the three stages).
    Explained in notebook ``03_one_step_vs_multi_step``.
    """
    if switch_lora:
        with codec.model.lora_disabled(_lora_parts(base_decoder)):
            return base_dit_decode(codec, data, steps, strength, tokens, seed, switch_lora=False)
    model = codec.model
    header, out, entropy_s = codec.entropy_decode(data)
    if strength is None:
        std = flow.std_from_log_scale(out["log_scale"], model.config.flow)
        strength = float(flow.pseudo_timestep_map(std, model.config.flow).mean())
    x0 = out["mean"] + out["res"]
    if tokens is None:  # the base's dropped caption
        tokens = torch.zeros(1, 1, model.DiT.config.caption_channels, device=x0.device)
    tokens = tokens.to(x0.device, x0.dtype)
    if tokens.ndim == 2:
        tokens = tokens[:, None, :]
    with deterministic_threads():
        tic = time.perf_counter()
        latent, s0 = samplers.sdedit(lambda x, t: model.velocity(x, t, tokens), x0, strength, steps, seed=seed,
                                     dit_timestep=model.dit_timestep)
        dit_s = time.perf_counter() - tic
        tic = time.perf_counter()
        image = model.decode_latent(latent)
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
    pil = as_pil(image)
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


def has_base_dit(codec: Codec) -> bool:
    """Whether the codec's DiT holds separate LoRA layers, so its un-adapted base can run: the
    tiny model does; the official release's merged checkpoint has the LoRA folded into the
    weights, so its base DiT (SANA-600M) is not in the file.
    Explained in notebook ``03_one_step_vs_multi_step``."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    return any(isinstance(m, BaseTunerLayer) for m in codec.model.DiT.modules())


def compare_steps(codec: Codec, image: ImageLike, steps: Sequence[int] = (1, 2, 4, 8, 20),
                  tokens: torch.Tensor | None = None, seed: int = 0) -> tuple[dict[str, dict[int, Image.Image]], pd.DataFrame]:
    """:func:`step_sweep` and :func:`base_dit_sweep` on the same bytes: images by method and K,
    and one table. Without a base DiT (:func:`has_base_dit`) only the adapted sweep.
    Explained in notebook ``03_one_step_vs_multi_step``.
    """
    adapted_imgs, adapted = step_sweep(codec, image, steps)
    if not has_base_dit(codec):
        return {"DiT-IC, adapted": adapted_imgs}, adapted
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
    else:
        lines.append("No un-adapted base DiT to compare with: this checkpoint holds the LoRA merged into the DiT "
                     "(the base SANA-600M weights are a separate release, not loaded here).")
    lines.append(f"Of the one-step decode's {one['decode_s']:.3f} s (one timing, not averaged), the DiT took {one['dit_s']:.3f} s "
                 f"({one['dit_s'] / one['decode_s']:.0%}), the decoder {one['decoder_s']:.3f} s "
                 f"({one['decoder_s'] / one['decode_s']:.0%}), entropy decoding {one['entropy_s']:.3f} s.")
    return "\n".join(lines)


def decode_scores(table: pd.DataFrame, metric: str = "psnr") -> dict[str, float]:
    """``{"DiT-IC K=1": value, ..., "base K=20": value}``: one ``metric`` per decode of a
    :func:`compare_steps` table (one image), named for an exercise's prediction
    (``exercises.check_largest``). Used by notebook ``03_one_step_vs_multi_step``."""
    return {f"{'DiT-IC' if method.startswith('DiT-IC') else 'base'} K={int(k)}": float(v)
            for method, k, v in zip(table["method"], table["steps"], table[metric])}


def step_drift_summary(table: pd.DataFrame, metric: str = "psnr", min_change: float = 0.1) -> str:
    """Why more steps of the adapted flow do not help, read off a :func:`step_sweep` table: how
    ``metric`` and ``latent_error`` (the distance of the decoded latent from the encoder's latent
    ``E(x)``) change from the fewest to the most steps, then the explanation that fits those
    numbers (a change below ``min_change`` counts as none). Explained in notebook
    ``03_one_step_vs_multi_step``.
    """
    adapted = table[table["method"].str.startswith("DiT-IC")].set_index("steps").sort_index()
    if len(adapted) < 2:
        return "Only one step count was measured: nothing to compare."
    first, last = adapted.iloc[0], adapted.iloc[-1]
    k1, k2 = int(adapted.index[0]), int(adapted.index[-1])
    change, drift = last[metric] - first[metric], last["latent_error"] - first["latent_error"]
    unit = " dB" if metric == "psnr" else ""
    lines = [f"From K={k1} to K={k2} steps, {metric} changes by {change:+.3f}{unit}, and the latent the decoder "
             f"receives moves {'further from' if drift > 0 else 'closer to'} the encoder's latent E(x) "
             f"(mean |E(x) - y_hat| {first['latent_error']:.4f} -> {last['latent_error']:.4f})."]
    trained_for_one = ("The adapted DiT was trained for exactly one step, from the decoded mean at the fixed "
                       "timestep. With K steps each call moves only part of the way, and the later calls "
                       "run at lower timesteps and from points the training never showed it, so their errors add up "
                       "instead of cancelling.")
    if change <= -min_change and drift > 0:
        lines.append(f"Why it falls. {trained_for_one} The latent drifts away from E(x), and the picture loses "
                     "fidelity with it. A flow trained for one step is not a better sampler with more steps.")
    elif change <= -min_change:
        lines.append(f"It falls although the mean distance to E(x) does not grow: the error moved to where it "
                     f"costs more {metric}. {trained_for_one}")
    elif change >= min_change:
        lines.append(f"Here more steps help: the one-step training leaves room that the extra calls use "
                     f"({k2} DiT calls instead of {k1}).")
    else:
        lines.append(f"More steps change {metric} by less than {min_change:g}{unit}: they cost {k2} DiT calls "
                     f"instead of {k1} and buy nothing worth claiming.")
    return "\n".join(lines)
