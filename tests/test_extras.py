"""The library installs with numpy and tqdm only; the rest are extras (pyproject.toml).

nnscratch.extras.require (book/17_export.ipynb) turns a missing extra into an
ImportError that names the `pip install "nnscratch[extra]"` line. The last test builds
the wheel and installs it, without its extras, into a throwaway virtual environment.
"""

import importlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from nnscratch.extras import EXTRAS, require

ROOT = Path(__file__).resolve().parent.parent


def pyproject():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11+")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_library_needs_numpy_and_tqdm_only():
    project = pyproject()["project"]
    assert [dep.split(">")[0] for dep in project["dependencies"]] == ["numpy", "tqdm"]


def test_require_knows_exactly_the_extras_of_pyproject():
    assert set(EXTRAS) == set(pyproject()["project"]["optional-dependencies"])


def test_require_returns_an_installed_module():
    assert require("json", "book") is importlib.import_module("json")
    assert require("os.path", "data") is os.path


@pytest.mark.parametrize("name", ["no_such_package_xyz", "no_such_package_xyz.sub"])
def test_require_names_the_install_line_when_the_package_is_missing(name):
    with pytest.raises(ImportError) as missing:
        require(name, "widgets")
    assert isinstance(missing.value, ModuleNotFoundError)
    assert missing.value.name == "no_such_package_xyz"
    assert str(missing.value) == (
        "no_such_package_xyz is not installed, and this part of "
        'nnscratch needs it: pip install "nnscratch[widgets]"'
    )


def test_require_lets_another_missing_module_through(tmp_path, monkeypatch):
    """An installed package that fails to import something else is broken, not
    missing."""
    (tmp_path / "broken_pkg_xyz.py").write_text("import inner_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as error:
        require("broken_pkg_xyz", "data")
    assert error.value.name == "inner_dependency_xyz" and "pip install" not in str(
        error.value
    )


def test_require_refuses_an_unknown_extra():
    with pytest.raises(
        ValueError, match=r"extra must be one of 'data', .* got 'plots'"
    ):
        require("json", "plots")


@pytest.mark.parametrize("blocked", ["ipywidgets", "matplotlib"])
def test_widgets_without_its_extra_says_what_to_install(monkeypatch, blocked):
    # `import blocked` (and of any submodule an earlier test imported) now fails
    for name in [m for m in sys.modules if m.partition(".")[0] == blocked] + [blocked]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "nnscratch.widgets", raising=False)
    with pytest.raises(
        ImportError, match=r'pip install "nnscratch\[widgets\]"'
    ) as error:
        importlib.import_module("nnscratch.widgets")
    assert error.value.name.partition(".")[0] == blocked


def test_from_nnscratch_import_star_needs_no_extra():
    """`import nnscratch` loads none of the extras' packages (the parts that need them
    are imported by name)."""
    probe = (
        "import sys, nnscratch; from nnscratch import *; print(sorted(m for m in "
        "('ipywidgets', 'matplotlib', 'sklearn', 'mlxtend') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def linked_site_packages(target):
    """A folder of links to this environment's numpy and tqdm, and nothing else."""
    site = Path(sysconfig.get_paths()["purelib"])
    target.mkdir()
    for pattern in (
        "numpy",
        "numpy.libs",
        "numpy-*.dist-info",
        "tqdm",
        "tqdm-*.dist-info",
    ):
        for path in site.glob(pattern):
            (target / path.name).symlink_to(path)
    return target


def test_the_wheel_installs_without_extras_and_says_what_to_add(tmp_path):
    """Build the wheel from a copy of the sources, install it with --no-deps into a new
    venv that sees numpy and tqdm only, and use it there (about 10 s)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "nnscratch",
        source / "nnscratch",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # this environment's setuptools, if it has one, saves an isolated build's download
    quick = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    built = subprocess.run(
        [*pip, "wheel", str(source), "--no-deps", *quick, "-w", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:  # the isolated build fetches setuptools from the index
        pytest.skip(
            f"could not build the wheel (offline?): {built.stderr.strip()[-200:]}"
        )
    wheel = next(tmp_path.glob("nnscratch-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True
    )
    python = venv / "bin" / "python"
    if not python.exists():
        pytest.skip("a POSIX venv layout (bin/python) is needed")
    installed = subprocess.run(
        [
            *pip,
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    if "no such option: --python" in installed.stderr:
        pytest.skip("this pip is older than 22.3 (no --python option)")
    assert installed.returncode == 0, installed.stderr
    site = subprocess.run(
        [
            str(python),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    links = linked_site_packages(tmp_path / "runtime")
    (Path(site) / "runtime_deps.pth").write_text(f"{links}\n")
    probe = textwrap.dedent("""
        import importlib.metadata as metadata
        import nnscratch
        print(nnscratch.__file__)
        print(nnscratch.__version__)
        print(sorted(r for r in metadata.requires("nnscratch") if "extra ==" not in r))
        try:
            import nnscratch.widgets
        except ImportError as error:
            print(error)
    """)
    result = subprocess.run(
        [str(python), "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr
    where, version, requires, error = result.stdout.splitlines()
    assert where.startswith(site), "the installed copy, not the checkout"
    assert version == importlib.metadata.version("nnscratch")
    assert requires == "['numpy>=1.26', 'tqdm>=4.66']"
    assert error == (
        "ipywidgets is not installed, and this part of nnscratch needs it: "
        'pip install "nnscratch[widgets]"'
    )
