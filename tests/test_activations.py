"""Activations: backward matches finite differences, softmax is a distribution, nothing
overflows."""

import numpy as np
import pytest

from nnscratch.activations import (
    ACTIVATIONS,
    Relu,
    Sigmoid,
    Softmax,
    Tanh,
    stable_sigmoid,
)
from nnscratch.gradcheck import numerical_gradient, relative_error

ALL = [Relu, Tanh, Sigmoid, Softmax]


def away_from_zero(rng, shape):
    """Random float64 inputs at least 0.05 away from 0, so ReLU's kink never sits inside
    a difference."""
    x = rng.normal(size=shape)
    return np.sign(x) * (0.05 + np.abs(x))


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (7, 2)])
def test_backward_matches_finite_differences(cls, shape):
    rng = np.random.default_rng(0)
    x = away_from_zero(rng, shape) * 2
    # upstream gradient dL/dy of L = sum(d * f(x))
    d = rng.normal(size=shape)
    activation = cls()
    activation.forward(x)
    analytic = activation.backward(d)
    numeric = numerical_gradient(lambda x_: np.sum(d * cls().forward(x_)), x.copy())
    assert analytic.shape == x.shape
    assert relative_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_are_finite_and_raise_no_warning(cls, dtype):
    x = np.array(
        [[-1e4, -1e3, 0.0, 1e3, 1e4], [1e4, 1e4 - 1, -1e4, 20.0, -20.0]], dtype=dtype
    )
    d = np.random.default_rng(1).normal(size=x.shape).astype(dtype)
    # overflow, underflow, invalid, divide: all errors
    with np.errstate(all="raise"):
        activation = cls()
        y = activation.forward(x)
        dx = activation.backward(d)
    assert y.dtype == dtype and dx.dtype == dtype
    assert np.isfinite(y).all() and np.isfinite(dx).all()


def test_softmax_rows_are_distributions():
    x = np.random.default_rng(2).normal(size=(6, 4)) * 10
    p = Softmax().forward(x)
    assert (p >= 0).all()
    assert np.allclose(p.sum(axis=1), 1.0)


def test_softmax_shift_invariance_and_large_logits():
    small = np.array([[0.0, 1.0, 2.0]])
    expected = np.exp(small) / np.exp(small).sum()
    with np.errstate(all="raise"):
        assert np.allclose(Softmax().forward(small + 1000.0), expected)
        assert np.allclose(Softmax().forward(small - 1000.0), expected)
    assert np.array_equal(
        Softmax().forward(np.array([[-1e4, 0.0, 1e4]])), [[0.0, 0.0, 1.0]]
    )


def test_softmax_backward_is_the_jacobian_product():
    rng = np.random.default_rng(3)
    softmax = Softmax()
    s = softmax.forward(rng.normal(size=(1, 5)))[0]
    d = rng.normal(size=5)
    jacobian = np.diag(s) - np.outer(s, s)
    assert np.allclose(softmax.backward(d[None, :])[0], jacobian @ d)


def test_softmax_rejects_non_2d_input():
    with pytest.raises(ValueError, match=r"2-D.*\(3,\)"):
        Softmax().forward(np.zeros(3))


def test_sigmoid_symmetry_and_values():
    x = np.linspace(-50, 50, 201)
    assert np.allclose(stable_sigmoid(-x), 1 - stable_sigmoid(x))
    assert stable_sigmoid(np.array(0.0)) == 0.5
    assert (
        stable_sigmoid(np.array(1e4)) == 1.0 and stable_sigmoid(np.array(-1e4)) == 0.0
    )
    moderate = np.linspace(-20, 20, 81)
    assert np.allclose(
        stable_sigmoid(moderate), 1 / (1 + np.exp(-moderate)), rtol=1e-14, atol=0
    )


def test_tanh_is_a_rescaled_sigmoid():
    x = np.linspace(-5, 5, 41).reshape(1, -1)
    assert np.allclose(Tanh().forward(x), 2 * stable_sigmoid(2 * x) - 1)


def test_relu_forward_and_backward():
    relu = Relu()
    x = np.array([[-2.0, -0.0, 0.0, 3.0]])
    y = relu.forward(x)
    assert np.array_equal(y, [[0.0, 0.0, 0.0, 3.0]]) and not np.signbit(y).any()
    assert np.array_equal(relu.backward(np.full_like(x, 5.0)), [[0.0, 0.0, 0.0, 5.0]])


def test_activations_keep_float32():
    x = np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32)
    for cls in ALL:
        activation = cls()
        assert activation.forward(x).dtype == np.float32
        assert activation.backward(np.ones_like(x)).dtype == np.float32


def test_activations_dictionary():
    assert ACTIVATIONS == {
        "Relu": Relu,
        "Tanh": Tanh,
        "Sigmoid": Sigmoid,
        "Softmax": Softmax,
    }
