"""The adversarial term of DiT-IC's second training stage (SPEC section 11), for the tiny tier.

The release trains 50 k steps with a hinge-loss 3-layer PatchGAN after its first stage; the
generator's term is weighted adaptively so that its gradient stays a fixed fraction of the
reconstruction's. The kit's version, used by the pixel-space tune (``ditic-lite train tune``):

* :class:`PatchDiscriminator`: strided 4x4 convolutions that score overlapping patches of an
  image in [-1, 1] (the PatchGAN layout); GroupNorm instead of the release's BatchNorm, because a
  CPU batch holds two crops and batch statistics of two crops are noise;
* :func:`hinge_discriminator_loss` and :func:`hinge_generator_loss`;
* :func:`adaptive_weight`: ``|dL_rec/dx| / (|dL_gen/dx| + 1e-4)``, clamped, with the gradients
  taken at the decoded image ``x`` (the release takes them at its last convolution's weight; the
  tiny decoder's last convolution is frozen, only its LoRA learns).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class PatchDiscriminator(nn.Module):
    """Scores overlapping patches of an image in [-1, 1]: ``(N, 3, H, W) -> (N, 1, ~H/8, ~W/8)``.

    ``layers`` strided convolutions double the width from ``width`` (the PatchGAN of SPEC section
    11 has three), then one stride-1 convolution and a 1-channel output; the convolutions of each
    score see a 70x70-pixel window with three layers (GroupNorm shares statistics over the image).
    """

    def __init__(self, width: int = 32, layers: int = 3, groups: int = 8) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv2d(3, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        channels = width
        for i in range(1, layers + 1):
            out = width * 2 ** min(i, 3)
            stride = 2 if i < layers else 1
            blocks += [nn.Conv2d(channels, out, 4, stride=stride, padding=1, bias=False),
                       nn.GroupNorm(groups, out), nn.LeakyReLU(0.2)]
            channels = out
        blocks.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*blocks)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)


def hinge_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``mean(ReLU(1 - D(x))) + mean(ReLU(1 + D(x_hat)))``: real patches above +1, decoded below -1."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """``-mean(D(x_hat))``: the decoder side pushes its patches' scores up."""
    return -fake_scores.mean()


def adaptive_weight(reconstruction: torch.Tensor, generator: torch.Tensor, image: torch.Tensor,
                    max_weight: float = 1e4) -> torch.Tensor:
    """``clamp(|grad_x L_rec| / (|grad_x L_gen| + 1e-4), 0, max_weight)``, detached.

    ``image`` is the decoded image both losses depend on (it must be part of both graphs, which
    are kept for the backward pass that follows).
    """
    g_rec = torch.autograd.grad(reconstruction, image, retain_graph=True)[0]
    g_gen = torch.autograd.grad(generator, image, retain_graph=True)[0]
    return (g_rec.norm() / (g_gen.norm() + 1e-4)).clamp(0.0, max_weight).detach()
