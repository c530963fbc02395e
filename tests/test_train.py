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

from ditic_lite.training.cli import add_cli, parse_train_args
from ditic_lite.training.stages import STAGE_CONFIGS, stage_config
from ditic_lite.training.loop import train

ROOT = Path(__file__).resolve().parents[1]


def _args(stage, train_folder, runs, **kw):
    small = dict(steps=2, batch_size=1, crop=64 if stage == "ae" else 8, lr=1e-4, save_every=1)
    small.update(kw)
    return stage_config(stage, data=train_folder, runs=runs, **small)


@pytest.mark.slow
def test_every_stage_runs_resumes_and_exports(train_folder, tmp_path, monkeypatch):
    from ditic_lite import zoo
    from ditic_lite.training import export as shipping
    from ditic_lite.training.latent_cache import CacheMismatch, read_index
    from ditic_lite.training.loop import make_cache

    runs = tmp_path / "runs"
    train(_args("ae", train_folder, runs))
    assert json.loads((runs / "config.json").read_text())["vae"]["scaling_factor"] > 0
    with pytest.raises(FileNotFoundError, match="train cache"):  # the codec stages need the cache
        train(_args("mse", train_folder, runs))
    index = make_cache(runs, train_folder, progress=False)
    assert index["photos"] == 6 and len(index["views"]) == 12  # 768x512 photos: one size, mirrored
    for stage in ("dit", "codec", "mse"):
        summary = train(_args(stage, train_folder, runs))
        assert summary["steps"] == 2 and (runs / stage / "model.safetensors").exists()
    steps = load_file(str(runs / "codec" / "stage.safetensors"))["rate_log_steps"]
    assert steps.shape == (4, 128) and not torch.equal(steps[0], steps[1])  # one row per rate point

    # the encoder is frozen for good: the autoencoder trains its decoder alone from now on
    encoder_file = load_file(str(runs / "cache" / "encoder.safetensors"))
    train(_args("ae", train_folder, runs, steps=3))
    ae = load_file(str(runs / "ae" / "model.safetensors"))
    assert all(torch.equal(ae[k], encoder_file[k]) for k in encoder_file if k.startswith("vae."))
    # the decoder's fine-tune on the trained codecs' decoded latents: the decoder moves, the encoder stays
    before = load_file(str(runs / "ae" / "model.safetensors"))
    train(_args("ae", train_folder, runs, steps=5, crop=256, decoded_share=1.0, ms_ssim_weight=0.1))
    after = load_file(str(runs / "ae" / "model.safetensors"))
    assert all(torch.equal(after[k], encoder_file[k]) for k in encoder_file if k.startswith("vae."))
    assert any(not torch.equal(after[k], before[k]) for k in after if k.startswith("vae.decoder."))
    # resume: asking for 3 steps continues from step 2, at the lr asked for now (annealing)
    summary = train(_args("codec", train_folder, runs, steps=3, lr=3e-5))
    assert summary["steps"] == 3 and summary["minutes_total"] > summary["minutes_this_run"]
    saved = torch.load(runs / "codec" / "state" / "optimizer.bin", weights_only=False)
    assert {g["lr"] for g in saved["param_groups"]} == {3e-5}
    # DiT-IC's pixel-space tune: its DiT and decoder LoRA learn; the codec, so every file's bytes, stays
    from ditic_lite.training.stages import PixelTuneStep
    monkeypatch.setattr(PixelTuneStep, "adversarial_start", 1)  # the discriminator's term from step 2
    codec_state = load_file(str(runs / "codec" / "model.safetensors"))
    summary = train(_args("tune", train_folder, runs, steps=3, crop=256, adversarial_weight=0.1,
                          ms_ssim_weight=0.05, distill_margin=0.04))
    assert summary["runs"][-1]["codec_step"] == 3 and summary["runs"][-1]["adversarial_weight"] == 0.1
    tuned = load_file(str(runs / "tune" / "model.safetensors"))
    assert all(torch.equal(tuned[k], v) for k, v in codec_state.items() if k.startswith(("codec.", "prompter.")))
    for part in ("DiT.", "vae.decoder."):
        lora_b = [k for k in tuned if k.startswith(part) and "lora_B" in k]
        assert lora_b and any(tuned[k].abs().sum() > 0 for k in lora_b), part
    assert all(torch.equal(tuned[k], v) for k, v in codec_state.items()
               if k.startswith("vae.") and "lora_" not in k)  # the decoder's base weights stay

    out = tmp_path / "checkpoints"
    cards = shipping.export(runs, out=out)
    shared = load_file(str(out / "tiny" / "shared.safetensors"))  # the tune's LoRA ships with DiT-IC
    assert any(shared[k].abs().sum() > 0 for k in shared if k.startswith("vae.") and "lora_B" in k)
    mse_shared = load_file(str(out / "mse" / "shared.safetensors"))  # and not with the baseline
    assert all(mse_shared[k].abs().sum() == 0 for k in mse_shared if "lora_B" in k)
    assert json.loads((out / "tiny" / "rate0.json").read_text())["stages"].keys() == {"codec", "tune"}
    steps = load_file(str(runs / "codec" / "stage.safetensors"))["rate_log_steps"]  # as exported
    assert {(c["model"], c["rate"]) for c in cards} == {(m, r) for m in ("tiny", "mse") for r in range(4)}
    for f in ("tiny/base", "tiny/shared", "tiny/rate0", "mse/shared", "mse/rate3"):
        card = json.loads((out / f"{f}.json").read_text())
        assert card["sha256"] == zoo.sha256_file(out / f"{f}.safetensors")
        assert card["encoder_sha256"] == index["encoder_sha256"]
    # every rate point of a model is the same codec with its own steps: one file of 128 numbers
    assert set(load_file(str(out / "tiny" / "rate1.safetensors"))) == {"codec.log_step"}
    codec = zoo.load("tiny", rate=1, checkpoints=out)
    assert torch.allclose(codec.model.codec.log_step, steps[1].half().float())
    data = codec.compress(train_folder / "kite_0.png")
    assert codec.decompress(data).size == (768, 512)
    # the realism decoder: a texture head on the exported DiT-IC's fidelity decoder, the same files
    from ditic_lite.training.stages.realism import RealismStep, export_realism
    monkeypatch.setattr(RealismStep, "adversarial_start", 1)
    summary = train(_args("realism", train_folder, runs, steps=3, batch_size=1, crop=256, adversarial_weight=0.01,
                          follow_detail=True, detail_power=2))
    assert summary["runs"][-1]["codec_step"] == 3 and summary["runs"][-1]["adversarial_weight"] == 0.01
    assert load_file(str(runs / "realism" / "stage.safetensors"))["gate.weight"].abs().sum() > 0  # the head learned
    realism_card = export_realism(runs, out=out)
    assert realism_card["sha256"] == zoo.sha256_file(out / "tiny" / "realism.safetensors")
    assert realism_card["head"] == dict(width=32, noise_channels=4, blocks=4, follow_detail=True, detail_power=2)
    codec = zoo.load("tiny", rate=1, checkpoints=out)
    assert codec.realism is not None and zoo.load("mse", rate=1, checkpoints=out).realism is None
    realism = codec.decompress(data, decoder="realism")
    assert realism.size == (768, 512) and codec.compress(train_folder / "kite_0.png") == data  # same bytes
    # the exported encoder makes the cached latents: a cache of another encoder is refused
    from ditic_lite.training.latent_cache import model_encoder_digest
    assert model_encoder_digest(codec.model) == read_index(runs / "cache")["encoder_sha256"]
    # an export seeds a new runs folder (the next session resumes from the repository alone)
    again = tmp_path / "again"
    assert {"ae", "dit", "codec", "mse", "tune"} <= set(shipping.seed_runs(again, checkpoints=out))
    assert load_file(str(again / "cache" / "encoder.safetensors")).keys() == encoder_file.keys()
    seeded = load_file(str(again / "codec" / "stage.safetensors"))["rate_log_steps"]
    assert torch.equal(seeded, steps.half().float())
    # a codec trained on after its tune is not exported with the old LoRA: the tune goes on first
    train(_args("codec", train_folder, runs, steps=4))
    with pytest.raises(ValueError, match="train tune"):
        shipping.export(runs, out=tmp_path / "stale")
    train(_args("tune", train_folder, runs, steps=4, crop=256, ms_ssim_weight=0.05, distill_margin=0.04))
    assert shipping.export(runs, out=tmp_path / "retuned")
    (runs / "cache" / "index.json").write_text(json.dumps({**index, "encoder_sha256": "0" * 64}))
    with pytest.raises(CacheMismatch, match="rebuild it"):
        train(_args("mse", train_folder, runs, steps=3))


def test_unknown_stage_and_missing_data(tmp_path):
    with pytest.raises(ValueError, match="unknown stage"):
        stage_config("nope", data=tmp_path, runs=tmp_path)
    with pytest.raises(ValueError, match="stage ae has no setting adversarial_weight"):
        stage_config("ae", adversarial_weight=0.5)
    with pytest.raises(FileNotFoundError, match="captions.csv"):
        train(stage_config("ae", data=tmp_path, runs=tmp_path, steps=1))


def test_every_stage_is_one_object_with_its_config():
    from ditic_lite.training.stages import STAGE_STEPS
    assert STAGE_STEPS.keys() == STAGE_CONFIGS.keys()  # one step class per stage config
    for stage, step in STAGE_STEPS.items():
        assert step.Config is STAGE_CONFIGS[stage] and step.Config.stage == stage
        assert set(step.upstream) < set(STAGE_CONFIGS)  # it starts from stages that exist
        assert step.Config().trained_settings().keys() >= {"batch_size", "crop", "lr"}
        assert "runs" not in step.Config().trained_settings()  # where a run goes is not what it trains
    for stage in ("codec", "mse"):
        assert STAGE_CONFIGS[stage]().crop >= 16  # latent crops of >= 512 px: a y grid of >= 8x8 (issue 20)


def test_cli_arguments_go_over_the_stage_defaults():
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers())
    ns = parser.parse_args(["train", "codec", "--steps", "7", "--no-bf16", "--channels-last", "--lambdas", "3,1"])
    args = parse_train_args(ns)
    assert args == stage_config("codec", steps=7, bf16=False, channels_last=True, lambdas=(3.0, 1.0))
    defaults = STAGE_CONFIGS["codec"]()
    assert (args.lr, args.distill_margin) == (defaults.lr, defaults.distill_margin)
    assert parse_train_args(parser.parse_args(["train", "ae"])).bf16  # ae's default
    assert args.variance_weight == defaults.variance_weight > 0
    ablated = parse_train_args(parser.parse_args(["train", "codec", "--variance-weight", "0", "--distill-margin", "0.5"]))
    assert (ablated.variance_weight, ablated.distill_margin) == (0.0, 0.5)
    assert parse_train_args(parser.parse_args(["train", "ae", "--ms-ssim-weight", "0.2"])).ms_ssim_weight == 0.2
    assert not hasattr(args, "ms_ssim_weight")  # a setting of the stages on pixels only
    tune = parse_train_args(parser.parse_args(["train", "tune"]))
    assert tune.adversarial_weight == STAGE_CONFIGS["tune"]().adversarial_weight > 0 and tune.crop >= 256
    assert parse_train_args(parser.parse_args(["train", "tune", "--adversarial-weight", "0"])).adversarial_weight == 0
    with pytest.raises(ValueError, match="stage ae has no setting --adversarial-weight"):
        parse_train_args(parser.parse_args(["train", "ae", "--adversarial-weight", "0.5"]))
    # every option comes from a config field, its help text from the field's
    from dataclasses import fields
    help_text = " ".join(parser._subparsers._group_actions[0].choices["train"].format_help().split())
    assert all("--" + f.name.replace("_", "-") in help_text for c in STAGE_CONFIGS.values() for f in fields(c))
    energy = STAGE_CONFIGS["realism"].__dataclass_fields__["energy_weight"]
    assert f"{energy.metadata['help']} (realism {energy.default})" in help_text


def test_decoded_latents_of_the_decoder_fine_tune_are_those_of_a_file(tiny_model, sample_paths):
    """The fine-tune's y_hat is the eval-mode codec's (the rounding of real files), unscaled."""
    from ditic_lite.images import to_tensor
    from ditic_lite.training.stages import AutoencoderStep
    x = to_tensor(sample_paths[0])[..., :256, :256]
    log_steps = tiny_model.codec.log_step.detach()[None]  # one rate point: the model's own steps
    step = AutoencoderStep(tiny_model, list(tiny_model.vae.decoder.parameters()), 1e-4,
                           decoded_share=1.0, codecs=[(tiny_model, log_steps)], quant_jitter=0.0)
    with torch.no_grad():
        expected = tiny_model(x, decode=False)["y_hat"] / tiny_model.scaling_factor
    assert torch.equal(step.decoded_latent(x), expected)
    with pytest.raises(ValueError, match="trained codecs"):
        AutoencoderStep(tiny_model, list(tiny_model.vae.decoder.parameters()), 1e-4, decoded_share=0.5)


def test_ms_ssim_term_of_the_autoencoder_stage(tiny_model, sample_paths):
    """``--ms-ssim-weight w`` adds w * (1 - MS-SSIM) of the reconstruction to MSE + L1, with a gradient."""
    from ditic_lite.images import to_tensor
    from ditic_lite.training.stages import AutoencoderStep
    decoder = list(tiny_model.vae.decoder.parameters())
    trainable = [p.requires_grad for p in decoder]
    for p in decoder:
        p.requires_grad_(True)
    x = to_tensor(sample_paths[0])[..., :128, :128]
    losses = {}
    for weight in (0.0, 0.5):
        step = AutoencoderStep(tiny_model, decoder, 1e-4, ms_ssim_weight=weight)
        step.trained = tiny_model.vae  # what prepare() hands the loss
        losses[weight] = step.loss((x, None))
    (plain, plain_logs), (with_term, logs) = losses[0.0], losses[0.5]
    assert "ms_ssim" not in plain_logs and 0.0 <= logs["ms_ssim"] <= 1.0
    assert float((with_term - plain).detach()) == pytest.approx(0.5 * (1 - logs["ms_ssim"]), rel=1e-4, abs=1e-6)
    tiny_model.vae.zero_grad()
    with_term.backward()
    grads = [p.grad for p in decoder if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    tiny_model.vae.zero_grad(set_to_none=True)
    for p, flag in zip(decoder, trainable):
        p.requires_grad_(flag)


@pytest.mark.slow
def test_two_process_cpu_run(train_folder, tmp_path):
    """Two gloo processes through accelerate (torchrun launcher; see the docstring of ditic_lite/training/loop.py)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "ditic_lite.training",
           "ae", "--data", str(train_folder), "--runs", str(tmp_path / "runs"), "--steps", "2",
           "--batch-size", "1", "--crop", "64", "--cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "runs" / "ae" / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == 2


@pytest.mark.slow
def test_training_continues_from_the_shipped_checkpoints(train_folder, tmp_path):
    """seed_runs -> export reproduces the shipped files; the decoder trains on, the encoder stays."""
    from ditic_lite import zoo
    from ditic_lite.training import export as shipping
    from ditic_lite.training.loop import make_cache
    runs = tmp_path / "runs"
    seeded = shipping.seed_runs(runs)
    shipped_config = json.loads((zoo.CHECKPOINT_DIR / "tiny" / "config.json").read_text())
    current = shipped_config["codec"].get("channel_steps", False)
    assert {"ae", "dit"} <= set(seeded) and current == ({"codec", "mse"} <= set(seeded))
    assert shipping.seed_runs(runs) == []  # stages already there are kept
    if (zoo.CHECKPOINT_DIR / "tiny" / "realism.safetensors").exists():  # the realism head continues too
        assert "realism" in seeded and (runs / "realism" / "stage.safetensors").exists()
        shipped_realism = json.loads((zoo.CHECKPOINT_DIR / "tiny" / "realism.json").read_text())["stages"]["realism"]
        assert json.loads((runs / "realism" / "progress.json").read_text())["step"] == shipped_realism["steps"]
    assert json.loads((runs / "config.json").read_text())["codec"]["channel_steps"]  # the preset's codec
    shipped_ae = json.loads((zoo.CHECKPOINT_DIR / "tiny" / "base.json").read_text())["stages"]["ae"]
    assert json.loads((runs / "ae" / "progress.json").read_text())["step"] == shipped_ae["steps"]
    if current:  # the shipped codecs come back file for file
        make_cache(runs, train_folder, progress=False)
        out = tmp_path / "export"
        shipping.export(runs, out=out)
        for part in ("tiny/base", "tiny/shared", "tiny/rate0", "mse/shared", "mse/rate0"):
            a = load_file(str(zoo.CHECKPOINT_DIR / f"{part}.safetensors"))
            b = load_file(str(out / f"{part}.safetensors"))
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), part

    # two more autoencoder steps, decoder only: the encoder (so the latent space) is unchanged
    steps = shipped_ae["steps"] + 2
    summary = train(_args("ae", train_folder, runs, steps=steps, freeze_encoder=True, bf16=True, validate_minutes=0))
    assert summary["steps"] == steps and len(summary["runs"]) == len(shipped_ae.get("runs", [None])) + 1
    assert summary["runs"][-1]["from_step"] == shipped_ae["steps"]
    assert summary["minutes_total"] > shipped_ae["minutes_total"]
    before = load_file(str(zoo.CHECKPOINT_DIR / "tiny/base.safetensors"))
    after = load_file(str(runs / "ae" / "model.safetensors"))
    enc = [k for k in before if k.startswith("vae.encoder.")]
    dec = [k for k in before if k.startswith("vae.decoder.") and k.endswith("weight")]
    assert all(torch.equal(before[k].float(), after[k]) for k in enc)
    assert any(not torch.equal(before[k].float(), after[k]) for k in dec)


def test_stop_request_turns_sigterm_into_a_flag():
    import signal
    from ditic_lite.training.loop import StopRequest
    previous = signal.getsignal(signal.SIGTERM)
    stop = StopRequest()
    signal.raise_signal(signal.SIGTERM)
    assert stop.requested
    stop.restore()
    assert signal.getsignal(signal.SIGTERM) == previous


@pytest.mark.slow
def test_gpu_recipe_at_toy_size(train_folder, tmp_path):
    """scripts/train_gpu.sh's recipe at toy size on the CPU: every phase continues from the shipped
    checkpoints (a few steps each), then the export."""
    from ditic_lite import zoo
    from ditic_lite.training import pipeline, recipe
    summary = pipeline.train_gpu(tmp_path, train_folder, minutes=100, toy=True)
    stored = json.loads((tmp_path / "summary.json").read_text())
    assert [s["phase"] for s in stored["phases"]] == [p.name for p in recipe.RECIPE if p.stage != "cache"]
    shipped = json.loads((zoo.CHECKPOINT_DIR / "tiny" / "base.json").read_text())["stages"]
    ae_steps = [s["steps"] for s in summary["phases"] if s["stage"] == "ae"]
    assert ae_steps == [shipped["ae"]["steps"] + k * recipe.TOY_STEPS for k in (1, 2, 3)]
    assert next(s["steps"] for s in summary["phases"] if s["stage"] == "dit") == shipped["dit"]["steps"] + recipe.TOY_STEPS
    assert zoo.available_rates("tiny", tmp_path / "checkpoints") == [0, 1, 2, 3]
    codec = zoo.load("mse", rate=0, checkpoints=tmp_path / "checkpoints")
    assert codec.card["recipe"]["sha256"] == recipe.recipe_hash(recipe.toy_recipe(recipe.gpu_recipe()))
