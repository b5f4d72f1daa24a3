"""The website builds with warnings as errors, with a page for every chapter."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_every_chapter_has_a_page(built_site):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            page = built_site / f"{chapter['file']}.html"
            assert page.exists(), f"no page for {chapter['file']}"
            code_cells = re.findall(r'<div class="cell_input.*?</pre>', page.read_text(), flags=re.S)
            assert code_cells, f"{page.name}: no code cells found"
            for cell in code_cells:
                assert "#|" not in cell, f"{page.name} shows exporter directives in a code cell"
    assert (built_site / "book" / "intro.html").exists()
