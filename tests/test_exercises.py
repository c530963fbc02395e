"""The "Your turn" checks (``ditic_lite.exercises``): each judges a prediction from the numbers
given, flips when they do, and never fails a cell that holds no prediction yet."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from ditic_lite import claims as C
from ditic_lite import exercises as E


def test_direction_follows_the_measured_numbers():
    assert E.check_direction("down", before=1000, after=600, what="the file size").correct is True
    assert E.check_direction("down", before=600, after=1000, what="the file size").correct is False
    assert E.check_direction("up", before=600, after=1000, what="the file size").correct is True
    assert E.check_direction("same", before=30.0, after=30.04, what="PSNR", tolerance=0.05).correct is True
    assert E.check_direction("same", before=30.0, after=30.2, what="PSNR", tolerance=0.05).correct is False


def test_direction_accepts_plain_words_and_says_what_it_measured():
    fb = E.check_direction("Fewer", before=1000, after=600, what="the file size", unit=" bytes")
    assert fb.correct is True
    assert "1000 bytes" in fb.message and "600 bytes" in fb.message and "-40%" in fb.message
    assert str(fb).startswith("Right:")
    assert "<b>Right:</b>" in fb._repr_html_()


def test_no_prediction_shows_the_measurement_without_a_verdict():
    fb = E.check_direction(None, before=1, after=2, what="x")
    assert fb.correct is None and "up" in fb.message and str(fb).startswith("Measured:")
    assert E.check_number(None, 3.0, "bpp").correct is None
    assert E.check_largest(None, {"a": 1, "b": 2}, "PSNR").correct is None


def test_an_unknown_prediction_is_explained_not_judged():
    fb = E.check_direction("sideways", before=1, after=2, what="x")
    assert fb.correct is None and "'sideways' is not one of" in fb.message


def test_largest_and_smallest():
    values = {"K=1": 28.1, "K=4": 27.5, "K=8": 27.0}
    assert E.check_largest("K=1", values, "PSNR").correct is True
    assert E.check_largest("k=8", values, "PSNR").correct is False
    assert E.check_largest("K=8", values, "PSNR", smallest=True).correct is True
    with pytest.raises(ValueError):
        E.check_largest("a", {}, "PSNR")


def test_number_within_a_relative_tolerance():
    assert E.check_number(0.11, 0.10, "bpp", relative=0.25).correct is True
    assert E.check_number(0.20, 0.10, "bpp", relative=0.25).correct is False
    assert "+100%" in E.check_number(0.20, 0.10, "bpp").message


def test_verdict_check_uses_the_computed_verdict_and_its_takeaway():
    yes = C.better("c", [0.5, 0.6, 0.55], 0.1, " dB", plain="Does A beat B?")
    unclear = C.better("c", [-1.0, 2.0, 0.5], 0.1, " dB", plain="Does A beat B?")
    assert E.check_verdict("yes", yes).correct is True
    assert E.check_verdict("yes", unclear).correct is False
    assert E.check_verdict("can't tell", unclear).correct is True
    assert "Does A beat B? Yes" in E.check_verdict("yes", yes).message


# ------------------------------------------------------------------- the teaching layer of the notebooks
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TEACHING_NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07")  # every notebook teaches (issue 30)


def _cells(prefix: str) -> list:
    import nbformat

    return nbformat.read(next(NOTEBOOKS.glob(f"{prefix}_*.ipynb")), as_version=4).cells


@pytest.mark.parametrize("prefix", TEACHING_NOTEBOOKS)
def test_notebook_opens_with_what_you_will_learn(prefix):
    cells = _cells(prefix)
    learn = next(i for i, c in enumerate(cells) if c.source.startswith("## What you will learn"))
    assert learn <= 4, "the learning goals come right after the title and set-up"
    text = cells[learn].source
    assert 3 <= sum(line.startswith("- ") for line in text.splitlines()) <= 5
    assert "**Prerequisites:**" in text and re.search(r"about [\d.]+ (s|min) on a laptop CPU", text)


@pytest.mark.parametrize("prefix", TEACHING_NOTEBOOKS)
def test_notebook_ends_with_exercises_that_check_predictions(prefix):
    cells = _cells(prefix)
    heads = [(i, int(m.group(1))) for i, c in enumerate(cells)
             if c.cell_type == "markdown" and (m := re.match(r"### Exercise (\d+):", c.source))]
    assert [n for _, n in heads] == list(range(1, len(heads) + 1)) and len(heads) >= 3
    turn = next(i for i, c in enumerate(cells) if c.source.startswith("## Your turn"))
    assert turn < heads[0][0]
    for i, _ in heads:
        task, cell, folded = cells[i:i + 3]
        assert re.search(r"\*\*(Predict|Estimate):\*\*", task.source), task.source
        assert cell.cell_type == "code" and "prediction = None" in cell.source and "dl.exercises.check_" in cell.source
        assert "<details><summary>Hint</summary>" in folded.source and "<details><summary>Solution</summary>" in folded.source


@pytest.mark.parametrize("prefix", TEACHING_NOTEBOOKS)
def test_notebook_takes_your_photo_and_puts_statistics_last(prefix):
    cells = _cells(prefix)
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert "dl.notebook.upload_photo()" in code and "dl.notebook.photo_label(P.image)" in code
    assert re.search(r"print\(f\"photo: \{label\}", code), "the notebook says which photo it shows"
    assert "sample_path(" not in code and "f\"{P.image}" not in code  # any photo, results named by its label
    if "dl.claims.show(" in code:
        reviewers = next(i for i, c in enumerate(cells) if c.source.startswith("## For reviewers"))
        turn = next(i for i, c in enumerate(cells) if c.source.startswith("## Your turn"))
        shows = [i for i, c in enumerate(cells) if "dl.claims.show(" in c.source]
        takeaways = [i for i, c in enumerate(cells) if "dl.claims.takeaways(" in c.source]
        assert takeaways and max(takeaways) < turn < reviewers < min(shows)
