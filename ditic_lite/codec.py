"""The user-facing codec: images in, ``.ditic`` bytes out, and back.

    codec = ditic_lite.load("tiny", rate=2)
    data = codec.compress(image)                    # real entropy-coded bytes
    data = codec.compress(image, quant_step=2.0)    # coarser y: fewer bytes (the step is in the file)
    image = codec.decompress(data)                  # one-step DiT decode, original size
    image = codec.decompress(data, decoder="realism")   # the same bytes, the decoder that draws texture
    image, info = codec.decompress(data, steps=4, return_intermediates=True)

Explained in notebook ``01_quickstart``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

from . import container
from .container import DecodeError, Header
from .determinism import deterministic_threads
from .images import ImageError, ImageLike, check_size, pad_to_multiple, padded_size, to_pil, to_tensor
from .metrics import bits_per_pixel
from .model import DiTIC
from .realism import NOISE_SEED, TextureHead

DECODERS = ("fidelity", "realism")  # what decompress(decoder=...) takes (realism.py)


@dataclass
class Codec:
    """A loaded model plus what identifies its bitstreams (name, rate, checkpoint id)."""

    model: DiTIC
    name: str
    rate: int
    rates: list[int]
    checkpoint_id: bytes
    card: dict[str, Any] = field(default_factory=dict)
    device: torch.device = torch.device("cpu")
    realism: TextureHead | None = None  # the realism decoder's texture head, where the tier ships one

    @property
    def pad_multiple(self) -> int:
        return self.model.config.pad_multiple

    def _coding_context(self):
        # encoder and decoder must agree bit for bit (determinism.py)
        return deterministic_threads()

    # ------------------------------------------------------------------------------ encode
    @torch.no_grad()
    def compress(self, img: ImageLike, quant_step: float = 1.0) -> bytes:
        """Code an image (PIL, HxWx3 uint8 array, float tensor in [0,1] or path) into bytes.

        ``quant_step`` scales the quantisation step of y (1 = as trained; > 1 fewer bytes, < 1
        more). It is snapped to the nearest of the header's steps ``2 ** (k / 8)``, 1/16 to 16,
        and written in the file, so decoding needs no argument (``latent_codec.py``).
        """
        step_index = container.quant_step_index(quant_step)
        x = to_tensor(img)
        height, width = x.shape[-2:]
        check_size(height, width, multiple=self.pad_multiple)  # the padded size is what we allocate
        x = pad_to_multiple(x, self.pad_multiple).to(self.device)
        with self._coding_context():
            latent, latent2 = self.model.encode_latents(x)
            out = self.model.codec.compress(latent, latent2, container.quant_step(step_index))
        streams = [out["strings"][0][0], out["strings"][1][0]]
        budget = container.max_stream_bytes(x.shape[-2] * x.shape[-1])
        if sum(map(len, streams)) > budget:  # never write a file that decoders refuse
            raise ValueError(f"the coded streams take {sum(map(len, streams))} bytes, above the format's "
                             f"budget of {budget} ({container.MAX_BITS_PER_PIXEL} bits per padded pixel)")
        header = Header(self.name, self.checkpoint_id, self.rate, int(height), int(width), step_index)
        return container.pack(header, streams)

    # ------------------------------------------------------------------------------ decode
    def read_header(self, data: bytes) -> tuple[Header, list[bytes]]:
        """Parse and check a file against this codec; raises :class:`DecodeError`."""
        header, streams = container.unpack(data)
        if header.model != self.name:
            raise DecodeError(f"the file was made by model '{header.model}', this codec is '{self.name}'")
        if header.checkpoint_id != self.checkpoint_id:
            raise DecodeError(
                f"the file was made with checkpoint {header.checkpoint_id.hex()} (rate {header.rate}), "
                f"this codec holds {self.checkpoint_id.hex()} (rate {self.rate}); load the matching rate"
            )
        if len(streams) != 2:
            raise DecodeError(f"expected 2 streams (y, z), the file has {len(streams)}")
        try:  # checked before anything is allocated for the declared size
            check_size(header.height, header.width, multiple=self.pad_multiple)
        except ImageError as err:
            raise DecodeError(f"declared image size refused: {err}") from None
        padded_h, padded_w = padded_size(header.height, header.width, self.pad_multiple)
        budget = container.max_stream_bytes(padded_h * padded_w)
        if sum(map(len, streams)) > budget:
            raise DecodeError(f"the streams take {sum(map(len, streams))} bytes, above the budget of {budget} "
                              f"for a {header.width}x{header.height} image "
                              f"({container.MAX_BITS_PER_PIXEL} bits per padded pixel)")
        return header, streams

    @torch.no_grad()
    def entropy_decode(self, data: bytes) -> tuple[Header, dict[str, torch.Tensor], float]:
        """Only the entropy decoding: ``(header, codec outputs, seconds)``; the outputs are
        ``mean`` (y_tilde), ``log_scale``, ``res`` and ``prompt`` at 1/32 of the padded image."""
        header, (y_string, z_string) = self.read_header(data)
        shape = (math.ceil(header.height / self.pad_multiple), math.ceil(header.width / self.pad_multiple))
        tic = time.perf_counter()
        with self._coding_context():
            try:
                codec_out = self.model.codec.decompress([[y_string], [z_string]], shape, header.quant_step)
            except (ValueError, RuntimeError, IndexError, OverflowError) as err:
                raise DecodeError(f"entropy decoding failed: {err}") from None
        codec_out = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in codec_out.items()}
        return header, codec_out, time.perf_counter() - tic

    @torch.no_grad()
    def decompress(
        self,
        data: bytes,
        steps: int = 1,
        return_intermediates: bool = False,
        pixelwise: bool = True,
        decoder: str = "fidelity",
        noise_seed: int = NOISE_SEED,
    ) -> Image.Image | tuple[Image.Image, dict[str, Any]]:
        """Decode bytes into a PIL image of the original size.

        ``steps`` Euler steps of the variance-guided flow (1 = the paper's one-step decode).
        With ``return_intermediates`` also return a dict with ``sigma`` (predicted std),
        ``t_map`` (pseudo-timestep map, 0..1000), ``y_tilde`` (decoded mean latent), ``y_hat``
        (latent after the flow and the residual), ``res``, ``tokens`` (latent condition),
        ``trajectory`` (latents after each step), ``timings`` (seconds per stage), ``bpp``,
        ``header`` and ``quant_step`` (the file's quantisation step of y).
        ``pixelwise=False`` uses the mean pseudo-timestep everywhere (ablation).
        ``decoder="realism"`` adds the texture the realism decoder draws (``realism.py``; the
        same bytes, deterministic: its noise is drawn with ``noise_seed``); ``"fidelity"`` is the default.
        """
        if not isinstance(steps, int) or steps < 1 or steps > 1000:
            raise ValueError(f"steps must be an integer in 1..1000, got {steps!r}")
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        if decoder == "realism" and self.realism is None:
            raise ValueError(f"'{self.name}' has no realism decoder (the tiny DiT-IC ships one: "
                             "ditic_lite.load('tiny'))")
        trajectory: list[torch.Tensor] = []
        header, codec_out, entropy_seconds = self.entropy_decode(data)
        with self._coding_context():
            rec = self.model.reconstruct(codec_out, steps=steps, pixelwise=pixelwise, trajectory=trajectory)
            if decoder == "realism":
                tic = time.perf_counter()
                noise = self.realism.noise_for(rec["image"], seed=noise_seed)
                rec["image"] = self.realism(rec["image"].float(), rec["y_hat"].float(), rec["sigma_map"].float(),
                                            noise)
                rec["timings"]["realism"] = time.perf_counter() - tic
        image = to_pil(rec["image"][..., : header.height, : header.width])
        if not return_intermediates:
            return image
        info = {
            "sigma": rec["std"], "t_map": 1000.0 * rec["sigma_map"], "y_tilde": codec_out["mean"],
            "y_hat": rec["y_hat"], "res": codec_out["res"], "tokens": rec["tokens"],
            "trajectory": trajectory, "timings": {"entropy": entropy_seconds, **rec["timings"]},
            "bpp": bits_per_pixel(len(data), header.height, header.width), "header": header,
            "quant_step": header.quant_step,
        }
        return image, info

    def roundtrip(
        self, img: ImageLike, steps: int = 1, quant_step: float = 1.0, **kwargs: Any,
    ) -> tuple[Image.Image, dict[str, Any]]:
        """Compress then decompress; returns the image and the intermediates (with ``bytes``)."""
        data = self.compress(img, quant_step=quant_step)
        image, info = self.decompress(data, steps=steps, return_intermediates=True, **kwargs)
        info["bytes"] = len(data)
        return image, info

    def __repr__(self) -> str:
        return f"Codec(name={self.name!r}, rate={self.rate}, rates={self.rates}, id={self.checkpoint_id.hex()})"
