"""Every relative link and image in the READMEs and in docs/ points to a file (and heading) that exists;
scripts/README.md lists every file of scripts/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "scripts" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)


def relative_links(page: Path) -> list[str]:
    """The link targets of ``page`` that are neither web addresses nor e-mail (code spans left out)."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.I)]


def heading_anchors(page: Path) -> set[str]:
    """GitHub's anchors of the headings of ``page``: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.*?)\s*$", page.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_the_pages_are_there():
    assert (ROOT / "docs" / "status.md").exists() and (ROOT / "docs" / "training.md").exists()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in heading_anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_link_checker_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n[ok](page.md#title) [gone](missing.md) `[code](not-a-link.md)` [web](https://x.org)\n")
    assert relative_links(page) == ["page.md#title", "missing.md"]
    assert heading_anchors(page) == {"title"}


def test_the_scripts_readme_lists_every_script():
    rows = re.findall(r"^\| `([^`]+)` \|.*\| (\w+)[^|]*\|$", (ROOT / "scripts" / "README.md").read_text(), flags=re.M)
    present = sorted(p.name for p in (ROOT / "scripts").iterdir() if p.is_file() and p.name != "README.md")
    assert sorted(name for name, _ in rows) == present, "scripts/README.md: one row per file of scripts/"
    assert {status for _, status in rows} == {"maintained"}, "a script that is not maintained leaves scripts/"
