"""The repository's own rules: package in sync with the notebooks, notebooks clean, book
complete."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def test_package_is_in_sync_with_notebooks():
    result = subprocess.run(
        [sys.executable, "tools/nbexport.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), (
                f"{path.name} cell {i} holds outputs: strip them"
            )
            assert cell.get("execution_count") is None, (
                f"{path.name} cell {i} holds an execution count"
            )


def test_every_notebook_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    listed = [toc["root"]] + [
        c["file"] for part in toc["parts"] for c in part["chapters"]
    ]
    assert sorted(listed) == sorted(f"book/{p.stem}" for p in NOTEBOOKS)
    assert listed == sorted(listed), (
        "chapters must appear in _toc.yml in their numbered order"
    )
    assert [part["caption"] for part in toc["parts"]] == [
        "Building a neural network",
        "Using it",
        "Training better",
        "Beyond the dense network",
        "Under the hood",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_uses_no_global_random_state(path):
    code = "".join(
        "".join(c["source"])
        for c in json.loads(path.read_text())["cells"]
        if c["cell_type"] == "code"
    )
    for banned in (
        "np.random.seed",
        "np.random.rand(",
        "np.random.randn(",
        "np.random.normal(",
        "np.random.permutation(",
        "np.random.shuffle(",
        "np.random.randint(",
    ):
        assert banned not in code, (
            f"{path.name} uses the global random state ({banned}); use "
            "np.random.default_rng"
        )


def _definitions():
    """{(module, name): notebook} for every top-level definition the exporter writes."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import nbexport
    finally:
        sys.path.pop(0)
    found = {}
    for module, cells in nbexport.collect(ROOT / "book").items():
        for cell in cells:
            for node in ast.parse(cell.code).body:
                if isinstance(
                    node, (ast.FunctionDef, ast.ClassDef)
                ) and not nbexport.is_patch(node):
                    found.setdefault((module, node.name), cell.notebook)
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            found.setdefault((module, target.id), cell.notebook)
    return found


def _forward_imports():
    """(chapter, module.name, defining chapter) for each import of a name a later
    chapter defines."""
    found, by_name = _definitions(), {}
    for (module, name), notebook in found.items():
        by_name.setdefault(name, notebook)
    forward = set()
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if not (
                    isinstance(node, ast.ImportFrom)
                    and (node.module or "").startswith("nnscratch")
                ):
                    continue
                module = node.module.partition(".")[2]
                for alias in node.names:
                    source = (
                        found.get((module, alias.name))
                        if module
                        else by_name.get(alias.name)
                    )
                    if source and source[:2] > path.name[:2]:
                        forward.add(
                            (path.stem, f"{node.module}.{alias.name}", source[:-6])
                        )
    return forward


def test_no_chapter_imports_what_a_later_chapter_defines():
    """Every chapter rebuilds the library in reading order: each uses only what it or an
    earlier one defines (chapter 8 writes a first MNIST loader, chapter 18 adds the
    checks of the later chapters' code by wrapping it)."""
    assert sorted(_forward_imports()) == []


def test_part_one_runs_on_the_library_it_has_built_so_far(tmp_path):
    """Export chapters 1-6 alone, then run chapters 2-6 against that package: no later
    code needed."""
    book = tmp_path / "book"
    book.mkdir()
    part_one = sorted(p for p in NOTEBOOKS if "01" <= p.name[:2] <= "06")
    for path in part_one:
        (book / path.name).write_bytes(path.read_bytes())
    export = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "nbexport.py"), "--root", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert export.returncode == 0, export.stdout + export.stderr
    modules = sorted(p.stem for p in (tmp_path / "nnscratch").glob("*.py"))
    assert (
        "training" in modules
        and "data" not in modules
        and "serialization" not in modules
    ), modules
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "MPLBACKEND": "Agg"}
    for path in part_one[1:]:
        code = (
            "import nbformat, nnscratch, sys\n"
            "from nbclient import NotebookClient\n"
            f"assert nnscratch.__file__.startswith({str(tmp_path)!r}), "
            "nnscratch.__file__\n"
            f"nb = nbformat.read({str(book / path.name)!r}, as_version=4)\n"
            "NotebookClient(nb, timeout=600, resources="
            f"{{'metadata': {{'path': {str(book)!r}}}}}).execute()\n"
        )
        run = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        assert run.returncode == 0, (
            f"{path.name} needs code a later chapter defines:\n{run.stderr[-3000:]}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_doc_link_names_a_chapter(path):
    """{doc}`NAME` links point at notebooks that exist (a renamed chapter breaks the
    -W build)."""
    text = path.read_text(encoding="utf-8")
    names = {p.stem for p in NOTEBOOKS}
    broken = sorted(set(re.findall(r"\{doc\}`([^`<]+)`", text)) - names)
    assert broken == [], f"{path.name} links to missing chapters: {broken}"
