"""A few steps of every training stage, resumption, export, and a 2-process CPU run."""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ditic_lite.train import STAGE_DEFAULTS, TrainArgs, add_cli, build_model, parse_train_args, train

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
    # the autoencoder moves on after stage 1 saved its training state ...
    stale = load_file(str(runs / "stage1" / "model.safetensors"))
    train(_args("ae", train_folder, runs, steps=3))
    ae = load_file(str(runs / "ae" / "model.safetensors"))
    encoder = [k for k in ae if k.startswith("vae.encoder.") and k.endswith("weight")]
    assert any(not torch.equal(ae[k], stale[k]) for k in encoder)
    # resume: asking for 3 steps continues from step 2, on the new autoencoder (not the state's copy)
    summary = train(_args("stage1", train_folder, runs, steps=3))
    assert summary["steps"] == 3 and summary["minutes_this_run"] < 5
    assert summary["minutes_total"] > summary["minutes_this_run"]
    resumed = load_file(str(runs / "stage1" / "model.safetensors"))
    assert all(torch.equal(resumed[k], ae[k]) for k in encoder)
    for stage in ("stage2", "mse"):
        train(_args(stage, train_folder, runs, rate_id=0))
        assert (runs / f"{stage}_r0" / "model.safetensors").exists()
    history = json.loads((runs / "stage2_r0" / "progress.json").read_text())
    assert history["step"] == 2

    from ditic_lite import shipping, zoo
    out = tmp_path / "checkpoints"
    cards = shipping.export(runs, out=out)
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
    from ditic_lite.train_stages import STAGE_STEPS
    assert STAGE_STEPS.keys() == STAGE_DEFAULTS.keys()  # one step per stage
    for stage, d in STAGE_DEFAULTS.items():
        assert {"steps", "batch_size", "crop", "lr"} <= set(d), stage
        if stage not in ("ae", "dit"):
            assert d["crop"] >= 256  # the codec stages use >= 256 px crops (issue 3)


def test_cli_arguments_go_over_the_stage_defaults():
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers())
    ns = parser.parse_args(["train", "stage1", "--steps", "7", "--no-bf16", "--channels-last"])
    args = parse_train_args(ns)
    assert args == TrainArgs.for_stage("stage1", data=Path(ns.data), steps=7, channels_last=True)
    assert (args.lr, args.lmbda, args.distill_margin) == tuple(STAGE_DEFAULTS["stage1"][k] for k in
                                                               ("lr", "lmbda", "distill_margin"))
    assert parse_train_args(parser.parse_args(["train", "ae"])).bf16  # ae's default


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


@pytest.mark.slow
def test_training_continues_from_the_shipped_checkpoints(train_folder, tmp_path):
    """seed_runs -> export reproduces the shipped files; a decoder-only run keeps the latent."""
    from ditic_lite import shipping, zoo
    runs = tmp_path / "runs"
    seeded = shipping.seed_runs(runs)
    assert {"ae", "dit", "warmup", "stage1", "stage2_r0", "mse_r0"} <= set(seeded)
    assert shipping.seed_runs(runs) == []  # stages already there are kept
    shipped_ae = json.loads((zoo.CHECKPOINT_DIR / "tiny" / "base.json").read_text())["stages"]["ae"]
    assert json.loads((runs / "ae" / "progress.json").read_text())["step"] == shipped_ae["steps"]
    out = tmp_path / "export"
    shipping.export(runs, out=out)
    for part in ("tiny/base", "tiny/shared", "tiny/rate0", "mse/rate0"):
        a = load_file(str(zoo.CHECKPOINT_DIR / f"{part}.safetensors"))
        b = load_file(str(out / f"{part}.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), part

    # two more autoencoder steps, decoder only: the encoder (so the latent space) is unchanged
    steps = shipped_ae["steps"] + 2
    summary = train(_args("ae", train_folder, runs, steps=steps, freeze_encoder=True, bf16=True, validate_minutes=0))
    assert summary["steps"] == steps and len(summary["runs"]) == len(shipped_ae.get("runs", [None])) + 1
    assert summary["runs"][-1]["from_step"] == shipped_ae["steps"]
    assert summary["minutes_total"] > shipped_ae["minutes_total"]
    before, after = load_file(str(out / "tiny/base.safetensors")), load_file(str(runs / "ae" / "model.safetensors"))
    enc = [k for k in before if k.startswith("vae.encoder.")]
    dec = [k for k in before if k.startswith("vae.decoder.") and k.endswith("weight")]
    assert all(torch.equal(before[k].float(), after[k]) for k in enc)
    assert any(not torch.equal(before[k].float(), after[k]) for k in dec)

    # a rate point continues from its own weights on top of the new decoder (not stage 1's copy)
    model, _ = build_model(_args("stage2", train_folder, runs, rate_id=0))
    state = model.state_dict()
    key = next(k for k in dec if k.replace(".weight", ".base_layer.weight") in state)
    assert torch.equal(state[key.replace(".weight", ".base_layer.weight")], after[key])


def test_stop_request_turns_sigterm_into_a_flag():
    import signal
    from ditic_lite.train import StopRequest
    previous = signal.getsignal(signal.SIGTERM)
    stop = StopRequest()
    signal.raise_signal(signal.SIGTERM)
    assert stop.requested
    stop.restore()
    assert signal.getsignal(signal.SIGTERM) == previous


@pytest.mark.slow
def test_gpu_recipe_at_toy_size(train_folder, tmp_path):
    """scripts/train_gpu.sh's recipe, one step a stage on the CPU: continues every stage, exports."""
    from ditic_lite import recipe, zoo
    summary = recipe.train_gpu(tmp_path, train_folder, minutes=100, step_cap=1, batch_size=1, crop=256)
    stored = json.loads((tmp_path / "summary.json").read_text())
    assert [s["stage"] for s in stored["stages"]] == [stage for stage, _, _ in recipe.GPU_PLAN]
    shipped = json.loads((zoo.CHECKPOINT_DIR / "tiny" / "base.json").read_text())["stages"]
    by_stage = {s["stage"]: s["steps"] for s in summary["stages"]}
    assert all(by_stage[k] == shipped[k]["steps"] + 1 for k in ("ae", "dit", "warmup", "stage1"))
    assert zoo.available_rates("tiny", tmp_path / "checkpoints") == zoo.available_rates("tiny")
    codec = zoo.load("mse", rate=0, checkpoints=tmp_path / "checkpoints")
    assert codec.card["stages"]["mse_r0"]["steps"] == json.loads(
        (zoo.CHECKPOINT_DIR / "mse" / "rate0.json").read_text())["stages"]["mse_r0"]["steps"] + 1
