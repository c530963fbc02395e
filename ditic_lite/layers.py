"""Building blocks of the latent codec and of the auxiliary encoder (SPEC sections 3 and 5).

Every block keeps the attribute names of the official release, so that a module made of them has
the ``state_dict()`` keys of the merged checkpoint (``tests/fixtures/official/state_dict_manifest.tsv``).
Explained in notebook ``04_bitrate_slider``.

The simplified attention block of the auxiliary (ELIC) encoder is compressai's own
:class:`compressai.layers.AttentionBlock`: its keys (``conv_a.<i>.conv.<j>``, ``conv_b.3``) are
the official ones, so it is re-exported here instead of being rewritten.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from compressai.layers import AttentionBlock

__all__ = [
    "AttentionBlock", "wsilu", "WSiLU", "WSiLUChunkAdd", "DepthConvBlock", "Downsample", "Upsample",
    "SubpelConv2x", "ResidualBlockWithStride2", "ResidualBlockUpsample2", "Adapter", "ContextAdapter",
    "ResidualBottleneck", "NamedSequential", "conv",
]


def conv(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """``conv kxk in->out sS`` of the SPEC: padding ``k // 2``, with bias."""
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, groups=groups)


def wsilu(x: torch.Tensor) -> torch.Tensor:
    """``WSiLU(x) = x * sigmoid(4x)`` (SPEC 3)."""
    return x * torch.sigmoid(4.0 * x)


class WSiLU(nn.Module):
    """Module form of :func:`wsilu`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return wsilu(x)


class WSiLUChunkAdd(nn.Module):
    """WSiLU, then the sum of the first and second channel halves: C in, C/2 out (SPEC 3)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = torch.chunk(wsilu(x), 2, dim=1)
        return first + second


class DepthConvBlock(nn.Module):
    """Depthwise-separable residual block (SPEC 3)::

        a = adaptor(x) if in != out else x
        t = dc(a) + a        dc:  1x1, WSiLU, depthwise 3x3, 1x1
        o = ffn(t) + t       ffn: 1x1 out->4out, WSiLUChunkAdd, 1x1 2out->out
        o = o + a            only if ``shortcut``
    """

    def __init__(self, in_ch: int, out_ch: int, shortcut: bool = False) -> None:
        super().__init__()
        self.adaptor = conv(in_ch, out_ch, 1) if in_ch != out_ch else None
        self.dc = nn.Sequential(
            conv(out_ch, out_ch, 1), WSiLU(), conv(out_ch, out_ch, 3, groups=out_ch),
            conv(out_ch, out_ch, 1),
        )
        self.ffn = nn.Sequential(conv(out_ch, 4 * out_ch, 1), WSiLUChunkAdd(), conv(2 * out_ch, out_ch, 1))
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.adaptor(x) if self.adaptor is not None else x
        t = self.dc(a) + a
        o = self.ffn(t) + t
        return o + a if self.shortcut else o


class Downsample(nn.Module):
    """Strided 3x3 convolution, /2 (SPEC 3; key ``down``, legacy alias ``branch1`` not kept)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.down = conv(in_ch, out_ch, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(x)


class Upsample(nn.Module):
    """x2: 3x3 conv, GELU, 1x1 conv to 4*out, PixelShuffle(2) (SPEC 3; key ``up``)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.up = nn.Sequential(
            conv(in_ch, in_ch, 3), nn.GELU(), conv(in_ch, 4 * out_ch, 1), nn.PixelShuffle(2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(x)


class SubpelConv2x(nn.Module):
    """x2 sub-pixel convolution: 1x1 conv to 4*out, PixelShuffle(2) (SPEC 3; key ``conv.0``)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(conv(in_ch, 4 * out_ch, 1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ResidualBlockWithStride2(nn.Module):
    """/2 by a 2x2 stride-2 conv (padding 0), then a DepthConvBlock with shortcut (SPEC 3)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(in_ch, out_ch, 2, stride=2)
        self.conv = DepthConvBlock(out_ch, out_ch, shortcut=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.down(x))


class ResidualBlockUpsample2(nn.Module):
    """x2 by SubpelConv2x, then a DepthConvBlock with shortcut (SPEC 3)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.up = SubpelConv2x(in_ch, out_ch)
        self.conv = DepthConvBlock(out_ch, out_ch, shortcut=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.up(x))


class Adapter(nn.Module):
    """Three 3x3 convs with GELUs, hidden width ``(in + out) // 2`` (SPEC 3; key ``branch1``)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        mid = (in_ch + out_ch) // 2
        self.branch1 = nn.Sequential(
            conv(in_ch, mid), nn.GELU(), conv(mid, mid), nn.GELU(), conv(mid, out_ch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.branch1(x)


class ContextAdapter(nn.Module):
    """The kit's lighter :class:`Adapter`: 1x1 in -> width, 3x3 at width, 1x1 width -> out (key ``branch1``).

    Its size grows linearly with ``in_ch`` and ``out_ch`` (``Adapter``'s grows with their square),
    so a wider y does not blow up the context model (``LatentCodecConfig.context_channels``).
    """

    def __init__(self, in_ch: int, out_ch: int, width: int) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(
            conv(in_ch, width, 1), nn.GELU(), conv(width, width), nn.GELU(), conv(width, out_ch, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.branch1(x)


class ResidualBottleneck(nn.Module):
    """ELIC residual bottleneck ``x + branch(x)``: 1x1 N->N/2, ReLU, 3x3, ReLU, 1x1 N/2->N (SPEC 5)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        half = n // 2
        self.branch = nn.Sequential(
            conv(n, half, 1), nn.ReLU(), conv(half, half, 3), nn.ReLU(), conv(half, n, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


class NamedSequential(nn.Module):
    """An ``nn.Sequential`` stored under a given attribute name.

    The official codec wraps its stacks in one-attribute modules (``h_a.reduction.<i>``,
    ``g_s.synthesis_transform.<i>``, ``g_c.block.<i>``, ...); this keeps those key names without
    one class per wrapper.
    """

    def __init__(self, name: str, *layers: nn.Module) -> None:
        super().__init__()
        self._stack_name = name
        self.add_module(name, nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self._stack_name)(x)
