"""The resumable training loop of one stage (:func:`train`), through ``accelerate`` (CPU, one GPU
or several), and the latent cache's command (:func:`make_cache`).

Every stage is resumable (``accelerate`` state in ``runs/<stage>/state``; rerun the same command;
a resumed run trains at the ``--lr`` given now, the stage's default if none, so lowering it anneals),
stops cleanly at ``--max-minutes`` or on SIGTERM/Ctrl-C (saving first; at most ``--save-minutes``
of work is lost if it is killed outright), seeds everything, keeps an EMA of the trainable weights
and writes the EMA weights. A stage with no saved state starts from its own
``runs/<stage>/model.safetensors`` when there is one (the parts it trains), on top of the upstream
stages' newest weights (:mod:`.setup`). ``bf16`` runs the forward pass under CPU/GPU bf16 autocast
(fp32 master weights); ``freeze_encoder`` trains only the autoencoder's decoder, which keeps the
latent space, and so every later stage, valid. Several processes: ``torchrun --nproc_per_node 2 -m
ditic_lite.training ...`` on a CPU (gloo), ``accelerate launch --multi_gpu -m ditic_lite.training ...``
on GPUs.

Loss of the DiT-IC stage (paper eq. 9; SPEC section 11), in latent space:
``L = lambda_r * R + MSE(y_hat, E(x)) + L_distill + L_cond`` at a random rate point r each step.
The paper trains with pixel losses through the decoder; the kit's third tiny tier trains the codec
stages on latents cached by the frozen encoder (``train cache``, :mod:`.latent_cache`): no pixel
encoder or decoder runs in a codec step, so a CPU gets several times more image area per second,
and the latent space never moves under the codec again (issue 20).
"""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from ..checkpoints import read_safetensors, write_safetensors
from ..determinism import seed_everything
from ..model import DiTIC
from .runs import hardware
from .latent_cache import LatentCropDataset, build_cache, check_cache, model_encoder_digest
from .config import TrainArgs
from .data import CropDataset, caption_embeddings, load_training_set, validation_images
from .runs import RunFolder
from .setup import (
    build_model, continue_own_weights, load_stage_weights, restore_upstream, set_trainable, upstream_weights,
)
from .stages import STAGE_CONFIGS, STAGE_STEPS, make_step
from .stages.autoencoder import measure_scaling_factor, validate_autoencoder

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
    if args.stage not in STAGE_CONFIGS:
        raise ValueError(f"unknown stage '{args.stage}'; choose from {sorted(STAGE_CONFIGS)}, cache or all")
    runs = RunFolder(args.runs)
    freeze_encoder = getattr(args, "freeze_encoder", False)
    if args.stage == "ae" and runs.frozen_encoder.exists() and not freeze_encoder:
        print("the latent cache froze the encoder: training the autoencoder's decoder alone")
        args.freeze_encoder = freeze_encoder = True
    ddp = DistributedDataParallelKwargs(find_unused_parameters=STAGE_STEPS[args.stage].trained_part is None)
    accelerator = Accelerator(cpu=args.cpu or not torch.cuda.is_available(), kwargs_handlers=[ddp])
    seed_everything(args.seed + accelerator.process_index)
    runs.stage_dir(args.stage).mkdir(parents=True, exist_ok=True)
    images, captions = load_training_set(args.data)
    cap_emb = caption_embeddings(captions, runs.captions_file) if args.stage != "ae" else None

    model, cfg = build_model(args)
    params = set_trainable(model, args.stage, freeze_encoder)
    uses_cache = STAGE_STEPS[args.stage].uses_cache
    if uses_cache:  # refuses a cache made by another encoder
        check_cache(runs.cache, model_encoder_digest(model))
    state_dir, progress_file = runs.state_dir(args.stage), runs.progress_file(args.stage)
    progress = json.loads(progress_file.read_text()) if progress_file.exists() else {}
    # a saved state holds the optimiser of the parameters trained then: once the encoder froze, the
    # autoencoder continues from its weights with a new optimiser (its state trained the encoder too)
    last_run = (progress.get("runs") or [{}])[-1]
    same_parameters = last_run.get("freeze_encoder", freeze_encoder) == freeze_encoder
    resume = state_dir.exists() and bool(progress) and same_parameters
    if not resume and not continue_own_weights(model, args, params):
        progress = {}  # nothing to continue from: a fresh start
    stage = make_step(args, model, params, cap_emb)  # with its own modules and optimisers
    own_file = runs.own_tensors(args.stage)  # the stage's exported tensors (rate points' steps)
    if not resume and own_file.exists():  # continued from weights: the stage's own too
        stage.load_exported(read_safetensors(own_file))
    params = params + stage.ema_parameters()

    if uses_cache:
        dataset = LatentCropDataset(runs.cache, args.crop)
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

    def this_run() -> dict[str, Any]:  # the record of this run: what trained, how, for how long
        return {"from_step": first_step, "to_step": step, "minutes": (time.time() - start) / 60,
                "hardware": hardware(), "processes": accelerator.num_processes,
                "threads": torch.get_num_threads(), **args.trained_settings(), **STAGE_STEPS[args.stage].record(args),
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
               "final_losses": history[-1] if history else {}, "args": args.as_record(),
               "hardware": hardware(), "processes": accelerator.num_processes,
               "runs": [*runs_done, this_run()]}
    if accelerator.is_main_process:
        write_progress()
        ema.store(params)
        ema.copy_to(params)  # export the EMA weights
        if args.stage == "ae" and not freeze_encoder:  # a frozen encoder keeps its scale
            cfg.vae["scaling_factor"] = measure_scaling_factor(model, images)
            model.vae.register_to_config(scaling_factor=cfg.vae["scaling_factor"])
            cfg.save(runs.config_file)
            summary["scaling_factor"] = cfg.vae["scaling_factor"]
        write_safetensors(model.state_dict(), runs.weights(args.stage))
        if stage.exported():
            write_safetensors(stage.exported(), own_file)
        ema.restore(params)
        runs.summary_file(args.stage).write_text(json.dumps(summary, indent=1))
    return summary


def make_cache(runs: Path, data: Path, aux_from: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """``ditic-lite train cache``: freeze the encoder and encode the training photos (latent_cache.py).

    The encoder is the cache's own once there is one (frozen for good: rebuilding the cache, with
    more photos say, keeps it); the first cache takes the autoencoder of ``runs/ae`` and the
    auxiliary encoder of ``aux_from`` (a base checkpoint; default: the shipped one).
    """
    from ..zoo import CHECKPOINT_DIR

    folder = RunFolder(runs)
    model = DiTIC(folder.config())
    load_stage_weights(model, folder.weights("ae"), ("vae.",))
    frozen = folder.frozen_encoder
    if frozen.exists():
        load_stage_weights(model, frozen)
    else:
        aux_from = aux_from or CHECKPOINT_DIR / "tiny" / "base.safetensors"
        load_stage_weights(model, aux_from, ("aux_codec.",))
    index = build_cache(model, data, folder.cache, progress=progress)
    print(f"latent cache: {len(index['views'])} views of {index['photos']} photos, "
          f"encoder {index['encoder_sha256'][:16]}")
    return index
