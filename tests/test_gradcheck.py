"""numerical_gradient and relative_error (book/01_chain_rule.ipynb)."""

import numpy as np
import pytest

from nnscratch.gradcheck import numerical_gradient, relative_error


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_gradient_of_sum_of_squares_is_2x(rng):
    x = rng.normal(size=(3, 4))
    grad = numerical_gradient(lambda v: np.sum(v**2), x)
    assert grad.shape == x.shape and grad.dtype == x.dtype
    assert relative_error(grad, 2 * x) < 1e-8


def test_gradient_of_elementwise_sine_is_cosine(rng):
    x = rng.normal(size=(2, 3, 2))
    assert (
        relative_error(numerical_gradient(lambda v: np.sum(np.sin(v)), x), np.cos(x))
        < 1e-8
    )


def test_gradient_of_quadratic_form(rng):
    A = rng.normal(size=(5, 5))
    x = rng.normal(size=5)
    grad = numerical_gradient(lambda v: v @ A @ v, x)
    assert relative_error(grad, (A + A.T) @ x) < 1e-8


def test_closure_reads_the_array_that_is_nudged_in_place(rng):
    X = rng.normal(size=(6, 3))
    W = rng.normal(size=(3, 2))
    W_before = W.copy()

    def loss(_):  # ignores its argument, reads W through the closure
        return 0.5 * np.sum((X @ W) ** 2)

    grad = numerical_gradient(loss, W)
    assert relative_error(grad, X.T @ (X @ W)) < 1e-8
    assert np.array_equal(W, W_before), (
        "numerical_gradient must restore every entry exactly"
    )


def test_calls_f_twice_per_entry(rng):
    calls = []
    x = rng.normal(size=(2, 3))
    numerical_gradient(lambda v: calls.append(1) or float(np.sum(v)), x)
    assert len(calls) == 2 * x.size


def test_eps_is_used(rng):
    x = np.array([1.0])
    # for f = x^3 the central difference is 3x^2 + eps^2, so a large eps shows up in the
    # result
    assert numerical_gradient(lambda v: np.sum(v**3), x, eps=0.1)[0] == pytest.approx(
        3.01
    )


@pytest.mark.parametrize("bad", [np.arange(3), [1.0, 2.0], 1.5])
def test_refuses_non_float_arrays(bad):
    with pytest.raises(TypeError, match="x must be a floating-point ndarray"):
        numerical_gradient(lambda v: 0.0, bad)


def test_relative_error_values(rng):
    a = rng.normal(size=(4, 3))
    assert relative_error(a, a) == 0.0
    assert relative_error(a, -a) == pytest.approx(1.0)
    assert relative_error(2 * a, a) == pytest.approx(1 / 3)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error([1.0, 2.0], [1.0, 2.002]) == pytest.approx(0.002 / 4.002)


def test_relative_error_is_scale_free_and_symmetric(rng):
    a = rng.normal(size=10)
    b = a + 1e-3 * rng.normal(size=10)
    assert relative_error(a, b) == pytest.approx(relative_error(1e6 * a, 1e6 * b))
    assert relative_error(a, b) == relative_error(b, a)
    assert isinstance(relative_error(a, b), float)
