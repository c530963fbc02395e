"""The official tier: the released DiT-IC architecture, its checkpoints and its file format.

``build()`` makes the 1.05 B-parameter model of the official release from the configs shipped in
``ditic_lite/official_configs`` (copies of the repository's JSON files): diffusers
``AutoencoderDC`` (DC-AE f32c32) and ``SanaTransformer2DModel`` (SANA-600M), and the kit's own
:class:`~ditic_lite.latent_codec.LatentCodec`, :class:`~ditic_lite.prompter.Prompter` and
:class:`~ditic_lite.aux_encoder.AuxEncoder` at official widths. Module names equal the merged
checkpoint's keys (SPEC section 2), so ``load_official()`` loads the released ``*_merge_ema.pt``
files strictly. Nothing here re-implements a mechanism: the model is the kit's
:class:`~ditic_lite.model.DiTIC` with a few official hooks (padding, file layout, dtype casts,
timestep convention).

Typical use (explained in notebook ``07_official_dit_ic``)::

    model = load_official("path/to/q1_merge_ema.pt")          # or "JunqiShi/DiT-IC/<file>"
    latent, latent2 = model.encode(x01)                        # padded to multiples of 256
    out = model.codec.compress(latent, latent2)                # {"strings", "shape"}
    data = write_official_bin(out["strings"], out["shape"])    # the official file bytes
    image = model.decompress(*read_official_bin(data))         # padded, in [-1, 1]
"""
from __future__ import annotations

import json
import pickle
import struct
import warnings
from pathlib import Path
from typing import Any, Mapping

import torch

from .checkpoints import ENTROPY_TABLE_KEYS, CheckpointError, key_mismatch, read_safetensors, sha256_file
from .config import (
    AuxEncoderConfig, DiTICConfig, FlowConfig, LatentCodecConfig, LoraConfigSpec, PrompterConfig,
)
from .container import DecodeError
from .images import pad_to_multiple
from .model import DiTIC

CONFIG_DIR = Path(__file__).parent / "official_configs"
HUB_REPO = "JunqiShi/DiT-IC"
IGNORED_PREFIXES = ("loss.",)  # training-loss networks saved in the merged checkpoint (SPEC 2)
RECOMPUTED_KEYS = ENTROPY_TABLE_KEYS  # rANS tables, recomputed after loading (SPEC 2, 4.6)

__all__ = [
    "CONFIG_DIR", "HUB_REPO", "OfficialDiTIC", "official_config", "build", "official_pad",
    "read_official_bin", "write_official_bin", "load_checkpoint", "load_official",
    "CheckpointNotFoundError", "CheckpointMismatchError",
]


# ---------------------------------------------------------------------------------------- config
def _diffusers_kwargs(path: Path) -> dict[str, Any]:
    """A diffusers ``config.json`` without its bookkeeping entries (``_class_name``, ...)."""
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}


def official_config(config_dir: str | Path | None = None) -> DiTICConfig:
    """The official :class:`DiTICConfig` from the repository's JSON configs (SPEC 1, 4-8, 10).

    The flow's timestep and ``sigma_t`` are read from the official scheduler exactly as the
    release does: DPM-Solver with flow sigmas (shift 3) and ``set_timesteps(1)`` gives
    ``timesteps = [999]``, ``sigmas[0] = 0.99966645`` (float32).
    """
    from diffusers import DPMSolverMultistepScheduler

    d = Path(config_dir) if config_dir is not None else CONFIG_DIR
    codec = json.loads((d / "codec.json").read_text())
    hard = codec["hardcoded_in_code"]
    scheduler = DPMSolverMultistepScheduler.from_config(
        json.loads((d / "scheduler" / "scheduler_config.json").read_text()))
    scheduler.set_timesteps(1)
    noise = hard["adaptive_noise"]
    cp, pr, aux = codec["codec_param"], hard["prompter"], hard["aux_encoder"]
    return DiTICConfig(
        name="official",
        vae=_diffusers_kwargs(d / "vae" / "config.json"),
        dit=_diffusers_kwargs(d / "transformer" / "config.json"),
        codec=LatentCodecConfig(
            latent_channels=cp["ch_emd"], aux_channels=aux["M"], pre_channels=(128, 64),
            y_channels=cp["channel"], z_channels=hard["entropy"]["entropy_bottleneck_channels"],
            prompt_channels=pr["in_channels"], scale_hidden_channels=192,
        ),
        aux=AuxEncoderConfig(N=aux["N"], M=aux["M"]),
        prompter=PrompterConfig(in_channels=pr["in_channels"], embed_dim=pr["embed_dim"],
                                num_tokens=pr["num_tokens"], fixed_tokens=pr["fixed_tokens"]),
        flow=FlowConfig(
            timestep=float(scheduler.timesteps[0]), sigma_t=float(scheduler.sigmas[0]),
            offset=noise["offset"], slope=noise["slope"], saturation=noise["a"],
            log_scale_clamp=tuple(hard["log_scale_clamp"]),
        ),
        lora=LoraConfigSpec(
            dit_rank=codec["DiT_params"]["lora_rank_DiT"], dit_alpha=codec["DiT_params"]["lora_alpha_DiT"],
            vae_rank=codec["vae_params"]["lora_rank_vae"], vae_alpha=codec["vae_params"]["lora_alpha_vae"],
        ),
        pad_multiple=hard["input_padding_multiple"],
    )


# ---------------------------------------------------------------------------------------- model
def official_pad(x: torch.Tensor, multiple: int = 256) -> torch.Tensor:
    """The official padding: right/bottom **reflect** padding to multiples of 256 (SPEC 1.1).

    Identical to the release wherever the release works. Reflection needs the pad to be smaller
    than the image side, so the release fails on images smaller than the pad (e.g. 100x100 needs
    156 rows); here the part reflection cannot provide is filled by replicating the edge instead.
    This is the kit's single padding rule (:func:`ditic_lite.images.pad_to_multiple`).
    """
    return pad_to_multiple(x, multiple, mode="reflect")


class OfficialDiTIC(DiTIC):
    """:class:`DiTIC` built from the official configs, with the release's encode/decode hooks.

    Only the DC-AE and the DiT change dtype with ``build(dtype=...)`` / :meth:`set_compute_dtype`;
    the codec, the auxiliary encoder and the prompter stay float32 (entropy coding needs exact
    scales, and the small parts cost nothing). The overrides below only add the dtype casts and
    the release's timestep convention; the decode itself is :meth:`DiTIC.reconstruct`.
    """

    @staticmethod
    def _dtype(module: torch.nn.Module) -> torch.dtype:
        return next(module.parameters()).dtype

    def set_compute_dtype(self, dtype: torch.dtype) -> "OfficialDiTIC":
        """Run the DC-AE and the DiT in ``dtype`` (e.g. ``torch.bfloat16`` on a GPU)."""
        for module in (self.vae, self.DiT):
            if self._dtype(module) != dtype:
                module.to(dtype)
        return self

    def enable_tiling(self, **kwargs: Any) -> None:
        """Opt-in tiled DC-AE encoding/decoding for large images (diffusers ``enable_tiling``).

        Tiles (default 512 px, stride 448) are decoded separately and blended, which bounds the
        decoder's memory; the DC-AE attention is global, so the result differs slightly from an
        untiled decode. Keyword arguments go to diffusers (keep the stride below the tile size).
        """
        self.vae.enable_tiling(**kwargs)

    def disable_tiling(self) -> None:
        self.vae.disable_tiling()

    # ---------------------------------------------------------------- dtype-aware overrides
    def encode_latents(self, x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded image in [0,1] -> float32 ``(latent, latent2)`` (SPEC 1.1 steps 1, 3, 4)."""
        c = (x01.float() - 0.5) / 0.5
        latent2 = self.aux_codec((c + 1) / 2)
        latent = self.vae.encode(c.to(self._dtype(self.vae))).latent * self.scaling_factor
        return latent.float(), latent2

    def dit_timestep(self, t: float, like: torch.Tensor) -> torch.Tensor:
        """The release's convention: ``t * DiT.config.timestep_scale`` in float32 (SPEC 1.2 step 5)."""
        scale = float(self.DiT.config.get("timestep_scale", 1.0))
        return torch.tensor([t * scale], dtype=torch.float32, device=like.device)

    def velocity(self, x: torch.Tensor, timestep: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        dtype = self._dtype(self.DiT)
        return super().velocity(x.to(dtype), timestep, tokens.to(dtype)).to(x.dtype)

    def decode_latent_signed(self, latent: torch.Tensor) -> torch.Tensor:
        """Scaled latent -> image in [-1, 1] (the official output before cropping, SPEC 1.2 step 9)."""
        z = (latent / self.scaling_factor).to(self._dtype(self.vae))
        return self.vae.decode(z).sample.float().clamp(-1, 1)

    def decode_latent(self, latent: torch.Tensor) -> torch.Tensor:
        return (self.decode_latent_signed(latent) * 0.5 + 0.5).clamp(0, 1)

    # ---------------------------------------------------------------- official hooks
    @torch.no_grad()
    def encode(self, x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image 1x3xH0xW0 in [0,1] -> ``(latent, latent2)`` for ``codec.compress`` (SPEC 1.1 1-4).

        Pads with :func:`official_pad` first; keep (H0, W0) to crop the decoded image.
        """
        device = self.codec.entropy_bottleneck.quantiles.device
        return self.encode_latents(official_pad(x01.float(), self.config.pad_multiple).to(device))

    @torch.no_grad()
    def decode_steps(self, strings: list, shape: tuple[int, int]) -> dict[str, torch.Tensor]:
        """The official decompress path with every intermediate (SPEC 1.2; goldens, notebooks):
        :meth:`DiTIC.reconstruct` (one step) and the signed decoder output.

        Returns ``mean, log_scale, res, prompt, y_hat`` (codec), ``std, sigma_map, tokens,
        timestep, model_pred, x_denoised`` and ``image`` (padded, clamped to [-1, 1]).
        """
        out = dict(self.codec.decompress(strings, shape))
        velocities: list[torch.Tensor] = []
        rec = self.reconstruct(out, steps=1, velocities=velocities, decode=False)
        out.update(std=rec["std"], sigma_map=rec["sigma_map"], tokens=rec["tokens"],
                   timestep=self.dit_timestep(self.config.flow.timestep, out["mean"]),
                   model_pred=velocities[0], x_denoised=rec["y_hat"],
                   image=self.decode_latent_signed(rec["y_hat"]))
        return out

    def decompress(self, strings: list, shape: tuple[int, int]) -> torch.Tensor:
        """``[[y], [z]], (zh, zw)`` -> padded image 1x3x(256 zh)x(256 zw) in [-1, 1] (SPEC 1.2).

        Crop to the original size and map ``x * 0.5 + 0.5`` yourself: the official file does
        not store the image size.
        """
        return self.decode_steps(strings, shape)["image"]


def build(
    config_dir: str | Path | None = None, dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> OfficialDiTIC:
    """The official architecture with freshly initialised weights (entropy tables computed).

    ``state_dict()`` keys and shapes equal the required rows of the official manifest (without
    the ``branch1`` alias keys). ``device="meta"`` builds the structure only (no memory, no
    tables: call ``codec.update(force=True)`` after loading real tensors with ``assign=True``).
    Float32 takes about 4.2 GB; ``dtype`` applies to the DC-AE and the DiT only.
    """
    cfg = official_config(config_dir)
    with torch.device(device):
        model = OfficialDiTIC(cfg)
    if torch.device(device).type != "meta":
        model.codec.update(force=True)
    return model.set_compute_dtype(dtype).eval()


# ---------------------------------------------------------------------------------------- file
def write_official_bin(strings: list, shape: tuple[int, int]) -> bytes:
    """The official file layout (SPEC 9): big-endian u32 ``zh, zw, 2, len_y, y, len_z, z``.

    Kept bit-compatible with the release. It differs from the kit's ``.ditic`` container
    (``ditic_lite.container``) on purpose: the release stores no magic number, version, image
    size or checksum, so a standalone decoder cannot crop or detect corruption; the container
    adds exactly those. One image per file (only the first string of each list is written).
    """
    if len(strings) != 2 or any(len(s) != 1 for s in strings):
        raise ValueError("the official file holds one image: strings must be [[y_bytes], [z_bytes]]")
    zh, zw = (int(v) for v in shape)
    if not (0 < zh < 2**32 and 0 < zw < 2**32):
        raise ValueError(f"impossible hyper-latent shape {zh}x{zw}")
    y, z = bytes(strings[0][0]), bytes(strings[1][0])
    return b"".join([struct.pack(">IIII", zh, zw, 2, len(y)), y, struct.pack(">I", len(z)), z])


def read_official_bin(data: bytes) -> tuple[list[list[bytes]], tuple[int, int]]:
    """Parse an official file: ``([[y_bytes], [z_bytes]], (zh, zw))`` (SPEC 9).

    Raises :class:`~ditic_lite.container.DecodeError` (a ``ValueError``) on truncated files,
    a string count other than 2, zero sizes or trailing bytes.
    """
    data = bytes(data)
    if len(data) < 20:
        raise DecodeError(f"official file too short ({len(data)} bytes; the header alone is 20)")
    zh, zw, n_strings, len_y = struct.unpack_from(">IIII", data, 0)
    if n_strings != 2:
        raise DecodeError(f"official file declares {n_strings} strings, expected 2 (y, z)")
    if zh == 0 or zw == 0:
        raise DecodeError(f"official file declares an empty hyper-latent {zh}x{zw}")
    if 16 + len_y + 4 > len(data):
        raise DecodeError(f"official file truncated: y-string of {len_y} bytes does not fit in {len(data)}")
    y = data[16:16 + len_y]
    (len_z,) = struct.unpack_from(">I", data, 16 + len_y)
    end = 20 + len_y + len_z
    if end != len(data):
        what = "truncated" if end > len(data) else f"followed by {len(data) - end} unexpected bytes"
        raise DecodeError(f"official file {what} (z-string of {len_z} bytes)")
    return [[y], [data[20 + len_y:end]]], (zh, zw)


# ---------------------------------------------------------------------------------------- loading
class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint is neither a local file nor downloadable (offline / unknown file)."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint's keys or shapes do not match the official architecture."""


def resolve_checkpoint(checkpoint: str | Path) -> Path:
    """Local path, or ``[hf://]owner/repo/filename`` downloaded (and cached) with huggingface_hub."""
    path = Path(checkpoint).expanduser()
    if path.is_file():
        return path
    text = str(checkpoint)
    parts = text.removeprefix("hf://").split("/")
    looks_local = path.is_absolute() or text.startswith((".", "~")) or Path(parts[0]).exists()
    hint = (f"download a *_merge_ema.pt file from https://huggingface.co/{HUB_REPO} and pass its "
            f"local path, or pass '{HUB_REPO}/<filename>'")
    if len(parts) < 3 or (looks_local and not text.startswith("hf://")):
        raise CheckpointNotFoundError(f"checkpoint {text!r} not found: {hint}")
    from huggingface_hub import hf_hub_download

    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        return Path(hf_hub_download(repo_id, filename))
    except Exception as err:  # offline, unknown repo or file, HTTP errors: one clear line
        raise CheckpointNotFoundError(
            f"cannot get {filename!r} from the hub repo {repo_id!r} ({type(err).__name__}); {hint}"
        ) from None


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file or of a torch file (``weights_only=True``, never pickle)."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(9)
    if path.suffix == ".safetensors" or head[8:9] == b"{":
        return read_safetensors(path, error=CheckpointMismatchError)
    try:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) torch files cannot be memory-mapped
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointMismatchError(
            f"{path}: holds objects other than tensors; refusing to unpickle it ({err})".splitlines()[0]
        ) from None
    except (RuntimeError, EOFError, OSError) as err:  # truncated or damaged archive
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointMismatchError(f"{path.name}: truncated or damaged torch file ({message})") from None
    if isinstance(sd, Mapping) and len(sd) == 1 and next(iter(sd)) in ("state_dict", "model"):
        sd = next(iter(sd.values()))
    if not isinstance(sd, Mapping) or not all(torch.is_tensor(v) for v in sd.values()):
        raise CheckpointMismatchError(f"{path}: expected a flat dict of tensors (a merged state dict)")
    return dict(sd)


def _drop_aliases(sd: dict[str, torch.Tensor]) -> None:
    """Remove the legacy ``branch1`` alias keys of Downsample/Upsample (SPEC 2), checking values.

    ``Adapter.branch1`` is a real name: a ``branch1`` key is an alias only if the same key with
    ``down`` or ``up`` in its place exists.
    """
    for key in [k for k in sd if ".branch1." in k]:
        real = next((r for r in (key.replace(".branch1.", f".{n}.", 1) for n in ("down", "up")) if r in sd), None)
        if real is None:
            continue
        if not torch.equal(sd[key], sd[real]):
            warnings.warn(f"alias {key} differs from {real}; using {real}", stacklevel=3)
        del sd[key]


def load_checkpoint(model: torch.nn.Module, checkpoint: str | Path | Mapping[str, torch.Tensor],
                    assign: bool = False) -> torch.nn.Module:
    """Load a merged official checkpoint into ``model`` strictly, then recompute the rANS tables.

    ``checkpoint``: local ``.pt``/``.safetensors`` path, ``owner/repo/filename`` on the hub, or
    a state dict. ``loss.*`` keys are dropped, ``branch1`` aliases checked and dropped, the
    entropy tables may be present or absent (recomputed by ``update(force=True)``, as the
    official ``compress.py`` does). Every other key must match in name and shape; the first
    mismatches are named in a :class:`CheckpointMismatchError`.
    """
    sd = dict(checkpoint) if isinstance(checkpoint, Mapping) else read_state_dict(resolve_checkpoint(checkpoint))
    sd = {k: v for k, v in sd.items() if not k.startswith(IGNORED_PREFIXES)}
    _drop_aliases(sd)
    expected = model.state_dict()
    fit = key_mismatch(expected, sd)
    wrong = [f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(expected[k].shape)}" for k in fit.wrong_shape]
    problems = ([f"missing {k}" for k in fit.missing[:5]] + [f"unexpected {k}" for k in fit.unexpected[:5]]
                + [f"shape {w}" for w in wrong[:5]])
    if problems:
        counts = f"{len(fit.missing)} missing, {len(fit.unexpected)} unexpected, {len(wrong)} wrong shapes"
        raise CheckpointMismatchError(f"checkpoint does not match the official model ({counts}): "
                                      + "; ".join(problems))
    model.load_state_dict(sd, strict=False, assign=assign)
    if hasattr(model, "codec"):
        model.codec.update(force=True)
    return model


def load_official(checkpoint: str | Path, device: torch.device | str = "cpu",
                  dtype: torch.dtype = torch.float32) -> OfficialDiTIC:
    """Build the official model, load ``checkpoint``, recompute the tables; eval mode.

    The structure is built on the ``meta`` device and the checkpoint tensors are assigned to it,
    so no memory is spent on a random initialisation. ``dtype`` (e.g. ``torch.bfloat16`` on a
    GPU) applies to the DC-AE and the DiT; the codec, auxiliary encoder and prompter stay
    float32. Bitstreams are reproducible between machines of the same device type only.
    """
    model = build(device="meta")
    load_checkpoint(model, checkpoint, assign=True)
    leftover = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if leftover:
        raise CheckpointMismatchError(f"tensors not set by the checkpoint: {leftover[:5]}")
    model.to(device)
    model.codec.update(force=True)  # tables on the target device
    return model.set_compute_dtype(dtype).eval()


def load_codec(checkpoint: str | Path | None = None, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32):
    """``ditic_lite.load("official", checkpoint=...)``: the loaded model inside a kit ``Codec``.

    The checkpoint id written into ``.ditic`` files is the first 8 bytes of the SHA-256 of the
    checkpoint file (one extra read of the ~4 GB file).
    """
    from .codec import Codec

    if checkpoint is None:
        raise CheckpointNotFoundError(
            f"the official model needs checkpoint=: a *_merge_ema.pt file from "
            f"https://huggingface.co/{HUB_REPO} (local path or '{HUB_REPO}/<filename>')")
    path = resolve_checkpoint(checkpoint)
    digest = sha256_file(path)
    model = load_official(path, device=device, dtype=dtype)
    return Codec(model=model, name="official", rate=0, rates=[0], checkpoint_id=bytes.fromhex(digest)[:8],
                 card={"checkpoint": str(path), "sha256": digest}, device=torch.device(device))
