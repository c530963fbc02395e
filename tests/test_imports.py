"""Start-up cost: ``import ditic_lite`` and ``ditic-lite info`` import only what they use.

Each check runs in a fresh interpreter, since this test process has imported everything already.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import ditic_lite as dl
from ditic_lite import container

HEAVY = ("torch", "numpy", "PIL", "diffusers", "peft", "compressai", "matplotlib", "pandas", "scipy")


def _run(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh Python; it prints one JSON line last, which is returned."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def _loaded() -> str:
    """Code that prints which of ``HEAVY`` are in ``sys.modules``, as one JSON line."""
    return (f"import json, sys; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & "
            f"set({HEAVY!r}))))")


def test_import_ditic_lite_loads_no_heavy_package():
    assert _run("import ditic_lite\n" + _loaded()) == []


def test_the_matplotlib_backend_is_left_alone():
    """Not even ``dl.viz`` (the figures of the notebooks) switches the backend the user chose."""
    code = ("import json, matplotlib, ditic_lite as dl\nbefore = matplotlib.get_backend()\ndl.viz.side_by_side\n"
            "print(json.dumps([before, matplotlib.get_backend()]))")
    assert _run(code, MPLBACKEND="svg") == ["svg", "svg"]


def test_info_reads_a_header_without_torch(tmp_path):
    path = tmp_path / "small.ditic"
    path.write_bytes(container.pack(container.Header("tiny", bytes(range(8)), 1, 48, 64), [b"\x01" * 30, b"\x02"]))
    code = (f"import contextlib, io\nfrom ditic_lite.cli import main\nout = io.StringIO()\n"
            f"with contextlib.redirect_stdout(out):\n    assert main(['info', {str(path)!r}]) == 0\n"
            f"print(out.getvalue())\n" + _loaded())
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    *printed, loaded = proc.stdout.splitlines()
    assert json.loads(loaded) == []
    text = "\n".join(printed)
    assert "64x48" in text and "0001020304050607" in text and "y 30 bytes, z 1 bytes" in text


def test_public_names_resolve_lazily():
    assert dl.DecodeError is container.DecodeError
    from ditic_lite import zoo

    assert dl.load is zoo.load and dl.__version__
    for name in dl.__all__:
        assert getattr(dl, name) is not None
    assert {*dl.__all__, "teaching", "viz", "claims", "zoo", "__version__"} <= set(dir(dl))
    assert not {"importlib", "pkgutil", "annotations"} & set(dir(dl))
    assert dl.teaching.__name__ == "ditic_lite.teaching"
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        dl.no_such_name  # noqa: B018
