"""Notebook ``04_bitrate_slider``: sliders over the shipped rate points and the quantisation step
of y, decoding real bytes.

:class:`CodecCache`, :func:`rate_points_description`, :func:`slider_update`, :func:`slider_table`,
:func:`slider_panels`, :func:`quant_step_sweep`, :func:`quant_step_verdict`, :func:`bitrate_slider`.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import pandas as pd
from PIL import Image

from .. import metrics as M
from .. import container
from ..images import ImageLike
from .common import as_pil


@dataclass
class CodecCache:
    """Loaded codecs by ``(name, rate)`` and their bitstreams by ``(name, rate, image, quant step)``,
    so moving a slider decodes but never reloads or re-encodes. Explained in notebook ``04_bitrate_slider``."""

    device: str = "cpu"
    loader: Any = None  # ``(name, rate) -> codec``; default ``ditic_lite.load``
    codecs: dict[tuple[str, int], Any] = field(default_factory=dict)
    streams: dict[tuple[str, int, str, int], bytes] = field(default_factory=dict)

    def codec(self, name: str, rate: int):
        key = (name, int(rate))
        if key not in self.codecs:
            if self.loader is not None:
                self.codecs[key] = self.loader(name, int(rate))
            else:
                from ..zoo import load
                self.codecs[key] = load(name, rate=int(rate), device=self.device)
        return self.codecs[key]

    def rates(self, name: str = "tiny") -> list[int]:
        if self.loader is None:
            from ..zoo import available_rates
            return available_rates(name)
        return list(self.codec(name, 0).rates)

    def compress(self, name: str, rate: int, image: Image.Image, quant_step: float = 1.0) -> bytes:
        image_key = hashlib.sha1(image.tobytes() + repr(image.size).encode()).hexdigest()
        key = (name, int(rate), image_key, container.quant_step_index(quant_step))
        if key not in self.streams:
            self.streams[key] = self.codec(name, rate).compress(image, quant_step=quant_step)
        return self.streams[key]


def rate_points_description(cache: CodecCache, name: str = "tiny") -> str:
    """How model ``name`` makes its rate points, read off the loaded models: one shared model
    with a learned vector of quantisation steps per rate point (the tiny tier's codecs,
    ``channel_steps``), or one separately trained model per rate point (the official release);
    with each rate point's lambda where its model card has one. Explained in notebook
    ``04_bitrate_slider``."""
    codecs = [cache.codec(name, r) for r in cache.rates(name)]
    lambdas = [(c.card or {}).get("lambda") for c in codecs]
    weights = (f" (λ = {', '.join(f'{lam:g}' for lam in lambdas)} for rate points "
               f"{', '.join(str(c.rate) for c in codecs)})" if all(lam is not None for lam in lambdas) else "")
    first = codecs[0]
    if getattr(getattr(first.model.config, "codec", None), "channel_steps", False):
        own = first.model.codec.log_step.numel()
        return (f"{name}: ONE shared model codes all {len(codecs)} rate points. A rate point is only its own vector of {own} learned quantisation "
                f"steps, one per channel of y. The model was trained for all rate points at once: each training "
                f"step picked a rate point, quantised y with its steps and weighed the bits by its λ{weights}, in "
                f"L = λ R + D + ... A larger λ makes bits dearer: larger steps, fewer bytes, more distortion.")
    return (f"{name}: each of the {len(codecs)} rate points is its own model (a separate checkpoint), trained "
            f"with its own weight λ on the rate{weights}, in L = λ R + D + ...")


def slider_update(cache: CodecCache, image: ImageLike, rate: int, steps: int = 1,
                  name: str = "tiny", quant_step: float = 1.0) -> tuple[Image.Image, dict[str, Any]]:
    """What one move of the bitrate slider shows: the reconstruction at ``rate`` with ``steps``
    decoding steps and y quantised with ``quant_step`` (snapped to the file header's grid), and
    ``{"model", "rate", "quant_step", "steps", "bytes", "bpp", "psnr", "ms_ssim", "decode_s"}``.

    ``bpp`` is the real file size. Models without a diffusion step (``mse``) ignore ``steps``.
    Raises ``ValueError`` for a rate the model does not ship. Explained in notebook ``04_bitrate_slider``.
    """
    pil = as_pil(image)
    codec = cache.codec(name, rate)
    if int(rate) not in codec.rates:
        raise ValueError(f"rate {rate} not available for {name!r}; choose from {codec.rates}")
    data = cache.compress(name, rate, pil, quant_step)
    tic = time.perf_counter()
    rec = codec.decompress(data, steps=int(steps))
    decode_s = time.perf_counter() - tic
    q = M.scores(pil, rec, ("psnr", "ms_ssim"))
    return rec, {"model": name, "rate": int(rate), "quant_step": snapped_quant_step(quant_step),
                 "steps": int(steps), "bytes": len(data),
                 "bpp": M.bits_per_pixel(len(data), pil.height, pil.width), **q, "decode_s": decode_s}


QUANT_STEPS = (0.25, 0.5, 2 ** -0.5, 1.0, 2 ** 0.5, 2.0, 2 ** 1.5)
"""The quantisation steps the notebook's slider and sweep offer (all on the file header's grid)."""


def snapped_quant_step(step: float) -> float:
    """The step a file actually records for ``step``: the nearest of ``2 ** (k / 8)``.
    Used by notebook ``04_bitrate_slider``."""
    return container.quant_step(container.quant_step_index(step))


def quant_step_sweep(cache: CodecCache, images: Sequence[ImageLike], names: Sequence[str] = ("tiny",),
                     quant_steps: Sequence[float] = QUANT_STEPS, rates: Sequence[int] | None = None,
                     progress: bool = False) -> pd.DataFrame:
    """Code every image with every quantisation step at each rate point (all shipped by default):
    one row per model, rate, step and image with the real file size and PSNR / MS-SSIM of the
    one-step decode (:func:`slider_update`). Explained in notebook ``04_bitrate_slider``.
    """
    from tqdm.auto import tqdm

    pils = [as_pil(im) for im in images]
    jobs = [(name, rate, step, i) for name in names for rate in (rates if rates is not None else cache.rates(name))
            for step in quant_steps for i in range(len(pils))]
    rows = []
    for name, rate, step, i in tqdm(jobs, desc="quant-step sweep", disable=not progress):
        _, m = slider_update(cache, pils[i], rate, 1, name, quant_step=step)
        rows.append({"image": i, **{k: v for k, v in m.items() if k not in ("steps", "decode_s")}})
    return pd.DataFrame(rows)


def quant_step_verdict(table: pd.DataFrame, min_gain_db: float = 0.1) -> str:
    """What the sweep shows, in words, from its own numbers: per model, at the highest rate point,
    what the finest step adds over step 1 in bits and PSNR (and whether that PSNR gain reaches
    ``min_gain_db``), at the lowest rate point what the coarsest step saves, and each trained
    rate point (step 1) that another rate point with another step beats by ``min_gain_db`` of
    PSNR with no more bits.
    Explained in notebook ``04_bitrate_slider``.
    """
    lines = []
    means = table.groupby(["model", "rate", "quant_step"], as_index=False)[["bpp", "psnr", "ms_ssim"]].mean()
    for name, g in means.groupby("model", sort=False):
        top, low = g[g.rate == g.rate.max()].set_index("quant_step"), g[g.rate == g.rate.min()].set_index("quant_step")
        if 1.0 not in top.index or len(top) < 2:
            lines.append(f"{name}: the sweep needs step 1 and another step at each rate point")
            continue
        fine, coarse, one_top, one_low = top.loc[top.index.min()], low.loc[low.index.max()], top.loc[1.0], low.loc[1.0]
        gain = fine.psnr - one_top.psnr
        verdict = ("finer quantisation buys quality here" if gain >= min_gain_db else
                   f"the extra bits buy less than {min_gain_db} dB: y is decoded as well as this model can "
                   "(its transforms, not the quantiser, cap the quality)")
        lines.append(
            f"{name}, rate {int(g.rate.max())}: step {top.index.min():.3g} instead of 1 costs "
            f"{100 * (fine.bpp / one_top.bpp - 1):+.0f} % bits for {gain:+.2f} dB PSNR "
            f"({fine.ms_ssim - one_top.ms_ssim:+.3f} MS-SSIM): {verdict}. "
            f"Rate {int(g.rate.min())}: step {low.index.max():.3g} saves {100 * (1 - coarse.bpp / one_low.bpp):.0f} % "
            f"bits ({coarse.bpp:.4f} bpp) for {coarse.psnr - one_low.psnr:+.2f} dB.")
        for _, trained in g[g.quant_step == 1.0].sort_values("rate").iterrows():
            cheaper = g[g.bpp <= trained.bpp]
            best = cheaper.loc[cheaper.psnr.idxmax()]
            if best.psnr - trained.psnr >= min_gain_db:
                lines.append(
                    f"  {name} rate {int(trained.rate)} ({trained.bpp:.4f} bpp, {trained.psnr:.2f} dB) is beaten with "
                    f"fewer bits by rate {int(best.rate)} at step {best.quant_step:.3g} ({best.bpp:.4f} bpp, "
                    f"{best.psnr - trained.psnr:+.2f} dB, {best.ms_ssim - trained.ms_ssim:+.3f} MS-SSIM).")
    return "\n".join(lines)


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


def slider_panels(images: dict[str, Image.Image], positions: pd.DataFrame, name: str,
                  steps: int = 1) -> dict[str, Image.Image]:
    """The images of one model at one step count out of :func:`slider_table`'s result (its
    images and rows come in the same order): the panels of notebook ``04_bitrate_slider``'s figure."""
    keep = (positions["model"] == name) & (positions["steps"] == steps)
    return {label: im for (label, im), kept in zip(images.items(), keep) if kept}


def bitrate_slider(image: ImageLike, cache: CodecCache | None = None, name: str = "tiny",
                   steps_options: Sequence[int] = (1, 2, 4, 8), quant_steps: Sequence[float] = QUANT_STEPS):
    """An ipywidgets panel: sliders over the shipped rate points and the quantisation step of y
    (``quant_steps``, step 1 first selected) and a steps selector, showing
    the reconstruction beside the original with bpp and metrics; every change calls
    :func:`slider_update`. Returns the widget (display it; it also has ``.update()`` for tests).

    Explained in notebook ``04_bitrate_slider``.
    """
    import io

    import ipywidgets as W

    pil = as_pil(image)
    cache = cache or CodecCache()
    rates = cache.rates(name)

    def png(im: Image.Image) -> bytes:
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue()

    rate_w = W.SelectionSlider(options=rates, value=rates[0], description="rate point",
                               continuous_update=False)
    steps_w = W.Dropdown(options=list(steps_options), value=steps_options[0], description="steps")
    step_options = [(f"{snapped_quant_step(q):.3g}", q) for q in quant_steps]
    quant_w = W.SelectionSlider(options=step_options, value=min(quant_steps, key=lambda q: abs(q - 1.0)),
                                description="quant step", continuous_update=False)
    original = W.Image(value=png(pil), format="png", layout=W.Layout(width="48%"))
    recon = W.Image(format="png", layout=W.Layout(width="48%"))
    label = W.HTML()

    def update(*_: Any) -> dict[str, Any]:
        rec, m = slider_update(cache, pil, rate_w.value, steps_w.value, name, quant_step=quant_w.value)
        recon.value = png(rec)
        label.value = (f"<b>{name}</b>, rate {m['rate']}, quant step {m['quant_step']:.3g}, "
                       f"{m['steps']} step(s): {m['bytes']} bytes, "
                       f"<b>{m['bpp']:.4f} bpp</b>, PSNR {m['psnr']:.2f} dB, MS-SSIM {m['ms_ssim']:.4f}, "
                       f"decode {m['decode_s']:.2f} s")
        box.last = m
        return m

    rate_w.observe(update, names="value")
    steps_w.observe(update, names="value")
    quant_w.observe(update, names="value")
    box = W.VBox([W.HBox([rate_w, quant_w, steps_w]), label, W.HBox([original, recon])])
    box.update, box.last = update, None
    update()
    return box
