"""train() and SGD: learning, reproducibility, divergence, validation."""
import math

import numpy as np
import pytest

from nnscratch import (SGD, CrossEntropyLoss, MeanSquaredErrorLoss, NeuralNetwork, Relu, Softmax, Tanh, accuracy,
                       one_hot, train)


def blobs(seed=0, n=120):
    """Three well separated Gaussian blobs in 2-D: (X, one-hot Y, integer labels)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    X = centres[labels] + rng.normal(scale=0.5, size=(n, 2))
    return X, one_hot(labels, 3), labels


def classifier(seed=0):
    return NeuralNetwork(2, 3, 8, 1, head_activation=Softmax, hidden_activation=Tanh, seed=seed)


def weights(model):
    return [param.copy() for param, _ in model.parameters()]


def test_loss_decreases_and_the_classifier_learns():
    X, Y, labels = blobs()
    model = classifier()
    train_losses, _ = train(model, X, Y, CrossEntropyLoss, epochs=30, batch_size=16, learning_rate=0.1,
                            bar=False, seed=0)
    assert train_losses[-1] < 0.25 * train_losses[0]
    assert accuracy(model, X, Y) > 0.95 and accuracy(model, X, labels) == accuracy(model, X, Y)


def test_regression_loss_decreases():
    X = np.linspace(-2, 2, 50).reshape(-1, 1)
    model = NeuralNetwork(1, 1, 16, 2, hidden_activation=Tanh, seed=0)
    losses, _ = train(model, X, X ** 2, MeanSquaredErrorLoss, epochs=100, batch_size=10, learning_rate=0.05,
                      bar=False, seed=0)
    assert losses[-1] < 0.1 * losses[0]


def test_returns_one_float_per_epoch_and_no_eval_losses_without_test_data():
    X, Y, _ = blobs()
    train_losses, eval_losses = train(classifier(), X, Y, CrossEntropyLoss, epochs=7, batch_size=32,
                                      learning_rate=0.1, bar=False, seed=0)
    assert isinstance(train_losses, list) and len(train_losses) == 7
    assert all(type(v) is float for v in train_losses)
    assert eval_losses == []


def test_eval_losses_with_test_data():
    X, Y, _ = blobs()
    model = classifier()
    train_losses, eval_losses = train(model, X[:80], Y[:80], CrossEntropyLoss, epochs=5, batch_size=32,
                                      learning_rate=0.1, X_test=X[80:], y_test=Y[80:], bar=False, seed=0)
    assert len(train_losses) == len(eval_losses) == 5 and all(type(v) is float for v in eval_losses)
    # the last eval loss is the loss of the final model on the test data
    assert eval_losses[-1] == pytest.approx(CrossEntropyLoss.loss(model.predict(X[80:]), Y[80:].astype(np.float32)))


def test_same_seed_is_bit_identical_and_a_different_seed_is_not():
    X, Y, _ = blobs()
    runs = []
    for train_seed in (5, 5, 6):
        model = classifier(seed=0)   # same initial weights every time: only the shuffling differs
        losses, _ = train(model, X, Y, CrossEntropyLoss, epochs=5, batch_size=16, learning_rate=0.1,
                          bar=False, seed=train_seed)
        runs.append((losses, weights(model)))
    (losses_a, weights_a), (losses_b, weights_b), (losses_c, weights_c) = runs
    assert losses_a == losses_b
    assert all(np.array_equal(a, b) for a, b in zip(weights_a, weights_b))
    assert losses_a != losses_c
    assert not all(np.array_equal(a, c) for a, c in zip(weights_a, weights_c))


def test_rng_argument_is_equivalent_to_seed():
    X, Y, _ = blobs()
    a, b = classifier(), classifier()
    losses_a, _ = train(a, X, Y, CrossEntropyLoss, 3, 16, 0.1, bar=False, seed=9)
    losses_b, _ = train(b, X, Y, CrossEntropyLoss, 3, 16, 0.1, bar=False, rng=np.random.default_rng(9))
    assert losses_a == losses_b
    with pytest.raises(ValueError, match="either rng= or seed="):
        train(a, X, Y, CrossEntropyLoss, 1, 16, 0.1, bar=False, seed=1, rng=np.random.default_rng(1))


def test_global_random_state_is_untouched():
    X, Y, _ = blobs()
    before = np.random.get_state()
    train(classifier(), X, Y, CrossEntropyLoss, epochs=3, batch_size=16, learning_rate=0.1, bar=False, seed=0)
    train(classifier(), X, Y, CrossEntropyLoss, epochs=3, batch_size=16, learning_rate=0.1, bar=False)
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]


def test_divergence_raises_floating_point_error_naming_the_epoch():
    X = np.linspace(-2, 2, 64).reshape(-1, 1)
    model = NeuralNetwork(1, 1, 16, 2, seed=0)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError) as info:
        train(model, X, 3 * X, MeanSquaredErrorLoss, epochs=10, batch_size=16, learning_rate=1e3, bar=False, seed=0)
    message = str(info.value)
    assert "at epoch 1" in message
    assert "learning_rate=1000.0" in message and "lower" in message


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(epochs=0), ValueError, "epochs must be an integer >= 1, got 0"),
    (dict(epochs=2.5), TypeError, "epochs must be an integer >= 1"),
    (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1, got 0"),
    (dict(batch_size=-4), ValueError, "batch_size must be an integer >= 1"),
    (dict(learning_rate=0), ValueError, "learning_rate must be a finite number > 0, got 0"),
    (dict(learning_rate=-0.1), ValueError, "learning_rate must be a finite number > 0, got -0.1"),
    (dict(learning_rate=float("nan")), ValueError, "learning_rate must be a finite number > 0, got nan"),
    (dict(learning_rate=float("inf")), ValueError, "learning_rate must be a finite number > 0, got inf"),
    (dict(learning_rate="0.1"), TypeError, "learning_rate must be a finite number > 0"),
])
def test_bad_hyperparameters_are_refused_with_the_argument_named(kwargs, error, text):
    X, Y, _ = blobs()
    args = dict(epochs=2, batch_size=16, learning_rate=0.1) | kwargs
    model = classifier()
    before = weights(model)
    with pytest.raises(error, match=text):
        train(model, X, Y, CrossEntropyLoss, bar=False, seed=0, **args)
    assert all(np.array_equal(a, b) for a, b in zip(before, weights(model))), "a refused call changed the model"


def test_bad_data_is_refused_with_a_hint():
    X, Y, labels = blobs()
    model = classifier()
    with pytest.raises(ValueError, match=r"one_hot\(y_train, 3\)"):
        train(model, X, labels, CrossEntropyLoss, 1, 16, 0.1, bar=False)
    with pytest.raises(ValueError, match="X_train must have 2 columns"):
        train(model, np.hstack([X, X]), Y, CrossEntropyLoss, 1, 16, 0.1, bar=False)
    with pytest.raises(ValueError, match="y_train must have 120 rows"):
        train(model, X, Y[:100], CrossEntropyLoss, 1, 16, 0.1, bar=False)
    with pytest.raises(ValueError, match="pass both X_test and y_test, or neither"):
        train(model, X, Y, CrossEntropyLoss, 1, 16, 0.1, X_test=X, bar=False)


def test_batch_larger_than_the_data_and_uneven_last_batch():
    X, Y, _ = blobs(n=10)
    for batch_size in (3, 10, 64):
        losses, _ = train(classifier(), X, Y, CrossEntropyLoss, 2, batch_size, 0.1, bar=False, seed=0)
        assert len(losses) == 2 and all(math.isfinite(v) for v in losses)


def test_custom_optimizer_is_stepped_once_per_batch():
    class CountingSGD(SGD):
        steps = 0

        def step(self):
            CountingSGD.steps += 1
            super().step()

    X, Y, _ = blobs(n=50)
    model = classifier()
    train(model, X, Y, CrossEntropyLoss, epochs=3, batch_size=16, learning_rate=0.1,
          optimizer=CountingSGD(model.parameters(), 0.1), bar=False, seed=0)
    assert CountingSGD.steps == 3 * math.ceil(50 / 16)


def test_fused_gradient_is_used_only_for_softmax_head_with_cross_entropy():
    calls = []

    class RecordingCrossEntropy(CrossEntropyLoss):
        @staticmethod
        def grad(y_pred, y_true):
            calls.append("grad")
            return CrossEntropyLoss.grad(y_pred, y_true)

        @staticmethod
        def logits_grad(y_pred, y_true):
            calls.append("logits_grad")
            return CrossEntropyLoss.logits_grad(y_pred, y_true)

    X, Y, _ = blobs(n=32)
    train(classifier(), X, Y, RecordingCrossEntropy, 1, 32, 0.1, bar=False, seed=0)
    assert calls == ["logits_grad"]
    calls.clear()
    relu_head = NeuralNetwork(2, 3, 8, 1, head_activation=Relu, seed=0)
    with np.errstate(all="ignore"):
        train(relu_head, X, Y, RecordingCrossEntropy, 1, 32, 0.01, bar=False, seed=0)
    assert calls == ["grad"]


def test_sgd_updates_exactly_param_minus_lr_times_grad():
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(3, 2)), rng.normal(size=(1, 2))]
    grads = [rng.normal(size=(3, 2)), rng.normal(size=(1, 2))]
    expected = [p - 0.25 * g for p, g in zip(params, grads)]
    originals = [id(p) for p in params]
    SGD(zip(params, grads), learning_rate=0.25).step()
    assert all(np.array_equal(p, e) for p, e in zip(params, expected))
    assert [id(p) for p in params] == originals   # updated in place


def test_sgd_sees_gradients_written_after_it_was_created():
    model = NeuralNetwork(2, 1, 3, 1, seed=0, dtype=np.float64)
    optimizer = SGD(model.parameters(), learning_rate=0.5)
    X, y = np.ones((4, 2)), np.zeros((4, 1))
    model.backward(MeanSquaredErrorLoss.grad(model.forward(X), y))
    expected = [p - 0.5 * g for p, g in model.parameters()]
    optimizer.step()
    assert all(np.array_equal(p, e) for (p, _), e in zip(model.parameters(), expected))


@pytest.mark.parametrize("learning_rate, error", [(0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                                  (None, TypeError), (True, TypeError)])
def test_sgd_refuses_bad_learning_rates(learning_rate, error):
    with pytest.raises(error, match="learning_rate must be a finite number > 0"):
        SGD([], learning_rate)
