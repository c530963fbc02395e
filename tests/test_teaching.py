"""The notebooks' helpers: slider update, analysis tables, notebook plumbing, figures.

Behaviour that does not depend on training uses the random tiny model of ``conftest.py``; a few
checks use the shipped checkpoints through ``ditic_lite.load`` (whatever weights are shipped).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import ditic_lite as dl
from ditic_lite import notebook, teaching, viz
from ditic_lite.codec import Codec


@pytest.fixture(scope="module")
def photo(sample_paths) -> Image.Image:
    """A 256x256 crop of a sample photo (one latent block grid of 8x8, fast to code)."""
    return Image.open(sample_paths[0]).convert("RGB").crop((200, 100, 456, 356))


@pytest.fixture(scope="module")
def cache(random_codec) -> teaching.CodecCache:
    """A slider cache whose loader hands out the random codec at two fake rate points."""
    codecs = {}

    def loader(name, rate):
        codecs[(name, rate)] = Codec(model=random_codec.model, name=name, rate=rate, rates=[0, 1],
                                     checkpoint_id=f"test{rate:04d}".encode())
        return codecs[(name, rate)]

    return teaching.CodecCache(loader=loader)


# ------------------------------------------------------------------------------------ slider
def test_slider_update_reports_real_file_size_and_metrics(cache, photo):
    rec, m = teaching.slider_update(cache, photo, rate=0, steps=1)
    assert isinstance(rec, Image.Image) and rec.size == photo.size
    data = cache.codec("tiny", 0).compress(photo)
    assert m["bytes"] == len(data)
    assert m["bpp"] == pytest.approx(8 * len(data) / (256 * 256))
    assert m["psnr"] == pytest.approx(dl.metrics.psnr(photo, rec))
    assert m["ms_ssim"] == pytest.approx(dl.metrics.ms_ssim(photo, rec))
    assert (m["model"], m["rate"], m["steps"]) == ("tiny", 0, 1) and m["decode_s"] > 0


def test_slider_update_steps_change_the_decode_not_the_bytes(cache, photo):
    one, m1 = teaching.slider_update(cache, photo, rate=0, steps=1)
    four, m4 = teaching.slider_update(cache, photo, rate=0, steps=4)
    assert m1["bytes"] == m4["bytes"]
    assert not np.array_equal(np.asarray(one), np.asarray(four))
    # the same as decoding the cached bytes directly with that many steps
    direct = cache.codec("tiny", 0).decompress(cache.compress("tiny", 0, photo), steps=4)
    assert np.array_equal(np.asarray(four), np.asarray(direct))


def test_slider_cache_encodes_once_per_image_and_rate(cache, photo):
    before = len(cache.streams)
    teaching.slider_update(cache, photo, rate=1, steps=1)
    teaching.slider_update(cache, photo, rate=1, steps=2)
    assert len(cache.streams) == before + 1
    other = photo.transpose(Image.FLIP_LEFT_RIGHT)
    teaching.slider_update(cache, other, rate=1, steps=1)
    assert len(cache.streams) == before + 2


def test_slider_update_refuses_unknown_rate(cache, photo):
    codec = cache.codec("tiny", 0)
    with pytest.raises(ValueError, match="rate 7 not available"):
        teaching.slider_update(teaching.CodecCache(loader=lambda n, r: codec), photo, rate=7)


def test_slider_widget_updates_without_a_browser(cache, photo):
    ui = teaching.bitrate_slider(photo, cache, steps_options=(1, 2))
    assert ui.last["rate"] == 0 and ui.last["steps"] == 1
    rate_w, quant_w, steps_w = ui.children[0].children
    assert ui.last["quant_step"] == 1.0
    steps_w.value = 2  # an observed change calls slider_update
    assert ui.last["steps"] == 2
    rate_w.value = 1
    assert ui.last["rate"] == 1
    bytes_at_one = ui.last["bytes"]
    quant_w.value = 2.0
    assert ui.last["quant_step"] == 2.0 and ui.last["bytes"] < bytes_at_one
    assert "bpp" in ui.children[1].value
    recon = ui.children[2].children[1]
    assert Image.open(__import__("io").BytesIO(recon.value)).size == photo.size


def test_slider_table_covers_every_position(cache, photo):
    images, table = teaching.slider_table(cache, photo, names=["tiny"], steps=[1, 2])
    assert len(table) == len(images) == 4  # 2 rates x 2 step counts
    assert set(zip(table["rate"], table["steps"])) == {(0, 1), (0, 2), (1, 1), (1, 2)}


def test_quant_step_sweep_and_its_verdict(cache, photo):
    table = teaching.quant_step_sweep(cache, [photo], quant_steps=(0.5, 1.0, 4.0))
    assert len(table) == 2 * 3 and set(table["quant_step"]) == {0.5, 1.0, 4.0}
    by_step = table[table.rate == 0].set_index("quant_step")
    assert by_step.loc[4.0, "bytes"] < by_step.loc[1.0, "bytes"] < by_step.loc[0.5, "bytes"]
    one = teaching.slider_update(cache, photo, rate=0, quant_step=1.0)[1]
    assert by_step.loc[1.0, "bytes"] == one["bytes"] and by_step.loc[1.0, "psnr"] == pytest.approx(one["psnr"])
    verdict = teaching.quant_step_verdict(table)
    top = table[table.rate == 1].set_index("quant_step")
    gain = top.loc[0.5, "psnr"] - top.loc[1.0, "psnr"]
    assert f"{gain:+.2f} dB PSNR" in verdict  # the sentence carries the measured numbers
    assert ("buys quality" in verdict) == (gain >= 0.1)
    # the verdict follows the numbers, whichever way they go
    flat = table.assign(psnr=table["psnr"].where(table.quant_step != 0.5, table["psnr"] + 1.0))
    assert "finer quantisation buys quality" in teaching.quant_step_verdict(flat)
    # a trained point beaten with fewer bits by a coarser step of another rate point is named
    coarse_wins = table.assign(psnr=table["psnr"].where(table.quant_step != 4.0, 99.0))
    assert "is beaten with fewer bits by rate" in teaching.quant_step_verdict(coarse_wins)
    low = table.assign(psnr=table["psnr"].where(table.quant_step != 4.0, -99.0))
    assert "is beaten" not in teaching.quant_step_verdict(low.assign(bpp=low.bpp.where(low.quant_step == 1.0, 9.0)))
    fig = viz.quant_step_chart(table)
    assert len(fig.axes) == 2


def test_slider_on_the_shipped_model(sample_paths):
    image = Image.open(sample_paths[0]).convert("RGB")
    c = teaching.CodecCache()
    rates = c.rates("tiny")
    assert rates == dl.load("tiny").rates
    rec, m = teaching.slider_update(c, image, rate=rates[0], steps=1)
    assert rec.size == image.size and 0 < m["bpp"] < 8 and np.isfinite(m["psnr"])


# ------------------------------------------------------------------------------------ 01 / 02
def test_pipeline_shapes_are_read_off_the_model(random_codec, photo):
    table = teaching.pipeline_shapes(random_codec, photo)
    shape = dict(zip(table["key"], table["shape"]))
    cfg = random_codec.model.config
    assert shape["latent"] == f"1x{cfg.codec.latent_channels}x8x8"  # 256 / 32
    assert shape["y"] == f"1x{cfg.codec.y_channels}x4x4"  # 256 / 64
    assert shape["z"] == f"1x{cfg.codec.z_channels}x1x1"  # 256 / 256
    assert shape["tokens"] == f"1x{cfg.prompter.num_tokens}x{cfg.prompter.embed_dim}"
    assert shape["y_hat"] == shape["y_tilde"] == shape["latent"]
    scale = dict(zip(table["key"], table["scale"]))
    assert (scale["latent"], scale["aux"], scale["y"], scale["z"]) == ("1/32", "1/16", "1/64", "1/256")
    n_bytes = table.loc[table["key"] == "bytes", "values"].item()
    assert n_bytes == len(random_codec.compress(photo))
    stages = list(dict.fromkeys(table["stage"]))
    assert stages.index("encoder") < stages.index("64x code") < stages.index("entropy coding") \
        < stages.index("32x latent") < stages.index("one-step DiT") < stages.index("decoder")


def test_zoom_box_finds_the_textured_square():
    a = np.full((256, 384, 3), 128, np.uint8)
    a[128:192, 256:320] = np.random.default_rng(0).integers(0, 255, (64, 64, 3))
    x, y, s = teaching.zoom_box(Image.fromarray(a), size=64)
    assert (x, y, s) == (256, 128, 64)


def test_texture_map_is_per_latent_pixel():
    a = np.zeros((64, 96, 3), np.uint8)
    a[:32, :32] = np.random.default_rng(0).integers(0, 255, (32, 32, 3))  # one textured 32x32 block
    tex = teaching.texture_map(Image.fromarray(a))
    assert tex.shape == (2, 3)
    assert np.unravel_index(tex.argmax(), tex.shape) == (0, 0)
    assert tex[1, 2] == 0.0


def test_correlations_detect_a_monotone_relation():
    t = pd.DataFrame({"texture": np.arange(10.0), "sigma": np.arange(10.0) ** 2, "t": -np.arange(10.0)})
    c = teaching.correlations(t).set_index("y")
    assert c.loc["sigma", "spearman"] == pytest.approx(1.0)
    assert c.loc["t", "pearson"] == pytest.approx(-1.0)
    flat = teaching.correlations(t.assign(sigma=1.0), ys=("sigma",))
    assert np.isnan(flat["pearson"].item())


def test_sigma_texture_table_matches_the_intermediates(random_codec, photo):
    _, info = random_codec.roundtrip(photo)
    table = teaching.sigma_texture_table(photo, info)
    assert len(table) == 8 * 8
    assert table["sigma"].to_numpy() == pytest.approx(info["sigma"][0].mean(0).numpy().ravel(), rel=1e-5)
    assert table["t"].to_numpy() == pytest.approx(info["t_map"][0].mean(0).numpy().ravel(), rel=1e-5)


def test_timestep_ablation_same_bytes_flat_map(random_codec, photo):
    images, table = teaching.timestep_ablation(random_codec, photo)
    assert list(images) == ["pixel-wise", "global (mean)"]
    assert table["bytes"].iloc[0] == table["bytes"].iloc[1] == len(random_codec.compress(photo))
    assert table["t_std"].iloc[1] == pytest.approx(0.0, abs=1e-3)  # one global timestep
    assert table["t_mean"].iloc[1] == pytest.approx(table["t_mean"].iloc[0], rel=1e-5)
    assert table["psnr"].iloc[2] == pytest.approx(table["psnr"].iloc[1] - table["psnr"].iloc[0])


# ------------------------------------------------------------------------------------ 03
def test_step_sweep_one_step_is_the_codec_decode(random_codec, photo):
    images, table = teaching.step_sweep(random_codec, photo, steps=[1, 3])
    data = random_codec.compress(photo)
    assert np.array_equal(np.asarray(images[1]), np.asarray(random_codec.decompress(data, steps=1)))
    assert list(table["steps"]) == [1, 3] and list(table["dit_calls"]) == [1, 3]
    assert (table["decode_s"] >= table["dit_s"]).all()


def test_base_dit_decode_uses_the_unadapted_model(tiny_model, photo):
    # a codec whose LoRA is NOT zero: switching it off must change the DiT's velocity
    import copy

    model = copy.deepcopy(tiny_model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    codec = Codec(model=model, name="tiny", rate=0, rates=[0], checkpoint_id=b"loratest")
    data = codec.compress(photo)
    a, ta = teaching.base_dit_decode(codec, data, steps=2, seed=1)
    b, _ = teaching.base_dit_decode(codec, data, steps=2, seed=1)
    assert np.array_equal(np.asarray(a), np.asarray(b))  # deterministic noise
    assert a.size == photo.size and 0 < ta["strength"] <= 1
    with_lora, _ = teaching.base_dit_decode(codec, data, steps=2, seed=1, switch_lora=False)
    assert not np.array_equal(np.asarray(a), np.asarray(with_lora))  # LoRA really was off
    # LoRA is back on afterwards (the adapted decode is unchanged by the base run)
    before = np.asarray(codec.decompress(data))
    teaching.base_dit_decode(codec, data, steps=1)
    assert np.array_equal(before, np.asarray(codec.decompress(data)))
    with pytest.raises(ValueError, match="strength"):
        teaching.base_dit_decode(codec, data, steps=1, strength=1.5)


def test_compare_steps_and_summary(random_codec, photo):
    images, table = teaching.compare_steps(random_codec, photo, steps=[1, 2])
    assert set(images) == {"DiT-IC, adapted", "base DiT, un-adapted"}
    assert len(table) == 4 and table["method"].nunique() == 2
    text = teaching.one_step_summary(table)
    one = table[(table["steps"] == 1) & table["method"].str.startswith("DiT-IC")]["psnr"].item()
    assert f"{one:.3f}" in text and "base DiT" in text



def test_step_sweep_measures_the_distance_to_the_encoder_latent(random_codec, photo):
    _, table = teaching.step_sweep(random_codec, photo, steps=[1, 2])
    target = teaching.encoder_latent(random_codec, photo)
    _, info = random_codec.decompress(random_codec.compress(photo), steps=1, return_intermediates=True)
    expected = float((info["y_hat"] - target).abs()[..., :8, :8].mean())  # a 256x256 crop: 8x8 latent pixels
    assert table["latent_error"].iloc[0] == pytest.approx(expected, rel=1e-5)


def _steps_table(psnr: list[float], latent_error: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"method": ["DiT-IC (adapted, variance-guided)"] * len(psnr), "steps": [1, 4, 20][:len(psnr)],
                         "psnr": psnr, "latent_error": latent_error})


def test_step_drift_summary_explains_what_the_numbers_show():
    drifting = teaching.step_drift_summary(_steps_table([29.0, 28.0, 27.3], [0.10, 0.13, 0.14]))
    assert "-1.700 dB" in drifting and "further from" in drifting and "Why it falls" in drifting
    flat = teaching.step_drift_summary(_steps_table([29.0, 29.02, 29.05], [0.10, 0.10, 0.09]))
    assert "closer to" in flat and "nothing worth claiming" in flat and "Why it falls" not in flat
    rising = teaching.step_drift_summary(_steps_table([29.0, 29.5, 30.0], [0.10, 0.09, 0.08]))
    assert "more steps help" in rising
    assert "nothing to compare" in teaching.step_drift_summary(_steps_table([29.0], [0.1]))


def test_decode_scores_name_each_decode(random_codec, photo):
    _, table = teaching.compare_steps(random_codec, photo, steps=[1, 2])
    scores = teaching.decode_scores(table, "psnr")
    assert list(scores) == ["DiT-IC K=1", "DiT-IC K=2", "base K=1", "base K=2"]
    assert scores["DiT-IC K=1"] == pytest.approx(table["psnr"].iloc[0])


def test_rate_points_description_reads_the_models(cache):
    text = teaching.rate_points_description(cache, "tiny")
    shared = cache.codec("tiny", 0).model.config.codec.channel_steps
    assert ("ONE shared model codes all 2 rate points" in text) == bool(shared)
    assert shared or "its own model" in text


def test_rate_points_of_the_shipped_tiny_model_are_one_model():
    text = teaching.rate_points_description(teaching.CodecCache(), "tiny")
    lambdas = [dl.load("tiny", rate=r).card["lambda"] for r in dl.zoo.available_rates("tiny")]
    assert "ONE shared model" in text and f"λ = {', '.join(f'{v:g}' for v in lambdas)}" in text


# ------------------------------------------------------------------------------------ 05
def _fake_results() -> pd.DataFrame:
    rows = []
    for codec, pts in {"jpeg": [(0.2, 24.0), (0.4, 27.0), (0.8, 30.0)],
                       "webp": [(0.1, 24.0), (0.2, 27.0), (0.4, 30.0)],
                       "tiny": [(0.1, 20.0)]}.items():
        for rate, (bpp, psnr) in enumerate(pts):
            rows.append({"image": "a", "codec": codec, "rate": rate, "steps": 1 if codec == "tiny" else 0,
                         "bpp": bpp, "psnr": psnr, "ms_ssim": 0.5 + psnr / 100})
    return pd.DataFrame(rows)


def test_bd_rate_table_halves_the_rate():
    bd = teaching.bd_rate_table(_fake_results(), anchor="jpeg", metrics=["psnr"]).set_index("codec")
    assert bd.loc["webp", "bd_rate"] == pytest.approx(-50.0, abs=1e-6)  # same quality at half the bits
    assert np.isnan(bd.loc["tiny (1 step)", "bd_rate"]) and "2 rate points" in bd.loc["tiny (1 step)", "note"]
    with pytest.raises(ValueError, match="anchor"):
        teaching.bd_rate_table(_fake_results(), anchor="avif")


def test_rd_summary_names_the_best_codec_at_the_common_rate():
    text = teaching.rd_summary(_fake_results())
    assert "Near 0.200 bpp" in text and "best psnr is webp" in text


def test_rd_table_on_one_sample(monkeypatch):
    df = teaching.rd_table(max_images=1, learned=("mse",), pillow=("jpeg",), pillow_rates=(0, 3), metrics=["psnr"])
    assert set(df["codec"]) == {"mse", "jpeg"} and len(df) == len(dl.load("mse").rates) + 2
    assert (df["bpp"] == df["bytes"] * 8 / (df["height"] * df["width"])).all()


def test_perceptual_metrics_never_download_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # empty cache
    calls = []
    monkeypatch.setattr(dl.metrics, "available", lambda name: calls.append(name) or True)
    assert teaching.perceptual_metrics() == [] and calls == []
    assert teaching.default_metrics() == ["psnr", "ms_ssim", "detail"]


# ------------------------------------------------------------------------------------ 06
def test_distillation_table_cosines(random_codec, photo):
    table, maps = teaching.distillation_table(random_codec, {"a": photo})
    assert list(table["latent"]) == ["y_tilde (before the DiT)", "y_hat (one-step output)"]
    target = teaching.encoder_latent(random_codec, photo)
    _, info = random_codec.roundtrip(photo)
    cos = dl.align.channel_cosine(info["y_hat"], target)
    assert table["cosine"].iloc[1] == pytest.approx(float(cos.mean()), abs=1e-5)
    assert maps["a"].shape == (8, 8)
    m, w = random_codec.model.config.align.distill_margin, random_codec.model.config.align.distill_weight
    assert table["loss"].iloc[1] == pytest.approx(w * float(torch.relu(1 - m - cos).mean()), abs=1e-6)


def test_retrieval_table_counts_matches(random_codec, photo, monkeypatch):
    images = {"a": photo, "b": photo.transpose(Image.ROTATE_90)}
    # caption embeddings equal to each image's own mean token: retrieval must be perfect
    tokens = {k: random_codec.roundtrip(v)[1]["tokens"].mean(1)[0] for k, v in images.items()}
    monkeypatch.setattr(teaching.alignment, "caption_embeddings",
                        lambda caps, cache=None: torch.stack([tokens[c] for c in caps]))
    table, sim, acc = teaching.retrieval_table(random_codec, images, {"a": "a", "b": "b"})
    assert acc == 1.0 and table["correct"].all()
    assert sim.shape == (2, 2) and sim[0, 0] == pytest.approx(1.0, abs=1e-5)
    swapped = teaching.retrieval_table(random_codec, images, {"a": "b", "b": "a"})[2]
    assert swapped == 0.0


def test_decode_with_tokens_matches_the_codec(random_codec, photo):
    data = random_codec.compress(photo)
    _, info = random_codec.decompress(data, return_intermediates=True)
    same = teaching.decode_with_tokens(random_codec, data, info["tokens"])
    assert np.array_equal(np.asarray(same), np.asarray(random_codec.decompress(data)))
    images, table = teaching.condition_ablation(random_codec, photo)
    assert list(table["condition"]) == ["latent condition", "empty condition", "change (empty - latent)"]


def test_sample_captions_and_cached_embeddings():
    caps = teaching.sample_captions()
    assert sorted(caps["file"]) == sorted(p.name for p in notebook.sample_paths())
    emb = teaching.caption_embeddings(caps["caption"].tolist())  # from the shipped cache
    assert emb.shape == (len(caps), 384)
    assert torch.allclose(emb.norm(dim=1), torch.ones(len(caps)), atol=1e-4)
    assert teaching.caption_for("kite").shape == (1, 384) and teaching.caption_for("nope") is None


def test_alignment_ablation_csv_and_report(tmp_path):
    assert "NOT been run" in teaching.ablation_report(None)
    assert teaching.alignment_ablation(tmp_path / "missing.csv") is None
    path = tmp_path / "alignment.csv"
    pd.DataFrame([{"variant": "full", "steps": 10, "cosine_yhat_encoder": 0.6, "psnr": 20.0, "bpp": 0.1},
                  {"variant": "no_distill", "steps": 10, "cosine_yhat_encoder": 0.4, "psnr": 20.5, "bpp": 0.1}]).to_csv(path, index=False)
    report = teaching.ablation_report(teaching.alignment_ablation(path))
    assert "0.600 with L_sd vs 0.400 without (+0.200)" in report and "-0.500 dB" in report


# ------------------------------------------------------------------------------------ 07
def test_decode_timing_and_points(random_codec, sample_paths):
    timing = teaching.decode_timing(random_codec, [(256, 256)])
    row = timing.iloc[0]
    assert row["size"] == "256x256" and row["decode_s"] > 0 and row["dit_s"] >= 0
    assert row["bpp"] == pytest.approx(8 * row["bytes"] / 256 ** 2)
    points = teaching.reproduce_points(random_codec, sample_paths[:1], metrics=["psnr"])
    assert list(points["image"]) == [sample_paths[0].stem, "mean"]
    assert points["bpp"].iloc[-1] == pytest.approx(points["bpp"].iloc[0])


# ------------------------------------------------------------------------------------ plumbing
def test_setup_locally_only_returns_the_device(monkeypatch, capsys):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setattr(notebook, "pip_install", lambda *a, **k: pytest.fail("pip called locally"))
    assert dl.setup() == ("cuda" if torch.cuda.is_available() else "cpu")
    assert "local" in capsys.readouterr().out


def test_setup_on_colab_installs_only_missing_and_asks_for_restart(monkeypatch):
    import sys

    installed = []
    real = notebook._installed
    monkeypatch.setenv("COLAB_RELEASE_TAG", "test")
    monkeypatch.setattr(notebook, "pip_install", lambda pkgs, quiet=True: installed.append(list(pkgs)))
    monkeypatch.setattr(notebook, "missing_extras", lambda: ["DISTS_pytorch"])
    assert notebook.setup(verbose=False) in ("cpu", "cuda")
    assert installed == [["DISTS_pytorch"]]
    # something replaced numpy under a running Python (an install by hand): restart required, with what to do
    monkeypatch.setattr(notebook, "_installed", lambda d: "1.26.4" if d == "numpy" else real(d))
    monkeypatch.setitem(sys.modules, "numpy", type("np", (), {"__version__": "2.1.0"}))
    with pytest.raises(notebook.RestartRequired, match="Restart session"):
        notebook.setup(verbose=False)


def test_pip_install_pins_torch(monkeypatch, tmp_path):
    import subprocess

    seen = {}
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: seen.setdefault("cmd", cmd))
    notebook.pip_install(["lpips"])
    constraints = (tmp_path / "ditic_lite_constraints.txt").read_text()
    assert f"torch=={torch.__version__.split('+')[0]}" in constraints.splitlines()[0]
    assert f"numpy=={np.__version__}" in constraints.splitlines()  # Colab's numpy 2 is kept too
    assert seen["cmd"][-1] == "lpips" and "-c" in seen["cmd"]


def test_params_fast_and_env_override(monkeypatch):
    monkeypatch.delenv("DITIC_FAST", raising=False)
    assert notebook.params(images=3, fast=dict(images=1)).images == 3
    monkeypatch.setenv("DITIC_FAST", "1")
    assert notebook.params(images=3, fast=dict(images=1)).images == 1
    monkeypatch.setenv("DITIC_STEPS", json.dumps([1, 4]))
    assert notebook.params(steps=[1, 2, 4, 8, 20]).steps == [1, 4]
    with pytest.raises(ValueError, match="unknown"):
        notebook.params(images=3, fast=dict(nope=1))


def test_online_respects_offline_flags(monkeypatch):
    import socket

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("network probed"))
    assert notebook.online() is False


def test_viz_save_stays_small(monkeypatch, tmp_path, photo):
    monkeypatch.setenv("DITIC_FIGURES", str(tmp_path))
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (512, 768, 3), dtype=np.uint8))
    fig = viz.side_by_side([noise, noise], ["a", "b"])
    viz.save(fig, "noise.png", max_bytes=150_000)
    assert (tmp_path / "noise.png").stat().st_size <= 150_000


def test_viz_figures_build(random_codec, photo, tmp_path):
    import matplotlib.pyplot as plt

    shapes = teaching.pipeline_shapes(random_codec, photo)
    figs = [viz.pipeline_diagram(shapes),
            viz.heatmaps(photo, {"m": np.eye(8)}),
            viz.histograms({"a": np.arange(10)}),
            viz.scatter(pd.DataFrame({"x": [0, 1, 2], "y": [1, 3, 2]}), "x", "y"),
            viz.comparison_grid({"r": {1: photo, 2: photo}}, crop=(0, 0, 64), reference=photo),
            viz.steps_chart(pd.DataFrame({"method": ["m", "m"], "steps": [1, 2], "psnr": [1, 2], "decode_s": [1, 2]})),
            viz.rd_with_reference(_fake_results(), metrics=["psnr"]),
            viz.similarity_matrix(np.eye(2), ["a", "b"], ["a", "b"]),
            viz.timing_bars(pd.DataFrame({"size": ["1x1"], "entropy_s": [0.1], "dit_s": [0.2], "decoder_s": [0.3]}))]
    for fig in figs:
        assert isinstance(fig, plt.Figure)
        plt.close(fig)
    # the pipeline diagram shows one box per stage
    assert len(figs[0].axes[0].patches) == shapes["stage"].nunique()


# ------------------------------------------------------------------------------------ ablation script
@pytest.mark.slow
def test_ablation_script_writes_the_csv_notebook_06_reads(tmp_path, sample_paths):
    """scripts/ablation_alignment.py end to end on a miniature run (1 step per variant)."""
    import importlib.util
    import shutil

    from safetensors.torch import save_file

    from ditic_lite.config import tiny_config
    from ditic_lite.model import DiTIC
    from ditic_lite.training.data import VALIDATION
    from ditic_lite.training.loop import make_cache

    spec = importlib.util.spec_from_file_location("ablation_alignment", notebook._ROOT / "scripts" / "ablation_alignment.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    data, runs = tmp_path / "data", tmp_path / "runs"
    rows = ["file,caption"]
    for i, rel in enumerate([*VALIDATION, "train/a.png", "train/b.png"]):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample_paths[i % len(sample_paths)], data / rel)
        rows.append(f"{rel},Caption number {i} about {sample_paths[i % len(sample_paths)].stem}.")
    (data / "captions.csv").write_text("\n".join(rows) + "\n")
    torch.manual_seed(0)
    model = DiTIC(tiny_config())
    for stage in ("ae", "dit"):
        (runs / stage).mkdir(parents=True)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(runs / stage / "model.safetensors"))
    make_cache(runs, data, progress=False)
    model.add_lora()
    (runs / "codec").mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(runs / "codec" / "model.safetensors"))
    save_file({"rate_log_steps": torch.zeros(4, model.config.codec.y_channels)}, str(runs / "codec" / "stage.safetensors"))

    out = tmp_path / "alignment.csv"
    assert script.main(["--runs", str(runs), "--data", str(data), "--steps", "1", "--batch-size", "1",
                        "--crop", "8", "--out", str(out)]) == 0
    table = pd.read_csv(out).set_index("variant")
    assert list(table.index) == ["full", "no_distill"]
    assert table.loc["no_distill", "distill_weight"] == 0 and table.loc["full", "distill_weight"] > 0
    assert table.loc["full", "contrastive_weight"] == table.loc["no_distill", "contrastive_weight"] > 0
    assert (table["steps"] == 1).all() and (table["images"] == len(VALIDATION)).all()
    assert table["cosine_yhat_encoder"].between(-1, 1).all() and table["retrieval_accuracy"].between(0, 1).all()
    assert "with L_sd vs" in teaching.ablation_report(teaching.alignment_ablation(out))


def test_every_teaching_helper_names_its_notebook():
    """STYLE: each helper's docstring names an existing notebook (e.g. ``03_one_step_vs_multi_step``);
    so does each module of the teaching package, which holds one notebook's glue."""
    import importlib
    import inspect
    import pkgutil
    import re

    names = {p.stem for p in (notebook._ROOT / "notebooks").glob("*.ipynb")}
    parts = [importlib.import_module(f"{teaching.__name__}.{m.name}") for m in pkgutil.iter_modules(teaching.__path__)]
    assert len(parts) >= 7
    missing = [f"{m.__name__} (module)" for m in parts
               if not set(re.findall(r"\b(0[1-7]_[a-z_]*[a-z])", m.__doc__ or "")) & names]
    for module in (*parts, viz):
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                refs = set(re.findall(r"\b(0[1-7]_[a-z_]*[a-z])", obj.__doc__ or ""))
                if not refs or refs - names:
                    missing.append(f"{module.__name__}.{name}: {sorted(refs)}")
    assert not missing, missing


def test_tier_photos_are_downscaled_to_max_side(sample_paths, tmp_path, capsys):
    """Notebooks 02-04 cap your photo at ``max_side`` (the samples' size), with a printed note."""
    run = teaching.choose_tier("tiny", "", "cpu")
    big = Image.open(sample_paths[0]).convert("RGB").resize((1536, 1024))
    big.save(tmp_path / "big.png")
    assert max(run.image(tmp_path / "big.png", max_side=768).size) == 768
    assert "downscaled" in capsys.readouterr().out
    images = run.images(2, include=tmp_path / "big.png", max_side=768)
    assert list(images)[-1] == "big" and images["big"].size == (768, 512)
    assert run.image(sample_paths[0], max_side=768).size == Image.open(sample_paths[0]).size  # samples: as they are
