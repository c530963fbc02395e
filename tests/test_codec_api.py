"""Public API on a random tiny model: any size round-trips, bit-exact, clear errors."""
import numpy as np
import pytest
import torch
from PIL import Image

from ditic_lite import DecodeError
from ditic_lite.codec import Codec


@pytest.fixture(scope="module")
def photo(sample_paths):
    return Image.open(sample_paths[0]).convert("RGB")


def test_round_trip_original_size_and_types(random_codec, photo):
    crop = photo.crop((0, 0, 300, 200))
    for img in (crop, np.asarray(crop), torch.from_numpy(np.array(crop)).permute(2, 0, 1).float() / 255):
        data = random_codec.compress(img)
        assert isinstance(data, bytes)
        out = random_codec.decompress(data)
        assert isinstance(out, Image.Image) and out.size == (300, 200) and out.mode == "RGB"


def test_same_bytes_for_same_input_and_repeatable_decode(random_codec, photo):
    a = random_codec.compress(photo)
    assert a == random_codec.compress(photo)
    assert np.array_equal(np.asarray(random_codec.decompress(a)), np.asarray(random_codec.decompress(a)))


def test_decode_is_thread_count_independent(random_codec, photo):
    data = random_codec.compress(photo)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = np.asarray(random_codec.decompress(data))
        torch.set_num_threads(2)
        two = np.asarray(random_codec.decompress(data))
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(one, two)


def test_intermediates(random_codec, photo):
    data = random_codec.compress(photo)
    img, info = random_codec.decompress(data, steps=2, return_intermediates=True)
    for key in ("sigma", "t_map", "y_tilde", "y_hat"):
        assert torch.is_tensor(info[key]) and info[key].shape[1] == 32
    assert info["sigma"].shape[-2:] == (512 // 32, 768 // 32)
    assert float(info["t_map"].min()) >= 0.4 * 999 * 0.99 and float(info["t_map"].max()) <= 1000
    assert len(info["trajectory"]) == 2 and set(info["timings"]) == {"entropy", "dit", "decoder"}
    assert info["bpp"] == pytest.approx(8 * len(data) / (512 * 768))


def test_steps_1_is_the_one_step_decode(random_codec, photo):
    data = random_codec.compress(photo)
    _, a = random_codec.decompress(data, steps=1, return_intermediates=True)
    m = random_codec.model
    codec_out = {"mean": a["y_tilde"], "res": a["res"]}
    sigma_map = a["t_map"] / 1000.0
    v = m.velocity(a["y_tilde"], torch.tensor([m.config.flow.timestep]), a["tokens"])
    torch.testing.assert_close(a["y_hat"], a["y_tilde"] - sigma_map * v + codec_out["res"], rtol=1e-5, atol=1e-5)


def test_wrong_checkpoint_and_model_are_refused(random_codec, photo):
    data = random_codec.compress(photo.crop((0, 0, 64, 64)))
    other = Codec(random_codec.model, "tiny", 1, [0, 1], b"otherid!")
    with pytest.raises(DecodeError, match="checkpoint"):
        other.decompress(data)
    with pytest.raises(DecodeError, match="model 'tiny'"):
        Codec(random_codec.model, "mse", 0, [0], b"testtest").decompress(data)
    with pytest.raises(ValueError, match="steps"):
        random_codec.decompress(data, steps=0)


def test_gradients_reach_only_trainable_parts(tiny_model):
    """With the DiT-IC codec stage's freezing, a latent-space loss reaches codec, prompter and the DiT's LoRA only."""
    from ditic_lite.training.setup import set_trainable

    model = tiny_model
    try:
        model.train()
        params = set_trainable(model, "codec")
        latent, latent2 = torch.randn(1, 32, 8, 8), torch.randn(1, 64, 16, 16)
        log_step = torch.zeros(model.config.codec.y_channels, requires_grad=True)
        out = model(latents=(latent, latent2), decode=False, log_step=log_step)
        loss = out["y_hat"].square().mean() + sum(l.log().mean() for l in out["likelihoods"].values())
        loss.backward()
        assert log_step.grad is not None and bool(log_step.grad.abs().sum() > 0)  # the rate point's steps learn
        for name, p in model.named_parameters():
            has_grad = p.grad is not None and bool(p.grad.abs().sum() > 0)
            if has_grad:
                assert p.requires_grad, name
                assert name.startswith(("codec.", "prompter.")) or "lora_" in name, name
        names = {n for n, p in model.named_parameters() if p.grad is not None}
        assert any("DiT" in n and "lora_B" in n for n in names)
        assert not any(n.startswith("vae.") for n in names)  # no pixels: neither encoder nor decoder
        assert not any(n.startswith(("vae.encoder", "aux_codec.")) for n in names)
        assert not any(n.startswith("DiT.") and "lora_" not in n for n in names)
        assert len(params) > 0
    finally:
        model.zero_grad(set_to_none=True)
        model.requires_grad_(False)
        model.eval()


def test_quant_step_is_written_in_the_file(random_codec, photo):
    crop = photo.crop((0, 0, 256, 256))
    coarse, trained, fine = (random_codec.compress(crop, quant_step=s) for s in (4.0, 1.0, 0.6))
    assert trained == random_codec.compress(crop)  # the default writes the version 1 file
    assert len(coarse) < len(trained) < len(fine)
    image, info = random_codec.decompress(fine, return_intermediates=True)
    assert info["quant_step"] == 2 ** (-6 / 8) and image.size == (256, 256)  # snapped to the grid
    assert image == random_codec.roundtrip(crop, quant_step=0.6)[0]
