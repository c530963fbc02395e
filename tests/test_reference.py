"""Reference data: the paper's published numbers load, cite their sources and draw as dashed curves."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from ditic_lite import plots, reference  # noqa: E402


@pytest.mark.parametrize("name", sorted(reference.TABLES))
def test_every_table_loads_and_cites_its_source(name):
    df = reference.load(name)
    assert len(df) > 0 and "source" in df.columns
    assert df["source"].str.contains(r"arXiv 2603\.13162|Eric-qi/DiT-IC").all()


def test_reference_data_ships_with_the_project():
    folder = reference.reference_dir()
    assert "shared" not in folder.parts  # the kit stands alone
    assert (folder / "README.md").exists()


def test_published_values_spot_checks():
    kodak = reference.curve("kodak")
    assert len(kodak) == 7 and kodak["bpp"].is_monotonic_increasing
    row = kodak.iloc[4]  # the release README's point: 0.080 bpp, LPIPS 0.094, DISTS 0.059
    assert (row.bpp, row.lpips, row.dists) == (0.0802, 0.094, 0.059)
    assert len(reference.curve("CLIC-2020", reference.UPDATED_MODEL)) == 4
    main = reference.load("main_table").set_index("method")
    assert list(main.index) == ["PerCo", "DiffEIC", "ResULIC", "StableCodec", "OSCAR", "DiT-IC"]
    assert main.loc["DiT-IC", "dists_bd_rate_pct"] == -87.88 and main.loc["DiT-IC", "latency_1024px_s"] == 0.15
    claims = reference.load("claims")
    lat = claims[claims.claim == "latency_4096"].set_index("method")
    assert lat.loc["StableCodec", "value"] == 10.3
    assert lat.loc["DiT-IC"].query("unit == 's'")["value"].item() == 0.47


def test_suspect_psnr_rows_are_flagged():
    df = reference.load("results")
    flagged = df[df["psnr_suspect"]]
    assert set(flagged["dataset"]) == {"DIV2K"} and set(flagged["model"]) == {reference.UPDATED_MODEL}
    clic = reference.curve("clic2020", reference.UPDATED_MODEL)["psnr"].tolist()
    assert reference.curve("div2k", reference.UPDATED_MODEL)["psnr"].tolist() == clic  # the copy error


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown reference table"):
        reference.load("table9")
    with pytest.raises(ValueError, match="no published curves"):
        reference.curve("imagenet")
    with pytest.raises(ValueError, match="no rows for model"):
        reference.curve("kodak", "rank8")


def test_reference_curves_are_dashed_and_labelled():
    fig, ax = plt.subplots()
    plots.add_reference_curves(ax, "div2k", "psnr", models=(reference.PAPER_MODEL, reference.UPDATED_MODEL))
    lines = ax.get_lines()
    # the updated model's DIV2K PSNR is all suspect: only the paper model is drawn
    assert len(lines) == 1 and lines[0].get_linestyle() == "--"
    assert lines[0].get_label().startswith(plots.PAPER_LABEL)
    plt.close(fig)
    fig, ax = plt.subplots()
    plots.add_reference_curves(ax, "kodak", "lpips")
    (line,) = ax.get_lines()
    assert line.get_label() == "paper (published)" and len(line.get_xdata()) == 7
    plt.close(fig)
