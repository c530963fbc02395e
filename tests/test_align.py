"""Mechanisms 2 and 3: self-distillation and latent-conditioned guidance losses."""
import math

import torch

from ditic_lite.align import CaptionAlignment, channel_cosine, retrieval_accuracy, self_distillation_loss


def test_self_distillation_margin():
    y = torch.randn(2, 32, 4, 4)
    assert float(self_distillation_loss(y, y)) == 0.0           # identical: cos 1
    assert float(self_distillation_loss(y, 3 * y)) == 0.0       # scale does not matter
    # cos = 0 everywhere -> relu(1 - 0.5 - 0) = 0.5 -> weighted 0.025
    a = torch.zeros(1, 2, 3, 3); a[:, 0] = 1
    b = torch.zeros(1, 2, 3, 3); b[:, 1] = 1
    torch.testing.assert_close(self_distillation_loss(a, b), torch.tensor(0.05 * 0.5))
    # opposite: cos = -1 -> 1.5 * 0.05
    torch.testing.assert_close(self_distillation_loss(a, -a), torch.tensor(0.05 * 1.5))
    # inside the margin (cos > 0.5) the loss is zero
    c = a.clone(); c[:, 1] = 0.5  # cos = 1/sqrt(1.25) = 0.894
    assert float(self_distillation_loss(c, a)) == 0.0


def test_distillation_gradient_only_to_prediction():
    pred = torch.randn(1, 4, 2, 2, requires_grad=True)
    target = torch.randn(1, 4, 2, 2, requires_grad=True)
    self_distillation_loss(pred, -pred.detach() + 0.1 * target).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert target.grad is None


def test_channel_cosine_shape():
    assert channel_cosine(torch.randn(2, 8, 3, 5), torch.randn(2, 8, 3, 5)).shape == (2, 3, 5)


def test_contrastive_loss_prefers_matching_pairs():
    torch.manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(6, 16), dim=-1)
    align = CaptionAlignment(init_temperature=0.07)
    matched = emb[:, None, :].repeat(1, 5, 1)
    shuffled = emb[torch.tensor([1, 2, 3, 4, 5, 0])][:, None, :].repeat(1, 5, 1)
    assert float(align(matched, emb).detach()) < float(align(shuffled, emb).detach())
    assert retrieval_accuracy(matched, emb) == 1.0
    assert retrieval_accuracy(shuffled, emb) == 0.0
    torch.testing.assert_close(align.logit_scale.exp(), torch.tensor(1 / 0.07))
    # symmetric: the loss is the mean of both directions
    logits = align.logits(matched, emb)
    t = torch.arange(6)
    want = 0.5 * (torch.nn.functional.cross_entropy(logits, t) + torch.nn.functional.cross_entropy(logits.t(), t))
    torch.testing.assert_close(align(matched, emb), want)


def test_temperature_is_learnable():
    align = CaptionAlignment()
    tokens = torch.randn(4, 3, 8, requires_grad=True)
    align(tokens, torch.randn(4, 8)).backward()
    assert align.logit_scale.grad is not None and math.isfinite(float(align.logit_scale.grad))
