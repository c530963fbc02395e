"""A few steps of every training stage, resumption, export, and a 2-process CPU run."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ditic_lite.train import STAGE_DEFAULTS, TrainArgs, build_model, train

ROOT = Path(__file__).resolve().parents[1]


def _args(stage, train_folder, runs, **kw):
    small = dict(steps=2, batch_size=1, crop=256 if stage not in ("ae",) else 64, lr=1e-4, lmbda=1.0, save_every=1)
    small.update(kw)
    return TrainArgs(stage=stage, data=train_folder, runs=runs, **small)


@pytest.mark.slow
def test_every_stage_runs_resumes_and_exports(train_folder, tmp_path):
    runs = tmp_path / "runs"
    for stage in ("ae", "dit", "warmup", "stage1"):
        summary = train(_args(stage, train_folder, runs))
        assert summary["steps"] == 2
        assert (runs / stage / "model.safetensors").exists()
    assert json.loads((runs / "config.json").read_text())["vae"]["scaling_factor"] > 0
    # stage 1 starts from the warm-up's codec and auxiliary encoder
    warm = load_file(str(runs / "warmup" / "model.safetensors"))
    start = build_model(_args("stage1", train_folder, runs))[0].state_dict()
    for key in [k for k in warm if k.startswith(("codec.g_a", "aux_codec."))][:4]:
        assert torch.equal(start[key], warm[key]), key
    # resume: asking for 3 steps continues from step 2
    summary = train(_args("stage1", train_folder, runs, steps=3))
    assert summary["steps"] == 3 and summary["minutes_this_run"] < 5
    assert summary["minutes_total"] > summary["minutes_this_run"]
    for stage in ("stage2", "mse"):
        train(_args(stage, train_folder, runs, rate_id=0))
        assert (runs / f"{stage}_r0" / "model.safetensors").exists()
    history = json.loads((runs / "stage2_r0" / "progress.json").read_text())
    assert history["step"] == 2

    from ditic_lite import recipe, zoo
    out = tmp_path / "checkpoints"
    cards = recipe.export(runs, out=out)
    assert {(c["model"], c["rate"]) for c in cards} == {("tiny", 0), ("mse", 0)}
    for f in ("tiny/base", "tiny/shared", "tiny/rate0", "mse/rate0"):
        card = json.loads((out / f"{f}.json").read_text())
        assert card["sha256"] == zoo.sha256_file(out / f"{f}.safetensors")
    assert "validation_images" in card


def test_unknown_stage_and_missing_data(tmp_path):
    with pytest.raises(ValueError, match="unknown stage"):
        train(TrainArgs(stage="nope", data=tmp_path, runs=tmp_path))
    with pytest.raises(FileNotFoundError, match="captions.csv"):
        train(TrainArgs(stage="ae", data=tmp_path, runs=tmp_path, steps=1))


def test_stage_defaults_are_complete():
    for stage, d in STAGE_DEFAULTS.items():
        assert {"steps", "batch_size", "crop", "lr"} <= set(d), stage
        if stage not in ("ae", "dit"):
            assert d["crop"] >= 256  # the codec stages use >= 256 px crops (issue 3)


@pytest.mark.slow
def test_two_process_cpu_run(train_folder, tmp_path):
    """Two gloo processes through accelerate (torchrun launcher; see train.py docstring)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "ditic_lite.train",
           "ae", "--data", str(train_folder), "--runs", str(tmp_path / "runs"), "--steps", "2",
           "--batch-size", "1", "--crop", "64", "--cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "runs" / "ae" / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == 2
