"""The rANS bytes of a fixed latent equal a committed golden, under whatever numpy is installed.

The kit installs compressai 1.2.8 without its ``numpy<2`` pin (README, Colab cell), so the
entropy coder must give the same files under numpy 1 and numpy 2. A seeded latent is coded the
way :meth:`ditic_lite.latent_codec.LatentCodec.compress` codes streams (the codec's Gaussian tables
from the kit's scale table, ``quantize`` / ``build_indexes``, one ``BufferedRansEncoder`` stream;
the hyper-latent through the ``EntropyBottleneck``); the SHA-256 of both streams is committed
below. Decoding gives the symbols back.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch
from compressai.ans import BufferedRansEncoder, RansDecoder

from ditic_lite.config import LatentCodecConfig
from ditic_lite.latent_codec import LatentCodec

SMALL = LatentCodecConfig(latent_channels=8, aux_channels=16, pre_channels=(8, 8), y_channels=16,
                          z_channels=8, prompt_channels=12, scale_hidden_channels=8)
GOLDEN = {  # SHA-256 and length of the y (Gaussian) and z (factorised) streams; numpy 1.26.4 and 2.4.6 agree
    "y": ("e825c82449d4793d7e3e0996ae01b1225053b0d0ba291a5d46d8525a04a34326", 748),
    "z": ("2ca447087b951a4eb968c70056bf490ae7b1474db363b3c3a60d26b3c9fe9ada", 28),
}


def fixed_codec() -> LatentCodec:
    torch.manual_seed(0)
    codec = LatentCodec(SMALL)
    codec.update(force=True)
    return codec.eval()


def fixed_latent() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    shape = (1, SMALL.y_channels, 8, 8)
    return {"y": 4 * torch.randn(shape, generator=g), "mu": torch.randn(shape, generator=g),
            "scales": 0.05 + 40 * torch.rand(shape, generator=g),
            "z": 3 * torch.randn(1, SMALL.z_channels, 2, 2, generator=g)}


def code(codec: LatentCodec, latent: dict[str, torch.Tensor]) -> tuple[bytes, bytes, list[int], list[int]]:
    gc = codec.gaussian_conditional
    symbols = gc.quantize(latent["y"], "symbols", latent["mu"]).reshape(-1).tolist()
    indexes = gc.build_indexes(latent["scales"]).reshape(-1).tolist()
    encoder = BufferedRansEncoder()
    encoder.encode_with_indexes(symbols, indexes, *codec._gaussian_tables())
    with torch.no_grad():
        z_string = codec.entropy_bottleneck.compress(latent["z"])[0]
    return encoder.flush(), z_string, symbols, indexes


def test_rans_bytes_equal_the_golden_under_this_numpy():
    codec, latent = fixed_codec(), fixed_latent()
    y_bytes, z_bytes, symbols, indexes = code(codec, latent)
    decoder = RansDecoder()
    decoder.set_stream(y_bytes)
    assert decoder.decode_stream(indexes, *codec._gaussian_tables()) == symbols
    found = {"y": (hashlib.sha256(y_bytes).hexdigest(), len(y_bytes)),
             "z": (hashlib.sha256(z_bytes).hexdigest(), len(z_bytes))}
    assert found == GOLDEN, f"rANS bytes changed under numpy {np.__version__}: {found}"
