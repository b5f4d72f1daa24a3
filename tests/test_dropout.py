"""Dropout (book/12_regularisation.ipynb) and its use by NeuralNetwork, predict and
train (book/06_training.ipynb)."""

import numpy as np
import pytest

from nnscratch import (
    CrossEntropyLoss,
    MeanSquaredErrorLoss,
    NeuralNetwork,
    Softmax,
    Tanh,
    one_hot,
    train,
)
from nnscratch.gradcheck import numerical_gradient, relative_error
from nnscratch.layers import Dropout


def fwd(dropout, x, training):
    """dropout.forward(x) in the given mode.

    The network sets `training`; here the test does.
    """
    dropout.training = training
    return dropout.forward(x)


def dropouts(net):
    return [layer for layer in net.layers if isinstance(layer, Dropout)]


# --- construction ---------------------------------------------------------------------


@pytest.mark.parametrize("rate", [1.0, 1.5, -0.1, float("nan"), float("inf")])
def test_rate_outside_zero_one_is_a_value_error(rate):
    with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\)"):
        Dropout(rate)


@pytest.mark.parametrize("rate", ["0.5", None, True, [0.5], 1j])
def test_rate_that_is_not_a_number_is_a_type_error(rate):
    with pytest.raises(TypeError, match="rate must be a number"):
        Dropout(rate)


def test_rate_accepts_python_and_numpy_numbers():
    assert (
        Dropout(0).rate == 0.0
        and Dropout(np.float32(0.25)).rate == 0.25
        and Dropout(0.999).rate == 0.999
    )


def test_seed_and_rng_follow_make_rng():
    with pytest.raises(ValueError, match="not both"):
        Dropout(0.5, seed=1, rng=np.random.default_rng(1))
    generator = np.random.default_rng(3)
    assert Dropout(0.5, rng=generator).rng is generator
    with pytest.raises(TypeError, match="rng must be"):
        Dropout(0.5, rng=3)


# --- forward and backward -------------------------------------------------------------


def test_outside_training_it_is_the_identity_both_ways():
    dropout = Dropout(0.5, seed=0)
    x, d = np.ones((4, 5)), np.full((4, 5), 2.0)
    assert fwd(dropout, x, False) is x
    assert dropout.backward(d) is d
    assert fwd(dropout, x, True) is not x  # training draws a mask
    assert fwd(dropout, x, False) is x and dropout.mask is None
    assert dropout.backward(d) is d  # eval after training: no stale mask


def test_rate_zero_never_drops_even_in_training():
    dropout = Dropout(0.0, seed=0)
    x = np.random.default_rng(0).normal(size=(20, 30))
    assert fwd(dropout, x, True) is x and dropout.backward(x) is x


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_training_drops_about_rate_and_scale_keeps_the_mean(rate):
    dropout = Dropout(rate, seed=1)
    x = np.full((400, 500), 3.0)
    out = fwd(dropout, x, True)
    assert np.mean(out == 0) == pytest.approx(rate, abs=0.01)
    assert np.allclose(
        out[out != 0], 3.0 / (1 - rate)
    )  # inverted dropout: kept values scaled up
    assert out.mean() == pytest.approx(3.0, rel=0.02)  # E[mask / (1 - rate)] = 1
    assert np.array_equal(x, np.full((400, 500), 3.0))  # the input is not modified


def test_masks_are_reproducible_from_the_seed_and_change_between_calls():
    x = np.ones((50, 40))
    a, b, c = Dropout(0.5, seed=4), Dropout(0.5, seed=4), Dropout(0.5, seed=5)
    first = fwd(a, x, True)
    assert np.array_equal(first, fwd(b, x, True))
    assert not np.array_equal(first, fwd(c, x, True))
    assert not np.array_equal(first, fwd(a, x, True))  # a fresh mask for every batch


def test_mask_follows_the_documented_rule():
    x = np.arange(1.0, 13.0).reshape(3, 4)
    keep = np.random.default_rng(2).random(x.shape) >= 0.25
    assert np.allclose(fwd(Dropout(0.25, seed=2), x, True), x * keep / 0.75)


def test_backward_uses_the_same_mask_and_scale():
    dropout = Dropout(0.4, seed=6)
    out = fwd(dropout, np.ones((30, 20)), True)
    grad = dropout.backward(np.ones((30, 20)))
    assert np.array_equal(grad, out)  # same zeros, same 1/(1 - rate)
    d = np.random.default_rng(0).normal(size=(30, 20))
    assert np.array_equal(dropout.backward(d), d * out)


def test_backward_with_a_wrong_shape_is_refused():
    dropout = Dropout(0.4, seed=6)
    fwd(dropout, np.ones((3, 2)), True)
    with pytest.raises(ValueError, match="d_output must have shape"):
        dropout.backward(np.ones((2, 3)))


def test_dtype_is_kept():
    out = fwd(Dropout(0.3, seed=0), np.ones((10, 10), np.float32), True)
    assert out.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_draws_are_in_the_inputs_precision(dtype):
    """float32 activations get float32 draws (no float64 array on the way): the mask
    is the documented rule applied to rng.random(shape, dtype=float32)."""
    x = np.arange(1.0, 13.0, dtype=dtype).reshape(3, 4)
    dropout = Dropout(0.25, seed=2)
    out = fwd(dropout, x, True)
    keep = np.random.default_rng(2).random(x.shape, dtype=dtype) >= 0.25
    assert out.dtype == dtype and dropout.mask.dtype == dtype
    assert np.array_equal(out, x * keep * dtype(1 / 0.75))


def test_integer_input_draws_float64_and_gives_floats():
    dropout = Dropout(0.5, seed=1)
    out = fwd(dropout, np.ones((4, 5), dtype=np.int64), True)
    keep = np.random.default_rng(1).random((4, 5)) >= 0.5
    assert out.dtype == np.float64 and np.array_equal(out, keep * 2.0)


def test_gradient_matches_finite_differences_with_a_fixed_mask():
    rng = np.random.default_rng(0)
    dropout = Dropout(0.5, seed=0)
    x, target = rng.normal(size=(6, 7)), rng.normal(size=(6, 7))

    def loss(_=None):
        dropout.rng = np.random.default_rng(11)  # the same mask at every evaluation
        return 0.5 * np.sum((fwd(dropout, x, True) - target) ** 2)

    dropout.rng = np.random.default_rng(11)
    out = fwd(dropout, x, True)
    assert np.any(out == 0) and np.any(out != 0)
    grad = dropout.backward(out - target)
    assert relative_error(grad, numerical_gradient(loss, x)) < 1e-8


# --- in a network ---------------------------------------------------------------------


def _reset_masks(net, seed=21):
    generator = np.random.default_rng(seed)
    for dropout in dropouts(net):
        dropout.rng = generator


@pytest.mark.parametrize(
    "head, loss_fn", [(Softmax, CrossEntropyLoss), (None, MeanSquaredErrorLoss)]
)
def test_network_with_dropout_passes_a_gradient_check_in_training_mode(head, loss_fn):
    rng = np.random.default_rng(1)
    net = NeuralNetwork(
        5,
        3,
        8,
        2,
        head_activation=head,
        hidden_activation=Tanh,
        dropout=0.4,
        seed=2,
        dtype=np.float64,
    )
    x = rng.normal(size=(7, 5))
    y = one_hot(rng.integers(0, 3, size=7), 3) if head else rng.normal(size=(7, 3))
    net.training = True

    def loss(_=None):
        _reset_masks(net)
        return loss_fn.loss(net.forward(x), y)

    _reset_masks(net)
    out = net.forward(x)
    assert all((d.mask == 0).any() for d in dropouts(net))  # units really were dropped
    fused = head is Softmax
    net.backward(
        loss_fn.logits_grad(out, y) if fused else loss_fn.grad(out, y),
        grad_is_logits=fused,
    )
    backprop = [grad.copy() for _, grad in net.parameters()]
    for param, grad in net.parameters():
        assert relative_error(grad, numerical_gradient(loss, param)) < 1e-7
    # the gradient without dropout differs: the masks really entered the check
    net.training = False
    out = net.forward(x)
    net.backward(
        loss_fn.logits_grad(out, y) if fused else loss_fn.grad(out, y),
        grad_is_logits=fused,
    )
    assert relative_error(net.parameters()[0][1], backprop[0]) > 1e-3


def test_predict_never_drops_and_restores_the_flag():
    net = NeuralNetwork(4, 3, 50, 2, head_activation=Softmax, dropout=0.5, seed=0)
    x = np.random.default_rng(0).normal(size=(9, 4)).astype(np.float32)
    reference = net.predict(x)
    net.training = True
    assert np.array_equal(net.predict(x), reference) and np.array_equal(
        net.predict(x), reference
    )
    assert net.predict(x).tobytes() == reference.tobytes()
    assert net.training is True
    assert not np.array_equal(
        net.forward(x), reference
    )  # forward in training mode does drop
    net.training = False
    assert np.array_equal(net.forward(x), reference)  # eval forward is predict


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)), one_hot(rng.integers(0, 3, size=n), 3)


def test_eval_losses_are_computed_without_dropout():
    X, Y = _data()
    net = NeuralNetwork(4, 3, 16, 2, head_activation=Softmax, dropout=0.5, seed=0)
    seen = []

    def check(epoch, train_losses, eval_losses):
        seen.append(
            eval_losses[-1]
            == pytest.approx(CrossEntropyLoss.loss(net.predict(X), Y), rel=1e-5)
        )

    train(
        net,
        X,
        Y,
        CrossEntropyLoss,
        2,
        8,
        0.1,
        X_test=X,
        y_test=Y,
        bar=False,
        seed=0,
        on_epoch=check,
    )
    assert seen == [True, True]


def test_forward_refuses_a_non_array_and_scales_integer_input_as_float():
    with pytest.raises(TypeError,
                       match="x must be a NumPy array of real numbers, got list"):
        fwd(Dropout(0.5, seed=0), [[1.0, 2.0]], True)
    out = fwd(Dropout(0.5, seed=0), np.full((20, 20), 3), True)
    assert out.dtype.kind == "f" and set(np.unique(out)) <= {0.0, 6.0}
