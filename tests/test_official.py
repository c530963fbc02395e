"""Official tier (issue 6): architecture vs manifest, goldens, file layout, padding, loading.

Everything runs on CPU without downloads. Part goldens build only the part at official widths;
the end-to-end decode builds the whole 1.05 B-parameter model once (``slow``).
"""
from __future__ import annotations

import copy
import hashlib
import json
import struct
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from diffusers import AutoencoderDC
from safetensors.torch import load_file, save_file

from ditic_lite import flow, official
from ditic_lite.aux_encoder import AuxEncoder
from ditic_lite.config import tiny_config
from ditic_lite.container import DecodeError
from ditic_lite.prompter import Prompter
from official_helpers import (
    ATOL, GOLDENS, OFFICIAL, RTOL, fast_fill_, fast_fill_value, load_fill, manifest_rows, shape_str,
)

GOLDEN_INFO = json.loads((OFFICIAL / "goldens.json").read_text())


def close(mine: torch.Tensor, golden: torch.Tensor, name: str) -> None:
    torch.testing.assert_close(mine, golden, atol=ATOL, rtol=RTOL, msg=name)


# ------------------------------------------------------------------------------------ fill helper
def test_fast_fill_equals_reference_fill():
    fill = load_fill()
    probes = GOLDEN_INFO["fill"]["probes"]
    for key, probe in probes.items():
        mine = fast_fill_value(key, probe["shape"])
        assert torch.equal(mine, fill.fill_value(key, probe["shape"])), key
        assert mine.flatten()[:5].tolist() == pytest.approx(probe["first5"], abs=0), key
        assert struct.pack("<f", float(mine.flatten()[0])).hex() == probe["float32_first_hex"], key
    a, b = Prompter(), Prompter()
    fill.fill_(a, prefix="prompter.")
    fast_fill_(b, prefix="prompter.")
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key


# ------------------------------------------------------------------------------------ architecture
@pytest.fixture(scope="module")
def meta_model():
    return official.build(device="meta")


def test_official_config_values():
    cfg = official.official_config()
    assert cfg.flow.timestep == 999.0
    assert struct.pack("<f", cfg.flow.sigma_t).hex() == "24ea7f3f"  # SPEC 8
    assert (cfg.flow.offset, cfg.flow.slope, cfg.flow.saturation) == (0.4, 0.15, 4.0)
    assert cfg.codec.y_channels == 320 and cfg.codec.z_channels == 160 and cfg.pad_multiple == 256
    assert (cfg.prompter.num_tokens, cfg.prompter.fixed_tokens, cfg.prompter.embed_dim) == (77, 48, 2304)
    assert cfg.vae["scaling_factor"] == 0.41407 and cfg.dit["num_layers"] == 28


def test_build_matches_manifest(meta_model):
    """Keys (in checkpoint order), shapes and dtypes of the required rows, no extra key.

    On ``meta`` the rANS tables are still empty; their shapes are checked on a real codec in
    ``test_latent_codec.py`` and on the real build in the end-to-end test.
    """
    rows = manifest_rows()
    sd = meta_model.state_dict()
    assert list(sd) == [r["key"] for r in rows]
    for r in rows:
        t = sd[r["key"]]
        assert str(t.dtype) == "torch." + r["dtype"], r["key"]
        if r["key"] not in official.RECOMPUTED_KEYS:
            assert shape_str(t) == r["shape"], r["key"]
    total = sum(p.numel() for p in meta_model.parameters())
    counts = json.loads((OFFICIAL / "param_counts.json").read_text())
    assert total == counts["_totals"]["unique_parameters_excluding_loss (what merge.py prints as 'Total parameters')"]
    assert {n for n, _ in meta_model.named_children()} >= {"vae", "DiT", "codec", "prompter", "aux_codec"}


def test_reduced_precision_keeps_codec_float32():
    model = official.build(device="meta", dtype=torch.bfloat16)
    assert next(model.DiT.parameters()).dtype == torch.bfloat16
    assert next(model.vae.parameters()).dtype == torch.bfloat16
    for part in (model.codec, model.aux_codec, model.prompter):
        assert next(part.parameters()).dtype == torch.float32


# ------------------------------------------------------------------------------------ part goldens
def test_every_golden_file_is_checked():
    """Each file of the goldens folder is read by a test (here or in ``test_latent_codec.py``)."""
    sources = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    assert sorted(p.name for p in GOLDENS.iterdir() if p.name not in sources) == []


def test_aux_encoder_golden():
    g = load_file(GOLDENS / "aux_encoder.safetensors")
    aux = AuxEncoder().eval()
    fast_fill_(aux, prefix="aux_codec.")
    with torch.no_grad():
        close(aux(g["input_image01"]), g["latent2"], "latent2")


def test_vae_encode_golden():
    """The DC-AE encoder at official widths: config, key names (the fill is keyed by name) and the
    scaling factor. The decoder is left out; the fill sets every encoder tensor, so none is unset."""
    g = load_file(GOLDENS / "vae_encode.safetensors")
    config = official.official_config().vae
    with torch.device("meta"):
        vae = AutoencoderDC(**config)
    vae.decoder = None
    vae.to_empty(device="cpu")
    assert fast_fill_(vae.encoder, prefix="vae.encoder.") == len(vae.encoder.state_dict())
    assert not list(vae.buffers())  # nothing outside the state dict that to_empty() left unset
    with torch.no_grad():
        close(vae.encode(g["input_image"]).latent * vae.config.scaling_factor, g["latent"], "latent")


def test_prompter_golden():
    g = load_file(GOLDENS / "prompter.safetensors")
    prompter = Prompter().eval()
    fast_fill_(prompter, prefix="prompter.")
    with torch.no_grad():
        close(prompter(g["prompt"]), g["pos_caption_enc"], "pos_caption_enc")


def test_prompter_pooling_is_adaptive_average():
    """SPEC 6 windows [floor(iL/F), ceil((i+1)L/F)), including L < F and L not a multiple of F."""
    prompter = Prompter(official.official_config().prompter)
    for h, w in [(8, 8), (5, 7), (4, 4)]:
        x = torch.randn(1, 320, h, w)
        P, L = x.reshape(1, 320, -1), h * w
        spec = torch.stack([P[:, :, (i * L) // 48: -((-(i + 1) * L) // 48)].mean(-1) for i in range(48)], 1)
        assert torch.equal(prompter.pool(x), spec)


def test_variance_guided_step_golden():
    g = load_file(GOLDENS / "variance_guided_step.safetensors")
    cfg = official.official_config().flow
    std = flow.std_from_log_scale(g["log_scale"], cfg)
    sigma_map = flow.pseudo_timestep_map(std, cfg)
    close(std, g["std"], "std")
    close(sigma_map, g["adaptive_sigma"], "adaptive_sigma")
    close(sigma_map / cfg.sigma_t - 1, g["modulation"], "modulation")
    close(flow.one_step(g["sample"], g["model_output"], sigma_map), g["x0"], "x0")


# ------------------------------------------------------------------------------------ file layout
def golden_strings() -> list[list[bytes]]:
    return [[(GOLDENS / "latent_codec_bitstream.y.bin").read_bytes()],
            [(GOLDENS / "latent_codec_bitstream.z.bin").read_bytes()]]


def test_official_file_golden():
    data = official.write_official_bin(golden_strings(), (1, 1))
    info = GOLDEN_INFO["goldens"]["latent_codec_bitstream"]["official_file"]
    assert data == (GOLDENS / "bitstream_file.bin").read_bytes()
    assert hashlib.sha256(data).hexdigest() == info["sha256"]
    assert data[:20].hex() == info["header_hex_first_20_bytes"]
    assert official.read_official_bin(data) == (golden_strings(), (1, 1))


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d[:10], "too short"),
    (lambda d: d[:8] + struct.pack(">I", 3) + d[12:], "3 strings"),
    (lambda d: struct.pack(">I", 0) + d[4:], "empty"),
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"\x00", "unexpected bytes"),
    (lambda d: d[:12] + struct.pack(">I", 2**31) + d[16:], "truncated"),
])
def test_official_file_malformed(mutate, match):
    data = (GOLDENS / "bitstream_file.bin").read_bytes()
    with pytest.raises(DecodeError, match=match):
        official.read_official_bin(mutate(data))


def test_official_file_one_image_only():
    with pytest.raises(ValueError, match="one image"):
        official.write_official_bin([[b"a", b"b"], [b"c", b"d"]], (1, 1))


# ------------------------------------------------------------------------------------ padding
def test_official_pad_reflect_and_small_fallback():
    x = torch.rand(1, 3, 300, 520)
    assert torch.equal(official.official_pad(x), F.pad(x, (0, 248, 0, 212), mode="reflect"))
    x256 = torch.rand(1, 3, 256, 512)
    assert torch.equal(official.official_pad(x256), x256)
    small = torch.rand(1, 3, 100, 40)  # reflect alone fails here (pad 156 > 99, 216 > 39)
    with pytest.raises(RuntimeError):
        F.pad(small, (0, 216, 0, 156), mode="reflect")
    out = official.official_pad(small)
    assert out.shape == (1, 3, 256, 256)
    assert torch.equal(out[..., :100, :40], small)
    assert torch.equal(out[..., :100, 40:79], small.flip(-1)[..., 1:40])  # reflected part
    assert torch.equal(out[..., :100, 79:], out[..., :100, 78:79].expand(-1, -1, -1, 177))  # replicated


# ------------------------------------------------------------------------------------ loading
@pytest.fixture(scope="module")
def tiny_official():
    """An OfficialDiTIC with the tiny widths: exercises the official hooks and the loader fast."""
    torch.manual_seed(0)
    model = official.OfficialDiTIC(tiny_config())
    model.codec.update(force=True)
    return model.eval()


def merged_checkpoint(model) -> dict[str, torch.Tensor]:
    """A synthetic merged checkpoint: the model's tensors, loss.* keys and a branch1 alias."""
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    sd["codec.g_a.pre2.0.branch1.weight"] = sd["codec.g_a.pre2.0.down.weight"].clone()
    sd["loss.logvar"] = torch.zeros(())
    sd["loss.discriminator.main.0.weight"] = torch.randn(4, 3, 4, 4)
    return sd


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_load_checkpoint_both_formats(tmp_path, tiny_official, fmt):
    path = tmp_path / f"ckpt.{fmt}"
    sd = merged_checkpoint(tiny_official)
    torch.save(sd, path) if fmt == "pt" else save_file(sd, str(path))
    fresh = official.OfficialDiTIC(tiny_config())
    official.load_checkpoint(fresh, path)
    for key, value in tiny_official.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key


def test_load_checkpoint_names_missing_and_wrong_keys(tmp_path, tiny_official):
    sd = merged_checkpoint(tiny_official)
    del sd["codec.h_s.increase.3.ffn.2.bias"]
    sd["prompter.pattern"] = torch.zeros(1, 3, 48)
    torch.save(sd, tmp_path / "broken.pt")
    with pytest.raises(official.CheckpointMismatchError) as err:
        official.load_checkpoint(official.OfficialDiTIC(tiny_config()), tmp_path / "broken.pt")
    assert "missing codec.h_s.increase.3.ffn.2.bias" in str(err.value)
    assert "prompter.pattern" in str(err.value)


def test_load_checkpoint_refuses_pickled_objects(tmp_path, tiny_official):
    torch.save({"weights": tiny_official.state_dict(), "note": {1, 2}, "fn": print}, tmp_path / "pickle.pt")
    with pytest.raises(official.CheckpointMismatchError, match="refusing to unpickle"):
        official.load_checkpoint(tiny_official, tmp_path / "pickle.pt")


def test_missing_checkpoint_one_line_errors(tmp_path, monkeypatch):
    import huggingface_hub.constants

    with pytest.raises(FileNotFoundError, match="huggingface.co/JunqiShi/DiT-IC") as err:
        official.load_checkpoint(torch.nn.Module(), tmp_path / "nothing.pt")
    assert "\n" not in str(err.value)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(official.CheckpointNotFoundError, match="cannot get") as err:
        official.load_checkpoint(torch.nn.Module(), "JunqiShi/DiT-IC/not_there_merge_ema.pt")
    assert "\n" not in str(err.value)


def test_load_official_meta_assign(tmp_path, tiny_official, monkeypatch):
    """``load_official``: meta build, tensors assigned, tables recomputed, dtype applied."""
    def tiny_build(config_dir=None, dtype=torch.float32, device="cpu"):
        with torch.device(device):
            return official.OfficialDiTIC(tiny_config())

    monkeypatch.setattr(official, "build", tiny_build)
    sd = merged_checkpoint(tiny_official)
    for key in official.RECOMPUTED_KEYS:  # tables may be absent: they are recomputed
        sd.pop(key)
    save_file(sd, str(tmp_path / "ckpt.safetensors"))
    model = official.load_official(tmp_path / "ckpt.safetensors", dtype=torch.bfloat16)
    assert not model.training and next(model.DiT.parameters()).dtype == torch.bfloat16
    assert model.codec.gaussian_conditional.quantized_cdf.shape == (64, 3133)
    assert torch.equal(model.codec.g_a.pre1[0].weight, tiny_official.codec.g_a.pre1[0].weight)


def test_load_codec_wraps_the_kit_codec(tmp_path, tiny_official, monkeypatch):
    """``ditic_lite.load("official", checkpoint=...)`` goes through ``official.load_codec``."""
    monkeypatch.setattr(official, "build", lambda device="cpu", **_: official.OfficialDiTIC(tiny_config()).to(device))
    with pytest.raises(FileNotFoundError, match="checkpoint="):
        official.load_codec(None)
    save_file(merged_checkpoint(tiny_official), str(tmp_path / "ckpt.safetensors"))
    codec = official.load_codec(tmp_path / "ckpt.safetensors")
    assert codec.name == "official" and len(codec.checkpoint_id) == 8
    image = codec.decompress(codec.compress(torch.rand(1, 3, 48, 64)))
    assert image.size == (64, 48)


def test_official_hooks_round_trip(tiny_official):
    """encode -> codec.compress -> official file -> decompress, on the tiny widths (CPU)."""
    x = torch.rand(1, 3, 70, 90)
    latent, latent2 = tiny_official.encode(x)
    assert latent.shape == (1, 32, 8, 8) and latent.dtype == torch.float32
    out = tiny_official.codec.compress(latent, latent2)
    strings, shape = official.read_official_bin(official.write_official_bin(out["strings"], out["shape"]))
    steps = tiny_official.decode_steps(strings, shape)
    image = tiny_official.decompress(strings, shape)
    assert image.shape == (1, 3, 256, 256) and image.min() >= -1 and image.max() <= 1
    assert torch.equal(image, steps["image"])
    tiny_official.enable_tiling()
    assert tiny_official.vae.use_tiling
    tiny_official.disable_tiling()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_bfloat16_round_trip(tiny_official):
    """bf16 DiT/DC-AE on a GPU; the float32 codec decodes its own stream exactly."""
    model = copy.deepcopy(tiny_official).cuda().set_compute_dtype(torch.bfloat16)
    model.codec.update(force=True)
    latent, latent2 = model.encode(torch.rand(1, 3, 256, 256))
    out = model.codec.compress(latent, latent2)
    with torch.no_grad():
        fwd = model.codec(latent, latent2)
    assert torch.equal(model.codec.decompress(out["strings"], out["shape"])["y_hat"], fwd["y_hat"])
    model.enable_tiling()
    image = model.decompress(out["strings"], out["shape"])
    assert image.is_cuda and image.dtype == torch.float32 and image.shape == (1, 3, 256, 256)


# ------------------------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def official_model():
    """The full official model, random-initialised once per session module (~4.2 GB)."""
    model = official.build()
    yield model
    del model


@pytest.mark.slow
def test_random_build_matches_manifest_including_tables(official_model):
    sd = official_model.state_dict()
    rows = manifest_rows()
    assert list(sd) == [r["key"] for r in rows]
    assert all(shape_str(sd[r["key"]]) == r["shape"] for r in rows)


@pytest.mark.slow
def test_end_to_end_decode_golden(official_model):
    """Official decompress from the golden file bytes: every intermediate and the image."""
    model = official_model
    fast_fill_(model)
    model.codec.update(force=True)
    model.eval()
    g = load_file(GOLDENS / "end_to_end_decode.safetensors")
    strings, shape = official.read_official_bin(g["bitstream_file_u8"].numpy().tobytes())
    out = model.decode_steps(strings, shape)
    pairs = ["mean", "log_scale", "std", "res", "prompt", "timestep", "model_pred", "x_denoised"]
    for name in pairs:
        close(out[name], g[name], name)
    close(out["image"], g["output_image"], "output_image")
    assert torch.equal(model.decompress(strings, shape), out["image"])
