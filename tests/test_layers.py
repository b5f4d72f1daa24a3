"""The dense layer (book/02_layers.ipynb): gradients, shapes, dtype, seeds,
activations."""

import numpy as np
import pytest

from nnscratch.gradcheck import numerical_gradient, relative_error
from nnscratch import NeuralNetwork
from nnscratch.layers import INIT_SCALES, Layer, as_activation, init_std


class Identity:
    def forward(self, z):
        return z

    def backward(self, d_output):
        return d_output


class Square:
    """A tiny activation with a non-trivial derivative, to test the activation path."""

    def forward(self, z):
        self.z = z
        return z**2

    def backward(self, d_output):
        return d_output * 2 * self.z


def make_case(activation=None, seed=0):
    rng = np.random.default_rng(seed)
    layer = Layer(4, 3, activation, seed=seed, dtype=np.float64)
    layer.bias[:] = rng.normal(size=layer.bias.shape)  # a non-zero bias, to be thorough
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))

    def loss(_=None):
        return 0.5 * np.sum((layer.forward(x) - y) ** 2)

    grad_x = layer.backward(layer.forward(x) - y)  # dL/d(output) = output - y
    return layer, x, loss, grad_x


@pytest.mark.parametrize("activation", [None, Square])
def test_gradients_match_finite_differences(activation):
    layer, x, loss, grad_x = make_case(activation)
    assert (
        relative_error(layer.grad_weights, numerical_gradient(loss, layer.weights))
        < 1e-6
    )
    assert relative_error(layer.grad_bias, numerical_gradient(loss, layer.bias)) < 1e-6
    assert relative_error(grad_x, numerical_gradient(loss, x)) < 1e-6


def test_skip_activation_takes_dl_dz_directly():
    layer = Layer(4, 3, Square, seed=0, dtype=np.float64)
    x = np.random.default_rng(1).normal(size=(5, 4))
    layer.forward(x)
    delta = np.ones((5, 3))
    grad_x = layer.backward(delta, skip_activation=True)
    assert np.allclose(layer.grad_weights, x.T @ delta) and np.allclose(
        grad_x, delta @ layer.weights.T
    )


def test_shapes_and_defaults():
    layer = Layer(7, 3, seed=0)
    assert layer.weights.shape == (7, 3) and layer.bias.shape == (1, 3)
    assert layer.weights.dtype == np.float32 and layer.bias.dtype == np.float32
    assert (
        np.all(layer.bias == 0) and layer.activation is None and layer.needs_input_grad
    )
    z = layer.forward(np.ones((10, 7), np.float32))
    assert z.shape == (10, 3) and z.dtype == np.float32
    grad_x = layer.backward(np.ones((10, 3), np.float32))
    assert grad_x.shape == (10, 7)
    assert layer.grad_weights.shape == (7, 3) and layer.grad_bias.shape == (1, 3)


def test_initial_weight_scale_is_sqrt_one_over_fan_in():
    layer = Layer(400, 300, seed=0, dtype=np.float64)
    assert layer.weights.std() == pytest.approx(np.sqrt(1 / 400), rel=0.02)
    assert abs(layer.weights.mean()) < 0.005


def test_dtype_float64_on_request():
    layer = Layer(2, 2, seed=0, dtype=np.float64)
    assert layer.weights.dtype == layer.grad_weights.dtype == np.float64


def test_first_layer_can_skip_input_gradient():
    layer = Layer(4, 3, seed=0)
    layer.needs_input_grad = False
    layer.forward(np.ones((2, 4), np.float32))
    assert layer.backward(np.ones((2, 3), np.float32)) is None
    assert np.allclose(layer.grad_bias, 2.0)


def test_backward_does_not_change_the_parameters():
    layer, _, _, _ = make_case()
    before = [p.copy() for p, _ in layer.parameters()]
    layer.backward(np.ones((5, 3)))
    assert all(np.array_equal(p, b) for (p, _), b in zip(layer.parameters(), before))


def test_parameters_are_the_layers_own_arrays_and_gradients_update_in_place():
    layer, x, _, _ = make_case()
    (w, gw), (b, gb) = layer.parameters()
    assert (
        w is layer.weights
        and gw is layer.grad_weights
        and b is layer.bias
        and gb is layer.grad_bias
    )
    layer.forward(x)
    layer.backward(np.ones((5, 3)))
    assert gw is layer.grad_weights and np.allclose(gw, x.T @ np.ones((5, 3)))


def test_same_seed_same_weights_and_rng_is_used():
    assert np.array_equal(Layer(5, 4, seed=3).weights, Layer(5, 4, seed=3).weights)
    assert not np.array_equal(Layer(5, 4, seed=3).weights, Layer(5, 4, seed=4).weights)
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    assert np.array_equal(
        Layer(5, 4, rng=rng_a).weights, Layer(5, 4, rng=rng_b).weights
    )
    with pytest.raises(ValueError, match="not both"):
        Layer(5, 4, rng=rng_a, seed=1)


@pytest.mark.parametrize(
    "args, kind, message",
    [
        ((0, 3), ValueError, "input_size must be an integer >= 1, got 0"),
        ((3, 2.0), TypeError, "output_size must be an integer >= 1, got 2.0"),
    ],
)
def test_bad_sizes_are_refused(args, kind, message):
    with pytest.raises(kind, match=message):
        Layer(*args)


def test_forward_refuses_wrong_shapes():
    layer = Layer(3, 2, seed=0)
    for bad in (np.ones((4, 2), np.float32), np.ones(3, np.float32)):
        with pytest.raises(ValueError, match=r"x must have shape \(batch, 3\), got"):
            layer.forward(bad)


def test_as_activation_accepts_class_or_instance():
    assert as_activation(None) is None
    assert isinstance(as_activation(Identity), Identity)
    shared = Identity()
    copied = as_activation(shared)
    assert (
        isinstance(copied, Identity) and copied is not shared
    )  # each layer owns its activation
    a, b = Layer(2, 2, shared, seed=0), Layer(2, 2, shared, seed=0)
    assert a.activation is not b.activation


@pytest.mark.parametrize("junk", ["relu", 3, np.tanh, object])
def test_layer_refuses_junk_activations(junk):
    with pytest.raises(
        TypeError,
        match=(
            r"activation must be a class or instance "
            r"with forward\(\) and backward\(\)"
        ),
    ):
        Layer(3, 2, junk)
    with pytest.raises(
        TypeError, match=r"hidden_activation must be a class or instance"
    ):
        NeuralNetwork(3, 2, 4, 1, hidden_activation=junk)


@pytest.mark.parametrize(
    "init, variance", [("lecun", 1 / 400), ("xavier", 2 / 700), ("he", 2 / 400)]
)
def test_init_schemes_give_the_documented_std(init, variance):
    layer = Layer(400, 300, init=init, seed=0, dtype=np.float64)
    assert init_std(init, 400, 300) == np.sqrt(variance)
    assert layer.weights.std() == pytest.approx(np.sqrt(variance), rel=0.02)
    assert abs(layer.weights.mean()) < 0.05 * np.sqrt(variance)


def test_default_init_is_lecun_and_bit_identical_to_the_recipe():
    expected = (
        np.random.default_rng(3)
        .normal(scale=np.sqrt(1 / 5), size=(5, 4))
        .astype(np.float32)
    )
    assert Layer(5, 4, seed=3).weights.tobytes() == expected.tobytes()
    assert Layer(5, 4, init="lecun", seed=3).weights.tobytes() == expected.tobytes()
    assert set(INIT_SCALES) == {"lecun", "xavier", "he"}


@pytest.mark.parametrize("bad", ["glorot", "He", None, 2])
def test_unknown_init_is_refused_listing_the_choices(bad):
    message = f"init must be one of 'lecun', 'xavier', 'he', got {bad!r}$"
    with pytest.raises(ValueError, match=message):
        Layer(3, 2, init=bad)
    with pytest.raises(ValueError, match=message):
        init_std(bad, 3, 2)


@pytest.mark.parametrize(
    "dtype, got",
    [
        (np.int32, "int32"),
        (np.int64, "int64"),
        (bool, "bool"),
        ("int64", "int64"),
        ("banana", "'banana'"),
    ],
)
def test_non_float_dtype_is_refused(dtype, got):
    with pytest.raises(
        TypeError,
        match=rf"^dtype must be a floating-point type such as np\.float32, got {got}$",
    ):
        Layer(3, 2, dtype=dtype)


def test_param_pairs_survive_pickle_and_copy_with_their_flag():
    import copy
    import pickle

    pairs = Layer(3, 2, seed=0).parameters()
    for clone in (pickle.loads(pickle.dumps(pairs)), copy.deepcopy(pairs)):
        assert [pair.decay for pair in clone] == [True, False]
        assert all(np.array_equal(a[0], b[0]) for a, b in zip(clone, pairs))
