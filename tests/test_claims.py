"""Verdict rules and builders (``ditic_lite.claims``): each rule flips when its input does.

The rules are pure functions of measured numbers, so synthetic inputs check them; one slow test
runs ``ditic-lite claims`` on one sample photo with the shipped checkpoints.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ditic_lite import claims as C
from ditic_lite.cli import main
from ditic_lite.training.data import VALIDATION

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"


# ------------------------------------------------------------------------------------ rules
def test_verdict_rejects_unknown_outcomes():
    with pytest.raises(ValueError, match="verdict"):
        C.Verdict("c", "m", "maybe", "r")


def test_correlation_flips_with_the_sign_of_the_data():
    n = [384, 384, 384]
    assert C.correlation("x", [0.4, 0.5, 0.45], n).verdict == "supports"
    assert C.correlation("x", [-0.4, -0.5, -0.45], n).verdict == "contradicts"
    assert C.correlation("x", [-0.5, 0.06, 0.5], n).verdict == "inconclusive"  # images disagree
    assert C.correlation("x", [-0.4, -0.5, -0.45], n, expect=-1).verdict == "supports"
    assert C.correlation("x", [0.02], [50]).verdict == "inconclusive"  # too few points to tell


def test_pooled_correlation_one_image_is_the_fisher_interval():
    rho, lo, hi = C.pooled_correlation([0.3], [103])
    half = 1.959964 * np.sqrt(1.06 / 100)
    assert rho == pytest.approx(0.3)
    assert (lo, hi) == pytest.approx((np.tanh(np.arctanh(0.3) - half), np.tanh(np.arctanh(0.3) + half)), abs=1e-6)
    # disagreeing images widen the interval (random effects) compared with agreeing ones
    _, lo1, hi1 = C.pooled_correlation([0.3, 0.31, 0.29], [384] * 3)
    _, lo2, hi2 = C.pooled_correlation([0.0, 0.3, 0.6], [384] * 3)
    assert hi2 - lo2 > 3 * (hi1 - lo1)


def test_better_supports_contradicts_inconclusive():
    assert C.better("a", [0.5, 0.6, 0.55], 0.1).verdict == "supports"
    assert C.better("a", [-0.01, 0.01, 0.0], 0.1).verdict == "contradicts"  # rules out a 0.1 gain
    assert C.better("a", [-1.0, 2.0, 0.5], 0.1).verdict == "inconclusive"
    assert C.better("a", [-0.5, -0.6, -0.55], 0.1).verdict == "contradicts"
    one = C.better("a", [3.0], 0.1)
    assert one.verdict == "inconclusive" and "needs >= 2" in one.rule
    v = C.better("a", [0.5, 0.6, 0.55], 0.1, " dB")
    assert v.low > 0 and v.n == 3 and "+0.550 dB" in v.measured


def test_no_worse_is_a_non_inferiority_test():
    assert C.no_worse("a", [0.0, 0.02, -0.01], 0.1).verdict == "supports"
    assert C.no_worse("a", [-0.5, -0.52, -0.49], 0.1).verdict == "contradicts"  # more steps help
    assert C.no_worse("a", [-0.5, 0.4, 0.0], 0.1).verdict == "inconclusive"


def test_above_chance_and_wilson():
    assert C.above_chance("r", 30, 30, 1 / 3).verdict == "supports"
    assert C.above_chance("r", 0, 30, 1 / 3).verdict == "contradicts"
    assert C.above_chance("r", 2, 3, 1 / 3).verdict == "inconclusive"  # 2 of 3 images: cannot tell
    lo, hi = C.wilson_interval(5, 10)
    assert lo < 0.5 < hi and 0 < lo and hi < 1


def test_matches_and_at_most():
    assert C.matches("p", [0.1, -0.1, 0.05], 0.5).verdict == "supports"
    assert C.matches("p", [-2.0, -2.2, -1.9], 0.5).verdict == "contradicts"
    assert C.matches("p", [-0.4, 0.8, 0.1], 0.5).verdict == "inconclusive"
    assert C.at_most("m", 9.0, 16.0).verdict == "supports"
    assert C.at_most("m", 20.0, 16.0).verdict == "contradicts"
    assert C.at_most("m", float("nan"), 16.0).verdict == "inconclusive"


def test_table_columns():
    v = [C.better("a", [0.5, 0.6], 0.1, notebook="02")]
    assert list(C.table(v).columns) == ["claim", "measured", "verdict", "rule"]
    assert list(C.table(v, full=True).columns) == ["notebook", "claim", "measured", "verdict", "rule",
                                                   "estimate", "low", "high", "n"]


# ------------------------------------------------------------------------------- equal rate
def _rd(test_shift: float) -> pd.DataFrame:
    rows = []
    for image in ("a", "b", "c"):
        for bpp in (0.02, 0.04, 0.08):
            rows.append({"image": image, "codec": "anchor", "bpp": bpp, "psnr": 20 + 10 * bpp})
            rows.append({"image": image, "codec": "test", "bpp": bpp * 1.1, "psnr": 20 + 10 * bpp * 1.1 + test_shift})
    return pd.DataFrame(rows)


def test_equal_rate_differences_interpolate_in_log_rate():
    d = C.equal_rate_differences(_rd(0.5), "test", "anchor", "psnr")
    assert list(d.index) == ["a", "b", "c"]
    assert d.to_numpy() == pytest.approx(0.5, abs=0.05)
    far = _rd(0.0)
    far.loc[far["codec"] == "test", "bpp"] *= 100  # no common rate range
    assert C.equal_rate_differences(far, "test", "anchor", "psnr").empty


# ------------------------------------------------------------------------------- builders
def test_variance_verdict_flips_with_the_measured_correlation():
    sigma = pd.DataFrame({"image": ["a", "b", "c"], "positions": [384] * 3,
                          "r_error": [-0.41, -0.13, -0.40], "r_texture": [0.4, 0.5, 0.45]})
    ablation = pd.DataFrame({"image": ["a", "b", "c"], "psnr_pixelwise": [20.0, 21.0, 22.0],
                             "psnr_global": [20.01, 20.98, 22.02]})
    v = {x.claim.split(" (")[0]: x.verdict for x in C.variance_claims(sigma, ablation)}
    demand = [k for k in v if "further from the truth" in k][0]
    assert v[demand] == "contradicts" and v["σ is larger in textured regions"] == "supports"
    sigma["r_error"] = -sigma["r_error"]
    flipped = [x for x in C.variance_claims(sigma, ablation) if "further from the truth" in x.claim][0]
    assert flipped.verdict == "supports"


def test_border_ring_verdict_compares_sigma_with_what_explains_a_ring():
    sigma = pd.DataFrame({"image": ["a", "b", "c", "d"], "positions": [384] * 4,
                          "r_error": [0.5] * 4, "r_texture": [0.5] * 4,
                          "ring_sigma": [1.0, 0.3, 0.1, 0.5], "ring_error": [1.05, 0.4, 0.0, 0.6],
                          "ring_texture": [-0.2, 0.0, 0.15, 0.4]})
    ablation = pd.DataFrame({"image": ["a", "b", "c", "d"]})

    def ring() -> C.Verdict:
        return [x for x in C.variance_claims(sigma, ablation) if "border" in x.claim][0]

    assert ring().verdict == "supports"  # every ring in σ is matched by the demand's or texture's
    sigma["ring_sigma"] += 1.0  # one standard deviation more at the border, explained by nothing
    assert ring().verdict == "contradicts" and ring().estimate == pytest.approx(-0.925)
    assert not [x for x in C.variance_claims(sigma.drop(columns="ring_sigma"), ablation) if "border" in x.claim]


def _steps_table(one: float) -> pd.DataFrame:
    rows = []
    for image, base in (("a", 20.0), ("b", 22.0), ("c", 21.0)):
        for k in (1, 2, 4):
            rows.append({"image": image, "method": "DiT-IC (adapted, variance-guided)", "steps": k,
                         "psnr": base + (one if k == 1 else 0.0)})
            rows.append({"image": image, "method": "base DiT (un-adapted, SDEdit sampler)", "steps": k,
                         "psnr": base - 2.0 + 0.1 * k})
    return pd.DataFrame(rows)


def test_steps_verdicts():
    v = {x.claim: x.verdict for x in C.steps_claims(_steps_table(-0.5), metrics=("psnr",))}
    assert list(v.values()) == ["contradicts", "supports"]
    v = {x.claim: x.verdict for x in C.steps_claims(_steps_table(0.0), metrics=("psnr",))}
    assert list(v.values()) == ["supports", "supports"]


def test_rd_claims_use_detail_error_at_equal_rate():
    rows = []
    for image in ("a", "b", "c"):
        for bpp in (0.02, 0.04, 0.08):
            rows.append({"image": image, "codec": "mse", "bpp": bpp, "detail": 0.2})
            rows.append({"image": image, "codec": "tiny", "bpp": bpp, "detail": 0.8})
    res = pd.DataFrame(rows)
    [v] = C.rd_claims(res, anchors=("mse",))
    assert v.verdict == "supports"
    res.loc[res["codec"] == "tiny", "detail"] = 0.05  # more lost than the anchor
    assert C.rd_claims(res, anchors=("mse",))[0].verdict == "contradicts"


def test_alignment_claims():
    distill = pd.DataFrame([{"image": i, "latent": lat, "cosine": c}
                            for i, (a, b) in {"a": (0.5, 0.7), "b": (0.6, 0.8), "c": (0.55, 0.76)}.items()
                            for lat, c in (("y_tilde (before the DiT)", a), ("y_hat (one-step output)", b))])
    cond = pd.DataFrame({"image": ["a", "b", "c"], "psnr_latent": [20.0, 21.0, 22.0], "psnr_empty": [20.0, 21.01, 21.99]})
    retrieval = pd.DataFrame({"image": ["a", "b", "c"], "correct": [True, True, False]})
    v = [x.verdict for x in C.alignment_claims(distill, cond, retrieval)]
    assert v == ["supports", "contradicts", "inconclusive"]


def test_official_claims_need_the_official_tier():
    assert {v.verdict for v in C.official_claims(pd.DataFrame(), None, "tiny")} == {"inconclusive"}
    published = pd.Series({"rate_index": 1, "bpp": 0.05, "psnr": 23.0})
    points = pd.DataFrame({"image": ["1", "2", "3", "mean"], "bpp": [0.049, 0.051, 0.05, 0.05],
                           "psnr": [23.05, 22.97, 23.0, 23.0]})
    timing = pd.DataFrame({"size": ["2048x2048"], "device": ["cuda"], "peak_mem_mb": [9000.0]})
    v = C.official_claims(points, published, "official", "rank64/128 (release update)", timing)
    assert [x.verdict for x in v] == ["supports", "supports", "supports"]
    assert "rate point 1" in v[0].claim
    points["psnr"] -= 3.0
    assert C.official_claims(points, published, "official")[0].verdict == "contradicts"


def test_matches_finite_population_correction():
    d = [0.3, -0.3, 0.25, -0.2]
    assert C.matches("p", d, 0.2).verdict == "inconclusive"
    whole = C.matches("p", d, 0.2, population=4)  # every image of the set: the mean is exact
    assert whole.verdict == "supports" and whole.low == whole.high == pytest.approx(np.mean(d))


def test_reproduce_helpers():
    from ditic_lite import reference, reproduce

    assert reproduce.release_rank("/x/q2_merge_ema.pt") == reference.UPDATED_MODEL
    assert reproduce.release_rank("my_finetune.pt") is None and reproduce.release_rank(None) is None
    point = reproduce.published_point(0.085, reference.UPDATED_MODEL)
    assert int(point["rate_index"]) == 2  # 0.0805 bpp is the nearest of 0.009 / 0.044 / 0.081 / 0.100
    assert reproduce.published_point(0.085, None) is None
    assert reproduce.timing_sizes("official", "cpu", [[2048, 2048]]) == list(reproduce.CPU_OFFICIAL_SIZES)
    assert reproduce.timing_sizes("tiny", "cpu", [[1024, 512]]) == [(1024, 512)]
    timing = pd.DataFrame({"size": ["512x512"], "decode_s": [0.4], "device": ["cpu"]})
    lat = reproduce.latency_table(timing, "tiny")
    assert lat["source"].iloc[0] == "measured here" and {"1024x1024", "4096x4096"} <= set(lat["size"])


# ------------------------------------------------------------------------------------ CLI
def test_cli_writes_the_csv(monkeypatch, tmp_path, capsys):
    fake = C.table([C.better("a claim", [0.5, 0.6, 0.55], 0.1, notebook="02")], full=True)
    monkeypatch.setattr(C, "collect", lambda **kw: fake)
    out = tmp_path / "claims.csv"
    assert main(["claims", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["notebook", "claim", "measured", "verdict", "rule", "estimate", "low", "high", "n"]
    assert "1 supports" in capsys.readouterr().out


def test_held_out_samples_are_written_like_data_samples(held_out_collection, tmp_path):
    names = C.write_held_out_samples(held_out_collection, tmp_path)
    assert names == [rel.replace("/", "-") for rel in VALIDATION]
    captions = pd.read_csv(tmp_path / "captions.csv")
    assert list(captions["file"]) == names and captions["caption"].iloc[1] == "held-out photo 1"
    assert {Image.open(tmp_path / name).size for name in names} == {(768, 512)}


def test_cli_claims_on_the_held_out_photos(monkeypatch, held_out_collection, tmp_path):
    from ditic_lite.notebook import sample_paths

    coded = []

    def fake_collect(images=None, **options):
        coded.extend(p.name for p in sample_paths()[:images])
        return C.table([C.better("a claim", [0.5, 0.6, 0.55], 0.1, notebook="02")], full=True)

    monkeypatch.setattr(C, "collect", fake_collect)
    monkeypatch.delenv("DITIC_SAMPLES", raising=False)
    out = tmp_path / "claims_validation.csv"
    assert main(["claims", "--validation-data", str(held_out_collection), "--images", "2", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == list(pd.read_csv(RESULTS / "claims_validation.csv", nrows=0).columns)
    assert coded == ["debian-mate-dune.png", "debian-mate-ladybird.png"] and df["photos"].iloc[0] == " ".join(coded)
    assert "DITIC_SAMPLES" not in os.environ  # the sample photos are the kit's again


@pytest.mark.slow
def test_cli_claims_on_the_shipped_checkpoints(tmp_path):
    out = tmp_path / "claims.csv"
    assert main(["claims", "--images", "1", "--steps", "1,2", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert set(df["notebook"].astype(str).str.zfill(2)) == {"02", "03", "05", "06", "07"}
    assert set(df["verdict"]) <= set(C.VERDICTS)
