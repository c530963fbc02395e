"""The offline perception proxy of notebook ``05_rate_perception_curves``: the spectrum measures
(radially averaged power spectra, detail retention; defined in ``spectrum.py``, whose docstring
says what they measure and what not) and :func:`matched_reconstructions`, which codes one image
with learned and Pillow codecs at matched rates and scores them.

The measures live in ``spectrum.py`` so that ``metrics`` (the ``detail`` metric) can use them
without importing the codecs this module builds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .images import ImageLike, load_image, to_pil, to_tensor
from .spectrum import (DETAIL_BAND, SPECTRUM_BINS, detail_error, detail_retention,  # noqa: F401
                       radial_power_spectrum, spectra_table)


def matched_reconstructions(image: ImageLike, learned: Sequence[Any] = ("tiny", "mse"), rate: int = 0,
                            pillow: Sequence[str] = ("webp-ds",), device: str = "cpu",
                            results: pd.DataFrame | None = None) -> tuple[dict, pd.DataFrame]:
    """Code ``image`` with the first learned codec at ``rate`` (a name, or a loaded codec used as
    it is: the official tier), every other learned codec (names) at its
    rate point nearest in bpp, and each Pillow codec at the highest quality that fits that bpp
    (``at_bpp``). Returns ``{label: image}`` and a table: ``codec``, ``bytes``, ``bpp``, ``psnr``,
    ``ms_ssim``, ``detail`` (:func:`detail_retention`). With a per-image ``results`` table
    (``teaching.rd_table``) that holds this image, the nearest rate points are read from it
    instead of coding every rate point. Explained in notebook ``05_rate_perception_curves``.
    """
    from . import metrics as M
    from .baselines import pillow_codec
    from .zoo import available_rates, load

    pil = load_image(image) if isinstance(image, (str, Path)) else to_pil(to_tensor(image))
    h, w = pil.height, pil.width
    recons, rows = {}, []

    def add(name: str, data: bytes, rec) -> None:
        bpp = M.bits_per_pixel(len(data), h, w)
        label = f"{name}, {bpp:.3f} bpp"
        recons[label] = rec
        row = {"codec": name, "bytes": len(data), "bpp": bpp, "psnr": M.psnr(pil, rec)}
        try:
            row["ms_ssim"] = M.ms_ssim(pil, rec)
        except ValueError:
            row["ms_ssim"] = float("nan")
        rows.append({**row, "detail": detail_retention(pil, rec)})

    first = load(learned[0], rate=rate, device=device) if isinstance(learned[0], str) else learned[0]
    data = first.compress(pil)
    target = M.bits_per_pixel(len(data), h, w)
    add(first.name if not isinstance(learned[0], str) else learned[0], data, first.decompress(data))
    def candidates(name: str) -> list[int]:
        if results is not None and isinstance(image, (str, Path)):
            rows = results[(results["codec"] == name) & (results["image"] == Path(image).name)]
            if len(rows):
                return [int(rows.loc[(rows["bpp"] - target).abs().idxmin(), "rate"])]
        return available_rates(name)

    for name in learned[1:]:
        best = None
        for r in candidates(name):
            codec = load(name, rate=r, device=device)
            d = codec.compress(pil)
            gap = abs(M.bits_per_pixel(len(d), h, w) - target)
            if best is None or gap < best[0]:
                best = (gap, d, codec)
        add(name, best[1], best[2].decompress(best[1]))
    for name in pillow:
        codec = pillow_codec(name)
        d, _ = codec.at_bpp(pil, target)
        add(name, d, codec.decompress(d))
    return recons, pd.DataFrame(rows)
