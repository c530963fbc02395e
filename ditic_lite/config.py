"""Model configurations: one dataclass per part, named presets per tier.

The tiny tier is the official DiT-IC architecture family (see ``tests/fixtures/official/SPEC.md``)
shrunk until a 2-core CPU can train it: the same module names and data flow, fewer channels and
layers, and a space-to-depth stem in the autoencoder so that no convolution runs at full resolution
in the decoder. The official tier reads the released configs instead (``ditic_lite.official``).

Explained in notebook ``01_quickstart``.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class LatentCodecConfig:
    """Channel widths of the latent codec (official values in comments; SPEC section 4)."""

    latent_channels: int = 32  # DC-AE latent channels (ch_emd / channel_out: 32)
    aux_channels: int = 320  # auxiliary (ELIC) encoder output M (320)
    pre_channels: tuple[int, int] = (128, 64)  # g_a.pre1 / g_a.pre2 outputs (128, 64)
    y_channels: int = 320  # coding space y at /64 (320); divisible by 4 groups
    z_channels: int = 160  # hyperprior z at /256 (160)
    prompt_channels: int = 320  # prompt head output = prompter input (320)
    scale_hidden_channels: int = 192  # width of the log-variance head's upsampler (192)
    # Kit additions (None / False: the official layout, bit for bit):
    context_channels: int | None = None  # hidden width of the context model; None: 2 * y (official)
    channel_steps: bool = False  # a learned quantisation step per y channel and rate point (log_step)


@dataclass
class AuxEncoderConfig:
    """ELIC analysis transform widths (official N=192, M=320; SPEC section 5)."""

    N: int = 192
    M: int = 320


@dataclass
class PrompterConfig:
    """Latent-conditioned guidance projector (SPEC section 6)."""

    in_channels: int = 320
    embed_dim: int = 2304  # caption-embedding width the DiT cross-attends to
    num_tokens: int = 77  # pooled tokens + learned tokens
    fixed_tokens: int = 48  # pooled tokens


@dataclass
class FlowConfig:
    """Variance-guided reconstruction flow constants (SPEC section 8)."""

    timestep: float = 999.0  # global DiT timestep of the one-step decode
    sigma_t: float = 0.99966645  # shift-3 flow sigma at t=999: 3*0.999/(1+2*0.999)
    offset: float = 0.4  # noise level fraction where the entropy model is certain
    slope: float = 0.15  # per unit of predicted std
    saturation: float = 4.0  # std above which the full sigma_t is used
    log_scale_clamp: tuple[float, float] = (-30.0, 20.0)


@dataclass
class AlignConfig:
    """Weights of the two alignment losses (SPEC section 11; paper section 3)."""

    distill_margin: float = 0.5  # the release's; the kit's recipe trains with training.config.DISTILL_MARGIN
    distill_weight: float = 0.05
    contrastive_weight: float = 0.1
    init_temperature: float = 0.07


@dataclass
class LoraConfigSpec:
    """LoRA ranks for the DiT and the autoencoder decoder (SPEC section 10)."""

    dit_rank: int = 128
    dit_alpha: int = 128
    vae_rank: int = 64
    vae_alpha: int = 64
    dit_targets: tuple[str, ...] = (
        "to_k", "to_q", "to_v", "to_out.0", "conv_inverted", "conv_point", "proj_out",
    )
    vae_target_regex: str = (
        r"decoder\..*(conv1|conv2|conv_in|conv_shortcut|conv_inverted|conv_point|to_k|to_q|to_v|to_out\.0)$"
    )


@dataclass
class DiTICConfig:
    """Everything needed to build a DiT-IC model of one tier.

    ``vae`` and ``dit`` are keyword arguments of diffusers ``AutoencoderDC`` and
    ``SanaTransformer2DModel`` (their ``from_config`` dictionaries).
    """

    name: str
    vae: dict[str, Any]
    dit: dict[str, Any]
    codec: LatentCodecConfig = field(default_factory=LatentCodecConfig)
    aux: AuxEncoderConfig = field(default_factory=AuxEncoderConfig)
    prompter: PrompterConfig = field(default_factory=PrompterConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    lora: LoraConfigSpec = field(default_factory=LoraConfigSpec)
    pad_multiple: int = 256  # z lives at /256, so inputs are padded to multiples of 256
    caption_model: str = "all-MiniLM-L6-v2"  # caption-embedding space used in training

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DiTICConfig":
        parts = {
            "codec": LatentCodecConfig, "aux": AuxEncoderConfig, "prompter": PrompterConfig,
            "flow": FlowConfig, "align": AlignConfig, "lora": LoraConfigSpec,
        }
        kwargs = dict(d)
        for key, part_cls in parts.items():
            if key in kwargs:
                values = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs[key].items()}
                kwargs[key] = part_cls(**values)
        return cls(**kwargs)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "DiTICConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


def tiny_config() -> DiTICConfig:
    """The CPU tier: about 1/100 of the official compute, same module names and data flow."""
    return DiTICConfig(
        name="tiny",
        vae=dict(
            in_channels=3,
            latent_channels=32,
            attention_head_dim=16,
            # layers_per_block[0] == 0 turns the first stage into a space-to-depth stem
            # (conv at full resolution to few channels + pixel unshuffle), see diffusers DCDownBlock2d.
            encoder_block_types=("ResBlock",) * 4 + ("EfficientViTBlock",) * 2,
            decoder_block_types=("ResBlock",) * 4 + ("EfficientViTBlock",) * 2,
            encoder_block_out_channels=(16, 32, 64, 128, 128, 128),
            decoder_block_out_channels=(16, 32, 64, 128, 128, 128),
            encoder_layers_per_block=(0, 1, 1, 1, 1, 1),
            decoder_layers_per_block=(0, 1, 1, 2, 2, 2),
            encoder_qkv_multiscales=((), (), (), (), (5,), (5,)),
            decoder_qkv_multiscales=((), (), (), (), (5,), (5,)),
            scaling_factor=1.0,  # replaced by the measured 1/std of the latents after training
        ),
        dit=dict(
            in_channels=32,
            out_channels=32,
            num_attention_heads=4,
            attention_head_dim=32,
            num_layers=4,
            num_cross_attention_heads=4,
            cross_attention_head_dim=32,
            cross_attention_dim=128,
            caption_channels=384,  # all-MiniLM-L6-v2 width
            mlp_ratio=2.5,
            patch_size=1,
            sample_size=32,
            interpolation_scale=None,  # no positional embedding, as in SANA
        ),
        # y has 128 channels at /64: as many numbers per 64x64 block as the latent itself (4 x 32), so
        # the coding space can carry the whole latent (the 48 channels of the first tiny tier capped
        # it at 20 dB with y nearly exact, issue 20). The context model runs at a fixed width of 96
        # with 1x1 adapters (layers.ContextAdapter), so its size grows linearly with y, not with y^2;
        # one model codes every rate point, each with its own learned step per channel.
        codec=LatentCodecConfig(
            latent_channels=32, aux_channels=64, pre_channels=(64, 32), y_channels=128,
            z_channels=64, prompt_channels=64, scale_hidden_channels=32,
            context_channels=96, channel_steps=True,
        ),
        aux=AuxEncoderConfig(N=32, M=64),
        prompter=PrompterConfig(in_channels=64, embed_dim=384, num_tokens=12, fixed_tokens=8),
        lora=LoraConfigSpec(dit_rank=16, dit_alpha=16, vae_rank=8, vae_alpha=8),
    )


PRESETS = {"tiny": tiny_config}
