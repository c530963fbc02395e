"""Benchmark machinery: timing statistics, memory, each part on tiny configs, ratios, the command."""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pytest
import torch

from ditic_lite import bench as B
from ditic_lite import measuring as M
from ditic_lite.config import tiny_config

TINY_UNET = dict(
    sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
    cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
)


def test_measure_median_and_memory():
    calls = []

    def work():
        calls.append(1)
        time.sleep(0.01)
        return torch.ones(2_000_000)  # 8 MB

    m = M.measure(work, repeats=5, warmup=2)
    assert len(calls) == 7 and len(m["times_s"]) == 5
    assert m["median_s"] == pytest.approx(np.median(m["times_s"])) and m["median_s"] >= 0.01
    assert m["min_s"] <= m["median_s"] and m["peak_mem_mb"] > 8 and m["extra_mem_mb"] >= 0
    assert torch.equal(m["result"], torch.ones(2_000_000))


def test_parse_sizes():
    assert B.parse_sizes("256, 768x512") == [(256, 256), (768, 512)]
    with pytest.raises(ValueError, match="bad size"):
        B.parse_sizes("256,big")


def test_synthetic_image_is_deterministic():
    a = B.synthetic_image(64, 48)
    assert a.shape == (48, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, B.synthetic_image(64, 48)) and a.std() > 20


def test_official_part_on_a_tiny_config():
    cfg = tiny_config()
    rows = B.bench_official([(96, 64)], ("fp32", "bf16"), repeats=2, warmup=0,
                            vae_config=cfg.vae, dit_config=cfg.dit, num_tokens=4)
    stages = [(r.stage, r.size, r.dtype) for r in rows]
    assert ("dit", "96x64", "fp32") in stages and ("decoder", "96x64", "bf16") in stages
    total = next(r for r in rows if r.stage == "total" and r.dtype == "fp32")
    parts = [r.median_s for r in rows if r.dtype == "fp32" and r.stage != "total"]
    assert total.median_s == pytest.approx(sum(parts))
    assert all(r.repeats == 2 and np.isfinite(r.median_s) for r in rows if r.stage != "total")


def test_unet_part_and_ratios():
    cfg = tiny_config()
    rows = B.bench_official([(64, 64)], repeats=1, warmup=0, vae_config=cfg.vae, dit_config=cfg.dit, num_tokens=4)
    rows += B.bench_unet([(64, 64)], repeats=1, warmup=0, config=TINY_UNET)
    unet = rows[-1]
    assert unet.part == "unet" and unet.stage == "step" and not unet.note and unet.params_m > 0
    ratios = B.ratios(rows, unet_steps=20)
    assert [r["what"] for r in ratios] == ["SD-1.5 U-Net step / official DiT step",
                                           "SD-1.5 U-Net step / official one-step decode (DiT + decoder)",
                                           "SD-1.5 U-Net x 20 steps / official one-step decode (DiT + decoder)"]
    dit = next(r for r in rows if r.stage == "dit")
    total = next(r for r in rows if r.stage == "total")
    assert ratios[0]["ratio"] == pytest.approx(unet.median_s / dit.median_s)
    assert ratios[2]["ratio"] == pytest.approx(20 * unet.median_s / total.median_s)


def test_sd15_config_is_stable_diffusion_sized():
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(**B.SD15_UNET)
    assert 855e6 < sum(p.numel() for p in unet.parameters()) < 865e6  # SD-1.5: about 860 M


def test_tiny_part_one_vs_k_steps(random_codec):
    rows = B.bench_tiny([(256, 256)], steps=3, repeats=2, warmup=0, codec=random_codec)
    stages = {r.stage for r in rows if r.part == "tiny"}
    assert {"encode", "total", "entropy", "dit", "decoder"} <= stages
    steps = {r.steps: r.median_s for r in rows if r.part == "steps"}
    assert set(steps) == {1, 3}
    (ratio,) = B.ratios(rows)
    assert ratio["what"] == "tiny decode, 3 steps / 1 step" and ratio["ratio"] == pytest.approx(steps[3] / steps[1])
    assert "3 steps / 1 step" in B.format_table(rows, [ratio])


def test_errors_become_rows_not_crashes():
    row = M.error_row("unet", "m", "step", (64, 64), RuntimeError("CUDA out of memory. Tried ..."))
    assert row.note == "out of memory" and np.isnan(row.median_s)
    with pytest.raises(ValueError, match="unknown dtype"):
        B.run(parts=["unet"], dtypes=["int4"])
    with pytest.raises(ValueError, match="unknown bench part"):
        B.run(parts=["vae"])


def test_startup_part_times_fresh_processes():
    rows = B.bench_startup(stages=("import", "info"), repeats=2, warmup=0)
    assert [(r.part, r.stage, r.size) for r in rows] == [("startup", "import", "-"), ("startup", "info", "768x512")]
    for r in rows:
        assert r.repeats == 2 and 0 < r.min_s <= r.median_s and r.note.startswith("fresh process"), r.note
        assert np.isnan(r.peak_mem_mb)  # the child's memory is not measured
    with pytest.raises(ValueError, match="unknown start-up stage"):
        B.bench_startup(stages=("boot",))


def test_startup_part_times_each_library_import_as_the_floor():
    rows = B.bench_startup(stages=("torch",), repeats=1, warmup=0)
    assert [(r.stage, r.size) for r in rows] == [("torch", "-")]
    assert "import torch" in rows[0].note and "library floor" in rows[0].note and rows[0].median_s > 0


def test_a_failing_process_is_an_error_with_its_last_line():
    with pytest.raises(RuntimeError, match="exit status 1: boom"):
        B._run_to_exit([sys.executable, "-c", "import sys; print('noise', file=sys.stderr); sys.exit('boom')"])


def test_bench_command_prints_one_vs_k_steps(tmp_path, capsys):
    """``ditic-lite bench`` with the shipped tiny codec: a checkpoint that fails to load fails here."""
    parser = argparse.ArgumentParser()
    B.add_cli(parser.add_subparsers())
    out = tmp_path / "bench.json"
    args = parser.parse_args(["bench", "--parts", "tiny,steps", "--sizes", "256", "--steps", "4",
                              "--repeats", "2", "--out", str(out)])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    result = json.loads(out.read_text())
    errors = [r["note"] for r in result["rows"] if r["median_s"] is None]
    assert not errors, errors  # bench turns a failure (e.g. a checkpoint that does not load) into a row
    assert "tiny decode, 4 steps / 1 step at 256x256" in text
    assert result["meta"]["statistic"] == "median" and result["ratios"][0]["ratio"] > 0
    assert {r["stage"] for r in result["rows"]} >= {"total", "entropy", "dit", "decoder"}
