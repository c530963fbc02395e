"""The README a newcomer reads in two minutes (issue 30): short, plain words first, two set-up blocks."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
LINES = README.splitlines()
FIRST_SCREEN = "\n".join(LINES[:60])
JARGON = ("SANA", "LoRA", "DC-AE", "rANS")


def code_blocks(text: str) -> list[str]:
    """The contents of the fenced code blocks of ``text``."""
    return [block.strip() for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)]


def section(title: str) -> list[str]:
    """The lines of the README section ``## title``, up to the next heading of that level."""
    start = LINES.index(f"## {title}")
    end = next((i for i in range(start + 1, len(LINES)) if LINES[i].startswith("## ")), len(LINES))
    return LINES[start + 1:end]


def test_short():
    assert len(LINES) <= 200


def test_exactly_two_set_up_and_run_blocks_the_main_job_and_ci():
    set_up = [b for b in code_blocks(README) if "python3 -m venv" in b]
    assert len(set_up) == 2, set_up
    main, tests = set_up
    assert main.endswith("&& ditic-lite demo") and "pip install . &&" in main
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("python3 -m venv")]
    assert ci == [tests], "the README's test command is what .ci/run runs"


def test_first_screen_plain_words_then_the_picture_then_the_terms():
    figure = FIRST_SCREEN.index("](figures/01_pipeline.png)")
    assert "plain words" in FIRST_SCREEN[:figure]
    for term in JARGON:
        assert README.index(term) > figure, f"{term} appears before the plain description and the figure"


def test_first_screen_has_the_main_command_the_honest_line_and_the_notebooks():
    assert FIRST_SCREEN.index("ditic-lite demo") < FIRST_SCREEN.index("jupyter lab notebooks/")
    assert "can and cannot show" in FIRST_SCREEN and "data/results/validation.csv" in FIRST_SCREEN
    assert "pip install \".[notebooks]\"" in FIRST_SCREEN
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(req.startswith("jupyterlab") for req in extras["notebooks"]), "the notebooks extra installs JupyterLab"


def test_honest_status_is_short_and_links_the_details():
    status = section("Honest status")
    assert len(status) <= 15
    assert any("docs/status.md" in line for line in status) and any("docs/training.md" in line for line in status)


def test_the_python_example_runs(monkeypatch):
    """The README's "Use it" Python block runs as written, from the repository root."""
    (example,) = [b for b in re.findall(r"^```python\n(.*?)^```", README, flags=re.M | re.S)]
    monkeypatch.chdir(ROOT)
    scope: dict = {}
    exec(compile(example, "README.md", "exec"), scope)
    assert isinstance(scope["data"], bytes) and scope["image"].size == (768, 512)
    assert {"sigma", "t_map"} <= set(scope["info"])
