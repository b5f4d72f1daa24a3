"""train() and SGD: learning, reproducibility, divergence, validation."""

import math

import numpy as np
import pytest

from nnscratch import (
    SGD,
    CrossEntropyLoss,
    MeanSquaredErrorLoss,
    NeuralNetwork,
    Layer,
    ParamPair,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    accuracy,
    is_weight,
    one_hot,
    train,
)


def blobs(seed=0, n=120):
    """Three well separated Gaussian blobs in 2-D: (X, one-hot Y, integer labels)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    X = centres[labels] + rng.normal(scale=0.5, size=(n, 2))
    return X, one_hot(labels, 3), labels


def classifier(seed=0):
    return NeuralNetwork(
        2, 3, 8, 1, head_activation=Softmax, hidden_activation=Tanh, seed=seed
    )


def weights(model):
    return [param.copy() for param, _ in model.parameters()]


def test_loss_decreases_and_the_classifier_learns():
    X, Y, labels = blobs()
    model = classifier()
    train_losses, _ = train(
        model,
        X,
        Y,
        CrossEntropyLoss,
        epochs=30,
        batch_size=16,
        learning_rate=0.1,
        bar=False,
        seed=0,
    )
    assert train_losses[-1] < 0.25 * train_losses[0]
    assert accuracy(model, X, Y) > 0.95 and accuracy(model, X, labels) == accuracy(
        model, X, Y
    )


def test_regression_loss_decreases():
    X = np.linspace(-2, 2, 50).reshape(-1, 1)
    model = NeuralNetwork(1, 1, 16, 2, hidden_activation=Tanh, seed=0)
    losses, _ = train(
        model,
        X,
        X**2,
        MeanSquaredErrorLoss,
        epochs=100,
        batch_size=10,
        learning_rate=0.05,
        bar=False,
        seed=0,
    )
    assert losses[-1] < 0.1 * losses[0]


def test_returns_one_float_per_epoch_and_no_eval_losses_without_test_data():
    X, Y, _ = blobs()
    train_losses, eval_losses = train(
        classifier(),
        X,
        Y,
        CrossEntropyLoss,
        epochs=7,
        batch_size=32,
        learning_rate=0.1,
        bar=False,
        seed=0,
    )
    assert isinstance(train_losses, list) and len(train_losses) == 7
    assert all(type(v) is float for v in train_losses)
    assert eval_losses == []


def test_eval_losses_with_test_data():
    X, Y, _ = blobs()
    model = classifier()
    train_losses, eval_losses = train(
        model,
        X[:80],
        Y[:80],
        CrossEntropyLoss,
        epochs=5,
        batch_size=32,
        learning_rate=0.1,
        X_test=X[80:],
        y_test=Y[80:],
        bar=False,
        seed=0,
    )
    assert len(train_losses) == len(eval_losses) == 5 and all(
        type(v) is float for v in eval_losses
    )
    # the last eval loss is the loss of the final model on the test data
    assert eval_losses[-1] == pytest.approx(
        CrossEntropyLoss.loss(model.predict(X[80:]), Y[80:].astype(np.float32))
    )


def test_divergence_raises_floating_point_error_naming_the_epoch():
    X = np.linspace(-2, 2, 64).reshape(-1, 1)
    model = NeuralNetwork(1, 1, 16, 2, seed=0)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError) as info:
        train(
            model,
            X,
            3 * X,
            MeanSquaredErrorLoss,
            epochs=10,
            batch_size=16,
            learning_rate=1e3,
            bar=False,
            seed=0,
        )
    message = str(info.value)
    assert "at epoch 1" in message
    assert "learning_rate=1000.0" in message and "lower" in message


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        (dict(epochs=0), ValueError, "epochs must be an integer >= 1, got 0"),
        (
            dict(epochs=2.5),
            TypeError,
            "epochs must be an integer >= 1, got 2.5 of type float",
        ),
        (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1, got 0"),
        (dict(batch_size=-4), ValueError, "batch_size must be an integer >= 1"),
        (
            dict(learning_rate=0),
            ValueError,
            "learning_rate must be a finite number > 0, got 0",
        ),
        (
            dict(learning_rate=-0.1),
            ValueError,
            "learning_rate must be a finite number > 0, got -0.1",
        ),
        (
            dict(learning_rate=float("nan")),
            ValueError,
            "learning_rate must be a finite number > 0, got nan",
        ),
        (
            dict(learning_rate=float("inf")),
            ValueError,
            "learning_rate must be a finite number > 0, got inf",
        ),
        (
            dict(learning_rate="0.1"),
            TypeError,
            "learning_rate must be a finite number > 0, got '0.1' of type str",
        ),
    ],
)
def test_bad_hyperparameters_are_refused_with_the_argument_named(kwargs, error, text):
    X, Y, _ = blobs()
    args = dict(epochs=2, batch_size=16, learning_rate=0.1) | kwargs
    model = classifier()
    before = weights(model)
    with pytest.raises(error, match=text):
        train(model, X, Y, CrossEntropyLoss, bar=False, seed=0, **args)
    assert all(np.array_equal(a, b) for a, b in zip(before, weights(model))), (
        "a refused call changed the model"
    )


def test_batch_larger_than_the_data_and_uneven_last_batch():
    X, Y, _ = blobs(n=10)
    for batch_size in (3, 10, 64):
        losses, _ = train(
            classifier(), X, Y, CrossEntropyLoss, 2, batch_size, 0.1, bar=False, seed=0
        )
        assert len(losses) == 2 and all(math.isfinite(v) for v in losses)


def test_custom_optimizer_is_stepped_once_per_batch():
    class CountingSGD(SGD):
        steps = 0

        def step(self):
            CountingSGD.steps += 1
            super().step()

    X, Y, _ = blobs(n=50)
    model = classifier()
    train(
        model,
        X,
        Y,
        CrossEntropyLoss,
        epochs=3,
        batch_size=16,
        optimizer=CountingSGD(model.parameters(), 0.1),
        bar=False,
        seed=0,
    )
    assert CountingSGD.steps == 3 * math.ceil(50 / 16)


def full_batch_sgd_step(model, X, Y, loss_fn, lr):
    """The parameters after one plain SGD step on the whole batch, from the loss's own
    (unfused) gradient."""
    y_pred = model.forward(X)
    model.backward(loss_fn.grad(y_pred, Y))
    return [p - lr * g for p, g in model.parameters()]


@pytest.mark.parametrize(
    "head, loss_fn",
    [(Softmax, CrossEntropyLoss), (Sigmoid, MeanSquaredErrorLoss)],
    ids=["softmax head (fused)", "sigmoid head (unfused)"],
)
def test_one_full_batch_epoch_is_one_exact_gradient_step(head, loss_fn):
    """Whatever gradient path train() takes, its step equals the textbook step on the
    loss's gradient.

    (CrossEntropyLoss refuses a Sigmoid head since issue 15, so the unfused path uses
    the squared error.)
    """
    X, Y, _ = blobs(n=32)
    expected = full_batch_sgd_step(
        classifier_with_head(head, np.float64), X, Y, loss_fn, 0.1
    )
    model = classifier_with_head(head, np.float64)
    train(model, X, Y, loss_fn, 1, 32, 0.1, bar=False, seed=0)
    for (param, _), want in zip(model.parameters(), expected):
        np.testing.assert_allclose(param, want, rtol=1e-10, atol=1e-12)


def classifier_with_head(head, dtype=np.float32):
    return NeuralNetwork(
        2, 3, 8, 1, head_activation=head, hidden_activation=Tanh, seed=0, dtype=dtype
    )


def test_sgd_updates_exactly_param_minus_lr_times_grad():
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(3, 2)), rng.normal(size=(1, 2))]
    grads = [rng.normal(size=(3, 2)), rng.normal(size=(1, 2))]
    expected = [p - 0.25 * g for p, g in zip(params, grads)]
    optimizer = SGD(zip(params, grads), learning_rate=0.25)
    optimizer.step()
    for (held, _), caller_array, want in zip(optimizer.parameters, params, expected):
        assert held is caller_array  # the optimizer works on the caller's arrays...
        assert np.array_equal(
            caller_array, want
        )  # ...and changed them in place to param - lr * grad


def test_sgd_sees_gradients_written_after_it_was_created():
    model = NeuralNetwork(2, 1, 3, 1, seed=0, dtype=np.float64)
    optimizer = SGD(model.parameters(), learning_rate=0.5)
    X, y = np.ones((4, 2)), np.zeros((4, 1))
    model.backward(MeanSquaredErrorLoss.grad(model.forward(X), y))
    expected = [p - 0.5 * g for p, g in model.parameters()]
    optimizer.step()
    assert all(np.array_equal(p, e) for (p, _), e in zip(model.parameters(), expected))


@pytest.mark.parametrize(
    "learning_rate, error, got",
    [
        (0, ValueError, "got 0"),
        (-1.0, ValueError, "got -1.0"),
        (float("nan"), ValueError, "got nan"),
        (None, TypeError, "got None of type NoneType"),
        (True, TypeError, "got True of type bool"),
        ("0.1", TypeError, "got '0.1' of type str"),
    ],
)
def test_sgd_refuses_bad_learning_rates(learning_rate, error, got):
    with pytest.raises(
        error, match=f"learning_rate must be a finite number > 0, {got}"
    ):
        SGD([], learning_rate)


# --- learning rate or optimizer -------------------------------------------------------


def test_optimizer_without_learning_rate_trains_like_the_default_sgd():
    X, Y, _ = blobs()
    default, custom = classifier(), classifier()
    losses_default, _ = train(
        default, X, Y, CrossEntropyLoss, 3, 16, 0.1, bar=False, seed=0
    )
    losses_custom, _ = train(
        custom,
        X,
        Y,
        CrossEntropyLoss,
        3,
        16,
        optimizer=SGD(custom.parameters(), 0.1),
        bar=False,
        seed=0,
    )
    assert losses_default == losses_custom
    assert all(np.array_equal(a, b) for a, b in zip(weights(default), weights(custom)))


def test_learning_rate_and_optimizer_neither_or_both_are_refused():
    X, Y, _ = blobs()
    model = classifier()
    with pytest.raises(ValueError, match="pass learning_rate or optimizer, not both"):
        train(
            model,
            X,
            Y,
            CrossEntropyLoss,
            1,
            16,
            0.1,
            optimizer=SGD(model.parameters(), 0.1),
            bar=False,
        )
    with pytest.raises(ValueError, match="pass learning_rate .* or optimizer="):
        train(model, X, Y, CrossEntropyLoss, 1, 16, bar=False)
    with pytest.raises(TypeError, match=r"optimizer must have a step\(\) method"):
        train(model, X, Y, CrossEntropyLoss, 1, 16, optimizer="adam", bar=False)


def test_divergence_message_names_the_optimizers_learning_rate():
    X = np.linspace(-2, 2, 64).reshape(-1, 1)
    model = NeuralNetwork(1, 1, 16, 2, seed=0)
    with (
        np.errstate(all="ignore"),
        pytest.raises(FloatingPointError, match="learning_rate=500.0"),
    ):
        train(
            model,
            X,
            3 * X,
            MeanSquaredErrorLoss,
            10,
            16,
            optimizer=SGD(model.parameters(), 500),
            bar=False,
            seed=0,
        )


# --- on_epoch -------------------------------------------------------------------------


def test_on_epoch_gets_the_epoch_from_1_and_the_losses_so_far():
    X, Y, _ = blobs()
    calls = []
    train_losses, eval_losses = train(
        classifier(),
        X[:80],
        Y[:80],
        CrossEntropyLoss,
        4,
        16,
        0.1,
        X[80:],
        Y[80:],
        bar=False,
        seed=0,
        on_epoch=lambda *args: calls.append(args),
    )
    assert [epoch for epoch, _, _ in calls] == [1, 2, 3, 4]
    for epoch, seen_train, seen_eval in calls:
        assert seen_train == train_losses[:epoch] and seen_eval == eval_losses[:epoch]


def test_on_epoch_returning_true_stops_after_that_epoch():
    X, Y, _ = blobs()
    model, reference = classifier(), classifier()
    losses, _ = train(
        model,
        X,
        Y,
        CrossEntropyLoss,
        10,
        16,
        0.1,
        bar=False,
        seed=0,
        on_epoch=lambda epoch, *_: epoch == 3,
    )
    full, _ = train(reference, X, Y, CrossEntropyLoss, 3, 16, 0.1, bar=False, seed=0)
    assert (
        losses == full
    )  # stopped after epoch 3: same losses and weights as a 3-epoch run
    assert all(np.array_equal(a, b) for a, b in zip(weights(model), weights(reference)))


def test_on_epoch_must_be_callable():
    X, Y, _ = blobs()
    with pytest.raises(TypeError, match="on_epoch must be a function"):
        train(classifier(), X, Y, CrossEntropyLoss, 1, 16, 0.1, bar=False, on_epoch=[])


# --- early stopping -------------------------------------------------------------------


def overshooting_regression(patience, epochs=60):
    """Fit y = 2x while the held-out targets are x: the held-out loss falls, then rises
    as the fit passes them.

    Returns (losses, eval losses, model, parameter snapshots taken after every epoch,
    the parameter arrays).
    """
    X = np.linspace(-1, 1, 40).reshape(-1, 1)
    model = NeuralNetwork(1, 1, 8, 1, hidden_activation=Tanh, seed=0, dtype=np.float64)
    arrays = [p for p, _ in model.parameters()]  # the model's own arrays, kept alive
    snapshots = []
    losses, evals = train(
        model,
        X,
        2 * X,
        MeanSquaredErrorLoss,
        epochs,
        8,
        0.01,
        X_test=X,
        y_test=X,
        bar=False,
        seed=0,
        patience=patience,
        on_epoch=lambda *_: snapshots.append(weights(model)),
    )
    return losses, evals, model, snapshots, arrays


def test_patience_stops_and_restores_the_best_epochs_weights_and_biases():
    losses, evals, model, snapshots, arrays = overshooting_regression(patience=3)
    best = int(np.argmin(evals))
    assert 0 < best < len(evals) - 1, "the held-out loss must fall first and then rise"
    assert (
        len(evals) == len(losses) == best + 1 + 3 < 60
    )  # stopped 3 epochs after the best one
    assert all(evals[best] <= v for v in evals[best + 1 :])
    restored = weights(model)
    assert all(np.array_equal(a, b) for a, b in zip(restored, snapshots[best]))
    assert not all(np.array_equal(a, b) for a, b in zip(restored, snapshots[-1]))
    assert all(
        p is a for (p, _), a in zip(model.parameters(), arrays)
    )  # copied into the same arrays


def test_patience_never_triggered_still_ends_with_the_best_weights():
    losses, evals, model, snapshots, _ = overshooting_regression(
        patience=100, epochs=30
    )
    assert len(losses) == 30
    best = int(np.argmin(evals))
    assert best < 29 and all(
        np.array_equal(a, b) for a, b in zip(weights(model), snapshots[best])
    )


def test_no_patience_keeps_the_last_weights():
    losses, evals, model, snapshots, _ = overshooting_regression(
        patience=None, epochs=30
    )
    assert len(losses) == 30 and int(np.argmin(evals)) < 29
    assert all(np.array_equal(a, b) for a, b in zip(weights(model), snapshots[-1]))


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        (dict(patience=2), ValueError, "patience needs X_test and y_test"),
        (
            dict(patience=0, X_test=True),
            ValueError,
            "patience must be an integer >= 1, got 0",
        ),
        (
            dict(patience=1.5, X_test=True),
            TypeError,
            "patience must be an integer >= 1",
        ),
    ],
)
def test_bad_patience_is_refused(kwargs, error, text):
    X, Y, _ = blobs()
    if kwargs.pop("X_test", False):
        kwargs |= dict(X_test=X, y_test=Y)
    with pytest.raises(error, match=text):
        train(classifier(), X, Y, CrossEntropyLoss, 2, 16, 0.1, bar=False, **kwargs)


# --- model.training -------------------------------------------------------------------


def test_model_is_in_training_mode_only_during_the_fit():
    X, Y, _ = blobs()
    model = classifier()
    modes = []
    assert model.training is False
    train(
        model,
        X,
        Y,
        CrossEntropyLoss,
        2,
        16,
        0.1,
        bar=False,
        seed=0,
        on_epoch=lambda *_: modes.append(model.training),
    )
    assert modes == [True, True] and model.training is False


@pytest.mark.parametrize("failure", ["callback", "loss", "divergence"])
def test_training_mode_is_switched_off_when_training_fails(failure):
    X = np.linspace(-2, 2, 64).reshape(-1, 1)
    model = NeuralNetwork(1, 1, 16, 2, seed=0)

    def explode(*_):
        raise RuntimeError("boom")

    if failure == "callback":
        with pytest.raises(RuntimeError, match="boom"):
            train(
                model,
                X,
                3 * X,
                MeanSquaredErrorLoss,
                3,
                16,
                0.01,
                bar=False,
                seed=0,
                on_epoch=explode,
            )
    elif failure == "loss":

        class BrokenLoss:  # fails inside a batch, mid-epoch
            loss = staticmethod(MeanSquaredErrorLoss.loss)

            @staticmethod
            def grad(y_pred, y_true):
                assert model.training is True
                raise ZeroDivisionError("broken loss")

        with pytest.raises(ZeroDivisionError, match="broken loss"):
            train(model, X, 3 * X, BrokenLoss, 3, 16, 0.01, bar=False, seed=0)
    else:
        with np.errstate(all="ignore"), pytest.raises(FloatingPointError):
            train(model, X, 3 * X, MeanSquaredErrorLoss, 3, 16, 1e3, bar=False, seed=0)
    assert model.training is False


def test_dropout_is_active_in_training_but_not_in_the_held_out_loss():
    X, Y, _ = blobs()
    model = NeuralNetwork(2, 3, 32, 2, head_activation=Softmax, dropout=0.5, seed=0)
    plain = NeuralNetwork(2, 3, 32, 2, head_activation=Softmax, seed=0)
    losses, evals = train(
        model,
        X[:80],
        Y[:80],
        CrossEntropyLoss,
        3,
        16,
        0.1,
        X[80:],
        Y[80:],
        bar=False,
        seed=0,
    )
    plain_losses, _ = train(
        plain, X[:80], Y[:80], CrossEntropyLoss, 3, 16, 0.1, bar=False, seed=0
    )
    assert losses != plain_losses  # the masks changed the training run
    assert evals[-1] == pytest.approx(
        CrossEntropyLoss.loss(model.predict(X[80:]), Y[80:].astype(np.float32))
    )
    again = NeuralNetwork(2, 3, 32, 2, head_activation=Softmax, dropout=0.5, seed=0)
    assert (
        train(
            again,
            X[:80],
            Y[:80],
            CrossEntropyLoss,
            3,
            16,
            0.1,
            X[80:],
            Y[80:],
            bar=False,
            seed=0,
        )[0]
        == losses
    )


# --- SGD with weight decay ------------------------------------------------------------


def test_is_weight_reads_the_pairs_mark_not_the_shape():
    model = NeuralNetwork(3, 2, 4, 1, seed=0)
    assert [is_weight(pair) for pair in model.parameters()] == [
        True,
        False,
        True,
        False,
    ]
    one_input = NeuralNetwork(
        1, 1, 4, 1, seed=0
    )  # first weights (1, 4): shaped like a bias, still weights
    assert one_input.layers[0].weights.shape == (1, 4)
    assert [is_weight(pair) for pair in one_input.parameters()] == [
        True,
        False,
        True,
        False,
    ]
    assert is_weight(
        (np.zeros((1, 5)), np.zeros((1, 5)))
    )  # a plain tuple counts as a weight
    assert not is_weight(ParamPair(np.zeros((2, 5)), np.zeros((2, 5)), decay=False))


def test_weight_decay_reaches_the_one_row_weights_of_a_single_input_layer():
    model = NeuralNetwork(1, 1, 4, 1, seed=0)
    for _, grad in model.parameters():
        grad[...] = 0
    before = [param.copy() for param, _ in model.parameters()]
    SGD(model.parameters(), 0.5, weight_decay=0.1).step()
    after = [param for param, _ in model.parameters()]
    assert np.allclose(after[0], before[0] * 0.95) and np.array_equal(
        after[1], before[1]
    )


def test_weight_decay_step_follows_the_formula_for_weights_and_spares_biases():
    rng = np.random.default_rng(0)
    weight, bias = rng.normal(size=(3, 2)), rng.normal(size=(1, 2))
    grad_w, grad_b = rng.normal(size=(3, 2)), rng.normal(size=(1, 2))
    want_w = weight - 0.1 * (grad_w + 0.01 * weight)
    want_b = bias - 0.1 * grad_b
    optimizer = SGD(
        [(weight, grad_w), ParamPair(bias, grad_b, decay=False)],
        learning_rate=0.1,
        weight_decay=0.01,
    )
    optimizer.step()
    assert optimizer.parameters[0][0] is weight and optimizer.parameters[1][0] is bias
    np.testing.assert_allclose(weight, want_w, rtol=1e-15)
    assert np.array_equal(bias, want_b)


def test_weight_decay_shrinks_weights_with_zero_gradient():
    weight, bias = np.ones((2, 2)), np.ones((1, 2))
    SGD(
        [(weight, np.zeros((2, 2))), ParamPair(bias, np.zeros((1, 2)), decay=False)],
        0.5,
        weight_decay=0.1,
    ).step()
    assert np.array_equal(weight, np.full((2, 2), 0.95)) and np.array_equal(
        bias, np.ones((1, 2))
    )


@pytest.mark.parametrize(
    "weight_decay, error",
    [
        (-0.1, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        ("0.1", TypeError),
        (True, TypeError),
    ],
)
def test_sgd_refuses_bad_weight_decay(weight_decay, error):
    with pytest.raises(error, match="weight_decay must be a finite number >= 0"):
        SGD([], 0.1, weight_decay=weight_decay)


def _calls_per_run(monkeypatch, module, name, runs):
    """How often module.name runs in each train() of `runs` (epochs, batch_size) on
    one small problem; also the last model and the data."""
    calls, original = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda *args: calls.append(1) or original(*args))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    Y = one_hot(rng.integers(0, 2, 40), 2)
    counts = []
    for epochs, batch_size in runs:
        calls.clear()
        model = NeuralNetwork(3, 2, 4, 1, head_activation=Softmax, seed=0)
        train(model, X, Y, CrossEntropyLoss, epochs, batch_size, 0.1, X, Y, bar=False,
              seed=0)
        counts.append(len(calls))
    return counts, model, X, Y


def test_the_data_is_checked_once_per_call_not_per_batch(monkeypatch):
    """train() checks the targets once; its batches use the loss's plain methods, so
    the per-batch pair check (losses._check_pair) runs the same number of times for
    2 batches as for 20."""
    from nnscratch import losses

    counts, *_ = _calls_per_run(monkeypatch, losses, "_check_pair", [(1, 20), (1, 2)])
    assert counts[0] == counts[1]


def test_the_progress_bar_shows_the_mean_absolute_output_gradient(monkeypatch):
    """avg_grad, as in the seed post's bar: the mean over the epoch's batches of
    mean |dL/d output| (here the fused dL/dz = (p - y) / B); not computed without a
    bar."""
    from nnscratch import training

    shown, sizes_seen = [], []
    original_epoch = training._train_epoch

    def spy(*args):
        sizes_seen.append(args[-1])
        return original_epoch(*args)

    monkeypatch.setattr(training, "_train_epoch", spy)
    monkeypatch.setattr(training.tqdm, "set_postfix",
                        lambda self, **values: shown.append(values), raising=False)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 2)).astype(np.float32)
    Y = one_hot(rng.integers(0, 3, 12), 3)
    model = NeuralNetwork(2, 3, 4, 1, head_activation=Softmax, seed=0)
    twin = NeuralNetwork(2, 3, 4, 1, head_activation=Softmax, seed=0)
    train(model, X, Y, CrossEntropyLoss, 1, 4, 0.1, bar=True, seed=3)
    order = np.random.default_rng(3).permutation(12)
    expected, optimizer = [], SGD(twin.parameters(), 0.1)
    twin.training = True
    for start in range(0, 12, 4):
        rows = order[start:start + 4]
        p = twin.forward(X[rows])
        grad = (p - Y[rows].astype(np.float32)) / 4
        expected.append(np.abs(grad).mean())
        twin.backward(grad, grad_is_logits=True)
        optimizer.step()
    assert np.isclose(shown[-1]["avg_grad"], np.mean(expected), rtol=1e-5)
    assert len(sizes_seen[0]) == 3                        # one size per batch
    train(model, X, Y, CrossEntropyLoss, 1, 4, 0.1, bar=False, seed=3)
    assert sizes_seen[-1] is None                         # no bar: nothing computed


def test_a_users_decorated_loss_method_keeps_its_decorator_in_train():
    """train() strips only the library's own check wrappers from a loss: a user's
    decorator (functools.wraps) on a method of a loss instance stays, self included."""
    import functools

    calls = []

    def counted(method):
        @functools.wraps(method)
        def wrapper(self, y_pred, y_true):
            calls.append(1)
            return method(self, y_pred, y_true)
        return wrapper

    class MyMSE:
        @counted
        def loss(self, y_pred, y_true):
            return float(np.mean((y_pred - y_true) ** 2))

        def grad(self, y_pred, y_true):
            return 2 * (y_pred - y_true) / y_true.size

    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2)).astype(np.float32)
    y = X[:, :1] * 2
    losses, _ = train(NeuralNetwork(2, 1, 4, 1, seed=0), X, y, MyMSE(), 2, 4, 0.05,
                      bar=False, seed=0)
    assert len(losses) == 2 and len(calls) >= 4          # every batch went through it


def test_the_held_out_data_is_checked_once_per_call_not_per_epoch(monkeypatch):
    """The held-out loss of each epoch predicts without checking X_test again:
    network._check_input runs as often for 1 epoch as for 5; the held-out loss is that
    of a checked predict."""
    from nnscratch import network

    counts, model, X, Y = _calls_per_run(monkeypatch, network, "_check_input",
                                         [(1, 8), (5, 8)])
    assert counts[0] == counts[1]
    _, eval_losses = train(model, X, Y, CrossEntropyLoss, 1, 8, 0.1, X, Y, bar=False,
                           seed=0)
    assert np.isclose(eval_losses[-1], CrossEntropyLoss.loss(model.predict(X), Y))


def test_a_model_with_its_own_predict_keeps_it_in_train():
    """A Sequential subclass that defines predict() gets its own predict for the
    held-out loss inside train(), not the library's."""
    calls = []

    class Clipped(Sequential):
        def predict(self, X, batch_size=2048):
            calls.append(len(X))
            return super().predict(X, batch_size)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)).astype(np.float32)      # probes take 256 rows
    Y = one_hot(rng.integers(0, 2, 300), 2)
    model = Clipped(Layer(2, 2, seed=0), Softmax())
    train(model, X, Y, CrossEntropyLoss, 3, 100, 0.1, X, Y, bar=False, seed=0)
    assert calls.count(300) == 3                    # the held-out loss of each epoch
