"""Property-based tests (hypothesis): gradients, numerical stability and round trips
hold for random networks, not just for the handful of shapes the chapters use."""

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nnscratch import (
    CrossEntropyLoss,
    Dropout,
    Layer,
    MeanSquaredErrorLoss,
    NeuralNetwork,
    Relu,
    Sigmoid,
    Softmax,
    Tanh,
    numerical_gradient,
    relative_error,
    stable_sigmoid,
    train,
)

SETTINGS = settings(max_examples=30, deadline=None)
HIDDEN = [Relu, Tanh, Sigmoid, None]
HEADS = [None, Sigmoid, Softmax, Tanh]
# a ReLU pre-activation closer than this to 0 could flip sign under a nudge of eps
KINK_MARGIN = 1e-4


@st.composite
def networks(draw, dtype=np.float64):
    """A random NeuralNetwork with random non-zero biases, and a matching random batch
    X."""
    input_size, output_size = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    hidden, depth = draw(st.integers(1, 6)), draw(st.integers(0, 3))
    head = draw(st.sampled_from(HEADS))
    hidden_activation = draw(st.sampled_from(HIDDEN))
    seed, batch = draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, 6))
    model = NeuralNetwork(
        input_size,
        output_size,
        hidden,
        depth,
        head_activation=head,
        hidden_activation=hidden_activation,
        seed=seed,
        dtype=dtype,
    )
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, Layer):
            layer.bias[...] = rng.normal(scale=0.5, size=layer.bias.shape)
    X = rng.normal(size=(batch, input_size)).astype(dtype)
    return model, X, rng


def relu_far_from_kinks(model, X):
    """True if no ReLU pre-activation of the forward pass on X lies within KINK_MARGIN
    of 0."""
    x = X
    for layer in model.layers:  # a ReLU's input is the dense layer output before it
        if isinstance(layer, Relu) and np.min(np.abs(x)) < KINK_MARGIN:
            return False
        x = layer.forward(x)
    return True


def gradient_check(model, X, y, loss_fn, fused=False):
    """Relative error between backprop and central differences over all parameters at
    once."""
    y_pred = model.forward(X)
    grad = (loss_fn.logits_grad if fused else loss_fn.grad)(y_pred, y)
    model.backward(grad, grad_is_logits=fused)
    analytic = np.concatenate([g.ravel().copy() for _, g in model.parameters()])
    numeric = np.concatenate(
        [
            numerical_gradient(lambda _: loss_fn.loss(model.forward(X), y), p).ravel()
            for p, _ in model.parameters()
        ]
    )
    # an all-zero gradient (every unit dead) checks nothing
    assume(np.max(np.abs(analytic)) > 1e-6)
    return relative_error(analytic, numeric)


@SETTINGS
@given(net=networks())
def test_mse_gradients_match_numerical_gradient(net):
    model, X, rng = net
    assume(relu_far_from_kinks(model, X))
    y = rng.normal(size=(X.shape[0], model.output_size))
    # 1e-6 is the book's bar; saturated sigmoid/tanh units make some gradients tiny, and
    # central differences then carry relative noise of about 1e-6 on their own
    assert gradient_check(model, X, y, MeanSquaredErrorLoss) < 1e-5


@SETTINGS
@given(net=networks(), fused=st.booleans(), head=st.sampled_from([Softmax, Sigmoid]))
def test_cross_entropy_gradients_match_numerical_gradient(net, fused, head):
    model, X, rng = net
    assume(model.output_size > 1 or head is Sigmoid)
    if isinstance(
        model.layers[-1], Layer
    ):  # a linear head: add the activation as a layer
        model.layers.append(head())
    else:
        model.layers[-1] = head()
    assume(relu_far_from_kinks(model, X))
    y = np.eye(model.output_size)[rng.integers(0, model.output_size, X.shape[0])]
    # the fused (p - y) / N gradient is for a Softmax head only
    fused = fused and head is Softmax
    assert gradient_check(model, X, y, CrossEntropyLoss, fused=fused) < 1e-6


@SETTINGS
@given(
    input_size=st.integers(1, 5),
    output_size=st.integers(1, 5),
    batch=st.integers(1, 6),
    activation=st.sampled_from(HIDDEN + [Softmax]),
    seed=st.integers(0, 2**32 - 1),
)
def test_layer_input_gradient_matches_numerical_gradient(
    input_size, output_size, batch, activation, seed
):
    rng = np.random.default_rng(seed)
    layer = Layer(input_size, output_size, activation, rng=rng, dtype=np.float64)
    layer.bias[...] = rng.normal(size=layer.bias.shape)
    x = rng.normal(size=(batch, input_size))
    if activation is Relu:
        assume(np.min(np.abs(x @ layer.weights + layer.bias)) > KINK_MARGIN)
    # L = sum(R * layer(x)), so dL/d(out) = R
    weights_of_outputs = rng.normal(size=(batch, output_size))
    layer.forward(x)
    dx = layer.backward(weights_of_outputs)
    numeric = numerical_gradient(
        lambda v: np.sum(weights_of_outputs * layer.forward(v)), x
    )
    assume(np.max(np.abs(dx)) > 1e-6)
    assert relative_error(dx, numeric) < 1e-6


@SETTINGS
@given(net=networks(), rate=st.floats(0.1, 0.7), mask_seed=st.integers(0, 2**32 - 1))
def test_gradients_with_dropout_in_training_mode_match_numerical_gradient(
    net, rate, mask_seed
):
    """Backward goes back through the same masks as forward: with the masks fixed (each
    Dropout's generator reset before every forward pass) backprop equals central
    differences, for any smooth architecture."""
    model, X, rng = net
    # one before each dense layer but the first, as dropout=rate does
    layers, drops = [], []
    for layer in model.layers:
        if isinstance(layer, Layer) and layers:
            drops.append(Dropout(rate))
            layers.append(drops[-1])
        layers.append(layer)
    model.layers = layers
    model.training = True

    def forward(x):
        for i, dropout in enumerate(drops):
            dropout.rng = np.random.default_rng([mask_seed, i])
        return NeuralNetwork.forward(model, x)

    # gradient_check calls model.forward
    model.forward = forward
    # masks move ReLU kinks
    assume(not any(isinstance(layer, Relu) for layer in model.layers))
    y = rng.normal(size=(X.shape[0], model.output_size))
    # 1e-6 is the book's bar; saturated sigmoid/tanh units make some gradients tiny, and
    # central differences then carry relative noise of about 1e-6 on their own
    assert gradient_check(model, X, y, MeanSquaredErrorLoss) < 1e-5


# --- numerical stability
# --------------------------------------------------------------------------------------


def logits(dtype):
    width = 32 if dtype == np.float32 else 64
    return arrays(
        dtype,
        st.tuples(st.integers(1, 8), st.integers(1, 10)),
        elements=st.floats(-1e4, 1e4, width=width),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_rows_sum_to_one_for_huge_logits(dtype):
    @SETTINGS
    @given(x=logits(dtype))
    def check(x):
        softmax = Softmax()
        with np.errstate(all="raise"):
            p = softmax.forward(x)
            dx = softmax.backward(np.ones_like(x))
        assert p.dtype == dtype and np.isfinite(p).all() and np.isfinite(dx).all()
        assert ((p >= 0) & (p <= 1)).all()
        np.testing.assert_allclose(
            p.sum(axis=1), 1, rtol=10 * np.finfo(dtype).eps * x.shape[1]
        )

    check()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_tanh_and_cross_entropy_are_finite_without_warnings(dtype):
    @SETTINGS
    @given(x=logits(dtype), seed=st.integers(0, 2**32 - 1))
    def check(x, seed):
        y = np.eye(x.shape[1], dtype=dtype)[
            np.random.default_rng(seed).integers(0, x.shape[1], x.shape[0])
        ]
        with warnings.catch_warnings():
            # any RuntimeWarning (overflow, invalid, divide) fails the test
            warnings.simplefilter("error")
            s = stable_sigmoid(x)
            assert ((s >= 0) & (s <= 1)).all() and np.isfinite(s).all()
            for activation in (Sigmoid(), Tanh()):
                out = activation.forward(x)
                assert (
                    np.isfinite(out).all()
                    and np.isfinite(activation.backward(np.ones_like(x))).all()
                )
            p = Softmax().forward(x)
            loss = CrossEntropyLoss.loss(p, y)
            assert np.isfinite(loss) and loss >= 0
            assert np.isfinite(CrossEntropyLoss.grad(p, y)).all()
            assert np.isfinite(CrossEntropyLoss.logits_grad(p, y)).all()
            # cross-entropy on sigmoid outputs too (a multi-label head)
            assert np.isfinite(CrossEntropyLoss.loss(Sigmoid().forward(x), y))

    check()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_exact_at_the_extremes(dtype):
    x = np.array([-1e4, -1000, 0, 1000, 1e4], dtype=dtype)
    s = stable_sigmoid(x)
    assert s[2] == 0.5 and s[3] == 1.0 and s[4] == 1.0 and s[0] == 0.0 and s[1] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_perfect_prediction_has_zero_loss_not_minus_zero(dtype):
    @SETTINGS
    @given(
        rows=st.integers(1, 8),
        classes=st.integers(1, 10),
        seed=st.integers(0, 2**32 - 1),
    )
    def check(rows, classes, seed):
        y = np.eye(classes, dtype=dtype)[
            np.random.default_rng(seed).integers(0, classes, rows)
        ]
        for loss in (CrossEntropyLoss.loss(y, y), MeanSquaredErrorLoss.loss(y, y)):
            assert loss == 0.0 and not np.signbit(loss), loss

    check()


# --- training and saving random networks
# ----------------------------------------------------------------------


@SETTINGS
@given(
    net=networks(dtype=np.float32),
    n=st.integers(1, 20),
    batch_size=st.integers(1, 25),
    epochs=st.integers(1, 3),
)
def test_training_runs_for_any_batch_size_and_architecture(net, n, batch_size, epochs):
    model, _, rng = net
    X = rng.normal(size=(n, model.input_size))
    y = rng.normal(size=(n, model.output_size))
    if model.output_size == 1 and isinstance(model.layers[-1], Softmax):
        with pytest.raises(ValueError, match="one Softmax output, always 1.0"):
            train(model, X, y, MeanSquaredErrorLoss, epochs, batch_size, 0.01,
                  bar=False)
        return  # nothing can be learnt: train refuses it
    params_before = [p for p, _ in model.parameters()]
    train_losses, eval_losses = train(
        model,
        X,
        y,
        MeanSquaredErrorLoss,
        epochs,
        batch_size,
        0.01,
        X_test=X,
        y_test=y,
        bar=False,
        seed=0,
    )
    assert len(train_losses) == len(eval_losses) == epochs
    assert all(np.isfinite(train_losses)) and all(
        isinstance(v, float) for v in train_losses + eval_losses
    )
    # updated in place
    assert all(p is q for p, (q, _) in zip(params_before, model.parameters()))
    out = model.predict(X)
    assert out.shape == (n, model.output_size) and out.dtype == np.float32


@SETTINGS
@given(net=networks(dtype=np.float32), dtype=st.sampled_from([np.float32, np.float64]))
def test_save_load_round_trip_of_random_networks(net, dtype):
    model, X, _ = net
    if dtype == np.float64:  # the same architecture in float64
        dense = [layer for layer in model.layers if isinstance(layer, Layer)]
        hidden = model.layers[1] if len(dense) > 1 else None
        model = NeuralNetwork(
            model.input_size,
            model.output_size,
            dense[0].weights.shape[1] if len(dense) > 1 else 1,
            len(dense) - 1,
            head_activation=None
            if isinstance(model.layers[-1], Layer)
            else type(model.layers[-1]),
            hidden_activation=None
            if isinstance(hidden, Layer) or hidden is None
            else type(hidden),
            seed=1,
            dtype=dtype,
        )
    with tempfile.TemporaryDirectory() as folder:
        loaded = NeuralNetwork.load(model.save(Path(folder) / "net"))
    assert model.predict(X).tobytes() == loaded.predict(X).tobytes()
    assert [type(a) for a in model.layers] == [type(b) for b in loaded.layers]
