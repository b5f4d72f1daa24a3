"""benchmarks/train_speed.py keeps working as the library changes: its pieces run on a small data set.

The timings themselves are not tested (speed targets live in the benchmark's output, never in tests);
torch is optional, so its part is skipped where it is not installed.
"""
import math
from pathlib import Path

import numpy as np
import pytest



def test_data_are_mnist_shaped(bench):
    X, labels, X_eval, labels_eval = bench.dataset()
    assert X.shape == (640, 784) and X_eval.shape == (128, 784) and X.dtype == np.float32
    assert 0 <= X.min() and X.max() <= 1 and 0.1 < np.mean(X > 0) < 0.3      # mostly zeros, like MNIST
    assert set(np.unique(labels)) <= set(range(10))


@pytest.mark.parametrize("kind", ["nnscratch", "naive", "skeleton"])
def test_each_numpy_epoch_runs(bench, kind):
    data = bench.dataset()
    epoch = {"nnscratch": bench.nnscratch_epoch, "naive": bench.naive_epoch,
             "skeleton": bench.skeleton_epoch}[kind](*data)
    train_losses, eval_losses = epoch()
    if kind == "skeleton":
        assert train_losses == [] and math.isnan(eval_losses[0])       # it learns nothing, and says so
    else:
        second = epoch()[1][0]
        assert 0 < second < eval_losses[0] < 2 * math.log(10)           # it learns


def test_one_blas_thread_variant_trains_like_the_default(bench):
    data = bench.dataset()
    default, limited = bench.nnscratch_epoch(*data), bench.with_blas_threads(bench.nnscratch_epoch(*data), 1)
    assert np.allclose(default()[1], limited()[1], rtol=1e-4)


def test_torch_epoch_learns(bench):
    pytest.importorskip("torch")
    epoch = bench.torch_epoch(*bench.dataset(), threads=1)
    first, second = epoch()[1][0], epoch()[1][0]
    assert 0 < second < first


def test_flop_count_matches_the_formula(bench):
    train, evaluation = bench.epoch_flops()
    per_row_forward = 2 * (784 * 32 + 32 * 32 + 32 * 10)
    assert evaluation == 128 * per_row_forward
    assert train == 640 * (2 * per_row_forward + 2 * (32 * 32 + 32 * 10))


def test_reference_code_is_imported_from_its_module(bench):
    """`import nnscratch` leaves nnscratch.reference out (book/11_export): the script imports it by name."""
    import nnscratch
    assert "NaiveNetwork" not in nnscratch.__all__ and not hasattr(nnscratch, "naive_train")
    assert "from nnscratch.reference import" in Path(bench.__file__).read_text(encoding="utf-8")
