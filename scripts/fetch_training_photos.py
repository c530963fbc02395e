"""Fetch the extra training photos and build a merged training folder.

The extra photos come from Debian wallpaper packages (``apt-get download``) and from the
CC0 / public-domain sample photos in scikit-image's wheel (``pip download``); which files, their
licences and captions are committed in ``data/train_extra/`` (``SOURCES.md``, ``captions.csv``,
``manifest.csv``, ``licenses/``). Kodak, CLIC and DIV2K images are never used.

Each photo is decoded, converted to 8-bit RGB, downscaled with Lanczos so that the longer side
is at most 1600 px, and written as a PNG without metadata. The original file's SHA-256 is
checked against ``manifest.csv`` first: a changed upstream file is reported and left out (unless
``--allow-changed``), never silently replaced by another image.

The output folder (default ``runs/data``) holds symlinks to every file of the shared training
folder under the same relative paths (so :data:`ditic_lite.training.data.VALIDATION` still matches),
the new photos under ``debian-extra/`` and ``skimage/``, and a merged ``captions.csv``. Downloads
are cached in ``OUT/.downloads`` and reused; running the script again is cheap.

Usage::

    python scripts/fetch_training_photos.py --shared ../shared/data/train --out runs/data
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ditic_lite.data import sha256_file  # noqa: E402  (no torch needed)

EXTRA = ROOT / "data" / "train_extra"
MAX_SIDE = 1600

# Where each package comes from: Debian packages by (name, version) and the scikit-image wheel.
DEBS = {
    "lomiri-wallpapers-16.04": "20.04.0-2",
    "lomiri-wallpapers-20.04": "20.04.0-2",
    "lxqt-themes": "1.2.0-1",
    "enlightenment-data": "0.25.4-2",  # about 400 MB; its backgrounds are JPEGs inside .edj files
}
SKIMAGE_VERSION = "0.26.0"
# The wheel is fetched for one fixed platform so that every machine gets the same file.
SKIMAGE_PIP_ARGS = ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64",
                    "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]

# (file in the training folder, source: "deb:PACKAGE" or "wheel:scikit-image", path in the archive)
PHOTOS: list[tuple[str, str, str]] = [
    (f"debian-extra/lomiri-{name}.png", f"deb:{pkg}", f"usr/share/backgrounds/{orig}")
    for name, pkg, orig in [
        ("bridge", "lomiri-wallpapers-16.04", "Bridge_by_Sander_Klootwijk.jpg"),
        ("dragonfly", "lomiri-wallpapers-16.04", "Dragonfly_by_Bolly.jpg"),
        ("fig-bowl", "lomiri-wallpapers-16.04", "Picture_0B_by_freespace.jpg"),
        ("paintbrushes", "lomiri-wallpapers-16.04", "Picture_1A_by_freespace.jpg"),
        ("wine", "lomiri-wallpapers-16.04", "Wine_by_Jakkub_Mede.jpg"),
        ("aitzgorri", "lomiri-wallpapers-16.04", "aitzgorri_by_Aitzol_Berasategi.jpg"),
        ("free", "lomiri-wallpapers-16.04", "free_by_Peter_Nerlich.jpg"),
        ("friends", "lomiri-wallpapers-16.04", "friends_by_Aitzol_Berasategi.jpg"),
        ("greentock", "lomiri-wallpapers-16.04", "greentock_by_Peter_Nerlich.jpg"),
        ("life", "lomiri-wallpapers-16.04", "life_by_Aitzol_Berasategi.jpg"),
        ("picosdeeuropa", "lomiri-wallpapers-16.04", "picosdeeuropa_by_Aitzol_Berasategi.jpg"),
        ("seeding", "lomiri-wallpapers-16.04", "seeding_by_Clements_Engelhardt.jpg"),
        ("sunset", "lomiri-wallpapers-16.04", "sunset_by_Aitzol_Berasategi.jpg"),
        ("kleiber", "lomiri-wallpapers-20.04", "Kleiber_by_Lukas_Baubkus.jpg"),
    ]
] + [
    (f"debian-extra/lxqt-{name}.png", "deb:lxqt-themes", f"usr/share/lxqt/wallpapers/{orig}")
    for name, orig in [
        ("butterfly-kenneth-wimer", "Butterfly-Kenneth-Wimer.jpg"),
        ("valendas", "Valendas.png"),
        ("after-the-rain", "after-the-rain.jpg"),
        ("appleflower", "appleflower.png"),
        ("beam", "beam.png"),
        ("butterfly", "butterfly.png"),
        ("cloud", "cloud.png"),
        ("drop", "drop.png"),
        ("flowers", "flowers.png"),
        ("fog", "fog.jpg"),
        ("this-is-not-windows", "this-is-not-windows.jpg"),
    ]
] + [
    (f"debian-extra/e-{name.lower()}.png", "deb:enlightenment-data",
     f"usr/share/enlightenment/data/backgrounds/{name}.edj")
    for name in ["Bamboo", "Foggy-Trees", "God-Rays", "Green-Maple", "Lichen-Branches", "Mountain",
                 "Peaks", "Red-Maple", "Sea-of-Lanterns", "Snow-Trees", "Spruce-Needles",
                 "Sunset-Clouds", "White-Flower", "Yellow-Flower"]
] + [
    (f"skimage/{name}.png", "wheel:scikit-image", f"skimage/data/{orig}")
    for name, orig in [
        ("astronaut", "astronaut.png"),
        ("chelsea", "chelsea.png"),
        ("coffee", "coffee.png"),
        ("rocket", "rocket.jpg"),
        ("hubble-deep-field", "hubble_deep_field.jpg"),
        ("camera", "camera.png"),
        ("brick", "brick.png"),
        ("grass", "grass.png"),
        ("gravel", "gravel.png"),
    ]
]

FORBIDDEN = ("kodak", "kodim", "clic", "div2k")


def log(msg: str) -> None:
    print(msg, flush=True)


def warn(msg: str) -> None:
    print(f"WARNING: {msg}", file=sys.stderr, flush=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_manifest(path: Path = EXTRA / "manifest.csv") -> dict[str, dict[str, str]]:
    """``file -> {sha256, source_sha256}`` (empty if the manifest does not exist yet)."""
    return {r["file"]: r for r in read_csv(path)} if path.exists() else {}


def read_extra_captions(path: Path = EXTRA / "captions.csv") -> dict[str, str]:
    return {r["file"]: r["caption"] for r in read_csv(path)}


def sources_table_files(path: Path = EXTRA / "SOURCES.md") -> list[str]:
    """The ``File`` column of the tables in ``SOURCES.md``."""
    files = []
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and cells[0].endswith(".png"):
            files.append(cells[0])
    return files


# ---------------------------------------------------------------------------------------------
# Downloads (cached)

def fetch_deb(package: str, version: str, cache: Path) -> Path | None:
    """``PACKAGE_*.deb`` in ``cache``, downloaded with ``apt-get download`` if missing."""
    found = sorted(cache.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    cache.mkdir(parents=True, exist_ok=True)
    for spec in (f"{package}={version}", package):
        log(f"  apt-get download {spec}")
        r = subprocess.run(["apt-get", "download", spec], cwd=cache, capture_output=True, text=True)
        found = sorted(cache.glob(f"{package}_*.deb"))
        if r.returncode == 0 and found:
            if spec == package:
                warn(f"{package} {version} not available, took {found[-1].name}; checksums decide")
            return found[-1]
    warn(f"could not download {package} (run `apt-get update` first?): {r.stderr.strip()[-300:]}")
    return None


def fetch_wheel(cache: Path) -> Path | None:
    found = sorted(cache.glob("scikit_image-*.whl"))
    if found:
        return found[-1]
    cache.mkdir(parents=True, exist_ok=True)
    for args in ([f"scikit-image=={SKIMAGE_VERSION}", *SKIMAGE_PIP_ARGS], ["scikit-image"]):
        log(f"  pip download --no-deps {' '.join(args)}")
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache), *args],
                           capture_output=True, text=True)
        found = sorted(cache.glob("scikit_image-*.whl"))
        if r.returncode == 0 and found:
            return found[-1]
    warn(f"could not download the scikit-image wheel: {r.stderr.strip()[-300:]}")
    return None


class _Slice(io.RawIOBase):
    """``size`` bytes of an open file from its current position (one member of an ``ar`` archive)."""

    def __init__(self, f, size: int) -> None:
        self.f, self.left = f, size

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self.left)
        data = self.f.read(n)
        b[:len(data)] = data
        self.left -= len(data)
        return len(data)


def deb_members(deb: Path, paths: set[str]) -> dict[str, bytes]:
    """The bytes of ``paths`` in the ``data.tar.*`` of a .deb (an ``ar`` archive), streamed; no dpkg needed."""
    out: dict[str, bytes] = {}
    with open(deb, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise ValueError(f"{deb} is not a .deb")
        while True:
            header = f.read(60)
            if len(header) < 60:
                raise ValueError(f"{deb} has no data.tar member")
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            if not name.startswith("data.tar"):
                f.seek(size + size % 2, os.SEEK_CUR)
                continue
            with tarfile.open(fileobj=io.BufferedReader(_Slice(f, size), 1 << 20), mode="r|*") as tar:
                for m in tar:
                    p = m.name[2:] if m.name.startswith("./") else m.name
                    if p in paths and m.isfile():
                        out[p] = tar.extractfile(m).read()
                        if len(out) == len(paths):
                            break
            return out


def archive_members(kind: str, archive: Path, paths: set[str]) -> dict[str, bytes]:
    """The bytes of ``paths`` inside a .deb or a wheel (missing paths are left out)."""
    if kind == "deb":
        return deb_members(archive, paths)
    with zipfile.ZipFile(archive) as z:
        return {p: z.read(p) for p in paths & set(z.namelist())}


def edj_largest_jpeg(data: bytes) -> bytes:
    """The largest JPEG stored in an Enlightenment ``.edj`` (Eet) file: its lossy images are JPEG streams."""
    from PIL import Image

    best, best_px, i = None, 0, 0
    while (i := data.find(b"\xff\xd8\xff", i)) >= 0:
        try:
            w, h = Image.open(io.BytesIO(data[i:])).size
            if w * h > best_px:
                best, best_px = i, w * h
        except Exception:
            pass
        i += 3
    if best is None:
        raise ValueError("no JPEG image in the .edj file")
    return data[best:]


# ---------------------------------------------------------------------------------------------
# Conversion and merge

def convert(data: bytes):
    """8-bit RGB, longer side <= MAX_SIDE (Lanczos), a fresh image without metadata."""
    import numpy as np
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.load()
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    im = im.convert("RGB")
    if max(im.size) > MAX_SIDE:
        s = MAX_SIDE / max(im.size)
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
    return Image.fromarray(np.asarray(im, dtype=np.uint8).copy(), "RGB")


def link_shared(shared: Path, out: Path) -> int:
    """Symlink every file of ``shared`` into ``out`` under the same relative path."""
    n = 0
    shared = shared.resolve()
    for src in sorted(shared.rglob("*")):
        if not src.is_file():
            continue
        rel = src.relative_to(shared)
        if rel.as_posix() == "captions.csv":
            continue
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_symlink() or dst.exists():
            if dst.is_symlink() and Path(os.readlink(dst)) == src:
                n += 1
                continue
            dst.unlink()
        dst.symlink_to(src)
        n += 1
    return n


def merge(shared: Path, out: Path, extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Link the shared folder into ``out`` and write the merged ``captions.csv``; returns its rows.

    ``extra`` lists (relative file, caption) of the new photos already written under ``out``.
    """
    out.mkdir(parents=True, exist_ok=True)
    link_shared(shared, out)
    rows = [(r["file"], r["caption"]) for r in read_csv(shared / "captions.csv")]
    seen = {f for f, _ in rows}
    for f, c in extra:
        if f in seen:
            raise ValueError(f"{f} is both in the shared folder and in the extra photos")
        if any(word in f.lower() for word in FORBIDDEN):
            raise ValueError(f"{f}: Kodak, CLIC and DIV2K images are not allowed")
        seen.add(f)
        rows.append((f, c))
    missing = [f for f, _ in rows if not (out / f).exists()]
    if missing:
        raise FileNotFoundError(f"captions.csv would list missing files: {missing[:5]}")
    tmp = out / "captions.csv.tmp"
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["file", "caption"])
        w.writerows(rows)
    os.replace(tmp, out / "captions.csv")
    return rows


def build_extra(out: Path, cache: Path, manifest: dict, allow_changed: bool,
                write_manifest: bool) -> tuple[list[str], list[str], dict]:
    """Download, check and convert the extra photos; returns (written, skipped, new manifest)."""
    written, skipped, new_manifest = [], [], {}
    by_source: dict[str, list[tuple[str, str]]] = {}
    for rel, source, member in PHOTOS:
        by_source.setdefault(source, []).append((rel, member))
    for source, items in by_source.items():
        todo = [(rel, member) for rel, member in items
                if not ((out / rel).exists() and rel in manifest and sha256_file(out / rel) == manifest[rel]["sha256"])]
        for rel, member in items:
            if (rel, member) not in todo:  # already built and matching the manifest
                written.append(rel)
                new_manifest[rel] = manifest[rel]
        if not todo:
            continue
        kind, name = source.split(":", 1)
        log(f"{name}: {len(todo)} photo(s) to build")
        archive = fetch_deb(name, DEBS[name], cache) if kind == "deb" else fetch_wheel(cache)
        if archive is None:
            skipped += [rel for rel, _ in todo]
            continue
        members = archive_members(kind, archive, {m for _, m in todo})
        for rel, member in todo:
            if member not in members:
                warn(f"{rel}: {member} is not in {archive.name}; left out")
                skipped.append(rel)
                continue
            data = members[member]
            src_sha = sha256_bytes(data)
            expected = manifest.get(rel, {}).get("source_sha256")
            if expected and src_sha != expected and not allow_changed:
                warn(f"{rel}: UPSTREAM FILE CHANGED: {archive.name}:{member} has SHA-256 {src_sha}, "
                     f"manifest says {expected}; left out (check it, then rerun with --allow-changed "
                     f"and --write-manifest to accept it)")
                skipped.append(rel)
                continue
            if not expected and not write_manifest:
                warn(f"{rel}: no manifest entry; left out (use --write-manifest to record it)")
                skipped.append(rel)
                continue
            if member.endswith(".edj"):
                data = edj_largest_jpeg(data)
            im = convert(data)
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            png = buf.getvalue()
            (out / rel).write_bytes(png)
            sha = sha256_bytes(png)
            if rel in manifest and sha != manifest[rel]["sha256"] and src_sha == expected:
                warn(f"{rel}: the original matches the manifest but the PNG differs (another Pillow "
                     f"version encodes or resamples differently); kept")
            new_manifest[rel] = {"file": rel, "sha256": sha, "source_sha256": src_sha,
                                 "original_size": f"{image_size(data)}", "size": f"{im.width}x{im.height}"}
            written.append(rel)
    return written, skipped, new_manifest


def image_size(data: bytes) -> str:
    from PIL import Image

    w, h = Image.open(io.BytesIO(data)).size
    return f"{w}x{h}"


def write_manifest_csv(manifest: dict, path: Path = EXTRA / "manifest.csv") -> None:
    order = [rel for rel, _, _ in PHOTOS if rel in manifest]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["file", "sha256", "source_sha256", "original_size", "size"])
        for rel in order:
            m = manifest[rel]
            w.writerow([rel, m["sha256"], m["source_sha256"], m.get("original_size", ""), m.get("size", "")])


def validation_files() -> tuple[str, ...]:
    try:
        from ditic_lite.training.data import VALIDATION
    except Exception:  # the package needs torch; the list is what matters here
        VALIDATION = ("wikipedia/016.png", "debian/plasma-kite.png", "debian/mate-ladybird.png",
                      "wikipedia/010.png", "wikipedia/042.png", "debian/mate-dune.png")
    return tuple(VALIDATION)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data" / "train",
                    help="the shared training folder (captions.csv, debian/, wikipedia/)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "data", help="merged folder to build")
    ap.add_argument("--cache", type=Path, default=None, help="download cache (default OUT/.downloads)")
    ap.add_argument("--allow-changed", action="store_true",
                    help="use originals whose SHA-256 differs from the manifest (after checking them)")
    ap.add_argument("--write-manifest", action="store_true",
                    help="(maintainers) record the checksums of what was built in data/train_extra/manifest.csv")
    args = ap.parse_args(argv)
    out, cache = args.out, args.cache or args.out / ".downloads"
    if not (args.shared / "captions.csv").exists():
        ap.error(f"{args.shared / 'captions.csv'} not found; pass --shared DIR")
    out.mkdir(parents=True, exist_ok=True)

    manifest = read_manifest()
    captions = read_extra_captions()
    written, skipped, new_manifest = build_extra(out, cache, manifest, args.allow_changed, args.write_manifest)
    if args.write_manifest:
        write_manifest_csv({**{k: v for k, v in manifest.items() if k not in skipped}, **new_manifest})
        log(f"wrote {EXTRA / 'manifest.csv'}")
    extra_rows = []
    for rel in written:
        if rel not in captions:
            warn(f"{rel}: no caption in data/train_extra/captions.csv; left out of captions.csv")
            continue
        extra_rows.append((rel, captions[rel]))
    rows = merge(args.shared, out, extra_rows)
    for name in ("SOURCES.md", "licenses"):  # the attribution of the new photos travels with them
        link = out / f"extra-{name}"
        if not link.is_symlink():
            link.symlink_to((EXTRA / name).resolve())

    missing_val = [v for v in validation_files() if not (out / v).exists()]
    by_dir: dict[str, int] = {}
    for f, _ in rows:
        by_dir[f.split("/")[0]] = by_dir.get(f.split("/")[0], 0) + 1
    log(f"\n{out}: {len(rows)} photos in captions.csv "
        f"({', '.join(f'{d}/ {n}' for d, n in sorted(by_dir.items()))}); "
        f"{len(rows) - len(extra_rows)} linked from {args.shared}, {len(extra_rows)} new")
    if skipped:
        warn(f"{len(skipped)} photo(s) left out: {', '.join(skipped)}")
    if missing_val:
        warn(f"validation photos missing: {missing_val}")
        return 1
    log(f"validation photos present ({len(validation_files())}); they are skipped by training as before")
    return 0 if not skipped else 2


if __name__ == "__main__":
    raise SystemExit(main())
