"""The exporter (tools/nbexport.py) and the website's directive filter.

Most tests run the exporter on a tiny book written into a temporary folder, not on the
real notebooks. The website's filter is tools/hide_directives.py.
"""

import ast
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPORTER = ROOT / "tools" / "nbexport.py"

sys.path.insert(0, str(ROOT / "tools"))
try:
    import nbexport
    from nbexport import Cell, collect, hoist_imports, render, split_directives
finally:
    sys.path.remove(str(ROOT / "tools"))


def make_book(root, notebooks):
    """Write root/book/NAME.ipynb for {NAME: [cell]}; cell: code or ("markdown", md)."""
    (root / "book").mkdir(parents=True, exist_ok=True)
    for name, cells in notebooks.items():
        nb_cells = [
            {"cell_type": "markdown", "metadata": {}, "source": c[1]}
            if isinstance(c, tuple)
            else {
                "cell_type": "code",
                "metadata": {},
                "source": c,
                "outputs": [],
                "execution_count": None,
            }
            for c in cells
        ]
        nb = {"cells": nb_cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        # ensure_ascii=False, as Jupyter saves: the file holds UTF-8 bytes, not \u
        # escapes
        text = json.dumps(nb, ensure_ascii=False)
        (root / "book" / f"{name}.ipynb").write_text(text, encoding="utf-8")
    return root / "book"


def run_exporter(root, *args, env=None):
    command = [
        sys.executable,
        "-X",
        "utf8=0",
        str(EXPORTER),
        "--root",
        str(root),
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def cells_of(*codes, notebook="01_x.ipynb"):
    return [Cell(notebook, i, code) for i, code in enumerate(codes)]


SMALL_BOOK = {
    "01_core": [
        ("markdown", "# Core\nThe spread σ of x² → large."),
        "#| default_exp core",
        ("markdown", "Some prose."),
        '#| export\nimport math\n\ndef spread(xs):\n    """σ → the root of the mean'
        ' of x²."""\n    return math.sqrt(sum(x * x for x in xs) / len(xs))',
        "spread([1, 2])",
    ],
    "02_more": [
        "#| default_exp core",
        "#| export\nimport math\n\ndef half(x):\n    return x / 2",
        "#|export widgets\nimport math\n\nclass Explorer:\n    pass",
        "#| export patch\ndef patch(cls):\n"
        "    return lambda f: setattr(cls, f.__name__, f) or f",
        "#| export reference\ndef naive_spread(xs):\n    return 0.0",
    ],
}


def test_check_runs_in_the_c_locale_on_non_ascii_notebooks(tmp_path):
    make_book(tmp_path, SMALL_BOOK)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LC_", "PYTHONIOENCODING"))
    }
    env.update(LC_ALL="C", LANG="C", PYTHONUTF8="0")
    for args in ([], ["--check"]):
        result = run_exporter(tmp_path, *args, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    written = (tmp_path / "nnscratch" / "core.py").read_bytes()
    assert "σ → the root of the mean of x²." in written.decode("utf-8")
    assert b"\r\n" not in written


def test_each_exported_cell_starts_with_a_marker_naming_its_notebook_and_cell(tmp_path):
    core = render(collect(make_book(tmp_path, SMALL_BOOK)))["core.py"]
    # cell numbers count every cell, markdown included, from 0; the import went to the
    # top
    assert "\n# %% book/01_core.ipynb 3\ndef spread(xs):" in core
    assert "\n# %% book/02_more.ipynb 1\ndef half(x):" in core
    assert [line for line in core.splitlines() if line.startswith("# %%")] == [
        "# %% book/01_core.ipynb 3",
        "# %% book/02_more.ipynb 1",
    ]
    assert "#|" not in core


def test_a_module_starts_with_its_imports_each_written_once(tmp_path):
    core = render(collect(make_book(tmp_path, SMALL_BOOK)))["core.py"]
    tree = ast.parse(core)
    assert (
        isinstance(tree.body[1], ast.Import)
        and ast.unparse(tree.body[1]) == "import math"
    )
    assert ast.unparse(tree.body[2]).startswith("__all__ = ")
    assert core.count("import math") == 1
    assert core.index("import math") < core.index("__all__") < core.index("\n# %% book")


def test_hoisting_keeps_first_seen_order_puts_future_first_and_merges_from_imports():
    codes = [
        "import numpy as np\nfrom a import b\n\nx = 1",
        "from __future__ import annotations\nimport os\nfrom a import c, b\n\ny = 2",
        "import numpy as np\nimport numpy\nfrom a import b as bee",
    ]
    imports, cells = hoist_imports(cells_of(*codes))
    assert imports == [
        "from __future__ import annotations",
        "import numpy as np",
        "from a import b, c, b as bee",
        "import os",
        "import numpy",
    ]
    assert [cell.code for cell in cells] == ["x = 1", "y = 2"]  # an emptied cell goes


def test_imports_inside_functions_conditions_and_try_stay_where_they_are():
    code = (
        "import os\n\ndef f():\n    import numpy as np\n    return np\n\n"
        "try:\n    import torch\nexcept ImportError:\n    torch = None\n\n"
        "if os.name == 'nt':\n    import ntpath\n\nimport sys"
    )
    imports, [cell] = hoist_imports(cells_of(code))
    assert imports == ["import os", "import sys"]
    assert cell.code == code.replace("import os\n\n", "").replace("\n\nimport sys", "")
    compile(cell.code, "cell", "exec")


def test_a_multi_line_import_moves_whole_and_long_ones_are_wrapped():
    names = ", ".join(f"name_{i:02d}" for i in range(20))
    code = f"from package.module import (\n    {names},\n)\n\nz = 3"
    imports, [cell] = hoist_imports(cells_of(code))
    assert cell.code == "z = 3"
    assert all(len(line) <= 88 for line in imports[0].splitlines())
    tree = ast.parse(imports[0]).body[0]
    assert [alias.name for alias in tree.names] == [f"name_{i:02d}" for i in range(20)]


def test_an_import_sharing_a_line_with_other_code_is_not_moved():
    imports, [cell] = hoist_imports(cells_of("import os; x = os.sep\ny = 1"))
    assert imports == [] and cell.code == "import os; x = os.sep\ny = 1"


def test_one_name_imported_from_two_places_is_refused():
    cells = cells_of(
        "from a import thing", "from b import thing", notebook="03_z.ipynb"
    )
    with pytest.raises(SystemExit) as refused:
        hoist_imports(cells, "core")
    message = str(refused.value)
    for part in ("`thing`", "nnscratch/core.py", "book/03_z.ipynb cell 0", "cell 1"):
        assert part in message


def test_lines_the_exporter_writes_itself_fit_the_website_column(tmp_path):
    long_names = [f"a_rather_long_function_name_{i}" for i in range(12)]
    cells = "\n\n".join(f"def {name}():\n    pass" for name in long_names)
    book = {"01_core": ["#| default_exp core", "#| export\n" + cells]}
    files = render(collect(make_book(tmp_path, book)))
    for name, text in files.items():
        assert max(map(len, text.splitlines())) <= 88, name
        ast.parse(text)
    assert ast.literal_eval(ast.parse(files["core.py"]).body[1].value) == long_names


def test_directives_are_read_only_from_the_leading_lines():
    found, code = split_directives(
        "# a comment first\n\n#| export\nx = 1\n#| export other\n#| hide"
    )
    assert found == {"export": ""}
    # later `#|` lines are code
    assert code == "# a comment first\n\nx = 1\n#| export other\n#| hide"
    assert split_directives("x = 1\n#| export") == ({}, "x = 1\n#| export")


def test_a_late_export_line_exports_nothing(tmp_path):
    book = {
        "01_a": [
            "#| default_exp a",
            "#| export\nx = 1",
            "y = 2\n#| export",
            "#| hide\nz = 3\n#| export b",
        ]
    }
    assert collect(make_book(tmp_path, book)) == {"a": [Cell("01_a.ipynb", 1, "x = 1")]}


@pytest.mark.parametrize("line", ["#| hide", "#|hide", "#|   hide", "  #|\thide  "])
def test_hide_is_one_directive_however_it_is_spaced(line):
    found = split_directives(f"{line}\n#|export  data\ndef f(): pass")
    assert found == ({"hide": "", "export": "data"}, "def f(): pass")


def test_website_hides_cells_by_the_exporters_rule():
    pytest.importorskip("docutils")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from hide_directives import shown_code
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert shown_code("#|hide\nx = 1") is None
    assert shown_code("#| hide\nx = 1") is None
    assert shown_code("# setup\n#|  hide\nx = 1") is None
    assert shown_code("#| default_exp a") is None  # nothing left to show
    assert shown_code("#|export\n# keep me\nx = 1") == "# keep me\nx = 1"
    # not leading: as written
    assert shown_code("x = 1\n#| hide") == "x = 1\n#| hide"
    assert shown_code("x = 1\n") == "x = 1\n"


def test_two_modules_exporting_one_public_name_is_refused(tmp_path):
    make_book(
        tmp_path,
        {
            "01_a": ["#| default_exp a", "#| export\ndef f(): pass\ndef _g(): pass"],
            "02_b": ["#| default_exp b", "#| export\ndef _g(): pass\nclass f: pass"],
        },
    )
    with pytest.raises(SystemExit) as refused:
        nbexport.main(["--root", str(tmp_path)])
    message = str(refused.value)
    for part in (
        "`f`",
        "nnscratch/a.py",
        "book/01_a.ipynb",
        "nnscratch/b.py",
        "book/02_b.ipynb",
    ):
        assert part in message
    assert not (tmp_path / "nnscratch").exists()


def init_imports_and_all(text):
    """(modules imported from, __all__) of an __init__.py text."""
    tree = ast.parse(text)
    imported = [
        n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.level == 1
    ]
    all_ = next(
        ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign) and n.targets[0].id == "__all__"
    )
    return imported, all_


def test_init_leaves_out_the_helpers_the_reference_and_the_parts_with_extras(tmp_path):
    assert nbexport.NOT_REEXPORTED == (
        "extras",
        "patch",
        "reference",
        "sklearn",
        "widgets",
    )
    make_book(tmp_path, SMALL_BOOK)
    assert nbexport.main(["--root", str(tmp_path)]) == 0
    init = (tmp_path / "nnscratch" / "__init__.py").read_text(encoding="utf-8")
    imported, all_ = init_imports_and_all(init)
    assert imported == ["core"]
    assert all_ == ["spread", "half"]
    # only real ones
    assert "nnscratch.widgets" in init and "nnscratch.sklearn" not in init
    # the package imports without being installed (-S: no site-packages); the others are
    # reachable by name
    probe = (
        "import nnscratch, nnscratch.widgets, nnscratch.reference; "
        "print(nnscratch.__version__, "
        "sorted(n for n in vars(nnscratch) if not n.startswith('_')))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 1)[0] == "0+unknown"
    assert "Explorer" not in result.stdout and "naive_spread" not in result.stdout


def test_version_comes_from_the_package_metadata():
    import nnscratch

    assert not hasattr(nbexport, "VERSION")
    assert nnscratch.__version__ == importlib.metadata.version("nnscratch")
    init = (ROOT / "nnscratch" / "__init__.py").read_text(encoding="utf-8")
    assert 'version("nnscratch")' in init


def test_real_package_does_not_reexport_the_left_out_modules():
    import nnscratch

    for module in nbexport.NOT_REEXPORTED:
        if not (ROOT / "nnscratch" / f"{module}.py").exists():
            continue
        source = (ROOT / "nnscratch" / f"{module}.py").read_text(encoding="utf-8")
        names = ast.literal_eval(
            next(
                n.value
                for n in ast.parse(source).body
                if isinstance(n, ast.Assign)
                and getattr(n.targets[0], "id", "") == "__all__"
            )
        )
        assert not set(names) & set(nnscratch.__all__), module


def test_real_modules_start_with_their_imports():
    for path in sorted((ROOT / "nnscratch").glob("*.py")):
        body = ast.parse(path.read_text(encoding="utf-8")).body
        is_import = [
            isinstance(node, (ast.Import, ast.ImportFrom)) for node in body[1:]
        ]
        assert is_import == sorted(is_import, reverse=True), (
            f"{path.name}: import after code"
        )


def test_export_check_catches_hand_edits_and_orphans(tmp_path):
    make_book(tmp_path, SMALL_BOOK)
    assert run_exporter(tmp_path).returncode == 0
    assert run_exporter(tmp_path, "--check").returncode == 0
    with open(tmp_path / "nnscratch" / "core.py", "a", encoding="utf-8") as f:
        f.write("# a hand edit\n")
    (tmp_path / "nnscratch" / "stray.py").write_text("x = 1\n", encoding="utf-8")
    result = run_exporter(tmp_path, "--check")
    assert result.returncode == 1
    assert "nnscratch/core.py differs" in result.stdout
    assert "nnscratch/stray.py is produced by no notebook" in result.stdout
    assert run_exporter(tmp_path).returncode == 0  # writing repairs both
    assert not (tmp_path / "nnscratch" / "stray.py").exists()
    assert run_exporter(tmp_path, "--check").returncode == 0


def test_patched_functions_leave_no_module_level_name(tmp_path):
    book = {
        "01_core": [
            "#| default_exp core",
            "#| export\nfrom nnscratch.patch import patch\n\nclass Thing:\n    pass",
            "#| export\n@patch(Thing)\n@staticmethod\ndef grad(x):\n    return 2 * x",
            "#| export\n@patch(Thing)\ndef forward(self, x):\n    return x",
        ]
    }
    core = render(collect(make_book(tmp_path, book)))["core.py"]
    tree = ast.parse(core)
    deleted = [
        t.id for node in tree.body if isinstance(node, ast.Delete) for t in node.targets
    ]
    assert deleted == ["grad", "forward"]
    import nnscratch.losses

    assert not hasattr(nnscratch.losses, "grad")
    assert callable(nnscratch.losses.CrossEntropyLoss.grad)


def test_a_module_of_patches_only_is_still_imported(tmp_path):
    """A module with no public name but @patch methods must be imported, or its methods
    never reach the class (save/load once went missing that way)."""
    book = make_book(
        tmp_path,
        {
            "01_a": ["#| default_exp core", "#| export\nclass Box:\n    pass"],
            "02_b": [
                "#| default_exp extra",
                "#| export\nfrom nnscratch.core import Box\n"
                "from nnscratch.patch import patch\n\n\n"
                "@patch(Box)\ndef size(self):\n    return 1",
            ],
        },
    )
    init = render(collect(book))["__init__.py"]
    assert "from . import extra" in init and "from .core import Box" in init
