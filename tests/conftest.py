import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK = ROOT / "benchmarks" / "train_speed.py"


@pytest.fixture(scope="session")
def built_site():
    """Build the website once per test session (executing every chapter); return _build/html.

    The build runs with MPLBACKEND=Agg, as on many headless servers and CI machines: under Agg, plt.show()
    draws nothing, so tests/test_book_build.py fails if the build lets the shell's setting hide the figures.
    """
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run([str(jupyter_book), "build", str(ROOT), "-W", "--keep-going"],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"jupyter-book build failed:\n{log[-8000:]}"
    return ROOT / "_build" / "html"


@pytest.fixture
def bench(monkeypatch):
    """benchmarks/train_speed.py as a module, on a small data set (640 training and 128 evaluation rows)."""
    monkeypatch.setattr(sys, "path", list(sys.path))   # the script puts the checkout on sys.path: undo it after
    spec = importlib.util.spec_from_file_location("train_speed", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "N_TRAIN", 640)
    monkeypatch.setattr(module, "N_EVAL", 128)
    return module
