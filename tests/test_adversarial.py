"""The adversarial term of the pixel-space tune (ditic_lite/training/adversarial.py)."""
import torch

from ditic_lite.training.adversarial import (
    PatchDiscriminator, adaptive_weight, hinge_discriminator_loss, hinge_generator_loss,
)


def test_patch_discriminator_scores_patches():
    disc = PatchDiscriminator(width=8, groups=4)
    scores = disc(torch.rand(2, 3, 128, 96) * 2 - 1)
    assert scores.shape == (2, 1, 14, 10)  # three stride-2 layers, then two stride-1 4x4 convolutions
    scores.mean().backward()  # trainable end to end
    assert all(p.grad is not None for p in disc.parameters())


def test_hinge_losses():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0])
    # real: ReLU(1 - 2) = 0, ReLU(1 - 0.5) = 0.5 -> 0.25; fake: ReLU(1 - 3) = 0, ReLU(1 + 0) = 1 -> 0.5
    assert torch.isclose(hinge_discriminator_loss(real, fake), torch.tensor(0.75))
    assert torch.isclose(hinge_generator_loss(fake), torch.tensor(1.5))


def test_adaptive_weight_is_the_ratio_of_the_gradients_at_the_image():
    image = torch.tensor([[3.0, 4.0]], requires_grad=True)
    reconstruction = (image ** 2).sum()  # gradient 2x: norm 10
    generator = (0.5 * image).sum()  # gradient 0.5 per element: norm sqrt(0.5)
    weight = adaptive_weight(reconstruction, generator, image)
    assert torch.isclose(weight, torch.tensor(10 / (0.5 ** 0.5 + 1e-4)))
    assert not weight.requires_grad
    assert adaptive_weight((image ** 2).sum(), 0.0 * image.sum(), image, max_weight=7.0) == 7.0  # clamped
    (reconstruction + weight * generator).backward()  # both graphs are kept for the update
