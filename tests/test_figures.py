"""What the figure builders draw (``plots.py``: charts of numbers; ``viz.py``: pictures of images
and latents): axes, lines and their data, images, labels, titles and legends. Synthetic inputs."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ditic_lite import plots, reference, viz


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _image(seed: int, w: int = 64, h: int = 48) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def _shown(ax: plt.Axes) -> np.ndarray:
    """The pixels of the (single) image drawn on ``ax``."""
    assert len(ax.images) == 1
    return np.asarray(ax.images[0].get_array())


def _results() -> pd.DataFrame:
    """A per-image results table: two images, jpeg (3 rates) and tiny at 1 and 2 steps (2 rates)."""
    rows = []
    for image, shift in (("a", 0.0), ("b", 0.02)):
        for rate, (bpp, psnr) in enumerate([(0.10, 25.0), (0.20, 27.0), (0.40, 30.0)]):
            rows.append({"image": image, "codec": "jpeg", "rate": rate, "steps": 0, "bpp": bpp + shift, "psnr": psnr + 10 * shift})
        for steps in (1, 2):
            for rate, (bpp, psnr) in enumerate([(0.05, 24.0), (0.10, 26.0)]):
                rows.append({"image": image, "codec": "tiny", "rate": rate, "steps": steps, "bpp": bpp + shift,
                             "psnr": psnr + steps + 10 * shift})
    df = pd.DataFrame(rows)
    df["ms_ssim"] = 0.8 + df["psnr"] / 1000
    return df


# ------------------------------------------------------------------------------ plots: RD curves
def test_plot_rd_draws_one_line_per_codec_and_steps_with_the_averaged_points():
    results = _results()
    fig = plots.plot_rd(results, metrics=["psnr", "ms_ssim"], reference_dataset="kodak", title="RD")
    assert len(fig.axes) == 2 and fig._suptitle.get_text() == "RD"
    points = plots.rate_points(results)
    for ax, metric in zip(fig.axes, ["psnr", "ms_ssim"]):
        assert ax.get_xlabel() == "bits per pixel" and ax.get_ylabel() == plots.METRIC_LABELS[metric]
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert list(lines) == ["jpeg", "tiny, 1 step", "tiny, 2 steps", plots.PAPER_LABEL]
        for label, codec, steps in (("jpeg", "jpeg", 0), ("tiny, 2 steps", "tiny", 2)):
            expected = points[(points["codec"] == codec) & (points["steps"] == steps)]
            np.testing.assert_allclose(lines[label].get_xdata(), expected["bpp"])
            np.testing.assert_allclose(lines[label].get_ydata(), expected[metric])
        np.testing.assert_allclose(lines["jpeg"].get_xdata(), [0.11, 0.21, 0.41])  # mean over the images
        published = reference.curve("kodak").dropna(subset=[metric])
        assert len(lines[plots.PAPER_LABEL].get_xdata()) <= len(published)
        assert lines[plots.PAPER_LABEL].get_linestyle() == "--"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["jpeg", "tiny, 1 step", "tiny, 2 steps", plots.PAPER_LABEL]
    assert fig.axes[1].get_legend() is None


def test_plot_rd_uses_only_metrics_present():
    fig = plots.plot_rd(_results().drop(columns="ms_ssim"))
    assert [ax.get_ylabel() for ax in fig.axes] == ["PSNR (dB)"]
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["jpeg", "tiny, 1 step", "tiny, 2 steps"]


def test_rd_with_reference_keeps_measured_and_published_apart():
    results = _results()
    fig = plots.rd_with_reference(results, metrics=["psnr", "ms_ssim"], dataset="kodak", title="T")
    assert len(fig.axes) == 4 and fig._suptitle.get_text() == "T"
    measured, published = fig.axes[0], fig.axes[2]  # 2x2 grid: measured on top, published below
    # one curve per (codec, steps), labelled by codec only
    assert [line.get_label() for line in measured.get_lines()] == ["jpeg", "tiny", "tiny"]
    assert measured.get_xscale() == "log" and measured.get_xlabel() == "bits per pixel (log scale)"
    assert measured.get_title() == "measured here: PSNR (dB)"
    tiny_1 = plots.rate_points(results).query("codec == 'tiny' and steps == 1")
    np.testing.assert_allclose(measured.get_lines()[1].get_ydata(), tiny_1["psnr"])
    [paper] = published.get_lines()
    assert paper.get_label() == plots.PAPER_LABEL and "published DiT-IC on Kodak" in published.get_title()
    curve = reference.curve("kodak")
    if "psnr_suspect" in curve:
        curve = curve[~curve["psnr_suspect"].astype(bool)]
    np.testing.assert_allclose(paper.get_xdata(), curve.dropna(subset=["psnr"])["bpp"])


def test_rd_with_reference_says_when_nothing_was_published():
    results = _results().assign(detail=0.5)
    fig = plots.rd_with_reference(results, metrics=["detail"])
    top, bottom = fig.axes
    assert top.get_yscale() == "log" and "original" in [line.get_label() for line in top.get_lines()]
    assert [t.get_text() for t in bottom.texts] == ["no published detail curve"] and not bottom.axison


# ------------------------------------------------------------------------------ plots: charts
def test_histograms_one_panel_per_entry():
    values = {"sigma": np.geomspace(0.01, 10, 200), "t": np.arange(100)}
    fig = plots.histograms(values, bins=12, xlabel=["std", "timestep"], log=[True, False])
    assert [ax.get_title() for ax in fig.axes] == ["sigma", "t"]
    assert [ax.get_xlabel() for ax in fig.axes] == ["std", "timestep"]
    assert [ax.get_xscale() for ax in fig.axes] == ["log", "linear"]
    for ax, v in zip(fig.axes, values.values()):
        assert len(ax.patches) == 12 and sum(p.get_height() for p in ax.patches) == len(v)


def test_scatter_draws_the_points_and_their_fit():
    table = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 3.0, 5.0, 7.0]})
    fig = plots.scatter(table, "x", "y", title="fit", ylabel="why")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), table[["x", "y"]].to_numpy())
    [fit] = ax.get_lines()
    assert fit.get_label() == "fit: slope 2"
    np.testing.assert_allclose(fit.get_ydata(), 2 * fit.get_xdata() + 1)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("x", "why", "fit")


def test_steps_chart_one_line_per_method_and_column():
    table = pd.DataFrame({"method": ["a", "a", "a", "b", "b", "b"], "steps": [1, 2, 4] * 2,
                          "psnr": [20, 21, 22, 19, 20, 21.0], "decode_s": [0.1, 0.2, 0.4, 0.1, 0.3, 0.5]})
    fig = plots.steps_chart(table)  # ms_ssim absent: two panels
    assert [ax.get_ylabel() for ax in fig.axes] == ["PSNR (dB)", "decode time (s)"]
    for ax, col in zip(fig.axes, ["psnr", "decode_s"]):
        assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
        np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), table[table["method"] == "b"][col])
        assert ax.get_xscale() == "log"
    assert fig.axes[1].get_ylim()[0] == 0


def test_power_spectra_draws_each_source_and_its_ratio():
    spectra = pd.DataFrame({"source": ["original"] * 3 + ["rec"] * 3, "frequency": [0.1, 0.2, 0.4] * 2,
                            "power": [4.0, 2.0, 1.0, 4.0, 1.0, 0.25], "ratio": [1, 1, 1, 1.0, 0.5, 0.25]})
    fig = plots.power_spectra(spectra, band=(0.15, 0.5), title="S")
    power, ratio = fig.axes
    assert [line.get_label() for line in power.get_lines()] == ["original", "rec"]
    np.testing.assert_allclose(power.get_lines()[1].get_ydata(), [4.0, 1.0, 0.25])
    rec = [line for line in ratio.get_lines() if line.get_label() == "rec"]
    np.testing.assert_allclose(rec[0].get_ydata(), [1.0, 0.5, 0.25])
    assert power.get_xscale() == power.get_yscale() == "log" and fig._suptitle.get_text() == "S"


def test_main_table_chart_one_point_and_label_per_method():
    table = pd.DataFrame({"method": ["A", "B", "C"], "latency_1024px_s": [0.5, 3.0, 20.0],
                          "dists_bd_rate_pct": [-10.0, 5.0, 0.0], "diffusion_steps": [1, 4, 50]})
    ax = plots.main_table_chart(table).axes[0]
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    np.testing.assert_allclose(offsets, table[["latency_1024px_s", "dists_bd_rate_pct"]].to_numpy())
    assert [t.get_text() for t in ax.texts] == ["A (1 step)", "B (4 steps)", "C (50 steps)"]
    assert ax.get_ylabel() == "DISTS BD-rate vs PerCo (%)"


def test_timing_bars_stack_the_stages_and_plot_memory():
    table = pd.DataFrame({"size": ["64x64", "128x128"], "entropy_s": [0.1, 0.2], "dit_s": [0.2, 0.4],
                          "decoder_s": [0.3, 0.5], "peak_mem_mb": [1024.0, 3072.0], "device": ["cpu", "cpu"]})
    fig = plots.timing_bars(table, title="T")
    bars, memory = fig.axes
    heights = np.array([p.get_height() for p in bars.patches]).reshape(3, 2)
    np.testing.assert_allclose(heights, table[["entropy_s", "dit_s", "decoder_s"]].to_numpy().T)
    tops = np.array([p.get_y() + p.get_height() for p in bars.patches]).reshape(3, 2)[-1]
    np.testing.assert_allclose(tops, [0.6, 1.1])  # stacked: the last stage ends at the total
    assert [t.get_text() for t in bars.get_legend().get_texts()] == ["entropy", "dit", "decoder"]
    np.testing.assert_allclose(memory.get_lines()[0].get_ydata(), [1.0, 3.0])  # GB
    assert len(plots.timing_bars(table.drop(columns="peak_mem_mb")).axes) == 1


def test_viz_still_offers_the_charts_notebooks_call():
    for name in ("histograms", "scatter", "steps_chart", "rd_with_reference", "power_spectra",
                 "main_table_chart", "timing_bars"):
        assert getattr(viz, name) is getattr(plots, name)


# ------------------------------------------------------------------------------ viz: pictures
def test_side_by_side_rows_titles_and_crops(tmp_path):
    images = [_image(i) for i in range(3)]
    out = tmp_path / "sub" / "side.png"
    fig = viz.side_by_side(images, ["a", "b", "c"], suptitle="S", ncols=2, crop=(8, 4, 16), path=out)
    assert out.stat().st_size > 0 and fig._suptitle.get_text() == "S"
    axes = np.array(fig.axes).reshape(4, 2)  # 2 groups of (images, crops) x 2 columns
    for i, (im, title) in enumerate(zip(images, "abc")):
        top, zoom = axes[2 * (i // 2), i % 2], axes[2 * (i // 2) + 1, i % 2]
        assert np.array_equal(_shown(top), np.asarray(im)) and top.get_title() == title
        assert np.array_equal(_shown(zoom), np.asarray(im.crop((8, 4, 24, 20))))
        assert zoom.get_title() == "zoom (16x16 px)"
        [box] = top.patches
        assert box.get_xy() == (8, 4) and box.get_width() == box.get_height() == 16
    assert not axes[2, 1].images and not axes[3, 1].images
    plain = viz.side_by_side(images[:2], ["a", "b"])
    assert len(plain.axes) == 2 and not plain.axes[0].patches


def test_heatmaps_show_the_image_then_each_map_with_a_colour_bar():
    image = _image(0)
    maps = {"sigma": np.arange(12.0).reshape(3, 4), "t": np.ones((3, 4))}
    fig = viz.heatmaps(image, maps, cmaps=["magma", "viridis"], suptitle="H")
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 3 and len(fig.axes) == 5  # two colour bars
    assert np.array_equal(_shown(panels[0]), np.asarray(image)) and panels[0].get_title() == "image"
    for ax, (title, values), cmap in zip(panels[1:], maps.items(), ["magma", "viridis"]):
        assert np.array_equal(_shown(ax), values) and ax.get_title() == title
        assert ax.images[0].get_cmap().name == cmap
    assert fig._suptitle.get_text() == "H"


def test_comparison_grid_rows_columns_reference_and_crops():
    a1, a2, b1, ref = (_image(i) for i in range(4))
    fig = viz.comparison_grid({"multi": {1: a1, 2: a2}, "base": {1: b1}}, crop=(0, 0, 16), reference=ref)
    axes = np.array(fig.axes).reshape(2, 3)  # rows: methods; columns: original, K = 1, K = 2

    def crop(im: Image.Image) -> np.ndarray:
        return np.asarray(im.crop((0, 0, 16, 16)))

    assert [ax.get_title() for ax in axes[0]] == ["original", "K = 1", "K = 2"]
    for ax, im in zip(axes[0], (ref, a1, a2)):
        assert np.array_equal(_shown(ax), crop(im))
    assert np.array_equal(_shown(axes[1, 1]), crop(b1)) and not axes[1, 2].images  # no K = 2 for base
    assert [t.get_text() for t in axes[0, 0].texts] == ["multi"] and [t.get_text() for t in axes[1, 0].texts] == ["base"]


def test_similarity_matrix_values_and_best_match_boxes():
    sim = np.array([[0.9, 0.1, 0.3], [0.2, 0.4, 0.8]])
    fig = viz.similarity_matrix(sim, ["img a", "img b"], ["cap a", "cap b", "cap c"], title="M")
    ax = fig.axes[0]
    assert np.array_equal(_shown(ax), sim) and ax.get_title() == "M"
    assert [t.get_text() for t in ax.texts] == ["0.90", "0.10", "0.30", "0.20", "0.40", "0.80"]
    assert [p.get_xy() for p in ax.patches] == [(-0.5, -0.5), (1.5, 0.5)]  # columns 0 and 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cap a", "cap b", "cap c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["img a", "img b"]


def test_pipeline_diagram_one_box_per_stage():
    shapes = pd.DataFrame({"stage": ["input", "encoder", "encoder", "decoder"], "tensor": ["x", "y", "z", "x_hat"],
                           "shape": ["1x3x64x64", "1x4x8x8", "1x4x2x2", "1x3x64x64"], "scale": ["1", "1/8", "1/32", "1"]})
    ax = viz.pipeline_diagram(shapes, title="P").axes[0]
    assert len(ax.patches) == 3 and ax.get_title() == "P"
    texts = [t.get_text() for t in ax.texts]
    assert ["input", "encoder", "decoder"] == [t for t in texts if t in ("input", "encoder", "decoder")]
    assert any("1x4x2x2  (1/32)" in t for t in texts)


# ------------------------------------------------------------------------------ viz: saving
def _rainbow(w: int = 768, h: int = 512) -> Image.Image:
    """Every hue across, dark to light down: tens of thousands of colours, like the kite photo."""
    hue = np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))
    value = np.repeat(np.linspace(80, 255, h, dtype=np.uint8)[:, None], w, axis=1)
    return Image.fromarray(np.dstack([hue, np.full((h, w), 220, np.uint8), value]), "HSV").convert("RGB")


@pytest.mark.parametrize("name", ["photos.png", "photos.jpg", "photos.webp"])
def test_saved_photo_figures_keep_their_colours(monkeypatch, tmp_path, name):
    """Issue 30: a palette PNG painted the rainbow kite blue and yellow. A saved photo figure is
    full colour (never mode "P") with thousands of distinct colours, and still under the byte budget."""
    monkeypatch.setenv("DITIC_FIGURES", str(tmp_path))
    rainbow = _rainbow()
    fig = viz.side_by_side([rainbow, rainbow.rotate(180)], ["a", "b"], crop=(300, 200, 128))
    path = viz.save(fig, name)
    saved = Image.open(path)
    assert path == tmp_path / name and saved.mode == "RGB"
    assert len(saved.getcolors(maxcolors=1 << 24)) > 1000
    assert path.stat().st_size <= viz.GALLERY_MAX_BYTES


def test_save_lowers_the_resolution_not_the_colours_to_fit(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DITIC_FIGURES", str(tmp_path))
    fig = viz.side_by_side([_rainbow()] * 3, ["a", "b", "c"])
    big = Image.open(viz.save(fig, "full.png", max_bytes=10**8))
    budget = (tmp_path / "full.png").stat().st_size // 2
    small = Image.open(viz.save(fig, "small.png", max_bytes=budget))
    assert (tmp_path / "small.png").stat().st_size <= budget and small.width < big.width
    assert small.mode == "RGB" and len(small.getcolors(maxcolors=1 << 24)) > 1000
    assert f"dpi to stay under {budget / 1000:.0f} kB" in capsys.readouterr().out
    with pytest.raises(ValueError, match="saved as .png, .jpg or .webp"):
        viz.save(fig, "figure.gif")


# ------------------------------------------------------------------------------ viz: zoomed crops
def test_side_by_side_stays_readable_at_readme_width():
    """More panels make narrower panels, never a wider figure (labels keep their size)."""
    images = [_image(i, 96, 64) for i in range(5)]
    fig = viz.side_by_side(images, list("abcde"), crop=(8, 8, 32))
    assert fig.get_figwidth() <= viz.FIGURE_WIDTH
    assert all(ax.title.get_fontsize() >= 9 for ax in fig.axes if ax.get_title())


def test_zoom_rows_original_beside_rows_and_caption():
    original = _image(0, 96, 64)
    rows = {"decoder A": [("r0", _image(1, 96, 64)), ("r1", _image(2, 96, 64))], "decoder B": {"r0": _image(3, 96, 64)}}
    fig = viz.zoom_rows(original, rows, (10, 20, 32), title="T", caption="Look at the square.",
                        beside=[("webp", _image(4, 96, 64))])
    full, *crops = fig.axes
    assert np.array_equal(_shown(full), np.asarray(original))
    [box] = full.patches
    assert box.get_xy() == (10, 20) and box.get_width() == 32
    expected = [original, _image(4, 96, 64), _image(1, 96, 64), _image(2, 96, 64), _image(3, 96, 64)]
    assert [ax.get_title() for ax in crops] == ["original\n32x32 px square", "webp", "r0", "r1", "r0"]
    for ax, im in zip(crops, expected):
        assert np.array_equal(_shown(ax), np.asarray(im.crop((10, 20, 42, 52))))
    labels = {t.get_text() for ax in crops for t in ax.texts}
    assert labels == {"decoder A", "decoder B"}
    assert fig._suptitle.get_text() == "T" and any(t.get_text() == "Look at the square." for t in fig.texts)


def test_rate_strip_one_row_of_crops_original_first():
    original, recs = _image(0), {"rate 0\n0.01 bpp, 20.0 dB": _image(1), "rate 1\n0.02 bpp, 22.0 dB": _image(2)}
    fig = viz.rate_strip(original, recs, (4, 6, 24), title="T")
    assert [ax.get_title() for ax in fig.axes] == ["original\n(24x24 px crop)", *recs]
    for ax, im in zip(fig.axes, [original, *recs.values()]):
        assert np.array_equal(_shown(ax), np.asarray(im.crop((4, 6, 28, 30))))
    assert fig.get_figwidth() <= viz.FIGURE_WIDTH
