"""Mechanisms 2 and 3: self-distillation alignment and latent-conditioned guidance.

**Self-distillation** (paper section 3.3; SPEC section 11). The one-step output ``y_hat`` should
land where the frozen autoencoder encoder puts the original image, ``y = E(x)``. A margin cosine
loss over the latent channels pulls it there without forcing exact equality:

    L_sd = w * mean_{n,r,c} ReLU(1 - m - cos_ch(y_hat, y))          (m = 0.5, w = 0.05)

**Latent-conditioned guidance** (paper section 3.4; SPEC section 6). The decoder has no text.
The prompter projects decoded codec features into the DiT's caption-embedding space; during
training a symmetric contrastive (CLIP-style) loss with a learnable temperature aligns the mean
of those tokens with the caption embedding of the same image and pushes it away from the other
images' captions in the batch:

    logits = exp(s) * norm(p_i) . norm(e_j);   L_cond = (CE(logits, i) + CE(logits^T, j)) / 2

Used in training only; no caption is needed to decode. Explained in notebook ``06``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def channel_cosine(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Cosine similarity across channels at each latent position: [N, C, H, W] -> [N, H, W]."""
    return F.cosine_similarity(a, b, dim=1, eps=eps)


def self_distillation_loss(
    y_hat: torch.Tensor, y_target: torch.Tensor, margin: float = 0.5, weight: float = 0.05
) -> torch.Tensor:
    """``weight * mean(ReLU(1 - margin - cos_ch(y_hat, y_target)))``; the target is detached."""
    cos = channel_cosine(y_hat, y_target.detach())
    return weight * F.relu(1.0 - margin - cos).mean()


class CaptionAlignment(nn.Module):
    """Symmetric contrastive loss between latent-condition tokens and caption embeddings.

    Holds only the learnable log inverse temperature (training-time state, not shipped).
    """

    def __init__(self, init_temperature: float = 0.07, max_logit_scale: float = 100.0) -> None:
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))
        self.max_logit_scale = max_logit_scale

    def logits(self, tokens: torch.Tensor, caption_embeddings: torch.Tensor) -> torch.Tensor:
        """[B, T, D] prompter tokens and [B, D] caption embeddings -> [B, B] similarity logits."""
        image = F.normalize(tokens.mean(dim=1), dim=-1)
        text = F.normalize(caption_embeddings, dim=-1)
        scale = self.logit_scale.exp().clamp(max=self.max_logit_scale)
        return scale * image @ text.t()

    def forward(self, tokens: torch.Tensor, caption_embeddings: torch.Tensor) -> torch.Tensor:
        logits = self.logits(tokens, caption_embeddings)
        target = torch.arange(logits.shape[0], device=logits.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def retrieval_accuracy(tokens: torch.Tensor, caption_embeddings: torch.Tensor) -> float:
    """Fraction of images whose own caption is the nearest (cosine) among all captions."""
    image = F.normalize(tokens.mean(dim=1), dim=-1)
    text = F.normalize(caption_embeddings, dim=-1)
    best = (image @ text.t()).argmax(dim=1)
    return float((best == torch.arange(len(best), device=best.device)).float().mean())
