"""Write the seven teaching notebooks (``notebooks/NN_name.ipynb``) from the cell lists below.

    python scripts/build_notebooks.py            # (re)write the .ipynb files, outputs stripped
    python scripts/build_notebooks.py --check    # fail if a notebook differs from this script
    python scripts/build_notebooks.py --gallery  # also execute them (full size) to refresh figures/
    python scripts/build_notebooks.py --repo-url URL   # point badges and Colab cells at a fork

The notebooks are generated, so edit this file, not the .ipynb. Every notebook: a title with a
Colab badge, a Colab-only install cell, ``import ditic_lite as dl; device = dl.setup()``, its
parameters (``dl.notebook.params``; ``DITIC_FAST=1`` gives the CI sizes), then short markdown
cells with the method's equations and code cells that only load, call and plot from the kit.
Cells ids are fixed and outputs empty, so regenerating gives no diff.

The repository the badges and the Colab cell point to is filled in at build time: ``--repo-url``,
else ``git remote get-url origin`` (a GitHub or other https remote), else ``Repository`` in
pyproject's ``[project.urls]``, else none: then the notebooks have no badge and their Colab cell
asks for the URL or an uploaded wheel/zip of the kit. ``--check`` compares with the URL the
committed notebooks were built with, so a clone with another remote still passes. The README's
notebook table (between ``<!-- notebooks:start -->`` and ``<!-- notebooks:end -->``) is written
with the same badges.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ditic_lite.notebook import COLAB_DIR, COMPRESSAI  # noqa: E402

NOTEBOOKS_DIR = ROOT / "notebooks"
COLAB_LINK = "@@colab-link@@"  # replaced at build time by the badge (or the upload note)
REPO_MARK = "@@repo-url@@"     # replaced at build time by the repository URL ("" when none)
BADGE = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/github/{slug}/blob/{branch}/notebooks/{name}.ipynb)")
NO_BADGE = """*Colab* (these notebooks were built without a repository address, so there is no
Open-in-Colab badge):
1. on your machine, in the kit's folder, run `pip wheel --no-deps .`: it writes
   `ditic_lite-<version>-py3-none-any.whl` (about 34 MB; the tiny checkpoints and sample photos are in it);
2. in Colab, File > Upload notebook, and choose this notebook;
3. in the Files panel (the folder icon on the left), upload the wheel into `/content`;
4. run the first cell (it installs the kit from the wheel, keeps Colab's torch and numpy, needs no
   restart), then the others.

Instead of the wheel, type the kit's Git address (https) into `REPO_URL` in the first cell: it
clones the kit from there. `python scripts/build_notebooks.py --repo-url URL` builds the notebooks
with badges."""

COLAB_CELL = '''#@title Colab setup: installs the kit; Colab's torch, torchvision and numpy stay (no restart) { display-mode: "form" }
REPO_URL = "@@repo-url@@"  #@param {type:"string"}
import sys
if "google.colab" in sys.modules:  # elsewhere this cell does nothing
    import glob, importlib.metadata as md, importlib.util, os, subprocess
    if importlib.util.find_spec("ditic_lite") and importlib.util.find_spec("compressai"):
        print("ditic-lite is already installed: nothing to do")
    else:
        kit = "@@colab-dir@@"  # a clone of REPO_URL; a wheel or zip of the kit uploaded to /content wins
        uploads = sorted(glob.glob("/content/*ditic*lite*.whl") + glob.glob("/content/*ditic*lite*.zip"),
                         key=os.path.getmtime)
        source = os.environ.get("DITIC_SOURCE") or (uploads[-1] if uploads else kit)
        if source == kit and not os.path.isdir(kit) and REPO_URL:
            subprocess.run(["git", "clone", "-q", "--depth", "1", REPO_URL, kit])
        if not os.path.exists(source):
            raise RuntimeError("No copy of the kit here: upload a wheel or zip of ditic-lite into /content (Files panel; "
                               "`pip wheel --no-deps .` in the kit's folder on your machine writes ditic_lite-*.whl, "
                               "checkpoints included), or set REPO_URL in this cell to the kit's Git address (https), "
                               "then run this cell again.")
        keep = []  # Colab's torch, torchvision and numpy, pinned so pip never replaces them
        for dist in ("torch", "torchvision", "numpy"):
            try:
                keep.append(f"{dist}=={md.version(dist)}")
            except md.PackageNotFoundError:
                pass
        with open("/tmp/ditic_lite_keep.txt", "w") as f:
            f.write("\\n".join(keep) + "\\n")
        # the kit (what it imports), then compressai without its dependency pins (numpy<2 is not needed)
        for args in (["-e", source] if os.path.isdir(source) else [source]), ["--no-deps", "@@compressai@@"]:
            run = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", "/tmp/ditic_lite_keep.txt",
                                  *args], capture_output=True, text=True)
            if run.returncode:  # Colab shows a subprocess's output only when it is printed
                raise RuntimeError(f"pip install {' '.join(args)} failed:\\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        if os.path.isdir(source):
            sys.path.insert(0, os.path.abspath(source))
        importlib.invalidate_caches()
        print(f"installed ditic-lite from {source} and @@compressai@@; kept {', '.join(keep)}")'''.replace(
    "@@colab-dir@@", COLAB_DIR).replace("@@compressai@@", COMPRESSAI)

SETUP_CELL = """import ditic_lite as dl

device = dl.setup()  # prints versions, the device and where the checkpoints are (Colab: adds what is missing)"""


class Repo(NamedTuple):
    """Where the notebooks point: ``url`` (clone URL, "" when none) and ``branch`` (for badges)."""
    url: str = ""
    branch: str = "main"

    @property
    def github_slug(self) -> str | None:
        """``OWNER/NAME`` when ``url`` is a GitHub repository (Colab opens notebooks from there)."""
        m = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", self.url)
        return f"{m.group(1)}/{m.group(2)}" if m else None


def clone_url(remote: str) -> str | None:
    """An https URL Colab can clone from a git remote (GitHub ssh forms become https), else None."""
    remote = remote.strip()
    m = re.fullmatch(r"(?:ssh://)?git@github\.com[:/]([\w.-]+)/([\w.-]+?)(?:\.git)?/?", remote)
    if m:
        return f"https://github.com/{m.group(1)}/{m.group(2)}"
    if re.fullmatch(r"https://[^\s/]+/\S+", remote):
        return re.sub(r"\.git/?$", "", remote.rstrip("/"))
    return None  # a local path or file:// remote (e.g. a CI clone): nothing Colab can reach


def repo_url_from_git(root: Path = ROOT) -> str | None:
    """``git remote get-url origin`` as a clone URL, or None."""
    try:
        out = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return clone_url(out.stdout) if out.returncode == 0 else None


def repo_url_from_pyproject(root: Path = ROOT) -> str | None:
    """``Repository`` of pyproject's ``[project.urls]``, or None."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return None
    urls = tomllib.loads((root / "pyproject.toml").read_text()).get("project", {}).get("urls", {})
    url = next((v for k, v in urls.items() if k.lower() in ("repository", "source", "source code")), None)
    return clone_url(url) if url else None


def resolve_repo_url(cli: str | None = None, root: Path = ROOT) -> str:
    """``--repo-url`` > git origin > pyproject ``Repository`` > "" (none: no badge, the Colab cell asks)."""
    if cli is not None:
        if cli and clone_url(cli) is None:
            raise SystemExit(f"--repo-url must be an https (or git@github.com) URL, got {cli!r}")
        return clone_url(cli) or ""
    return repo_url_from_git(root) or repo_url_from_pyproject(root) or ""


def built_repo(path: Path | None = None) -> Repo | None:
    """The :class:`Repo` recorded in a built notebook's metadata (None if there is none)."""
    path = path or NOTEBOOKS_DIR / f"{next(iter(NOTEBOOKS))}.ipynb"
    if not path.exists():
        return None
    meta = nbformat.read(path, as_version=4).metadata.get("ditic_lite")
    return Repo(meta.get("repo_url", ""), meta.get("branch", "main")) if meta else None


def colab_link(name: str, repo: Repo) -> str:
    """The Colab badge of notebook ``name`` (or, without a GitHub URL, how to open it in Colab)."""
    slug = repo.github_slug
    return BADGE.format(slug=slug, branch=repo.branch, name=name) if slug else NO_BADGE


def md(text: str) -> tuple[str, str]:
    return ("markdown", text.strip("\n"))


def code(text: str) -> tuple[str, str]:
    return ("code", text.strip("\n"))


def header(name: str, title: str, intro: str) -> list[tuple[str, str]]:
    return [md(f"# {title}\n\n{COLAB_LINK}\n\n{intro.strip()}"), code(COLAB_CELL), code(SETUP_CELL)]


# ------------------------------------------------------------------ the teaching cells every notebook shares
CPU_TIME = "@@cpu-time@@"  # replaced at build time by the notebook's measured CPU time (README_ROWS)


def learning_goals(goals: list[str], prerequisites: str) -> tuple[str, str]:
    """The "What you will learn" cell (3-5 goals, prerequisites, the measured time on a laptop CPU)."""
    if not 3 <= len(goals) <= 5:
        raise ValueError(f"3 to 5 learning goals, got {len(goals)}")
    return md("## What you will learn\n\n" + "\n".join(f"- {g}" for g in goals)
              + f"\n\n**Prerequisites:** {prerequisites}\n\n**Time:** the cells run in about {CPU_TIME} on a "
              "laptop CPU (tiny tier, measured on 2 cores), plus about 5 minutes per exercise.")


PHOTO_NOTE = """
**Your own photo.** `image=` in the parameters cell takes a sample name (`"kite"`, `"ladybird"`,
`"balloons"`), the path of a photo file (`"~/Pictures/cat.jpg"`, absolute or relative to this
folder; JPEG, PNG, WebP, ...) or, online, an `https://` address. On Colab, tick `upload` in the
cell after the parameters and choose a file. `DITIC_IMAGE=/path/to/photo.jpg` set before starting
Jupyter does the same. Results go to the `results/` folder, never beside your photo.
"""

UPLOAD_CELL = """
upload = False  #@param {type:"boolean"}
if upload and dl.notebook.in_colab():  # Colab: tick the box, run this cell, choose a photo; elsewhere nothing
    P.image = str(dl.notebook.upload_photo())"""


def photo_cells() -> list[tuple[str, str]]:
    """The Colab upload cell (after the parameters cell; it does nothing elsewhere)."""
    return [code(UPLOAD_CELL)]


def details(summary: str, text: str) -> str:
    """A collapsed block (HTML ``<details>``; Jupyter and Colab render the markdown inside)."""
    return f"<details><summary>{summary}</summary>\n\n{text.strip()}\n\n</details>"


def exercise(number: int, title: str, task: str, cell: str, hint: str, solution: str) -> list[tuple[str, str]]:
    """One exercise: the task (change, predict, run, observe), a code cell that runs as is (the
    tests run it with its default values; a ``dl.exercises`` check where the answer is definite),
    then the hint and the solution, collapsed."""
    return [md(f"### Exercise {number}: {title}\n\n{task.strip()}"), code(cell),
            md(details("Hint", hint) + "\n\n" + details("Solution", solution))]


def your_turn(*exercises: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The "Your turn" section: an introduction, then the exercises (at least three)."""
    if len(exercises) < 3:
        raise ValueError(f"at least three exercises, got {len(exercises)}")
    intro = md("""
## Your turn

Each exercise asks you to change one thing, **predict** what will happen (write it into the
cell), run the cell and compare. Where the answer is definite, the last line checks your
prediction against the numbers the cell just measured on your photo: another photo may honestly
give another answer. The hint and the solution are folded under each exercise.
""")
    return [intro] + [c for ex in exercises for c in ex]


def for_reviewers(text: str) -> tuple[str, str]:
    """The heading of the "For reviewers" section: the rules, intervals and per-image tables."""
    return md("## For reviewers\n\n" + text.strip())


TIER_NOTE = """
**Tier.** `tier="auto"` (the default) runs the released DiT-IC only where its checkpoint is
already on disk and a GPU is there, else the kit's tiny model; it never downloads, and the first
cell says which tier and why. `tier="official"` runs the release, on a CPU too (on small center
crops), and is the only setting that downloads it: about 4.2 GB per rate point from the Hugging
Face hub, once, with the size printed before it starts (`official_checkpoint="q2_merge_ema.pt"`
fetches one rate point; empty: all four). `tier="tiny"` always runs the kit's model. The cells are
the same on both tiers and every verdict is computed from the numbers of the run. Set them in the
parameters cell, or with `DITIC_TIER` and `DITIC_OFFICIAL_CHECKPOINT` (a file path, hub file names,
or a JSON list of them, one per rate point).
"""

TIER_SETUP = """
run = dl.teaching.choose_tier(P.tier, P.official_checkpoint, device)  # which tier and why; prints any download size
P = run.sized(P, official_cpu=@@cpu@@)  # the release on a CPU: less work, small crops
print(run.describe())"""


def tier_setup(cpu: str) -> str:
    """The lines after a notebook's parameters that choose its tier (``cpu``: its CPU sizes)."""
    return TIER_SETUP.replace("@@cpu@@", cpu)


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
""" + TIER_NOTE) + [
    code("""
P = dl.notebook.params(image="kite", rate=0, images=3, tier="auto", official_checkpoint="", fast=dict(images=2))""" + tier_setup("dict(images=1)") + """
codec = run.load(P.rate)
image = run.image(P.image)
images = run.images(P.images, include=P.image)  # the verdicts use every one of them
recon, info = codec.roundtrip(image)
print(dl.teaching.describe_codec(codec))"""),
    md("""
## From predicted std to a noise level

The codec predicts a log-variance $\\ell$; $\\sigma = \\exp(\\tfrac12 \\ell)$. The noise level of
each latent value is

$$\\sigma_{\\text{map}} = \\sigma_t \\cdot \\min(a + b\\,|\\sigma|,\\ 1), \\qquad t_{\\text{map}} = 1000\\,\\sigma_{\\text{map}},$$

with $\\sigma_t$ the flow's noise level at the DiT timestep $t$, and the one step is

$$\\hat y = \\tilde y - \\sigma_{\\text{map}} \\odot v_\\theta(\\tilde y, t, c).$$

The idea: where the entropy model is sure (small $\\sigma$) the step is short; where it is unsure
the DiT removes more.

**How the release feeds the map to the DiT.** The DiT never sees the map: it is called once, at
the same fixed timestep $t$ for every pixel (999 in the release), and the map only scales its
output, as an affine function of $|\\sigma|$ clipped at $\\sigma_t$. Every value with
$|\\sigma|$ at or above the saturation constant gets the full $\\sigma_t$, so there $\\sigma$
carries no further information. The constants, read from the model's config, and how many latent
values of this image saturate:
"""),
    code("""
f = codec.model.config.flow
saturated = float((info["sigma"].abs() >= f.saturation).float().mean())
print(f"a = {f.offset}, b = {f.slope}, sigma_t = {f.sigma_t:.6f}; the DiT runs at the fixed timestep t = {f.timestep:g} "
      f"for every pixel; |sigma| >= {f.saturation} gives the full sigma_t ({saturated:.1%} of this image's latent values)")"""),
    md("""
## Where is the model unsure, and where does the latent need denoising?

If $\\sigma$ encodes the local *denoising demand*, it is large where the decoded latent is far
from the truth. Here the truth is at hand: the frozen encoder's latent $E(x)$ of the original,
the latent the decoder was trained on. The step starts from $\\tilde y$ and the residual is
added after it, so the distance it has to cover is $|E(x) - (\\tilde y + \\text{res})|$.

Heatmaps, one value per latent pixel (a 32x32 block of the image):

* $\\overline{\\ln\\sigma}$: the mean over the channels of $\\ln\\sigma$ (the log of the geometric
  mean). A plain channel mean of $\\sigma$ is ruled by the few channels where $\\sigma$ is huge
  (where the map saturates anyway); in logs every channel counts by its relative change;
* the pseudo-timestep $t_{\\text{map}}$ (channel mean);
* the denoising demand $|E(x) - (\\tilde y + \\text{res})|$ (channel mean, latent units);
* local texture: the mean luma gradient magnitude in the block (luma in [0, 1], per pixel).
"""),
    code("""
maps = dl.evidence.sigma_maps(codec, image, info)
fig = dl.viz.heatmaps(image, {
    "mean ln σ over channels": maps["log_sigma"],
    "pseudo-timestep t_map (0..1000)": dl.teaching.latent_map(info["t_map"], image),
    "denoising demand |E(x) − (ỹ + res)|": maps["error"],
    "texture (luma gradient per px)": maps["texture"],
}, cmaps=["magma", "viridis", "inferno", "gray"])
dl.viz.save(fig, "02_variance.png")"""),
    code("""
fig = dl.viz.histograms({"σ, all latent values (log bins)": info["sigma"].cpu().numpy(),
                         "t_map, all latent values": info["t_map"].cpu().numpy()},
                        xlabel=["predicted std σ (latent units)", "pseudo-timestep (0..1000)"], log=[True, False])
dl.viz.save(fig, "02_histograms.png")"""),
    md("""
## Does σ follow the denoising demand, and texture?

One point per latent pixel of this image, then one row per image: `r_error` and `r_texture` are
Spearman (rank) correlations of $\\overline{\\ln\\sigma}$ with the demand and with texture, so a
few extreme values cannot decide them; `r_texture_channel_mean` uses the plain channel mean of
$\\sigma$ instead, for contrast, and `saturated` is the fraction of values that clip the map.
`ring_sigma`, `ring_error` and `ring_texture` say how much higher each map is on its outermost
ring of latent pixels than inside, in standard deviations of the map: a ring in σ that the demand
and texture do not share is an artefact of the codec at the image borders, not a measurement.

Read `r_error` per tier. The release learns $\\ell$ only through the one-step loss it scales. The
tiny tier's codec stage adds a calibration term (kit addition, `dl.flow.variance_calibration_loss`):
the Gaussian likelihood of the starting error $E(x) - (\\tilde y + \\text{res})$ under $\\ell$ up to
one offset per channel, so on the tiny tier a positive `r_error` is partly trained for. Texture is
in no loss of either tier: `r_texture` is a finding on both.
"""),
    code("""
positions = dl.evidence.position_table(maps)
fig = dl.viz.scatter(positions, "error", "log_sigma", title=f"{P.image}: one point per latent pixel",
                     xlabel="denoising demand |E(x) − (ỹ + res)| (latent units)", ylabel="mean ln σ over channels")
dl.viz.save(fig, "02_scatter.png")
sigma = dl.evidence.sigma_evidence(codec, images)
dl.notebook.save_table(sigma, "02_sigma_evidence.csv")
sigma.round(3)"""),
    md("""
## Ablation: one global timestep instead of the map

Replace $\\sigma_{\\text{map}}$ by its mean everywhere (the usual single diffusion timestep) and
decode the **same bytes**: the rate is identical, only the reconstruction changes. One row per
image, so that the difference can be judged against the spread between images.
"""),
    code("""
ablation = dl.evidence.timestep_ablation_images(codec, images)
dl.notebook.save_table(ablation, "02_timestep_ablation.csv")
ablation.round(4)"""),
    code("""
ablation_images, _ = dl.teaching.timestep_ablation(codec, image)
fig = dl.viz.side_by_side([image, *ablation_images.values()], ["original", *ablation_images],
                          crop=dl.teaching.zoom_box(image, 128))"""),
    md("""
## Verdicts

Each claim of this notebook, judged from the numbers this run just measured. The `rule` column
gives the threshold: a correlation's 95 % interval (pooled over the images) against 0; an
ablation's paired difference against the spread between images and against the smallest
difference worth claiming (`dl.claims.MARGINS`). The table below says whether this run supports
the mechanism, contradicts it, or cannot tell; `ditic-lite claims` recomputes the same verdicts.
"""),
    code("""
verdicts = dl.claims.variance_claims(sigma, ablation)
dl.claims.show(verdicts)"""),
]

# ============================================================================ 03 steps
NB03 = header("03_one_step_vs_multi_step", "03 · One step vs many: does the adapted flow need only one?", """
Diffusion codecs usually pay for quality with many denoising steps. DiT-IC adapts the DiT (LoRA)
so that, the paper says, a single step from the decoded latent is enough. Here we measure it: the
adapted flow integrated with K Euler steps, and the **un-adapted** base DiT used as an ordinary
multi-step sampler, on the same bytes and through the same decoder.
""" + TIER_NOTE + """
The release's checkpoint holds the LoRA merged into the DiT, so on the official tier the
un-adapted base is not there: that comparison is then left out, and its verdict says so.
""") + [
    code("""
P = dl.notebook.params(image="kite", rate=0, steps=[1, 2, 4, 8, 20], images=3, tier="auto", official_checkpoint="",
                       fast=dict(images=2))""" + tier_setup("dict(images=1, steps=[1, 2, 4])") + """
codec = run.load(P.rate)
image = run.image(P.image)
images = run.images(P.images, include=P.image)  # the verdicts use every one of them
print(dl.teaching.describe_codec(codec))"""),
    md("""
## Two ways to use K steps

**Adapted DiT-IC flow.** Integrate the pixel-wise flow of notebook 02 from $\\sigma_{\\text{map}}$
to 0 in K Euler steps: with $f_k = 1 - k/K$,

$$x_{k+1} = x_k - (f_k - f_{k+1})\\, \\sigma_{\\text{map}} \\odot v_\\theta(x_k, f_k t, c),
\\qquad x_0 = \\tilde y,$$

so K = 1 is exactly the one-step decode $\\hat y = \\tilde y - \\sigma_{\\text{map}} \\odot v_\\theta$.

**Un-adapted base DiT.** The pretrained text-to-image flow model (LoRA switched off in the DiT
only) was trained on $x_s = (1-s)\\,x_0 + s\\,\\epsilon$ with velocity $v = \\epsilon - x_0$.
We noise the codec's coarse latent $\\tilde y + \\text{res}$ to the mean level of the DiT-IC map
and integrate back to $s = 0$ with diffusers' `FlowMatchEulerDiscreteScheduler` (shift 3), giving
it the image's caption as the prompt, as a text-to-image model expects (SDEdit).

**A fair comparison.** Both decode with the same (adapted) autoencoder decoder, so the only
difference is the DiT: its adaptation, and how many times it is called. Switching the decoder's
LoRA off as well would mix a second change into the comparison
(`dl.teaching.base_dit_sweep(..., base_decoder=True)` does that, if you want to see it).
"""),
    code("""
recons, table = dl.evidence.compare_steps_images(codec, images, steps=P.steps)
dl.notebook.save_table(table, "03_steps.csv")
shown = table[table["image"] == P.image]
shown.round(4)"""),
    code("""
fig = dl.viz.comparison_grid(recons[P.image], crop=dl.teaching.zoom_box(image, 160), reference=image)
dl.viz.save(fig, "03_steps.png")"""),
    code("""
fig = dl.viz.steps_chart(shown)
dl.viz.save(fig, "03_steps_chart.png")"""),
    md("""
## What the measurements say about this image

The table for the image shown, read out (values computed above, on this machine). The last line
splits the one-step decode into its stages: the paper's speed argument is about the DiT calls,
and how much of a decode they are depends on the model size and the image size.
"""),
    code("""
print(dl.teaching.one_step_summary(shown, "psnr"))
print()
print(dl.teaching.one_step_summary(shown, "ms_ssim"))"""),
    md("""
## Verdicts

The paper's claims: one step of the adapted flow is enough (more steps of the same flow add
nothing worth their cost), and it beats the un-adapted base DiT even when the base gets many
steps. Each claim is judged per image, over every image of the table, against the spread between
images and the smallest difference worth claiming (`rule` column). Every extra step adds one DiT
call (`dit_s`), so K steps cost more than one; whether the quality matches is what the table below
says for this run.
"""),
    code("""
verdicts = dl.claims.steps_claims(table)
dl.claims.show(verdicts)"""),
]

# ============================================================================ 04 slider
NB04 = header("04_bitrate_slider", "04 · Bitrate slider", """
Move the slider over the shipped rate points (and pick the number of decoding steps) to see the
reconstruction, its real file size in bits per pixel and its quality. The function behind every
move, `dl.teaching.slider_update`, is an ordinary tested function, so the same numbers are printed
below as a table (that is what CI checks, no browser needed).

On the official tier the rate points are the release's checkpoints (q1..q4 on the hub, one file
each; with a single file, one rate point, and the quantisation step below is the lever).
""" + TIER_NOTE) + [
    code("""
P = dl.notebook.params(image="ladybird", steps=[1, 2, 4, 8], table_steps=[1, 4], quant_steps=list(dl.teaching.QUANT_STEPS),
                       tier="auto", official_checkpoint="", fast=dict(table_steps=[1], quant_steps=[0.5, 1.0, 2.0]))""" +
         tier_setup("dict(steps=[1, 2], table_steps=[1], quant_steps=[0.5, 1.0, 2.0])") + """
image = run.image(P.image)
cache = dl.teaching.CodecCache(device=device, loader=run.loader())  # loaded models and bitstreams: a move only decodes
print("rate points:", " | ".join(f"{name} {cache.rates(name)}" for name in run.models))"""),
    md("""
Each rate point is a model trained with its own $\\lambda$ in $L = \\lambda R + D + \\dots$;
a larger $\\lambda$ buys fewer bits with more distortion. The rate is measured on the file:
$\\text{bpp} = 8\\cdot\\text{bytes} / (H W)$.
"""),
    code("""
ui = dl.teaching.bitrate_slider(image, cache, name=run.models[0], steps_options=P.steps)
ui"""),
    md("""
## Every slider position, as a table

The same function for each rate point, for the DiT-IC model of this tier and, on the tiny tier,
the MSE baseline (same latent codec, plain decoder).
"""),
    code("""
slider_images, positions = dl.teaching.slider_table(cache, image, names=run.models, steps=P.table_steps)
dl.notebook.save_table(positions, "04_slider_positions.csv")
positions.round(4)"""),
    code("""
fig = dl.viz.side_by_side([image, *slider_images.values()], ["original", *slider_images],
                          crop=dl.teaching.zoom_box(image, 128))
dl.viz.save(fig, "04_bitrate.png")"""),
    code("""
shown = positions[positions["model"] == run.models[0]]
print(f"{run.models[0]}: {shown['bpp'].min():.4f} to {shown['bpp'].max():.4f} bpp over {shown['rate'].nunique()} rate point(s); "
      f"PSNR {shown['psnr'].min():.2f} to {shown['psnr'].max():.2f} dB; "
      f"a decode took {shown['decode_s'].median():.2f} s (median).")"""),
    md("""
## A second lever: the quantisation step of y

Every rate point rounds y in steps of 1 around the predicted mean. The step $\\Delta$ is a
second lever on the rate that needs no retraining:
$\\hat y = \\mathrm{round}\\big((y-\\mu)/\\Delta\\big)\\,\\Delta + \\mu$, and the entropy model codes
the integer with the scale $\\sigma/\\Delta$. $\\Delta > 1$: coarser y, fewer bytes; $\\Delta < 1$:
finer y, more bytes. The file header records $\\Delta$ (on a grid of $2^{k/8}$), so the decoder
needs no argument: `codec.compress(image, quant_step=2.0)` or `ditic-lite compress --quant-step 2`.

The question the sweep answers: **do more bits buy more quality?** We code the photo with each
step at the lowest and the highest rate point; the verdict under the chart is computed from the
table.
"""),
    code("""
rates = cache.rates(run.models[0])
sweep = dl.teaching.quant_step_sweep(cache, [image], names=run.models, quant_steps=P.quant_steps,
                                     rates=sorted({rates[0], rates[-1]}), progress=True)
dl.notebook.save_table(sweep, "04_quant_step_sweep.csv")
sweep.pivot_table(index=["model", "rate", "quant_step"], values=["bytes", "bpp", "psnr", "ms_ssim"]).round(4)"""),
    code("""
fig = dl.viz.quant_step_chart(sweep)
dl.viz.save(fig, "04_quant_step.png")
print(dl.teaching.quant_step_verdict(sweep))"""),
    md("""
Where finer steps add bytes but not quality, y already reaches the decoder as well as this model
can use it: the transforms around y (analysis, synthesis and the DiT), not the rounding, set the
quality. More rate points would then add bits, not detail; a better model needs more capacity or
training. Where the verdict names a trained rate point beaten with fewer bits by another rate point
at a coarser step, that point's own training did not find the best use of its bits: a single model
with a step slider would serve those rates better. `data/results/quant_step_sweep.csv` holds the
same sweep on the six validation photos, all rate points (`python scripts/evaluate_shipped.py`).
"""),
]

# ============================================================================ 05 curves
NB05 = header("05_rate_perception_curves", "05 · Rate–distortion–perception curves", """
How many bits for how much quality? We code the sample photos with the kit's models (DiT-IC tiny,
MSE baseline) and with JPEG and WebP (also on a downscaled copy, to reach the same low rates),
measure real file sizes and quality, draw the curves and
compute Bjøntegaard deltas. The paper's published DiT-IC curve on Kodak is drawn beside ours as
**reference data**: different images, different model size, never mixed with our measurements.

On the official tier the curve is the release's own (its rate points, on Kodak where the internet
is reachable, downloaded once with a progress bar and cached), against JPEG and WebP on the same
images; the published numbers stay beside it as cited reference.
""" + TIER_NOTE) + [
    code("""
P = dl.notebook.params(images=3, image="kite", tier="auto", official_checkpoint="", fast=dict(images=1))""" +
         tier_setup("dict(images=1)") + """
metrics = dl.teaching.default_metrics()  # PSNR, MS-SSIM, the detail proxy, + LPIPS / DISTS where their weights exist
print("metrics:", metrics, "| LPIPS / DISTS need torchvision backbone weights (added where they are cached or can be downloaded)")"""),
    md("""
## The measures

* rate: $\\text{bpp} = 8\\cdot\\text{bytes}/(HW)$ of the real file;
* $\\text{PSNR} = 10\\log_{10}(1/\\text{MSE})$ for images in $[0,1]$; MS-SSIM (5 scales);
* LPIPS and DISTS: distances between deep features (lower is better), the paper's perceptual
  measures; they need ImageNet backbone weights, so offline they are left out;
* **detail retention**, an offline perception proxy: the luma's power spectrum, averaged over
  rings of equal spatial frequency $f$, of the reconstruction over that of the original,
  geometric mean over the band $f \\in [1/8, 1/2]$ cycles per pixel (structures 2 to 8 pixels
  wide). 1 = as much fine detail as the original; below 1 = detail lost (blur); above 1 = extra
  (noise, ringing, invented texture). It does **not** say whether the detail is in the right
  place or is the right detail: the spectrum ignores phase, so a plausible invented texture
  scores like the true one. It is a measure of realism, not of fidelity, and no substitute for
  LPIPS / DISTS (no learned features, no calibration against people);
* BD-rate: the average rate difference between two curves at equal quality,
  $\\Delta R = \\exp\\big(\\tfrac{1}{q_1-q_0}\\int_{q_0}^{q_1} (\\ln R_{\\text{test}}(q) - \\ln R_{\\text{anchor}}(q))\\,dq\\big) - 1$
  (negative = fewer bits).
"""),
    code("""
data, data_name = run.evaluation_folder(P.images)  # tiny: the sample photos; official: Kodak where reachable
results = run.rd_table(data, data_name, max_images=P.images, metrics=metrics)
dl.notebook.save_table(results, "05_results.csv")
points = dl.plots.rate_points(results)
points.round(4)"""),
    code("""
fig = dl.viz.rd_with_reference(results, metrics=metrics, dataset="kodak",
                               title=f"top: {run.name}, measured on {results['image'].nunique()} image(s) ({data_name}); "
                                     "bottom: published (reference only)")
dl.viz.save(fig, "05_rd_curves.png")"""),
    code("""
print(dl.teaching.rd_summary(results, "psnr"))"""),
    md("""
## Fine detail at one rate: power spectra

One photo coded at the lowest rate point of this tier's model, (tiny tier) the MSE baseline at its
nearest rate point and downscaled WebP at the highest quality that fits the same number of bytes. Left: the
radially averaged power spectrum of each; right: the share of each frequency a reconstruction
keeps (the detail ratio averages it over the grey band). The crops below are the most textured
square of the photo, where detail is lost first.
"""),
    code("""
photo = run.photo(P.image, data)  # the named sample photo, else the first image of the curves
recons, matched = dl.perception.matched_reconstructions(photo, learned=run.matching_codecs(), results=results)
original = dl.load_image(photo)
fig = dl.viz.power_spectra(dl.perception.spectra_table(original, recons), title=f"{P.image}, about {matched['bpp'].iloc[0]:.3f} bpp")
dl.viz.save(fig, "05_spectra.png")
matched.round(4)"""),
    code("""
fig = dl.viz.side_by_side([original, *recons.values()], ["original", *recons], crop=dl.teaching.zoom_box(original, 128))
dl.viz.save(fig, "05_detail_crops.png")"""),
    md("""
## BD-rates

JPEG and WebP cannot make files smaller than their quality-0 file (about 0.1-0.16 bpp on these
photos), far above the rates DiT-IC is built for. `webp-ds` codes a downscaled copy and upscales
it after decoding, which is how a classical codec reaches 0.02-0.1 bpp. Two anchors: `mse` (the
same latent codec with a plain decoder, the closest comparison) and `webp-ds`. A BD-rate needs at
least two rate points per curve and **overlapping quality ranges**; where the curves do not
overlap (e.g. one codec's PSNR is above the other's everywhere), the `note` column says so and
the value is missing rather than extrapolated. The verdicts below compare at equal rate instead,
which needs only overlapping rates.
"""),
    code("""
bd = dl.teaching.bd_rate_table(results, anchor=run.anchors, metrics=metrics)
dl.notebook.save_table(bd, "05_bd_rate.csv")
bd.round(2)"""),
    md("""
## The paper's main comparison (reference data)

As published (Shi et al., CVPR 2026, main comparison table): for each diffusion codec, its
diffusion steps, latent space, decode latency at 1024x1024 and its LPIPS / DISTS BD-rate against
PerCo, averaged over Kodak, CLIC 2020 and DIV2K. The kit cannot recompute these (no curves of the
other codecs are included, and the hardware behind the latencies is not recorded, see
`data/reference/README.md`); they are shown so that our measurements can be read next to them.
"""),
    code("""
main = dl.reference.load("main_table")
fig = dl.viz.main_table_chart(main)
dl.viz.save(fig, "05_main_table.png")
main.drop(columns="source")"""),
    md("""
Per-rate numbers of the released DiT-IC model on Kodak, as published (Shi et al., CVPR 2026, and
the result logs of the official release). They are what the official model reaches with a
SANA-600M DiT on Kodak; the kit's tiny model on a few photos is a different experiment.
"""),
    code("""
dl.reference.curve("kodak", run.reference_model)  # the tiny tier: the paper's model; the release's q1..q4: its update"""),
    md("""
## Verdicts

The paper's claim is perceptual: at low rates DiT-IC keeps more realistic detail than codecs
that optimise distortion. Offline, the detail proxy stands in for LPIPS / DISTS (which join the
table where their weights exist). Each comparison is made at equal rate, per image, and judged
against the spread between images (`rule` column); the table below says what this run found.
"""),
    code("""
verdicts = dl.claims.rd_claims(results, test=run.models[0])
dl.claims.show(verdicts)"""),
]

# ============================================================================ 06 alignment
NB06 = header("06_alignment_mechanisms", "06 · Alignment: self-distillation and latent-conditioned guidance", """
Two more mechanisms, the paper says, make one step work. **Self-distillation** (paper section
3.3) pulls the one-step output toward where the frozen encoder puts the original image. **Latent-conditioned
guidance** (section 3.4) replaces the DiT's text prompt by tokens projected from the decoded
code, trained to agree with caption embeddings; no text is needed to decode. We measure both on
the shipped model, or on the release.

The release's latent condition lives in SANA's caption space (Gemma-2, 2304 values per token);
the captions here are embedded in the tiny model's space (all-MiniLM-L6-v2, 384), so on the
official tier the retrieval test is not measured and the matrix compares the images' conditions.
""" + TIER_NOTE) + [
    code("""
P = dl.notebook.params(image="balloons", rate=0, images=3, tier="auto", official_checkpoint="")""" +
         tier_setup("dict(images=1)") + """
codec = run.load(P.rate)
images = run.images(P.images, include=P.image)
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
summary = distill.groupby("latent", sort=False)[["cosine", "above_margin", "loss"]].mean()
before, after = summary.iloc[0], summary.iloc[1]
print(f"mean cos with E(x) over {len(images)} image(s): {before['cosine']:.3f} before the DiT step, "
      f"{after['cosine']:.3f} after it ({after['cosine'] - before['cosine']:+.3f}).")
print(f"with margin m = {m}, {after['above_margin']:.1%} of the one-step output's positions already clear it "
      f"(cos > {1 - m:g}), so L_sd = {after['loss']:.5f} here: the loss acts only on the other {1 - after['above_margin']:.1%}.")
fig = dl.viz.heatmaps(images[P.image], {"cos(ŷ, E(x)) per latent pixel": cos_maps[P.image]}, cmaps=["coolwarm"])"""),
    md("""
### With and without the loss (ablation)

Training is the scarce resource here, so this ablation comes from a shipped CSV written by a
documented script (`scripts/ablation_alignment.py`: two short fine-tunes of the codec stage
from the same trained codec, with and without $L_{\\text{sd}}$, measured on the held-out photos).
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
print(retrieval.attrs["note"])
retrieval.round(3)"""),
    code("""
fig = dl.viz.similarity_matrix(similarity, list(images), list(images), title=retrieval.attrs["similarity"])
dl.viz.save(fig, "06_alignment.png")"""),
    md("""
### Reconstruction with the latent condition vs an empty one

Same bytes, same step; only the condition changes: the prompter's tokens, or zeros (the empty
prompt the base DiT saw when captions were dropped in its training). One row per image.
"""),
    code("""
cond = dl.evidence.condition_ablation_images(codec, images)
dl.notebook.save_table(cond, "06_condition.csv")
cond.round(4)"""),
    code("""
cond_images, _ = dl.teaching.condition_ablation(codec, images[P.image])
fig = dl.viz.side_by_side([images[P.image], *cond_images.values()], ["original", *cond_images],
                          crop=dl.teaching.zoom_box(images[P.image], 128))"""),
    md("""
## Verdicts

The paper's claims for these two mechanisms, judged from this run's numbers: the one-step output
moves toward the encoder's latent (what self-distillation trains for), the latent condition
helps the reconstruction compared with an empty one, and it carries the image's content (its own
caption is the closest). The `rule` column gives each threshold (paired differences against the
spread between images; retrieval against chance); the table below says what this run found.
The shipped ablation above is one training run per variant, so it gives no spread and no verdict.
"""),
    code("""
verdicts = dl.claims.alignment_claims(distill, cond, retrieval)
dl.claims.show(verdicts)"""),
]

# ============================================================================ 07 official
NB07 = header("07_official_dit_ic", "07 · The official DiT-IC model", """
The official release is a 1.05 B-parameter model (SANA-600M DiT, DC-AE f32c32) with checkpoints
on the Hugging Face hub. On a GPU with internet (e.g. Colab with a GPU runtime) this notebook
loads a released checkpoint through the kit's official tier, codes a few Kodak images, compares
them with the published curve of the checkpoint's own configuration and times large decodes.
With a checkpoint already on disk it does the same on a CPU, on small crops and decode sizes.
Without one it says why and runs **the same cells** on the tiny model, downloading nothing.
""" + TIER_NOTE + """
Here `"auto"` also runs the release on a CPU when a checkpoint is already on disk; with several
checkpoints this notebook uses the first (choose with `official_checkpoint`).
""") + [
    code("""
P = dl.notebook.params(images=3, sizes=[[1024, 1024], [2048, 2048]], dtype=dl.notebook.official_dtype(device),
                       tier="auto", official_checkpoint="",  # "" = the cached q1..q4 files; or names, paths, owner/repo/file
                       rank="",  # published curve to compare with; "" = from the file name (q1..q4: rank 64/128)
                       repeats=3, unet=device.startswith("cuda"),  # timed decodes per size; time a U-Net f8 too
                       fast=dict(images=1, sizes=[[512, 512], [1024, 1024]], repeats=2))
run = dl.teaching.choose_tier(P.tier, P.official_checkpoint, device, dtype=P.dtype, cpu_if_cached=True)
P = run.sized(P, official_cpu=dict(images=1, repeats=1))  # the release on a CPU: less work, small crops
print(run.describe())"""),
    md("""
## Load the model

`dl.load("official", checkpoint=...)` builds the official architecture from the release's
configs and loads a merged `*_merge_ema.pt` file strictly (every key and shape checked). The
DC-AE and the DiT run in `P.dtype` on the GPU (bfloat16 on Ampere or newer, float16 on a T4: what
`dl.setup()` printed); the latent codec stays in float32 so that the
entropy coder sees exact scales.
"""),
    code("""
codec, tier = run.load(0), run.name
print(f"tier: {tier}" + (f", checkpoint {codec.card.get('checkpoint')}" if tier == "official" else ""))
print(dl.teaching.describe_codec(codec))"""),
    md("""
## Rate points

Real file sizes and quality on Kodak (official tier, where it is cached or the internet is
reachable; on a CPU its center crops) or on the sample photos (tiny tier, or offline).
"""),
    code("""
data, data_name = run.evaluation_folder(P.images)
paths = run.evaluation_images(P.images, data)
points = dl.teaching.reproduce_points(codec, paths)
dl.notebook.save_table(points, f"07_points_{tier}.csv")
points.round(4)"""),
    md("""
The published numbers on Kodak (reference data, as published). The release has two
configurations: the paper's model (LoRA rank 32/64, 7 rate points) and the updated checkpoints
on the hub (`q1`..`q4_merge_ema.pt`, rank 64/128, 4 rate points). A checkpoint is compared with
the curve of its own configuration, at the published point nearest its measured rate. Each
published value is a mean over the 24 Kodak images; the comparison says how many were used.
"""),
    code("""
rank = P.rank or dl.reproduce.release_rank(codec.card.get("checkpoint")) or dl.reference.PAPER_MODEL
mean = points.iloc[-1]
published, why = run.published_point(mean["bpp"], rank, data_name)  # only the release on whole Kodak images
used = len(points) - 1
print(f"{tier}: {mean['bpp']:.4f} bpp, PSNR {mean['psnr']:.2f} dB, mean of {used} image(s) ({data_name})"
      + (f"; published {rank} point {int(published['rate_index'])}: {published['bpp']:.4f} bpp, PSNR "
         f"{published['psnr']:.2f} dB, mean of 24 Kodak images" if published is not None
         else f" ({why}: shown next to the published curve only)"))
dl.reference.curve("kodak", rank)"""),
    md("""
## Decode time at large sizes

One-step decoding is what makes large images practical: entropy decoding, one DiT call and the
decoder. The published claims (reference data) are listed after the measurement.
"""),
    code("""
sizes = run.timing_sizes(P.sizes)  # the official model on a CPU: one and two crops' worth
timing = dl.teaching.decode_timing(codec, sizes, repeats=P.repeats, warmup=1)
dl.notebook.save_table(timing, f"07_timing_{tier}.csv")
fig = dl.viz.timing_bars(timing, title=f"{tier} model, {timing['device'].iloc[0]}: seconds per decode")
dl.viz.save(fig, "07_official.png")
timing.round(3)"""),
    md("""
Each time is the median of `repeats` decodes after one untimed warm-up decode; on a GPU every
stage ends with a CUDA synchronisation, so the stage times add up to the decode. Beside them: the
paper's published latencies (its main table at 1024x1024 and its 4096x4096 claim; hardware not
recorded, so read them side by side, not as ratios) and, on a GPU, a U-Net f8 diffusion decoder
(an SD-1.5-sized U-Net, random weights, 20 steps as PerCo) timed here with `ditic-lite bench`'s code.
"""),
    code("""
unet = dl.reproduce.unet_reference(sizes[:1], device=device) if P.unet else None
latency = dl.reproduce.latency_table(timing, tier, unet)
largest = timing.iloc[-1]
print(f"{tier} on {largest['device']}: a {largest['size']} image decodes in {largest['decode_s']:.2f} s "
      f"(DiT {largest['dit_s']:.2f} s, decoder {largest['decoder_s']:.2f} s; median of {largest['repeats']}).")
latency.round(3)"""),
    md("""
## Verdicts

The claims this notebook can check with the official model: the checkpoint reproduces its
published rate and quality (the differences per image against the published mean, with an
interval that covers the images not used), and a 2048x2048 decode fits the 16 GB of the paper's
laptop GPU. On the tiny tier nothing here is the official model, and the table says so.
"""),
    code("""
verdicts = dl.claims.official_claims(points, published, tier, rank, timing, why=why)
dl.claims.show(verdicts)"""),
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


# README table: what each notebook shows, its gallery figure, and its wall time at full size on a
# 2-core CPU (tiny tier; measured with run_notebook, kernel start included, rounded up; the slower
# of two runs made while a training job held one core) and on a Colab T4 (estimated, not measured:
# the tiny tier, then the official tier with its checkpoint downloads, about 4 GB each).
README = ROOT / "README.md"
README_START, README_END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"
README_ROWS = {
    "01_quickstart": ("squeeze a photo into a file of a few hundred bytes and back; every stage with its shape",
                      "01_quickstart.png", "30 s", "< 1 min"),
    "02_variance_and_pseudo_timesteps": ("where the coder is unsure (sigma), and how that sets the DiT's step at "
                                         "each position", "02_variance.png", "1 min", "< 1 min; official 3 min"),
    "03_one_step_vs_multi_step": ("is one step enough? 1 to 20 steps, and the DiT before its adaptation (tiny tier)",
                                  "03_steps.png", "1.5 min", "< 1 min; official 4 min"),
    "04_bitrate_slider": ("fewer bytes, less detail: a slider over the rate", "04_bitrate.png", "1.5 min",
                          "< 1 min; official 8 min (four checkpoints)"),
    "05_rate_perception_curves": ("quality against bytes: DiT-IC, the same codec without its DiT, classical "
                                  "codecs; the paper's published curve, cited", "05_rd_curves.png", "3 min",
                                  "2 min; official 12 min (four checkpoints, Kodak)"),
    "06_alignment_mechanisms": ("what the two alignments do: the one step pulled toward the encoder's latent, the "
                                "code as the prompt", "06_alignment.png", "40 s", "< 1 min; official 3 min"),
    "07_official_dit_ic": ("the released full-size model: its published points, decode time at large sizes",
                           "07_official.png", "1 min", "< 1 min; official 10 min"),
}


def build(name: str, cells: list[tuple[str, str]], repo: Repo = Repo()) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for i, (kind, text) in enumerate(cells):
        text = (text.replace(COLAB_LINK, colab_link(name, repo)).replace(REPO_MARK, repo.url)
                .replace(CPU_TIME, README_ROWS[name][2]))
        cell = nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        cell["id"] = f"{name[:2]}-{i:02d}"
        nb.cells.append(cell)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "name": f"{name}.ipynb"},
        "ditic_lite": {"repo_url": repo.url, "branch": repo.branch},
    }
    if name.startswith("07"):
        nb.metadata["accelerator"] = "GPU"
        nb.metadata["colab"]["gpuType"] = "T4"
    nbformat.validate(nb)
    return nb


def readme_table(repo: Repo) -> str:
    """The README's notebook table (between the markers), with the same Colab links as the notebooks."""
    slug = repo.github_slug
    lines = [README_START, f"| notebook |{' Colab |' if slug else ''} CPU, 2 cores (tiny tier) | "
             "Colab T4 (estimate): tiny; official tier | figure |",
             f"|---|{'---|' if slug else ''}---|---|---|"]
    for name, (what, figure, cpu, t4) in README_ROWS.items():
        colab = f" {BADGE.format(slug=slug, branch=repo.branch, name=name)} |" if slug else ""
        lines.append(f"| [`{name}`](notebooks/{name}.ipynb): {what} |{colab} {cpu} | {t4} | ![](figures/{figure}) |")
    if not slug:
        lines += ["", "These notebooks were built without a GitHub address, so they have no Colab badges: in "
                  "Colab, upload the notebook and a wheel of the kit (`pip wheel --no-deps .`), then run its first "
                  "cell; each notebook's header and [docs/workshop.md](docs/workshop.md#on-colab) give the steps "
                  "(`python scripts/build_notebooks.py --repo-url URL` adds the badges)."]
    return "\n".join(lines + [README_END])


def write_all(check: bool = False, repo: Repo = Repo()) -> list[Path]:
    """Write (or, with ``check``, compare) the notebooks and the README table; returns the stale files."""
    NOTEBOOKS_DIR.mkdir(exist_ok=True)
    stale = []
    outputs = {NOTEBOOKS_DIR / f"{name}.ipynb": nbformat.writes(build(name, cells, repo)) + "\n"
               for name, cells in NOTEBOOKS.items()}
    readme = README.read_text()
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md lacks the {README_START} ... {README_END} markers")
    outputs[README] = readme[:start] + readme_table(repo) + readme[end + len(README_END):]
    for path, text in outputs.items():
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        elif not path.exists() or path.read_text() != text:
            path.write_text(text)
    return stale


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a notebook differs from this script")
    p.add_argument("--gallery", action="store_true",
                   help="execute every notebook at full size, writing the gallery figures into figures/")
    p.add_argument("--only", default=None, help="comma list of notebook name prefixes (e.g. 01,05)")
    p.add_argument("--repo-url", default=None,
                   help="repository the badges and Colab cells point to (default: git remote origin, else "
                        "pyproject's Repository URL; with --check: the URL the notebooks were built with); "
                        "'' for none")
    p.add_argument("--branch", default=None, help="branch of the Colab badges (default: main)")
    args = p.parse_args(argv)
    built = built_repo()
    if args.check and args.repo_url is None and built is not None:
        repo = Repo(built.url, args.branch or built.branch)
        here = resolve_repo_url()
        if here and here != repo.url:
            print(f"note: the notebooks point to {repo.url or 'no repository'}, this checkout's origin is {here} "
                  "(python scripts/build_notebooks.py rebuilds them for it)")
    else:
        repo = Repo(resolve_repo_url(args.repo_url), args.branch or "main")
    if args.check:
        stale = write_all(check=True, repo=repo)
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run python scripts/build_notebooks.py)")
        return 1 if stale else 0
    write_all(repo=repo)
    print(f"wrote {len(NOTEBOOKS)} notebooks into {NOTEBOOKS_DIR.relative_to(ROOT)}/ and the README table; "
          f"repository: {repo.url or 'none (no Colab badges; the Colab cell asks for a URL or an upload)'}")
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
