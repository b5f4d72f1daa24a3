"""ruff, configured in pyproject.toml ([tool.ruff]), finds nothing in the repository.

It checks the package, the tools, the tests, the benchmarks and the notebooks (ruff
reads .ipynb files). `make lint` runs the same command on its own.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"


def ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_ruff_finds_nothing():
    if ruff("--version").returncode != 0:
        pytest.fail("ruff is not installed: pip install -r requirements.txt")
    result = ruff("check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, f"ruff check found:\n{result.stdout}{result.stderr}"


def ruff_config():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11+")
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["ruff"]


def test_ruff_checks_errors_warnings_and_pyflakes_at_88_columns():
    config = ruff_config()
    assert config["line-length"] == 88
    assert {"E", "F", "W"} <= set(config["lint"]["select"])


def test_every_ignored_rule_says_why():
    """An ignored rule code sits on a line with a comment giving the reason."""
    config = ruff_config()["lint"]
    ignored = set(config.get("ignore", []))
    for codes in config.get("per-file-ignores", {}).values():
        ignored.update(codes)
    lines = PYPROJECT.read_text(encoding="utf-8").splitlines()
    for code in ignored:
        uses = [line for line in lines if re.search(rf'"{code}"', line)]
        assert uses and all("#" in line.split(f'"{code}"', 1)[1] for line in uses), code
