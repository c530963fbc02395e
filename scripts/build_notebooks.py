"""Write the eight teaching notebooks (``notebooks/NN_name.ipynb``) from the cell lists below.

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

PHOTO_SIZE_NOTE = """
A photo larger than `max_side` pixels a side is downscaled to it (the notebook prints a note), so
that it costs about what a sample photo (768x512) costs.
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
names one rate point; empty: the four, each fetched when a cell first uses it). `tier="tiny"`
always runs the kit's model. The cells are the same on both tiers and every verdict is computed
from the numbers of the run. Set them in the parameters cell, or with `DITIC_TIER` and
`DITIC_OFFICIAL_CHECKPOINT` (a file path, hub file names, or a JSON list of them, one per rate
point).
"""

TIER_SETUP = """
run = dl.teaching.choose_tier(P.tier, P.official_checkpoint, device)  # which tier and why; prints any download size
P = run.sized(P, official_cpu=@@cpu@@)  # the release on a CPU: less work, small crops
print(run.describe())"""


def tier_setup(cpu: str) -> str:
    """The lines after a notebook's parameters that choose its tier (``cpu``: its CPU sizes)."""
    return TIER_SETUP.replace("@@cpu@@", cpu)


# ============================================================================ 01 quickstart
NB01 = header("01_quickstart", "01 · Quickstart: compress a photo with DiT-IC", """
DiT-IC (Shi et al., CVPR 2026) codes an image into a tiny entropy-coded representation and
reconstructs it with **one** step of a pretrained diffusion transformer (DiT). This notebook
compresses a photo into a real file, reads its size, decodes it, and draws the pipeline with the
tensor shapes read off the model.

Everything runs on a laptop CPU with the kit's *tiny* model (same architecture family as the
official one, about a hundred times less compute). The official model is in notebook 07.
""") + [
    learning_goals([
        "compress a photo (a sample or your own) into a real `.ditic` file and read its size in bits per pixel;",
        "decode the file with one step of a diffusion transformer and measure the quality (PSNR, MS-SSIM);",
        "follow the pipeline from the photo to a code 64 times smaller per side and back, with the shapes "
        "read off the model;",
        "predict, then check, what the rate point, the quantisation step and the photo do to the file size.",
    ], "Python basics; what a pixel is. No knowledge of diffusion models needed."),
    md(PHOTO_NOTE + PHOTO_SIZE_NOTE),
    code("""
P = dl.notebook.params(image="kite", rate=0, max_side=1024)  # image: a sample name, a file path or a URL
P"""),
    *photo_cells(),
    md("""
## Load a model

`dl.load(name, rate)` is the single entry point: `"tiny"` (DiT-IC tiny), `"mse"` (the same latent
codec with a plain decoder, no DiT), `"official"` (the released checkpoint, notebook 07). A model
codes at one of several *rate points*: fewer or more bits per pixel (notebook 04 shows how the
tiny model makes them).
"""),
    code("""
codec = dl.load("tiny", rate=P.rate, device=device)
print(dl.teaching.describe_codec(codec))"""),
    md("""
## Compress into a real file

`compress` returns the bytes of a `.ditic` file: a small header (model, checkpoint id, rate,
image size) and two rANS-coded streams. The rate is measured on those real bytes,

$$\\text{bpp} = \\frac{8 \\cdot \\text{bytes}}{H \\cdot W}.$$

The file goes to the results folder, named after the photo (never beside your photo).
"""),
    code("""
photo = dl.notebook.photo_path(P.image)
label = dl.notebook.photo_label(P.image)
image = dl.load_image(photo, max_side=P.max_side)  # a larger photo is downscaled, with a note
print(f"photo: {label} ({photo}), {image.width}x{image.height} pixels")

data = codec.compress(image)
path = dl.notebook.result_path(f"{label}.ditic")
path.write_bytes(data)
n_bytes = path.stat().st_size
bpp = dl.metrics.bits_per_pixel(n_bytes, image.height, image.width)
print(f"{path.name}: {n_bytes} bytes on disk for a {image.width}x{image.height} image = {bpp:.4f} bpp "
      f"(the photo's own file is {photo.stat().st_size} bytes)")"""),
    md("""
## Decode the file

Decoding reads the file back, entropy-decodes the latent, runs one DiT step and the decoder.
`return_intermediates=True` also returns what happened inside (used throughout the notebooks).
Look first, then read the numbers: the right panel magnifies the most textured square, where
compression shows first.
"""),
    code("""
recon, info = codec.decompress(path.read_bytes(), steps=1, return_intermediates=True)
psnr, msssim = dl.metrics.psnr(image, recon), dl.metrics.ms_ssim(image, recon)
box = dl.teaching.zoom_box(image, size=128)  # the most textured square: artefacts show there first
fig = dl.viz.side_by_side([image, recon], [f"original: {label}", f"DiT-IC tiny, {bpp:.3f} bpp, {psnr:.1f} dB"], crop=box)
dl.viz.save(fig, "01_quickstart.png")"""),
    code("""
print(f"PSNR {psnr:.2f} dB, MS-SSIM {msssim:.4f} at {info['bpp']:.4f} bpp")
print(f"In plain words: the file is {24 / bpp:.0f} times smaller than the raw 24-bit pixels, and the typical "
      f"pixel of the reconstruction is off by about {100 * 10 ** (-psnr / 20):.1f} % of the full brightness range "
      f"(the root mean square error that PSNR {psnr:.1f} dB stands for).")
print("decode time per stage (s):", {k: round(v, 3) for k, v in info["timings"].items()})"""),
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

where $\\sigma_t(\\sigma)$ scales the step per pixel (notebook 02). The diagram and the table
below were measured on this photo with the loaded model.
"""),
    code("""
shapes = dl.teaching.pipeline_shapes(codec, image)
fig = dl.viz.pipeline_diagram(shapes)
dl.viz.save(fig, "01_pipeline.png")"""),
    code("""
s = shapes.set_index("key")
print(f"The DiT works on a {s.loc['y_tilde', 'shape']} latent ({s.loc['y_tilde', 'scale']} of the image side); "
      f"the code that is entropy coded is {s.loc['y', 'shape']} ({s.loc['y', 'scale']}) plus a "
      f"{s.loc['z', 'shape']} hyper-latent ({s.loc['z', 'scale']}): {s.loc['bytes', 'values']} bytes in all.")
shapes"""),
] + your_turn(
    exercise(1, "another rate point", """
The tiny model ships several rate points (`codec.rates`). **Predict:** coded at the last rate point
instead of rate point `P.rate`, will the file of your photo be larger, smaller or the same?
Write `"up"`, `"down"` or `"same"` into `prediction`, then run the cell.
""", """
other_rate = codec.rates[-1]  # change me: any of codec.rates
prediction = None             # your prediction for the file size: "up", "down" or "same"

other = dl.load("tiny", rate=other_rate, device=device)
other_data = other.compress(image)
dl.exercises.check_direction(prediction, before=len(data), after=len(other_data),
                             what=f"the file size (rate point {P.rate} -> {other_rate})", unit=" bytes")""",
        "Notebook 04 explains the rate points: each weighs bits against quality differently in training. "
        "Compare `dl.load('tiny', rate=r).card['lambda']` for two rate points: the larger the weight "
        "on the rate, the fewer bits.",
        "The rate points are ordered by the weight λ that training put on the bits, from the largest "
        "(fewest bits) to the smallest, so a later rate point gives a larger file. The check above "
        "measured it on your photo. Try `other_rate = P.rate`: the same file, to the byte (coding is "
        "deterministic)."),
    exercise(2, "a coarser quantisation step", """
`codec.compress(image, quant_step=2.0)` rounds the code $y$ in steps of 2 instead of 1. **Predict:**
what happens to the PSNR of the reconstruction? Then try `quant_step = 0.5`.
""", """
quant_step = 2.0   # change me: between 1/16 and 16
prediction = None  # your prediction for the PSNR: "up", "down" or "same"

coarse = codec.compress(image, quant_step=quant_step)
coarse_recon = codec.decompress(coarse)
print(f"quant_step {quant_step}: {len(coarse)} bytes instead of {len(data)}")
dl.exercises.check_direction(prediction, before=psnr, after=dl.metrics.psnr(image, coarse_recon),
                             what=f"PSNR (quant_step 1 -> {quant_step})", tolerance=0.05, unit=" dB")""",
        "Coarser rounding throws away information, which saves bytes. Does the decoder get it back?",
        "A coarser step saves bytes and, usually, loses PSNR: the decoder sees a rougher $y$. A finer "
        "step (0.5) costs bytes, but the quality may barely rise: notebook 04 measures whether the "
        "tiny model can use the extra precision. Changes within 0.05 dB count as the same."),
    exercise(3, "a photo with more or less detail", """
Fine detail (grass, text, fur) is expensive to code; smooth areas (sky) are cheap. **Predict:**
will another photo cost more or fewer bits per pixel than yours? Pick `other_photo` (a sample
name or the path of one of your photos), predict, run. The cell prints the mean texture (luma
gradient) of both photos.
""", """
other_photo = "balloons"  # change me: "kite", "ladybird", "balloons" or a file path
prediction = None         # your prediction for the bits per pixel of other_photo: "up", "down" or "same"

second = dl.load_image(dl.notebook.photo_path(other_photo), max_side=P.max_side)
second_bpp = dl.metrics.bits_per_pixel(len(codec.compress(second)), second.height, second.width)
print(f"texture: {label} {dl.teaching.texture_map(image).mean():.4f}, "
      f"{dl.notebook.photo_label(other_photo)} {dl.teaching.texture_map(second).mean():.4f}")
dl.exercises.check_direction(prediction, before=bpp, after=second_bpp,
                             what=f"bits per pixel ({label} -> {dl.notebook.photo_label(other_photo)})",
                             tolerance=0.0005, unit=" bpp")""",
        "Look at both photos: which has more edges and fine texture? The texture numbers printed by the "
        "cell measure it.",
        "The photo with more texture usually costs more bits per pixel, because its code has more to say. "
        "The check compares your prediction with the bits measured on both photos; if the more textured "
        "photo came out cheaper, look at the size of the difference: a rate point spends bits on "
        "structure the texture number does not see (colour, large edges)."),
)

# ============================================================================ 02 variance
NB02 = header("02_variance_and_pseudo_timesteps", "02 · Variance-guided flow: σ sets a step size per pixel", """
A diffusion model denoises an image whose noise level is known (the timestep). In DiT-IC the
decoded latent $\\tilde y$ is "noisy" too, but by how much differs from place to place. The
entropy model already knows: for every latent value it predicts a Gaussian with mean $\\tilde y$
and standard deviation $\\sigma$. DiT-IC runs the DiT once, at one fixed timestep, and lets
$\\sigma$ set **how far that one step moves each latent pixel**: a pixel-wise step size (paper
section 3.2, mechanism 1; the paper calls the map a pixel-wise *pseudo-timestep*).
""" + TIER_NOTE) + [
    learning_goals([
        "read the entropy model's uncertainty σ as a map over your photo and see where it is high;",
        "explain how DiT-IC turns σ into a step size per pixel while the DiT runs at one fixed timestep;",
        "test whether σ is high where the latent needs the most correction, and in textured regions;",
        "measure what the pixel-wise step buys over one step size for the whole image, from the same bytes.",
    ], "notebook 01; the idea of a flow step $x \\leftarrow x - \\Delta \\cdot v$ helps (explained below)."),
    md(PHOTO_NOTE + PHOTO_SIZE_NOTE),
    code("""
P = dl.notebook.params(image="kite", rate=0, images=3, max_side=768, tier="auto", official_checkpoint="",
                       fast=dict(images=2))
P"""),
    *photo_cells(),
    code(tier_setup("dict(images=1)") + """
codec = run.load(P.rate)
label = dl.notebook.photo_label(P.image)
images = run.images(P.images, include=P.image, max_side=P.max_side)  # the takeaways use every one of them
image = images[label]
recon, info = codec.roundtrip(image)
print(f"photo: {label} ({dl.notebook.photo_path(P.image)}), {image.width}x{image.height} pixels; "
      f"the takeaways use {len(images)} photos: {', '.join(images)}")
print(dl.teaching.describe_codec(codec))"""),
    md("""
## From predicted std to a step size per pixel

The codec predicts a log-variance $\\ell$; $\\sigma = \\exp(\\tfrac12 \\ell)$. Each latent value
gets a noise level

$$\\sigma_{\\text{map}} = \\sigma_t \\cdot \\min(a + b\\,|\\sigma|,\\ 1), \\qquad t_{\\text{map}} = 1000\\,\\sigma_{\\text{map}},$$

with $\\sigma_t$ the flow's noise level at the DiT's timestep $t$, and the one step is

$$\\hat y = \\tilde y - \\sigma_{\\text{map}} \\odot v_\\theta(\\tilde y, t, c).$$

**The DiT runs at one timestep; the map sets the step size.** The DiT is called once, at the same
fixed timestep $t$ for every pixel (999 in the release): it never sees the map. It predicts a
velocity $v_\\theta$, and the map decides, per latent value, how far the step moves along it.
In a flow, the step from noise level $\\sigma_{\\text{map}}$ to 0 has length
$\\sigma_{\\text{map}}$, which is why the paper calls $t_{\\text{map}}$ a pseudo-timestep. Where the
entropy model is sure (small $\\sigma$) the step is short; where it is unsure, long. Every value
with $|\\sigma|$ at or above a saturation constant gets the full $\\sigma_t$, so there $\\sigma$
carries no further information. The constants, read from the model's config:
"""),
    code("""
f = codec.model.config.flow
saturated = float((info["sigma"].abs() >= f.saturation).float().mean())
print(f"a = {f.offset}, b = {f.slope}, sigma_t = {f.sigma_t:.6f}; the DiT runs at the fixed timestep t = {f.timestep:g} "
      f"for every pixel; |sigma| >= {f.saturation} gives the full step sigma_t ({saturated:.1%} of this photo's latent values)")"""),
    md("""
## Where is the model unsure, and where does the latent need correcting?

If $\\sigma$ encodes the local *denoising demand*, it is large where the decoded latent is far
from the truth. Here the truth is at hand: the frozen encoder's latent $E(x)$ of the original,
the latent the decoder was trained on. The step starts from $\\tilde y$ and the residual is
added after it, so the distance it has to cover is $|E(x) - (\\tilde y + \\text{res})|$.

One value per latent pixel (a 32x32 block of the photo): the mean of $\\ln\\sigma$ over the
channels, the step size $t_{\\text{map}}$, the demand $|E(x) - (\\tilde y + \\text{res})|$ and the
local texture (how fast the brightness changes). Bright means large.
"""),
    code("""
maps = dl.evidence.sigma_maps(codec, image, info)
fig = dl.viz.heatmaps(image, {
    "mean ln σ over channels": maps["log_sigma"],
    "step size t_map (0..1000)": dl.teaching.latent_map(info["t_map"], image),
    "denoising demand |E(x) − (ỹ + res)|": maps["error"],
    "texture (luma gradient per px)": maps["texture"],
}, cmaps=["magma", "viridis", "inferno", "gray"])
dl.viz.save(fig, "02_variance.png")"""),
    code("""
fig = dl.viz.histograms({"σ, all latent values (log bins)": info["sigma"].cpu().numpy(),
                         "t_map, all latent values": info["t_map"].cpu().numpy()},
                        xlabel=["predicted std σ (latent units)", "step size t_map (0..1000)"], log=[True, False])
dl.viz.save(fig, "02_histograms.png")"""),
    md("""
## Does σ follow the denoising demand, and texture?

One point per latent pixel of your photo below; then the same question on every photo of this
run, answered in one sentence each. A note before reading the first answer: the kit's tiny model
was trained with an extra term that asks σ to rank the starting error (kit addition,
`dl.flow.variance_calibration_loss`), so on the tiny tier a "yes" is partly trained for; the
release learns σ only through the one-step loss. Texture is in no loss of either: its answer is a
finding on both tiers.
"""),
    code("""
positions = dl.evidence.position_table(maps)
fig = dl.viz.scatter(positions, "error", "log_sigma", title=f"{label}: one point per latent pixel",
                     xlabel="denoising demand |E(x) − (ỹ + res)| (latent units)", ylabel="mean ln σ over channels")
dl.viz.save(fig, "02_scatter.png")
sigma = dl.evidence.sigma_evidence(codec, images)
dl.notebook.save_table(sigma, "02_sigma_evidence.csv")
dl.claims.takeaways(dl.claims.variance_claims(sigma))"""),
    md("""
## Ablation: one step size for the whole image

Replace $\\sigma_{\\text{map}}$ by its mean everywhere (one step size, as with the usual single
diffusion timestep) and decode the **same bytes**: the rate is identical, only the reconstruction
changes. First the pictures, then the answer over every photo of this run.
"""),
    code("""
ablation_images, _ = dl.teaching.timestep_ablation(codec, image)
fig = dl.viz.side_by_side([image, *ablation_images.values()], ["original", *ablation_images],
                          crop=dl.teaching.zoom_box(image, 128))"""),
    code("""
ablation = dl.evidence.timestep_ablation_images(codec, images)
dl.notebook.save_table(ablation, "02_timestep_ablation.csv")
dl.claims.takeaways(dl.claims.variance_claims(ablation=ablation))"""),
] + your_turn(
    exercise(1, "σ at another rate point", """
At another rate point the code carries more (or fewer) bits. **Predict:** is the model more or
less unsure there, i.e. does the mean of $\\ln\\sigma$ over the latent go up, down or stay the same?
""", """
other_rate = run.rates[-1]  # change me: any of run.rates
prediction = None           # your prediction for the mean ln σ: "up", "down" or "same"

same_rate = other_rate == P.rate  # the same rate point decodes the same: no need to run it again
other_info = info if same_rate else run.load(other_rate).roundtrip(image)[1]
dl.exercises.check_direction(prediction, before=float(info["sigma"].clamp_min(1e-30).log().mean()),
                             after=float(other_info["sigma"].clamp_min(1e-30).log().mean()),
                             what=f"mean ln σ (rate point {P.rate} -> {other_rate})", tolerance=0.01)""",
        "σ is the spread the entropy model expects around the decoded mean. With more bits, how well is "
        "$y$ known to the decoder?",
        "Two pulls: with more bits the decoded mean is closer to the truth, which argues for a smaller σ; but "
        "σ is learned through the one-step loss of the model, not as a calibrated variance, and each rate "
        "point decodes from its own code. No rule fixes the direction, so the run decides: compare the size "
        "of the change with the spread of ln σ in the histogram above. (On the official tier with one "
        "checkpoint there is one rate point, and the answer is \"same\".)"),
    exercise(2, "the ablation on another photo", """
The ablation above compared one step size with the pixel-wise map on your photo. **Predict:** on
another photo, will the pixel-wise map give a higher PSNR ("up"), a lower one ("down") or the same
(within 0.1 dB) than one step size for the whole image?
""", """
other_photo = "ladybird"  # change me: a sample name or the path of one of your photos
prediction = None         # PSNR going from one step size to the pixel-wise map: "up", "down" or "same"

_, table = dl.teaching.timestep_ablation(codec, run.image(other_photo, max_side=P.max_side))
dl.exercises.check_direction(prediction, before=float(table["psnr"].iloc[1]), after=float(table["psnr"].iloc[0]),
                             what=f"PSNR on {dl.notebook.photo_label(other_photo)} (one step size -> pixel-wise map)",
                             tolerance=0.1, unit=" dB")""",
        "The map helps most where the photo mixes areas that need a long step with areas that need a short "
        "one. Is the other photo uniform or mixed?",
        "The pixel-wise map moves each latent value as far as σ says; one step size moves every value by the "
        "mean. Where σ varies a lot over the photo (look at `t_std` in the table), the two differ most. The "
        "check says which way it went on the photo you chose; the takeaway above says whether the difference "
        "holds over all the photos of this run."),
    exercise(3, "a photo without its fine detail", """
`image.reduce(4).resize(image.size)` shrinks the photo 4 times and blows it up again: the fine
detail is gone, the rest stays. **Predict:** on that blurred photo, is the model more or less
unsure (mean $\\ln\\sigma$ up, down or the same)? The cell also prints the bits per pixel of both.
""", """
blurred = image.reduce(4).resize(image.size)  # change me: reduce(2) keeps more detail, reduce(8) less
prediction = None                              # your prediction for the mean ln σ: "up", "down" or "same"

_, blurred_info = codec.roundtrip(blurred)
print(f"bits per pixel: {info['bpp']:.4f} for {label}, {blurred_info['bpp']:.4f} for its blurred copy")
dl.exercises.check_direction(prediction, before=float(info["sigma"].clamp_min(1e-30).log().mean()),
                             after=float(blurred_info["sigma"].clamp_min(1e-30).log().mean()),
                             what="mean ln σ (photo -> blurred photo)", tolerance=0.01)""",
        "Where is the decoded latent far from the truth: in smooth areas or in fine detail?",
        "Fine detail is what a low-rate code loses first, so the blurred copy usually needs fewer bytes. "
        "Whether σ falls too depends on what the model learned σ for: where the first takeaway above says "
        "σ follows the denoising demand, an easier photo should get a smaller σ; a change within the "
        "tolerance means the blur did not change where this model is unsure."),
) + [
    for_reviewers("""
The numbers behind the takeaways, and the rules that turned them into answers.

**σ against demand and texture** (`sigma`, one row per photo): `r_error` and `r_texture` are
Spearman (rank) correlations over the latent pixels of $\\overline{\\ln\\sigma}$ (the mean over
channels of $\\ln\\sigma$, the log of the geometric mean, so that the few channels where $\\sigma$
is huge cannot rule it) with the demand and with texture; `r_texture_channel_mean` uses the plain
channel mean of $\\sigma$ instead, for contrast; `saturated` is the fraction of values that clip the
map. `ring_sigma`, `ring_error` and `ring_texture` say how much higher each map is on its outermost
ring of latent pixels than inside, in standard deviations of the map: a ring in σ that the demand
and texture do not share is an artefact of the codec at the image borders, not a measurement.
Latent positions are treated as independent within a photo; neighbours are correlated, so a
one-photo interval is optimistic.

**Ablation** (`ablation`, one row per photo): PSNR and MS-SSIM of the pixel-wise map and of its
mean, from the same bytes.

**Verdicts**: a correlation's 95 % interval (Fisher z, pooled over the photos with random
effects) against 0; an ablation's paired difference against the spread between photos and the
smallest difference worth claiming (`dl.claims.MARGINS`). `ditic-lite claims` recomputes them.
"""),
    code("""
sigma.round(3)"""),
    code("""
ablation.round(4)"""),
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
un-adapted base is not there: that comparison is then left out, and its takeaway says so.
""") + [
    learning_goals([
        "decode the same bytes with 1, 2, 4, ... steps and see what more steps change;",
        "compare one adapted step with the un-adapted base DiT used as an ordinary multi-step sampler;",
        "explain, from measured numbers, why a model adapted for one step gets no better (here: worse) with more;",
        "weigh quality against decode time, stage by stage.",
    ], "notebooks 01 and 02 (the one step $\\hat y = \\tilde y - \\sigma_{\\text{map}} \\odot v_\\theta$)."),
    md(PHOTO_NOTE + PHOTO_SIZE_NOTE),
    code("""
P = dl.notebook.params(image="kite", rate=0, steps=[1, 2, 4, 8, 20], images=3, max_side=768, tier="auto",
                       official_checkpoint="", fast=dict(images=2))
P"""),
    *photo_cells(),
    code(tier_setup("dict(images=1, steps=[1, 2, 4])") + """
codec = run.load(P.rate)
label = dl.notebook.photo_label(P.image)
images = run.images(P.images, include=P.image, max_side=P.max_side)  # the takeaways use every one of them
image = images[label]
print(f"photo: {label} ({dl.notebook.photo_path(P.image)}), {image.width}x{image.height} pixels; "
      f"the takeaways use {len(images)} photos: {', '.join(images)}")
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
difference is the DiT: its adaptation, and how many times it is called.
"""),
    code("""
recons, table = dl.evidence.compare_steps_images(codec, images, steps=P.steps)
dl.notebook.save_table(table, "03_steps.csv")
shown = table[table["image"] == label]
fig = dl.viz.comparison_grid(recons[label], crop=dl.teaching.zoom_box(image, 160), reference=image)
dl.viz.save(fig, "03_steps.png")"""),
    code("""
fig = dl.viz.steps_chart(shown)
dl.viz.save(fig, "03_steps_chart.png")"""),
    md("""
## What more steps do on your photo

Read out of the table of your photo (values computed above, on this machine). The last line
splits the one-step decode into its stages: the paper's speed argument is about the DiT calls,
and how much of a decode they are depends on the model size and the image size.
"""),
    code("""
print(dl.teaching.one_step_summary(shown, "psnr"))"""),
    md("""
## Why does the quality fall as K grows?

More steps of an ordinary diffusion sampler usually help, so a falling curve looks wrong at first.
The adapted DiT, however, was trained for one job: one step, from the decoded mean at a fixed
timestep. To see where the K-step decode goes, the table also measures how far the latent the
decoder receives lies from the frozen encoder's latent $E(x)$ of the original (the latent the
decoder turns back into the photo best). The explanation below is chosen by those numbers.
"""),
    code("""
print(dl.teaching.step_drift_summary(shown, "psnr"))"""),
    md("""
## What this run found

The paper's claims: one step of the adapted flow is enough (more steps add nothing worth their
cost), and it beats the un-adapted base DiT even when the base gets many steps. One sentence
each, over every photo of this run (the rules are in the section for reviewers).
"""),
    code("""
verdicts = dl.claims.steps_claims(table)
dl.claims.takeaways(verdicts)"""),
] + your_turn(
    exercise(1, "a step count of your own", """
Pick a number of steps that the table does not have, e.g. 3 or 12. **Predict:** will its PSNR be
higher, lower or the same (within 0.05 dB) as one step's?
""", """
k = 3              # change me: any number of steps from 1 to 50
prediction = None  # PSNR with k steps compared with one step: "up", "down" or "same"

data = codec.compress(image)
one_step = dl.metrics.psnr(image, codec.decompress(data, steps=1))
dl.exercises.check_direction(prediction, before=one_step, after=dl.metrics.psnr(image, codec.decompress(data, steps=k)),
                             what=f"PSNR (1 -> {k} steps)", tolerance=0.05, unit=" dB")""",
        "Look at the chart above: is PSNR a smooth function of K? Your K lies between two measured ones.",
        "On the adapted flow the curve is usually monotone, so a K between two measured values lands between "
        "their PSNRs; the check compares it with one step on your photo. Decoding is deterministic: `k = 1` "
        "gives exactly the one-step PSNR (\"same\")."),
    exercise(2, "what a step costs", """
Each step is one more call of the DiT, but a decode also entropy-decodes and runs the autoencoder's
decoder once, whatever K is. **Estimate:** how many times longer than one step does the largest K
of the table take to decode? Write a number.
""", """
prediction = None  # your estimate: decode time at the largest K divided by the decode time at K = 1

adapted = shown[shown["method"].str.startswith("DiT-IC")].set_index("steps")
largest = adapted.index.max()
print(f"K={largest}: {largest} DiT calls; one decode's stages at K=1: DiT {adapted.loc[1, 'dit_s']:.3f} s, "
      f"decoder {adapted.loc[1, 'decoder_s']:.3f} s, entropy {adapted.loc[1, 'entropy_s']:.3f} s")
dl.exercises.check_number(prediction, adapted.loc[largest, "decode_s"] / adapted.loc[1, "decode_s"],
                          what=f"decode time at K={largest} over K=1", relative=0.3, unit="x")""",
        "Only the DiT part grows with K. If the DiT takes a fraction p of a one-step decode, K steps take "
        "about 1 + (K - 1) p times as long.",
        "With p the DiT's share of a one-step decode (printed), the ratio is about 1 + (K - 1) p. On the tiny "
        "model the decoder dominates, so even 20 steps cost far less than 20 times one step; on the release "
        "(a 600 M-parameter DiT) the DiT is a larger share. Timings vary from run to run; within 30 % counts."),
    exercise(3, "which decode looks most like the original?", """
PSNR rewards getting every pixel right; MS-SSIM rewards getting the structure right. **Predict:**
which decode of the table has the highest MS-SSIM on your photo? Write one of the names the cell
prints (e.g. `"DiT-IC K=1"`).
""", """
prediction = None  # one of the names printed below

ms_ssim = dl.teaching.decode_scores(shown, "ms_ssim")  # {"DiT-IC K=1": ..., "base K=20": ...}
print("decodes:", ", ".join(ms_ssim))
dl.exercises.check_largest(prediction, ms_ssim, "MS-SSIM")""",
        "Look at the zoomed crops above: which decode keeps the edges where they are? The base DiT invents "
        "detail; the adapted flow stays close to the code.",
        "The adapted one-step decode is usually the best or close to it, as for PSNR: the base sampler "
        "invents plausible texture that is not the photo's, and more adapted steps drift (see \"Why does "
        "the quality fall\"). The check names the winner measured on your photo."),
) + [
    for_reviewers("""
Your photo's full table (`shown`: one row per method and K, with the stage timings and
`latent_error`, the mean $|E(x) - \\hat y|$ over the latent pixels), the same for MS-SSIM in words,
and the verdicts with their rules: each claim is judged per photo, over every photo of the table,
against the spread between photos and the smallest difference worth claiming
(`dl.claims.MARGINS`): one step is "as good as" more steps if the 95 % interval of one step minus
the best K > 1 lies above minus that margin (non-inferiority); it "beats" the base DiT if the
interval of the difference lies above 0. Every extra step adds one DiT call (`dit_s`).
`dl.teaching.base_dit_sweep(..., base_decoder=True)` also switches off the decoder's LoRA, which
would mix a second change into the comparison. All photos' rows are in `table` (saved as
`03_steps.csv`).
"""),
    code("""
shown.round(4)"""),
    code("""
print(dl.teaching.one_step_summary(shown, "ms_ssim"))"""),
    code("""
dl.claims.show(verdicts)"""),
]

# ============================================================================ 04 slider
NB04 = header("04_bitrate_slider", "04 · Bitrate slider", """
Move the slider over the rate points and the quantisation step (and pick the number of decoding
steps) to see the reconstruction, its real file size in bits per pixel and its quality. The
function behind every move, `dl.teaching.slider_update`, is an ordinary tested function, so the
same numbers are printed below as a table (that is what CI checks, no browser needed).

On the official tier the rate points are the release's checkpoints (q1..q4 on the hub, one file
each; with a single file, one rate point, and the quantisation step below is the lever).
""" + TIER_NOTE) + [
    learning_goals([
        "move a slider over the rate points and see, on your photo, what more bits buy;",
        "explain how the kit's tiny model makes its rate points (one shared model, a learned step vector per "
        "rate point) and how the release does (one checkpoint per rate point);",
        "use the quantisation step of the code y as a second rate lever that needs no retraining;",
        "check, from a measured sweep, whether more bits still buy quality.",
    ], "notebook 01 (bits per pixel, PSNR, MS-SSIM)."),
    md(PHOTO_NOTE + PHOTO_SIZE_NOTE),
    code("""
P = dl.notebook.params(image="ladybird", max_side=768, steps=[1, 2, 4, 8], table_steps=[1, 4],
                       quant_steps=list(dl.teaching.QUANT_STEPS), tier="auto", official_checkpoint="",
                       fast=dict(table_steps=[1], quant_steps=[0.5, 1.0, 2.0]))
P"""),
    *photo_cells(),
    code(tier_setup("dict(steps=[1, 2], table_steps=[1], quant_steps=[0.5, 1.0, 2.0])") + """
label = dl.notebook.photo_label(P.image)
image = run.image(P.image, max_side=P.max_side)
print(f"photo: {label} ({dl.notebook.photo_path(P.image)}), {image.width}x{image.height} pixels")
cache = dl.teaching.CodecCache(device=device, loader=run.loader())  # loaded models and bitstreams: a move only decodes
print("rate points:", " | ".join(f"{name} {cache.rates(name)}" for name in run.models))"""),
    md("""
## How the rate points are made

A learned codec minimises $L = \\lambda R + D + \\dots$: the rate $R$ (bits) weighed by $\\lambda$
against the distortion $D$. A larger $\\lambda$ makes bits dearer: fewer bytes, more distortion.
How a model offers several rates differs between the tiers; the cell reads it off the loaded
models. The rate is always measured on the file: $\\text{bpp} = 8\\cdot\\text{bytes} / (H W)$.
"""),
    code("""
print(dl.teaching.rate_points_description(cache, run.models[0]))"""),
    code("""
ui = dl.teaching.bitrate_slider(image, cache, name=run.models[0], steps_options=P.steps)
ui"""),
    md("""
## Every rate point, side by side

The same function for each rate point: the pictures of this tier's DiT-IC first (the zoom shows
the most textured square, where the rate shows first), then the numbers of every model.
"""),
    code("""
slider_images, positions = dl.teaching.slider_table(cache, image, names=run.models, steps=P.table_steps)
dl.notebook.save_table(positions, "04_slider_positions.csv")
panels = dl.teaching.slider_panels(slider_images, positions, run.models[0], steps=P.table_steps[0])  # DiT-IC only
fig = dl.viz.side_by_side([image, *panels.values()], [f"original: {label}", *panels],
                          crop=dl.teaching.zoom_box(image, 128))
dl.viz.save(fig, "04_bitrate.png")"""),
    code("""
shown = positions[positions["model"] == run.models[0]]
print(f"{run.models[0]}: {shown['bpp'].min():.4f} to {shown['bpp'].max():.4f} bpp over {shown['rate'].nunique()} rate point(s); "
      f"PSNR {shown['psnr'].min():.2f} to {shown['psnr'].max():.2f} dB; "
      f"a decode took {shown['decode_s'].median():.2f} s (median).")
positions[["model", "rate", "steps", "bytes", "bpp", "psnr", "ms_ssim"]].round(4)"""),
    md("""
## A second lever: the quantisation step of y

Every rate point rounds y around the predicted mean in its steps (on the tiny tier, the rate
point's learned step vector; on the release, steps of 1). The step $\\Delta$ multiplies them: a
second lever on the rate that needs no retraining,
$\\hat y = \\mathrm{round}\\big((y-\\mu)/\\Delta\\big)\\,\\Delta + \\mu$, and the entropy model codes
the integer with the scale $\\sigma/\\Delta$. $\\Delta > 1$: coarser y, fewer bytes; $\\Delta < 1$:
finer y, more bytes. The file header records $\\Delta$ (on a grid of $2^{k/8}$), so the decoder
needs no argument: `codec.compress(image, quant_step=2.0)` or `ditic-lite compress --quant-step 2`.

The question the sweep answers: **do more bits buy more quality?** We code the photo with this
tier's DiT-IC at each step, at the lowest and the highest rate point; the answer under the chart is
computed from the sweep.
"""),
    code("""
rates = cache.rates(run.models[0])
sweep = dl.teaching.quant_step_sweep(cache, [image], names=run.models[:1], quant_steps=P.quant_steps,
                                     rates=sorted({rates[0], rates[-1]}), progress=True)
dl.notebook.save_table(sweep, "04_quant_step_sweep.csv")
fig = dl.viz.quant_step_chart(sweep)
dl.viz.save(fig, "04_quant_step.png")
print(dl.teaching.quant_step_verdict(sweep))"""),
    md("""
Where finer steps add bytes but not quality, y already reaches the decoder as well as this model
can use it: the transforms around y (analysis, synthesis and the DiT), not the rounding, set the
quality; more bits then add bytes, not detail. Where the answer names a rate point beaten with
fewer bits by another rate point at another step, that rate point's trained setting (on the tiny
tier its learned step vector, on the release its own checkpoint) is not the best use of its bits
on this photo: moving the step of the other rate point reaches that rate better.
`data/results/quant_step_sweep.csv` holds the same sweep on the six validation photos, all rate
points (`python scripts/evaluate_shipped.py`).
"""),
] + your_turn(
    exercise(1, "a step of your own", """
**Predict:** coded at rate point `rate` with quantisation step `quant_step` instead of 1, will the
file be larger, smaller or the same? Then change both and try again: can a step make rate point 0
as large as the last rate point?
""", """
rate = cache.rates(run.models[0])[0]  # change me: one of the rate points
quant_step = 0.5                      # change me: between 1/16 and 16
prediction = None                     # your prediction for the file size: "up", "down" or "same"

_, at_one = dl.teaching.slider_update(cache, image, rate, name=run.models[0], quant_step=1.0)
_, at_step = dl.teaching.slider_update(cache, image, rate, name=run.models[0], quant_step=quant_step)
print(f"quant_step {at_step['quant_step']:.3g}: {at_step['bpp']:.4f} bpp, PSNR {at_step['psnr']:.2f} dB "
      f"(step 1: {at_one['bpp']:.4f} bpp, {at_one['psnr']:.2f} dB)")
dl.exercises.check_direction(prediction, before=at_one["bytes"], after=at_step["bytes"],
                             what=f"the file size at rate point {rate} (step 1 -> {at_step['quant_step']:.3g})",
                             unit=" bytes")""",
        "A finer step (below 1) keeps more of y, and every kept detail must be coded.",
        "A step below 1 rounds y more finely: more distinct values to code, so more bytes; above 1, fewer. The "
        "step is snapped to the header's grid $2^{k/8}$ (printed). With a small enough step, rate point 0 "
        "reaches the bytes of a later rate point: compare its PSNR there with that rate point's own (the "
        "table above) to see which setting uses the bytes better on your photo."),
    exercise(2, "do the extra bits pay?", """
At the highest rate point of the sweep, the finest step costs many more bytes than step 1.
**Predict:** does it raise PSNR by more than 0.1 dB ("up"), lower it ("down"), or change it by less
("same")?
""", """
prediction = None  # PSNR at the finest step compared with step 1, at the highest rate point: "up", "down" or "same"

top = sweep[(sweep["model"] == run.models[0]) & (sweep["rate"] == sweep["rate"].max())].set_index("quant_step")
dl.exercises.check_direction(prediction, before=top.loc[1.0, "psnr"], after=top.loc[top.index.min(), "psnr"],
                             what=f"PSNR at rate point {int(sweep['rate'].max())} (step 1 -> {top.index.min():.3g})",
                             tolerance=0.1, unit=" dB")""",
        "Read the chart above: does the curve of the highest rate point still rise at its right end?",
        "If the decoder cannot use a finer y, the extra bytes buy almost nothing (\"same\"): the model's "
        "transforms, not the rounding, limit the quality. The answer under the chart says the same in words, "
        "from the same numbers."),
    exercise(3, "does the DiT step pay off at a rate point?", """
On the tiny tier the table has two models: `tiny` (DiT-IC) and `mse` (the same kind of latent
codec with a plain decoder, no DiT). **Predict:** at rate point `rate`, which has the higher
MS-SSIM? The cell also prints their bytes: are they comparing at the same rate?
""", """
rate = positions["rate"].min()  # change me: one of the rate points
prediction = None               # one of the models printed below, e.g. "tiny"

at_rate = positions[(positions["rate"] == rate) & (positions["steps"] == positions["steps"].min())]
print(at_rate[["model", "bytes", "bpp", "psnr", "ms_ssim"]].round(4).to_string(index=False))
dl.exercises.check_largest(prediction, dict(zip(at_rate["model"], at_rate["ms_ssim"])), f"MS-SSIM at rate point {rate}")""",
        "The two models' rate point 0 were trained with the same λ, but do they spend the same bytes?",
        "The check names the model that scored higher on your photo. But a fair comparison needs equal bytes, "
        "and the two rate points usually differ in bytes: notebook 05 compares the models along their whole "
        "curves, at equal rate. (On the official tier there is one model, so the answer is \"official\".)"),
) + [
    for_reviewers("""
Every slider position the table above summarises, with the steps of the decoding and the decode
time (`positions`, saved as `04_slider_positions.csv`), and the whole quantisation-step sweep
(`sweep`, saved as `04_quant_step_sweep.csv`; one row per model, rate point, step and photo).
The sweep's answer compares means over the photos of the sweep (here one) against a 0.1 dB
threshold; it is a statement about this photo, not a test over photos.
"""),
    code("""
positions.round(4)"""),
    code("""
sweep.pivot_table(index=["model", "rate", "quant_step"], values=["bytes", "bpp", "psnr", "ms_ssim"]).round(4)"""),
]

# ============================================================================ 05 curves
NB05 = header("05_rate_perception_curves", "05 · Rate–distortion–perception curves: how many bits for how much quality?", """
Every codec trades bits for quality. This notebook codes photos with the kit's DiT-IC, with the same
codec and a plain decoder (the MSE baseline), and with JPEG and WebP; it measures the real file
sizes and the quality and draws one curve per codec. Then it asks the paper's question: at the same
number of bits, does DiT-IC keep more realistic fine detail than codecs that only minimise the
pixel error?

The paper's own curve (its full-size model on the Kodak photos) is shown too, in a figure of its
own: a different model on different photos, so its height says nothing about ours.
""" + TIER_NOTE) + [
    learning_goals([
        "read a rate–distortion curve: real file size (bits per pixel) against quality, one curve per codec;",
        "see why JPEG and WebP cannot reach DiT-IC's rates, and how coding a downscaled copy gets them there;",
        "measure fine detail with a power spectrum, and see why PSNR alone rewards blur;",
        "compare two codecs fairly, at the same number of bits on the same photos, and say when a published "
        "curve cannot be compared with yours.",
    ], "notebook 01 (bytes and bits per pixel, PSNR); notebook 04 helps (rate points)."),
    md(PHOTO_NOTE + """
Your photo joins the photos the curves are measured on (in place of the last one), at most
`max_side` pixels a side, so that it costs about what a sample photo (768x512) costs. `folder=`
measures the photos of a folder of your own instead of the sample photos (the first `images` of
them, plus your photo).
"""),
    code("""
P = dl.notebook.params(image="kite", images=3, max_side=768, folder="", tier="auto", official_checkpoint="",
                       download_weights=False,  # True: fetch LPIPS / DISTS weights if not on disk (about 0.8 GB)
                       fast=dict(images=1))
P"""),
    *photo_cells(),
    code(tier_setup("dict(images=1)") + """
label = dl.notebook.photo_label(P.image)
data, data_name = run.evaluation_folder(P.images, P.folder, include=P.image, max_side=P.max_side)  # the curves' photos
metrics = dl.teaching.default_metrics(download=P.download_weights)  # + LPIPS / DISTS where their weights are on disk
print(f"photo: {label} ({dl.notebook.photo_path(P.image)}); the curves use {data_name}")
print("measures:", ", ".join(metrics))"""),
    md("""
## The measures

* **rate**: bits per pixel of the real file, $\\text{bpp} = 8\\cdot\\text{bytes}/(HW)$;
* **PSNR** (dB, higher is better): $10\\log_{10}(1/\\text{MSE})$, the average pixel error on a log
  scale; **MS-SSIM** (0 to 1): structural similarity at five scales;
* **detail retention** (1 = as much fine detail as the original): how much of the original's
  power at fine scales (structures 2 to 8 pixels wide) the reconstruction has. Below 1: blur;
  above 1: noise, ringing or invented texture. It cannot tell the right detail from a plausible
  invented one, so it measures realism, not fidelity;
* LPIPS and DISTS, the paper's perceptual measures, join where their network weights are already
  on disk; `download_weights=True` fetches them (about 0.8 GB from torchvision, printed first).
"""),
    md("""
## Curves: bits against quality

Each photo is coded at every rate point of the learned codecs and at the lowest qualities of JPEG
and WebP; `webp-ds` codes a copy downscaled so that WebP reaches the low rates DiT-IC is built for
(JPEG and WebP cannot make a file smaller than their quality-0 file, about 0.1 bpp). Up and left is
better: more quality for fewer bits.
"""),
    code("""
results = run.rd_table(data, data_name, max_images=P.images, metrics=metrics)
dl.notebook.save_table(results, "05_results.csv")
fig = dl.plots.measured_curves(results, metrics=metrics,
                               title=f"measured here: {run.name} and the baselines on {results['image'].nunique()} "
                                     f"photo(s) ({data_name})")
dl.viz.save(fig, "05_rd_curves.png")"""),
    code("""
print(dl.teaching.rd_summary(results, "psnr"))
dl.plots.rate_points(results).round(4)"""),
    md("""
## Fine detail at one rate: look, then measure

Your photo coded at the lowest rate point of this tier's model, (tiny tier) the MSE baseline at its
nearest rate point, and WebP on a downscaled copy at the highest quality that fits the same number
of bytes. First the most textured square of each, where detail is lost first; then the power
spectrum: how much of each spatial frequency each reconstruction keeps (the grey band is what the
detail retention averages).
"""),
    code("""
photo = run.photo(P.image, data)  # your photo as the curves measured it
recons, matched = dl.perception.matched_reconstructions(photo, learned=run.matching_codecs(), results=results)
original = dl.load_image(photo)
fig = dl.viz.side_by_side([original, *recons.values()], [f"original: {label}", *recons],
                          crop=dl.teaching.zoom_box(original, 128))
dl.viz.save(fig, "05_detail_crops.png")"""),
    code("""
fig = dl.viz.power_spectra(dl.perception.spectra_table(original, recons), title=f"{label}, about {matched['bpp'].iloc[0]:.3f} bpp")
dl.viz.save(fig, "05_spectra.png")
matched.round(4)"""),
    md("""
## The paper's curve, on its own

The authors published their model's curve on Kodak (24 photos of 768x512). It is drawn here alone,
never on the axes above: their model is about a thousand times larger than the tiny one, and the
photos differ. The caption below is computed from this run: it says how far the same model lands
on two of your photos, which is why heights measured on different photos cannot be compared.
"""),
    code("""
fig = dl.plots.published_curves("kodak", metrics=["psnr", "ms_ssim"], model=run.reference_model,
                                title="published (reference only): the authors' DiT-IC on the 24 Kodak photos")
dl.viz.save(fig, "05_published.png")
print(dl.teaching.reference_caption(results, run.load(0), data_name))"""),
    md("""
## What this run found

The paper's claim is perceptual: at low rates DiT-IC keeps more realistic detail than codecs that
optimise the pixel error. Each answer below compares the codecs at the same number of bits, photo
by photo, and is computed from this run's numbers (the rules are in "For reviewers" at the end).
"""),
    code("""
verdicts = dl.claims.rd_claims(results, test=run.models[0])
dl.claims.takeaways(verdicts)"""),
] + your_turn(
    exercise(1, "which codec keeps the most detail?", """
The crops above show your photo at about the same file size from each codec. **Predict:** which
codec keeps the fine detail closest to the original's (detail retention closest to 1)? Write its
name into `prediction` (`"tiny"`, `"mse"` or `"webp-ds"`; `"official"` on the official tier), run,
then set `rate` to the highest rate point and predict again.
""", """
rate = run.rates[0]  # change me: a rate point of this tier's model, run.rates
prediction = None    # the codec whose detail retention is closest to 1, e.g. "webp-ds"

at_rate = matched if rate == run.rates[0] else dl.perception.matched_reconstructions(
    photo, learned=run.matching_codecs(), rate=rate, results=results)[1]  # the crops' rate: measured above
detail_error = dict(zip(at_rate["codec"], dl.perception.detail_error(at_rate["detail"])))
dl.exercises.check_largest(prediction, detail_error, smallest=True,
                           what=f"detail error at about {at_rate['bpp'].iloc[0]:.3f} bpp (|log2 retention|, 0 = the original's detail)")""",
        "Look at the crops: which one is sharpest, and which is smooth? The spectrum plot says the same in "
        "numbers: the curve that stays nearest the dotted line at 1 in the grey band keeps the most detail.",
        "At these rates every codec loses most fine detail, so all retentions are far below 1. The MSE "
        "baseline is trained to minimise the pixel error, which favours smooth guesses; DiT-IC's decoder was "
        "tuned with an adversarial loss that rewards realistic texture; `webp-ds` loses detail to the "
        "downscaling. Which one wins depends on the photo and the rate: the check measured it on yours."),
    exercise(2, "the best PSNR is not the most detail", """
Same photo, same file size as the crops above. **Predict:** which codec has the highest PSNR? Is
it the one you found with the most detail in Exercise 1?
""", """
prediction = None  # the codec with the highest PSNR at the rate of the crops, e.g. "mse"

psnr_by_codec = dict(zip(matched["codec"], matched["psnr"]))
dl.exercises.check_largest(prediction, psnr_by_codec, what=f"PSNR at about {matched['bpp'].iloc[0]:.3f} bpp", unit=" dB")""",
        "PSNR measures the average squared pixel error. If a codec is unsure about a texture, what guess "
        "makes the squared error smallest: a sharp texture in a slightly wrong place, or a smooth average?",
        "A smooth average minimises the squared error, so the codec with the highest PSNR is often not the "
        "one with the most detail. This is the perception-distortion trade-off the paper is about: a codec "
        "cannot be best at both at very low rates, which is why it reports LPIPS and DISTS beside PSNR."),
    exercise(3, "the photo matters as much as the model", """
**Predict:** coded by the same model at the same rate point, will another photo get a higher or a
lower PSNR than yours? Pick `other_photo` (a sample name or a file path of your own), predict, run.
""", """
other_photo = "ladybird"  # change me: "kite", "ladybird", "balloons" or a file path
prediction = None         # PSNR on other_photo compared with your photo: "up", "down" or "same"

codec = run.load(run.rates[0])
mine, other = run.image(P.image, max_side=P.max_side), run.image(other_photo, max_side=P.max_side)
psnr_mine = dl.metrics.psnr(mine, codec.decompress(codec.compress(mine)))
psnr_other = dl.metrics.psnr(other, codec.decompress(codec.compress(other)))
dl.exercises.check_direction(prediction, before=psnr_mine, after=psnr_other, tolerance=0.1, unit=" dB",
                             what=f"PSNR of {codec.name} at rate point {codec.rate} ({label} -> {dl.notebook.photo_label(other_photo)})")""",
        "Smooth photos (sky, walls) are easy: a few bits describe them well. Busy photos (foliage, "
        "gravel, text) are hard.",
        "The same model can land several dB apart on two photos. This is why the paper's curve, measured on "
        "Kodak with a far larger model, cannot be compared by its height with curves measured on other "
        "photos: to compare two codecs, code the same photos with both (as the curves above do)."),
) + [
    for_reviewers("""
The BD-rates, the rules of the answers above and the paper's numbers as published.

**BD-rate**: the average rate difference between two curves at equal quality,
$\\Delta R = \\exp\\big(\\tfrac{1}{q_1-q_0}\\int_{q_0}^{q_1} (\\ln R_{\\text{test}}(q) - \\ln R_{\\text{anchor}}(q))\\,dq\\big) - 1$
(negative = fewer bits). Two anchors: `mse` (the same latent codec with a plain decoder, the
closest comparison) and `webp-ds`. A BD-rate needs at least two rate points per curve and
overlapping quality ranges; where the curves do not overlap, the `note` column says so and the
value is missing rather than extrapolated. The answers above compare at equal rate instead, per
image, which needs only overlapping rates.
"""),
    code("""
bd = dl.teaching.bd_rate_table(results, anchor=run.anchors, metrics=metrics)
dl.notebook.save_table(bd, "05_bd_rate.csv")
bd.round(2)"""),
    md("""
The answers above with their rules: each comparison at equal rate, per image (the detail error
is $|\\log_2 \\text{retention}|$), judged with a 95 % t interval of the mean difference against the
smallest difference worth claiming.
"""),
    code("""
dl.claims.show(verdicts)"""),
    md("""
The published per-rate numbers of the released DiT-IC on Kodak (Shi et al., CVPR 2026, and the
result logs of the official release): what the official model reaches with a SANA-600M DiT; the
tiny model on a few photos is a different experiment. Then the paper's main comparison: each
diffusion codec's steps, decode latency at 1024x1024 and LPIPS / DISTS BD-rate against PerCo,
averaged over Kodak, CLIC 2020 and DIV2K. The kit cannot recompute these (no curves of the other
codecs are included, and the hardware behind the latencies is not recorded,
`data/reference/README.md`).
"""),
    code("""
dl.reference.curve("kodak", run.reference_model)  # the tiny tier: the paper's model; the release's q1..q4: its update"""),
    code("""
main = dl.reference.load("main_table")
fig = dl.viz.main_table_chart(main)
dl.viz.save(fig, "05_main_table.png")
main.drop(columns="source")"""),
]

# ============================================================================ 06 alignment
NB06 = header("06_alignment_mechanisms", "06 · Alignment: self-distillation and latent-conditioned guidance", """
Two more mechanisms, the paper says, make one step work. **Self-distillation** (paper section
3.3) pulls the one-step output toward where the frozen encoder puts the original photo.
**Latent-conditioned guidance** (section 3.4) replaces the DiT's text prompt by a condition made
from the code itself, trained to agree with captions of the photos; no text is needed to decode.
We measure both on the shipped model, or on the release.

The release's condition lives in SANA's caption space (Gemma-2, 2304 values per token); the
captions here are embedded in the tiny model's space (all-MiniLM-L6-v2, 384), so on the official
tier the caption test is not measured and the matrix compares the photos' conditions instead.
""" + TIER_NOTE) + [
    learning_goals([
        "measure what self-distillation trains for: how close one DiT step brings the decoded latent to the "
        "encoder's latent of the original (cosine similarity);",
        "see why a margin loss can be zero almost everywhere, and what that means for training;",
        "test whether the condition made from the code carries the photo's content (does it point to its "
        "own caption?) and whether the decoder uses it;",
        "read an ablation honestly: two runs closer than their noise show nothing.",
    ], "notebook 01; notebook 02 helps. Cosine similarity: 1 when two vectors point the same way."),
    md(PHOTO_NOTE + PHOTO_SIZE_NOTE),
    code("""
P = dl.notebook.params(image="balloons", rate=0, images=3, max_side=768, tier="auto", official_checkpoint="")
P"""),
    *photo_cells(),
    code(tier_setup("dict(images=1)") + """
codec = run.load(P.rate)
label = dl.notebook.photo_label(P.image)
images = run.images(P.images, include=P.image, max_side=P.max_side)  # the takeaways use every one of them
print(f"photo: {label} ({dl.notebook.photo_path(P.image)}); the takeaways use {len(images)} photos: {', '.join(images)}")
print(dl.teaching.describe_codec(codec))"""),
    md("""
## Self-distillation: one step toward the encoder's latent

The target is the frozen DC-AE encoder's latent $y = E(x)$ of the original photo. In training, a
margin cosine loss, over the latent channels at each latent position, pulls the one-step output
$\\hat y$ toward it without forcing equality:

$$L_{\\text{sd}} = w \\cdot \\operatorname{mean}_{n,i,j}\\ \\operatorname{ReLU}\\big(1 - m - \\cos_{\\text{ch}}(\\hat y, y)\\big).$$

Where $\\cos > 1 - m$ the loss is zero: that position is already close enough. The map shows the
cosine of the one-step output with $E(x)$ at each latent position of your photo (1 = the same
direction); the sentences below compare it with the decoded mean $\\tilde y$ before the DiT step.
"""),
    code("""
m, which = dl.teaching.trained_margin(codec)  # the kit trains with 0.04, the release with 0.5
w = codec.model.config.align.distill_weight
distill, cos_maps = dl.teaching.distillation_table(codec, images)
dl.notebook.save_table(distill, "06_distillation.csv")
fig = dl.viz.heatmaps(images[label], {"cos(ŷ, E(x)) per latent position": cos_maps[label]}, cmaps=["coolwarm"])"""),
    code("""
summary = distill.groupby("latent", sort=False)[["cosine", "above_margin", "loss"]].mean()
before, after = summary.iloc[0], summary.iloc[1]
print(f"mean cos with E(x) over {len(images)} photo(s): {before['cosine']:.3f} before the DiT step, "
      f"{after['cosine']:.3f} after it ({after['cosine'] - before['cosine']:+.3f}).")
print(f"With the margin m = {m} ({which}; weight w = {w}), {after['above_margin']:.1%} of the one-step output's positions already "
      f"clear it (cos > {1 - m:g}), so L_sd = {after['loss']:.5f} here: the loss acts only on the other "
      f"{1 - after['above_margin']:.1%}.")"""),
    md("""
### With and without the loss: what the shipped ablation shows

Training is the scarce resource here, so this ablation comes from a shipped file written by a
documented script (`scripts/ablation_alignment.py`): two short fine-tunes of the codec from the same
trained codec, with and without $L_{\\text{sd}}$, measured on the held-out photos. The first line is
computed from its numbers.
"""),
    code("""
ablation = dl.teaching.alignment_ablation()
print(dl.teaching.ablation_report(ablation))"""),
    md("""
## Latent-conditioned guidance: a prompt made from the code

The prompter turns features decoded from the code into tokens in the DiT's caption-embedding
space, in place of a text prompt. In training a CLIP-style loss pulls each photo's mean token
toward the embedding of its own caption and away from the other captions. If that worked, each
photo's condition is closest to its own caption: in the matrix, the diagonal is the largest value
of each row. Captions: `data/samples/captions.csv` (a photo of your own has none, so it is left out
of this test).
"""),
    code("""
captions = dl.teaching.sample_captions()
caption_by_image = {name.removesuffix(".png"): text for name, text in zip(captions["file"], captions["caption"])}
with_captions = dl.teaching.captioned(images, caption_by_image)
retrieval, similarity, accuracy = dl.teaching.retrieval_table(codec, with_captions, caption_by_image)
fig = dl.viz.similarity_matrix(similarity, list(with_captions), list(with_captions), title=retrieval.attrs["similarity"])
dl.viz.save(fig, "06_alignment.png")
print(retrieval.attrs["note"])"""),
    md("""
### Does the decoder use the condition?

Same bytes, same step; only the condition changes: the prompter's tokens, or zeros (the empty
prompt the base DiT saw when captions were dropped in its training). Look at the crops first.
"""),
    code("""
cond_images, cond_one = dl.teaching.condition_ablation(codec, images[label])
fig = dl.viz.side_by_side([images[label], *cond_images.values()], [f"original: {label}", *cond_images],
                          crop=dl.teaching.zoom_box(images[label], 128))
cond = dl.evidence.condition_ablation_images(codec, images)
dl.notebook.save_table(cond, "06_condition.csv")
change = cond["psnr_latent"] - cond["psnr_empty"]
print(f"On {label}: PSNR {cond_one['psnr'].iloc[0]:.2f} dB with the condition, {cond_one['psnr'].iloc[1]:.2f} dB with an "
      f"empty one. Over the {len(cond)} photos the condition adds {change.mean():+.3f} dB on average "
      f"(from {change.min():+.3f} to {change.max():+.3f} dB).")"""),
    md("""
## What this run found

The paper's claims for these two mechanisms, answered from this run's numbers (rules and per-photo
tables in "For reviewers" at the end). The shipped ablation above is one training run per variant,
so it gives no spread and no answer here.
"""),
    code("""
verdicts = dl.claims.alignment_claims(distill, cond, retrieval)
dl.claims.takeaways(verdicts)"""),
] + your_turn(
    exercise(1, "another margin", """
The margin $m$ decides where $L_{\\text{sd}}$ acts: only at positions with $\\cos \\le 1 - m$.
**Predict:** with another margin (`new_margin = 0.1`; the model's $m$ is printed above), will the
loss act on more, fewer or the same share of your photo's latent positions? The cell counts them on
the cosine map above (no retraining).
""", """
new_margin = 0.1   # change me: between 0 and 1 (the model was trained with m, printed above)
prediction = None  # the share of positions where L_sd acts, from m to new_margin: "up", "down" or "same"

acts_now = float((cos_maps[label] <= 1 - m).mean())
acts_new = float((cos_maps[label] <= 1 - new_margin).mean())
dl.exercises.check_direction(prediction, before=acts_now, after=acts_new,
                             what=f"share of {label}'s latent positions where L_sd acts (m = {m} -> {new_margin})")""",
        "The loss is $\\operatorname{ReLU}(1 - m - \\cos)$. Draw the line $\\cos = 1 - m$: which side of it "
        "moves when $m$ grows?",
        "A wider margin lowers the bar $1 - m$, so fewer positions fall below it: the loss acts on fewer "
        "positions and asks less of the model; a narrower margin, on more. A margin that no position crosses "
        "trains nothing: the kit trains with m = 0.04 because at 0.1 almost no position of the tiny model fell "
        "below the bar (`docs/training.md`). Try `new_margin = 0.01`."),
    exercise(2, "someone else's condition", """
The condition is made from the code of the photo being decoded. **Predict:** if your photo's bytes
are decoded with the condition made from *another* photo's code, will the PSNR go up, down or stay
the same?
""", """
donor = "kite"     # change me: a sample name or a file path (the photo whose condition is borrowed)
prediction = None  # PSNR with the donor's condition compared with the photo's own: "up", "down" or "same"

swapped, scores = dl.teaching.swap_condition(codec, images[label], run.image(donor, max_side=P.max_side))
fig = dl.viz.side_by_side([images[label], *swapped.values()], [f"original: {label}", *swapped],
                          crop=dl.teaching.zoom_box(images[label], 128))
dl.exercises.check_direction(prediction, before=scores["own condition"]["psnr"], after=scores["donor's condition"]["psnr"],
                             what=f"PSNR of {label} (own condition -> {dl.notebook.photo_label(donor)}'s)", tolerance=0.01, unit=" dB")""",
        "Compare with the empty condition above: how much did the decoder lose without any condition? A wrong "
        "condition says something, but about another photo.",
        "Compare with the empty condition above. If a borrowed condition costs much less than an empty one, "
        "the decoder relies on having a condition but little on which photo it describes; if it costs as much "
        "or more, the condition carries the photo's own content. The check measured it on your photo; try "
        "other donors, and a photo unlike yours."),
    exercise(3, "a second step", """
Self-distillation trains the **one-step** output. **Predict:** decoding your photo with two steps
instead of one, will the output end closer to the encoder's latent (mean cosine up), further
(down) or the same?
""", """
steps = 2          # change me: 1, 2, 4, ...
prediction = None  # mean cos(ŷ, E(x)) with `steps` steps compared with one step: "up", "down" or "same"

more = dl.teaching.distillation_table(codec, {label: images[label]}, steps=steps)[0]
one_step = distill[(distill["image"] == label) & distill["latent"].str.startswith("y_hat")]["cosine"].iloc[0]
dl.exercises.check_direction(prediction, before=one_step, after=more["cosine"].iloc[1], tolerance=0.001,
                             what=f"mean cos(ŷ, E(x)) on {label} (1 step -> {steps} steps)")""",
        "The LoRA and the step sizes were trained for one step from the decoded mean. What does a second "
        "step start from, and did training ever see that?",
        "Each extra step starts from a latent the model never saw in training, so it need not get closer: on "
        "the tiny model the cosine usually stays the same or drops a little. Notebook 03 measures the same "
        "thing on the pixels (PSNR against the number of steps)."),
) + [
    for_reviewers("""
The per-photo tables behind the sentences above, the shipped ablation's numbers and the rules.
Self-distillation, per photo: the cosine of $\\tilde y$ (before the DiT) and $\\hat y$ (after one
step) with $E(x)$, the share of positions past the margin and the loss.
"""),
    code("""
distill.round(4)"""),
    md("""
The shipped ablation (one run per variant: no spread, no verdict), then the caption retrieval per
photo (own-caption similarity, the best other, the caption retrieved), then the condition
ablation per photo (PSNR and MS-SSIM with the latent condition and with an empty one).
"""),
    code("""
ablation"""),
    code("""
retrieval.round(3)"""),
    code("""
cond.round(4)"""),
    md("""
The answers above with their rules: paired differences against the spread between photos (95 %
t interval of the mean against the smallest difference worth claiming); retrieval against chance
(Wilson interval).
"""),
    code("""
dl.claims.show(verdicts)"""),
]

# ============================================================================ 07 official
NB07 = header("07_official_dit_ic", "07 · The official DiT-IC model", """
The official release is a 1.05 B-parameter model (SANA-600M DiT, DC-AE f32c32) with checkpoints
on the Hugging Face hub. Where a checkpoint is on disk (or with `tier="official"`, which downloads
one) this notebook loads it through the kit's official tier, codes your photo and a few Kodak
photos, compares them with the published curve of the checkpoint's own configuration and times
large decodes; on a CPU it does the same on small crops and decode sizes. Without a checkpoint it
says why and runs **the same cells** on the tiny model, downloading nothing.
""" + TIER_NOTE + """
Here `"auto"` also runs the release on a CPU when a checkpoint is already on disk; with several
checkpoints this notebook uses the first (choose with `official_checkpoint`).
""") + [
    learning_goals([
        "load the released model, or see why it is not loaded, and what a checkpoint costs: download size, "
        "memory, number format;",
        "code your photo with it and read the real bytes and quality;",
        "compare a checkpoint with its published numbers fairly: the same photos, the same configuration, "
        "the number of photos in mind;",
        "time a decode stage by stage (entropy decoding, the DiT step, the decoder) and see how it grows with "
        "the image size, which is what one step makes practical.",
    ], "notebooks 01 and 05 (bytes, bits per pixel, PSNR). A GPU runtime for the released model; "
       "a CPU runs the tiny model (or the release on crops)."),
    md(PHOTO_NOTE + PHOTO_SIZE_NOTE),
    code("""
P = dl.notebook.params(image="kite", max_side=1024, images=3, sizes=[[1024, 1024], [2048, 2048]], dtype=dl.notebook.official_dtype(device),
                       tier="auto", official_checkpoint="",  # "" = the cached q1..q4 files; or names, paths, owner/repo/file
                       rank="",  # published curve to compare with; "" = from the file name (q1..q4: rank 64/128)
                       repeats=3, unet=device.startswith("cuda"),  # timed decodes per size; time a U-Net f8 too
                       fast=dict(images=1, sizes=[[512, 512], [1024, 1024]], repeats=2))
P"""),
    *photo_cells(),
    code("""
run = dl.teaching.choose_tier(P.tier, P.official_checkpoint, device, dtype=P.dtype, cpu_if_cached=True)  # prints any download size
P = run.sized(P, official_cpu=dict(images=1, repeats=1))  # the release on a CPU: less work, small crops
print(run.describe())"""),
    md("""
## Load the model

`dl.load("official", checkpoint=...)` builds the official architecture from the release's
configs and loads a merged `*_merge_ema.pt` file strictly (every key and shape checked). The
DC-AE and the DiT run in `P.dtype` on the GPU (bfloat16 on Ampere or newer, float16 on a T4: what
`dl.setup()` printed); the latent codec stays in float32 so that the entropy coder sees exact
scales.
"""),
    code("""
codec, tier = run.load(0), run.name
print(f"tier: {tier}" + (f", checkpoint {codec.card.get('checkpoint')}" if tier == "official" else ""))
print(dl.teaching.describe_codec(codec))"""),
    md("""
## Your photo

Your photo through this model: the file it makes and what comes back (on the official tier on a
CPU, its center crop).
"""),
    code("""
label = dl.notebook.photo_label(P.image)
image = run.image(P.image, max_side=P.max_side)
photo_bytes = codec.compress(image)
recon = codec.decompress(photo_bytes)
bpp, psnr = dl.metrics.bits_per_pixel(len(photo_bytes), image.height, image.width), dl.metrics.psnr(image, recon)
print(f"photo: {label} ({dl.notebook.photo_path(P.image)}), {image.width}x{image.height} pixels: {len(photo_bytes)} bytes, "
      f"{bpp:.4f} bpp, PSNR {psnr:.2f} dB, MS-SSIM {dl.metrics.ms_ssim(image, recon):.4f} ({tier} model)")
fig = dl.viz.side_by_side([image, recon], [f"original: {label}", f"{tier}, {bpp:.3f} bpp, {psnr:.1f} dB"],
                          crop=dl.teaching.zoom_box(image, 128))"""),
    md("""
## Rate points against the published numbers

Real file sizes and quality on Kodak (official tier, where it is cached or the internet is
reachable; on a CPU its center crops) or on the sample photos (tiny tier, or offline). The release
has two configurations: the paper's model (LoRA rank 32/64, 7 rate points) and the updated
checkpoints on the hub (`q1`..`q4_merge_ema.pt`, rank 64/128, 4 rate points). A checkpoint is
compared with the curve of its own configuration, at the published point nearest its measured
rate, and only when it ran on whole Kodak photos: each published value is a mean over the 24.
"""),
    code("""
data, data_name = run.evaluation_folder(P.images)
paths = run.evaluation_images(P.images, data)
points = dl.teaching.reproduce_points(codec, paths)
dl.notebook.save_table(points, f"07_points_{tier}.csv")
rank = P.rank or dl.reproduce.release_rank(codec.card.get("checkpoint")) or dl.reference.PAPER_MODEL
mean = points.iloc[-1]
published, why = run.published_point(mean["bpp"], rank, data_name)  # only the release on whole Kodak images
used = len(points) - 1
print(f"{tier}: {mean['bpp']:.4f} bpp, PSNR {mean['psnr']:.2f} dB, mean of {used} image(s) ({data_name})"
      + (f"; published {rank} point {int(published['rate_index'])}: {published['bpp']:.4f} bpp, PSNR "
         f"{published['psnr']:.2f} dB, mean of 24 Kodak images" if published is not None
         else f" ({why}: not compared with a published number)"))"""),
    md("""
## Decode time at large sizes

One-step decoding is what makes large images practical: entropy decoding, one DiT call and the
decoder. Each bar is a synthetic photo-like image of that size, decoded `repeats` times after one
untimed warm-up (the median); on a GPU every stage ends with a CUDA synchronisation, so the stages
add up to the decode.
"""),
    code("""
sizes = run.timing_sizes(P.sizes)  # the official model on a CPU: one and two crops' worth
timing = dl.teaching.decode_timing(codec, sizes, repeats=P.repeats, warmup=1)
dl.notebook.save_table(timing, f"07_timing_{tier}.csv")
fig = dl.viz.timing_bars(timing, title=f"{tier} model, {timing['device'].iloc[0]}: seconds per decode")
dl.viz.save(fig, "07_official.png")
largest = timing.iloc[-1]
print(f"{tier} on {largest['device']}: a {largest['size']} image decodes in {largest['decode_s']:.2f} s "
      f"(DiT {largest['dit_s']:.2f} s, decoder {largest['decoder_s']:.2f} s; median of {largest['repeats']}).")"""),
    md("""
## What this run found

The claims this notebook can check with the official model: the checkpoint reproduces its
published rate and quality, and a 2048x2048 decode fits the 16 GB of the paper's laptop GPU. On the
tiny tier nothing here is the official model, and the answers say so.
"""),
    code("""
verdicts = dl.claims.official_claims(points, published, tier, rank, timing, why=why)
dl.claims.takeaways(verdicts)"""),
] + your_turn(
    exercise(1, "twice the side, how much longer?", """
The timing above decoded images of two sizes. **Predict:** how many times longer does the larger
one take than the smaller? Write a number into `prediction`; then change `P.sizes` in the
parameters cell (e.g. `[[512, 512], [2048, 2048]]`), run again and predict again.
""", """
prediction = None  # how many times longer the largest size takes than the smallest, e.g. 4.0

small, large = timing.iloc[0], timing.iloc[-1]
print(f"{large['megapixels'] / small['megapixels']:.1f} times the pixels ({small['size']} -> {large['size']})")
dl.exercises.check_number(prediction, large["decode_s"] / small["decode_s"], relative=0.3,
                          what=f"decode time of {large['size']} over {small['size']}", unit="x")""",
        "Count the pixels: doubling the side gives four times as many. Which stages work per pixel, and "
        "does any stage cost the same whatever the size?",
        "Most of the decode works per pixel or per latent position (the DiT's attention is linear in SANA), "
        "so the time grows roughly with the pixel count; fixed costs (loading tables, starting the step) make "
        "small images relatively slower, so the ratio is often below the pixel ratio. A diffusion decoder with "
        "20 steps would pay the DiT's share twenty times."),
    exercise(2, "where does the time go?", """
**Predict:** at the largest size, which stage takes the longest: `"entropy"` (decoding the bits),
`"dit"` (the one DiT step) or `"decoder"` (the DC-AE decoder back to pixels)?
""", """
prediction = None  # "entropy", "dit" or "decoder"

stages = {stage: float(largest[f"{stage}_s"]) for stage in ("entropy", "dit", "decoder")}
dl.exercises.check_largest(prediction, stages, what=f"seconds per stage at {largest['size']}", unit=" s")""",
        "The DiT works on a latent 32 times smaller per side than the image; the decoder turns it back into "
        "every pixel.",
        "The answer depends on the model and the device: the tiny model's DiT is small, so its decoder "
        "dominates; the release's 600 M-parameter DiT is large, but it works on the small latent. The bars "
        "above show every stage; the check read them."),
    exercise(3, "one step or two?", """
**Predict:** decoding your photo with two DiT steps instead of one, will the DiT's part of the
decode take longer, shorter or the same? And the whole decode?
""", """
steps = 2          # change me: 1, 2, 4, ...
prediction = None  # the DiT stage's time with `steps` steps compared with one step: "up", "down" or "same"

_, one = codec.decompress(photo_bytes, steps=1, return_intermediates=True)  # your photo's file, coded above
_, more = codec.decompress(photo_bytes, steps=steps, return_intermediates=True)
print(f"whole decode: {sum(one['timings'].values()):.2f} s with 1 step, {sum(more['timings'].values()):.2f} s with {steps} "
      "(one timed decode each: run the cell twice to see the noise)")
dl.exercises.check_direction(prediction, before=one["timings"]["dit"], after=more["timings"]["dit"], unit=" s",
                             what=f"DiT stage of a {image.width}x{image.height} decode (1 -> {steps} steps)")""",
        "Each step is one more call of the DiT. Which parts of the decode do not change with the steps?",
        "The DiT stage grows with the number of steps (one call each); the entropy decoding and the decoder "
        "run once either way. With the tiny model the DiT is a small part of the decode, so the whole decode "
        "barely changes and a single timing can even come out shorter by chance; with the release's 600 M "
        "parameter DiT on a GPU the steps weigh more. Notebook 03 shows that the extra steps do not buy "
        "quality for a model adapted to one step."),
) + [
    for_reviewers("""
The measured points per image, the published curve of this checkpoint's configuration (reference
data, as published), the decode times beside the paper's published latencies (its main table at
1024x1024 and its 4096x4096 claim; hardware not recorded, so read them side by side, not as
ratios) and, on a GPU, a U-Net f8 diffusion decoder (an SD-1.5-sized U-Net, random weights, 20
steps as PerCo) timed here with `ditic-lite bench`'s code.
"""),
    code("""
points.round(4)"""),
    code("""
dl.reference.curve("kodak", rank)"""),
    code("""
unet = dl.reproduce.unet_reference(sizes[:1], device=device) if P.unet else None
latency = dl.reproduce.latency_table(timing, tier, unet)
latency.round(3)"""),
    md("""
The answers above with their rules: the differences per image against the published mean, with an
interval that covers the images not used (finite-population correction), and the 2048x2048 decode's
peak memory against 16 GB.
"""),
    code("""
dl.claims.show(verdicts)"""),
]

# ============================================================================ 08 realism decoder
NB08 = header("08_realism_decoder", "08 · Same bytes, two decoders: what a generative decoder trades", """
A file of a few hundred bytes cannot say what every blade of grass looks like. A decoder trained
to make the pixel error small answers with the *average* of all the textures that fit the file:
a smooth, blurred patch. A decoder trained, in addition, to make its output *look like a photo*
(against a discriminator, as in HiFiC, or with a diffusion model, as in DiT-IC) draws a plausible
texture instead: it looks more like a photo, but the texture it draws is not the original's, so
the pixel error grows. Blau & Michaeli (CVPR 2018) showed that this is a trade-off no decoder
escapes: the **perception-distortion trade-off**.

The kit ships two decoders for the tiny DiT-IC's files: the **fidelity** decoder (the default,
notebooks 01-07) and a **realism** decoder, the same decoder followed by a small texture head
(`ditic_lite/realism.py`). The head adds filtered noise, more or less of it at each place, and it
was trained to put back as much fine detail as the original had, block by block, while keeping
the fidelity decoder's coarse picture. Its clue for *where* is the map that notebook 02 is about:
how unsure the entropy model was at each position (the pseudo-timestep map). Both decoders read
the *same bytes*: the file and the entropy model do not change, only what the decoder draws. The
realism decoder exists for the tiny tier only (the official release ships one decoder).
""") + [
    learning_goals([
        "decode one file with two decoders and compare them on a magnified crop;",
        "measure fine detail with three plain numbers: how much (detail ratio), where (block "
        "correlation) and where not (flat-block ratio);",
        "read the perception-distortion trade-off: more drawn detail costs PSNR;",
        "judge, with numbers and by eye, where the drawn texture is right and where it is wrong;",
        "check the measures themselves: a filter that invents nothing, scored with the same numbers.",
    ], "notebook 01 (a file, its bytes, PSNR). Notebook 05's detail measure helps but is not needed."),
    md(PHOTO_NOTE + PHOTO_SIZE_NOTE),
    code("""
P = dl.notebook.params(image="ladybird", rate=0, images=3, max_side=768, fast=dict(images=2))
P"""),
    *photo_cells(),
    code("""
codec = dl.load("tiny", rate=P.rate, device=device)
if codec.realism is None:
    raise RuntimeError("this installation of the kit has no realism decoder (ditic_lite/checkpoints/tiny/realism.safetensors)")
photo = dl.notebook.photo_path(P.image)
label = dl.notebook.photo_label(P.image)
image = dl.load_image(photo, max_side=P.max_side)
print(f"photo: {label} ({photo}), {image.width}x{image.height} pixels")
print(dl.teaching.describe_codec(codec))"""),
    md("""
## One file, two decoders

Compress once, then decode the same bytes twice. The realism decoder draws its texture from
noise with a fixed seed, so decoding is still deterministic: the same file gives the same
picture every time, on every machine. Look at the magnified square first: it is the most
textured part of the photo, where the two decoders differ most.
"""),
    code("""
data = codec.compress(image)
fidelity = codec.decompress(data)
realism = codec.decompress(data, decoder="realism")
bpp = dl.metrics.bits_per_pixel(len(data), image.height, image.width)
psnr_f, psnr_r = dl.metrics.psnr(image, fidelity), dl.metrics.psnr(image, realism)
box = dl.teaching.zoom_box(image, size=128)
fig = dl.viz.side_by_side([image, fidelity, realism],
                          [f"original: {label}", f"fidelity decoder, {psnr_f:.1f} dB", f"realism decoder, {psnr_r:.1f} dB"],
                          crop=box)
dl.viz.save(fig, "08_realism.png")
print(f"both decoded the same {len(data)} bytes ({bpp:.3f} bpp)")"""),
    md("""
## Three numbers for fine detail

Fine detail is what changes from one pixel to the next. The *Laplacian* of the brightness,
$4p - (\\text{up} + \\text{down} + \\text{left} + \\text{right})$, is zero on smooth ground and
large on texture and edges; its square, averaged, is the photo's **detail energy**. Then:

* **detail ratio**: the reconstruction's detail energy over the original's (1 = as much detail
  as the original; near 0 = blur; above 1 = more than the original, e.g. noise);
* **block correlation**: cut both images into 16x16 blocks; do the blocks with much detail in the
  reconstruction match those of the original? (rank correlation: 1 = same order, 0 = no relation);
* **flat-block ratio**: in the quarter of blocks where the original is flattest (sky, walls),
  the reconstruction's detail energy over the original's: noise sprayed everywhere makes it large.
"""),
    code("""
table = dl.evaluate.compare_decoders(codec, {label: image}, rates=[P.rate])
fid, real = (table.set_index("decoder").loc[d] for d in ("fidelity", "realism"))
cost = fid["psnr"] - real["psnr"]
print(f"The fidelity decoder keeps {fid['detail_ratio']:.0%} of the original's fine detail, the realism decoder "
      f"{real['detail_ratio']:.0%}, " + (f"at a cost of {cost:.2f} dB of PSNR." if cost >= 0 else f"and {-cost:.2f} dB more PSNR."))
print(f"Where the detail is: block correlation {fid['block_correlation']:.2f} (fidelity) and "
      f"{real['block_correlation']:.2f} (realism); on flat ground the realism decoder has "
      f"{real['flat_block_ratio']:.1f} times the original's detail energy (fidelity {fid['flat_block_ratio']:.1f}).")
table[["decoder", "bytes", "psnr", "ms_ssim", "detail_ratio", "block_correlation", "flat_block_ratio"]].round(3)"""),
    md("""
## The trade-off

How much texture a head draws is set in training: by the weight of a discriminator (the earlier
"v2" heads, adversarial weight 0, 0.003 and 0.01), by how much drawing *more* detail than the
original costs against drawing less (the "overdraw" weight), and by whether the noise follows the
detail the decoded image already has ("follows detail"). All these heads were measured on the six
held-out photos (the same files for every decoder); the measurements travel in the shipped head's
model card. Each point is one decoder: up = more detail, right = higher PSNR.
"""),
    code("""
curve = dl.evaluate.tradeoff(codec)
fig = dl.plots.tradeoff_chart(curve, title="same bytes, other decoders (medians over the held-out photos)")
dl.viz.save(fig, "08_tradeoff.png")
for rate, group in curve.groupby("rate"):
    fidelity_row = group[group["decoder"] == "fidelity"].iloc[0]
    heads = group[group["decoder"] != "fidelity"].sort_values("psnr", ascending=False)
    steps = ", ".join(f"{name.removeprefix('realism, ')}: detail ratio {d:.2f} for {c:+.2f} dB"
                      for name, d, c in zip(heads["decoder"], heads["detail_ratio"], -heads["psnr_cost"]))
    print(f"rate point {rate}: fidelity detail ratio {fidelity_row['detail_ratio']:.2f} at {fidelity_row['psnr']:.2f} dB; {steps}")
curve.round(3)"""),
    md("""
## Does the realism decoder do what it should?

Four questions, answered on your photo and the sample photos at the lowest and highest rate
points (the same bytes for both decoders), each from the numbers this run measures. The targets
(block correlation above 0.6, flat-block ratio below 2, at most 2 dB of PSNR) are the kit's own
(issue 32), not the paper's.
"""),
    code("""
photos = {path.stem: dl.load_image(path, max_side=P.max_side)
          for path in dl.notebook.sample_paths()[:P.images] if path.stem != label}
photos[label] = image
verdict_table = dl.evaluate.compare_decoders(codec, photos, rates=sorted({codec.rates[0], codec.rates[-1]}),
                                             filters={"unsharp mask": dl.realism.sharpen_detail})
dl.notebook.save_table(verdict_table, "08_decoders.csv")
verdicts = dl.claims.realism_claims(verdict_table)
dl.claims.takeaways(verdicts)"""),
    md("""
## Can three numbers be fooled?

A check on the measures themselves. The table above also decoded every file a third way: the
fidelity decoder's picture through an **unsharp mask** (`dl.realism.sharpen_detail`). It needs no
training and invents nothing: it makes the detail the picture *already has* stronger, more where
there is more of it, none on a flat sky. Look at the magnified square first, then at the numbers.
"""),
    code("""
sharpened = dl.realism.sharpen_detail(fidelity)
fig = dl.viz.side_by_side([image, realism, sharpened],
                          ["original", f"realism decoder, {psnr_r:.1f} dB",
                           f"unsharp mask, no training, {dl.metrics.psnr(image, sharpened):.1f} dB"], crop=box)
dl.viz.save(fig, "08_unsharp.png")
met = dl.claims.realism_targets_met(verdict_table)
score = {d: int(met.loc[d, "targets_met"]) for d in ("realism", "unsharp mask")}
print(f"Of the four numeric targets (detail ratio, block correlation, flat ground, PSNR cost), the realism decoder "
      f"meets {score['realism']} and the unsharp mask {score['unsharp mask']} on these photos (medians).")
if score["unsharp mask"] >= score["realism"]:
    than = "as well as" if score["unsharp mask"] == score["realism"] else "better than"
    print(f"A filter that draws no texture scores {than} the trained head: the three detail numbers say how much "
          "detail there is and where, not whether it is texture or sharpened edges. Only the eye, or a learned "
          "perceptual measure (LPIPS, DISTS: notebook 05), can tell those apart.")
else:
    print("Here the numbers do tell the trained head from plain sharpening; look at the zoom all the same: "
          "the three detail numbers say how much detail there is and where, not what it looks like.")
met.round(3)"""),
    md("""
**What to look for by eye.** On the magnified crops: does the texture follow the grass, leaves
and fur of the original, or does it lie on the image like a screen? Is the sky still clean?
Where the realism decoder draws detail, the detail is *invented*: it is not the original's lines.
The unsharp mask invents nothing, but it draws light and dark rims along every edge (halos) and
makes the fidelity decoder's faint regular pattern visible.
This small head draws a fine grain; a large generative decoder (HiFiC, DiT-IC's diffusion
decoder) aims at texture of the right kind. Either way, that is the trade-off, and why a
generative codec is judged with perceptual measures (LPIPS, DISTS, FID; notebook 05) and not
with PSNR alone.
"""),
] + your_turn(
    exercise(1, "a higher rate point", """
At a higher rate point the file holds more of the original's detail. **Predict:** does the PSNR
the realism decoder gives up (its cost against the fidelity decoder) grow or shrink?
""", """
other_rate = codec.rates[-1]  # change me: any of codec.rates
prediction = None             # the PSNR cost at other_rate compared with rate P.rate: "up", "down" or "same"

other = dl.evaluate.compare_decoders(codec, {label: image}, rates=[other_rate]).set_index("decoder")
dl.exercises.check_direction(prediction, before=fid["psnr"] - real["psnr"],
                             after=other.loc["fidelity", "psnr"] - other.loc["realism", "psnr"],
                             what=f"the realism decoder's PSNR cost (rate {P.rate} -> {other_rate})",
                             tolerance=0.05, unit=" dB")""",
        "The head draws texture where the fidelity image is smooth. With more bytes, the fidelity image "
        "is less smooth: is there less left to invent?",
        "There is no law here: the check measured it on your photo. With more bytes the fidelity decoder "
        "already has more of the true detail, so the head often draws less and costs less; but where it "
        "draws the same amount on a sharper picture the cost can stay or grow. Compare the detail ratios "
        "of `other` with those of `table`."),
    exercise(2, "another noise seed", """
The realism decoder draws its texture from noise. `codec.decompress(data, decoder="realism",
noise_seed=1)` uses other noise. **Predict:** will the PSNR change by more than 0.1 dB?
""", """
seed = 1           # change me: any integer
prediction = None  # the PSNR with this seed compared with seed 0: "up", "down" or "same" (within 0.1 dB)

reseeded = codec.decompress(data, decoder="realism", noise_seed=seed)
print(f"the two realism pictures differ from each other by {dl.metrics.psnr(realism, reseeded):.1f} dB PSNR")
dl.exercises.check_direction(prediction, before=psnr_r, after=dl.metrics.psnr(image, reseeded),
                             what=f"PSNR (noise seed 0 -> {seed})", tolerance=0.1, unit=" dB")""",
        "The noise decides *which* texture is drawn, not how much of it. Is one invented texture closer "
        "to the original than another?",
        "The two pictures differ from each other (the printed PSNR between them), but their PSNR against "
        "the original stays within a few hundredths of a dB: "
        "every seed draws a different texture with the same statistics, and none of them is the "
        "original's. This is what 'plausible, not faithful' means."),
    exercise(3, "which photo gets the most invented detail?", """
**Predict** which sample photo gets the largest detail ratio from the realism decoder (the most
drawn detail for its own amount): `"kite"` (mostly sky), `"ladybird"` (leaves, a blurred
background) or `"balloons"`.
""", """
prediction = None  # "kite", "ladybird" or "balloons"

samples = {name: dl.load_image(dl.notebook.photo_path(name), max_side=P.max_side) for name in ("kite", "ladybird", "balloons")}
ratios = dl.evaluate.compare_decoders(codec, samples, rates=[P.rate])
ratios = ratios[ratios["decoder"] == "realism"].set_index("image")["detail_ratio"]
dl.exercises.check_largest(prediction, ratios.to_dict(), what="the realism decoder's detail ratio")""",
        "The detail ratio divides by the original's own detail energy. A photo with little fine detail "
        "(a clear sky) has a small denominator.",
        "The check compared the three. A photo with large smooth areas has little detail energy of its "
        "own, so any texture drawn on it weighs heavily in the ratio; the flat-block ratio says whether "
        "that texture went onto the smooth areas themselves."),
    exercise(4, "a stronger unsharp mask", """
`dl.realism.sharpen_detail(fidelity, amount=8)` doubles the unsharp mask's strength (the default
is 4). **Predict:** does its block correlation go up, go down, or stay the same (within 0.02)?
""", """
amount = 8         # change me: 0 gives the fidelity image back
prediction = None  # the block correlation at this amount compared with amount 4: "up", "down" or "same"

at = {a: dl.spectrum.laplacian_detail(image, dl.realism.sharpen_detail(fidelity, amount=a)) for a in (4, amount)}
print(f"detail ratio {at[4]['detail_ratio']:.2f} -> {at[amount]['detail_ratio']:.2f}, "
      f"flat-block ratio {at[4]['flat_block_ratio']:.2f} -> {at[amount]['flat_block_ratio']:.2f}")
dl.exercises.check_direction(prediction, before=at[4]["block_correlation"], after=at[amount]["block_correlation"],
                             what=f"the unsharp mask's block correlation (amount 4 -> {amount})", tolerance=0.02)""",
        "The block correlation compares the *order* of the blocks (which has more detail than which), "
        "not the amounts. A stronger mask strengthens every block's detail, more where there is more.",
        "The check measured it on your photo. Strengthening every block's detail, and more where there "
        "is more, hardly changes which blocks have the most, so the order (and the rank correlation) "
        "mostly stays while the detail ratio and the flat-block ratio grow. That is one more reason "
        "the three numbers need the eye beside them."),
) + [
    for_reviewers("""
Definitions (fixed, `ditic_lite/spectrum.py`, `laplacian_detail`): luma $Y = 0.299R + 0.587G +
0.114B$ on the 8-bit scale; $E = (4Y - Y_{\\uparrow} - Y_{\\downarrow} - Y_{\\leftarrow} -
Y_{\\rightarrow})^2$ at interior pixels; detail ratio $= \\bar E_{\\text{rec}} / \\bar E_{\\text{orig}}$;
block correlation = Spearman $\\rho$ of $E$ averaged over 16x16 blocks; flat-block ratio = over
the 25 % of blocks with the lowest original $\\bar E$, the ratio of the block means. Each verdict
pools the (photo, rate point) pairs of the table below with a t-interval; the training record of
the head (steps, loss weights, minutes, hardware) is in its card,
`ditic_lite/checkpoints/tiny/realism.json`, the trade-off per photo in
`data/results/realism_tradeoff.csv` and the heads that were not kept in
`data/results/realism_experiments.csv`.
"""),
    code("""
dl.claims.show(verdicts)"""),
    code("""
verdict_table.round(3)"""),
    code("""
{k: v for k, v in codec.card["realism"].items() if k in ("head", "noise_seed", "validation_note", "tradeoff_note")}"""),
]


NOTEBOOKS = {
    "01_quickstart": NB01,
    "02_variance_and_pseudo_timesteps": NB02,
    "03_one_step_vs_multi_step": NB03,
    "04_bitrate_slider": NB04,
    "05_rate_perception_curves": NB05,
    "06_alignment_mechanisms": NB06,
    "07_official_dit_ic": NB07,
    "08_realism_decoder": NB08,
}


# README table: what each notebook shows, its gallery figure, and its wall time at full size on a
# 2-core CPU (tiny tier; measured with run_notebook, kernel start included, rounded up; the slower
# of two runs made while a training job held one core; 01-04: one run each on 2026-12-06 while two
# training jobs ran: 43, 56, 87 and 134 s) and on a Colab T4 (estimated, not measured:
# the tiny tier, then the official tier with its checkpoint downloads, about 4 GB each).
README = ROOT / "README.md"
README_START, README_END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"
README_ROWS = {
    "01_quickstart": ("squeeze a photo into a file of a few hundred bytes and back; every stage with its shape",
                      "01_quickstart.png", "45 s", "< 1 min"),
    "02_variance_and_pseudo_timesteps": ("where the coder is unsure (sigma), and how that sets the DiT's step at "
                                         "each position", "02_variance.png", "1 min", "< 1 min; official 3 min"),
    "03_one_step_vs_multi_step": ("is one step enough? 1 to 20 steps, and the DiT before its adaptation (tiny tier)",
                                  "03_steps.png", "1.5 min", "< 1 min; official 4 min"),
    "04_bitrate_slider": ("fewer bytes, less detail: a slider over the rate", "04_bitrate.png", "2.5 min",
                          "< 1 min; official 8 min (four checkpoints)"),
    "05_rate_perception_curves": ("quality against bytes: DiT-IC, the same codec without its DiT, classical "
                                  "codecs; the paper's published curve, cited", "05_rd_curves.png", "3 min",
                                  "2 min; official 12 min (four checkpoints, Kodak)"),
    "06_alignment_mechanisms": ("what the two alignments do: the one step pulled toward the encoder's latent, the "
                                "code as the prompt", "06_alignment.png", "1 min", "< 1 min; official 3 min"),
    "07_official_dit_ic": ("the released full-size model: its published points, decode time at large sizes",
                           "07_official.png", "1.5 min", "< 1 min; official 10 min"),
    "08_realism_decoder": ("the same bytes, two decoders: one blurs, one draws fine detail back in; the perception-distortion "
                           "trade-off, measured (tiny tier)", "08_realism.png", "1 min", "< 1 min; tiny tier only"),
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
