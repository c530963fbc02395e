"""Per-image measurements behind the verdicts (``ditic_lite.evidence``), on the random tiny model."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from ditic_lite import claims, evidence, teaching
from ditic_lite.codec import Codec


@pytest.fixture(scope="module")
def photos(sample_paths) -> dict[str, Image.Image]:
    """Two 256x192 crops of sample photos (8x6 latent pixels each)."""
    return {p.stem: Image.open(p).convert("RGB").crop((200, 100, 456, 292)) for p in sample_paths[:2]}


def test_sigma_maps_and_evidence(random_codec, photos):
    name, photo = next(iter(photos.items()))
    _, info = random_codec.roundtrip(photo)
    maps = evidence.sigma_maps(random_codec, photo, info)
    assert set(maps) == {"log_sigma", "error", "saturated", "texture"}
    assert all(m.shape == (6, 8) for m in maps.values())
    sigma = info["sigma"][0, :, :6, :8]
    assert maps["log_sigma"] == pytest.approx(sigma.log().mean(0).numpy(), rel=1e-5)
    assert ((maps["saturated"] >= 0) & (maps["saturated"] <= 1)).all() and (maps["error"] >= 0).all()
    assert len(evidence.position_table(maps)) == 48
    table = evidence.sigma_evidence(random_codec, photos)
    assert list(table["image"]) == list(photos) and (table["positions"] == 48).all()
    assert table[["r_error", "r_texture"]].abs().le(1).all().all()
    assert np.isfinite(table[["ring_sigma", "ring_error", "ring_texture"]].to_numpy()).all()
    assert len(claims.variance_claims(table, evidence.timestep_ablation_images(random_codec, photos))) == 5


def test_ablations_per_image_use_the_same_bytes(random_codec, photos):
    abl = evidence.timestep_ablation_images(random_codec, photos)
    assert list(abl.columns) == ["image", "bytes", "t_std", "psnr_pixelwise", "psnr_global",
                                 "ms_ssim_pixelwise", "ms_ssim_global"]
    assert (abl["bytes"] == [len(random_codec.compress(p)) for p in photos.values()]).all()
    cond = evidence.condition_ablation_images(random_codec, photos, metrics=("psnr",))
    assert list(cond.columns) == ["image", "psnr_latent", "psnr_empty"] and len(cond) == 2


def test_compare_steps_images(random_codec, photos):
    recons, table = evidence.compare_steps_images(random_codec, photos, steps=[1, 2])
    assert set(recons) == set(photos) and set(recons[next(iter(photos))]) == {"DiT-IC, adapted", "base DiT, un-adapted"}
    assert len(table) == 8 and set(table["image"]) == set(photos)
    assert len(claims.steps_claims(table)) == 4


def test_base_dit_shares_the_adapted_decoder(tiny_model, photos):
    """LoRA off in the DiT only by default; ``base_decoder=True`` also switches the decoder's off."""
    model = copy.deepcopy(tiny_model)
    with torch.no_grad():
        for name, p in model.vae.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    codec = Codec(model=model, name="tiny", rate=0, rates=[0], checkpoint_id=b"vaelora0")
    data = codec.compress(next(iter(photos.values())))
    shared, _ = teaching.base_dit_decode(codec, data, steps=1, seed=1)
    own, _ = teaching.base_dit_decode(codec, data, steps=1, seed=1, base_decoder=True)
    assert not np.array_equal(np.asarray(shared), np.asarray(own))
    with model.lora_disabled(("DiT",)):
        from peft.tuners.tuners_utils import BaseTunerLayer
        vae_layers = [m for m in model.vae.modules() if isinstance(m, BaseTunerLayer)]
        assert vae_layers and all(not m.disable_adapters for m in vae_layers)
    with pytest.raises(ValueError, match="LoRA parts"):
        with model.lora_disabled(("decoder",)):
            pass


def test_border_excess_sees_a_ring_and_not_a_gradient():
    ring = np.zeros((6, 8))
    ring[[0, -1], :] = ring[:, [0, -1]] = 1.0
    assert evidence.border_excess(ring) > 1.5  # the ring is all of the map's spread
    ramp = np.tile(np.arange(8.0), (6, 1))  # a left-to-right gradient: the ring averages it out
    assert abs(evidence.border_excess(ramp)) < 0.05
    assert np.isnan(evidence.border_excess(np.ones((6, 8)))) and np.isnan(evidence.border_excess(np.ones((2, 8))))
