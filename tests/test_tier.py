"""The tier choice of notebooks 02-07 (``ditic_lite.teaching.tier``): which tier, why, which
checkpoints, images and sizes; no download, no GPU, no real weights."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import ditic_lite as dl
from ditic_lite import claims, teaching
from ditic_lite.official import HUB_REPO
from ditic_lite.teaching import tier as T


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch, tmp_path):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: pytest.fail("download attempted"))
    monkeypatch.setattr(T, "online", lambda *a, **k: pytest.fail("network probed"))
    monkeypatch.setattr(T, "cached_official_checkpoints", lambda: [])
    monkeypatch.setenv("DITIC_RESULTS", str(tmp_path / "results"))


@pytest.fixture()
def ckpt(tmp_path):
    path = tmp_path / "q1_merge_ema.pt"
    path.write_bytes(b"not read by these tests")
    return path


def test_tiny_is_the_default_on_a_cpu(ckpt):
    run = teaching.choose_tier("auto", "", device="cpu")
    assert run.name == "tiny" and "no CUDA GPU" in run.reason and run.rates == dl.zoo.available_rates("tiny")
    assert run.models == ["tiny", "mse"] and run.anchors == ["mse", "webp-ds"] and run.side is None
    with_file = teaching.choose_tier("auto", str(ckpt), device="cpu")
    assert with_file.name == "tiny" and "tier='official' runs it on this CPU" in with_file.reason
    assert teaching.choose_tier("tiny", str(ckpt), device="cpu").reason == "asked for (tier='tiny')"
    with pytest.raises(ValueError, match="tier must be one of"):
        teaching.choose_tier("huge")


def test_official_on_a_cpu_uses_the_given_file_at_crop_size(ckpt):
    run = teaching.choose_tier("official", str(ckpt), device="cpu")
    assert run.name == "official" and run.checkpoints == [str(ckpt)] and run.rates == [0]
    assert run.side == teaching.CPU_SIDE and run.dtype == "fp32" and run.models == ["official"]
    text = run.describe()
    assert "on the CPU" in text and "q1_merge_ema.pt" in text and "cited" in text and "one checkpoint" in text
    assert run.reference_model == dl.reference.UPDATED_MODEL  # a q1..q4 file: the release update's curve
    assert teaching.choose_tier("tiny").reference_model == dl.reference.PAPER_MODEL
    auto07 = teaching.choose_tier("auto", str(ckpt), device="cpu", cpu_if_cached=True)
    assert auto07.name == "official" and "on disk" in auto07.reason


def test_auto_on_a_gpu_uses_only_checkpoints_on_disk(ckpt, monkeypatch):
    run = teaching.choose_tier("auto", str(ckpt), device="cuda", dtype="fp16")
    assert run.name == "official" and run.side is None and run.dtype == "fp16" and run.checkpoints == [str(ckpt)]
    assert "download" not in run.describe()  # the file is on disk: nothing to fetch
    # nothing on disk: the tiny model, with no network probe (the fixture fails on one) and the way to download
    nothing = teaching.choose_tier("auto", "", device="cuda", dtype="bf16")
    assert nothing.name == "tiny" and "never downloads" in nothing.reason
    assert f"about {teaching.CHECKPOINT_GB:.1f} GB per rate point" in nothing.reason and "tier='official'" in nothing.reason
    # a hub name next to a file on disk: auto keeps the file and leaves the download out
    mixed = teaching.choose_tier("auto", f"{ckpt}, q3_merge_ema.pt", device="cuda", dtype="bf16")
    assert mixed.checkpoints == [str(ckpt)] and "1 named file(s) not on disk left out" in mixed.reason


def test_official_says_the_download_size_before_it_starts(ckpt, monkeypatch, capsys):
    assert 4.0 < teaching.CHECKPOINT_GB < 4.4  # 1.05 B float32 parameters
    hub = teaching.choose_tier("official", "", device="cuda", dtype="bf16")
    assert hub.checkpoints == [f"{HUB_REPO}/{n}" for n in teaching.RELEASE_FILES] and len(hub.rates) == 4
    text = hub.describe()
    assert "4 checkpoint file(s) from the hub" in text and f"{4 * teaching.CHECKPOINT_GB:.1f} GB in all" in text
    assert teaching.download_note([str(ckpt)]) == ""
    assert "1 checkpoint file(s)" in teaching.download_note([str(ckpt), f"{HUB_REPO}/q2_merge_ema.pt"])
    order = []
    monkeypatch.setattr(dl.official, "load_codec", lambda *a, **k: order.append(capsys.readouterr().out)
                        or (_ for _ in ()).throw(dl.official.CheckpointNotFoundError("stop")))
    with pytest.raises(dl.official.CheckpointNotFoundError):
        teaching.choose_tier("official", "q2_merge_ema.pt", device="cpu").load(0)
    assert f"downloading q2_merge_ema.pt from the hub: about {teaching.CHECKPOINT_GB:.1f} GB" in order[0]


def test_release_checkpoints_forms(ckpt, monkeypatch):
    assert teaching.release_checkpoints([str(ckpt), str(ckpt)]) == [str(ckpt)] * 2
    assert teaching.release_checkpoints(f"{ckpt}, q3_merge_ema.pt") == [str(ckpt), f"{HUB_REPO}/q3_merge_ema.pt"]
    assert teaching.release_checkpoints("owner/repo/x.pt") == ["owner/repo/x.pt"]
    monkeypatch.setattr(T, "cached_official_checkpoints", lambda: [ckpt])
    assert teaching.release_checkpoints("q1_merge_ema.pt") == [str(ckpt)]
    assert teaching.release_checkpoints("") == [str(ckpt)]
    monkeypatch.setenv("DITIC_OFFICIAL_CHECKPOINT", f'["{ckpt}", "{ckpt}"]')  # what the notebooks' params read
    P = dl.notebook.params(official_checkpoint="")
    assert teaching.release_checkpoints(P.official_checkpoint) == [str(ckpt)] * 2


def test_one_model_per_file_and_a_codec_per_rate(ckpt, random_codec, monkeypatch):
    run = teaching.choose_tier("official", [str(ckpt)] * 2, device="cpu")
    loads = []
    monkeypatch.setattr(T.Tier, "_load_file", lambda self, key: loads.append(key) or random_codec)
    a, b = run.load(0), run.load(1)
    assert loads == [str(ckpt)] and a.model is b.model and (a.rate, b.rate) == (0, 1) and a.rates == [0, 1]
    with pytest.raises(ValueError, match="choose from"):
        run.load(2)
    points = run.curve_codecs()
    assert [(p.rate, p.quant_step) for p in points] == [(0, 1.0), (1, 1.0)]
    single = teaching.choose_tier("official", str(ckpt), device="cpu")
    assert [p.quant_step for p in single.curve_codecs()] == list(teaching.SINGLE_FILE_QUANT_STEPS)
    image = Image.new("RGB", (64, 48), (120, 60, 30))
    assert len(single.curve_codecs()[2].compress(image)) < len(single.curve_codecs()[0].compress(image)) * 1.5
    cache = teaching.CodecCache(loader=single.loader())
    assert cache.rates("official") == [0] and teaching.choose_tier("tiny").loader() is None


def test_sized_prepare_and_images(ckpt, monkeypatch):
    official = teaching.choose_tier("official", str(ckpt), device="cpu")
    tiny = teaching.choose_tier("tiny")
    P = dl.notebook.params(images=3, steps=[1, 2, 4, 8])
    assert tiny.sized(P, official_cpu=dict(images=1)) is P
    assert vars(official.sized(P, official_cpu=dict(images=1, steps=[1, 2]))) == {"images": 1, "steps": [1, 2]}
    monkeypatch.setenv("DITIC_IMAGES", "2")
    assert official.sized(dl.notebook.params(images=3), official_cpu=dict(images=1)).images == 2  # the env var wins
    photo = Image.fromarray(np.arange(768 * 512 * 3, dtype=np.uint8).reshape(512, 768, 3) % 251)
    crop = official.prepare(photo)
    assert crop.size == (256, 256) and np.array_equal(np.asarray(crop), np.asarray(photo)[128:384, 256:512])
    assert tiny.prepare(photo).size == (768, 512)
    assert list(official.images(1, include="kite")) == ["kite"]
    assert list(tiny.images(2, include="kite")) == ["balloons", "kite"]
    assert official.timing_sizes([[2048, 2048]]) == [(256, 256), (512, 256)]
    assert tiny.timing_sizes([[1024, 512]]) == [(1024, 512)]


def test_evaluation_folder_offline(ckpt, monkeypatch, tmp_path):
    monkeypatch.setenv("DITIC_DATA", str(tmp_path / "datasets"))
    monkeypatch.setattr(T, "online", lambda host="", timeout=3.0: False)
    official = teaching.choose_tier("official", str(ckpt), device="cpu")
    folder, what = official.evaluation_folder(2)
    assert what.startswith("the sample photos, center crops") and len(list(folder.glob("*.png"))) == 2
    assert all(Image.open(p).size == (256, 256) for p in folder.glob("*.png"))
    assert official.published_point(0.05, dl.reference.UPDATED_MODEL, what)[0] is None
    point, why = official.published_point(0.05, dl.reference.UPDATED_MODEL, "Kodak")
    assert why == "" and point["bpp"] == pytest.approx(0.044, abs=0.01)
    tiny = teaching.choose_tier("tiny")
    assert tiny.evaluation_folder()[0] == dl.notebook.samples_dir()
    assert tiny.published_point(0.05, "", "Kodak") == (None, "tiny tier: not the official model")


def test_no_base_dit_without_lora_layers(random_codec, tiny_model):
    from ditic_lite.config import tiny_config
    from ditic_lite.model import DiTIC

    torch.manual_seed(0)
    merged = DiTIC(tiny_config())
    merged.codec.update(force=True)
    codec = dataclasses.replace(random_codec, model=merged.eval())
    assert teaching.has_base_dit(random_codec) and not teaching.has_base_dit(codec)
    image = Image.new("RGB", (64, 64), (90, 140, 200))
    images, table = teaching.compare_steps(codec, image, steps=(1, 2))
    assert list(images) == ["DiT-IC, adapted"] and set(table["method"]) == {"DiT-IC (adapted, variance-guided)"}
    assert "No un-adapted base DiT" in teaching.one_step_summary(table)
    verdicts = claims.steps_claims(table.assign(image="a"))
    assert any("base DiT" in v.claim and v.rule == "not measured in this run" for v in verdicts)


def test_retrieval_in_another_caption_space(random_codec, monkeypatch):
    from ditic_lite.teaching import alignment

    images = {"a": Image.new("RGB", (64, 64), (200, 30, 30)), "b": Image.new("RGB", (64, 64), (30, 30, 200))}
    monkeypatch.setattr(alignment, "caption_embeddings", lambda caps, cache="samples": torch.randn(len(caps), 7))
    table, sim, acc = teaching.retrieval_table(random_codec, images, {"a": "red", "b": "blue"})
    assert table.empty and np.isnan(acc) and sim.shape == (2, 2) and np.allclose(np.diag(sim), 1, atol=1e-5)
    assert "not measured" in table.attrs["note"] and "another image" in table.attrs["similarity"]
    distill = pd.DataFrame([{"image": i, "latent": lat, "cosine": c} for i in "ab"
                            for lat, c in (("y_tilde x", 0.5), ("y_hat x", 0.6))])
    verdict = claims.alignment_claims(distill, pd.DataFrame({"image": ["a", "b"]}), table)[-1]
    assert "retrieval" in verdict.claim and verdict.rule == "not measured in this run"


def test_a_failed_checkpoint_download_is_one_clear_line(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    run = teaching.choose_tier("official", "q2_merge_ema.pt", device="cpu")
    assert run.checkpoints == [f"{HUB_REPO}/q2_merge_ema.pt"]
    with pytest.raises(dl.official.CheckpointNotFoundError) as err:
        run.load(0)
    message = str(err.value)
    assert "\n" not in message and "cannot get 'q2_merge_ema.pt'" in message and "tier='tiny'" in message


def test_loaded_release_tiles_only_above_2048_px(random_codec, monkeypatch, ckpt):
    import copy

    codec = copy.deepcopy(random_codec)
    image = Image.fromarray((np.indices((96, 128)).sum(0) % 256).astype(np.uint8)[..., None].repeat(3, -1))
    data = codec.compress(image)
    before = np.asarray(codec.decompress(data))
    monkeypatch.setattr(dl.official, "load_codec", lambda checkpoint, device="cpu", dtype=None: codec)
    loaded = teaching.choose_tier("official", str(ckpt), device="cpu").load(0)
    vae = loaded.model.vae
    assert vae.use_tiling and vae.tile_sample_min_height == vae.tile_sample_min_width == teaching.tier.TILE_ABOVE
    assert np.array_equal(np.asarray(loaded.decompress(data)), before)  # below the threshold: untiled, same pixels
