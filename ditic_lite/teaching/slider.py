"""Notebook ``04_bitrate_slider``: one slider over the shipped rate points, decoding real bytes.

:class:`CodecCache`, :func:`slider_update`, :func:`slider_table`, :func:`bitrate_slider`.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import pandas as pd
from PIL import Image

from .. import metrics as M
from ..images import ImageLike
from .common import as_pil


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
                from ..zoo import load
                self.codecs[key] = load(name, rate=int(rate), device=self.device)
        return self.codecs[key]

    def rates(self, name: str = "tiny") -> list[int]:
        if self.loader is None:
            from ..zoo import available_rates
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
    pil = as_pil(image)
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
