"""The ditic-lite command: round trip on a 768x512 photo, info, and one-line errors."""
import argparse
import re
import subprocess
import sys

import torch

from ditic_lite.cli import COMMAND_MODULES, build_parser, main


def test_round_trip_768x512(tmp_path, sample_paths, capsys):
    src = sample_paths[0]
    bits = tmp_path / "a.ditic"
    assert main(["compress", str(src), str(bits)]) == 0
    out = capsys.readouterr().out
    printed = int(re.search(r"(\d+) bytes", out).group(1))
    assert printed == bits.stat().st_size
    bpp = float(re.search(r"([\d.]+) bpp", out).group(1))
    assert abs(bpp - 8 * printed / (768 * 512)) < 1e-3

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert main(["decompress", str(bits), str(tmp_path / "r1.png")]) == 0
        torch.set_num_threads(2)
        assert main(["decompress", str(bits), str(tmp_path / "r2.png")]) == 0
        assert main(["decompress", str(bits), str(tmp_path / "r3.png")]) == 0
    finally:
        torch.set_num_threads(before)
    r1, r2, r3 = ((tmp_path / f"r{i}.png").read_bytes() for i in (1, 2, 3))
    assert r1 == r2 == r3

    assert main(["info", str(bits)]) == 0
    info = capsys.readouterr().out
    assert "768x512" in info and "tiny" in info and "quant step:  1 (as trained)" in info

    coarse = tmp_path / "coarse.ditic"
    assert main(["compress", str(src), str(coarse), "--quant-step", "2"]) == 0
    assert "quant step 2," in capsys.readouterr().out
    assert coarse.stat().st_size < bits.stat().st_size
    assert main(["info", str(coarse)]) == 0 and "quant step:  2\n" in capsys.readouterr().out
    assert main(["decompress", str(coarse), str(tmp_path / "coarse.png")]) == 0


def test_errors_are_one_line_exit_2(tmp_path):
    junk = tmp_path / "junk.ditic"
    junk.write_bytes(b"not a ditic file at all")
    not_image = tmp_path / "x.png"
    not_image.write_text("hello")
    cases = [
        ["decompress", str(junk), str(tmp_path / "o.png")],
        ["decompress", str(tmp_path / "missing.ditic"), str(tmp_path / "o.png")],
        ["compress", str(not_image), str(tmp_path / "o.ditic")],
        ["compress", str(not_image).replace("x.png", "nope.png"), str(tmp_path / "o.ditic")],
        ["compress", str(not_image), str(tmp_path / "o.ditic"), "--rate", "99"],
        ["compress", str(tmp_path / "x.png"), str(tmp_path / "o.ditic"), "--quant-step", "100"],
        ["info", str(junk)],
    ]
    for args in cases:
        proc = subprocess.run([sys.executable, "-m", "ditic_lite.cli", *args], capture_output=True, text=True)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = [l for l in proc.stderr.splitlines() if l.strip() and "Warning" not in l and "warnings.warn" not in l]
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_a_command_loads_only_the_module_it_needs():
    """``info`` and ``decompress`` parse without the train/eval/bench/claims modules (and their
    imports); ``--help`` and those commands themselves still find them."""
    def commands(parser: argparse.ArgumentParser) -> set[str]:
        return set(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices)

    builtin = {"compress", "decompress", "info", "demo"}
    assert commands(build_parser("info")) == commands(build_parser("decompress")) == builtin
    assert commands(build_parser("plot")) == builtin | {"eval", "plot"}
    assert commands(build_parser()) == commands(build_parser("typo")) == builtin | set(COMMAND_MODULES)


def test_demo_spans_the_rate_range_to_about_0_1_bpp_with_a_baseline_in_no_more_bytes(tmp_path, sample_paths, capsys):
    """The lowest and highest rate points, then the highest at finer quantisation steps until
    about 0.1 bpp: each a real file whose bytes are the ones printed, fewest first; WebP on a
    downscaled copy in no more bytes than the largest; a full-colour figure."""
    from PIL import Image

    from ditic_lite.cli import DEMO_QUANT_STEPS, DEMO_TOP_BPP
    from ditic_lite.zoo import available_rates

    src = tmp_path / "crop.png"
    Image.open(sample_paths[0]).crop((0, 0, 256, 192)).save(src)
    figure, bits = tmp_path / "demo.png", tmp_path / "demo.ditic"
    assert main(["demo", str(src), "--figure", str(figure), "--bitstream", str(bits)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rates = available_rates("tiny")
    coded = [line for line in lines if line.startswith("rate ")]
    labels = [line.split(":")[0] for line in coded]
    assert labels[:2] == [f"rate {rates[0]}", f"rate {rates[-1]}"]
    assert labels[2:] == [f"rate {rates[-1]}, q {q:g}" for q in DEMO_QUANT_STEPS[:len(labels) - 2]]
    printed = [int(re.search(r": (\d+) bytes", line).group(1)) for line in coded]
    files = [bits.with_name(f"demo_rate{rates[0]}.ditic"), bits.with_name(f"demo_rate{rates[-1]}.ditic")]
    files += [bits.with_name(f"demo_rate{rates[-1]}_q{q:g}.ditic") for q in DEMO_QUANT_STEPS[:len(labels) - 2]]
    assert printed == [f.stat().st_size for f in files]  # the bytes shown are the files written
    assert printed == sorted(printed) and len(set(printed)) == len(printed)
    bpp = [float(re.search(r"([\d.]+) bpp", line).group(1)) for line in coded]
    assert bpp[-1] >= 0.9 * DEMO_TOP_BPP or len(labels) == 2 + len(DEMO_QUANT_STEPS)  # reached ~0.1 bpp
    assert all(b < 0.9 * DEMO_TOP_BPP for b in bpp[1:-1])  # and stopped there
    [baseline] = [line for line in lines if line.startswith("webp-ds")]
    assert baseline.startswith("webp-ds (same bytes or fewer)")
    assert int(re.search(r": (\d+) bytes", baseline).group(1)) <= printed[-1]
    saved = Image.open(figure)
    assert saved.mode == "RGB" and len(saved.getcolors(maxcolors=1 << 24)) > 1000  # no palette
    assert main(["decompress", str(files[-1]), str(tmp_path / "r.png")]) == 0
    realism = [line for line in lines if line.startswith("realism, ")]  # the same files, the second decoder
    from ditic_lite.zoo import load
    if load("tiny", rate=rates[0]).realism is not None:
        assert [int(re.search(r": (\d+) bytes", line).group(1)) for line in realism] == printed
        assert main(["decompress", str(files[0]), str(tmp_path / "t.png"), "--decoder", "realism"]) == 0
    else:
        assert not realism


def test_demo_one_rate_point_default_paths_and_a_chosen_zoom(tmp_path, sample_paths, capsys, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("DITIC_FIGURES", str(tmp_path / "figs"))
    monkeypatch.setenv("DITIC_RESULTS", str(tmp_path / "results"))
    src = tmp_path / "My Photo.jpg"
    Image.open(sample_paths[0]).crop((0, 0, 256, 192)).save(src, quality=95)
    assert main(["demo", str(src), "--rate", "1", "--baseline", "none", "--zoom", "10,20,64", "--max-side", "128",
                 "--decoder", "fidelity"]) == 0
    out = capsys.readouterr().out
    assert out.count(" bytes, ") == 1 and "downscaled to 128x96" in out and "\nrate 1: " in out
    assert (tmp_path / "results" / "demo_My_Photo.ditic").exists() and (tmp_path / "figs" / "demo_My_Photo.png").exists()
    assert not list(tmp_path.glob("*.ditic"))  # nothing beside the photo


def test_subject_box_of_the_kite_and_of_any_photo(sample_paths):
    from ditic_lite.images import load_image
    from ditic_lite.teaching import SUBJECTS, subject_box, zoom_box

    kite = load_image(next(p for p in sample_paths if p.stem == "kite"))
    (x, y, size), words = subject_box(kite, "kite")
    assert (x, y, size) == SUBJECTS["kite"][0] and "kite" in words
    assert x <= 503 and y <= 163 and x + size >= 557 and y + size >= 208  # the kite's extent in the photo
    crop = kite.crop((0, 0, 400, 300))
    box, words = subject_box(crop, None)
    assert box == zoom_box(crop, 128) and "most textured" in words


def test_demo_errors_are_one_line_exit_2(tmp_path):
    not_image = tmp_path / "x.jpg"
    not_image.write_text("hello")
    photo = tmp_path / "p.png"
    from PIL import Image

    Image.new("RGB", (64, 48)).save(photo)
    for args, message in ((["demo", str(not_image)], "not a readable image"),
                          (["demo", str(tmp_path / "missing.jpg")], "no photo"),
                          (["demo", str(photo), "--zoom", "40,40,32"], "not a square inside the 64x48 photo"),
                          (["demo", str(photo), "--zoom", "a,b"], "--zoom takes X,Y,SIZE")):
        proc = subprocess.run([sys.executable, "-m", "ditic_lite.cli", *args], capture_output=True, text=True)
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (
            args, proc.stderr)
