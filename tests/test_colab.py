"""Colab on the first click: the repository URL, the set-up cell, the official tier's dtype, and a
Colab-like run (a fresh environment with numpy 2 and torch pre-installed, the kit installed by
the notebooks' own set-up cell from this checkout, then notebook 01).

    pytest tests/test_colab.py -s      # -s prints the Colab-like run's timings
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path
from types import ModuleType, SimpleNamespace

import nbformat
import pytest
import torch

from ditic_lite import notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PLACEHOLDER = re.compile(r"YOUR[-_ ]?(ORG|USER|NAME|REPO)|<(org|owner|user)>|github\.com/(ORG|OWNER|USER)/", re.I)


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bn = _load_builder()


# ------------------------------------------------------------------------------------ repository URL
def test_clone_url_accepts_what_colab_can_clone():
    gh = "https://github.com/acme/ditic-lite"
    for remote in (gh, gh + ".git", gh + "/", "git@github.com:acme/ditic-lite.git", "ssh://git@github.com/acme/ditic-lite"):
        assert bn.clone_url(remote) == gh, remote
    assert bn.clone_url("https://gitlab.com/acme/ditic-lite.git") == "https://gitlab.com/acme/ditic-lite"
    for local in ("/srv/git/ditic-lite.git", "file:///srv/git/ditic-lite", "../main", ""):
        assert bn.clone_url(local) is None, local  # e.g. the remote of a CI clone
    assert bn.Repo(gh).github_slug == "acme/ditic-lite"
    assert bn.Repo("https://gitlab.com/acme/ditic-lite").github_slug is None and bn.Repo().github_slug is None


def test_repo_url_order_cli_then_git_then_pyproject(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert bn.resolve_repo_url(root=tmp_path) == ""  # none: no badge, the Colab cell asks
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[project.urls]\nRepository = "https://github.com/up/ditic-lite"\n')
    assert bn.resolve_repo_url(root=tmp_path) == "https://github.com/up/ditic-lite"
    git("remote", "add", "origin", "git@github.com:fork/ditic-lite.git")
    assert bn.resolve_repo_url(root=tmp_path) == "https://github.com/fork/ditic-lite"
    assert bn.resolve_repo_url("https://github.com/cli/ditic-lite", root=tmp_path) == "https://github.com/cli/ditic-lite"
    assert bn.resolve_repo_url("", root=tmp_path) == ""
    with pytest.raises(SystemExit, match="https"):
        bn.resolve_repo_url("not a url", root=tmp_path)


def test_a_fork_that_rebuilds_points_to_itself():
    repo = bn.Repo("https://github.com/fork/ditic-lite", "main")
    for name, cells in bn.NOTEBOOKS.items():
        nb = bn.build(name, cells, repo)
        assert (f"https://colab.research.google.com/github/fork/ditic-lite/blob/main/notebooks/{name}.ipynb"
                in nb.cells[0].source)
        assert 'REPO_URL = "https://github.com/fork/ditic-lite"' in nb.cells[1].source
        assert nb.metadata["ditic_lite"] == {"repo_url": repo.url, "branch": "main"}
    table = bn.readme_table(repo)
    assert table.count("colab.research.google.com/github/fork/ditic-lite/blob/main/notebooks/") == len(bn.NOTEBOOKS)


def test_without_a_url_there_is_no_badge_and_the_cell_asks():
    nb = bn.build("01_quickstart", bn.NOTEBOOKS["01_quickstart"], bn.Repo())
    assert "colab.research.google.com/github" not in nb.cells[0].source and "Upload notebook" in nb.cells[0].source
    assert 'REPO_URL = ""' in nb.cells[1].source


def test_check_uses_the_url_the_notebooks_were_built_with(monkeypatch, capsys):
    monkeypatch.setattr(bn, "repo_url_from_git", lambda root=bn.ROOT: "https://github.com/someone-else/ditic-lite")
    assert bn.main(["--check"]) == 0  # a clone with another remote still passes
    if bn.built_repo().url != "https://github.com/someone-else/ditic-lite":
        assert "note: the notebooks point to" in capsys.readouterr().out


def test_no_placeholder_in_notebooks_readme_or_package():
    files = [*NOTEBOOKS, ROOT / "README.md", ROOT / "pyproject.toml", *sorted((ROOT / "ditic_lite").rglob("*.py"))]
    hits = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in files for m in PLACEHOLDER.finditer(p.read_text())]
    assert not hits
    urls = {nbformat.read(p, as_version=4).metadata.get("ditic_lite", {}).get("repo_url") for p in NOTEBOOKS}
    assert len(urls) == 1 and (urls == {""} or bn.clone_url(urls.pop())), "all notebooks point to one real URL or none"


# ------------------------------------------------------------------------------------ set-up cell
def colab_cell() -> str:
    return nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4).cells[1].source


@pytest.mark.parametrize("url", ["", "https://github.com/nobody/no-such-repo"], ids=["no-url", "clone-fails"])
def test_setup_cell_without_a_source_says_in_one_sentence_what_to_do(monkeypatch, url):
    if Path("/content").exists():
        pytest.skip("a real /content folder (Colab) may hold an upload")
    ran = []
    monkeypatch.setitem(sys.modules, "google.colab", ModuleType("google.colab"))
    monkeypatch.delenv("DITIC_SOURCE", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)  # nothing installed yet
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: ran.append(cmd) or subprocess.CompletedProcess(cmd, 128))
    source = re.sub(r'REPO_URL = ".*?"', f'REPO_URL = "{url}"', colab_cell(), count=1)
    with pytest.raises(RuntimeError) as err:
        exec(compile(source, "colab_cell", "exec"), {})
    assert [cmd[:2] for cmd in ran] == ([["git", "clone"]] if url else [])  # no pip before the kit is found
    message = str(err.value)
    assert "set REPO_URL in this cell" in message and "upload a wheel or zip" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence


def test_setup_cell_names_no_versions_of_torch_or_numpy():
    cell = colab_cell()
    assert "--no-deps" in cell and notebook.COMPRESSAI in cell
    code = re.sub(r"#.*", "", cell)
    assert not re.search(r"(torch|numpy)[<>=]=?\d", code), "the cell pins what is installed, never a version"
    assert "restart" not in cell.lower().replace("(no restart)", "")


def test_install_commands_agree():
    """README, CI, conda file and the kit's error message all install the same compressai the same way."""
    command = f"pip install --no-deps {notebook.COMPRESSAI}"
    for path in ("README.md", ".ci/run", "environment.yml"):
        assert command in (ROOT / path).read_text(), path
    pyproject = re.sub(r"#.*", "", (ROOT / "pyproject.toml").read_text())
    assert "numpy<2" not in pyproject and "numpy>=1.23" in pyproject
    assert "compressai" not in pyproject, "compressai is installed on its own, with --no-deps"


# ------------------------------------------------------------------------------------ GPU, dtype, memory
def test_official_dtype_per_gpu(monkeypatch):
    monkeypatch.delenv("DITIC_DTYPE", raising=False)
    assert notebook.official_dtype("cpu") == "fp32"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # T4
    assert notebook.official_dtype("cuda") == "fp16"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))  # A100
    assert notebook.official_dtype("cuda") == "bf16"
    monkeypatch.setenv("DITIC_DTYPE", "fp32")
    assert notebook.official_dtype("cuda") == "fp32"


def test_official_memory_from_the_release_parameter_counts():
    counts = json.loads((ROOT / "tests" / "fixtures" / "official" / "param_counts.json").read_text())
    unique = {k: v["unique_parameters"] for k, v in counts.items() if "unique_parameters" in v}
    assert notebook.OFFICIAL_PARAMS["cast"] == unique["vae"] + unique["DiT"]
    assert notebook.OFFICIAL_PARAMS["float32"] == unique["codec"] + unique["prompter"] + unique["aux_codec"]
    fp16, bf16, fp32 = (notebook.official_memory_gib(d) for d in ("fp16", "bf16", "fp32"))
    assert fp16 == bf16 and fp16["load"] == fp32["load"] == pytest.approx(3.91, abs=0.01)
    assert fp16["weights"] == pytest.approx(2.23, abs=0.01) and fp32["weights"] == pytest.approx(3.91, abs=0.01)


def test_setup_report_on_a_t4(monkeypatch):
    monkeypatch.delenv("DITIC_DTYPE", raising=False)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda device=None: SimpleNamespace(name="Tesla T4", total_memory=15_828_320_256))
    lines = notebook.runtime_report("cuda")
    assert "Tesla T4" in lines[0] and "torch" in lines[0] and "numpy" in lines[0] and "compressai" in lines[0]
    assert "checkpoints" in lines[1] and str(ROOT / "ditic_lite" / "checkpoints") in lines[1]
    assert "fp16" in lines[2] and "3.9 GiB" in lines[2] and "2.2 GiB" in lines[2] and "14.7 GiB" in lines[2]
    cpu = notebook.runtime_report("cpu")
    assert len(cpu) == 2 and "(CPU)" in cpu[0]


def test_setup_twice_on_colab_installs_nothing(monkeypatch, capsys):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "test")
    monkeypatch.setattr(notebook, "missing_extras", lambda: [])  # all there (as after a first run)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip ran"))
    for _ in range(2):
        notebook.setup()
    assert "Colab" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ tested like Colab
SNAPSHOT = """
import importlib.metadata as md, json
out = {}
for d in ("torch", "torchvision", "numpy"):
    dist = md.distribution(d)
    meta = dist.locate_file(next(f for f in dist.files if f.name == "METADATA" and f.parent.suffix == ".dist-info"))
    out[d] = {"version": dist.version, "metadata": str(meta), "mtime": meta.stat().st_mtime}
print(json.dumps(out))
"""

PRELUDE = """
import importlib.machinery, sys, types
colab = types.ModuleType("google.colab")  # what the set-up cells look for
colab.__spec__ = importlib.machinery.ModuleSpec("google.colab", None)
sys.modules["google.colab"] = colab
import numpy, torch  # loaded before the set-up, as in a running Colab kernel
print("KERNEL", sys.executable, numpy.__version__, torch.__version__)
"""

AFTER = """
import json, numpy, torch
print("AFTER", json.dumps({"numpy": numpy.__version__, "torch": torch.__version__,
                           "restart": dl.notebook.restart_reason()}))
"""


def _colab_venv(path: Path) -> Path:
    """A fresh venv whose base is this environment (torch, numpy, ...), like Colab's image, but
    without the kit: the .pth files of this environment that install the kit are left out."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
    python = path / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    base = Path(sysconfig.get_paths()["purelib"])
    (site / "00-colab-base.pth").write_text(f"{base}\n")
    for pth in base.glob("*.pth"):
        if "ditic" not in pth.name.lower():
            (site / pth.name).write_text(pth.read_text())
    return python


@pytest.mark.slow
def test_colab_like_fresh_environment_runs_notebook_01(tmp_path, capsys):
    """Setup cell against this checkout in a fresh venv (numpy 2, torch pre-installed), then 01."""
    import numpy

    from test_notebooks import NETWORK_GUARD

    if os.environ.get("CI") and int(numpy.__version__.split(".")[0]) < 2:
        pytest.fail(f"CI must run under numpy 2 (numpy {numpy.__version__} installed)")
    tic = time.perf_counter()
    python = _colab_venv(tmp_path / "colab")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PYTHONPATH": ""}
    if int(numpy.__version__.split(".")[0]) < 2:  # a numpy-1 test environment: give the "Colab" numpy 2
        rc = subprocess.run([python, "-m", "pip", "install", "-q", "numpy>=2"], capture_output=True, text=True,
                            env={**env, "PIP_NO_INDEX": "0"})
        if rc.returncode:
            pytest.skip(f"numpy 2 not installable here: {rc.stderr[-300:]}")
    before = json.loads(subprocess.run([python, "-c", SNAPSHOT], capture_output=True, text=True, check=True,
                                       env=env).stdout)
    assert int(before["numpy"]["version"].split(".")[0]) >= 2
    probe = subprocess.run([python, "-c", "import ditic_lite"], capture_output=True, env=env, cwd=tmp_path)
    assert probe.returncode != 0, "the kit must not be importable before the set-up cell"

    nb = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    setup_cell = nb.cells[1]
    assert 'if "google.colab" in sys.modules' in setup_cell.source
    nb.cells = ([nbformat.v4.new_code_cell(PRELUDE), setup_cell, nbformat.v4.new_code_cell(setup_cell.source)]
                + nb.cells[2:] + [nbformat.v4.new_code_cell(AFTER)])
    work = tmp_path / "notebooks"
    work.mkdir()
    nbformat.write(nb, work / "01_colab.ipynb")
    kernels = tmp_path / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NETWORK_GUARD)
    kernel_env = {
        "JUPYTER_PATH": str(tmp_path / "jupyter"), "DITIC_SOURCE": str(ROOT), "PYTHONPATH": str(guard),
        "PIP_NO_INDEX": "1",               # everything the kit needs is pre-installed: no download
        "PIP_NO_BUILD_ISOLATION": "0",     # (pip reads "0" as: build with the installed setuptools)
        "DITIC_FAST": "1", "HF_HUB_OFFLINE": "1", "DITIC_OFFLINE": "1", "DITIC_NET_LOG": str(tmp_path / "net.log"),
        "DITIC_FIGURES": str(tmp_path / "figures"), "DITIC_RESULTS": str(tmp_path / "results"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    executed, seconds = notebook.run_notebook(work / "01_colab.ipynb", env=kernel_env, timeout=600,
                                              kernel_name="colab")
    outputs = ["".join(o.get("text", "") for o in c.get("outputs", []) if o.get("output_type") == "stream")
               for c in executed.cells]
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert f"KERNEL {python} " in outputs[0], outputs[0]
    assert "installed ditic-lite from" in outputs[1] and "kept torch==" in outputs[1] and "numpy==2" in outputs[1]
    assert "nothing to do" in outputs[2], "running the set-up cell twice does nothing the second time"
    assert "device cpu (CPU)" in outputs[3] and "checkpoints: tiny and mse in" in outputs[3]
    everything = "\n".join(outputs[:-1]).lower()
    assert "restart" not in everything.replace("(no restart)", ""), "no restart may be requested"
    after_kernel = json.loads(outputs[-1].split("AFTER", 1)[1])
    assert after_kernel["restart"] is None and after_kernel["numpy"] == before["numpy"]["version"]

    after = json.loads(subprocess.run([python, "-c", SNAPSHOT], capture_output=True, text=True, check=True,
                                      env=env).stdout)
    assert after == before, "numpy, torch and torchvision were reinstalled, upgraded or downgraded"
    site = python.parent.parent / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    added = subprocess.run([python, "-m", "pip", "list", "--path", str(site), "--format", "json"],
                           capture_output=True, text=True, check=True, env=env).stdout
    names = {d["name"].lower() for d in json.loads(added)}
    assert "ditic-lite" in names and not names & {"torch", "torchvision"}, names
    assert (tmp_path / "figures" / "01_quickstart.png").exists()
    assert not (tmp_path / "net.log").exists() or (tmp_path / "net.log").read_text() == ""
    with capsys.disabled():
        print(f"\nColab-like run: {time.perf_counter() - tic:.0f} s in all, notebook 01 in {seconds:.0f} s\n"
              f"{outputs[1]}{outputs[2]}{outputs[3]}", end="")


def test_wheel_packages_list_every_code_folder_of_the_kit():
    """pyproject lists the packages by hand (to map data/ into the wheel): a new code folder must be
    added there, or the wheel (Colab upload, ``pip install .``) would lack it. Data folders under
    ``ditic_lite/`` travel through package-data globs."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    code_dirs = {".".join(d.relative_to(ROOT).parts) for d in [ROOT / "ditic_lite", *(ROOT / "ditic_lite").rglob("*")]
                 if d.is_dir() and "__pycache__" not in d.parts and any(d.glob("*.py"))}
    assert code_dirs <= set(config["packages"]), code_dirs - set(config["packages"])
    assert {name: (ROOT / folder).is_dir() for name, folder in config["package-dir"].items()} == {
        "ditic_lite.sample_data": True, "ditic_lite.reference_data": True}
