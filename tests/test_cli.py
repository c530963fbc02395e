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


def test_demo_codes_every_rate_point_and_a_baseline_in_no_more_bytes(tmp_path, sample_paths, capsys):
    from PIL import Image

    from ditic_lite.zoo import available_rates

    src = tmp_path / "crop.png"
    Image.open(sample_paths[0]).crop((0, 0, 256, 192)).save(src)
    figure, bits = tmp_path / "demo.png", tmp_path / "demo.ditic"
    assert main(["demo", str(src), "--figure", str(figure), "--bitstream", str(bits)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rates = available_rates("tiny")
    printed = [int(re.search(r": (\d+) bytes", line).group(1)) for line in lines[:len(rates) + 1]]
    files = [tmp_path / f"demo_rate{r}.ditic" for r in rates]
    assert printed[:-1] == [f.stat().st_size for f in files]  # the bytes shown are the files written
    assert printed[:-1] == sorted(printed[:-1]) and len(set(printed[:-1])) == len(rates)
    assert lines[len(rates)].startswith("webp-ds (same bytes or fewer)") and printed[-1] <= printed[-2]
    assert figure.stat().st_size > 10_000
    assert main(["decompress", str(files[-1]), str(tmp_path / "r.png")]) == 0

    assert main(["demo", str(src), "--rate", "1", "--baseline", "none", "--figure", str(figure),
                 "--bitstream", str(bits)]) == 0
    out = capsys.readouterr().out
    assert out.count(" bytes, ") == 1 and "rate 1" in out and bits.exists()
