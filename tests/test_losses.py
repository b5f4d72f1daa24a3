"""Losses: values and gradients against finite differences, the fused gradient, and
clear errors."""

import numpy as np
import pytest

from nnscratch.activations import Softmax
from nnscratch.gradcheck import numerical_gradient, relative_error
from nnscratch.losses import CrossEntropyLoss, MeanSquaredErrorLoss, one_hot

CE, MSE = CrossEntropyLoss, MeanSquaredErrorLoss


def softmax(z):
    return Softmax().forward(z)


@pytest.mark.parametrize("shape", [(1, 1), (5, 1), (4, 3)])
def test_mse_loss_and_grad(shape):
    rng = np.random.default_rng(0)
    y_pred, y_true = rng.normal(size=shape), rng.normal(size=shape)
    assert MSE.loss(y_pred, y_true) == pytest.approx(np.mean((y_pred - y_true) ** 2))
    numeric = numerical_gradient(lambda p: MSE.loss(p, y_true), y_pred.copy())
    assert relative_error(MSE.grad(y_pred, y_true), numeric) < 1e-6


def test_mse_grad_divides_by_every_entry():
    y_pred, y_true = np.ones((2, 3)), np.zeros((2, 3))
    assert np.allclose(MSE.grad(y_pred, y_true), 2 / 6)


def test_cross_entropy_loss_and_grad():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 1.0, size=(6, 4))
    y = one_hot(rng.integers(0, 4, size=6), 4)
    expected = -np.mean(np.log(p[y == 1]))
    assert CE.loss(p, y) == pytest.approx(expected)
    numeric = numerical_gradient(lambda p_: CE.loss(p_, y), p.copy())
    assert relative_error(CE.grad(p, y), numeric) < 1e-6


@pytest.mark.parametrize("scale", [0.1, 1.0, 5.0])
def test_fused_logits_grad_matches_finite_differences(scale):
    rng = np.random.default_rng(2)
    z = rng.normal(size=(5, 3)) * scale
    y = one_hot(rng.integers(0, 3, size=5), 3)
    numeric = numerical_gradient(lambda z_: CE.loss(softmax(z_), y), z.copy())
    assert relative_error(CE.logits_grad(softmax(z), y), numeric) < 1e-6


def test_fused_logits_grad_matches_chained_backward():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(4, 5))
    y = one_hot(rng.integers(0, 5, size=4), 5)
    activation = Softmax()
    p = activation.forward(z)
    assert np.allclose(CE.logits_grad(p, y), activation.backward(CE.grad(p, y)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_gradient_is_exact_for_extreme_logits(dtype):
    z = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]], dtype=dtype)
    y = one_hot(np.array([2, 1]), 3).astype(dtype)
    with np.errstate(all="raise"):
        p = softmax(z)
        grad = CE.logits_grad(p, y)
        loss = CE.loss(p, y)
    assert np.array_equal(grad, np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]]) / 2)
    assert grad.dtype == dtype
    assert np.isfinite(loss) and loss == pytest.approx(-np.log(CE.eps) / 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_perfect_prediction_costs_positive_zero(dtype):
    y = one_hot(np.array([0, 2, 1]), 3).astype(dtype)
    for y_pred in (
        y.copy(),
        softmax(np.array([[1e4, 0, 0], [0, 0, 1e4], [0, 1e4, 0]], dtype=dtype)),
    ):
        loss = CE.loss(y_pred, y)
        assert type(loss) is float
        assert loss == 0.0 and not np.signbit(loss)


@pytest.mark.parametrize(
    "loss_fn", [MSE.loss, MSE.grad, CE.loss, CE.grad, CE.logits_grad]
)
def test_shape_mismatch_names_both_shapes(loss_fn):
    with pytest.raises(ValueError, match=r"y_pred \(4, 3\).*y_true \(4, 2\)"):
        loss_fn(np.zeros((4, 3)), np.zeros((4, 2)))


@pytest.mark.parametrize("loss_fn", [CE.loss, CE.grad, CE.logits_grad])
def test_integer_labels_get_the_one_hot_hint(loss_fn):
    with pytest.raises(ValueError, match=r"one_hot\(y_true, 3\)"):
        loss_fn(np.full((4, 3), 1 / 3), np.array([0, 1, 2, 0]))


def test_one_column_target_gets_the_reshape_hint():
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        MSE.loss(np.zeros((5, 1)), np.zeros(5))


@pytest.mark.parametrize("loss_fn", [MSE.loss, CE.loss])
def test_non_arrays_are_refused(loss_fn):
    with pytest.raises(TypeError, match="y_true must be a NumPy array, got list"):
        loss_fn(np.zeros((2, 2)), [[0, 1], [1, 0]])


def test_one_hot():
    encoded = one_hot(np.array([2, 0, 1, 2]), 4)
    assert encoded.shape == (4, 4) and encoded.dtype == np.float64
    assert np.array_equal(encoded.argmax(axis=1), [2, 0, 1, 2])
    assert np.array_equal(encoded.sum(axis=1), np.ones(4))
    assert one_hot(np.array([], dtype=int), 3).shape == (0, 3)


@pytest.mark.parametrize(
    "y, message",
    [
        (
            np.array([0.0, 1.0]),
            r"y must hold integer labels 0\.\.2 in a 1-D array, got dtype float64",
        ),
        (np.array([[0, 1]]), r"got shape \(1, 2\)"),
        ([0, 1], "got list"),
        (np.array([0, 3]), "got labels from 0 to 3"),
        (np.array([-1, 0]), "got labels from -1 to 0"),
    ],
)
def test_one_hot_rejects_bad_labels(y, message):
    with pytest.raises(ValueError, match=message):
        one_hot(y, 3)


def test_one_hot_uses_the_shared_label_check(monkeypatch):
    """one_hot's label errors come from validation.check_labels, so they read the same
    everywhere."""
    import nnscratch.losses as losses

    calls = []
    monkeypatch.setattr(
        losses, "check_labels", lambda y, name, k: calls.append((name, k)) or y
    )
    losses.one_hot(np.array([0, 1]), 2)
    assert calls == [("y", 2)]


@pytest.mark.parametrize(
    "num_classes, error", [(0, ValueError), (2.0, TypeError), ("3", TypeError)]
)
def test_one_hot_rejects_bad_num_classes(num_classes, error):
    with pytest.raises(error, match="num_classes"):
        one_hot(np.array([0, 1]), num_classes)


@pytest.mark.parametrize(
    "loss_fn", [MSE.loss, MSE.grad, CE.loss, CE.grad, CE.logits_grad]
)
def test_empty_or_non_finite_targets_are_refused(loss_fn):
    with pytest.raises(ValueError, match="y_true is empty"):
        loss_fn(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="y_true holds 2 NaN or inf"):
        loss_fn(np.zeros((2, 2)), np.array([[np.nan, 0.0], [0.0, np.inf]]))


@pytest.mark.parametrize("loss_fn", [MSE.loss, CE.loss])
def test_non_numeric_dtypes_are_refused(loss_fn):
    with pytest.raises(TypeError, match="y_pred must hold real numbers, got dtype <U1"):
        loss_fn(np.array([["a"]]), np.zeros((1, 1)))
