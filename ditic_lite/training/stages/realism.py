"""Stage ``realism``: train the realism decoder's texture head (:mod:`ditic_lite.realism`).

Everything of the shipped DiT-IC stays frozen: its codec (files keep their bytes), its DiT and
its decoder with the fidelity tune's LoRA. Each step codes crops (256 px) as files are (eval-mode
rounding, a random rate point and step jitter), decodes them with the fidelity decoder (no
gradient: the head is the only thing that learns, which makes a step cheap), and trains the
head on

``L = MSE(pool(x_hat), pool(x)) + mse_weight * MSE(x_hat, x) + energy_weight * L_energy
+ w_adv * (L_gen + feature_weight * L_fm)``

* the low-pass term (4x4 average pooling) keeps the fidelity decoder's coarse picture: texture
  finer than 4 pixels is free to differ from the original, which is what drawing it means;
* a small full-resolution MSE bounds how far the drawn texture may stray (the PSNR cost);
* ``L_energy``: the mean of ``r = log(1 + E(x_hat)) - log(1 + E(x))`` taken as ``overdraw_weight * r``
  where ``r > 0`` and ``-r`` where ``r < 0``, for the fine-detail energy ``E``
  (the squared Laplacian of the luma averaged over 16x16 blocks, :func:`spectrum.block_energy`):
  as much detail as the original, block by block: none drawn on a clear sky, much in grass;
* ``L_gen``: the hinge generator loss of two patch discriminators, on the image and on a copy at
  half size (so they judge texture at two scales), with a FIXED weight ``w_adv``: unlike the
  fidelity tune's adaptive weight, the adversarial term is not scaled down when the pixel loss
  would rather have blur;
* ``L_fm``: feature matching, the L1 distance between the discriminators' features of the
  original and of the decoded crop (pix2pixHD's stabiliser).

``adversarial_weight = 0`` trains the head without discriminators; with ``energy_weight = 0`` too,
on the pixel terms alone (which keep the fidelity image: the trade-off's zero point). What each
combination drew is in ``data/results/realism_experiments.csv``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import pandas as pd

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..adversarial import PatchDiscriminator, hinge_discriminator_loss, hinge_generator_loss
from ...checkpoints import read_safetensors, save_weights, write_card
from ...config import DiTICConfig
from ...model import DiTIC
from ...evaluate import compare_decoders, tradeoff_summary
from ...spectrum import block_energy
from ...realism import NOISE_SEED, REALISM_FILE, TextureHead, sharpen_detail
from ..config import CodedCropsConfig, REALISM_ADVERSARIAL_WEIGHT, TrainArgs, setting
from ..runs import RunFolder, hardware
from ..step import AdversarialStep, code_as_file


@dataclass
class RealismConfig(CodedCropsConfig):
    """Stage ``realism``: the realism decoder's texture head on the finished DiT-IC (all of it frozen)."""

    stage: ClassVar[str] = "realism"
    steps: int = 4000
    batch_size: int = 4
    crop: int = 256
    lr: float = 2e-4
    adversarial_weight: float = setting(REALISM_ADVERSARIAL_WEIGHT, "FIXED weight of the patch discriminators' "
                                                                    "terms (0: off)")
    feature_weight: float = setting(1.0, "weight of feature matching relative to the generator term")
    mse_weight: float = setting(0.25, "weight of the full-resolution MSE besides the 4x4 low-pass MSE")
    energy_weight: float = setting(0.0, "weight of matching the original's fine-detail energy block by block (0: off)")
    overdraw_weight: float = setting(1.0, "energy term: what a block with more detail than the original's costs, "
                                          "against one with less (1: the same)")
    sharpen: bool = setting(False, "the head may also strengthen the fidelity image's own detail (TextureHead's sharpen)")
    follow_detail: bool = setting(False, "the noise's strength follows the fidelity image's own local detail "
                                         "(TextureHead's follow_detail)")
    detail_power: int = setting(1, "with --follow-detail: the noise's strength follows this power of the local detail")


SCALES = (1, 2)  # the discriminators' image scales: full size and half size
HEAD_OPTIONS = ("sharpen", "follow_detail", "detail_power")  # settings that are TextureHead's arguments


def discriminator_features(disc: PatchDiscriminator, image: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The discriminator's patch scores and the activations after each of its LeakyReLUs."""
    features, h = [], image
    for layer in disc.net:
        h = layer(h)
        if isinstance(layer, nn.LeakyReLU):
            features.append(h)
    return h, features


class RealismStep(AdversarialStep):
    """One step of stage ``realism``: the texture head on fidelity-decoded crops (module docstring)."""

    Config = RealismConfig
    upstream = ("ae", "dit", "codec", "tune")  # the fidelity decoder: DiT-IC with its tune's LoRA
    lora = True
    trains_codec = False
    uses_cache = False
    pool = 4  # the low-pass pixel term's block size

    def __init__(self, model: DiTIC, params: list[nn.Parameter], lr: float, *, rate_log_steps: torch.Tensor,
                 quant_jitter: float, adversarial_weight: float, feature_weight: float, mse_weight: float,
                 energy_weight: float = 0.0, overdraw_weight: float = 1.0,
                 head: Mapping[str, Any] | None = None) -> None:
        # not StageStep.__init__: nothing of the model trains (``params`` is empty), only the head
        self.model, self.extra = model, self.extra_modules(model.config, **(head or {}))
        self.trained, self.accelerator, self.quantile_optimizer = model, None, None
        model.eval()  # every part of the model is frozen, with the rounding of real files
        self.optimizer = torch.optim.AdamW(self.extra["head"].parameters(), lr=lr, weight_decay=0.0)
        discs = [p for name, module in self.extra.items() if name.startswith("disc") for p in module.parameters()]
        self.init_discriminators(discs, lr)
        self.rate_log_steps, self.quant_jitter = rate_log_steps, quant_jitter
        self.adversarial_weight, self.feature_weight, self.mse_weight = adversarial_weight, feature_weight, mse_weight
        self.energy_weight, self.overdraw_weight = energy_weight, overdraw_weight

    @classmethod
    def settings(cls, args: TrainArgs, config: DiTICConfig, captions: torch.Tensor | None) -> dict[str, Any]:
        return dict(rate_log_steps=RunFolder(args.runs).rate_log_steps("codec"), quant_jitter=args.quant_jitter,
                    adversarial_weight=args.adversarial_weight, feature_weight=args.feature_weight,
                    mse_weight=args.mse_weight, energy_weight=args.energy_weight,
                    overdraw_weight=args.overdraw_weight, head={name: getattr(args, name) for name in HEAD_OPTIONS})

    @classmethod
    def trainable(cls, model: DiTIC, args: TrainArgs) -> None:
        pass  # nothing of the model: the stage's texture head learns

    @classmethod
    def prepare_model(cls, model: DiTIC) -> None:
        model.merge_lora()  # the fidelity decoder, all of it frozen

    @classmethod
    def extra_modules(cls, config: DiTICConfig, **head: Any) -> nn.ModuleDict:
        return nn.ModuleDict({"head": TextureHead(latent_channels=config.vae["latent_channels"], **head),
                              **{f"disc{s}": PatchDiscriminator() for s in SCALES}})

    def ema_parameters(self) -> list[nn.Parameter]:
        return list(self.extra["head"].parameters())

    def exported(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.extra["head"].state_dict().items()}

    def load_exported(self, tensors: dict[str, torch.Tensor]) -> None:
        self.extra["head"].load_state_dict(tensors)

    @torch.no_grad()
    def fidelity_decode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Code ``x`` at a random rate point as a file is, decode it with the fidelity decoder:
        ``(image in [0, 1], y_hat, sigma_map)``."""
        codec_out, _, _ = code_as_file(self.model, x, self.rate_log_steps, self.quant_jitter)
        with torch.autocast(x.device.type, enabled=False):
            rec = self.model.reconstruct(codec_out)
        return rec["image"].float(), rec["y_hat"].float(), rec["sigma_map"].float()

    def loss(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
        x, _ = batch
        x = x.float()
        fidelity, y_hat, sigma_map = self.fidelity_decode(x)
        head = self.extra["head"]
        out = head(fidelity, y_hat, sigma_map, head.noise_for(fidelity, seed=None))
        low = F.mse_loss(F.avg_pool2d(out, self.pool), F.avg_pool2d(x, self.pool))
        mse = F.mse_loss(out, x)
        loss = low + self.mse_weight * mse
        if self.energy_weight:
            drawn, wanted = block_energy(out), block_energy(x)
            log_ratio = torch.log1p(drawn) - torch.log1p(wanted)
            energy = (self.overdraw_weight * log_ratio.clamp(min=0) - log_ratio.clamp(max=0)).mean()
            loss = loss + self.energy_weight * energy
            logs_energy = {"energy": float(energy.detach()),
                           "detail_ratio": float(drawn.detach().mean() / wanted.mean().clamp_min(1e-6))}
        else:
            logs_energy = {}
        logs = {"psnr": float(10 * torch.log10(1 / mse.detach())),
                "psnr_fidelity": float(10 * torch.log10(1 / F.mse_loss(fidelity, x))), "low_mse": float(low.detach()), **logs_energy}
        self.calls += 1
        self._fake, self._real = out.detach() * 2 - 1, x * 2 - 1
        if self.adversarial_weight and self.calls > self.adversarial_start:
            generator, matching = 0.0, 0.0
            for s in SCALES:
                disc = self.extra[f"disc{s}"]
                disc.requires_grad_(False)
                fake_scores, fake_features = discriminator_features(disc, self._scaled(out * 2 - 1, s))
                with torch.no_grad():
                    _, real_features = discriminator_features(disc, self._scaled(self._real, s))
                disc.requires_grad_(True)
                generator = generator + hinge_generator_loss(fake_scores)
                matching = matching + sum(F.l1_loss(f, r) for f, r in zip(fake_features, real_features)) / len(real_features)
            loss = loss + self.adversarial_weight * (generator + self.feature_weight * matching)
            logs.update(gen=float(generator.detach()), feature_matching=float(matching.detach()))
        return loss, logs

    @staticmethod
    def _scaled(image: torch.Tensor, factor: int) -> torch.Tensor:
        return image if factor == 1 else F.avg_pool2d(image, factor)

    def discriminator_loss(self) -> torch.Tensor:
        return sum(hinge_discriminator_loss(self.extra[f"disc{s}"](self._scaled(self._real, s)),
                                            self.extra[f"disc{s}"](self._scaled(self._fake, s)))
                   for s in SCALES)



def trained_head(runs: Path) -> TextureHead:
    """The texture head of a runs folder's ``realism`` stage (the EMA weights it exported)."""
    folder = RunFolder(runs)
    path = folder.own_tensors("realism")
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run ditic-lite train realism first")
    record = folder.summary("realism")["runs"][-1]
    options = {name: record[name] for name in HEAD_OPTIONS if name in record}
    head = RealismStep.extra_modules(folder.config(), **options)["head"]
    head.load_state_dict(read_safetensors(path))
    return head.eval().requires_grad_(False)


def export_realism(runs: Path, out: Path | None = None, data: Path | None = None,
                   rates: Sequence[int] = (0, 3)) -> dict[str, Any]:
    """Write the realism decoder (``out/tiny/realism.safetensors``) with its card.

    Refuses a head trained on another DiT-IC codec than ``runs`` holds now. Where the held-out
    photos are in ``data``, the card records both decoders on them at ``rates`` (the same bytes).
    """
    from ... import zoo
    from ..data import VALIDATION, validation_images

    out = out or zoo.CHECKPOINT_DIR
    folder = RunFolder(runs)
    summary = folder.summary("realism")
    trained_on = summary["runs"][-1].get("codec_step")
    if trained_on != folder.codec_step():
        raise ValueError(f"the realism head was trained on the codec at step {trained_on}, runs/codec is at "
                         f"step {folder.codec_step()}: ditic-lite train realism first")
    head = trained_head(runs)
    card = {"model": "tiny", "part": "realism decoder: texture head (the same files, realism.py)",
            "head": head.arch, "noise_seed": NOISE_SEED, "hardware": hardware(), "stages": {"realism": summary}}
    path = out / "tiny" / REALISM_FILE
    card = save_weights(head.state_dict(), path, card)
    images = validation_images(data) if data is not None else []
    photos = {Path(rel).stem: image for rel, image in zip(VALIDATION, images)}
    if photos:  # measured through the real load path
        codec = zoo.load("tiny", rate=rates[0], checkpoints=out)
        table = compare_decoders(codec, photos, rates=rates)
        card["validation"] = tradeoff_summary(table).to_dict(orient="records")
        card["validation_note"] = f"medians over {table['image'].nunique()} held-out photos, real file bytes"
        write_card(path.with_suffix(".json"), card)
    return card


def unsharp_label(amount: float) -> str:
    """The trade-off table's name for :func:`~ditic_lite.realism.sharpen_detail` at ``amount``."""
    return f"unsharp mask {amount:g}, no training"


def tradeoff_table(run_folders: Mapping[str, Path], data: Path, rates: Sequence[int] = (0, 3),
                   unsharp: Sequence[float] = ()) -> pd.DataFrame:
    """The perception-distortion trade-off: realism heads (``label -> runs folder``), each decoding
    the SAME files of the held-out photos in ``data`` at ``rates`` beside the fidelity decoder. One
    row per photo, rate point and decoder (``realism, LABEL``), with the head's training settings
    (``adversarial_weight``, ``energy_weight``: NaN for the fidelity decoder) and ``steps``.
    Each amount in ``unsharp`` adds :func:`~ditic_lite.realism.sharpen_detail` on the fidelity
    image (``unsharp mask AMOUNT, no training``: a yardstick that draws no texture)."""
    from ... import zoo
    from ..data import VALIDATION, validation_images

    images = validation_images(data)
    if not images:
        raise FileNotFoundError(f"the held-out photos are not all in {data}")
    photos = {Path(rel).stem: image for rel, image in zip(VALIDATION, images)}
    labels = {f"realism, {label}": RunFolder(runs) for label, runs in run_folders.items()}
    codec = zoo.load("tiny", rate=rates[0])
    filters = {unsharp_label(a): partial(sharpen_detail, amount=a) for a in unsharp}
    table = compare_decoders(codec, photos, rates, heads={k: trained_head(f.root) for k, f in labels.items()},
                             filters=filters)
    heads = {k: f.summary("realism") for k, f in labels.items()}  # the records of the exported heads
    for name in ("adversarial_weight", "energy_weight"):
        table[name] = table["decoder"].map({k: h["runs"][-1].get(name, 0.0) for k, h in heads.items()})
    table["steps"] = table["decoder"].map({**{k: h["steps"] for k, h in heads.items()}, **{k: 0 for k in filters}})
    return table
