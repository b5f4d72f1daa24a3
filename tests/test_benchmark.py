"""benchmarks/train_speed.py keeps working as the library changes: its pieces run on a
small data set. The naive yardstick it times, nnscratch.reference, is checked too: its
gradients against finite differences, its training run against the library's.

The timings themselves are not tested (speed targets live in the benchmark's output,
never in tests); the PyTorch parts are marked `torch`.
"""
import math
from pathlib import Path

import numpy as np
import pytest


def test_data_are_mnist_shaped(bench):
    X, labels, X_eval, labels_eval = bench.dataset()
    assert X.shape == (640, 784) and X_eval.shape == (128, 784)
    assert X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert 0.1 < np.mean(X > 0) < 0.3  # mostly zeros, like MNIST
    assert set(np.unique(labels)) <= set(range(10))


@pytest.mark.parametrize("kind", ["nnscratch", "naive", "skeleton", "lean",
                                  "lean, better recipe"])
def test_each_numpy_epoch_runs(bench, kind):
    data = bench.dataset()
    epoch = {"nnscratch": bench.nnscratch_epoch, "naive": bench.naive_epoch,
             "skeleton": bench.skeleton_epoch, "lean": bench.lean_epoch,
             "lean, better recipe": lambda *d: bench.lean_epoch(*d, better=True),
             }[kind](*data)
    train_losses, eval_losses = epoch()
    if kind == "skeleton":
        # it learns nothing, and says so
        assert train_losses == [] and math.isnan(eval_losses[0])
    else:
        second = epoch()[1][0]
        assert 0 < second < eval_losses[0] < 2 * math.log(10)  # it learns


def test_one_blas_thread_variant_trains_like_the_default(bench):
    data = bench.dataset()
    default = bench.nnscratch_epoch(*data)
    limited = bench.with_blas_threads(bench.nnscratch_epoch(*data), 1)
    assert np.allclose(default()[1], limited()[1], rtol=1e-4)


@pytest.mark.torch
def test_torch_epoch_learns(bench):
    epoch = bench.torch_epoch(*bench.dataset(), threads=1)
    first, second = epoch()[1][0], epoch()[1][0]
    assert 0 < second < first


def test_flop_count_matches_the_formula(bench):
    train, evaluation = bench.epoch_flops()
    per_row_forward = 2 * (784 * 32 + 32 * 32 + 32 * 10)
    assert evaluation == 128 * per_row_forward
    assert train == 640 * (2 * per_row_forward + 2 * (32 * 32 + 32 * 10))


def test_reference_code_is_imported_from_its_module(bench):
    """`import nnscratch` leaves nnscratch.reference out (book/17_export): the script
    imports it by name."""
    import nnscratch

    assert "NaiveNetwork" not in nnscratch.__all__
    assert not hasattr(nnscratch, "naive_train")
    text = Path(bench.__file__).read_text(encoding="utf-8")
    assert "from nnscratch.reference import" in text


# --- nnscratch.reference, the naive yardstick the benchmark and chapter 20 time ------

def _naive_net(seed=0, sizes=(5, 3, 2, 2)):
    from nnscratch.reference import NaiveNetwork, NaiveSoftmax

    n_in, hidden, n_out, depth = sizes  # 5 inputs, 2 hidden layers of 3, 2 classes
    return NaiveNetwork(n_in, n_out, hidden, depth, head_activation=NaiveSoftmax,
                        rng=np.random.default_rng(seed))


def test_naive_loss_gradient_matches_finite_differences():
    from nnscratch.gradcheck import numerical_gradient, relative_error
    from nnscratch.reference import NaiveCrossEntropy

    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 1.0, size=(4, 3))
    y = np.eye(3)[[0, 2, 1, 2]]
    numeric = numerical_gradient(lambda q: NaiveCrossEntropy.loss(q, y), p)
    assert relative_error(NaiveCrossEntropy.grad(p, y), numeric) < 1e-8


def test_naive_softmax_backward_matches_finite_differences():
    from nnscratch.gradcheck import numerical_gradient, relative_error
    from nnscratch.reference import NaiveSoftmax

    rng = np.random.default_rng(1)
    z, g = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    softmax = NaiveSoftmax()
    softmax.forward(z)
    analytic = softmax.backward(g)
    numeric = numerical_gradient(lambda zz: np.sum(g * NaiveSoftmax().forward(zz)),
                                 z.copy())
    assert relative_error(analytic, numeric) < 1e-8


def test_naive_step_updates_by_the_finite_difference_gradient_and_returns_dl_dx():
    """One step with learning rate lr moves every weight by -lr * dL/dW, and returns
    dL/dx of the input."""
    from nnscratch.gradcheck import numerical_gradient, relative_error
    from nnscratch.reference import NaiveCrossEntropy

    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 5)), np.eye(2)[rng.integers(0, 2, 6)]
    net = _naive_net()

    def loss(xx=x):
        return NaiveCrossEntropy.loss(net.forward(xx), y)

    numeric_w = [numerical_gradient(lambda w: loss(), layer.W) for layer in net.layers]
    numeric_b = [numerical_gradient(lambda b: loss(), layer.b) for layer in net.layers]
    numeric_x = numerical_gradient(lambda xx: loss(xx), x.copy())
    before = [(layer.W.copy(), layer.b.copy()) for layer in net.layers]
    lr = 0.5
    p = net.forward(x)
    d_x = net.step(NaiveCrossEntropy.grad(p, y), lr)
    assert relative_error(d_x, numeric_x) < 1e-7
    for layer, (W, b), num_w, num_b in zip(net.layers, before, numeric_w, numeric_b):
        assert relative_error((W - layer.W) / lr, num_w) < 1e-7
        assert relative_error((b - layer.b) / lr, num_b) < 1e-7


def test_naive_loop_and_library_follow_the_same_trajectory():
    """Chapter 20's claim: float64, same seeds, same batches -> weights within 1e-12
    after a few epochs."""
    import nnscratch as nn
    from nnscratch.reference import (NaiveCrossEntropy, NaiveNetwork, NaiveSoftmax,
                                     naive_train)

    rng = np.random.default_rng(3)
    X, Y = rng.random((300, 20)), np.eye(4)[rng.integers(0, 4, 300)]
    naive = NaiveNetwork(20, 4, 8, 2, head_activation=NaiveSoftmax,
                         rng=np.random.default_rng(0))
    library = nn.NeuralNetwork(20, 4, 8, 2, head_activation=nn.Softmax, seed=0,
                               dtype=np.float64)
    naive_losses, held_out = naive_train(naive, X, Y, NaiveCrossEntropy, 3, 32, 0.1,
                                         rng=np.random.default_rng(1))
    library_losses, _ = nn.train(library, X, Y, nn.CrossEntropyLoss, 3, 32, 0.1,
                                 bar=False, seed=1)
    assert held_out == [] and len(naive_losses) == 3
    assert np.allclose(naive_losses, library_losses, rtol=1e-12, atol=0)
    dense = [layer for layer in library.layers if hasattr(layer, "weights")]
    for a, b in zip(naive.layers, dense, strict=True):
        assert np.abs(a.W - b.weights).max() < 1e-12
        assert np.abs(a.b - b.bias).max() < 1e-12
    assert naive_losses[-1] < naive_losses[0]


# LeanLoop (chapter 20): a yardstick, so it must compute what the library computes


def _lean_and_library(sizes=(5, 4, 3, 3), seed=0, **options):
    import nnscratch as nn
    from nnscratch.reference import LeanLoop

    model = nn.NeuralNetwork(sizes[0], sizes[-1], sizes[1], len(sizes) - 2,
                             head_activation=nn.Softmax, seed=seed)
    dense = [layer for layer in model.layers if isinstance(layer, nn.Layer)]
    lean = LeanLoop([layer.weights for layer in dense], [layer.bias for layer in dense],
                    np.random.default_rng(seed), **options)
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(7, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], 7)]
    return model, lean, x, y


def test_lean_loop_gradients_match_finite_differences():
    _, lean, x, y = _lean_and_library(learning_rate=0.1)
    lean.weights = [w.astype(np.float64) for w in lean.weights]
    lean.biases = [b.astype(np.float64) for b in lean.biases]
    lean.params = lean.weights + lean.biases
    lean.grads = [np.empty_like(p) for p in lean.params]
    x, y = x.astype(np.float64), y.astype(np.float64)

    def loss():
        return -np.sum(y * np.log(lean.forward(x))) / len(y)

    lean.backward(lean.forward(x), y)
    for param, grad in zip(lean.params, lean.grads):
        numeric = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            old = param[i]
            param[i] = old + 1e-6
            up = loss()
            param[i] = old - 1e-6
            numeric[i] = (up - loss()) / 2e-6
            param[i] = old
        assert np.allclose(grad, numeric, atol=1e-7), (grad, numeric)


@pytest.mark.parametrize("adam", [False, True])
def test_lean_loop_steps_like_the_library(adam):
    import nnscratch as nn

    model, lean, x, y = _lean_and_library(learning_rate=0.01, adam=adam)
    optimizer = (nn.Adam(model.parameters(), 0.01) if adam
                 else nn.SGD(model.parameters(), 0.01))
    for _ in range(3):
        model.backward(nn.CrossEntropyLoss.logits_grad(model.forward(x), y),
                       grad_is_logits=True)
        optimizer.step()
        lean.backward(lean.forward(x), y)
        lean.update()
    for mine, theirs in zip(lean.weights, [layer.weights for layer in model.layers
                                           if isinstance(layer, nn.Layer)]):
        assert np.allclose(mine, theirs, atol=1e-6)


def test_lean_loop_dropout_drops_a_fifth_and_keeps_the_mean():
    _, lean, x, _ = _lean_and_library(sizes=(5, 400, 3), learning_rate=0.1,
                                      dropout=0.2)
    x = np.abs(np.random.default_rng(3).normal(size=(200, 5))).astype(np.float32)
    lean.weights[0] = np.abs(lean.weights[0])            # every hidden unit positive
    lean.forward(x)
    hidden = lean.outputs[1]
    plain = np.maximum(x @ lean.weights[0] + lean.biases[0], 0)
    assert abs(np.mean(hidden == 0) - 0.2) < 0.01
    kept = hidden != 0
    assert np.allclose(hidden[kept], plain[kept] / 0.8, rtol=1e-5)
    lean.forward(x, training=False)
    assert np.allclose(lean.outputs[1], plain, rtol=1e-5)
