"""Evaluation data sets: any local folder of images, or Kodak / CLIC 2020 / DIV2K downloaded once.

Downloads are checked against pinned SHA-256 checksums and sizes and kept in a cache folder
(``$DITIC_DATA``, default ``~/.cache/ditic_lite/datasets``), as in d2l's ``download``. Meant for
Colab or any machine with internet; offline they fail with :class:`DownloadError` saying where to
put the files by hand.

Checksums: DIV2K and CLIC 2020 from TensorFlow Datasets' ``url_checksums`` (``div2k.txt``,
``clic.txt``); Kodak from two independent public manifests of the r0k.us PNG mirror that agree.
Explained in notebook ``05_rate_perception_curves``.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm")
TIMEOUT_S = 30


class DownloadError(ConnectionError):
    """A data set could not be downloaded or failed its checksum."""


@dataclass(frozen=True)
class RemoteFile:
    url: str
    sha256: str
    size: int  # bytes

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DatasetSpec:
    """A data set: its files (images, or one zip archive) and how many images it should hold."""

    name: str
    files: tuple[RemoteFile, ...]
    num_images: int
    description: str


_KODAK_URL = "https://r0k.us/graphics/kodak/kodak/kodim{:02d}.png"
_KODAK = [  # (sha256, size in bytes) of kodim01.png .. kodim24.png
    ("a56e27cbf5f843c048b6af1d6e090760e9c92fadba88b7dee0205918a37523bd", 736501),
    ("4f4b74a79237e311d72cad958237b5f7088d8bce1c82305ebefe1a70e3022dfd", 617995),
    ("e25ca1ff2f0c0cb5fdfd5f9b0a0bb21ac4c3de3c84a67f35b09a85d3306249db", 502888),
    ("e3b946107c5d3441c022f678d0c3caf1e224d81b1604ba840a4f88e562de61aa", 637432),
    ("10349e963c5c813d327852f82c1795fa4148d69fedffc4c589bee458e3ac3d53", 785610),
    ("363510303b715d4cbc384e1ce227e466b613a09e1b71ae985882bf8e7fbd9b18", 618959),
    ("b77d3f006f42414bb242222e0482e750c0fb9e5ee8d4bed2f6f11c5605fe54a4", 566322),
    ("ba23983c76b4832ee0e8af0592664756841a16779acd69f792e268fb6d13d6e7", 788470),
    ("6a4361c2fc194feb4edaa9f9a4a0620fb9943e460ac7fdf037fb0f6dd6607a7d", 582899),
    ("9dfb70f5867c29ff9ed6313683f19b3d867849e40fbc0c4c54a4a89df341cf23", 593463),
    ("7936814b58b5387fce2e4e2488b4ec830dadd95fa9520f358ddb30990b50f2b6", 621023),
    ("d78c37c2f04f23761ed2367dd77e2db584ddd4c3950833fecf89f199a8126980", 531024),
    ("bc34a3ce58dea09dce1704c997171602de90cb34d0c8503a988b77f473d39b08", 822712),
    ("55a94550ff18f3246c4074fd32b77b0c74447c26b6ad274d564d999c0450ba6e", 692201),
    ("7538cbb80cb9103606c48b806eae57d56c885c7f90b9b3be70a41160f9cbb683", 612582),
    ("a89c7268ccd4718ba424a99fc4643c572cf692ca6eae887185ceb4e9f11d2e54", 534247),
    ("37afcc89fbdcb76d9518e04b2fc011027e2f4cd14b3b2f83cefd721641a47c5b", 602078),
    ("1a9258c365988961d87a0598725b609139c303ad48a5aad6c503c3b1a87849aa", 780947),
    ("b7450b264b1b0a411390d8931b112c27905a992520fc90569dc4b920aa32bbdc", 671476),
    ("3b46c71e3b92a563820ba32936be8330c586c41f938efd94be938386aae4328a", 492462),
    ("ac958597c82073f6bb65129c68f72b651db5b9efd82e11547d07350214bc268b", 637051),
    ("1cee58eb1f2d9c7ebb254d208a03c783ce6cf2c4d8c2cf45e235dd23b4ce1b29", 701970),
    ("e3111a2fd4da24af15d6459ef9eacfe54106b38e27b4a21821b75c3f5d2d5baf", 557596),
    ("1071c68372cc5a01435c2c225a5cf7d4bb803846ec08bb6b3d6721b156d7cb96", 706397),
]

DATASETS = {
    "kodak": DatasetSpec(
        "kodak",
        tuple(RemoteFile(_KODAK_URL.format(i + 1), sha, size) for i, (sha, size) in enumerate(_KODAK)),
        24, "Kodak PhotoCD set, 24 images of 768x512 (PNG mirror at r0k.us)",
    ),
    "clic2020": DatasetSpec(
        "clic2020",
        (RemoteFile("https://data.vision.ee.ethz.ch/cvl/clic/test/CLIC2020Professional_test.zip",
                    "857df244fc2bfa5da28d4c66bf0db16ee99bfc79eb807be8afa89cd507852884", 891643809),),
        428, "CLIC 2020 test set, professional track (428 images, up to 2K)",
    ),
    "div2k": DatasetSpec(
        "div2k",
        (RemoteFile("https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip",
                    "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc", 448993893),),
        100, "DIV2K validation set, 100 high-resolution (2K) images",
    ),
}


def cache_dir() -> Path:
    """Where downloaded data sets live: ``$DITIC_DATA`` or ``~/.cache/ditic_lite/datasets``."""
    return Path(os.environ.get("DITIC_DATA", Path.home() / ".cache" / "ditic_lite" / "datasets"))


def list_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (downloads and checkpoints)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(remote: RemoteFile, dest: Path, progress: bool = True) -> Path:
    """Download one file to ``dest`` (atomic rename), verify size and SHA-256; reuse a verified copy."""
    if dest.exists() and dest.stat().st_size == remote.size and sha256_file(dest) == remote.sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(remote.url, timeout=TIMEOUT_S) as r, open(part, "wb") as f, tqdm(
            total=remote.size, unit="B", unit_scale=True, desc=remote.filename, disable=not progress, leave=False
        ) as bar:
            for chunk in iter(lambda: r.read(1 << 20), b""):
                f.write(chunk)
                bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as err:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"could not download {remote.url} ({err}); without internet, download it elsewhere "
            f"and put it at {dest}"
        ) from err
    size, digest = part.stat().st_size, sha256_file(part)
    if size != remote.size or digest != remote.sha256:
        part.unlink()
        raise DownloadError(
            f"{remote.url}: checksum mismatch (got {size} bytes, sha256 {digest}; "
            f"expected {remote.size} bytes, sha256 {remote.sha256})"
        )
    part.replace(dest)
    return dest


def download(name: str, root: str | Path | None = None, progress: bool = True) -> Path:
    """Download (once) and unpack data set ``name`` (``kodak``, ``clic2020``, ``div2k``) -> image folder."""
    key = name.lower().replace("-", "").replace("_", "")
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(DATASETS)} or give a folder")
    spec = DATASETS[key]
    folder = Path(root or cache_dir()) / spec.name
    marker = folder / ".complete"
    if marker.exists():
        return folder
    for remote in spec.files:
        path = fetch(remote, folder / remote.filename, progress)
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                zf.extractall(folder)
            path.unlink()  # keep the images, not the archive
    found = len(list_images(folder))
    if found != spec.num_images:
        raise DownloadError(f"{spec.name}: expected {spec.num_images} images after download, found {found}")
    marker.write_text("verified\n")
    return folder


def resolve(data: str | Path, progress: bool = True) -> Path:
    """A folder path as given, or a data-set name downloaded into the cache."""
    path = Path(data)
    if path.is_dir():
        return path
    if str(data).lower().replace("-", "").replace("_", "") in DATASETS:
        return download(str(data), progress=progress)
    raise FileNotFoundError(f"{data}: not a folder, nor one of the data sets {sorted(DATASETS)}")


def clear(name: str, root: str | Path | None = None) -> None:
    """Delete a downloaded data set from the cache."""
    shutil.rmtree(Path(root or cache_dir()) / name, ignore_errors=True)
