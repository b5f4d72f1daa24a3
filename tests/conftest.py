import functools
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK = ROOT / "benchmarks" / "train_speed.py"


@functools.cache
def torch_import_error():
    """Why `import torch` fails, as one line, or None if it works."""
    try:
        import torch  # noqa: F401
    except ImportError as error:
        return f"{type(error).__name__}: {error}".splitlines()[0]
    return None


def on_ci():
    """True for a CI run: CI=true, as GitHub Actions and .ci/run set it."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def pytest_runtest_setup(item):
    """A test marked `torch` skips without torch (one-line reason), fails if CI=true."""
    if item.get_closest_marker("torch") is None or torch_import_error() is None:
        return
    if on_ci():
        pytest.fail(
            f"CI=true, so the PyTorch cross-checks must run: {torch_import_error()} "
            "(.ci/run installs torch==2.13.0)",
            pytrace=False,
        )
    pytest.skip(
        f"PyTorch cross-check: no torch ({torch_import_error()}); "
        "pip install torch==2.13.0 to run it"
    )


@pytest.fixture(scope="session")
def torch():
    """The torch module, for tests marked `torch` (pytest_runtest_setup checked it)."""
    import torch

    return torch


@pytest.fixture(scope="session")
def built_site():
    """Build the website once per test session (executing every chapter); return
    _build/html.

    The build runs with MPLBACKEND=Agg, as on many headless servers and CI machines:
    under Agg, plt.show() draws nothing, so tests/test_book_build.py fails if the build
    lets the shell's setting hide the figures.
    """
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "-W", "--keep-going"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"jupyter-book build failed:\n{log[-8000:]}"
    return ROOT / "_build" / "html"


@pytest.fixture
def bench(monkeypatch):
    """benchmarks/train_speed.py as a module, on a small data set (640 training and 128
    evaluation rows)."""
    # the script puts the checkout on sys.path: undo it after
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("train_speed", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "N_TRAIN", 640)
    monkeypatch.setattr(module, "N_EVAL", 128)
    return module


@pytest.fixture
def no_hang(request):
    """Fail instead of blocking forever if the test takes over 10 seconds (POSIX)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def timeout(signum, frame):
        raise TimeoutError(f"{request.node.name} blocked for 10 seconds")

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to download MNIST fails the test."""
    import nnscratch.data

    def refuse(*args, **kwargs):
        raise AssertionError("load_mnist tried to download")

    monkeypatch.setattr(nnscratch.data, "_fetch_openml", refuse)
