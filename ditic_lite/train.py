"""Training stages of the tiny tier, through ``accelerate`` (CPU, one GPU or several).

    ditic-lite train ae                                # (a) autoencoder (AutoencoderDC, space-to-depth stem)
    ditic-lite train dit                               # (b) base DiT: caption-conditioned rectified flow on latents
    ditic-lite train warmup                            # (c0) latent codec alone, in latent space (cheap)
    ditic-lite train stage1                            # (c) DiT-IC stage 1 at lambda_base, no GAN
    ditic-lite train stage2 --rate-id 0 --lmbda 4.0    # (d) per-rate fine-tune with adversarial loss
    ditic-lite train mse --rate-id 0 --lmbda 4.0       # MSE baseline (same codec, no DiT)
    ditic-lite train all                               # everything above in order, then export

Every stage is resumable (``accelerate`` state in ``runs/<stage>/state``; rerun the same command),
stops cleanly at ``--max-minutes`` or on SIGTERM/Ctrl-C (saving first; at most ``--save-minutes``
of work is lost if it is killed outright), seeds everything, keeps an EMA of the trainable weights
and writes the EMA weights. ``--from-shipped`` first copies the committed checkpoints into
``runs/`` (weights, steps and wall time per stage, see :func:`ditic_lite.shipping.seed_runs`), so
training continues where the shipped model stopped instead of starting again. A stage with no saved
state starts from its own ``runs/<stage>/model.safetensors`` when there is one (the parts it
trains), on top of the upstream stages' newest weights. ``--bf16`` runs the forward pass under CPU/GPU
bf16 autocast (fp32 master weights); ``--freeze-encoder`` trains only the autoencoder's decoder,
which keeps the latent space, and so every later stage, valid. Several processes: ``torchrun --nproc_per_node 2 -m ditic_lite.train ...``
on a CPU (gloo), ``accelerate launch --multi_gpu -m ditic_lite.train ...`` on GPUs.

Loss of the DiT-IC stages (paper eq. 9; SPEC section 11):
``L = lambda * R + D + L_distill + L_cond (+ L_adv)``, ``D = MSE + w * (1 - MS-SSIM)``
(+ LPIPS/DISTS when their weights are available).

The codec warm-up is the kit's addition for cheap hardware (not in the paper): before stage 1,
the latent codec and the auxiliary encoder learn ``L = lambda * R + MSE(y_tilde, E(x))`` in the
autoencoder's latent space, with no DiT and no decoder in the step, so a CPU gets several
times more codec steps per minute; stage 1 then starts from a codec that already carries the latent.

This module is the loop (:func:`train`), ``train all`` and the CLI. The settings of each stage are
in :mod:`~ditic_lite.train_config`, the photos and captions in :mod:`~ditic_lite.train_data`, the
weights a stage starts from and trains in :mod:`~ditic_lite.train_setup`, the loss and update of
each stage in :mod:`~ditic_lite.train_stages`, export and seeding in :mod:`~ditic_lite.shipping`.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from .checkpoints import write_safetensors
from .determinism import seed_everything
from .shipping import export, hardware, seed_runs
from .train_config import DEFAULT_DATA, RATE_LAMBDAS, STAGE_DEFAULTS, TrainArgs, run_weights
from .train_data import VALIDATION, CropDataset, caption_embeddings, load_training_set, validation_images
from .train_setup import build_model, continue_own_weights, restore_upstream, set_trainable, upstream_weights
from .train_stages import STAGE_STEPS, make_step, measure_scaling_factor, validate_autoencoder

# names kept importable from here: ditic_lite.train.VALIDATION, .caption_embeddings, .set_trainable, ...
__all__ = ["TrainArgs", "STAGE_DEFAULTS", "VALIDATION", "train", "train_all", "build_model", "set_trainable",
           "caption_embeddings", "StopRequest", "add_cli"]


class StopRequest:
    """Turns SIGTERM / Ctrl-C into a request that the loop honours after the current step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not in the main thread: keep the default handlers
                pass

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        print(f"signal {signum}: stopping after this step and saving", flush=True)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def train(args: TrainArgs) -> dict[str, Any]:
    """Run one stage; returns the summary that goes into the model cards."""
    if args.stage not in STAGE_DEFAULTS:
        raise ValueError(f"unknown stage '{args.stage}'; choose from {sorted(STAGE_DEFAULTS)} or all")
    ddp = DistributedDataParallelKwargs(find_unused_parameters=STAGE_STEPS[args.stage].trained_part is None)
    accelerator = Accelerator(cpu=args.cpu or not torch.cuda.is_available(), kwargs_handlers=[ddp])
    seed_everything(args.seed + accelerator.process_index)
    run_dir = args.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    images, captions = load_training_set(args.data)
    cap_emb = caption_embeddings(captions, args.runs / "captions.safetensors") if args.stage != "ae" else None

    model, cfg = build_model(args)
    params = set_trainable(model, args.stage, args.freeze_encoder)
    state_dir, progress_file = run_dir / "state", run_dir / "progress.json"
    progress = json.loads(progress_file.read_text()) if progress_file.exists() else {}
    resume = state_dir.exists() and bool(progress)
    if not resume and not continue_own_weights(model, args, params):
        progress = {}  # nothing to continue from: a fresh start
    stage = make_step(args, model, params, cap_emb)  # with its own modules and optimisers

    dataset = CropDataset(images, args.crop, length=10**9, colour_augment=args.colour_augment)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, num_workers=0)
    loader = stage.prepare(accelerator, loader, channels_last=args.channels_last, compile=args.compile)
    ema = EMAModel(params, decay=args.ema_decay)
    accelerator.register_for_checkpointing(ema)
    for saved in stage.checkpointed():
        accelerator.register_for_checkpointing(saved)

    step = progress.get("step", 0)
    if resume:
        upstream = upstream_weights(model, args.stage)  # newer than the state's copies, maybe
        accelerator.load_state(str(state_dir), strict=False)  # entropy tables: recomputed
        restore_upstream(model, upstream)
        accelerator.print(f"resumed {args.stage} at step {step}")
    elif step:
        accelerator.print(f"continuing {args.stage} from its weights at step {step} (new optimiser state)")
    history: list[dict[str, float]] = progress.get("history", [])
    first_step, start, last_save, losses, step_seconds = step, time.time(), time.time(), [], []
    runs_done: list[dict[str, Any]] = progress.get("runs", [])

    def this_run() -> dict[str, Any]:
        return {"from_step": first_step, "to_step": step, "minutes": (time.time() - start) / 60,
                "hardware": hardware(), "processes": accelerator.num_processes,
                "threads": torch.get_num_threads(), "bf16": args.bf16,
                "channels_last": args.channels_last, "compile": args.compile,
                "freeze_encoder": args.freeze_encoder, "batch_size": args.batch_size, "crop": args.crop,
                "lr": args.lr, "seconds_per_step": float(np.median(step_seconds[1:] or step_seconds or [np.nan]))}

    def write_progress() -> None:  # steps, wall time over every run so far, loss history
        minutes = progress.get("minutes", 0.0) + (time.time() - start) / 60
        progress_file.write_text(json.dumps({"step": step, "minutes": minutes, "history": history,
                                             "runs": [*runs_done, this_run()]}))
    validation = validation_images(args.data) if args.stage == "ae" and args.validate_minutes > 0 else []
    last_validation = 0.0 if validation else float("inf")

    def validated_at(at: int) -> bool:
        return any(h["step"] == at and "val_psnr" in h for h in history)

    def validate() -> None:  # held-out quality of the EMA weights, i.e. of what would be exported
        ema.store(params)
        ema.copy_to(params)
        history.append({"step": step, **validate_autoencoder(model, validation)})
        ema.restore(params)
    stop = StopRequest()
    bar = tqdm(total=args.steps, initial=step, desc=args.stage, disable=not accelerator.is_main_process)
    data_iter = iter(loader)
    # a fresh Adam moves every weight by about lr in its first steps: ramp lr up over warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        stage.optimizer, lambda i: min(1.0, (i + 1) / args.warmup_steps) if not resume else 1.0)
    while step < args.steps and (time.time() - start) / 60 < args.max_minutes and not stop.requested:
        if accelerator.is_main_process and (time.time() - last_validation) / 60 > args.validate_minutes:
            if not validated_at(step):  # a resumed run starts where the last one measured
                validate()
                accelerator.print(f"step {step}: held-out {history[-1]}")
            last_validation = time.time()
        x, idx = next(data_iter)
        if args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        tic = time.perf_counter()
        with torch.autocast(accelerator.device.type, dtype=torch.bfloat16, enabled=args.bf16):
            logs = stage(x, idx)
        ema.step(params)
        if x.is_cuda:
            torch.cuda.synchronize()
        step_seconds.append(time.perf_counter() - tic)
        step += 1
        losses.append(logs)
        bar.update(1)
        if step % 20 == 0:
            mean = {k: float(np.mean([l[k] for l in losses[-20:]])) for k in logs}
            bar.set_postfix({k: f"{v:.4g}" for k, v in mean.items()})
            history.append({"step": step, **mean})
        scheduler.step()
        due = step % args.save_every == 0 or (time.time() - last_save) / 60 > args.save_minutes
        if accelerator.num_processes > 1:  # every process must agree to save together
            due = bool(accelerator.reduce(torch.tensor(float(due), device=accelerator.device), "sum") > 0)
        if due and step < args.steps:
            accelerator.wait_for_everyone()
            accelerator.save_state(str(state_dir))
            last_save = time.time()
            if accelerator.is_main_process:
                write_progress()
    bar.close()
    stop.restore()
    if validation and accelerator.is_main_process and not validated_at(step):
        validate()  # the last point of the curve
    accelerator.wait_for_everyone()
    accelerator.save_state(str(state_dir))
    summary = {"stage": args.stage, "steps": step, "minutes_this_run": (time.time() - start) / 60,
               "minutes_total": progress.get("minutes", 0.0) + (time.time() - start) / 60,
               "final_losses": history[-1] if history else {}, "args": _jsonable(asdict(args)),
               "hardware": hardware(), "processes": accelerator.num_processes,
               "runs": [*runs_done, this_run()]}
    if accelerator.is_main_process:
        write_progress()
        ema.store(params)
        ema.copy_to(params)  # export the EMA weights
        if args.stage == "ae" and not args.freeze_encoder:  # a frozen encoder keeps its scale
            cfg.vae["scaling_factor"] = measure_scaling_factor(model, images)
            model.vae.register_to_config(scaling_factor=cfg.vae["scaling_factor"])
            cfg.save(args.runs / "config.json")
            summary["scaling_factor"] = cfg.vae["scaling_factor"]
        write_safetensors(model.state_dict(), run_weights(args.runs, run_dir.name))
        ema.restore(params)
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}


def train_all(runs: Path, data: Path, seed: int = 0, cpu: bool = False) -> None:
    """Every stage in order (:mod:`ditic_lite.recipe`), then the export; prints each stage's wall time."""
    plan = [(stage, 0, {}) for stage in ("ae", "dit", "warmup", "stage1")]
    plan += [("stage2", i, {"lmbda": lam}) for i, lam in enumerate(RATE_LAMBDAS)]
    plan += [("mse", i, {"lmbda": lam}) for i, lam in enumerate(RATE_LAMBDAS)]
    for stage, rate_id, settings in plan:
        tic = time.time()
        train(TrainArgs.for_stage(stage, data=data, runs=runs, rate_id=rate_id, seed=seed, cpu=cpu, **settings))
        print(f"{stage} (rate {rate_id}): {(time.time() - tic) / 60:.1f} min")
    export(runs, data=data)


# ------------------------------------------------------------------------------------- CLI
def parse_train_args(ns: argparse.Namespace) -> TrainArgs:
    """``ditic-lite train STAGE ...`` arguments over the stage's defaults."""
    given = {key: getattr(ns, key) for key in ("steps", "batch_size", "crop", "lr", "lmbda", "bf16",
                                               "channels_last", "compile") if getattr(ns, key, None) is not None}
    return TrainArgs.for_stage(ns.stage, data=Path(ns.data), runs=Path(ns.runs), rate_id=ns.rate_id,
                               seed=ns.seed, max_minutes=ns.max_minutes, cpu=ns.cpu, save_every=ns.save_every,
                               save_minutes=ns.save_minutes, freeze_encoder=ns.freeze_encoder,
                               colour_augment=ns.colour_augment, **given)


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a stage of the tiny tier (see ditic_lite/train.py)")
    p.add_argument("stage", choices=[*STAGE_DEFAULTS, "all"])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="folder with captions.csv and the photos")
    p.add_argument("--runs", default="runs", help="where run states and stage weights go")
    p.add_argument("--steps", type=int), p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--crop", type=int), p.add_argument("--lr", type=float)
    p.add_argument("--lmbda", type=float, help="rate weight lambda (DiT-IC stages)")
    p.add_argument("--rate-id", type=int, default=0, dest="rate_id")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=200, dest="save_every")
    p.add_argument("--max-minutes", type=float, default=1e9, dest="max_minutes",
                   help="stop (resumably) after this many minutes")
    p.add_argument("--save-minutes", type=float, default=3.0, dest="save_minutes",
                   help="also save the training state at least this often")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast for the forward pass (default: per stage, on for ae)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None, dest="channels_last",
                   help="NHWC memory layout (see data/results/training_speed.csv for what pays)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the trained module (see data/results/training_speed.csv)")
    p.add_argument("--freeze-encoder", action="store_true", dest="freeze_encoder",
                   help="ae: train only the decoder, keeping the latent space of the later stages")
    p.add_argument("--colour-augment", action="store_true", dest="colour_augment",
                   help="ae: random RGB channel permutations of the crops (more hues from few photos)")
    p.add_argument("--from-shipped", action="store_true", dest="from_shipped",
                   help="first copy the committed checkpoints into --runs (stages already there are kept)")
    p.add_argument("--cpu", action="store_true", help="train on the CPU even if a GPU is present")
    p.set_defaults(func=_cmd_train)


def _cmd_train(ns: argparse.Namespace) -> int:
    if ns.from_shipped:
        for stage in seed_runs(Path(ns.runs)):
            print(f"{stage}: continues from the shipped checkpoint")
    if ns.stage == "all":
        train_all(Path(ns.runs), Path(ns.data), seed=ns.seed, cpu=ns.cpu)
        return 0
    summary = train(parse_train_args(ns))
    print(json.dumps({k: summary[k] for k in ("stage", "steps", "final_losses")}, indent=1))
    return 0


if __name__ == "__main__":  # torchrun --nproc_per_node 2 -m ditic_lite.train STAGE ...
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    ns = parser.parse_args(["train", *sys.argv[1:]])
    raise SystemExit(ns.func(ns))
