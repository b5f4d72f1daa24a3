"""The repository's own rules: package in sync with the notebooks, notebooks clean, book complete."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def test_package_is_in_sync_with_notebooks():
    result = subprocess.run([sys.executable, "tools/nbexport.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_export_check_catches_hand_edits_and_orphans(tmp_path):
    import shutil
    shutil.copytree(ROOT / "book", tmp_path / "book")
    shutil.copytree(ROOT / "nnscratch", tmp_path / "nnscratch")
    shutil.copytree(ROOT / "tools", tmp_path / "tools")
    check = [sys.executable, str(tmp_path / "tools" / "nbexport.py"), "--check"]
    assert subprocess.run(check, capture_output=True).returncode == 0
    with open(tmp_path / "nnscratch" / "layers.py", "a") as f:
        f.write("# a hand edit\n")
    (tmp_path / "nnscratch" / "stray.py").write_text("x = 1\n")
    result = subprocess.run(check, capture_output=True, text=True)
    assert result.returncode == 1
    assert "nnscratch/layers.py differs" in result.stdout
    assert "nnscratch/stray.py is produced by no notebook" in result.stdout


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} cell {i} holds outputs: strip them"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} holds an execution count"


def test_every_notebook_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert sorted(listed) == sorted(f"book/{p.stem}" for p in NOTEBOOKS)
    assert listed == sorted(listed), "chapters must appear in _toc.yml in their numbered order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_uses_no_global_random_state(path):
    code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    for banned in ("np.random.seed", "np.random.rand(", "np.random.randn(", "np.random.normal(",
                   "np.random.permutation(", "np.random.shuffle(", "np.random.randint("):
        assert banned not in code, f"{path.name} uses the global random state ({banned}); use np.random.default_rng"


def test_exporter_writes_a_repeated_import_once():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from nbexport import without_repeated_imports
    finally:
        sys.path.remove(str(ROOT / "tools"))
    cells = ["import numpy as np\nfrom a import (b,\n    c)\n\ndef f():\n    import numpy as np",
             "import numpy as np\nfrom a import (b,\n    c)\nimport os",
             "import os"]
    kept = without_repeated_imports(cells)
    assert kept[0] == cells[0]                                   # indented imports are code: kept
    assert kept[1] == "from a import (b,\n    c)\nimport os"   # a multi-line import is never cut in half
    assert len(kept) == 2                                        # a cell left empty disappears
