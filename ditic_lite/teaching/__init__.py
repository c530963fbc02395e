"""Analysis helpers behind the seven notebooks: every number a notebook shows is computed here.

Notebook cells only load, call and plot; each module below serves one notebook and holds only
analysis and plotting glue (the model logic is in ``model.py``, ``flow.py``, ``samplers.py``).
Results come back as tidy ``pandas`` tables (one row per measurement) and PIL images. Every name
is importable from ``ditic_lite.teaching`` itself (``dl.teaching.<name>`` in the notebooks).

* ``01_quickstart``: :mod:`.quickstart` (pipeline shapes, codec summary, zoom box)
* ``02_variance_and_pseudo_timesteps``: :mod:`.variance`
* ``03_one_step_vs_multi_step``: :mod:`.steps`
* ``04_bitrate_slider``: :mod:`.slider`
* ``05_rate_perception_curves``: :mod:`.rate_curves`
* ``06_alignment_mechanisms``: :mod:`.alignment`
* ``07_official_dit_ic``: :mod:`.official_tier`
* ``02``-``07``: :mod:`.tier` (which tier runs, the official release or the tiny model, and why)

:mod:`.common` holds the few helpers they share (image forms, the latent grid).
"""
from __future__ import annotations

from .alignment import (
    ABLATION_COMMAND, ABLATION_CSV, ablation_report, alignment_ablation, caption_embeddings, captioned,
    condition_ablation, decode_with_tokens, distillation_table, encoder_latent, retrieval_table,
    sample_captions, swap_condition, trained_margin,
)
from .common import LATENT_FACTOR, SUBJECTS, subject_box
from .official_tier import cached_official_checkpoints, decode_timing, reproduce_points, synthetic_photo
from .quickstart import describe_codec, pipeline_shapes, zoom_box
from .rate_curves import (
    PERCEPTUAL_WEIGHTS, bd_rate_table, default_metrics, lowest_rate_scores, perceptual_metrics, rd_summary,
    rd_table, reference_caption,
)
from .slider import (
    QUANT_STEPS, CodecCache, bitrate_slider, quant_step_sweep, quant_step_verdict, rate_points_description,
    slider_panels, slider_table, slider_update,
)
from .steps import (
    base_dit_decode, base_dit_sweep, caption_for, compare_steps, decode_scores, has_base_dit, one_step_summary,
    step_drift_summary, step_sweep,
)
from .tier import (
    CHECKPOINT_GB, CPU_SIDE, EVALUATION_SIDE, RELEASE_FILES, SINGLE_FILE_QUANT_STEPS, TIER_CHOICES, AtQuantStep,
    Tier, choose_tier, download_note, release_checkpoints,
)
from .variance import (
    correlations, latent_map, sigma_texture_table, texture_correlations, texture_map, timestep_ablation,
)

__all__ = [
    # 01
    "SUBJECTS", "describe_codec", "pipeline_shapes", "subject_box", "zoom_box",
    # 02
    "LATENT_FACTOR", "correlations", "latent_map", "sigma_texture_table", "texture_correlations",
    "texture_map", "timestep_ablation",
    # 03
    "base_dit_decode", "base_dit_sweep", "caption_for", "compare_steps", "decode_scores", "has_base_dit",
    "one_step_summary", "step_drift_summary", "step_sweep",
    # 04
    "QUANT_STEPS", "CodecCache", "bitrate_slider", "quant_step_sweep", "quant_step_verdict",
    "rate_points_description", "slider_panels", "slider_table", "slider_update",
    # 05
    "PERCEPTUAL_WEIGHTS", "bd_rate_table", "default_metrics", "lowest_rate_scores", "perceptual_metrics",
    "rd_summary", "rd_table", "reference_caption",
    # 06
    "ABLATION_COMMAND", "ABLATION_CSV", "ablation_report", "alignment_ablation", "caption_embeddings", "captioned",
    "condition_ablation", "decode_with_tokens", "distillation_table", "encoder_latent", "retrieval_table",
    "sample_captions", "swap_condition", "trained_margin",
    # 07
    "cached_official_checkpoints", "decode_timing", "reproduce_points", "synthetic_photo",
    # 02-07: the tier
    "CHECKPOINT_GB", "CPU_SIDE", "EVALUATION_SIDE", "RELEASE_FILES", "SINGLE_FILE_QUANT_STEPS", "TIER_CHOICES",
    "AtQuantStep", "Tier", "choose_tier", "download_note", "release_checkpoints",
]
