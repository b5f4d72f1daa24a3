"""The teaching autograd engine (book/14_autograd): every rule against finite
differences, broadcasting, reuse, numbers on either side, errors, deep graphs, and part
1's hand-written gradients. The torch comparison is skipped where torch is not
installed."""

import sys

import numpy as np
import pytest

from nnscratch.activations import Relu, Sigmoid, Softmax, Tanh
from nnscratch.autograd import Tensor
from nnscratch.gradcheck import numerical_gradient, relative_error
from nnscratch.layers import Layer
from nnscratch.losses import CrossEntropyLoss, MeanSquaredErrorLoss, one_hot


def engine_vs_numerical(f, *arrays, seed=0):
    """Largest relative error, over the inputs, of the engine's gradient of
    L = sum(d * f(*inputs)) against central differences (d random, fixed)."""
    inputs = [Tensor(a) for a in arrays]
    out = f(*inputs)
    d = np.random.default_rng(seed).normal(size=out.shape)
    (out * d).sum().backward()

    def loss(_):
        return np.sum(d * f(*[Tensor(a) for a in arrays]).data)

    errors = []
    for t, a in zip(inputs, arrays):
        assert t.grad.shape == a.shape and t.grad.dtype == np.float64
        errors.append(relative_error(t.grad, numerical_gradient(loss, a)))
    return max(errors)


def normal(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape)


def positive(*shape, seed=2):
    return np.random.default_rng(seed).uniform(0.5, 2.0, size=shape)


def away_from_zero(*shape, seed=3):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


CASES = {
    "add": (lambda u, v: u + v, [normal(3, 4), normal(3, 4, seed=5)]),
    "sub": (lambda u, v: u - v, [normal(3, 4), normal(3, 4, seed=5)]),
    "mul": (lambda u, v: u * v, [normal(3, 4), normal(3, 4, seed=5)]),
    "div": (lambda u, v: u / v, [normal(3, 4), positive(3, 4)]),
    "neg": (lambda u: -u, [normal(2, 3)]),
    "pow2": (lambda u: u**2, [normal(2, 3)]),
    "pow_half": (lambda u: u**0.5, [positive(2, 3)]),
    "pow_minus_1.5": (lambda u: u**-1.5, [positive(2, 3)]),
    "pow_int_exponent": (lambda u: u ** np.int64(3), [normal(2, 3)]),
    "matmul": (lambda u, v: u @ v, [normal(4, 3), normal(3, 5, seed=5)]),
    "transpose": (lambda u: u.T, [normal(2, 5)]),
    "transpose_method": (lambda u, v: u.transpose() @ v, [normal(3, 2), normal(3, 4)]),
    "sum_all": (lambda u: u.sum(), [normal(2, 3, 4)]),
    "sum_axis0": (lambda u: u.sum(axis=0), [normal(2, 3, 4)]),
    "sum_axis_tuple": (lambda u: u.sum(axis=(0, 2)), [normal(2, 3, 4)]),
    "sum_negative_axis_keepdims": (
        lambda u: u.sum(axis=-1, keepdims=True),
        [normal(2, 3, 4)],
    ),
    "sum_all_keepdims": (lambda u: u.sum(keepdims=True), [normal(2, 3)]),
    "exp": (lambda u: u.exp(), [normal(2, 3)]),
    "log": (lambda u: u.log(), [positive(2, 3)]),
    "tanh": (lambda u: u.tanh(), [normal(2, 3)]),
    "relu": (lambda u: u.relu(), [away_from_zero(3, 4)]),
    "composite": (
        lambda u, v: ((u @ v).tanh() * 2 - 1).exp().sum(axis=1) / 3,
        [normal(4, 3), normal(3, 2, seed=5)],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_rule_matches_finite_differences(name):
    f, arrays = CASES[name]
    assert engine_vs_numerical(f, *[a.copy() for a in arrays]) < 1e-8


def test_forward_values_match_numpy():
    a, b = normal(3, 4), positive(3, 4)
    A, B = Tensor(a), Tensor(b)
    pairs = [
        (A + B, a + b),
        (A - B, a - b),
        (A * B, a * b),
        (A / B, a / b),
        (-A, -a),
        (A**3, a**3),
        (A @ B.T, a @ b.T),
        (A.T, a.T),
        (A.sum(axis=1), a.sum(axis=1)),
        (A.exp(), np.exp(a)),
        (B.log(), np.log(b)),
        (A.tanh(), np.tanh(a)),
        (A.relu(), np.maximum(a, 0)),
    ]
    for tensor, expected in pairs:
        assert isinstance(tensor, Tensor) and tensor.data.dtype == np.float64
        np.testing.assert_allclose(tensor.data, expected, rtol=1e-15, atol=0)


# ---- construction --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        3,
        2.5,
        [1, 2],
        [[1, 2], [3, 4]],
        np.arange(4),
        np.ones(3, dtype=np.float32),
        True,
    ],
)
def test_numbers_lists_and_arrays_become_float64(data):
    t = Tensor(data)
    assert t.data.dtype == np.float64 and t.grad is None
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float64))


def test_a_float64_array_is_wrapped_without_a_copy():
    a = np.ones(3)
    assert Tensor(a).data is a


@pytest.mark.parametrize(
    "data", ["abc", ["1", "2"], None, [1 + 2j], {"a": 1}, object()]
)
def test_non_numeric_data_is_a_type_error_naming_data(data):
    with pytest.raises(
        TypeError, match="data must be a number or an array of real numbers"
    ):
        Tensor(data)


def test_a_ragged_list_is_a_value_error():
    with pytest.raises(ValueError, match="data must be a rectangular array"):
        Tensor([[1, 2], [3]])


def test_nan_is_allowed():
    t = Tensor([np.nan, 1.0])
    assert np.isnan(t.data[0])


# ---- broadcasting --------------------------------------------------------------------


def test_bias_row_broadcast_over_the_batch_gets_the_column_sums():
    x, bias, d = normal(5, 3), normal(1, 3, seed=7), normal(5, 3, seed=8)
    X, B = Tensor(x), Tensor(bias)
    ((X + B) * d).sum().backward()
    assert B.grad.shape == (1, 3)
    np.testing.assert_allclose(B.grad, d.sum(axis=0, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(X.grad, d, rtol=1e-14)


@pytest.mark.parametrize(
    "shapes",
    [
        [(5, 3), (1, 3)],
        [(5, 3), (3,)],
        [(5, 3), (5, 1)],
        [(5, 3), ()],
        [(), (2, 3)],
        [(2, 1, 4), (3, 1)],
        [(1, 3), (4, 1)],
    ],
)
@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_broadcast_operands_get_gradients_of_their_own_shape(shapes, op):
    f = {
        "+": lambda u, v: u + v,
        "-": lambda u, v: u - v,
        "*": lambda u, v: u * v,
        "/": lambda u, v: u / v,
    }[op]
    arrays = [normal(*shapes[0]), positive(*shapes[1])]
    assert engine_vs_numerical(f, *arrays) < 1e-8


def test_scalar_tensor_plus_array():
    s, a = Tensor(2.0), Tensor(normal(3, 4))
    (s * a).sum().backward()
    assert s.grad.shape == () and np.isclose(s.grad, a.data.sum())
    np.testing.assert_array_equal(a.grad, np.full((3, 4), 2.0))


def test_sum_shapes_follow_numpy():
    a = Tensor(normal(2, 3, 4))
    assert a.sum().shape == ()
    assert a.sum(axis=1).shape == (2, 4)
    assert a.sum(axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    assert a.sum(keepdims=True).shape == (1, 1, 1)


# ---- the graph -----------------------------------------------------------------------


def test_the_chapter_example_and_a_value_used_twice():
    a, b = Tensor(2.0), Tensor(-3.0)
    c = a * b
    loss = c + a
    loss.backward()
    assert (loss.data, a.grad, b.grad, c.grad, loss.grad) == (-4, -2, 2, 1, 1)


def test_a_value_multiplied_by_itself():
    x = Tensor(normal(3))
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data, rtol=1e-15)


def test_every_tensor_of_the_graph_gets_a_float64_grad_of_its_shape():
    x, w = Tensor(normal(4, 3)), Tensor(normal(3, 2))
    h = x @ w
    t = h.tanh()
    loss = (t * 2.0).sum()
    loss.backward()
    for tensor in (x, w, h, t, loss):
        assert (
            tensor.grad.shape == tensor.data.shape and tensor.grad.dtype == np.float64
        )


def test_backward_twice_gives_the_same_gradients_not_their_sum():
    w = Tensor(normal(3))
    loss = (w * w).sum()
    loss.backward()
    first = w.grad.copy()
    loss.backward()
    np.testing.assert_array_equal(w.grad, first)


def test_a_second_loss_replaces_the_gradient_of_a_shared_leaf():
    w = Tensor(0.5)
    first, second = (2 * w) ** 2, w.exp()
    first.backward()
    second.backward()
    assert np.isclose(w.grad, np.exp(0.5))
    (first + second).backward()
    assert np.isclose(w.grad, 4.0 + np.exp(0.5))


def test_a_deep_chain_does_not_hit_the_recursion_limit():
    depth = max(5000, 3 * sys.getrecursionlimit())
    x = Tensor(1.0)
    y = x
    for _ in range(depth):
        y = y + 1.0
    y.backward()
    assert y.data == depth + 1 and x.grad == 1.0


def test_a_deep_chain_of_products():
    x = Tensor(1.0)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert np.isclose(x.grad, 1.0001**5000)


def test_leaves_get_gradients_after_a_one_element_non_scalar_result():
    x = Tensor(normal(1, 3))
    out = x.sum(axis=1, keepdims=True)  # shape (1, 1): one element
    out.backward()
    np.testing.assert_array_equal(x.grad, np.ones((1, 3)))


# ---- numbers and arrays on either side -----------------------------------------------


@pytest.mark.parametrize(
    "expression, expected_grad",
    [
        (lambda t: t + 2, 1.0),
        (lambda t: 2 + t, 1.0),
        (lambda t: t - 2, 1.0),
        (lambda t: 2 - t, -1.0),
        (lambda t: t * 3, 3.0),
        (lambda t: 3 * t, 3.0),
        (lambda t: t / 4, 0.25),
        (lambda t: 4 / t, -1.0),
        (lambda t: np.float64(3) * t, 3.0),
    ],
)
def test_numbers_on_either_side(expression, expected_grad):
    t = Tensor(2.0)
    out = expression(t)
    assert isinstance(out, Tensor)
    out.backward()
    assert t.grad == expected_grad


def test_arrays_on_either_side_give_tensors():
    t = Tensor(normal(2, 3))
    a = normal(2, 3, seed=9)
    for out in (a + t, a - t, a * t, a / (t * t + 1), t + a, normal(4, 2) @ t, t @ a.T):
        assert isinstance(out, Tensor)
    m = normal(4, 2)
    (m @ t).sum().backward()
    np.testing.assert_allclose(t.grad, m.T @ np.ones((4, 3)), rtol=1e-14)


# ---- errors --------------------------------------------------------------------------


def test_backward_on_a_non_scalar_says_to_sum_first():
    with pytest.raises(ValueError, match=r"one-element.*\(2, 3\).*\.sum\(\)"):
        Tensor(np.ones((2, 3))).exp().backward()


@pytest.mark.parametrize("exponent", [Tensor(2.0), "2", np.array([2.0]), None])
def test_a_non_number_exponent_is_a_type_error(exponent):
    with pytest.raises(TypeError, match="exponent must be a plain number"):
        Tensor(2.0) ** exponent


def test_shapes_that_do_not_broadcast_are_a_value_error():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\).*do not broadcast"):
        Tensor(np.ones((2, 3))) + np.ones(4)
    with pytest.raises(ValueError, match="do not broadcast"):
        np.ones(4) * Tensor(np.ones((2, 3)))


@pytest.mark.parametrize(
    "left, right", [((2, 3), (2, 3)), ((3,), (3, 2)), ((2, 3, 4), (4, 2))]
)
def test_bad_matmul_shapes_are_a_value_error(left, right):
    with pytest.raises(ValueError, match="2-D Tensors"):
        Tensor(np.ones(left)) @ Tensor(np.ones(right))


def test_a_non_numeric_operand_is_a_type_error_naming_the_operand():
    with pytest.raises(TypeError, match="operand must be a number"):
        Tensor(1.0) + "a"
    with pytest.raises(TypeError, match="operand must be a number"):
        "a" * Tensor(1.0)


def test_numpy_ufuncs_are_refused_rather_than_silently_applied():
    with pytest.raises(TypeError):
        np.exp(Tensor(1.0))


# ---- part 1's hand-written gradients -------------------------------------------------


def test_agrees_with_the_dense_layer():
    rng = np.random.default_rng(0)
    layer = Layer(3, 4, seed=0, dtype=np.float64)
    layer.bias[...] = rng.normal(size=layer.bias.shape)
    x, d = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    z = layer.forward(x)
    dx = layer.backward(d)
    X, W, b = Tensor(x), Tensor(layer.weights.copy()), Tensor(layer.bias.copy())
    Z = X @ W + b
    (Z * d).sum().backward()
    assert relative_error(Z.data, z) < 1e-10
    assert relative_error(W.grad, layer.grad_weights) < 1e-10
    assert relative_error(b.grad, layer.grad_bias) < 1e-10
    assert relative_error(X.grad, dx) < 1e-10


def _softmax(z):
    e = (z - z.data.max(axis=1, keepdims=True)).exp()
    return e / e.sum(axis=1, keepdims=True)


ENGINE_ACTIVATIONS = {
    Relu: Tensor.relu,
    Tanh: Tensor.tanh,
    Sigmoid: lambda z: 1 / (1 + (-z).exp()),
    Softmax: _softmax,
}


@pytest.mark.parametrize("cls", list(ENGINE_ACTIVATIONS), ids=lambda c: c.__name__)
def test_agrees_with_the_activations(cls):
    rng = np.random.default_rng(4)
    z, d = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    activation = cls()
    out = activation.forward(z)
    dz = activation.backward(d)
    Z = Tensor(z)
    out_engine = ENGINE_ACTIVATIONS[cls](Z)
    (out_engine * d).sum().backward()
    assert relative_error(out_engine.data, out) < 1e-10
    assert relative_error(Z.grad, dz) < 1e-10


def test_agrees_with_softmax_and_cross_entropy():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(8, 4)) * 3
    y = one_hot(rng.integers(0, 4, size=8), 4)
    Z = Tensor(logits)
    loss = -(y * _softmax(Z).log()).sum() / y.shape[0]
    loss.backward()
    p = Softmax().forward(logits)
    assert relative_error(loss.data, CrossEntropyLoss.loss(p, y)) < 1e-10
    assert relative_error(Z.grad, CrossEntropyLoss.logits_grad(p, y)) < 1e-10


def test_agrees_with_mean_squared_error():
    rng = np.random.default_rng(6)
    y_pred, y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    P = Tensor(y_pred)
    loss = ((P - y) ** 2).sum() / y.size
    loss.backward()
    assert relative_error(loss.data, MeanSquaredErrorLoss.loss(y_pred, y)) < 1e-12
    assert relative_error(P.grad, MeanSquaredErrorLoss.grad(y_pred, y)) < 1e-12


def test_gradient_descent_with_the_engine_learns_xor():
    rng = np.random.default_rng(0)
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = one_hot(np.array([0, 1, 1, 0]), 2)
    params = [
        Tensor(rng.normal(size=(2, 8))),
        Tensor(np.zeros((1, 8))),
        Tensor(rng.normal(size=(8, 2)) / np.sqrt(8)),
        Tensor(np.zeros((1, 2))),
    ]
    for _ in range(500):
        w1, b1, w2, b2 = params
        logits = (x @ w1 + b1).tanh() @ w2 + b2
        loss = -(y * _softmax(logits).log()).sum() / 4
        loss.backward()
        for p in params:
            p.data -= 0.5 * p.grad
    assert float(loss.data) < 0.05
    assert np.array_equal(logits.data.argmax(axis=1), [0, 1, 1, 0])


# ---- torch as an oracle --------------------------------------------------------------


@pytest.mark.torch
def test_gradients_match_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x, w, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=(1, 2))

    def expression(x, w, b, tanh, relu):
        h = tanh(x @ w + b)
        return ((h * h + 1) ** 0.5 / 2 - relu(h) + 2 / (h * h + 1)).sum()

    X, W, B = Tensor(x), Tensor(w), Tensor(b)
    expression(X, W, B, Tensor.tanh, Tensor.relu).backward()
    tx, tw, tb = (
        torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w, b)
    )
    expression(tx, tw, tb, torch.tanh, torch.relu).backward()
    for ours, theirs in ((X, tx), (W, tw), (B, tb)):
        assert relative_error(ours.grad, theirs.grad.numpy()) < 1e-12
