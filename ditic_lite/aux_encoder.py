"""The auxiliary encoder: the analysis transform of ELIC (SPEC section 5).

DiT-IC codes the DC-AE latent (32 channels, /32) with the help of a second, frozen view of the
image: ELIC's analysis transform ``g_a`` (He et al., CVPR 2022) gives ``latent2`` with M channels
at /16. The latent codec downsamples it once (``g_a.pre2``) and concatenates it with the DC-AE
latent before its own analysis. Only ``g_a`` of ELIC is used; its synthesis, hyperprior and
entropy models are not part of DiT-IC. Explained in notebook ``04_bitrate_slider``.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .config import AuxEncoderConfig
from .layers import AttentionBlock, ResidualBottleneck, conv


class AuxEncoder(nn.Module):
    """ELIC ``g_a``: image in [0, 1] (3ch) -> ``latent2`` (M channels, /16).

    Layers of ``analysis_transform`` (official N = 192, M = 320)::

        0      conv 5x5 3->N s2          4  conv 5x5 N->N s2         9  conv 5x5 N->N s2
        1-3    ResidualBottleneck(N)     5-7 ResidualBottleneck(N)   10-12 ResidualBottleneck(N)
                                         8  AttentionBlock(N)        13 conv 5x5 N->M s2
                                                                     14 AttentionBlock(M)
    """

    def __init__(self, cfg: AuxEncoderConfig = AuxEncoderConfig()) -> None:
        super().__init__()
        n, m = cfg.N, cfg.M
        self.config = cfg
        self.analysis_transform = nn.Sequential(
            conv(3, n, 5, stride=2),
            *(ResidualBottleneck(n) for _ in range(3)),
            conv(n, n, 5, stride=2),
            *(ResidualBottleneck(n) for _ in range(3)),
            AttentionBlock(n),
            conv(n, n, 5, stride=2),
            *(ResidualBottleneck(n) for _ in range(3)),
            conv(n, m, 5, stride=2),
            AttentionBlock(m),
        )

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        """Image in [0, 1], 1x3xHxW (H, W multiples of 16) -> 1xMx(H/16)x(W/16)."""
        return self.analysis_transform(x01)
