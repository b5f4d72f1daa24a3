"""Weight initialisation schemes (book/02_layers.ipynb, book/11_initialisation.ipynb):
scales, names, defaults."""

import numpy as np
import pytest

from nnscratch import Relu, NeuralNetwork, Softmax
from nnscratch.layers import INIT_SCALES, Layer, init_std

EXPECTED_VARIANCE = {
    "lecun": lambda n_in, n_out: 1 / n_in,
    "xavier": lambda n_in, n_out: 2 / (n_in + n_out),
    "he": lambda n_in, n_out: 2 / n_in,
}


@pytest.mark.parametrize("name", ["lecun", "xavier", "he"])
@pytest.mark.parametrize("n_in, n_out", [(1000, 400), (300, 900)])
def test_each_scheme_draws_weights_with_its_std(name, n_in, n_out):
    expected = np.sqrt(EXPECTED_VARIANCE[name](n_in, n_out))
    assert init_std(name, n_in, n_out) == pytest.approx(expected, rel=1e-12)
    weights = Layer(n_in, n_out, init=name, seed=1, dtype=np.float64).weights
    assert weights.std() == pytest.approx(expected, rel=0.01)
    assert abs(weights.mean()) < 0.01 * expected
    assert np.all(Layer(n_in, n_out, init=name, seed=1).bias == 0)


def test_schemes_are_rescalings_of_the_same_draws():
    """For one seed the three schemes draw the same normal numbers, only scaled."""
    lecun = Layer(64, 64, init="lecun", seed=5, dtype=np.float64).weights
    # square layer
    assert np.array_equal(
        Layer(64, 64, init="xavier", seed=5, dtype=np.float64).weights, lecun
    )
    assert np.allclose(
        Layer(64, 64, init="he", seed=5, dtype=np.float64).weights, np.sqrt(2) * lecun
    )
    assert not np.allclose(
        Layer(64, 16, init="xavier", seed=5).weights,
        Layer(64, 16, init="lecun", seed=5).weights,
    )


@pytest.mark.parametrize("name", ["xavier", "he"])
def test_network_passes_init_to_every_layer(name):
    net = NeuralNetwork(
        300, 10, 200, 3, head_activation=Softmax, init=name, seed=0, dtype=np.float64
    )
    for layer in net.layers[::2]:  # the dense layers; activations sit between them
        n_in, n_out = layer.weights.shape
        assert layer.weights.std() == pytest.approx(
            init_std(name, n_in, n_out), rel=0.1
        )
    first = net.layers[0].weights
    assert first.std() == pytest.approx(init_std(name, 300, 200), rel=0.02)


def test_lecun_is_the_default_and_unchanged():
    expected = (
        np.random.default_rng(7)
        .normal(scale=np.sqrt(1 / 6), size=(6, 3))
        .astype(np.float32)
    )
    assert Layer(6, 3, seed=7).weights.tobytes() == expected.tobytes()
    default, lecun = (
        NeuralNetwork(6, 2, 5, 2, seed=7),
        NeuralNetwork(6, 2, 5, 2, init="lecun", seed=7),
    )
    for (a, _), (b, _) in zip(default.parameters(), lecun.parameters()):
        assert a.tobytes() == b.tobytes()
    he = NeuralNetwork(6, 2, 5, 2, init="he", seed=7)
    assert not np.array_equal(he.layers[0].weights, default.layers[0].weights)


@pytest.mark.parametrize("bad", ["glorot", "kaiming", "LeCun", "", None, 1.0])
def test_unknown_scheme_raises_value_error_listing_the_choices(bad):
    for make in (
        lambda: Layer(4, 3, init=bad),
        lambda: NeuralNetwork(4, 3, 5, 1, init=bad),
        lambda: init_std(bad, 4, 3),
    ):
        with pytest.raises(ValueError) as info:
            make()
        message = str(info.value)
        assert "init" in message and all(repr(name) in message for name in INIT_SCALES)


def _activation_stds(init, depth=10, width=256, seed=0):
    """Std of each hidden ReLU layer's output for standard-normal inputs (chapter 11's
    measurement)."""
    net = NeuralNetwork(width, 10, width, depth, init=init, seed=seed, dtype=np.float64)
    h = np.random.default_rng(seed + 1).normal(size=(512, width))
    stds = []
    for layer in net.layers[:-1]:  # [Layer, Relu] * depth, then the head
        h = layer.forward(h)
        if isinstance(layer, Relu):
            stds.append(h.std())
    return np.array(stds)


def test_he_keeps_the_activation_scale_through_ten_relu_layers():
    stds = _activation_stds("he")
    assert stds.max() / stds.min() < 2


@pytest.mark.parametrize("name", ["lecun", "xavier"])
def test_lecun_and_xavier_shrink_relu_activations_by_about_sqrt2_per_layer(name):
    stds = _activation_stds(name)
    per_layer = (stds[-1] / stds[0]) ** (1 / (len(stds) - 1))
    assert stds[-1] < stds[0] / 10
    assert 0.6 < per_layer < 0.8  # 1/sqrt(2) = 0.707 predicted
