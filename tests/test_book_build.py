"""The website builds with warnings as errors, with a page for every chapter."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_every_chapter_has_a_page(built_site):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            page = built_site / f"{chapter['file']}.html"
            assert page.exists(), f"no page for {chapter['file']}"
            assert "#|" not in page.read_text(), f"{page.name} shows exporter directives"
    assert (built_site / "book" / "intro.html").exists()
