"""Your own photo (issue 30): one resolver, ``dl.notebook.photo_path``, for a sample name, a file
path (absolute, relative, ``~``), a URL (downloaded once) and a Colab upload; ``photo_label`` for
titles and result names; results never beside the photo; the notebooks' tier helpers take a path."""
from __future__ import annotations

import http.server
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ditic_lite import notebook
from ditic_lite.notebook import params, photo_label, photo_path, result_path, upload_photo


@pytest.fixture(autouse=True)
def _results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("DITIC_RESULTS", str(tmp_path / "results"))


def _photo(path: Path, size=(40, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def test_a_sample_name_with_or_without_png(sample_paths):
    kite = next(p for p in sample_paths if p.stem == "kite")
    assert photo_path("kite") == photo_path("kite.png") == kite
    assert photo_label("kite") == photo_label("kite.png") == "kite"


def test_absolute_relative_and_home_paths(tmp_path, monkeypatch):
    photo = _photo(tmp_path / "holiday pics" / "Beach Day (2).JPG")
    assert photo_path(str(photo)) == photo_path(photo) == photo.resolve()
    monkeypatch.chdir(tmp_path)
    assert photo_path("holiday pics/Beach Day (2).JPG") == photo.resolve()
    monkeypatch.setenv("HOME", str(tmp_path))
    assert photo_path("~/holiday pics/Beach Day (2).JPG") == photo.resolve()
    assert photo_label(photo) == "Beach_Day__2"  # safe in a file name


def test_a_path_relative_to_the_kit_works_from_any_folder(tmp_path, monkeypatch):
    """The notebooks run in ``notebooks/``: ``data/samples/kite.png`` (relative to the kit) still resolves."""
    monkeypatch.chdir(tmp_path)
    assert photo_path(str(Path("data") / "samples" / "kite.png")).name == "kite.png"


def test_a_photo_of_your_own_named_like_a_sample_keeps_its_own_label(tmp_path, sample_paths):
    """``~/kite.jpg`` must not be taken for the sample (notebooks key photos by label)."""
    mine = _photo(tmp_path / "kite.jpg")
    assert photo_label(str(mine)) == "kite_own" and photo_label("https://example.org/a/kite.png") == "kite_own"
    kite = next(p for p in sample_paths if p.stem == "kite")
    assert photo_label(str(kite)) == photo_label(kite) == "kite"  # the sample itself, by its path


def test_missing_folder_and_empty_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no photo 'nope.jpg': not a sample name \[.*kite.*\] and no such file"):
        photo_path("nope.jpg")
    with pytest.raises(IsADirectoryError, match="is a folder, not a photo"):
        photo_path(tmp_path)
    with pytest.raises(ValueError, match="no photo given"):
        photo_path(" ")


def test_env_parameter_takes_a_plain_path(tmp_path, monkeypatch):
    photo = _photo(tmp_path / "mine.png")
    monkeypatch.setenv("DITIC_IMAGE", str(photo))
    assert params(image="kite").image == str(photo)
    monkeypatch.setenv("DITIC_IMAGE", "~/photos/a b.jpg")  # not JSON: taken as it is
    assert params(image="kite").image == "~/photos/a b.jpg"


def test_result_path_refuses_a_folder_part():
    """Notebook 01 once wrote ``<photo path>.ditic`` beside the student's photo."""
    assert result_path("kite.ditic").parent == notebook.results_dir()
    for bad in ("/home/me/photo.jpg.ditic", "../x.csv", "a/b.csv", "", ".."):
        with pytest.raises(ValueError, match="plain file name"):
            result_path(bad)
    assert result_path(photo_label("/home/me/photo.jpg") + ".ditic").name == "photo.ditic"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_a_url_is_downloaded_once_into_the_results_folder(tmp_path, monkeypatch, capsys):
    served = _photo(tmp_path / "www" / "bird.png")
    handler = lambda *a, **k: _Quiet(*a, directory=str(served.parent), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("DITIC_OFFLINE", raising=False)
    url = f"http://127.0.0.1:{server.server_address[1]}/bird.png"
    try:
        first = photo_path(url)
        assert "downloading" in capsys.readouterr().out
        assert first.parent == notebook.results_dir() / notebook.PHOTOS_FOLDER
        assert first.read_bytes() == served.read_bytes() and photo_label(url) == "bird"
        served.unlink()  # the second call reuses the file: no download
        assert photo_path(url) == first and "downloading" not in capsys.readouterr().out
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_offline_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("DITIC_OFFLINE", "1")
    with pytest.raises(ConnectionError, match=r"cannot download https://example.org/cat.jpg: offline.*file path instead"):
        photo_path("https://example.org/cat.jpg")


def test_upload_photo_outside_colab_says_to_pass_a_path(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(RuntimeError, match="Colab only; here pass the photo's file path"):
        upload_photo()


def test_upload_photo_on_colab_saves_into_the_results_folder(tmp_path, monkeypatch):
    data = _photo(tmp_path / "x.png").read_bytes()
    colab = types.ModuleType("google.colab")
    colab.files = types.SimpleNamespace(upload=lambda: {"My Cat.PNG": data})
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    path = upload_photo()
    assert path == notebook.results_dir() / notebook.PHOTOS_FOLDER / "My_Cat.png" and path.read_bytes() == data


def test_tier_helpers_take_a_photo_path(tmp_path):
    from ditic_lite.teaching import choose_tier

    photo = _photo(tmp_path / "my dog.jpg", size=(96, 64))
    run = choose_tier("tiny", device="cpu")
    assert run.image(str(photo)).size == (96, 64) and run.image("kite").size == (768, 512)
    images = run.images(2, include=str(photo))
    assert list(images) == ["balloons", "my_dog"] and images["my_dog"].size == (96, 64)
    assert list(run.images(2, include="balloons")) == ["balloons", "kite"]
    folder = notebook.samples_dir()
    assert run.photo("kite", folder).stem == "kite"
    assert run.photo(str(photo), folder) == photo.resolve()
    run.side = 32  # the official tier on a CPU codes center crops: the photo's crop is written to results/
    crop = run.photo(str(photo), folder)
    assert crop.parent == notebook.results_dir() and Image.open(crop).size == (32, 32)
