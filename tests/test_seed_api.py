"""The seed blog post's usage patterns keep working against nnscratch, unchanged.

The post builds networks and trains them with keyword arguments, without seeds and with
the progress bar on; it scores a classifier with one-hot targets. These tests make the
same calls (on small synthetic data instead of MNIST) and check that they run and learn.
The quality checks add seed= to the same calls, so that they are deterministic; the
unseeded calls are checked for what does not depend on the draw (shapes, lengths,
finiteness).
"""

import numpy as np
import pytest

from nnscratch import (
    CrossEntropyLoss,
    MeanSquaredErrorLoss,
    NeuralNetwork,
    Relu,
    Softmax,
    Tanh,
    accuracy,
    train,
)


TARGETS = pytest.mark.parametrize(
    "target", [np.square, np.abs, lambda x: 3 * np.sin(x)], ids=["square", "abs", "sin"]
)


def fit_function(target, seed=None):
    """The post's function-approximation calls; seed=None is exactly the post's call."""
    X = np.linspace(-3, 3, 100).reshape(-1, 1)
    y = target(X)
    seeds = {} if seed is None else dict(seed=seed)
    model = NeuralNetwork(
        input_size=1,
        output_size=1,
        hidden_layer_size=32,
        num_hidden_layers=2,
        hidden_activation=Tanh,
        **seeds,
    )
    train_losses, eval_losses = train(
        model,
        X,
        y,
        loss_fn=MeanSquaredErrorLoss,
        epochs=400,
        batch_size=64,
        learning_rate=0.05,
        **seeds,
    )
    return X, y, model.forward(X), train_losses, eval_losses


@TARGETS
def test_function_approximation_calls_run_unseeded(target):
    X, y, prediction, train_losses, eval_losses = fit_function(target)
    assert prediction.shape == (100, 1) and np.isfinite(prediction).all()
    assert (
        len(train_losses) == 400
        and eval_losses == []
        and np.isfinite(train_losses).all()
    )


@TARGETS
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_function_approximation_learns(target, seed):
    X, y, prediction, train_losses, _ = fit_function(target, seed)
    assert (
        fit_function(target, seed)[3] == train_losses
    )  # seeded: the same run every time
    assert np.mean((prediction - y) ** 2) < 0.5 * np.var(
        y
    )  # far better than the best constant


def digits_like_data(n=600, n_features=20, n_classes=4, seed=0):
    """Noisy class prototypes in n_features dimensions, one-hot targets, split 80/20."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(n_classes, n_features))
    labels = rng.integers(0, n_classes, size=n)
    X = prototypes[labels] + rng.normal(scale=0.8, size=(n, n_features))
    y = np.eye(n_classes)[labels]
    cut = int(0.8 * n)
    return X[:cut], X[cut:], y[:cut], y[cut:]


@pytest.mark.parametrize("seed", [None, 0, 1])
def test_classification_calls(seed):
    X_train, X_test, y_train, y_test = digits_like_data()
    seeds = (
        {} if seed is None else dict(seed=seed)
    )  # seed=None: exactly the post's calls
    nn = NeuralNetwork(
        input_size=X_train.shape[1],
        output_size=y_train.shape[1],
        hidden_layer_size=32,
        num_hidden_layers=2,
        hidden_activation=Relu,
        head_activation=Softmax,
        **seeds,
    )
    train_losses, eval_losses = train(
        nn,
        X_train,
        y_train,
        X_test=X_test,
        y_test=y_test,
        loss_fn=CrossEntropyLoss,
        epochs=15,
        batch_size=64,
        learning_rate=0.05,
        **seeds,
    )
    assert len(train_losses) == len(eval_losses) == 15
    if seed is None:
        assert np.isfinite(train_losses).all() and isinstance(
            accuracy(nn, X_test, y_test), float
        )
        return
    assert train_losses[-1] < train_losses[0] and eval_losses[-1] < eval_losses[0]
    train_accuracy = accuracy(nn, X_train, y_train)
    test_accuracy = accuracy(nn, X_test, y_test)
    assert isinstance(test_accuracy, float)
    assert train_accuracy > 0.9 and test_accuracy > 0.9


def test_bar_keyword_and_positional_arguments():
    X_train, X_test, y_train, y_test = digits_like_data(n=100)
    nn = NeuralNetwork(
        20, 4, 8, 1, Softmax, Relu
    )  # positional order: head, then hidden activation
    assert isinstance(nn.layers[-1], Softmax) and isinstance(
        nn.layers[1], Relu
    )  # activations are layers
    losses, evals = train(
        nn, X_train, y_train, CrossEntropyLoss, 2, 16, 0.05, X_test, y_test, False
    )
    assert len(losses) == len(evals) == 2
    losses, evals = train(
        nn,
        X_train,
        y_train,
        loss_fn=CrossEntropyLoss,
        epochs=2,
        batch_size=16,
        learning_rate=0.05,
        bar=False,
    )
    assert len(losses) == 2 and evals == []


def test_default_hidden_activation_is_relu_and_forward_backward_exist():
    nn = NeuralNetwork(
        input_size=3, output_size=2, hidden_layer_size=4, num_hidden_layers=2
    )
    assert [type(layer).__name__ for layer in nn.layers] == [
        "Layer",
        "Relu",
        "Layer",
        "Relu",
        "Layer",
    ]
    assert nn.layers[-1].activation is None
    out = nn.forward(np.ones((5, 3)))
    assert out.shape == (5, 2)
    nn.backward(MeanSquaredErrorLoss.grad(out, np.zeros((5, 2))))
