"""Safe loading (issue 7): weights come only from safetensors or ``torch.load(weights_only=True)``.

A tampered, truncated or disguised checkpoint, a damaged model card or config gives a
:class:`~ditic_lite.CheckpointError` naming the file; the SHA-256 recorded in each card is
checked at load; a pickle never runs. The shipped checkpoints are copied to a temporary folder
before they are damaged.
"""
from __future__ import annotations

import ast
import json
import os
import pickle
import shutil
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from ditic_lite import zoo
from ditic_lite.zoo import CheckpointError

PACKAGE = Path(zoo.__file__).parent
WEIGHT_FILES = ["tiny/base.safetensors", "tiny/shared.safetensors", "tiny/rate0.safetensors"]


class Payload:
    """Unpickling this creates a folder: proof that a pickle ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


@pytest.fixture
def checkpoints(tmp_path, monkeypatch) -> Path:
    """A private copy of the shipped checkpoints that ``ditic_lite.load`` reads instead."""
    folder = tmp_path / "checkpoints"
    shutil.copytree(zoo.CHECKPOINT_DIR, folder)
    monkeypatch.setattr(zoo, "CHECKPOINT_DIR", folder)
    return folder


def rehash(weights: Path) -> None:
    """Record the file's current SHA-256 in its card (what someone tampering carefully would do)."""
    card_path = weights.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["sha256"] = zoo.sha256_file(weights)
    card_path.write_text(json.dumps(card))


# ---------------------------------------------------------------------------- hashes
def test_every_shipped_checkpoint_has_a_card_with_its_hash():
    files = sorted(zoo.CHECKPOINT_DIR.rglob("*.safetensors"))
    assert files, "no shipped checkpoints"
    for path in files:
        card = json.loads(path.with_suffix(".json").read_text())
        assert card["sha256"] == zoo.sha256_file(path), f"{path.name}: card hash is stale"


def test_untouched_copy_loads(checkpoints):
    codec = zoo.load("tiny", rate=0)
    assert codec.card["sha256"] == zoo.sha256_file(checkpoints / "tiny" / "rate0.safetensors")


@pytest.mark.parametrize("name", WEIGHT_FILES)
def test_one_flipped_byte_is_caught_by_the_card_hash(checkpoints, name):
    path = checkpoints / name
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # inside the tensor data: safetensors itself would not notice
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"{path.name}: SHA-256 .* does not match its card"):
        zoo.load("tiny", rate=0)


@pytest.mark.parametrize("cut", ["half", "header"])
def test_truncated_checkpoint(checkpoints, cut):
    path = checkpoints / "tiny" / "rate0.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if cut == "half" else data[:20])
    with pytest.raises(CheckpointError, match="does not match its card"):
        zoo.load("tiny", rate=0)
    rehash(path)  # even with a matching hash, the file itself is refused
    with pytest.raises(CheckpointError, match=r"rate0.safetensors: not a valid safetensors file"):
        zoo.load("tiny", rate=0)


def test_hostile_safetensors_header_is_refused(checkpoints):
    """A header that declares a 2**60-byte JSON header: refused without allocating it."""
    path = checkpoints / "tiny" / "rate0.safetensors"
    path.write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    rehash(path)
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        zoo.load("tiny", rate=0)


def test_pickle_disguised_as_safetensors_never_runs(checkpoints, tmp_path):
    marker = tmp_path / "payload_ran"
    path = checkpoints / "tiny" / "rate0.safetensors"
    for write in (lambda f: pickle.dump({"w": Payload(marker)}, f),
                  lambda f: torch.save({"w": torch.zeros(2), "x": Payload(marker)}, f)):
        with open(path, "wb") as f:
            write(f)
        rehash(path)
        with pytest.raises(CheckpointError, match="not a valid safetensors file"):
            zoo.load("tiny", rate=0)
        assert not marker.exists()


def test_wrong_tensor_shape_is_refused(checkpoints):
    path = checkpoints / "tiny" / "rate0.safetensors"
    tensors = load_file(str(path))
    key = next(k for k, v in tensors.items() if v.ndim >= 1 and v.shape[0] > 1)
    tensors[key] = tensors[key][:1].contiguous()
    save_file(tensors, str(path))
    rehash(path)
    with pytest.raises(CheckpointError, match=r"does not fit the model \(.*wrong shape"):
        zoo.load("tiny", rate=0)


@pytest.mark.parametrize("damage, message", [
    ("missing", "model card rate0.json is missing"),
    ("not json", "rate0.json: the model card is not valid JSON"),
    ("no hash", "rate0.json: the model card records no sha256"),
])
def test_damaged_card(checkpoints, damage, message):
    card = checkpoints / "tiny" / "rate0.json"
    if damage == "missing":
        card.unlink()
    elif damage == "not json":
        card.write_text(card.read_text()[:30])
    else:
        card.write_text(json.dumps({"model": "tiny"}))
    with pytest.raises(CheckpointError, match=message):
        zoo.load("tiny", rate=0)


@pytest.mark.parametrize("damage", ["truncated", "unknown field", "missing"])
def test_damaged_config(checkpoints, damage):
    config = checkpoints / "tiny" / "config.json"
    if damage == "truncated":
        config.write_text(config.read_text()[:50])
    elif damage == "unknown field":
        config.write_text(json.dumps({**json.loads(config.read_text()), "surprise": 1}))
    else:
        config.unlink()
    with pytest.raises(CheckpointError, match="config"):
        zoo.load("tiny", rate=0)


# ---------------------------------------------------------------------------- no pickle anywhere
def _calls(tree: ast.AST, module: str, function: str) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == function
            and isinstance(node.func.value, ast.Name) and node.func.value.id == module]


def test_no_unsafe_deserialisation_in_the_package():
    """Every ``torch.load`` passes ``weights_only=True``; no pickle/marshal loading at all."""
    for source in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(source.read_text(), filename=str(source))
        for call in _calls(tree, "torch", "load"):
            safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                       for k in call.keywords)
            assert safe, f"{source.name}:{call.lineno}: torch.load without weights_only=True"
        for module in ("pickle", "marshal", "dill", "joblib"):
            for function in ("load", "loads"):
                calls = _calls(tree, module, function)
                assert not calls, f"{source.name}:{calls[0].lineno}: {module}.{function}"


# ---------------------------------------------------------------------------- official loader
try:
    from ditic_lite import official
except ImportError:  # the official tier is optional
    official = None
needs_reader = pytest.mark.skipif(not hasattr(official, "read_state_dict"), reason="no official reader")


@needs_reader
@pytest.mark.parametrize("kind", ["torch.save", "plain pickle"])
def test_official_reader_refuses_pickles(tmp_path, kind):
    marker = tmp_path / "payload_ran"
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        if kind == "torch.save":
            torch.save({"w": torch.zeros(2), "x": Payload(marker)}, f)
        else:
            pickle.dump({"w": Payload(marker)}, f)
    with pytest.raises(CheckpointError, match="evil.pt"):
        official.read_state_dict(path)
    assert not marker.exists()


@needs_reader
def test_official_reader_loads_a_plain_state_dict(tmp_path):
    path = tmp_path / "good.pt"
    torch.save({"w": torch.arange(3.0)}, path)
    assert torch.equal(official.read_state_dict(path)["w"], torch.arange(3.0))


@needs_reader
@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_official_reader_truncated_file_names_it(tmp_path, suffix):
    path = tmp_path / f"cut{suffix}"
    tensors = {"w": torch.zeros(64)}
    torch.save(tensors, path) if suffix == ".pt" else save_file(tensors, str(path))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=path.name):
        official.read_state_dict(path)


# ---------------------------------------------------------------------------- one checkpoint module
def test_one_checkpoint_error_and_one_list_of_entropy_tables(tiny_model):
    import ditic_lite as dl
    from ditic_lite import checkpoints

    assert dl.CheckpointError is zoo.CheckpointError is checkpoints.CheckpointError
    suffixes = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")
    tables = [k for k in tiny_model.state_dict() if k.endswith(suffixes)]
    assert sorted(tables) == sorted(checkpoints.ENTROPY_TABLE_KEYS)
    assert all(checkpoints.is_entropy_table(k) for k in tables)
    assert not any(checkpoints.is_entropy_table(k) for k in tiny_model.state_dict() if k not in tables)
    if official is not None:
        assert official.RECOMPUTED_KEYS == checkpoints.ENTROPY_TABLE_KEYS


def test_load_into_names_what_does_not_fit(tiny_model):
    from ditic_lite.checkpoints import key_mismatch, load_into

    own = tiny_model.state_dict()
    key, other = [k for k, v in own.items() if v.ndim >= 2][:2]
    table = "codec.gaussian_conditional._quantized_cdf"  # entropy tables: never required nor compared
    tensors = {key: own[key][:1], "nope.weight": torch.zeros(1), table: torch.zeros(5, 5)}
    fit = key_mismatch(own, tensors, required=[key, other, table])
    assert (fit.missing, fit.unexpected, fit.wrong_shape) == ([other], ["nope.weight"], [key])
    assert not key_mismatch(own, {table: torch.zeros(5, 5)}, required=())
    with pytest.raises(CheckpointError, match=r"^x.safetensors does not fit the model \(missing: .* \.\.\.; "
                                              r"unexpected: nope.weight; wrong shape: "):
        load_into(tiny_model, tensors, source="x.safetensors")  # every key required: raises before loading
