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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} cell {i} holds outputs: strip them"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} holds an execution count"


def test_every_notebook_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    listed = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert sorted(listed) == sorted(f"book/{p.stem}" for p in NOTEBOOKS)
    assert listed == sorted(listed), "chapters must appear in _toc.yml in their numbered order"
    assert [part["caption"] for part in toc["parts"]] == [
        "Building a neural network", "Using it", "Training better", "Under the hood"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_uses_no_global_random_state(path):
    code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    for banned in ("np.random.seed", "np.random.rand(", "np.random.randn(", "np.random.normal(",
                   "np.random.permutation(", "np.random.shuffle(", "np.random.randint("):
        assert banned not in code, f"{path.name} uses the global random state ({banned}); use np.random.default_rng"
