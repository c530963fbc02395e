"""Latent codec (SPEC sections 3-4): official goldens, bitstream bytes, determinism, robustness.

The official-width codec is filled with the reference ``fill.py`` (values from key names) and
checked against the goldens of ``tests/fixtures/official``: rANS tables, masks, forward outputs,
the exact y/z bytes of ``compress`` and ``decompress`` of those bytes.
"""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from ditic_lite.config import LatentCodecConfig
from ditic_lite.latent_codec import LatentCodec, context_masks, squeeze, unsqueeze
from ditic_lite.layers import DepthConvBlock, SubpelConv2x, Upsample
from official_helpers import ATOL, GOLDENS, RTOL, fast_fill_, manifest_rows, shape_str

SMALL = LatentCodecConfig(latent_channels=8, aux_channels=16, pre_channels=(8, 8), y_channels=16,
                          z_channels=8, prompt_channels=12, scale_hidden_channels=8)


@pytest.fixture(scope="module")
def codec() -> LatentCodec:
    """Official-width codec filled as in the goldens: fill, update(force=True), eval."""
    model = LatentCodec()
    fast_fill_(model, prefix="codec.")
    model.update(force=True)
    return model.eval()


@pytest.fixture(scope="module")
def bitstream(codec):
    g = load_file(GOLDENS / "latent_codec_bitstream.safetensors")
    return g, codec.compress(g["latent"], g["latent2"])


def random_small_codec(seed: int = 0) -> LatentCodec:
    torch.manual_seed(seed)
    model = LatentCodec(SMALL)
    model.update(force=True)
    return model.eval()


def small_inputs(seed: int = 1, size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    latent = 3 * torch.randn(1, SMALL.latent_channels, size, size, generator=g)
    latent2 = torch.randn(1, SMALL.aux_channels, 2 * size, 2 * size, generator=g)
    return latent, latent2


# ------------------------------------------------------------------------------------ blocks
def test_blocks_shapes_and_pixel_shuffle_order():
    x = torch.randn(1, 6, 5, 7)
    assert DepthConvBlock(6, 10)(x).shape == (1, 10, 5, 7)
    assert Upsample(6, 4)(x).shape == (1, 4, 10, 14)
    sub = SubpelConv2x(8, 2)  # 1x1 conv 8 -> 8 made the identity, then PixelShuffle(2)
    torch.nn.init.dirac_(sub.conv[0].weight)
    torch.nn.init.zeros_(sub.conv[0].bias)
    x8 = torch.randn(1, 8, 3, 3)
    out = sub(x8)  # SPEC 3: out[c, 2i+a, 2j+b] = in[4c + 2a + b, i, j]
    for c, a, b in [(0, 0, 1), (1, 1, 0), (1, 1, 1)]:
        torch.testing.assert_close(out[0, c, a::2, b::2], x8[0, 4 * c + 2 * a + b])


def test_masks_partition_and_golden():
    masks = context_masks(320, 4, 4)
    golden = load_file(GOLDENS / "latent_codec_internals.safetensors")["masks"]
    assert torch.equal(masks, golden)
    assert torch.equal(masks.sum(0), torch.ones(1, 320, 4, 4))  # every element coded once
    for k in range(4):  # one active group per position in each step
        assert torch.equal(masks[k].reshape(4, 80, 4, 4).sum(0), torch.ones(80, 4, 4))
    t = torch.randn(1, 320, 4, 4)
    assert torch.equal(sum(unsqueeze(squeeze(t, m), m) for m in masks), t)


def test_state_dict_matches_manifest(codec):
    rows = manifest_rows("codec.")
    sd = codec.state_dict()
    assert list(sd) == [r["key"][len("codec."):] for r in rows]
    for r in rows:
        t = sd[r["key"][len("codec."):]]
        assert (shape_str(t), str(t.dtype)) == (r["shape"], "torch." + r["dtype"]), r["key"]


def test_rejects_bad_config():
    with pytest.raises(ValueError, match="divisible by 4"):
        LatentCodec(LatentCodecConfig(y_channels=30))


# ------------------------------------------------------------------------------------ goldens
def test_entropy_tables_golden(codec):
    g = load_file(GOLDENS / "entropy_tables.safetensors")
    eb, gc = codec.entropy_bottleneck, codec.gaussian_conditional
    pairs = {"gc_scale_table": gc.scale_table, "gc_quantized_cdf": gc._quantized_cdf,
             "gc_offset": gc._offset, "gc_cdf_length": gc._cdf_length, "eb_quantiles": eb.quantiles,
             "eb_quantized_cdf": eb._quantized_cdf, "eb_offset": eb._offset, "eb_cdf_length": eb._cdf_length}
    for name, mine in pairs.items():
        assert torch.equal(mine.detach(), g[name]), name


def test_forward_golden(codec):
    g = load_file(GOLDENS / "latent_codec_forward.safetensors")
    with torch.no_grad():
        out = codec(g["latent"], g["latent2"])
    pairs = {"mean": out["mean"], "scale": out["log_scale"], "res": out["res"], "prompt": out["prompt"],
             "likelihoods_y": out["likelihoods"]["y"], "likelihoods_z": out["likelihoods"]["z"]}
    for name, mine in pairs.items():
        torch.testing.assert_close(mine, g[name], atol=ATOL, rtol=RTOL, msg=name)
    internals = load_file(GOLDENS / "latent_codec_internals.safetensors")
    torch.testing.assert_close(out["y"], internals["y"], atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(out["y_hat"], internals["y_hat"], atol=ATOL, rtol=RTOL)


def test_compress_bytes_golden(bitstream):
    _, out = bitstream
    assert out["shape"] == (1, 1)
    assert out["strings"][0][0] == (GOLDENS / "latent_codec_bitstream.y.bin").read_bytes()
    assert out["strings"][1][0] == (GOLDENS / "latent_codec_bitstream.z.bin").read_bytes()


def test_decompress_golden_and_equals_forward(codec, bitstream):
    g, out = bitstream
    dec = codec.decompress(out["strings"], out["shape"])
    for name, key in [("mean", "mean"), ("scale", "log_scale"), ("res", "res"), ("prompt", "prompt")]:
        torch.testing.assert_close(dec[key], g[name], atol=ATOL, rtol=RTOL, msg=name)
    with torch.no_grad():
        fwd = codec(g["latent"], g["latent2"])
    for key in ("mean", "log_scale", "res", "prompt", "y_hat"):
        assert torch.equal(dec[key], fwd[key]), key  # same thread count: bit-identical


def test_load_state_dict_resizes_tables(codec, bitstream):
    g, out = bitstream
    fresh = LatentCodec().eval()
    fresh.load_state_dict(codec.state_dict())  # strict; empty table buffers are resized
    assert fresh.compress(g["latent"], g["latent2"])["strings"] == out["strings"]


# ------------------------------------------------------------------------------------ determinism
@pytest.mark.parametrize("enc_threads,dec_threads", [(2, 1), (1, 2)])
def test_thread_count_does_not_change_decoding(enc_threads, dec_threads):
    """Compress with one thread count, decompress with another.

    The hyper-synthesis and context model run with one thread inside ``deterministic_threads``,
    so the entropy parameters, hence the decoded symbols and ``y_hat``, are bit-identical to an
    encoder-side eval forward whatever the thread counts (float reductions in convolutions
    otherwise differ with the thread count, and one flipped scale index desynchronises rANS).
    """
    previous = torch.get_num_threads()
    codec = random_small_codec()
    latent, latent2 = small_inputs(size=16)
    try:
        torch.set_num_threads(enc_threads)
        out = codec.compress(latent, latent2)
        with torch.no_grad():
            fwd = codec(latent, latent2)
        torch.set_num_threads(dec_threads)
        dec = codec.decompress(out["strings"], out["shape"])
    finally:
        torch.set_num_threads(previous)
    assert torch.get_num_threads() == previous
    for key in ("y_hat", "mean", "log_scale", "res", "prompt"):
        assert torch.equal(dec[key], fwd[key]), key


def test_entropy_parameters_computed_with_one_thread():
    """The guard itself: h_s, the context model and the heads see one thread, then it is restored.

    (Small configs happen to be thread-invariant anyway, so the test above alone would not notice
    a missing guard.)
    """
    codec = random_small_codec()
    seen: dict[str, list[int]] = {}
    watched = {"g_a": codec.g_a, "h_s": codec.h_s, "g_c": codec.g_c, "LRP": codec.LRP[3],
               "g_s": codec.g_s, "prompt": codec.prompt}
    for name, module in watched.items():
        module.register_forward_hook(lambda *_, n=name: seen.setdefault(n, []).append(torch.get_num_threads()))
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        latent, latent2 = small_inputs()
        out = codec.compress(latent, latent2)
        codec.decompress(out["strings"], out["shape"])
        with torch.no_grad():
            codec(latent, latent2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
    assert set(seen["g_a"]) == {2}  # encoder-only analysis keeps every thread
    for name in ("h_s", "g_c", "LRP", "g_s", "prompt"):
        assert set(seen[name]) == {1}, name


# ------------------------------------------------------------------------------------ robustness
def test_garbage_strings_do_not_crash():
    codec = random_small_codec()
    out = codec.compress(*small_inputs())
    y, z = out["strings"][0][0], out["strings"][1][0]
    g = torch.Generator().manual_seed(3)
    noise = bytes(torch.randint(0, 256, (4096,), generator=g, dtype=torch.uint8).tolist())
    cases = [(noise, z), (y, noise), (b"", b""), (b"\xff" * 4096, b"\xff" * 64), (y[: len(y) // 2], z[:2])]
    for ys, zs in cases:
        dec = codec.decompress([[ys], [zs]], out["shape"])  # garbage in, garbage out, no crash
        assert dec["mean"].shape == (1, SMALL.latent_channels, 8, 8)


@pytest.mark.parametrize("shape", [(0, 1), (1, -2), (10**6, 10**6), ("a", 1), (1,)])
def test_impossible_shapes_rejected(shape):
    codec = random_small_codec()
    with pytest.raises(ValueError):
        codec.decompress([[b"\x00" * 8], [b"\x00" * 8]], shape)


@pytest.mark.parametrize("strings", [[b"a", b"b"], [[b"a"]], [[b"a", b"c"], [b"b"]], "ab", [["a"], ["b"]]])
def test_malformed_strings_rejected(strings):
    with pytest.raises(ValueError, match="strings must be"):
        random_small_codec().decompress(strings, (1, 1))


def test_tables_required_and_batch_one():
    codec = LatentCodec(SMALL).eval()
    with pytest.raises(ValueError, match="update"):
        codec.decompress([[b"\x00"], [b"\x00"]], (1, 1))
    codec.update()
    latent, latent2 = small_inputs()
    with pytest.raises(ValueError, match="one image"):
        codec.compress(latent.repeat(2, 1, 1, 1), latent2.repeat(2, 1, 1, 1))
    with pytest.raises(ValueError, match="latent2"):
        codec.compress(latent, latent2[..., :-2, :])


def test_update_semantics():
    codec = LatentCodec(SMALL)
    assert codec.update() is True
    assert codec.update() is False
    assert codec.update(force=True) is True


def test_train_mode_noise_and_straight_through():
    codec = random_small_codec().train()
    latent, latent2 = small_inputs()
    out = codec(latent, latent2)
    assert out["likelihoods"]["y"].shape == out["y"].shape
    assert (out["likelihoods"]["y"] > 0).all() and (out["likelihoods"]["y"] <= 1).all()
    rate = -torch.log2(out["likelihoods"]["y"]).sum() - torch.log2(out["likelihoods"]["z"]).sum()
    (rate + out["mean"].square().mean()).backward()
    assert codec.g_a.pre1[0].weight.grad.abs().sum() > 0  # gradient through the rounding
    assert codec.aux_loss().ndim == 0


def test_quant_step_one_is_the_trained_coding(codec, bitstream):
    g, out = bitstream
    again = codec.compress(g["latent"], g["latent2"], quant_step=1.0)
    assert again["strings"] == out["strings"]  # the golden bytes, as in test_compress_bytes_golden


@pytest.mark.parametrize("step", [0.5, 2.0])
def test_quant_step_round_trip_equals_forward(step):
    codec = random_small_codec()
    latent, latent2 = small_inputs()
    out = codec.compress(latent, latent2, quant_step=step)
    dec = codec.decompress(out["strings"], out["shape"], quant_step=step)
    with torch.no_grad():
        fwd = codec(latent, latent2, quant_step=step)
    for key in ("mean", "log_scale", "res", "prompt", "y_hat"):
        assert torch.equal(dec[key], fwd[key]), key
    # y_hat lies within half a step (plus the residual prediction's half step) of y
    assert (fwd["y_hat"] - fwd["y"]).abs().max() <= step + 1e-4


def test_smaller_quant_step_costs_more_bits_and_lands_closer():
    codec = random_small_codec()
    latent, latent2 = small_inputs(size=16)
    sizes, errors = [], []
    for step in (4.0, 1.0, 0.25):
        out = codec.compress(latent, latent2, quant_step=step)
        sizes.append(len(out["strings"][0][0]))
        with torch.no_grad():
            fwd = codec(latent, latent2, quant_step=step)
        errors.append(float((fwd["y_hat"] - fwd["y"]).abs().mean()))
    assert sizes[0] < sizes[1] < sizes[2], sizes
    assert errors[0] > errors[1] > errors[2], errors


@pytest.mark.parametrize("step", [0, -1.0, 1e-3, 100.0, float("nan"), "1", True])
def test_bad_quant_step_rejected(step):
    codec = random_small_codec()
    latent, latent2 = small_inputs()
    with pytest.raises(ValueError, match="quant_step"):
        codec.compress(latent, latent2, quant_step=step)


# ------------------------------------------------------------------ the kit's additions (third tiny tier)
def _stepped_codec(seed: int = 0) -> LatentCodec:
    """A small codec with a fixed-width context model and learned per-channel steps."""
    torch.manual_seed(seed)
    cfg = LatentCodecConfig(latent_channels=8, aux_channels=16, pre_channels=(8, 8), y_channels=16,
                            z_channels=8, prompt_channels=8, scale_hidden_channels=8,
                            context_channels=12, channel_steps=True)
    codec = LatentCodec(cfg)
    with torch.no_grad():
        for p in codec.parameters():
            p.mul_(0.5)
        codec.log_step.copy_(torch.linspace(-0.7, 0.7, 16))
    codec.update(force=True)
    return codec.eval()


def _stepped_inputs(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return 3 * torch.randn(1, 8, 8, 16, generator=g), torch.randn(1, 16, 16, 32, generator=g)


@pytest.mark.parametrize("quant_step", [1.0, 2.0])
def test_per_channel_steps_round_trip_equals_forward(quant_step):
    codec = _stepped_codec()
    latent, latent2 = _stepped_inputs()
    out = codec.compress(latent, latent2, quant_step)
    dec = codec.decompress(out["strings"], out["shape"], quant_step)
    fwd = codec(latent, latent2, quant_step)
    for key in ("mean", "log_scale", "res", "prompt", "y_hat"):
        assert torch.equal(dec[key], fwd[key]), key


def test_per_channel_steps_quantise_each_channel_on_its_own_grid():
    codec = _stepped_codec()
    latent, latent2 = _stepped_inputs()
    y = codec(latent, latent2)["y"]
    with torch.no_grad():  # fine steps on the first channels, coarse on the last: their error follows
        err = (codec(latent, latent2)["y_hat"] - y).abs().mean(dim=(0, 2, 3))
    assert err[:4].mean() < err[-4:].mean()
    coarse = codec.compress(latent, latent2, 1.0)
    with torch.no_grad():
        codec.log_step.add_(-1.0)  # every step e times finer: more bytes
    finer = codec.compress(latent, latent2, 1.0)
    assert len(finer["strings"][0][0]) > len(coarse["strings"][0][0])


def test_context_model_grows_linearly_with_y():
    """The kit's context adapters: doubling y about doubles the context model (official: x4)."""
    def context_size(y: int, width: int | None) -> int:
        cfg = LatentCodecConfig(latent_channels=8, aux_channels=16, pre_channels=(8, 8), y_channels=y,
                                z_channels=8, prompt_channels=8, scale_hidden_channels=8, context_channels=width)
        parts = ("adapter_in", "adapter_out", "g_c", "LRP")
        return sum(p.numel() for name in parts for p in getattr(LatentCodec(cfg), name).parameters())
    assert context_size(256, 96) / context_size(128, 96) < 2.2
    assert context_size(256, None) / context_size(128, None) > 3.8


def test_official_layout_has_no_per_channel_steps(codec):
    assert not hasattr(codec, "log_step") and codec.channel_step(2.0) == 2.0
