"""Training stages of the tiny tier, through ``accelerate`` (CPU, one GPU or several).

    ditic-lite train ae       # (a) autoencoder (AutoencoderDC, space-to-depth stem)
    ditic-lite train cache    # freeze its encoder for good; encode the photos into the latent cache
    ditic-lite train dit      # (b) base DiT: caption-conditioned rectified flow on cached latents
    ditic-lite train codec    # (c) DiT-IC: latent codec + prompter + DiT LoRA, every rate point, latent space
    ditic-lite train mse      # MSE baseline (the same codec, no DiT step), latent space
    ditic-lite train tune     # (d) DiT-IC's pixel-space tune: DiT + decoder LoRA, MS-SSIM + adversarial, codec frozen
    ditic-lite train all      # everything above in order, then export

Every stage is resumable (``accelerate`` state in ``runs/<stage>/state``; rerun the same command;
a resumed run trains at the ``--lr`` given now, the stage's default if none, so lowering it anneals),
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

Loss of the DiT-IC stage (paper eq. 9; SPEC section 11), in latent space:
``L = lambda_r * R + MSE(y_hat, E(x)) + L_distill + L_cond`` at a random rate point r each step.
The paper trains with pixel losses through the decoder; the kit's third tiny tier trains the codec
stages on latents cached by the frozen encoder (``train cache``, :mod:`ditic_lite.latent_cache`):
no pixel encoder or decoder runs in a codec step, so a CPU gets several times more image area per
second, and the latent space never moves under the codec again (issue 20). The decoder can still
be improved afterwards (``train ae`` with the cache present trains the decoder alone).

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

from .checkpoints import read_safetensors, write_safetensors
from .determinism import seed_everything
from .model import DiTIC
from .shipping import export, hardware, seed_runs
from .latent_cache import LatentCropDataset, build_cache, check_cache, model_encoder_digest
from .train_config import DEFAULT_DATA, STAGE_DEFAULTS, TrainArgs, run_config, run_weights
from .train_data import VALIDATION, CropDataset, caption_embeddings, load_training_set, validation_images
from .train_setup import (
    build_model, continue_own_weights, frozen_encoder_file, load_stage_weights, restore_upstream, set_trainable,
    codec_stage_step, upstream_weights,
)
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
        raise ValueError(f"unknown stage '{args.stage}'; choose from {sorted(STAGE_DEFAULTS)}, cache or all")
    if args.stage == "ae" and frozen_encoder_file(args.runs).exists() and not args.freeze_encoder:
        print("the latent cache froze the encoder: training the autoencoder's decoder alone")
        args.freeze_encoder = True
    ddp = DistributedDataParallelKwargs(find_unused_parameters=STAGE_STEPS[args.stage].trained_part is None)
    accelerator = Accelerator(cpu=args.cpu or not torch.cuda.is_available(), kwargs_handlers=[ddp])
    seed_everything(args.seed + accelerator.process_index)
    run_dir = args.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    images, captions = load_training_set(args.data)
    cap_emb = caption_embeddings(captions, args.runs / "captions.safetensors") if args.stage != "ae" else None

    model, cfg = build_model(args)
    params = set_trainable(model, args.stage, args.freeze_encoder)
    uses_cache = STAGE_STEPS[args.stage].uses_cache
    if uses_cache:  # refuses a cache made by another encoder
        check_cache(args.cache, model_encoder_digest(model))
    state_dir, progress_file = run_dir / "state", run_dir / "progress.json"
    progress = json.loads(progress_file.read_text()) if progress_file.exists() else {}
    # a saved state holds the optimiser of the parameters trained then: once the encoder froze, the
    # autoencoder continues from its weights with a new optimiser (its state trained the encoder too)
    last_run = (progress.get("runs") or [{}])[-1]
    same_parameters = last_run.get("freeze_encoder", args.freeze_encoder) == args.freeze_encoder
    resume = state_dir.exists() and bool(progress) and same_parameters
    if not resume and not continue_own_weights(model, args, params):
        progress = {}  # nothing to continue from: a fresh start
    stage = make_step(args, model, params, cap_emb)  # with its own modules and optimisers
    own_file = run_dir / "stage.safetensors"  # the stage's exported tensors (rate points' steps)
    if not resume and own_file.exists():  # continued from weights: the stage's own too
        stage.load_exported(read_safetensors(own_file))
    params = params + stage.ema_parameters()

    if uses_cache:
        dataset = LatentCropDataset(args.cache, args.crop)
    else:
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
        for group in stage.optimizer.param_groups:  # the state holds the old lr: --lr decides (annealing)
            group["lr"] = group["initial_lr"] = args.lr
        accelerator.print(f"resumed {args.stage} at step {step} (lr {args.lr:g})")
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
                "lr": args.lr, **({"ms_ssim_weight": args.ms_ssim_weight, "decoded_share": args.decoded_share}
                                  if args.stage == "ae" else {}),
                **({"ms_ssim_weight": args.ms_ssim_weight, "adversarial_weight": args.adversarial_weight,
                    "codec_step": codec_stage_step(args.runs)} if args.stage == "tune" else {}),
                **({"adversarial_weight": args.adversarial_weight, "feature_weight": args.feature_weight,
                    "mse_weight": args.mse_weight, "energy_weight": args.energy_weight, "codec_step": codec_stage_step(args.runs)}
                   if args.stage == "realism" else {}),
                "seconds_per_step": float(np.median(step_seconds[1:] or step_seconds or [np.nan]))}

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
        batch = next(data_iter)
        if args.channels_last:
            batch = [batch[0].contiguous(memory_format=torch.channels_last), *batch[1:]]
        tic = time.perf_counter()
        with torch.autocast(accelerator.device.type, dtype=torch.bfloat16, enabled=args.bf16):
            logs = stage(batch)
        ema.step(params)
        if batch[0].is_cuda:
            torch.cuda.synchronize()
        step_seconds.append(time.perf_counter() - tic)
        step += 1
        losses.append(logs)
        bar.update(1)
        if step % 20 == 0:
            # over the steps that logged each value (the tune's adversarial terms start later)
            mean = {k: float(np.mean([l[k] for l in losses[-20:] if k in l])) for k in logs}
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
        if stage.exported():
            write_safetensors(stage.exported(), own_file)
        ema.restore(params)
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}


def make_cache(runs: Path, data: Path, aux_from: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """``ditic-lite train cache``: freeze the encoder and encode the training photos (latent_cache.py).

    The encoder is the cache's own once there is one (frozen for good: rebuilding the cache, with
    more photos say, keeps it); the first cache takes the autoencoder of ``runs/ae`` and the
    auxiliary encoder of ``aux_from`` (a base checkpoint; default: the shipped one).
    """
    from .zoo import CHECKPOINT_DIR

    model = DiTIC(run_config(runs))
    load_stage_weights(model, run_weights(runs, "ae"), ("vae.",))
    frozen = frozen_encoder_file(runs)
    if frozen.exists():
        load_stage_weights(model, frozen)
    else:
        aux_from = aux_from or CHECKPOINT_DIR / "tiny" / "base.safetensors"
        load_stage_weights(model, aux_from, ("aux_codec.",))
    index = build_cache(model, data, runs / "cache", progress=progress)
    print(f"latent cache: {len(index['views'])} views of {index['photos']} photos, "
          f"encoder {index['encoder_sha256'][:16]}")
    return index


def train_all(runs: Path, data: Path, seed: int = 0, cpu: bool = False) -> None:
    """Every stage in order (:mod:`ditic_lite.recipe`), then the export; prints each stage's wall time."""
    for stage in ("ae", "cache", "dit", "codec", "mse", "tune"):
        tic = time.time()
        if stage == "cache":
            make_cache(runs, data)
        else:
            train(TrainArgs.for_stage(stage, data=data, runs=runs, seed=seed, cpu=cpu))
        print(f"{stage}: {(time.time() - tic) / 60:.1f} min")
    export(runs, data=data)


# ------------------------------------------------------------------------------------- CLI
def parse_train_args(ns: argparse.Namespace) -> TrainArgs:
    """``ditic-lite train STAGE ...`` arguments over the stage's defaults."""
    given = {key: getattr(ns, key) for key in ("steps", "batch_size", "crop", "lr", "bf16",
                                               "channels_last", "compile", "distill_margin", "variance_weight",
                                               "ms_ssim_weight", "decoded_share", "adversarial_weight",
                                               "feature_weight", "mse_weight", "energy_weight")
             if getattr(ns, key, None) is not None}
    if ns.lambdas:
        given["lambdas"] = tuple(float(v) for v in ns.lambdas.split(","))
    return TrainArgs.for_stage(ns.stage, data=Path(ns.data), runs=Path(ns.runs),
                               seed=ns.seed, max_minutes=ns.max_minutes, cpu=ns.cpu, save_every=ns.save_every,
                               save_minutes=ns.save_minutes, freeze_encoder=ns.freeze_encoder,
                               colour_augment=ns.colour_augment, **given)


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a stage of the tiny tier (see ditic_lite/train.py)")
    p.add_argument("stage", choices=[*STAGE_DEFAULTS, "cache", "all"])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="folder with captions.csv and the photos")
    p.add_argument("--runs", default="runs", help="where run states and stage weights go")
    p.add_argument("--steps", type=int), p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--crop", type=int, help="crop side: image pixels (ae), latent pixels (cached stages)")
    p.add_argument("--lr", type=float)
    p.add_argument("--lambdas", help="codec, mse: rate weights of the rate points, lowest rate first (default: train_config.RATE_LAMBDAS)")
    p.add_argument("--distill-margin", type=float, dest="distill_margin",
                   help="codec, tune: margin m of L_distill = ReLU(1 - m - cos) (default: train_config.DISTILL_MARGIN)")
    p.add_argument("--variance-weight", type=float, dest="variance_weight",
                   help="codec: weight of the variance calibration of log_scale (default: train_config.VARIANCE_WEIGHT; 0: off)")
    p.add_argument("--ms-ssim-weight", type=float, dest="ms_ssim_weight",
                   help="ae, tune: weight of an (1 - MS-SSIM) term besides MSE + 0.1 L1 (default: ae 0, tune 0.05)")
    p.add_argument("--decoded-share", type=float, dest="decoded_share",
                   help="ae: share of batches the decoder learns from the trained codecs' decoded latents "
                        "(fine-tune on what files decode to; default 0: exact latents only)")
    p.add_argument("--adversarial-weight", type=float, dest="adversarial_weight",
                   help="tune: weight of the patch discriminator's term (default: train_config.ADVERSARIAL_WEIGHT; 0: off); "
                        "realism: its fixed weight (default: train_config.REALISM_ADVERSARIAL_WEIGHT)")
    p.add_argument("--feature-weight", type=float, dest="feature_weight",
                   help="realism: weight of feature matching relative to the generator term")
    p.add_argument("--mse-weight", type=float, dest="mse_weight",
                   help="realism: weight of the full-resolution MSE besides the 4x4 low-pass MSE")
    p.add_argument("--energy-weight", type=float, dest="energy_weight",
                   help="realism: weight of matching the original's fine-detail energy block by block (0: off)")
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
                   help="ae: train only the decoder (always so once the latent cache froze the encoder)")
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
    if ns.stage == "cache":
        make_cache(Path(ns.runs), Path(ns.data))
        return 0
    summary = train(parse_train_args(ns))
    print(json.dumps({k: summary[k] for k in ("stage", "steps", "final_losses")}, indent=1))
    return 0


if __name__ == "__main__":  # torchrun --nproc_per_node 2 -m ditic_lite.train STAGE ...
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    ns = parser.parse_args(["train", *sys.argv[1:]])
    raise SystemExit(ns.func(ns))
