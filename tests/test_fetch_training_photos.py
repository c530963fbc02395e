"""scripts/fetch_training_photos.py, offline parts: the merge and the committed metadata agree."""
from __future__ import annotations

import csv
import importlib.util
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ditic_lite.training.data import VALIDATION, read_captions

ROOT = Path(__file__).resolve().parents[1]
EXTRA = ROOT / "data" / "train_extra"

_spec = importlib.util.spec_from_file_location("fetch_training_photos", ROOT / "scripts" / "fetch_training_photos.py")
fetch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch)


def _png(path: Path, size=(8, 6), colour=(10, 20, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


@pytest.fixture()
def fake_shared(tmp_path: Path) -> Path:
    shared = tmp_path / "shared"
    files = list(VALIDATION) + ["wikipedia/001.png", "debian/mate-aqua.png"]
    for f in files:
        _png(shared / f)
    (shared / "debian" / "SOURCES.md").write_text("# sources\n")
    with open(shared / "captions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "caption"])
        w.writerows((f, f"caption of {f}") for f in files)
    return shared


def test_merge_links_shared_and_adds_extra(fake_shared: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _png(out / "skimage" / "new.png")
    rows = fetch.merge(fake_shared, out, [("skimage/new.png", "A new photo.")])
    merged = read_captions(out)
    assert merged == rows
    assert [f for f, _ in merged][-1] == "skimage/new.png"
    shared_rows = read_captions(fake_shared)
    assert merged[:len(shared_rows)] == shared_rows  # shared rows first, unchanged
    for v in VALIDATION:  # validation paths still match in the merged folder
        assert (out / v).is_symlink() and (out / v).resolve() == (fake_shared / v).resolve()
    assert (out / "debian" / "SOURCES.md").is_symlink()
    assert not (out / "captions.csv").is_symlink()  # the merged file, not the shared one
    # idempotent: a second merge gives the same folder
    assert fetch.merge(fake_shared, out, [("skimage/new.png", "A new photo.")]) == rows


def test_merge_refuses_duplicates_missing_and_forbidden(fake_shared: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValueError):
        fetch.merge(fake_shared, out, [("wikipedia/001.png", "again")])
    with pytest.raises(FileNotFoundError):
        fetch.merge(fake_shared, out, [("skimage/absent.png", "not written")])
    _png(out / "extra" / "kodim01.png")
    with pytest.raises(ValueError):
        fetch.merge(fake_shared, out, [("extra/kodim01.png", "no Kodak")])


def test_convert_rgb_downscale_no_metadata() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.full((2000, 3200), 128, np.uint8), "L").save(buf, format="PNG", dpi=(300, 300))
    im = fetch.convert(buf.getvalue())
    assert im.mode == "RGB" and im.size == (1600, 1000) and not im.info


def test_deb_reader(tmp_path: Path) -> None:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:xz") as tar:
        body = b"hello"
        info = tarfile.TarInfo("./usr/share/backgrounds/a.jpg")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    payload = data.getvalue()

    def member(name: str, body: bytes) -> bytes:
        head = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(body):<10}`\n".encode()
        return head + body + (b"\n" if len(body) % 2 else b"")

    deb = tmp_path / "x_1_all.deb"
    deb.write_bytes(b"!<arch>\n" + member("debian-binary", b"2.0\n") + member("data.tar.xz", payload))
    path = "usr/share/backgrounds/a.jpg"
    assert fetch.archive_members("deb", deb, {path}) == {path: b"hello"}


def test_manifest_captions_sources_agree() -> None:
    photos = [rel for rel, _, _ in fetch.PHOTOS]
    manifest = fetch.read_manifest(EXTRA / "manifest.csv")
    captions = fetch.read_extra_captions(EXTRA / "captions.csv")
    sources = fetch.sources_table_files(EXTRA / "SOURCES.md")
    assert len(set(photos)) == len(photos)
    assert list(manifest) == photos
    assert set(captions) == set(photos)
    assert sorted(sources) == sorted(Path(p).name for p in photos)
    for rel, row in manifest.items():
        assert len(row["sha256"]) == 64 and len(row["source_sha256"]) == 64, rel
        w, h = map(int, row["size"].split("x"))
        assert max(w, h) <= fetch.MAX_SIDE, rel
    for rel, cap in captions.items():
        assert cap.strip() and cap.endswith("."), rel
        assert not any(word in rel.lower() for word in fetch.FORBIDDEN)
    assert not set(photos) & set(VALIDATION)
    licenses = {p.name for p in (EXTRA / "licenses").iterdir()}
    assert {"lomiri-wallpapers.copyright", "scikit-image.LICENSE.txt", "scikit-image-data.notes.txt"} <= licenses
    assert set(fetch.DEBS) == {src.split(":", 1)[1] for _, src, _ in fetch.PHOTOS if src.startswith("deb:")}


def test_changed_upstream_file_is_left_out(tmp_path: Path, monkeypatch, capsys) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 100, 50)).save(buf, format="PNG")
    wheel = tmp_path / "scikit_image-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("skimage/data/x.png", buf.getvalue())
    monkeypatch.setattr(fetch, "PHOTOS", [("skimage/x.png", "wheel:scikit-image", "skimage/data/x.png")])
    monkeypatch.setattr(fetch, "fetch_wheel", lambda cache: wheel)
    out = tmp_path / "out"
    good = {"skimage/x.png": {"sha256": "0" * 64, "source_sha256": fetch.sha256_bytes(buf.getvalue())}}
    written, skipped, _ = fetch.build_extra(out, tmp_path / "cache", good, allow_changed=False, write_manifest=False)
    assert written == ["skimage/x.png"] and not skipped
    assert Image.open(out / "skimage" / "x.png").size == (40, 30)
    (out / "skimage" / "x.png").unlink()
    changed = {"skimage/x.png": {"sha256": "0" * 64, "source_sha256": "f" * 64}}
    written, skipped, _ = fetch.build_extra(out, tmp_path / "cache", changed, allow_changed=False, write_manifest=False)
    assert skipped == ["skimage/x.png"] and not written and not (out / "skimage" / "x.png").exists()
    assert "UPSTREAM FILE CHANGED" in capsys.readouterr().err
