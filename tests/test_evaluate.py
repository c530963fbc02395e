"""Evaluation table, eval / plot commands, and the data-set downloader (offline: file:// URLs)."""
from __future__ import annotations

import argparse
import hashlib
import urllib.error
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ditic_lite import data as D
from ditic_lite import evaluate as E
from ditic_lite import plots

ROOT = Path(__file__).resolve().parents[1]


def _photo_like(w: int, h: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    a = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (f * x + g * y)) for f, g in rng.uniform(1, 5, (3, 2))], -1)
    a += rng.normal(0, 0.04, a.shape)
    return Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    _photo_like(256, 192, 0).save(d / "a.png")
    (d / "sub").mkdir()
    _photo_like(192, 256, 1).save(d / "sub" / "b.png")
    (d / "notes.txt").write_text("not an image")
    return d


def _cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ditic-lite")
    E.add_cli(parser.add_subparsers())
    return parser


def test_evaluate_table(folder):
    df = E.evaluate(folder, ["jpeg", "webp"], rates=[0, 4], metrics=["psnr", "ms_ssim"], progress=False)
    assert len(df) == 2 * 2 * 2
    assert {"image", "codec", "rate", "quality", "steps", "bpp", "psnr", "ms_ssim", "encode_s", "decode_s"} <= set(df)
    assert set(df["image"]) == {"a.png", "sub/b.png"}
    assert np.allclose(df["bpp"], df["bytes"] * 8 / (df["height"] * df["width"]))
    assert (df["steps"] == 0).all() and (df["decode_s"] > 0).all()
    means = df.groupby(["codec", "rate"])["psnr"].mean()
    assert means["jpeg", 4] > means["jpeg", 0] and means["webp", 4] > means["webp", 0]


def test_evaluate_target_bpp(folder):
    targets = [0.05, 0.6, 1.5]  # 0.05 is below JPEG's lowest quality for these images
    df = E.evaluate(folder, ["jpeg"], target_bpp=targets, metrics=["psnr"], progress=False)
    assert sorted(df["rate"].unique()) == [0, 1, 2]
    for rate, target in enumerate(targets):
        rows = df[df["rate"] == rate]
        assert ((rows["bpp"] <= target) | (rows["quality"] == 1)).all()
    assert (df.loc[df["rate"] == 0, "quality"] == 1).all()
    assert (df.loc[df["rate"] == 2, "bpp"] <= 1.5).all() and (df.loc[df["rate"] == 2, "quality"] > 1).all()


def test_evaluate_codec_objects_and_steps(folder, random_codec):
    df = E.evaluate(folder, [random_codec], steps=[1, 2], metrics=["psnr"], max_images=1, progress=False)
    assert list(df["steps"]) == [1, 2] and (df["codec"] == "tiny").all()
    assert df["bytes"].nunique() == 1  # one encoding, two decodes


def test_metric_selection():
    chosen = E.select_metrics("auto")
    assert chosen[:2] == ["psnr", "ms_ssim"]
    with pytest.raises(ValueError, match="unknown metric"):
        E.select_metrics(["psnr", "vmaf"])


def test_eval_and_plot_commands(folder, tmp_path, capsys):
    out = tmp_path / "res" / "results.csv"
    args = _cli().parse_args(["eval", "--data", str(folder), "--codecs", "jpeg,webp", "--rates", "1,3",
                              "--metrics", "psnr,ms_ssim", "--out", str(out), "--plot", str(tmp_path / "rd.png"),
                              "--reference", "kodak", "--quiet"])
    assert args.func(args) == 0
    df = pd.read_csv(out)
    assert len(df) == 8 and (tmp_path / "rd.png").stat().st_size > 0
    assert "wrote" in capsys.readouterr().out
    args = _cli().parse_args(["plot", str(out), "--out", str(tmp_path / "again.png")])
    assert args.func(args) == 0 and (tmp_path / "again.png").exists()
    bad = _cli().parse_args(["plot", str(tmp_path / "missing.csv")])
    with pytest.raises(FileNotFoundError, match="no such results file"):
        bad.func(bad)
    missing = _cli().parse_args(["eval", "--data", str(tmp_path / "nowhere"), "--out", str(out)])
    with pytest.raises(FileNotFoundError, match="not a folder"):
        missing.func(missing)


def test_plot_rd_lines(folder):
    df = E.evaluate(folder, ["jpeg"], rates=[0, 2, 4], metrics=["psnr"], progress=False)
    fig = plots.plot_rd(df, reference_dataset="clic2020")
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["jpeg", "paper (published)"]
    assert len(ax.get_lines()[0].get_xdata()) == 3  # one averaged point per rate
    pts = plots.rate_points(df)
    assert len(pts) == 3 and pts["bpp"].is_monotonic_increasing
    with pytest.raises(ValueError, match="no metric columns"):
        plots.plot_rd(df[["codec", "rate", "bpp"]])


# ------------------------------------------------------------------------------- data sets
def test_dataset_specs_are_pinned():
    kodak = D.DATASETS["kodak"]
    assert len(kodak.files) == 24 and len({f.sha256 for f in kodak.files}) == 24
    for spec in D.DATASETS.values():
        assert all(len(f.sha256) == 64 and f.size > 0 and f.url.startswith("https://") for f in spec.files)


def _local_remote(tmp_path, payload: bytes, sha: str | None = None) -> D.RemoteFile:
    src = tmp_path / "remote.bin"
    src.write_bytes(payload)
    return D.RemoteFile(src.as_uri(), sha or hashlib.sha256(payload).hexdigest(), len(payload))


def test_fetch_verifies_checksums(tmp_path):
    remote = _local_remote(tmp_path, b"kodak-ish bytes")
    dest = tmp_path / "cache" / "file.bin"
    assert D.fetch(remote, dest, progress=False).read_bytes() == b"kodak-ish bytes"
    bad = _local_remote(tmp_path, b"tampered", sha="0" * 64)
    with pytest.raises(D.DownloadError, match="checksum mismatch"):
        D.fetch(bad, tmp_path / "cache" / "bad.bin", progress=False)
    assert not (tmp_path / "cache" / "bad.bin").exists() and not (tmp_path / "cache" / "bad.bin.part").exists()


def test_download_offline_is_a_clear_error(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network (test)")

    monkeypatch.setattr(D.urllib.request, "urlopen", no_network)
    with pytest.raises(D.DownloadError, match="could not download https://r0k.us.*put it at"):
        D.download("kodak", root=tmp_path, progress=False)
    with pytest.raises(ValueError, match="unknown data set"):
        D.download("imagenet", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        D.resolve(tmp_path / "nothing")


def test_list_images(folder):
    assert [p.name for p in D.list_images(folder)] == ["a.png", "b.png"]


# ------------------------------------------------------------------ checkpoint folders compared
def test_eval_compare_on_the_shipped_checkpoints(folder, tmp_path, capsys):
    shipped = Path(E.__file__).resolve().parent / "checkpoints"
    again = tmp_path / "same_checkpoints"
    again.symlink_to(shipped, target_is_directory=True)  # the same weights under a second name
    out = tmp_path / "compare.csv"
    args = _cli().parse_args(["eval", "--compare", str(shipped), str(again), "--data", str(folder),
                              "--rates", "0", "--out", str(out)])
    assert args.func(args) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["folder", "codec", "rate", "image", *E.CHECKPOINT_MEASURES]
    assert list(table.columns) == list(pd.read_csv(ROOT / "data" / "results" / "tune_ablation.csv", nrows=0).columns)
    assert sorted(zip(table["folder"], table["codec"])) == sorted(
        [(str(shipped), "mse"), (str(shipped), "tiny"), (str(again), "tiny")] * 2)  # two photos each
    same = E.detail_gain(table, anchor_folder=str(shipped), anchor_codec="tiny")
    assert list(same["n"]) == [2, 2] and np.allclose(same["mean"], 0.0) and np.allclose(same["stderr"], 0.0)
    assert "detail error of the anchor minus DiT-IC's" in capsys.readouterr().out
    with pytest.raises(ValueError, match="each checkpoint folder once"):
        E.compare_checkpoints([shipped, shipped], {})


def test_compare_photos_of_a_training_collection_are_its_held_out_photos(held_out_collection, folder):
    from ditic_lite.training.data import VALIDATION

    photos = E.comparison_photos(held_out_collection, max_images=2)
    assert list(photos) == list(VALIDATION[:2])
    assert {tuple(photo.shape) for photo in photos.values()} == {(1, 3, 512, 768)}
    assert list(E.comparison_photos(folder)) == ["a.png", "sub/b.png"]  # any other folder: its images
