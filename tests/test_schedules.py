"""Learning rate schedules and the learning rate range test (chapter 10)."""

import numpy as np
import pytest

from nnscratch import (
    SGD,
    CrossEntropyLoss,
    MeanSquaredErrorLoss,
    NeuralNetwork,
    Softmax,
    one_hot,
    train,
)
from nnscratch.optim import Adam, Momentum
from nnscratch.schedules import CosineSchedule, StepDecay, lr_range_test, smooth_losses


def pairs():
    return [(np.zeros((2, 2)), np.zeros((2, 2)))]


def rates_per_epoch(schedule, optimizer, epochs):
    """The rate each epoch 1..epochs runs at, calling the schedule after each epoch as
    train() does."""
    rates = []
    for epoch in range(1, epochs + 1):
        rates.append(optimizer.learning_rate)
        # None: training goes on
        assert schedule(epoch, [1.0] * epoch, []) is None
    return rates


# ---------------------------------------------------------------- StepDecay


def test_step_decay_rates():
    opt = SGD(pairs(), 0.2)
    rates = rates_per_epoch(StepDecay(opt, step_size=3, gamma=0.1), opt, 7)
    np.testing.assert_allclose(rates, [0.2, 0.2, 0.2, 0.02, 0.02, 0.02, 0.002])


def test_step_decay_base_is_the_rate_when_built():
    opt = Momentum(pairs(), 0.5)
    schedule = StepDecay(opt, step_size=1, gamma=0.5)
    schedule(1, [], [])
    # calling twice for the same epoch does not compound
    schedule(1, [], [])
    assert opt.learning_rate == 0.25


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"step_size": 0}, ValueError, "step_size"),
        ({"step_size": 1.5}, TypeError, "step_size"),
        ({"step_size": 2, "gamma": 0}, ValueError, "gamma"),
        ({"step_size": 2, "gamma": 1.5}, ValueError, "gamma"),
        ({"step_size": 2, "gamma": "0.1"}, TypeError, "gamma"),
        ({"step_size": 2, "gamma": float("nan")}, ValueError, "gamma"),
    ],
)
def test_step_decay_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        StepDecay(SGD(pairs(), 0.1), **kwargs)


# ---------------------------------------------------------------- CosineSchedule


def test_cosine_rates():
    opt = Adam(pairs(), learning_rate=0.01)
    rates = rates_per_epoch(CosineSchedule(opt, epochs=5, min_lr=0.001), opt, 7)
    expected = [
        0.001 + 0.009 * (1 + np.cos(np.pi * min(e, 5) / 5)) / 2 for e in range(7)
    ]
    np.testing.assert_allclose(rates, expected)
    assert (
        rates[0] == 0.01
        and np.isclose(rates[-1], 0.001)
        and np.all(np.diff(rates[:6]) < 0)
    )


def test_cosine_halfway_is_the_mean():
    opt = SGD(pairs(), 0.1)
    schedule = CosineSchedule(opt, epochs=4)
    schedule(2, [], [])
    assert np.isclose(opt.learning_rate, 0.05)
    schedule(4, [], [])
    assert opt.learning_rate == 0.0


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 2.0}, TypeError, "epochs"),
        ({"epochs": 3, "min_lr": -0.01}, ValueError, "min_lr"),
        ({"epochs": 3, "min_lr": 0.1}, ValueError, "min_lr"),
        ({"epochs": 3, "min_lr": "0"}, TypeError, "min_lr"),
        ({"epochs": 3, "min_lr": float("nan")}, ValueError, "min_lr"),
    ],
)
def test_cosine_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        CosineSchedule(SGD(pairs(), 0.1), **kwargs)


@pytest.mark.parametrize(
    "make", [lambda o: StepDecay(o, 1), lambda o: CosineSchedule(o, 3)]
)
def test_schedule_needs_an_optimizer_with_a_learning_rate(make):
    with pytest.raises(TypeError, match="learning_rate"):
        make(object())


class RecordingSGD(SGD):
    """SGD that records the learning rate of every step."""

    def step(self):
        self.seen = getattr(self, "seen", []) + [self.learning_rate]
        super().step()


def classification_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    return X, one_hot((X[:, 0] + X[:, 1] > 0).astype(np.int64), 2)


def test_schedule_drives_train_epoch_by_epoch():
    X, y = classification_data()
    model = NeuralNetwork(4, 2, 8, 1, head_activation=Softmax, seed=0)
    opt = RecordingSGD(model.parameters(), 0.1)
    train(
        model,
        X,
        y,
        CrossEntropyLoss,
        epochs=4,
        batch_size=20,
        optimizer=opt,
        on_epoch=StepDecay(opt, 2, 0.5),
        bar=False,
        seed=0,
    )
    # 60 rows / 20 = 3 steps per epoch
    per_epoch = np.array(opt.seen).reshape(4, 3)
    np.testing.assert_allclose(
        per_epoch, [[0.1] * 3, [0.1] * 3, [0.05] * 3, [0.05] * 3]
    )


# ---------------------------------------------------------------- smoothing and the
# range test


def test_smooth_losses():
    np.testing.assert_allclose(smooth_losses([3.0, 3.0, 3.0, 3.0]), 3.0)
    # by hand, beta = 0.5: averages 0.5, 1.25 -> corrected 1, 1.25 / 0.75
    np.testing.assert_allclose(smooth_losses([1.0, 2.0], beta=0.5), [1.0, 1.25 / 0.75])


def finder_setup(seed=0):
    X, y = classification_data(200, seed)
    model = NeuralNetwork(4, 2, 8, 1, head_activation=Softmax, seed=seed)
    return model, X, y


def test_range_test_restores_weights_and_rate_and_returns_rising_rates():
    model, X, y = finder_setup()
    before = [param.copy() for param, _ in model.parameters()]
    arrays = [param for param, _ in model.parameters()]
    opt = Momentum(model.parameters(), 0.03)
    lrs, losses = lr_range_test(
        model,
        X,
        y,
        CrossEntropyLoss,
        opt,
        start=1e-4,
        stop=1e-2,
        steps=30,
        batch_size=16,
        seed=1,
    )
    # no explosion at such small rates
    assert len(lrs) == len(losses) == 30
    np.testing.assert_allclose(lrs, np.geomspace(1e-4, 1e-2, 30))
    assert np.all(np.diff(lrs) > 0) and np.all(np.isfinite(losses))
    assert all(np.array_equal(b, a) for b, a in zip(before, arrays))
    # restored in place
    assert all(a is p for a, (p, _) in zip(arrays, model.parameters()))
    assert opt.learning_rate == 0.03


def test_range_test_changes_the_model_while_it_runs():
    # restoring must undo something: the test's steps do move the weights
    model, X, y = finder_setup()
    moved = []

    class Watching(SGD):
        def step(self):
            super().step()
            moved.append(not np.array_equal(self.parameters[0][0], start_weights))
            modes.append(model.training)

    start_weights, modes = model.parameters()[0][0].copy(), []
    lr_range_test(
        model,
        X,
        y,
        CrossEntropyLoss,
        Watching(model.parameters(), 0.1),
        steps=5,
        seed=0,
    )
    assert any(moved) and np.array_equal(model.parameters()[0][0], start_weights)
    # training mode only while it runs
    assert all(modes) and len(modes) == 5 and model.training is False


def test_range_test_stops_when_the_loss_explodes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3)).astype(np.float32)
    y = (X @ np.array([[1.0], [-2.0], [0.5]])).astype(np.float32)
    model = NeuralNetwork(3, 1, 8, 1, seed=0)
    before = [param.copy() for param, _ in model.parameters()]
    lrs, losses = lr_range_test(
        model,
        X,
        y,
        MeanSquaredErrorLoss,
        SGD(model.parameters(), 0.01),
        start=1e-3,
        stop=1e3,
        steps=100,
        seed=0,
    )
    assert 2 < len(lrs) < 100 and lrs[-1] < 1e3
    smoothed = smooth_losses(losses)
    # stopped by the 4x rule, before NaN
    assert np.all(np.isfinite(losses)) and smoothed[-1] > 4 * smoothed.min()
    # ...and not earlier
    assert np.all(smoothed[:-1] <= 4 * np.minimum.accumulate(smoothed)[:-1])
    assert all(
        np.array_equal(b, param) for b, (param, _) in zip(before, model.parameters())
    )


def test_range_test_restores_weights_after_an_error():
    model, X, y = finder_setup()
    before = [param.copy() for param, _ in model.parameters()]

    class Failing(SGD):
        calls = 0

        def step(self):
            super().step()
            Failing.calls += 1
            if Failing.calls == 3:
                raise KeyboardInterrupt

    opt = Failing(model.parameters(), 0.5)
    with pytest.raises(KeyboardInterrupt):
        lr_range_test(model, X, y, CrossEntropyLoss, opt, seed=0)
    assert all(
        np.array_equal(b, param) for b, (param, _) in zip(before, model.parameters())
    )
    assert opt.learning_rate == 0.5


def test_range_test_is_reproducible_and_leaves_global_state_alone():
    state = np.random.get_state()[1].copy()
    results = []
    for _ in range(2):
        model, X, y = finder_setup()
        results.append(
            lr_range_test(
                model,
                X,
                y,
                CrossEntropyLoss,
                SGD(model.parameters(), 0.1),
                steps=20,
                seed=7,
            )
        )
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert np.array_equal(state, np.random.get_state()[1])
    model, X, y = finder_setup()
    other = lr_range_test(
        model, X, y, CrossEntropyLoss, SGD(model.parameters(), 0.1), steps=20, seed=8
    )
    # the seed picks the batches
    assert not np.array_equal(other[1], results[0][1])


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"start": 0}, ValueError, "start"),
        ({"stop": -1}, ValueError, "stop"),
        ({"start": 1.0, "stop": 0.1}, ValueError, "stop must be larger than start"),
        ({"steps": 1}, ValueError, "steps"),
        ({"steps": 10.0}, TypeError, "steps"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"seed": 0, "rng": np.random.default_rng(0)}, ValueError, "rng"),
    ],
)
def test_range_test_bad_arguments(kwargs, error, name):
    model, X, y = finder_setup()
    with pytest.raises(error, match=name):
        lr_range_test(
            model, X, y, CrossEntropyLoss, SGD(model.parameters(), 0.1), **kwargs
        )


def test_range_test_checks_the_data():
    model, X, y = finder_setup()
    with pytest.raises(ValueError, match="X"):
        lr_range_test(
            model, X[:, :3], y, CrossEntropyLoss, SGD(model.parameters(), 0.1), seed=0
        )
    with pytest.raises(ValueError, match="y"):
        lr_range_test(
            model,
            X,
            y.argmax(axis=1),
            CrossEntropyLoss,
            SGD(model.parameters(), 0.1),
            seed=0,
        )
