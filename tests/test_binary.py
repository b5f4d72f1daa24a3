"""BinaryCrossEntropyLoss (chapter 9): values, gradients, the fused gradient, errors."""
import warnings

import numpy as np
import pytest

from nnscratch.activations import Sigmoid, stable_sigmoid
from nnscratch.gradcheck import numerical_gradient, relative_error
from nnscratch.layers import Layer
from nnscratch.losses import BinaryCrossEntropyLoss
from nnscratch.metrics import accuracy
from nnscratch.network import NeuralNetwork, Sequential
from nnscratch.training import train

BCE = BinaryCrossEntropyLoss
METHODS = [BCE.loss, BCE.grad, BCE.logits_grad]


def batch(seed, n=12, soft=False):
    """Probabilities in (0.02, 0.98) and 0/1 (or soft) targets, both (n, 1) float64."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, size=(n, 1))
    y = rng.uniform(size=(n, 1)) if soft else (rng.uniform(size=(n, 1)) < 0.5) * 1.0
    return p, y


def direct(p, y):
    """The formula itself, with nothing guarded."""
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_matches_the_formula(seed, soft):
    p, y = batch(seed, soft=soft)
    assert BCE.loss(p, y) == pytest.approx(direct(p, y), rel=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_matches_sklearn_log_loss(seed):
    log_loss = pytest.importorskip("sklearn.metrics").log_loss
    p, y = batch(seed, n=40)
    assert BCE.loss(p, y) == pytest.approx(log_loss(y.ravel(), p.ravel()), rel=1e-12)


def test_loss_by_hand_and_integer_targets():
    p = np.array([[0.9], [0.2]])
    expected = -(np.log(0.9) + np.log(0.8)) / 2
    for y in ([[1.0], [0.0]], [[1], [0]], [[True], [False]]):
        y = np.array(y)
        assert BCE.loss(p, y) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_grad_against_central_differences(seed, soft):
    p, y = batch(seed, soft=soft)
    numeric = numerical_gradient(lambda p_: BCE.loss(p_, y), p.copy())
    assert relative_error(BCE.grad(p, y), numeric) < 1e-7


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0])
def test_logits_grad_against_central_differences(scale, soft):
    rng = np.random.default_rng(3)
    z = rng.normal(size=(10, 1)) * scale
    y = rng.uniform(size=(10, 1)) if soft else (rng.uniform(size=(10, 1)) < 0.5) * 1.0
    # The loss sees only p = sigmoid(z): where p is near 1, 1 - p keeps few digits, so
    # a step of 1e-5 beats the default 1e-6 for soft targets (both terms count there).
    def f(z_):
        return BCE.loss(stable_sigmoid(z_), y)

    numeric = numerical_gradient(f, z.copy(), 1e-5)
    assert relative_error(BCE.logits_grad(stable_sigmoid(z), y), numeric) < 1e-7


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fused_gradient_equals_sigmoid_backward_of_grad(seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(16, 1)) * 5
    y = (rng.uniform(size=(16, 1)) < 0.5) * 1.0
    sigmoid = Sigmoid()
    p = sigmoid.forward(z)
    chained = sigmoid.backward(BCE.grad(p, y))
    fused = BCE.logits_grad(p, y)
    assert np.max(np.abs(fused - chained)) <= 1e-10
    assert relative_error(fused, chained) < 1e-10


def test_head_is_sigmoid():
    assert BCE.head is Sigmoid
    assert callable(BCE.logits_grad)


def test_perfect_prediction_costs_exactly_zero():
    sure = np.array([[1.0], [0.0]])
    loss = BCE.loss(sure, sure.copy())
    assert loss == 0.0 and not np.signbit(loss)
    assert np.array_equal(BCE.logits_grad(sure, sure.copy()), np.zeros((2, 1)))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_saturated_predictions_are_finite_and_guarded_per_dtype(dtype):
    info = np.finfo(dtype)
    one, zero = np.ones((1, 1), dtype), np.zeros((1, 1), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # no divide-by-zero or overflow warnings
        most_if_0, most_if_1 = -np.log(float(info.epsneg)), -np.log(float(info.tiny))
        assert BCE.loss(one, np.zeros((1, 1))) == pytest.approx(most_if_0)
        assert BCE.loss(zero, np.ones((1, 1))) == pytest.approx(most_if_1)
        for p, y in ((one, zero), (zero, one)):
            grad = BCE.grad(p, y.astype(np.float64))
            assert grad.dtype == dtype and np.isfinite(grad).all()
            fused = BCE.logits_grad(p, y)
            assert fused.dtype == dtype and abs(float(fused[0, 0])) == 1.0


def test_guard_changes_only_saturated_probabilities():
    """Exact for the p it is given when tiny <= p < 1. Where sigmoid(z) is 1, 0 or
    subnormal, a lower bound of the true loss: log(1 + exp(-z)) if y = 1, else of z."""
    z = np.linspace(-800, 800, 3201).reshape(-1, 1)
    p = stable_sigmoid(z)
    inside = ((p >= np.finfo(float).tiny) & (p < 1))[:, 0]
    for y_value in (0.0, 1.0):
        y = np.full_like(z, y_value)
        guarded = np.array([BCE.loss(p[i:i + 1], y[i:i + 1]) for i in range(len(z))])
        with np.errstate(divide="ignore"):
            exact_for_p = (-np.log(p) if y_value else -np.log1p(-p))[:, 0]
        assert np.allclose(guarded[inside], exact_for_p[inside], rtol=1e-14, atol=0)
        true = np.logaddexp(0, -z if y_value else z)[:, 0]
        assert np.all(guarded[~inside] <= true[~inside])
        assert np.isfinite(guarded).all()


def test_fused_gradient_keeps_pushing_where_the_chained_one_vanishes():
    z, y = np.array([[40.0], [-800.0]]), np.array([[0.0], [1.0]])
    sigmoid = Sigmoid()
    p = sigmoid.forward(z)
    assert p[0, 0] == 1.0 and p[1, 0] == 0.0
    assert np.array_equal(BCE.logits_grad(p, y), np.array([[0.5], [-0.5]]))
    assert np.all(sigmoid.backward(BCE.grad(p, y)) == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_agrees_with_float64(dtype):
    p, y = batch(4)
    p_low = p.astype(dtype)
    expected = direct(p_low.astype(float), y)
    assert BCE.loss(p_low, y.astype(dtype)) == pytest.approx(expected, rel=1e-14)
    assert BCE.grad(p_low, y.astype(dtype)).dtype == dtype
    assert BCE.logits_grad(p_low, y.astype(dtype)).dtype == dtype


def test_integer_and_bool_predictions_answer_in_float64():
    y = np.array([[1], [1]])
    for p in (np.array([[1], [0]]), np.array([[True], [False]])):
        assert BCE.loss(p, y) == pytest.approx(-np.log(np.finfo(float).tiny) / 2)
        assert BCE.grad(p, y).dtype == np.float64 and np.isfinite(BCE.grad(p, y)).all()
        assert np.array_equal(BCE.logits_grad(p, y.astype(bool)), [[0.0], [-0.5]])


def test_nan_prediction_gives_nan_not_an_exception():
    """A NaN output means divergence, which train() reports from the NaN loss."""
    p = np.array([[np.nan], [0.3]])
    y = np.array([[1.0], [0.0]])
    assert np.isnan(BCE.loss(p, y))
    assert np.isnan(BCE.logits_grad(p, y)[0, 0])


# ---- hostile input: a clear error that names the argument, for every method ----

P, Y = np.array([[0.9], [0.2], [0.6]]), np.array([[1.0], [0.0], [1.0]])

SHAPE_CASES = [
    (P, Y.ravel(), "y_true.reshape(-1, 1)"),                  # 1-D targets
    (P.ravel(), Y.ravel(), "y_pred.reshape(-1, 1)"),          # 1-D predictions
    (P.ravel(), Y, "y_pred.reshape(-1, 1)"),
    (np.hstack([1 - P, P]), np.hstack([1 - Y, Y]), "CrossEntropyLoss"),   # two columns
    (P.reshape(1, 3, 1), Y.reshape(1, 3, 1), "(batch, 1)"),   # 3-D
    (P, Y[:2], "same shape"),                                  # rows differ
    (np.zeros((0, 1)), np.zeros((0, 1)), "empty"),
]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("y_pred, y_true, hint", SHAPE_CASES)
def test_wrong_shapes(method, y_pred, y_true, hint):
    with pytest.raises(ValueError, match=r"y_(pred|true)") as caught:
        method(y_pred, y_true)
    assert hint in str(caught.value)


VALUE_CASES = [
    (P, np.array([[2.0], [0.0], [1.0]]), "y_true", "[0, 1]"),         # label 2
    (P, np.array([[1.0], [-1.0], [1.0]]), "y_true", "[0, 1]"),        # -1 for "no"
    (P, np.array([[1], [2], [0]]), "y_true", "[0, 1]"),               # integer label 2
    (P, np.array([[1.0], [np.nan], [0.0]]), "y_true", "NaN"),
    (P, np.array([[1.0], [np.inf], [0.0]]), "y_true", "NaN or inf"),
    (np.array([[2.3], [-1.4], [0.5]]), Y, "y_pred", "Sigmoid()"),     # logits
    (np.array([[1.0 + 1e-9], [0.5], [0.5]]), Y, "y_pred", "[0, 1]"),
    (np.array([[np.inf], [0.5], [0.5]]), Y, "y_pred", "[0, 1]"),
    (np.array([[-np.inf], [0.5], [0.5]]), Y, "y_pred", "[0, 1]"),
]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("y_pred, y_true, name, hint", VALUE_CASES)
def test_values_outside_zero_one(method, y_pred, y_true, name, hint):
    with pytest.raises(ValueError, match=name) as caught:
        method(y_pred, y_true)
    assert hint in str(caught.value)


TYPE_CASES = [
    ([[0.9], [0.2]], np.array([[1.0], [0.0]]), "y_pred"),
    (np.array([[0.9], [0.2]]), [[1.0], [0.0]], "y_true"),
    (np.array([["a"], ["b"]]), np.array([[1.0], [0.0]]), "y_pred"),
    (np.array([[0.9], [0.2]]), np.array([[1 + 0j], [0j]]), "y_true"),
]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("y_pred, y_true, name", TYPE_CASES)
def test_wrong_types(method, y_pred, y_true, name):
    with pytest.raises(TypeError, match=name):
        method(y_pred, y_true)


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
def test_inputs_are_not_modified(method):
    p, y = batch(5)
    p0, y0 = p.copy(), y.copy()
    method(p, y)
    assert np.array_equal(p, p0) and np.array_equal(y, y0)


@pytest.mark.torch
@pytest.mark.parametrize("soft", [False, True])
def test_against_torch(torch, soft):
    p, y = batch(6, n=32, soft=soft)
    p_t = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    loss_t = torch.nn.functional.binary_cross_entropy(p_t, torch.tensor(y))
    loss_t.backward()
    assert BCE.loss(p, y) == pytest.approx(loss_t.item(), rel=1e-12)
    assert relative_error(BCE.grad(p, y), p_t.grad.numpy()) < 1e-12

    z = np.random.default_rng(7).normal(size=(32, 1)) * 3
    z_t = torch.tensor(z, requires_grad=True)
    F = torch.nn.functional
    F.binary_cross_entropy_with_logits(z_t, torch.tensor(y)).backward()
    fused = BCE.logits_grad(stable_sigmoid(z), y)
    assert relative_error(fused, z_t.grad.numpy()) < 1e-12


# ---- training: a one-output Sigmoid network learns a separable problem ----

def separable(seed, n=200):
    """Two Gaussian blobs split by the line x0 + 2 x1 = 0: labels 0/1, shape (n, 1)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X[:, :1] + 2 * X[:, 1:] > 0).astype(np.float64)
    normal = np.array([[1.0, 2.0]]) / np.sqrt(5)
    X += 0.5 * np.where(y == 1, 1.0, -1.0) * normal     # a margin of 1 between them
    return X, y


def models(seed, dtype=np.float32):
    """Logistic regression and a one-hidden-layer network, each with a Sigmoid head."""
    return [Sequential(Layer(2, 1, seed=seed, dtype=dtype), Sigmoid()),
            NeuralNetwork(2, 1, 8, 1, head_activation=Sigmoid, seed=seed, dtype=dtype)]


@pytest.mark.parametrize("which", [0, 1], ids=["logistic", "hidden"])
def test_train_learns_a_separable_problem(which):
    X, y = separable(0)
    model = models(0)[which]
    train_losses, _ = train(model, X, y, BCE, epochs=60, batch_size=20,
                            learning_rate=0.5, bar=False, seed=0)
    assert train_losses[-1] < 0.1 * train_losses[0]
    X_new, y_new = separable(1)
    assert accuracy(model, X, y) == 1.0
    assert accuracy(model, X_new, y_new) >= 0.98
    assert accuracy(model, X_new, y_new.ravel()) == accuracy(model, X_new, y_new)


def test_train_uses_the_fused_gradient_for_a_sigmoid_head():
    calls = {"logits_grad": 0, "grad": 0}

    class Counting(BinaryCrossEntropyLoss):      # inherits head = Sigmoid
        @staticmethod
        def grad(y_pred, y_true):
            calls["grad"] += 1
            return BinaryCrossEntropyLoss.grad(y_pred, y_true)

        @staticmethod
        def logits_grad(y_pred, y_true):
            calls["logits_grad"] += 1
            return BinaryCrossEntropyLoss.logits_grad(y_pred, y_true)

    X, y = separable(2, n=40)
    train(models(0)[0], X, y, Counting, epochs=2, batch_size=10, learning_rate=0.1,
          bar=False, seed=0)
    assert calls == {"logits_grad": 8, "grad": 0}


@pytest.mark.parametrize("which", [0, 1], ids=["logistic", "hidden"])
def test_fused_and_chained_training_agree(which):
    """Training with logits_grad ends at the weights Sigmoid.backward(grad) gives."""

    class Chained:              # no head, no logits_grad: train chains the gradients
        loss = staticmethod(BCE.loss)
        grad = staticmethod(BCE.grad)

    X, y = separable(3, n=60)
    fused, chained = models(4, np.float64)[which], models(4, np.float64)[which]
    for model, loss_fn in ((fused, BCE), (chained, Chained)):
        train(model, X, y, loss_fn, epochs=5, batch_size=15, learning_rate=0.3,
              bar=False, seed=1)
    for (a, _, *_), (b, _, *_) in zip(fused.parameters(), chained.parameters()):
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12)
