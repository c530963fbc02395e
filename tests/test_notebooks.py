"""Every notebook runs top to bottom, offline, at CI size, within the time budget.

Each notebook is executed in a fresh kernel with nbclient (``ditic_lite.notebook.run_notebook``)
with ``DITIC_FAST=1`` (CPU-sized parameters), ``HF_HUB_OFFLINE=1``, figures and tables written to
a temporary folder, and a ``sitecustomize`` in the kernel that refuses (and records) any network
connection or DNS lookup: a notebook that tries to download anything offline fails here.

    pytest tests/test_notebooks.py -s        # -s prints the runtime of each notebook

``DITIC_NOTEBOOK_BUDGET_S`` (default 180) is the per-notebook limit in seconds.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BUDGET_S = float(os.environ.get("DITIC_NOTEBOOK_BUDGET_S", "180"))
GALLERY = {  # the figure of each notebook that the README gallery shows (and others it saves)
    "01": ["01_quickstart.png", "01_pipeline.png"],
    "02": ["02_variance.png", "02_histograms.png", "02_scatter.png"],
    "03": ["03_steps.png", "03_steps_chart.png"],
    "04": ["04_bitrate.png", "04_quant_step.png"],
    "05": ["05_rd_curves.png"],
    "06": ["06_alignment.png"],
    "07": ["07_official.png"],
    "08": ["08_realism.png", "08_tradeoff.png"],
}

NETWORK_GUARD = '''
import os, socket
_LOG = os.environ.get("DITIC_NET_LOG")
_LOCAL = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "")

def _record(what):
    if _LOG:
        with open(_LOG, "a") as f:
            f.write(what + "\\n")

def _host(address):
    return address[0] if isinstance(address, tuple) else None

_connect = socket.socket.connect
def connect(self, address):
    host = _host(address)
    if host is not None and host not in _LOCAL:
        _record(f"connect {address!r}")
        raise OSError(f"network access refused in the notebook tests: {address!r}")
    return _connect(self, address)
socket.socket.connect = connect

_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    if host not in _LOCAL and host is not None:
        _record(f"getaddrinfo {host!r}")
        raise socket.gaierror(f"name lookup refused in the notebook tests: {host!r}")
    return _getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
'''


def test_eight_notebooks_exist():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08"]


def test_notebooks_are_generated_and_stripped():
    """The .ipynb files equal what scripts/build_notebooks.py writes: no outputs, no counts."""
    rc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_notebooks.py"), "--check"],
                        capture_output=True, text=True)
    assert rc.returncode == 0, rc.stdout + rc.stderr
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: unstripped cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shape(path):
    """Badge + Colab cell + one setup call first; cells import only the kit, define nothing."""
    nb = nbformat.read(path, as_version=4)
    first, colab, setup = nb.cells[:3]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    if nb.metadata["ditic_lite"]["repo_url"].startswith("https://github.com/"):  # built with a GitHub URL
        assert "colab.research.google.com/github/" in first.source and f"notebooks/{path.name}" in first.source
    else:  # no URL: no badge to a made-up repository, how to open it in Colab instead
        assert "colab.research.google.com/github/" not in first.source and "Upload notebook" in first.source
    assert 'if "google.colab" in sys.modules:' in colab.source
    assert setup.source.startswith("import ditic_lite as dl") and "dl.setup()" in setup.source
    for cell in nb.cells[3:]:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)), \
                f"{path.name}: logic defined in a cell:\n{cell.source}"
            assert not isinstance(node, (ast.Import, ast.ImportFrom)), \
                f"{path.name}: cells import only through `import ditic_lite as dl`:\n{cell.source}"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"hf_hub_download|urlretrieve|requests\.get|wget |curl ", text)


def guarded_kernel_env(tmp_path_factory, guard_name: str, out_name: str) -> tuple[Path, dict]:
    """``(out, env)`` for a notebook kernel: the network guard as ``sitecustomize``, CPU sizes,
    offline, figures, tables and the network log under ``out``."""
    guard = tmp_path_factory.mktemp(guard_name)
    (guard / "sitecustomize.py").write_text(NETWORK_GUARD)
    out = tmp_path_factory.mktemp(out_name)
    path = os.pathsep.join(p for p in (str(guard), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return out, {
        "PYTHONPATH": path, "DITIC_FAST": "1", "HF_HUB_OFFLINE": "1", "DITIC_OFFLINE": "1",
        "DITIC_FIGURES": str(out / "figures"), "DITIC_RESULTS": str(out / "results"),
        "DITIC_NET_LOG": str(out / "network.log"), "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    return guarded_kernel_env(tmp_path_factory, "guard", "notebook_outputs")


def execute_checked(path: Path, out: Path, env: dict, *, timeout: int, budget: float, capsys,
                    label: str = ""):
    """Run one notebook in a fresh kernel under the network guard and check what every run must hold.

    Prints ``{stem}{label}: executed in ... s (budget ... s)`` past pytest's capture, appends the
    time to ``out/timings.jsonl``, writes the executed notebook to ``out/<name>`` (to read when a
    check fails), then asserts no cell raised and no network connection or lookup was attempted.
    Returns ``(nb, seconds)``; the budget itself is the caller's last assertion.
    """
    from ditic_lite.notebook import run_notebook

    log = Path(env["DITIC_NET_LOG"])
    log.unlink(missing_ok=True)
    nb, seconds = run_notebook(path, env=env, timeout=timeout)
    with capsys.disabled():
        print(f"\n{path.stem}{label}: executed in {seconds:.1f} s (budget {budget:.0f} s)")
    with (out / "timings.jsonl").open("a") as f:
        f.write(json.dumps({"notebook": path.stem, "seconds": seconds}) + "\n")
    nbformat.write(nb, out / path.name)

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    attempts = log.read_text() if log.exists() else ""
    assert attempts == "", f"{path.name} tried to reach the network offline:\n{attempts}"
    return nb, seconds


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_offline_within_budget(path, kernel_env, capsys):
    out, env = kernel_env
    nb, seconds = execute_checked(path, out, env, timeout=int(BUDGET_S) + 60, budget=BUDGET_S, capsys=capsys)
    for name in GALLERY[path.stem[:2]]:
        fig = Path(env["DITIC_FIGURES"]) / name
        assert fig.exists(), f"{path.name} did not save {name}"
        assert fig.stat().st_size <= 200_000, f"{name} is {fig.stat().st_size} bytes (gallery limit 200 kB)"
    assert seconds < BUDGET_S, f"{path.name} took {seconds:.0f} s, over the {BUDGET_S:.0f} s budget"
