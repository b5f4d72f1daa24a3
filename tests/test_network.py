"""NeuralNetwork: structure, validation, and an end-to-end gradient check of every
parameter."""

import numpy as np
import pytest

from nnscratch import (
    CrossEntropyLoss,
    Dropout,
    Layer,
    MeanSquaredErrorLoss,
    NeuralNetwork,
    Relu,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    init_std,
    layer_sizes,
    numerical_gradient,
    one_hot,
    relative_error,
)


def dense(net):
    """The network's dense layers, in order."""
    return [layer for layer in net.layers if isinstance(layer, Layer)]


def dropouts(net):
    """The network's Dropout layers, in order."""
    return [layer for layer in net.layers if isinstance(layer, Dropout)]


def backprop_and_numerical(net, X, Y, loss_fn, fused):
    """Pairs (backprop gradient, central-difference gradient), one per parameter
    array."""
    y_pred = net.forward(X)
    grad = loss_fn.logits_grad(y_pred, Y) if fused else loss_fn.grad(y_pred, Y)
    net.backward(grad, grad_is_logits=fused)
    backprop = [g.copy() for _, g in net.parameters()]

    def loss(_):
        return loss_fn.loss(net.forward(X), Y)

    return [
        (g, numerical_gradient(loss, param))
        for (param, _), g in zip(net.parameters(), backprop)
    ]


# hidden activation, head activation, loss, fused softmax + cross-entropy gradient
CASES = [
    (Tanh, Softmax, CrossEntropyLoss, True),
    (Tanh, Softmax, CrossEntropyLoss, False),
    (Relu, Softmax, CrossEntropyLoss, True),
    (Sigmoid, Softmax, CrossEntropyLoss, True),
    (Relu, None, MeanSquaredErrorLoss, False),
    (Tanh, None, MeanSquaredErrorLoss, False),
    (Sigmoid, Sigmoid, MeanSquaredErrorLoss, False),
    (Tanh, Tanh, MeanSquaredErrorLoss, False),
]


@pytest.mark.parametrize("num_hidden_layers", [0, 1, 3])
@pytest.mark.parametrize(
    "hidden, head, loss_fn, fused", CASES, ids=lambda v: getattr(v, "__name__", str(v))
)
def test_every_parameter_gradient_matches_numerical(
    hidden, head, loss_fn, fused, num_hidden_layers
):
    rng = np.random.default_rng(1)
    net = NeuralNetwork(
        3,
        4,
        5,
        num_hidden_layers,
        head_activation=head,
        hidden_activation=hidden,
        rng=rng,
        dtype=np.float64,
    )
    for layer in dense(
        net
    ):  # non-zero biases: no ReLU input sits exactly on its kink at 0
        layer.bias[:] = rng.normal(scale=0.5, size=layer.bias.shape)
    X = rng.normal(size=(7, 3))
    Y = (
        one_hot(rng.integers(0, 4, size=7), 4)
        if loss_fn is CrossEntropyLoss
        else rng.normal(size=(7, 4))
    )
    pairs = backprop_and_numerical(net, X, Y, loss_fn, fused)
    assert len(pairs) == 2 * (num_hidden_layers + 1)
    for i, (backprop, numerical) in enumerate(pairs):
        assert np.abs(backprop).max() > 0, f"parameter {i} got an all-zero gradient"
        assert relative_error(backprop, numerical) < 1e-6, f"parameter {i}"


def test_fused_and_unfused_softmax_cross_entropy_give_the_same_gradients():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(6, 3)), one_hot(rng.integers(0, 4, size=6), 4)
    grads = []
    for fused in (True, False):
        net = NeuralNetwork(
            3,
            4,
            5,
            2,
            head_activation=Softmax,
            hidden_activation=Tanh,
            seed=0,
            dtype=np.float64,
        )
        p = net.forward(X)
        net.backward(
            CrossEntropyLoss.logits_grad(p, Y)
            if fused
            else CrossEntropyLoss.grad(p, Y),
            grad_is_logits=fused,
        )
        grads.append([g.copy() for _, g in net.parameters()])
    for a, b in zip(*grads):
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "num_hidden_layers, shapes",
    [
        (0, [(2, 3)]),
        (1, [(2, 8), (8, 3)]),
        (3, [(2, 8), (8, 8), (8, 8), (8, 3)]),
    ],
)
def test_layer_count_and_shapes(num_hidden_layers, shapes):
    net = NeuralNetwork(2, 3, 8, num_hidden_layers, head_activation=Softmax, seed=0)
    assert len(net.layers) == 2 * (
        num_hidden_layers + 1
    )  # [Layer, Relu] * H + [Layer, Softmax]
    assert [layer.weights.shape for layer in dense(net)] == shapes
    assert [layer.bias.shape for layer in dense(net)] == [(1, s[1]) for s in shapes]
    assert [layer.needs_input_grad for layer in dense(net)] == [False] + [
        True
    ] * num_hidden_layers
    assert isinstance(net.layers[-1], Softmax) and isinstance(net, Sequential)
    assert all(isinstance(layer, Relu) for layer in net.layers[1:-1:2])  # the default
    assert all(
        layer.activation is None for layer in dense(net)
    )  # activations are layers
    assert net.forward(np.ones((4, 2), np.float32)).shape == (4, 3)


def test_no_head_activation_means_linear_outputs():
    net = NeuralNetwork(2, 1, 4, 2, hidden_activation=Tanh, seed=0)
    assert isinstance(net.layers[-1], Layer) and net.layers[-1].activation is None


@pytest.mark.parametrize("activation", [Tanh, Tanh()], ids=["class", "instance"])
def test_activation_given_as_class_or_instance(activation):
    net = NeuralNetwork(
        2, 3, 4, 3, head_activation=activation, hidden_activation=activation, seed=0
    )
    acts = [layer for layer in net.layers if not isinstance(layer, Layer)]
    assert len(acts) == 4
    assert all(type(a) is Tanh for a in acts)
    assert len({id(a) for a in acts}) == len(acts), "layers share an activation object"
    assert all(a is not activation for a in acts)


def test_shared_activation_instance_does_not_corrupt_gradients():
    """If layers shared one Tanh, the second forward would overwrite the first layer's
    cache."""
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    net = NeuralNetwork(2, 1, 4, 2, hidden_activation=Tanh(), seed=0, dtype=np.float64)
    for backprop, numerical in backprop_and_numerical(
        net, X, Y, MeanSquaredErrorLoss, False
    ):
        assert relative_error(backprop, numerical) < 1e-6


def test_dtype_is_float32_by_default_and_float64_on_request():
    assert all(
        p.dtype == np.float32 for p, _ in NeuralNetwork(2, 2, 3, 1, seed=0).parameters()
    )
    net = NeuralNetwork(2, 2, 3, 1, seed=0, dtype=np.float64)
    assert all(
        p.dtype == np.float64 and g.dtype == np.float64 for p, g in net.parameters()
    )
    assert net.dtype == np.float64


def test_parameters_are_the_layers_own_arrays_first_layer_first():
    net = NeuralNetwork(2, 3, 4, 1, seed=0)
    expected = [
        pair
        for layer in dense(net)
        for pair in [(layer.weights, layer.grad_weights), (layer.bias, layer.grad_bias)]
    ]
    pairs = net.parameters()
    assert len(pairs) == len(expected) == 4
    for (param, grad), (want_param, want_grad) in zip(pairs, expected):
        assert param is want_param and grad is want_grad


def test_backward_changes_no_parameter():
    rng = np.random.default_rng(4)
    net = NeuralNetwork(3, 2, 4, 2, head_activation=Softmax, seed=0)
    before = [p.copy() for p, _ in net.parameters()]
    X = rng.normal(size=(5, 3)).astype(np.float32)
    net.backward(
        CrossEntropyLoss.logits_grad(net.forward(X), one_hot(rng.integers(0, 2, 5), 2)),
        grad_is_logits=True,
    )
    assert all(np.array_equal(b, p) for b, (p, _) in zip(before, net.parameters()))


def test_predict_converts_dtype():
    net = NeuralNetwork(2, 3, 4, 1, head_activation=Softmax, seed=0)
    X = np.random.default_rng(5).normal(size=(6, 2))
    out = net.predict(X)
    assert out.dtype == np.float32 and out.shape == (6, 3) and X.dtype == np.float64


# --- layer_sizes, init= and dropout= --------------------------------------------------


def test_layer_sizes_is_the_list_of_widths():
    assert layer_sizes(2, 3, 16, 2) == [2, 16, 16, 3]
    assert layer_sizes(5, 1, 7, 0) == [5, 1]
    with pytest.raises(ValueError, match="num_hidden_layers must be an integer >= 0"):
        NeuralNetwork(2, 3, 16, -1)
    net = NeuralNetwork(4, 2, 6, 3, seed=0)
    widths = [layer.weights.shape[0] for layer in dense(net)] + [
        dense(net)[-1].weights.shape[1]
    ]
    assert widths == layer_sizes(4, 2, 6, 3)


@pytest.mark.parametrize("init", ["lecun", "xavier", "he"])
def test_init_is_passed_to_every_layer(init):
    net = NeuralNetwork(300, 200, 400, 2, init=init, seed=0, dtype=np.float64)
    for layer in dense(net):
        n_in, n_out = layer.weights.shape
        assert layer.weights.std() == pytest.approx(
            init_std(init, n_in, n_out), rel=0.03
        )


def test_default_init_and_dropout_leave_the_weights_unchanged():
    plain = NeuralNetwork(3, 2, 5, 2, seed=4)
    for other in (
        NeuralNetwork(3, 2, 5, 2, init="lecun", seed=4),
        NeuralNetwork(3, 2, 5, 2, dropout=0.3, seed=4),
    ):
        assert all(
            np.array_equal(a, b)
            for (a, _), (b, _) in zip(plain.parameters(), other.parameters())
        )
    rng = np.random.default_rng(
        4
    )  # the documented recipe: one generator, layer after layer, sqrt(1 / fan-in)
    expected = [
        rng.normal(scale=np.sqrt(1 / n_in), size=(n_in, n_out)).astype(np.float32)
        for n_in, n_out in [(3, 5), (5, 5), (5, 2)]
    ]
    assert all(
        np.array_equal(layer.weights, w) for layer, w in zip(dense(plain), expected)
    )


def test_dropout_layers_follow_each_hidden_activation_only():
    assert dropouts(NeuralNetwork(3, 2, 5, 2, seed=0)) == []
    assert dropouts(NeuralNetwork(3, 2, 5, 2, dropout=0.0, seed=0)) == []
    net = NeuralNetwork(3, 2, 5, 3, dropout=0.25, head_activation=Softmax, seed=0)
    assert [type(layer).__name__ for layer in net.layers] == [
        "Layer",
        "Relu",
        "Dropout",
    ] * 3 + ["Layer", "Softmax"]
    assert all(d.rate == 0.25 for d in dropouts(net))
    assert net.training is False and not any(d.training for d in dropouts(net))
    net.training = True
    assert all(d.training for d in dropouts(net))


@pytest.mark.parametrize(
    "dropout, error",
    [
        (1.0, ValueError),
        (-0.1, ValueError),
        (float("nan"), ValueError),
        ("0.5", TypeError),
        (True, TypeError),
    ],
)
def test_bad_dropout_is_refused(dropout, error):
    with pytest.raises(error, match=r"dropout must be a number in \[0, 1\), got "):
        NeuralNetwork(3, 2, 5, 2, dropout=dropout)


def test_dropout_masks_are_reproducible_from_the_seed():
    X = np.ones((4, 3), np.float32)
    outputs = []
    for _ in range(2):
        net = NeuralNetwork(3, 2, 50, 2, dropout=0.5, seed=9)
        net.training = True
        outputs.append(net.forward(X))
    assert np.array_equal(*outputs)


def test_forward_drops_units_only_in_training_mode():
    net = NeuralNetwork(3, 2, 50, 2, dropout=0.5, seed=0)
    X = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    clean = net.forward(X)
    net.training = True
    dropped = net.forward(X)
    assert not np.allclose(dropped, clean)
    assert all(d.mask is not None and (d.mask == 0).any() for d in dropouts(net))


# --- Sequential: any list of layers ---------------------------------------------------


def test_sequential_with_different_widths_passes_a_gradient_check():
    rng = np.random.default_rng(7)
    net = Sequential(
        Layer(3, 7, seed=1, dtype=np.float64),
        Tanh(),
        Layer(7, 2, seed=2, dtype=np.float64),
        Relu(),
        Layer(2, 5, seed=3, dtype=np.float64),
        Softmax(),
    )
    for layer in dense(net):
        layer.bias[:] = rng.normal(scale=0.5, size=layer.bias.shape)
    X, Y = rng.normal(size=(6, 3)), one_hot(rng.integers(0, 5, size=6), 5)
    for fused in (True, False):
        for backprop, numerical in backprop_and_numerical(
            net, X, Y, CrossEntropyLoss, fused
        ):
            assert relative_error(backprop, numerical) < 1e-6


def test_sequential_backward_returns_the_input_gradient_and_runs_in_reverse():
    rng = np.random.default_rng(8)
    net = Sequential(
        Layer(3, 4, seed=1, dtype=np.float64),
        Tanh(),
        Layer(4, 2, seed=2, dtype=np.float64),
    )
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    grad_x = net.backward(MeanSquaredErrorLoss.grad(net.forward(X), Y))
    numeric = numerical_gradient(
        lambda _: MeanSquaredErrorLoss.loss(net.forward(X), Y), X
    )
    assert grad_x.shape == X.shape and relative_error(grad_x, numeric) < 1e-6


def test_seed_style_layers_with_activations_inside_still_work_in_a_sequential():
    rng = np.random.default_rng(9)
    net = Sequential(
        Layer(3, 6, Tanh, seed=1, dtype=np.float64),
        Layer(6, 4, Softmax, seed=2, dtype=np.float64),
    )
    X, Y = rng.normal(size=(5, 3)), one_hot(rng.integers(0, 4, size=5), 4)
    fused = [
        pair[0] for pair in backprop_and_numerical(net, X, Y, CrossEntropyLoss, True)
    ]
    for g, (backprop, numerical) in zip(
        fused, backprop_and_numerical(net, X, Y, CrossEntropyLoss, False)
    ):
        assert relative_error(backprop, numerical) < 1e-6 and np.allclose(g, backprop)


def test_predict_in_batches_equals_one_forward_pass_and_keeps_the_dtype():
    net = NeuralNetwork(4, 3, 8, 2, head_activation=Softmax, seed=0)
    X = np.random.default_rng(10).normal(size=(1001, 4))
    whole = net.forward(X.astype(np.float32))
    for batch_size in (1, 7, 1000, 1001, 5000):
        out = net.predict(
            X, batch_size=batch_size
        )  # BLAS may round a smaller product differently
        assert out.dtype == np.float32 and np.allclose(out, whole, rtol=1e-5, atol=1e-6)
    assert np.array_equal(net.predict(X, batch_size=1001), whole)
    assert np.array_equal(net.predict(X), net.predict(X))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        net.predict(X, batch_size=0)


def test_predict_refuses_float64_values_the_network_dtype_cannot_hold():
    net = NeuralNetwork(2, 1, 4, 1, seed=0)
    with pytest.raises(ValueError, match="X holds values beyond") as err:
        net.predict(np.array([[1e300, 0.0]]))
    assert "float32" in str(err.value) and "scale the data first" in str(err.value)
    net64 = NeuralNetwork(2, 1, 4, 1, seed=0, dtype=np.float64)
    assert net64.predict(np.array([[1e300, 0.0]])).shape == (
        1,
        1,
    )  # float64 holds them: no refusal


def test_training_flag_reaches_every_layer_that_has_one():
    drop = Dropout(0.5, seed=0)
    net = Sequential(Layer(2, 3, seed=0), Relu(), drop, Layer(3, 1, seed=1))
    assert net.training is False and drop.training is False
    net.training = True
    assert drop.training is True
    net.training = False
    assert drop.training is False
