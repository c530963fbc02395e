"""Latent-conditioned guidance: the prompter (paper section 3.4; SPEC section 6).

The decoder has no text prompt. The prompter turns the codec's decoded ``prompt`` feature map
(320 channels, /32) into a sequence of tokens in the DiT's caption-embedding space (2304 wide,
the Gemma-2 width SANA was trained with)::

    P     = prompt reshaped to [B, C, L], L = h*w positions in row-major order
    tok_i = mean(P[:, :, s_i:e_i]),  s_i = floor(i L / F), e_i = ceil((i+1) L / F),  i < F
    X     = [tok_0 .. tok_{F-1}, pattern_0 .. pattern_{T-F-1}]           # [B, T, C]
    out   = align(X) = Linear, SiLU, Linear, SiLU, Linear                 # [B, T, D]

with F = ``fixed_tokens`` (48) pooled tokens followed by T - F (29) learned tokens, T =
``num_tokens`` (77). The pooling windows are exactly those of adaptive average pooling, so
``torch.nn.functional.adaptive_avg_pool1d`` computes them. Explained in notebook ``06_alignment_mechanisms``.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import PrompterConfig


class Prompter(nn.Module):
    """Decoded prompt map [B, C, h, w] -> caption-space tokens [B, num_tokens, embed_dim]."""

    def __init__(self, cfg: PrompterConfig = PrompterConfig()) -> None:
        super().__init__()
        if not 0 < cfg.fixed_tokens <= cfg.num_tokens:
            raise ValueError(f"need 0 < fixed_tokens <= num_tokens, got {cfg.fixed_tokens}, {cfg.num_tokens}")
        self.config = cfg
        c, d = cfg.in_channels, cfg.embed_dim
        self.pattern = nn.Parameter(torch.zeros(1, cfg.num_tokens - cfg.fixed_tokens, c))
        nn.init.normal_(self.pattern, std=0.02)
        self.align = nn.Sequential(nn.Linear(c, d), nn.SiLU(), nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))

    def pool(self, prompt: torch.Tensor) -> torch.Tensor:
        """The ``fixed_tokens`` pooled tokens [B, F, C] (adaptive average pooling of positions)."""
        b, c = prompt.shape[:2]
        pooled = F.adaptive_avg_pool1d(prompt.reshape(b, c, -1), self.config.fixed_tokens)
        return pooled.transpose(1, 2)

    def forward(self, prompt: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.pool(prompt), self.pattern.expand(prompt.shape[0], -1, -1)], dim=1)
        return self.align(x)
