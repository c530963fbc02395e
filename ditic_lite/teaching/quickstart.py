"""Notebook ``01_quickstart``: the pipeline's tensors, a codec in one paragraph, where to zoom.

:func:`pipeline_shapes`, :func:`describe_codec` (also printed by notebooks 02, 03, 06 and 07) and
:func:`zoom_box` (the crop every notebook magnifies).
"""
from __future__ import annotations

import pandas as pd
import torch

from ..codec import Codec
from ..determinism import deterministic_threads
from ..images import ImageLike, pad_to_multiple, to_tensor
from .common import zoom_box  # noqa: F401  (defined beside the subject boxes; dl.teaching.zoom_box)


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
    from ..model import count_parameters

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
