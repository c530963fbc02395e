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
    md(PHOTO_NOTE),
    code("""
P = dl.notebook.params(image="kite", rate=0)  # image: a sample name, a file path or a URL; rate: a rate point
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
image = dl.load_image(photo)
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

second = dl.load_image(dl.notebook.photo_path(other_photo))
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
    md(PHOTO_NOTE),
    code("""
P = dl.notebook.params(image="kite", rate=0, images=3, tier="auto", official_checkpoint="", fast=dict(images=2))
P"""),
    *photo_cells(),
    code(tier_setup("dict(images=1)") + """
codec = run.load(P.rate)
label = dl.notebook.photo_label(P.image)
image = run.image(P.image)
images = run.images(P.images, include=P.image)  # the takeaways use every one of them
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

other = run.load(other_rate)
_, other_info = other.roundtrip(image)
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

_, table = dl.teaching.timestep_ablation(codec, run.image(other_photo))
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
unsure (mean $\\ln\\sigma$ up, down or the same)? The cell also prints the bytes of both.
""", """
blurred = image.reduce(4).resize(image.size)  # change me: reduce(2) keeps more detail, reduce(8) less
prediction = None                              # your prediction for the mean ln σ: "up", "down" or "same"

blurred_recon, blurred_info = codec.roundtrip(blurred)
print(f"bytes: {len(codec.compress(image))} for {label}, {len(codec.compress(blurred))} for its blurred copy")
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
    md(PHOTO_NOTE),
    code("""
P = dl.notebook.params(image="kite", rate=0, steps=[1, 2, 4, 8, 20], images=3, tier="auto", official_checkpoint="",
                       fast=dict(images=2))
P"""),
    *photo_cells(),
    code(tier_setup("dict(images=1, steps=[1, 2, 4])") + """
codec = run.load(P.rate)
label = dl.notebook.photo_label(P.image)
image = run.image(P.image)
images = run.images(P.images, include=P.image)  # the takeaways use every one of them
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
    md(PHOTO_NOTE),
    code("""
P = dl.notebook.params(image="ladybird", steps=[1, 2, 4, 8], table_steps=[1, 4], quant_steps=list(dl.teaching.QUANT_STEPS),
                       tier="auto", official_checkpoint="", fast=dict(table_steps=[1], quant_steps=[0.5, 1.0, 2.0]))
P"""),
    *photo_cells(),
    code(tier_setup("dict(steps=[1, 2], table_steps=[1], quant_steps=[0.5, 1.0, 2.0])") + """
label = dl.notebook.photo_label(P.image)
image = run.image(P.image)
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

The question the sweep answers: **do more bits buy more quality?** We code the photo with each
step at the lowest and the highest rate point; the answer under the chart is computed from the
sweep.
"""),
    code("""
rates = cache.rates(run.models[0])
sweep = dl.teaching.quant_step_sweep(cache, [image], names=run.models, quant_steps=P.quant_steps,
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
