"""The teaching helpers of notebooks 05-07 added for students: your photo among the measured
photos, the published curve kept apart with a computed caption, the ablation said plainly,
captions for retrieval, a borrowed condition, and plain questions for every verdict."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import ditic_lite as dl
from ditic_lite import claims, plots, teaching
from ditic_lite.teaching import tier as T


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setattr(T, "online", lambda *a, **k: pytest.fail("network probed"))
    monkeypatch.setenv("DITIC_RESULTS", str(tmp_path / "results"))


def _results(images=("a.png", "b.png")) -> pd.DataFrame:
    rows = []
    for i, image in enumerate(images):
        for codec, offset in (("tiny", 0.0), ("mse", -0.5), ("webp-ds", 0.3)):
            for rate, bpp in enumerate((0.01, 0.02, 0.04)):
                psnr = 25 + 3 * rate + offset - 4 * i
                rows.append({"image": image, "codec": codec, "rate": rate, "steps": 1 if codec != "webp-ds" else 0,
                             "bpp": bpp * (1 + 0.1 * i), "psnr": psnr, "ms_ssim": 0.8 + psnr / 1000,
                             "detail": 0.02 * (rate + 1) * (2 if codec == "tiny" else 1)})
    return pd.DataFrame(rows)


def test_your_photo_joins_the_measured_photos(tmp_path):
    run = teaching.choose_tier("tiny")
    assert run.evaluation_folder(3, include="kite") == (dl.notebook.samples_dir(), "the sample photos")  # among them
    big = tmp_path / "holiday.jpg"
    Image.fromarray((np.indices((1200, 1600)).sum(0) % 256).astype(np.uint8)).convert("RGB").save(big)
    folder, what = run.evaluation_folder(2, include=str(big))
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["balloons.png", "holiday.png"] and "with your photo holiday in place of kite" in what
    assert Image.open(folder / "holiday.png").size == (T.EVALUATION_SIDE, 576)  # at most 768 px a side, aspect kept
    assert folder.parent == dl.notebook.results_dir()  # in the results folder, never beside the photo
    assert run.photo(str(big), folder) == folder / "holiday.png"  # the spectra use the photo the curves measured
    own = tmp_path / "mine"
    own.mkdir()
    for name in ("x", "y"):
        Image.new("RGB", (64, 48), (10, 200, 30)).save(own / f"{name}.png")
    assert run.evaluation_folder(5, str(own)) == (own.resolve(), "the photos in mine/")
    with pytest.raises(FileNotFoundError, match="not a folder of images"):
        run.evaluation_folder(1, str(tmp_path / "nothing"))


def test_tiny_curves_are_measured_on_the_folder_given(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(teaching.rate_curves, "rd_table", lambda data=None, **kw: seen.update(data=data) or "table")
    assert teaching.choose_tier("tiny").rd_table(tmp_path, "x", 1, ["psnr"]) == "table" and seen["data"] == tmp_path


def test_reference_caption_is_computed_from_the_run(random_codec):
    text = teaching.reference_caption(_results(), random_codec, "the sample photos")
    lines = text.splitlines()
    assert f"{dl.model.count_parameters(random_codec.model) / 1e6:,.1f} M parameters" in lines[0] and "1.05 B" in lines[0]
    assert "do not compare the heights" in lines[1]
    scores = teaching.lowest_rate_scores(_results(), "tiny")
    assert list(scores.index) == ["a.png", "b.png"] and scores.iloc[0] - scores.iloc[1] == pytest.approx(4.0)
    assert "25.0 dB on a.png and 21.0 dB on b.png, 4.0 dB apart" in lines[2]
    one = teaching.reference_caption(_results(("a.png",)), random_codec, "the sample photos")
    assert "measured one photo" in one


def test_measured_and_published_curves_are_separate_figures():
    import matplotlib.pyplot as plt

    measured = plots.measured_curves(_results(), metrics=["psnr", "detail"], title="T")
    assert [ax.get_title() for ax in measured.axes] == ["measured here: PSNR (dB)",
                                                        "measured here: detail retention (1 = original)"]
    assert plots.PAPER_LABEL not in [line.get_label() for ax in measured.axes for line in ax.get_lines()]
    published = plots.published_curves("kodak", metrics=["psnr", "ms_ssim"])
    labels = [line.get_label() for ax in published.axes for line in ax.get_lines()]
    assert labels == [plots.PAPER_LABEL] * 2 and all("Kodak" in ax.get_title() for ax in published.axes)
    plt.close("all")


def test_the_short_ablation_is_said_to_show_nothing():
    shipped = teaching.ablation_report(teaching.alignment_ablation())
    table = teaching.alignment_ablation()
    full, none = table.set_index("variant").loc["full"], table.set_index("variant").loc["no_distill"]
    if abs(full["psnr"] - none["psnr"]) < claims.MARGINS["psnr"]:  # the shipped 60-step runs: 0.002 dB apart
        assert shipped.startswith("In plain words: this ablation shows nothing.")
        assert f"{abs(full['psnr'] - none['psnr']):.3f} dB" in shipped.splitlines()[0]
    far = table.assign(psnr=[23.0, 22.0], cosine_yhat_encoder=[0.95, 0.90])
    assert "read it as a hint, not a verdict" in teaching.ablation_report(far)


def test_captioned_leaves_out_photos_without_a_caption(capsys):
    kept = teaching.captioned({"kite": 1, "holiday": 2}, {"kite": "a kite"})
    assert kept == {"kite": 1} and "no caption for holiday" in capsys.readouterr().out


def test_swap_condition_decodes_the_same_bytes_with_another_condition(random_codec):
    a = Image.fromarray((np.indices((64, 64)).sum(0) % 256).astype(np.uint8)).convert("RGB")
    b = Image.new("RGB", (96, 64), (20, 200, 90))
    images, scores = teaching.swap_condition(random_codec, a, b)
    assert list(images) == ["own condition", "donor's condition"] and all(im.size == a.size for im in images.values())
    assert scores["own condition"]["psnr"] == pytest.approx(dl.metrics.psnr(a, random_codec.decompress(random_codec.compress(a))))
    same, same_scores = teaching.swap_condition(random_codec, a, a)
    assert same_scores["own condition"] == same_scores["donor's condition"]  # its own condition: the same pixels


def test_reproduce_points_takes_named_images(random_codec):
    photo = Image.new("RGB", (64, 64), (120, 90, 30))
    points = teaching.reproduce_points(random_codec, {"mine": photo}, metrics=["psnr"])
    assert list(points["image"]) == ["mine", "mean"]


def test_builders_of_05_to_07_give_every_verdict_a_plain_question():
    rd = claims.rd_claims(_results(), test="tiny")
    distill = pd.DataFrame([{"image": i, "latent": lat, "cosine": c} for i in "ab"
                            for lat, c in (("y_tilde x", 0.5), ("y_hat x", 0.6))])
    cond = pd.DataFrame({"image": ["a", "b"], "psnr_latent": [20.0, 21.0], "psnr_empty": [19.0, 20.5]})
    retrieval = pd.DataFrame({"image": ["a", "b"], "correct": [True, False]})
    align = claims.alignment_claims(distill, cond, retrieval)
    official = claims.official_claims(pd.DataFrame(), None, "tiny")
    published = pd.Series({"rate_index": 1, "psnr": 25.0, "bpp": 0.05})
    points = pd.DataFrame({"image": ["k1", "k2", "mean"], "psnr": [25.1, 24.9, 25.0], "bpp": [0.05, 0.05, 0.05]})
    reproduced = claims.official_claims(points, published, "official", "rank64/128 (release update)")
    verdicts = rd + align + official + reproduced
    assert len(rd) == 2 and len(align) == 3 and len(official) == len(reproduced) == 3
    for v in verdicts:
        assert v.plain.endswith("?") and claims.takeaway(v).startswith(v.plain), v
    assert "WebP on a downscaled copy" in rd[1].plain and "Not checked in this run" in claims.takeaway(official[0])


def test_perceptual_weights_are_downloaded_only_when_asked(monkeypatch, tmp_path, capsys):
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # nothing cached
    monkeypatch.setattr(teaching.rate_curves, "online", lambda *a, **k: True)  # a reachable network
    monkeypatch.setattr(dl.metrics, "available", lambda name: True)
    assert teaching.default_metrics() == ["psnr", "ms_ssim", "detail"] and capsys.readouterr().out == ""
    assert teaching.default_metrics(download=True) == ["psnr", "ms_ssim", "detail", "lpips", "dists"]
    assert "about 761 MB" in capsys.readouterr().out
