"""The latent codec: hyperprior + four-step spatial/channel context model (SPEC section 4).

DiT-IC does not code the image; it codes the DC-AE latent (32 channels, /32) with help from the
auxiliary ELIC features (``latent2``, /16). Data flow (official widths; see
:class:`~ditic_lite.config.LatentCodecConfig` for the general ones)::

    y      = g_a(latent, latent2)                 320ch /64   (coded with a Gaussian model)
    z      = h_a(y)                               160ch /256  (coded with a factorised model)
    base_0 = h_s(z_hat)                           hyper features, 320ch /64
    for k in 0..3:                                four-step context model (SPEC 4.3)
        mu_k, sc_k = adapter_out[k](g_c(adapter_in[k](base_k)))   means, Gaussian scales
        yq_k  = round(y - mu_k) + mu_k            at the positions/channels of mask_k only
        yh_k  = yq_k + 0.5 tanh(LRP[k]([yq_k, base_k]) * mask_k)  latent residual prediction
        base_{k+1} = base_k (1 - mask_k) + yh_k
    y_hat = sum_k yh_k ;  latent_scales = sum_k sc_k mask_k
    mean = g_s(y_hat), log_scale = scale(latent_scales), res = aux(y_hat), prompt = prompt(y_hat)

Quantisation step ``quant_step`` (Delta, default 1; an argument of ``forward``, ``compress`` and
``decompress``, written in the file header by :class:`~ditic_lite.codec.Codec`): ``y - mu`` is
divided by Delta before rounding and the Gaussian scale before the table lookup,
``yq = round((y - mu) / Delta) * Delta + mu``, and the latent residual prediction is scaled by
Delta with them (it corrects at most half a bin). Delta < 1 spends more bits for a finer y,
Delta > 1 fewer: a rate lever without retraining (the idea of quantisation bin sizes as a rate
control, Choi et al., ICCV 2019). Delta = 1 is the trained coding, bit for bit.

Kit additions (``LatentCodecConfig``; off in the official layout): ``context_channels`` runs the
context model at a fixed width with :class:`~ditic_lite.layers.ContextAdapter` (size linear in y),
and ``channel_steps`` gives y a learned step per channel, ``Delta_c = quant_step * exp(log_step_c)``
(parameter ``log_step``, one vector per rate point: the rate points of one model differ only
there, a variable-rate model in the spirit of the gain vectors of Cui et al., CVPR 2021).

``mean`` is the coarse latent the DiT refines in one step, ``log_scale`` is a log-VARIANCE map
that sets the pixel-wise noise level of that step (``flow.py``), ``res`` is added after the step
and ``prompt`` feeds the prompter. Entropy coding is compressai 1.2.8 (``EntropyBottleneck``,
``GaussianConditional``, its rANS coder), so bitstreams are byte-identical to the official ones.

Determinism: everything after ``z_hat`` (hyper-synthesis, the four steps, the heads) runs inside
:func:`~ditic_lite.determinism.deterministic_threads` in eval forward, compress and decompress.
Float reductions in convolutions are summed in a different order with a different thread count,
and a single flipped rounding decision or scale index desynchronises the rANS stream; with one
thread the encoder's and decoder's entropy parameters (and the decoded maps) are bit-identical
on any CPU thread count. The encoder-only analysis (``g_a``, ``h_a``) keeps all threads.
Explained in notebook ``04_bitrate_slider``.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable

import torch
import torch.nn as nn
from compressai.ans import BufferedRansEncoder, RansDecoder
from compressai.entropy_models import EntropyBottleneck, GaussianConditional

from .checkpoints import ENTROPY_TABLE_BUFFERS
from .config import LatentCodecConfig
from .container import MAX_QUANT_STEP_INDEX, quant_step
from .determinism import deterministic_threads
from .layers import (
    Adapter, ContextAdapter, DepthConvBlock, Downsample, NamedSequential, ResidualBlockUpsample2,
    ResidualBlockWithStride2, Upsample, conv,
)

STEP_SHIFTS = (0, 3, 2, 1)
"""Step k codes, in channel group g, the positions of parity class ``g XOR STEP_SHIFTS[k]``."""

SCALE_TABLE_BOUNDS = (0.11, 256.0)
SCALE_TABLE_LEVELS = 64


def scale_table() -> torch.Tensor:
    """The 64 Gaussian scales ``exp(linspace(ln 0.11, ln 256, 64))`` in float32 (SPEC 4.1)."""
    lo, hi = SCALE_TABLE_BOUNDS
    return torch.exp(torch.linspace(math.log(lo), math.log(hi), SCALE_TABLE_LEVELS, dtype=torch.float32))


def context_masks(
    channels: int, height: int, width: int, device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The four 0/1 masks of the spatial/channel context model, shape [4, 1, C, h, w] (SPEC 4.2).

    Channels form four groups G0..G3; position (r, c) has parity class ``q = 2(r%2) + (c%2)``.
    ``mask[k]`` is 1 at (channel of G_g, position of class ``g XOR STEP_SHIFTS[k]``), so each
    (channel, position) is coded in exactly one step and, within a step, exactly one group is
    active at every position.
    """
    if channels % 4:
        raise ValueError(f"the channel count must be divisible by 4 groups, got {channels}")
    rows = torch.arange(height, device=device)[:, None] % 2
    cols = torch.arange(width, device=device)[None, :] % 2
    parity = 2 * rows + cols  # h x w
    group = torch.arange(4, device=device).repeat_interleave(channels // 4)  # C
    masks = [(parity[None] == (group ^ shift)[:, None, None]) for shift in STEP_SHIFTS]
    return torch.stack(masks)[:, None].to(dtype)


def squeeze(t: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, C, h, w] -> [B, C/4, h, w]: at each position, the channels of the active group."""
    b, c, h, w = t.shape
    return (t * mask).reshape(b, 4, c // 4, h, w).sum(dim=1)


def unsqueeze(s: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, C/4, h, w] -> [B, C, h, w]: back to the active group's channels, zero elsewhere."""
    return s.repeat(1, 4, 1, 1) * mask


QUANT_STEP_RANGE = (quant_step(-MAX_QUANT_STEP_INDEX), quant_step(MAX_QUANT_STEP_INDEX))
"""The quantisation steps a latent codec accepts: the range of the file header's steps (1/16 to 16)."""


def check_quant_step(step: float) -> float:
    """``step`` as a float if it is a usable quantisation step, else ``ValueError``."""
    lo, hi = QUANT_STEP_RANGE
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not lo <= step <= hi:
        raise ValueError(f"quant_step must be a number in [{lo}, {hi}], got {step!r}")
    return float(step)


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """Rounding with a straight-through (identity) gradient (SPEC 11)."""
    return x + (torch.round(x) - x).detach()


class LatentAnalysis(nn.Module):
    """``g_a``: concat[pre1(latent), pre2(latent2)] -> DCB x2 -> /2 -> DCB x2 = y (SPEC 4.1)."""

    def __init__(self, cfg: LatentCodecConfig) -> None:
        super().__init__()
        width = sum(cfg.pre_channels)
        self.pre1 = nn.Sequential(conv(cfg.latent_channels, cfg.pre_channels[0]))
        self.pre2 = nn.Sequential(Downsample(cfg.aux_channels, cfg.pre_channels[1]))
        self.analysis_transform = nn.Sequential(
            DepthConvBlock(width, width), DepthConvBlock(width, width),
            Downsample(width, cfg.y_channels),
            DepthConvBlock(cfg.y_channels, cfg.y_channels), DepthConvBlock(cfg.y_channels, cfg.y_channels),
        )

    def forward(self, latent: torch.Tensor, latent2: torch.Tensor) -> torch.Tensor:
        return self.analysis_transform(torch.cat([self.pre1(latent), self.pre2(latent2)], dim=1))


def _synthesis_head(y_ch: int, hidden_ch: int, out_ch: int, n_blocks: int, name: str) -> NamedSequential:
    """``n_blocks`` DepthConvBlocks, Upsample(y -> hidden), conv 3x3 hidden -> out (SPEC 4.1)."""
    return NamedSequential(
        name, *(DepthConvBlock(y_ch, y_ch) for _ in range(n_blocks)),
        Upsample(y_ch, hidden_ch), conv(hidden_ch, out_ch),
    )


StepCoder = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""``code(mask, mu_sq, sc_sq) -> yq_sq``: quantise/code one step on the squeezed tensors."""


class LatentCodec(nn.Module):
    """The DiT-IC latent codec; submodule names are the official checkpoint keys (SPEC 4.1).

    ``max_latent_positions`` bounds ``zh * zw`` (hyper-latent positions, one per 256x256 pixels)
    accepted by :meth:`decompress`, so a corrupt shape is refused before anything is allocated.
    """

    def __init__(self, cfg: LatentCodecConfig = LatentCodecConfig(), max_latent_positions: int = 1024) -> None:
        super().__init__()
        if cfg.y_channels % 4:
            raise ValueError(f"y_channels must be divisible by 4 (four groups), got {cfg.y_channels}")
        self.config = cfg
        self.max_latent_positions = max_latent_positions
        y, z, lat = cfg.y_channels, cfg.z_channels, cfg.latent_channels
        # definition order = key order of the official checkpoint
        self.g_a = LatentAnalysis(cfg)
        self.g_s = _synthesis_head(y, y, lat, 3, "synthesis_transform")
        self.scale = _synthesis_head(y, cfg.scale_hidden_channels, lat, 3, "synthesis_transform")
        self.prompt = _synthesis_head(y, y, cfg.prompt_channels, 3, "synthesis_transform")
        self.h_a = NamedSequential(
            "reduction", DepthConvBlock(y, y), DepthConvBlock(y, z),
            ResidualBlockWithStride2(z, z), ResidualBlockWithStride2(z, z),
        )
        self.h_s = NamedSequential(
            "increase", ResidualBlockUpsample2(z, z), ResidualBlockUpsample2(z, z),
            DepthConvBlock(z, y), DepthConvBlock(y, y),
        )
        self.aux = _synthesis_head(y, y, lat, 2, "block")
        ctx = cfg.context_channels
        if ctx is None:  # the official context model, at width 2y
            def adapter(i: int, o: int) -> nn.Module:
                return Adapter(i, o)
            ctx = 2 * y
        else:
            def adapter(i: int, o: int) -> nn.Module:
                return ContextAdapter(i, o, cfg.context_channels)
        self.adapter_in = nn.ModuleList(adapter(y, ctx) for _ in range(4))
        self.g_c = NamedSequential("block", *(DepthConvBlock(ctx, ctx) for _ in range(3)), conv(ctx, ctx, 1))
        self.adapter_out = nn.ModuleList(adapter(ctx, 2 * y) for _ in range(4))
        self.LRP = nn.ModuleList(NamedSequential("block", adapter(2 * y, y)) for _ in range(4))
        self.entropy_bottleneck = EntropyBottleneck(z)
        self.gaussian_conditional = GaussianConditional(None)
        if cfg.channel_steps:  # log of the quantisation step of each y channel (this rate point's)
            self.log_step = nn.Parameter(torch.zeros(y))

    # ------------------------------------------------------------------ entropy tables
    def update(self, force: bool = False) -> bool:
        """Set the scale table and (re)compute both rANS tables (compressai ``update`` semantics).

        Returns True if anything was recomputed (always with ``force=True``).
        """
        device = self.entropy_bottleneck.quantiles.device
        for name in ENTROPY_TABLE_BUFFERS:  # tables left on another device (e.g. meta) start afresh
            module_name, buffer_name = name.split(".")
            module = getattr(self, module_name)
            old = getattr(module, buffer_name)
            if old.device != device:
                setattr(module, buffer_name, torch.empty(0, dtype=old.dtype, device=device))
        with deterministic_threads():
            updated = self.gaussian_conditional.update_scale_table(scale_table(), force=force)
            updated |= self.entropy_bottleneck.update(force=force)
        return bool(updated)

    def aux_loss(self) -> torch.Tensor:
        """The bottleneck's quantile loss (trained with its own optimiser; SPEC 11)."""
        return self.entropy_bottleneck.loss()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: D401
        # The rANS table buffers start empty and their size depends on the trained quantiles:
        # resize them to the incoming tensors before the regular (strict) copy.
        for name in ENTROPY_TABLE_BUFFERS:
            key = prefix + name
            if key in state_dict:
                module_name, buffer_name = name.split(".")
                module = getattr(self, module_name)
                old = getattr(module, buffer_name)
                setattr(module, buffer_name, torch.empty_like(state_dict[key], device=old.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ shared pieces
    def channel_step(self, quant_step: float, log_step: torch.Tensor | None = None) -> float | torch.Tensor:
        """The quantisation step of y: ``quant_step`` alone (a float), or with per-channel steps
        ``quant_step * exp(log_step)`` as a [1, C, 1, 1] tensor (``log_step``: this model's, or a
        given one while training several rate points)."""
        step = check_quant_step(quant_step)
        if not self.config.channel_steps:
            return step
        log_step = self.log_step if log_step is None else log_step
        return (step * torch.exp(log_step)).reshape(1, -1, 1, 1)

    def _z_medians(self) -> torch.Tensor:
        return self.entropy_bottleneck.quantiles[:, 0, 1].detach().reshape(1, -1, 1, 1)

    def _context_model(
        self, base: torch.Tensor, code: StepCoder, quant_step: float | torch.Tensor = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The four steps of SPEC 4.3; ``code`` turns squeezed (means, scales) into squeezed ``yq``.

        Identical for forward, compress and decompress: only ``code`` differs (round the known
        y, write its symbols, or read them). The residual prediction is scaled by ``quant_step``
        (a float, or per channel: :meth:`channel_step`). Returns ``(y_hat, latent_scales)``.
        """
        c = self.config.y_channels
        masks = context_masks(c, base.shape[-2], base.shape[-1], base.device, base.dtype)
        y_hat = torch.zeros_like(base)
        latent_scales = torch.zeros_like(base)
        for k in range(4):
            mask = masks[k]
            params = self.adapter_out[k](self.g_c(self.adapter_in[k](base)))
            mu, sc = params[:, :c], params[:, c:]
            yq = unsqueeze(code(mask, squeeze(mu, mask), squeeze(sc, mask)), mask)
            yh = yq + 0.5 * quant_step * torch.tanh(self.LRP[k](torch.cat([yq, base], dim=1)) * mask)
            base = base * (1 - mask) + yh
            y_hat = y_hat + yh
            latent_scales = latent_scales + sc * mask
        return y_hat, latent_scales

    def _heads(self, y_hat: torch.Tensor, latent_scales: torch.Tensor) -> dict[str, torch.Tensor]:
        """The four synthesis heads of SPEC 4.4 (``log_scale`` comes from the raw scales)."""
        return {
            "mean": self.g_s(y_hat),
            "log_scale": self.scale(latent_scales),
            "res": self.aux(y_hat),
            "prompt": self.prompt(y_hat),
            "y_hat": y_hat,
        }

    def _check_inputs(self, latent: torch.Tensor, latent2: torch.Tensor) -> None:
        cfg = self.config
        if latent.ndim != 4 or latent.shape[1] != cfg.latent_channels:
            raise ValueError(f"latent must be Bx{cfg.latent_channels}xHxW, got {tuple(latent.shape)}")
        h, w = latent.shape[-2:]
        if h % 8 or w % 8:
            raise ValueError(f"latent sides must be multiples of 8 (image multiples of 256), got {h}x{w}")
        expected = (latent.shape[0], cfg.aux_channels, 2 * h, 2 * w)
        if tuple(latent2.shape) != expected:
            raise ValueError(f"latent2 must have shape {expected}, got {tuple(latent2.shape)}")

    # ------------------------------------------------------------------ forward
    def forward(self, latent: torch.Tensor, latent2: torch.Tensor, quant_step: float = 1.0,
                log_step: torch.Tensor | None = None) -> dict:
        """Codec pass without bitstream: outputs, ``y`` and likelihoods (SPEC 4.3-4.5, 11).

        Eval mode rounds exactly as compress/decompress do, and its outputs are bit-identical to
        :meth:`decompress` whatever the thread counts. Train mode uses additive uniform noise
        for the likelihoods and straight-through rounding for the values. ``log_step`` replaces
        the model's per-channel steps (training several rate points; ``channel_steps`` only).
        """
        self._check_inputs(latent, latent2)
        step = self.channel_step(quant_step, log_step)
        training = self.training
        y = self.g_a(latent, latent2)
        z = self.h_a(y)
        if training:
            _, z_likelihoods = self.entropy_bottleneck(z, training=True)
            medians = self._z_medians()
            z_hat = ste_round(z - medians) + medians
        else:
            z_hat, z_likelihoods = self.entropy_bottleneck(z, training=False)
        y_likelihoods = torch.zeros_like(y)

        def code(mask: torch.Tensor, mu: torch.Tensor, sc: torch.Tensor) -> torch.Tensor:
            nonlocal y_likelihoods
            y_sq = squeeze(y, mask)
            if _is_unit(step):  # the trained coding, float for float
                yq, likelihood = self.gaussian_conditional(y_sq, sc, means=mu, training=training)
            else:  # likelihood of a bin of width Delta = that of a unit bin in units of Delta
                delta = _squeezed_step(step, mask)
                yq, likelihood = self.gaussian_conditional((y_sq - mu) / delta, sc / delta, training=training)
                yq = yq * delta + mu
                if training:
                    yq = ste_round((y_sq - mu) / delta) * delta + mu
            if training and _is_unit(step):
                yq = ste_round(y_sq - mu) + mu
            y_likelihoods = y_likelihoods + unsqueeze(likelihood, mask)
            return yq

        with contextlib.nullcontext() if training else deterministic_threads():
            y_hat, latent_scales = self._context_model(self.h_s(z_hat), code, step)
            out = self._heads(y_hat, latent_scales)
        out.update(y=y, likelihoods={"y": y_likelihoods, "z": z_likelihoods})
        return out

    # ------------------------------------------------------------------ bitstream
    @torch.no_grad()
    def compress(self, latent: torch.Tensor, latent2: torch.Tensor, quant_step: float = 1.0) -> dict:
        """Code one latent pair: ``{"strings": [[y_bytes], [z_bytes]], "shape": (zh, zw)}`` (SPEC 4.7).

        The y symbols of the four steps are written, in order, into ONE rANS stream; within a
        step in C order of the squeezed tensor (channel, row, column). The decoder must be
        given the same ``quant_step``.
        """
        self._check_inputs(latent, latent2)
        step = self.channel_step(quant_step)
        if latent.shape[0] != 1:
            raise ValueError(f"compress codes one image at a time, got a batch of {latent.shape[0]}")
        y = self.g_a(latent, latent2)
        z = self.h_a(y)
        z_strings = self.entropy_bottleneck.compress(z)
        shape = (int(z.shape[-2]), int(z.shape[-1]))
        z_hat = self.entropy_bottleneck.decompress(z_strings, shape)
        gc = self.gaussian_conditional
        symbols: list[int] = []
        indexes: list[int] = []

        def code(mask: torch.Tensor, mu: torch.Tensor, sc: torch.Tensor) -> torch.Tensor:
            delta = _squeezed_step(step, mask)
            q = gc.quantize((squeeze(y, mask) - mu) / delta, "symbols")
            symbols.extend(q.reshape(-1).tolist())
            indexes.extend(gc.build_indexes(sc / delta).reshape(-1).tolist())
            return self._dequantize(q, mu, delta)

        with deterministic_threads():
            self._context_model(self.h_s(z_hat), code, step)
        encoder = BufferedRansEncoder()
        encoder.encode_with_indexes(symbols, indexes, *self._gaussian_tables())
        return {"strings": [[encoder.flush()], z_strings], "shape": shape}

    @torch.no_grad()
    def decompress(
        self, strings: list, shape: tuple[int, int], quant_step: float = 1.0,
    ) -> dict[str, torch.Tensor]:
        """Decode ``compress`` output: dict of ``mean, log_scale, res, prompt, y_hat`` (SPEC 4.8).

        Malformed input raises ``ValueError``; corrupted strings decode to garbage values rather
        than crashing (the rANS decoder reads a zero-padded copy, see :func:`_guarded`).
        """
        y_string, z_string, (zh, zw) = self._check_strings(strings, shape)
        step = self.channel_step(quant_step)
        gc, device = self.gaussian_conditional, self.entropy_bottleneck.quantiles.device
        z_string = _guarded(z_string, self.config.z_channels * zh * zw)
        z_hat = self.entropy_bottleneck.decompress([z_string], (zh, zw)).to(device)
        decoder = RansDecoder()
        decoder.set_stream(_guarded(y_string, self.config.y_channels * 16 * zh * zw))
        cdf, cdf_lengths, offsets = self._gaussian_tables()

        def code(mask: torch.Tensor, mu: torch.Tensor, sc: torch.Tensor) -> torch.Tensor:
            delta = _squeezed_step(step, mask)
            indexes = gc.build_indexes(sc / delta).reshape(-1).tolist()
            values = decoder.decode_stream(indexes, cdf, cdf_lengths, offsets)
            q = torch.tensor(values, dtype=torch.int32, device=mu.device).reshape(mu.shape)
            return self._dequantize(q, mu, delta)

        with deterministic_threads():
            y_hat, latent_scales = self._context_model(self.h_s(z_hat), code, step)
            return self._heads(y_hat, latent_scales)

    def _dequantize(self, symbols: torch.Tensor, mu: torch.Tensor, step: float | torch.Tensor) -> torch.Tensor:
        """Integer symbols -> y values: ``symbols * Delta + mu`` (compressai's at Delta = 1)."""
        if _is_unit(step):
            return self.gaussian_conditional.dequantize(symbols, mu)
        return symbols.to(mu.dtype) * step + mu

    def _gaussian_tables(self) -> tuple[list, list, list]:
        """The rANS tables of the Gaussian model as lists: CDF rows, CDF lengths, offsets."""
        gc = self.gaussian_conditional
        return gc.quantized_cdf.tolist(), gc.cdf_length.reshape(-1).tolist(), gc.offset.reshape(-1).tolist()

    def _check_strings(self, strings: list, shape: tuple[int, int]) -> tuple[bytes, bytes, tuple[int, int]]:
        """Validate ``decompress`` arguments before anything is allocated."""
        tables = (self.gaussian_conditional.quantized_cdf, self.entropy_bottleneck.quantized_cdf)
        if any(t.numel() == 0 for t in tables):
            raise ValueError("the entropy tables are empty: call codec.update(force=True) first")
        ok = isinstance(strings, (list, tuple)) and len(strings) == 2 and all(
            isinstance(s, (list, tuple)) and len(s) == 1 and isinstance(s[0], (bytes, bytearray)) for s in strings
        )
        if not ok:
            raise ValueError("strings must be [[y_bytes], [z_bytes]] (one image)")
        try:
            zh, zw = (int(v) for v in shape)
        except (TypeError, ValueError):
            raise ValueError(f"shape must be two integers (zh, zw), got {shape!r}") from None
        if zh <= 0 or zw <= 0:
            raise ValueError(f"impossible hyper-latent shape {zh}x{zw}: both sides must be positive")
        if zh * zw > self.max_latent_positions:
            raise ValueError(
                f"hyper-latent shape {zh}x{zw} ({zh * 256}x{zw * 256} pixels) exceeds the limit of "
                f"{self.max_latent_positions} positions (codec.max_latent_positions)"
            )
        return bytes(strings[0][0]), bytes(strings[1][0]), (zh, zw)


def _is_unit(step: float | torch.Tensor) -> bool:
    """Whether ``step`` is the plain unit step (a float 1), coded exactly as trained without steps."""
    return not torch.is_tensor(step) and step == 1.0


def _squeezed_step(step: float | torch.Tensor, mask: torch.Tensor) -> float | torch.Tensor:
    """The step at the squeezed positions of ``mask``: a float as it is, per-channel steps squeezed."""
    if not torch.is_tensor(step):
        return step
    return squeeze(step.expand(1, -1, *mask.shape[-2:]), mask)


def _guarded(string: bytes, n_symbols: int) -> bytes:
    """A zero-padded copy of a rANS string, so that decoding a corrupt string cannot read past it.

    compressai's decoder does not check bounds: each decoded symbol may read 4 bytes, and an
    escape (bypass) symbol reads as many 4-bit chunks as the stream announces. Valid streams never
    read past their end, so padding changes nothing for them; for corrupt ones it turns a read
    beyond the buffer into a read of zeros (zero chunks end every bypass run).
    """
    return bytes(string) + bytes(16 * len(string) + 8 * n_symbols + 4096)
