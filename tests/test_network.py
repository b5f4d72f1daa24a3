"""NeuralNetwork: structure, validation, and an end-to-end gradient check of every parameter."""
import numpy as np
import pytest

from nnscratch import (CrossEntropyLoss, MeanSquaredErrorLoss, NeuralNetwork, Relu, Sigmoid, Softmax, Tanh,
                       numerical_gradient, one_hot, relative_error)


def backprop_and_numerical(net, X, Y, loss_fn, fused):
    """Pairs (backprop gradient, central-difference gradient), one per parameter array."""
    y_pred = net.forward(X)
    grad = loss_fn.logits_grad(y_pred, Y) if fused else loss_fn.grad(y_pred, Y)
    net.backward(grad, grad_is_logits=fused)
    backprop = [g.copy() for _, g in net.parameters()]
    loss = lambda _: loss_fn.loss(net.forward(X), Y)
    return [(g, numerical_gradient(loss, param)) for (param, _), g in zip(net.parameters(), backprop)]


CASES = [  # hidden activation, head activation, loss, fused softmax + cross-entropy gradient
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
@pytest.mark.parametrize("hidden, head, loss_fn, fused", CASES,
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_every_parameter_gradient_matches_numerical(hidden, head, loss_fn, fused, num_hidden_layers):
    rng = np.random.default_rng(1)
    net = NeuralNetwork(3, 4, 5, num_hidden_layers, head_activation=head, hidden_activation=hidden,
                        rng=rng, dtype=np.float64)
    for layer in net.layers:   # non-zero biases: no ReLU input sits exactly on its kink at 0
        layer.bias[:] = rng.normal(scale=0.5, size=layer.bias.shape)
    X = rng.normal(size=(7, 3))
    Y = one_hot(rng.integers(0, 4, size=7), 4) if loss_fn is CrossEntropyLoss else rng.normal(size=(7, 4))
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
        net = NeuralNetwork(3, 4, 5, 2, head_activation=Softmax, hidden_activation=Tanh, seed=0, dtype=np.float64)
        p = net.forward(X)
        net.backward(CrossEntropyLoss.logits_grad(p, Y) if fused else CrossEntropyLoss.grad(p, Y),
                     grad_is_logits=fused)
        grads.append([g.copy() for _, g in net.parameters()])
    for a, b in zip(*grads):
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("num_hidden_layers, shapes", [
    (0, [(2, 3)]),
    (1, [(2, 8), (8, 3)]),
    (3, [(2, 8), (8, 8), (8, 8), (8, 3)]),
])
def test_layer_count_and_shapes(num_hidden_layers, shapes):
    net = NeuralNetwork(2, 3, 8, num_hidden_layers, head_activation=Softmax, seed=0)
    assert len(net.layers) == num_hidden_layers + 1
    assert [layer.weights.shape for layer in net.layers] == shapes
    assert [layer.bias.shape for layer in net.layers] == [(1, s[1]) for s in shapes]
    assert [layer.needs_input_grad for layer in net.layers] == [False] + [True] * num_hidden_layers
    assert isinstance(net.layers[-1].activation, Softmax)
    assert all(isinstance(layer.activation, Relu) for layer in net.layers[:-1])   # the default
    assert net.forward(np.ones((4, 2), np.float32)).shape == (4, 3)


def test_no_head_activation_means_linear_outputs():
    net = NeuralNetwork(2, 1, 4, 2, hidden_activation=Tanh, seed=0)
    assert net.layers[-1].activation is None


@pytest.mark.parametrize("activation", [Tanh, Tanh()], ids=["class", "instance"])
def test_activation_given_as_class_or_instance(activation):
    net = NeuralNetwork(2, 3, 4, 3, head_activation=activation, hidden_activation=activation, seed=0)
    acts = [layer.activation for layer in net.layers]
    assert all(type(a) is Tanh for a in acts)
    assert len({id(a) for a in acts}) == len(acts), "layers share an activation object"
    assert all(a is not activation for a in acts)


def test_shared_activation_instance_does_not_corrupt_gradients():
    """If layers shared one Tanh, the second forward would overwrite the first layer's cache."""
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    net = NeuralNetwork(2, 1, 4, 2, hidden_activation=Tanh(), seed=0, dtype=np.float64)
    for backprop, numerical in backprop_and_numerical(net, X, Y, MeanSquaredErrorLoss, False):
        assert relative_error(backprop, numerical) < 1e-6


def test_same_seed_same_weights_and_rng_is_accepted():
    a = NeuralNetwork(3, 2, 4, 2, seed=7)
    b = NeuralNetwork(3, 2, 4, 2, rng=np.random.default_rng(7))
    c = NeuralNetwork(3, 2, 4, 2, seed=8)
    for (pa, _), (pb, _), (pc, _) in zip(a.parameters(), b.parameters(), c.parameters()):
        assert np.array_equal(pa, pb)
    assert not np.array_equal(a.layers[0].weights, c.layers[0].weights)
    with pytest.raises(ValueError, match="either rng= or seed="):
        NeuralNetwork(3, 2, 4, 2, seed=1, rng=np.random.default_rng(1))


def test_dtype_is_float32_by_default_and_float64_on_request():
    assert all(p.dtype == np.float32 for p, _ in NeuralNetwork(2, 2, 3, 1, seed=0).parameters())
    net = NeuralNetwork(2, 2, 3, 1, seed=0, dtype=np.float64)
    assert all(p.dtype == np.float64 and g.dtype == np.float64 for p, g in net.parameters())
    assert net.dtype == np.float64


def test_parameters_are_the_layers_own_arrays_first_layer_first():
    net = NeuralNetwork(2, 3, 4, 1, seed=0)
    expected = [pair for layer in net.layers for pair in [(layer.weights, layer.grad_weights),
                                                            (layer.bias, layer.grad_bias)]]
    pairs = net.parameters()
    assert len(pairs) == len(expected) == 4
    for (param, grad), (want_param, want_grad) in zip(pairs, expected):
        assert param is want_param and grad is want_grad


def test_backward_changes_no_parameter():
    rng = np.random.default_rng(4)
    net = NeuralNetwork(3, 2, 4, 2, head_activation=Softmax, seed=0)
    before = [p.copy() for p, _ in net.parameters()]
    X = rng.normal(size=(5, 3)).astype(np.float32)
    net.backward(CrossEntropyLoss.logits_grad(net.forward(X), one_hot(rng.integers(0, 2, 5), 2)), grad_is_logits=True)
    assert all(np.array_equal(b, p) for b, (p, _) in zip(before, net.parameters()))


def test_predict_converts_dtype_and_checks_input():
    net = NeuralNetwork(2, 3, 4, 1, head_activation=Softmax, seed=0)
    X = np.random.default_rng(5).normal(size=(6, 2))
    out = net.predict(X)
    assert out.dtype == np.float32 and out.shape == (6, 3) and X.dtype == np.float64
    with pytest.raises(ValueError, match=r"X must be 2-D.*reshape"):
        net.predict(np.zeros(2))
    with pytest.raises(ValueError, match="X must have 2 columns"):
        net.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="NaN or inf"):
        net.predict(np.array([[0.0, np.nan]]))
    with pytest.raises(TypeError, match="NumPy array"):
        net.predict([[0.0, 1.0]])


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(input_size=0), ValueError, "input_size must be an integer >= 1, got 0"),
    (dict(output_size=-2), ValueError, "output_size must be an integer >= 1"),
    (dict(hidden_layer_size=2.0), TypeError, "hidden_layer_size must be an integer"),
    (dict(num_hidden_layers=-1), ValueError, "num_hidden_layers must be an integer >= 0, got -1"),
    (dict(num_hidden_layers=True), TypeError, "num_hidden_layers must be an integer"),
])
def test_bad_sizes_are_refused_with_the_argument_named(kwargs, error, text):
    args = dict(input_size=2, output_size=2, hidden_layer_size=4, num_hidden_layers=1) | kwargs
    with pytest.raises(error, match=text):
        NeuralNetwork(**args)


def test_bad_activation_is_refused():
    with pytest.raises(TypeError, match="activation must be"):
        NeuralNetwork(2, 2, 4, 1, hidden_activation="relu")
