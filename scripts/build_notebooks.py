"""Write the seven teaching notebooks (``notebooks/NN_name.ipynb``) from the cell lists below.

    python scripts/build_notebooks.py            # (re)write the .ipynb files, outputs stripped
    python scripts/build_notebooks.py --check    # fail if a notebook differs from this script
    python scripts/build_notebooks.py --gallery  # also execute them (full size) to refresh figures/

The notebooks are generated, so edit this file, not the .ipynb. Every notebook: a title with a
Colab badge, a Colab-only install cell, ``import ditic_lite as dl; device = dl.setup()``, its
parameters (``dl.notebook.params``; ``DITIC_FAST=1`` gives the CI sizes), then short markdown
cells with the method's equations and code cells that only load, call and plot from the kit.
Cells ids are fixed and outputs empty, so regenerating gives no diff.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ditic_lite.notebook import COLAB_DIR, GITHUB_ORG, REPO_URL  # noqa: E402

NOTEBOOKS_DIR = ROOT / "notebooks"
BADGE = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/github/{org}/ditic-lite/blob/main/notebooks/{name}.ipynb)")

COLAB_CELL = f'''# Colab only: clone and install the kit (Colab's torch is kept). Elsewhere this cell does nothing.
import sys
if "google.colab" in sys.modules:
    !test -d {COLAB_DIR} || git clone -q --depth 1 {REPO_URL} {COLAB_DIR}
    %pip install -q -e {COLAB_DIR}
    sys.path.insert(0, "{COLAB_DIR}")'''

SETUP_CELL = """import ditic_lite as dl

device = dl.setup()  # Colab: installs what is missing, says if a restart is needed; locally: just the device"""


def md(text: str) -> tuple[str, str]:
    return ("markdown", text.strip("\n"))


def code(text: str) -> tuple[str, str]:
    return ("code", text.strip("\n"))


def header(name: str, title: str, intro: str) -> list[tuple[str, str]]:
    return [md(f"# {title}\n\n{BADGE.format(org=GITHUB_ORG, name=name)}\n\n{intro.strip()}"),
            code(COLAB_CELL), code(SETUP_CELL)]


# ============================================================================ 01 quickstart
NB01 = header("01_quickstart", "01 · Quickstart: compress an image with DiT-IC", """
DiT-IC (Shi et al., CVPR 2026) codes an image into a tiny entropy-coded representation and
reconstructs it with **one** step of a pretrained diffusion transformer (DiT). This notebook
compresses a photo into a real file, reads its size, decodes it, and draws the pipeline with the
tensor shapes read off the model.

Everything runs on a laptop CPU with the kit's *tiny* model (same architecture family as the
official one, about a hundred times less compute). The official model is in notebook 07.
""") + [
    code("""
P = dl.notebook.params(image="kite", rate=0)  # any sample photo; a rate point of the tiny model
P"""),
    md("""
## Load a model

`dl.load(name, rate)` is the single entry point: `"tiny"` (DiT-IC tiny), `"mse"` (the same latent
codec with a plain decoder, no DiT), `"official"` (the released checkpoint, notebook 07). A model
is one of several *rate points*: each was trained with a different weight $\\lambda$ on the rate
in the loss $L = \\lambda R + D + \\dots$
"""),
    code("""
codec = dl.load("tiny", rate=P.rate, device=device)
print(dl.teaching.describe_codec(codec))"""),
    md("""
## Compress into a real file

`compress` returns the bytes of a `.ditic` file: a small header (model, checkpoint id, rate,
image size) and two rANS-coded streams. The rate is measured on those real bytes,

$$\\text{bpp} = \\frac{8 \\cdot \\text{bytes}}{H \\cdot W}.$$
"""),
    code("""
image = dl.load_image(dl.notebook.sample_path(P.image))
data = codec.compress(image)
path = dl.notebook.result_path(f"{P.image}.ditic")
path.write_bytes(data)

n_bytes = path.stat().st_size
bpp = dl.metrics.bits_per_pixel(n_bytes, image.height, image.width)
print(f"{path.name}: {n_bytes} bytes on disk for a {image.width}x{image.height} image = {bpp:.4f} bpp "
      f"(the PNG is {dl.notebook.sample_path(P.image).stat().st_size} bytes)")"""),
    md("""
## Decode the file

Decoding reads the file back, entropy-decodes the latent, runs one DiT step and the decoder.
`return_intermediates=True` also returns what happened inside (used throughout the notebooks).
"""),
    code("""
recon, info = codec.decompress(path.read_bytes(), steps=1, return_intermediates=True)
psnr, msssim = dl.metrics.psnr(image, recon), dl.metrics.ms_ssim(image, recon)
print(f"PSNR {psnr:.2f} dB, MS-SSIM {msssim:.4f} at {info['bpp']:.4f} bpp")
print("decode time per stage (s):", {k: round(v, 3) for k, v in info["timings"].items()})"""),
    code("""
box = dl.teaching.zoom_box(image, size=128)  # the most textured square: artefacts show there first
fig = dl.viz.side_by_side([image, recon], ["original", f"DiT-IC tiny, {bpp:.3f} bpp, {psnr:.1f} dB"], crop=box)
dl.viz.save(fig, "01_quickstart.png")"""),
    md("""
## The pipeline, with shapes read off the model

Encoder side: the frozen DC-AE encoder maps the image to a latent $E(x)$ at 1/32 of its size
(32 channels); a small auxiliary encoder adds features at 1/16. The latent codec's analysis
transform squeezes both into the code $y = g_a(E(x), \\text{aux})$ at **1/64**, with a
hyper-latent $z$ at 1/256; both are quantised and entropy coded.

Decoder side: from the decoded $\\hat y$ the codec predicts, at 1/32, a mean latent
$\\tilde y$, its standard deviation $\\sigma$, a residual and a *latent condition* $c$ (tokens
that replace the DiT's text prompt). One step of the DiT refines the latent,

$$\\hat y = \\tilde y - \\sigma_t(\\sigma) \\odot v_\\theta(\\tilde y, t, c) + \\text{res},
\\qquad \\hat x = D(\\hat y),$$

where $\\sigma_t(\\sigma)$ is a per-pixel noise level (notebook 02). Every row below was measured
on this image with the loaded model.
"""),
    code("""
shapes = dl.teaching.pipeline_shapes(codec, image)
shapes"""),
    code("""
fig = dl.viz.pipeline_diagram(shapes)
dl.viz.save(fig, "01_pipeline.png")"""),
    code("""
s = shapes.set_index("key")
print(f"The DiT works on a {s.loc['y_tilde', 'shape']} latent ({s.loc['y_tilde', 'scale']} of the image side); "
      f"the code that is entropy coded is {s.loc['y', 'shape']} ({s.loc['y', 'scale']}) plus a "
      f"{s.loc['z', 'shape']} hyper-latent ({s.loc['z', 'scale']}): {s.loc['bytes', 'values']} bytes in all.")"""),
    md("""
**Next:** notebook 02 looks inside the one step: where the noise level $\\sigma_t(\\sigma)$
comes from and what it does.
"""),
]

# ============================================================================ 02 variance
NB02 = header("02_variance_and_pseudo_timesteps", "02 · Variance-guided flow: σ becomes a pixel-wise timestep", """
A diffusion model denoises an image whose noise level is known (the timestep). In DiT-IC the
decoded latent $\\tilde y$ is "noisy" too, but by how much differs from place to place. The
entropy model already knows: for every latent value it predicts a Gaussian with mean $\\tilde y$
and standard deviation $\\sigma$. DiT-IC turns $\\sigma$ into a **pixel-wise pseudo-timestep**
(paper section 3.2, mechanism 1).
""") + [
    code("""
P = dl.notebook.params(image="kite", rate=0, images=3, fast=dict(images=2))
codec = dl.load("tiny", rate=P.rate, device=device)
image = dl.load_image(dl.notebook.sample_path(P.image))
recon, info = codec.roundtrip(image)
print(dl.teaching.describe_codec(codec))"""),
    md("""
## From predicted std to a noise level

The codec predicts a log-variance $\\ell$; $\\sigma = \\exp(\\tfrac12 \\ell)$. The noise level of
each latent value is

$$\\sigma_{\\text{map}} = \\sigma_t \\cdot \\min(a + b\\,|\\sigma|,\\ 1), \\qquad t_{\\text{map}} = 1000\\,\\sigma_{\\text{map}},$$

with $\\sigma_t$ the flow's noise level at the DiT timestep $t$, and the one step is

$$\\hat y = \\tilde y - \\sigma_{\\text{map}} \\odot v_\\theta(\\tilde y, t, c).$$

Where the entropy model is sure (small $\\sigma$) the step is short; where it is unsure the DiT
removes more. The constants, read from the model's config:
"""),
    code("""
f = codec.model.config.flow
print(f"a = {f.offset}, b = {f.slope}, sigma_t = {f.sigma_t:.6f} at DiT timestep t = {f.timestep:g}; "
      f"|sigma| >= {f.saturation} gives the full sigma_t")"""),
    md("""
## Where is the model unsure?

Heatmaps of the channel-mean $\\sigma$ and $t_{\\text{map}}$ (one value per 32x32 pixel block),
next to a local texture measure (mean gradient magnitude of the luma in the same block).
"""),
    code("""
maps = {
    "predicted std σ (channel mean)": dl.teaching.latent_map(info["sigma"], image),
    "pseudo-timestep t_map (0..1000)": dl.teaching.latent_map(info["t_map"], image),
    "local texture (gradient magnitude)": dl.teaching.texture_map(image),
}
fig = dl.viz.heatmaps(image, maps, cmaps=["magma", "viridis", "gray"])
dl.viz.save(fig, "02_variance.png")"""),
    code("""
fig = dl.viz.histograms({"σ, all latent values": info["sigma"].numpy(), "t_map, all latent values": info["t_map"].numpy()},
                        xlabel=["σ", "pseudo-timestep"])
dl.viz.save(fig, "02_histograms.png")"""),
    md("""
## Does σ follow texture?

One row per latent pixel; Pearson and Spearman correlation between texture and $\\sigma$ (and
$t_{\\text{map}}$, its monotone function).
"""),
    code("""
table = dl.teaching.sigma_texture_table(image, info)
corr = dl.teaching.correlations(table)
fig = dl.viz.scatter(table, "texture", "sigma", title=f"{P.image}: texture vs predicted std")
dl.viz.save(fig, "02_scatter.png")
corr.round(3)"""),
    code("""
per_image = dl.teaching.texture_correlations(codec, {p.stem: p for p in dl.notebook.sample_paths()[:P.images]})
dl.notebook.save_table(per_image, "02_texture_correlations.csv")
r = per_image["spearman_texture_sigma"]
print(f"Spearman correlation of texture with σ over {len(per_image)} image(s): "
      f"{r.min():+.2f} to {r.max():+.2f} (mean {r.mean():+.2f}); "
      f"t_map spans {per_image['t_min'].min():.0f} to {per_image['t_max'].max():.0f}.")
per_image.round(3)"""),
    md("""
## Ablation: one global timestep instead of the map

Replace $\\sigma_{\\text{map}}$ by its mean everywhere (the usual single diffusion timestep) and
decode the **same bytes**: the rate is identical, only the reconstruction changes.
"""),
    code("""
ablation_images, ablation = dl.teaching.timestep_ablation(codec, image)
dl.notebook.save_table(ablation, "02_timestep_ablation.csv")
ablation.round(4)"""),
    code("""
change = ablation.iloc[-1]
print(f"Global instead of pixel-wise timestep, same {ablation['bytes'].iloc[0]} bytes: "
      f"PSNR {change['psnr']:+.3f} dB, MS-SSIM {change['ms_ssim']:+.4f} "
      f"(the map's spread, std of t_map, was {ablation['t_std'].iloc[0]:.1f} timesteps).")
fig = dl.viz.side_by_side([image, *ablation_images.values()], ["original", *ablation_images],
                          crop=dl.teaching.zoom_box(image, 128))"""),
]

# ============================================================================ 03 steps
NB03 = header("03_one_step_vs_multi_step", "03 · One step vs many: why the adapted flow needs only one", """
Diffusion codecs usually pay for quality with many denoising steps. DiT-IC adapts the DiT (LoRA)
so that a single step from the decoded latent is enough. Here we measure it: the adapted flow
integrated with K Euler steps, and the **un-adapted** base DiT used as an ordinary multi-step
sampler, on the same bytes.
""") + [
    code("""
P = dl.notebook.params(image="kite", rate=0, steps=[1, 2, 4, 8, 20])
codec = dl.load("tiny", rate=P.rate, device=device)
image = dl.load_image(dl.notebook.sample_path(P.image))
print(dl.teaching.describe_codec(codec))"""),
    md("""
## Two ways to use K steps

**Adapted DiT-IC flow.** Integrate the pixel-wise flow of notebook 02 from $\\sigma_{\\text{map}}$
to 0 in K Euler steps: with $f_k = 1 - k/K$,

$$x_{k+1} = x_k - (f_k - f_{k+1})\\, \\sigma_{\\text{map}} \\odot v_\\theta(x_k, f_k t, c),
\\qquad x_0 = \\tilde y,$$

so K = 1 is exactly the one-step decode $\\hat y = \\tilde y - \\sigma_{\\text{map}} \\odot v_\\theta$.

**Un-adapted base DiT.** The pretrained text-to-image flow model (LoRA switched off in DiT and
decoder) was trained on $x_s = (1-s)\\,x_0 + s\\,\\epsilon$ with velocity $v = \\epsilon - x_0$.
We noise the codec's coarse latent $\\tilde y + \\text{res}$ to the mean level of the DiT-IC map
and integrate back to $s = 0$ with diffusers' `FlowMatchEulerDiscreteScheduler` (shift 3), giving
it the image's caption as the prompt, as a text-to-image model expects (SDEdit).
"""),
    code("""
caption = dl.teaching.caption_for(P.image)  # [1, 384] caption embedding (shipped cache), or None
images, table = dl.teaching.compare_steps(codec, image, steps=P.steps, tokens=caption)
dl.notebook.save_table(table, "03_steps.csv")
table.round(4)"""),
    code("""
fig = dl.viz.comparison_grid(images, crop=dl.teaching.zoom_box(image, 160), reference=image)
dl.viz.save(fig, "03_steps.png")"""),
    code("""
fig = dl.viz.steps_chart(table)
dl.viz.save(fig, "03_steps_chart.png")"""),
    md("""
## What the measurements say

The same table, read out (values computed above, on this machine):
"""),
    code("""
print(dl.teaching.one_step_summary(table, "psnr"))
print()
print(dl.teaching.one_step_summary(table, "ms_ssim"))"""),
    md("""
The decode time splits into entropy decoding, DiT calls and the autoencoder decoder (columns
`entropy_s`, `dit_s`, `decoder_s`): every extra step adds one DiT call, so the cost of K steps
grows with K while the one-step decode pays for exactly one. The paper's claim is that the
adapted one step matches or beats many un-adapted steps; the printed lines above check it on
this model.
"""),
]

# ============================================================================ 04 slider
NB04 = header("04_bitrate_slider", "04 · Bitrate slider", """
Move the slider over the shipped rate points (and pick the number of decoding steps) to see the
reconstruction, its real file size in bits per pixel and its quality. The function behind every
move, `dl.teaching.slider_update`, is an ordinary tested function, so the same numbers are printed
below as a table (that is what CI checks, no browser needed).
""") + [
    code("""
P = dl.notebook.params(image="ladybird", steps=[1, 2, 4, 8], table_steps=[1, 4], fast=dict(table_steps=[1]))
image = dl.load_image(dl.notebook.sample_path(P.image))
cache = dl.teaching.CodecCache(device=device)  # loaded models and bitstreams, so a move only decodes
print("rate points shipped: tiny", cache.rates("tiny"), "| mse", cache.rates("mse"))"""),
    md("""
Each rate point is a model trained with its own $\\lambda$ in $L = \\lambda R + D + \\dots$;
a larger $\\lambda$ buys fewer bits with more distortion. The rate is measured on the file:
$\\text{bpp} = 8\\cdot\\text{bytes} / (H W)$.
"""),
    code("""
ui = dl.teaching.bitrate_slider(image, cache, name="tiny", steps_options=P.steps)
ui"""),
    md("""
## Every slider position, as a table

The same function for each rate point, for the DiT-IC tiny model and the MSE baseline (same
latent codec, plain decoder).
"""),
    code("""
slider_images, positions = dl.teaching.slider_table(cache, image, names=["tiny", "mse"], steps=P.table_steps)
dl.notebook.save_table(positions, "04_slider_positions.csv")
positions.round(4)"""),
    code("""
fig = dl.viz.side_by_side([image, *slider_images.values()], ["original", *slider_images],
                          crop=dl.teaching.zoom_box(image, 128))
dl.viz.save(fig, "04_bitrate.png")"""),
    code("""
tiny = positions[positions["model"] == "tiny"]
print(f"tiny: {tiny['bpp'].min():.4f} to {tiny['bpp'].max():.4f} bpp over {tiny['rate'].nunique()} rate point(s); "
      f"PSNR {tiny['psnr'].min():.2f} to {tiny['psnr'].max():.2f} dB; "
      f"a decode took {tiny['decode_s'].median():.2f} s (median).")"""),
]

# ============================================================================ 05 curves
NB05 = header("05_rate_perception_curves", "05 · Rate–distortion–perception curves", """
How many bits for how much quality? We code the sample photos with the kit's models (DiT-IC tiny,
MSE baseline) and with JPEG and WebP (also on a downscaled copy, to reach the same low rates),
measure real file sizes and quality, draw the curves and
compute Bjøntegaard deltas. The paper's published DiT-IC curve on Kodak is drawn beside ours as
**reference data**: different images, different model size, never mixed with our measurements.
""") + [
    code("""
P = dl.notebook.params(images=3, fast=dict(images=1))
metrics = dl.teaching.default_metrics()  # PSNR, MS-SSIM, + LPIPS / DISTS where their weights exist
print("metrics:", metrics, "| perceptual metrics need torchvision backbone weights (none are downloaded offline)")"""),
    md("""
## The measures

* rate: $\\text{bpp} = 8\\cdot\\text{bytes}/(HW)$ of the real file;
* $\\text{PSNR} = 10\\log_{10}(1/\\text{MSE})$ for images in $[0,1]$; MS-SSIM (5 scales);
* LPIPS and DISTS: distances between deep features (lower is better), the paper's perceptual measures;
* BD-rate: the average rate difference between two curves at equal quality,
  $\\Delta R = \\exp\\big(\\tfrac{1}{q_1-q_0}\\int_{q_0}^{q_1} (\\ln R_{\\text{test}}(q) - \\ln R_{\\text{anchor}}(q))\\,dq\\big) - 1$
  (negative = fewer bits).
"""),
    code("""
results = dl.teaching.rd_table(max_images=P.images, metrics=metrics)
dl.notebook.save_table(results, "05_results.csv")
points = dl.plots.rate_points(results)
points.round(4)"""),
    code("""
fig = dl.viz.rd_with_reference(results, metrics=metrics, dataset="kodak",
                               title=f"top: measured on {results['image'].nunique()} sample photo(s); bottom: published (reference only)")
dl.viz.save(fig, "05_rd_curves.png")"""),
    code("""
print(dl.teaching.rd_summary(results, "psnr"))"""),
    md("""
## BD-rate against WebP at the same rates

JPEG and WebP cannot make files smaller than their quality-0 file (about 0.1-0.16 bpp on these
photos), far above the rates DiT-IC is built for. `webp-ds` codes a downscaled copy and upscales
it after decoding, which is how a classical codec reaches 0.02-0.1 bpp; it is the anchor here.
A BD-rate needs at least two rate points per curve and overlapping quality ranges; the `note`
column says why a value is missing.
"""),
    code("""
bd = dl.teaching.bd_rate_table(results, anchor="webp-ds", metrics=metrics)
dl.notebook.save_table(bd, "05_bd_rate.csv")
bd.round(2)"""),
    md("""
## The published curve (reference data)

Per-rate numbers of the released DiT-IC model on Kodak, as published (Shi et al., CVPR 2026, and
the result logs of the official release). They are what the official model reaches with a
SANA-600M DiT on Kodak; the kit's tiny model on three photos is a different experiment.
"""),
    code("""
dl.reference.curve("kodak")"""),
]

# ============================================================================ 06 alignment
NB06 = header("06_alignment_mechanisms", "06 · Alignment: self-distillation and latent-conditioned guidance", """
Two more mechanisms make one step work. **Self-distillation** (paper section 3.3) pulls the
one-step output toward where the frozen encoder puts the original image. **Latent-conditioned
guidance** (section 3.4) replaces the DiT's text prompt by tokens projected from the decoded
code, trained to agree with caption embeddings; no text is needed to decode. We measure both on
the shipped model.
""") + [
    code("""
P = dl.notebook.params(image="balloons", rate=0, images=3)
codec = dl.load("tiny", rate=P.rate, device=device)
images = {p.stem: dl.load_image(p) for p in dl.notebook.sample_paths()[:P.images]}
print(dl.teaching.describe_codec(codec))"""),
    md("""
## Self-distillation

The target is the frozen DC-AE encoder's latent $y = E(x)$ of the original image. A margin cosine
loss over the latent channels, per latent position, pulls the one-step output $\\hat y$ toward it
without forcing equality:

$$L_{\\text{sd}} = w \\cdot \\operatorname{mean}_{n,i,j}\\ \\operatorname{ReLU}\\big(1 - m - \\cos_{\\text{ch}}(\\hat y, y)\\big).$$

Below: the cosine of the decoded mean $\\tilde y$ (before the DiT) and of $\\hat y$ (after one
step) with $E(x)$, the fraction of positions already past the margin ($\\cos > 1 - m$, where the
loss is zero) and the loss value.
"""),
    code("""
m, w = codec.model.config.align.distill_margin, codec.model.config.align.distill_weight
print(f"margin m = {m}, weight w = {w}")
distill, cos_maps = dl.teaching.distillation_table(codec, images)
dl.notebook.save_table(distill, "06_distillation.csv")
distill.round(4)"""),
    code("""
summary = distill.groupby("latent", sort=False)["cosine"].mean()
print(f"mean cos with E(x) over {len(images)} image(s): {summary.iloc[0]:.3f} before the DiT step, "
      f"{summary.iloc[1]:.3f} after it ({summary.iloc[1] - summary.iloc[0]:+.3f}).")
fig = dl.viz.heatmaps(images[P.image], {"cos(ŷ, E(x)) per latent pixel": cos_maps[P.image]}, cmaps=["coolwarm"])"""),
    md("""
### With and without the loss (ablation)

Training is the scarce resource here, so this ablation comes from a shipped CSV written by a
documented script (`scripts/ablation_alignment.py`: two short stage-2 fine-tunes from the same
stage-1 model, with and without $L_{\\text{sd}}$, measured on the held-out photos).
"""),
    code("""
ablation = dl.teaching.alignment_ablation()
print(dl.teaching.ablation_report(ablation))
ablation"""),
    md("""
## Latent-conditioned guidance

The prompter turns the decoded prompt features into tokens $c \\in \\mathbb{R}^{T\\times D}$ in
the DiT's caption-embedding space. In training a CLIP-style loss aligns the mean token
$p_i$ of image $i$ with the embedding $e_i$ of its caption and pushes it away from the others:

$$\\text{logits}_{ij} = e^{s}\\, \\frac{p_i}{\\|p_i\\|}\\cdot \\frac{e_j}{\\|e_j\\|}, \\qquad
L_{\\text{cond}} = \\tfrac12\\big(\\text{CE}(\\text{logits}, i) + \\text{CE}(\\text{logits}^\\top, j)\\big).$$

If that worked, each image's latent condition is closest to its own caption: retrieval accuracy
(chance = 1 / number of images). Captions: `data/samples/captions.csv`, embedded with
all-MiniLM-L6-v2 (cached next to them, no download).
"""),
    code("""
captions = dl.teaching.sample_captions()
caption_by_image = {name.removesuffix(".png"): text for name, text in zip(captions["file"], captions["caption"])}
retrieval, similarity, accuracy = dl.teaching.retrieval_table(codec, images, caption_by_image)
print(f"retrieval accuracy {accuracy:.2f} over {len(images)} images (chance {1 / len(images):.2f})")
retrieval.round(3)"""),
    code("""
fig = dl.viz.similarity_matrix(similarity, list(images), list(images), title="cos(latent condition, caption embedding)")
dl.viz.save(fig, "06_alignment.png")"""),
    md("""
### Reconstruction with the latent condition vs an empty one

Same bytes, same step; only the condition changes: the prompter's tokens, or zeros (the empty
prompt the base DiT saw when captions were dropped in its training).
"""),
    code("""
cond_images, cond = dl.teaching.condition_ablation(codec, images[P.image])
dl.notebook.save_table(cond, "06_condition.csv")
change = cond.iloc[-1]
print(f"empty instead of latent condition: PSNR {change['psnr']:+.3f} dB, MS-SSIM {change['ms_ssim']:+.4f}")
cond.round(4)"""),
    code("""
fig = dl.viz.side_by_side([images[P.image], *cond_images.values()], ["original", *cond_images],
                          crop=dl.teaching.zoom_box(images[P.image], 128))"""),
]

# ============================================================================ 07 official
NB07 = header("07_official_dit_ic", "07 · The official DiT-IC model", """
The official release is a 1.05 B-parameter model (SANA-600M DiT, DC-AE f32c32) with checkpoints
on the Hugging Face hub. On a GPU with internet (e.g. Colab with a GPU runtime) this notebook
loads a released checkpoint through the kit's official tier, codes a few Kodak images and times
large decodes. Offline or on a CPU it says what it would do and runs **the same cells** on the
tiny model, downloading nothing.
""") + [
    code("""
P = dl.notebook.params(images=3, sizes=[[1024, 1024], [2048, 2048]], dtype="bf16",
                       fast=dict(images=1, sizes=[[512, 512], [1024, 1024]]))
status = dl.teaching.official_status()  # GPU? hub reachable (skipped under HF_HUB_OFFLINE=1)? cached checkpoints?
print(dl.teaching.official_plan(status))
status"""),
    md("""
## Load the model

`dl.load("official", checkpoint=...)` builds the official architecture from the release's
configs and loads a merged `*_merge_ema.pt` file strictly (every key and shape checked). The
DC-AE and the DiT run in bfloat16 on the GPU; the latent codec stays in float32 so that the
entropy coder sees exact scales.
"""),
    code("""
codec, tier = dl.teaching.official_or_tiny(status, device=device, dtype=P.dtype)
print(f"tier: {tier}")
print(dl.teaching.describe_codec(codec))"""),
    md("""
## Rate points

Real file sizes and quality on Kodak (official tier) or on the sample photos (tiny tier).
"""),
    code("""
paths = dl.teaching.evaluation_images(tier, P.images)
points = dl.teaching.reproduce_points(codec, paths)
dl.notebook.save_table(points, f"07_points_{tier}.csv")
points.round(4)"""),
    md("""
The published numbers of the released model on Kodak, for comparison with the official tier
(reference data, as published; a checkpoint reproduces one of these rows):
"""),
    code("""
published = dl.reference.curve("kodak")
mean = points.iloc[-1]
nearest = published.iloc[(published["bpp"] - mean["bpp"]).abs().argmin()]
print(f"{tier}: {mean['bpp']:.4f} bpp, PSNR {mean['psnr']:.2f} dB on {len(points) - 1} image(s); "
      f"nearest published Kodak point: {nearest['bpp']:.4f} bpp, PSNR {nearest['psnr']:.2f} dB"
      + ("" if tier == "official" else " (different model and images: not comparable)"))
published"""),
    md("""
## Decode time at large sizes

One-step decoding is what makes large images practical: entropy decoding, one DiT call and the
decoder. The published claims (reference data) are listed after the measurement.
"""),
    code("""
timing = dl.teaching.decode_timing(codec, [tuple(s) for s in P.sizes])
dl.notebook.save_table(timing, f"07_timing_{tier}.csv")
fig = dl.viz.timing_bars(timing, title=f"{tier} model, {timing['device'].iloc[0]}: seconds per decode")
dl.viz.save(fig, "07_official.png")
timing.round(3)"""),
    code("""
largest = timing.iloc[-1]
print(f"{tier} on {largest['device']}: a {largest['size']} image decodes in {largest['decode_s']:.2f} s "
      f"(DiT {largest['dit_s']:.2f} s, decoder {largest['decoder_s']:.2f} s).")
dl.reference.load("claims")"""),
]

NOTEBOOKS = {
    "01_quickstart": NB01,
    "02_variance_and_pseudo_timesteps": NB02,
    "03_one_step_vs_multi_step": NB03,
    "04_bitrate_slider": NB04,
    "05_rate_perception_curves": NB05,
    "06_alignment_mechanisms": NB06,
    "07_official_dit_ic": NB07,
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for i, (kind, text) in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        cell["id"] = f"{name[:2]}-{i:02d}"
        nb.cells.append(cell)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "name": f"{name}.ipynb"},
    }
    if name.startswith("07"):
        nb.metadata["accelerator"] = "GPU"
        nb.metadata["colab"]["gpuType"] = "T4"
    nbformat.validate(nb)
    return nb


def write_all(check: bool = False) -> list[Path]:
    NOTEBOOKS_DIR.mkdir(exist_ok=True)
    stale = []
    for name, cells in NOTEBOOKS.items():
        path = NOTEBOOKS_DIR / f"{name}.ipynb"
        text = nbformat.writes(build(name, cells)) + "\n"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.write_text(text)
    return stale


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a notebook differs from this script")
    p.add_argument("--gallery", action="store_true",
                   help="execute every notebook at full size, writing the gallery figures into figures/")
    p.add_argument("--only", default=None, help="comma list of notebook name prefixes (e.g. 01,05)")
    args = p.parse_args(argv)
    if args.check:
        stale = write_all(check=True)
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run python scripts/build_notebooks.py)")
        return 1 if stale else 0
    write_all()
    print(f"wrote {len(NOTEBOOKS)} notebooks into {NOTEBOOKS_DIR.relative_to(ROOT)}/")
    if args.gallery:
        from ditic_lite.notebook import run_notebook

        only = args.only.split(",") if args.only else None
        for name in NOTEBOOKS:
            if only and not any(name.startswith(o) for o in only):
                continue
            tic = time.time()
            run_notebook(NOTEBOOKS_DIR / f"{name}.ipynb",
                         env={"DITIC_FIGURES": str(ROOT / "figures"), "DITIC_FAST": "",
                              "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
                              "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")})
            print(f"{name}: executed in {time.time() - tic:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
