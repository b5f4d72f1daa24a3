"""The website builds with warnings as errors, with a page for every chapter and every
figure on it."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
CHAPTERS = [TOC["root"]] + [
    c["file"] for part in TOC["parts"] for c in part["chapters"]
]


def _code_cells(chapter):
    nb = json.loads((ROOT / f"{chapter}.ipynb").read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_every_chapter_has_a_page(built_site):
    for chapter in CHAPTERS:
        page = built_site / f"{chapter}.html"
        assert page.exists(), f"no page for {chapter}"
        for cell in re.findall(
            r'<div class="cell_input.*?</pre>',
            page.read_text(encoding="utf-8"),
            flags=re.S,
        ):
            assert "#|" not in cell, (
                f"{page.name} shows exporter directives in a code cell"
            )
    assert (built_site / "index.html").exists()


def _plotting_cells(chapter):
    return sum("plt.show()" in cell for cell in _code_cells(chapter))


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if _plotting_cells(c)])
def test_every_plotting_chapter_shows_its_figures(built_site, chapter):
    """Built under MPLBACKEND=Agg (see conftest.py): each cell calling plt.show() must
    leave an image."""
    html = (built_site / f"{chapter}.html").read_text(encoding="utf-8")
    shown = len(re.findall(r'<img[^>]+src="[^"]*_images/', html))
    cells = _plotting_cells(chapter)
    assert shown >= cells, (
        f"{chapter}: {cells} cell(s) call plt.show() but the built page shows {shown} "
        "figure(s)"
    )
