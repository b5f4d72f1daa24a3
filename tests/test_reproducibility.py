"""The reproducibility contract (book/18_checks_and_seeds): same seed -> bit-identical
run; the global NumPy random state is never read nor changed."""

import numpy as np
import pytest

from nnscratch import (
    CrossEntropyLoss,
    Layer,
    MeanSquaredErrorLoss,
    NeuralNetwork,
    Relu,
    Softmax,
    Tanh,
    accuracy,
    train,
)


def data(n=60, classes=3, features=4, seed=100):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    return X, np.eye(classes)[rng.integers(0, classes, n)]


def run(
    model_seed=None,
    train_seed=None,
    model_rng=None,
    train_rng=None,
    dtype=np.float32,
    epochs=4,
):
    """Build and train a small classifier; return (train losses, eval losses,
    weights)."""
    X, y = data()
    model = NeuralNetwork(
        4, 3, 8, 2, head_activation=Softmax, seed=model_seed, rng=model_rng, dtype=dtype
    )
    losses = train(
        model,
        X[:45],
        y[:45],
        loss_fn=CrossEntropyLoss,
        epochs=epochs,
        batch_size=7,
        learning_rate=0.2,
        X_test=X[45:],
        y_test=y[45:],
        bar=False,
        seed=train_seed,
        rng=train_rng,
    )
    return losses, [p.copy() for p, _ in model.parameters()]


def same_arrays(a, b):
    return len(a) == len(b) and all(
        x.dtype == y.dtype and x.tobytes() == y.tobytes() for x, y in zip(a, b)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_seed_gives_bit_identical_runs(dtype):
    (train_a, eval_a), weights_a = run(1, 2, dtype=dtype)
    (train_b, eval_b), weights_b = run(1, 2, dtype=dtype)
    assert train_a == train_b and eval_a == eval_b  # float ==: every bit
    assert same_arrays(weights_a, weights_b)


def test_rng_is_equivalent_to_seed():
    seeded = run(model_seed=1, train_seed=2)
    generated = run(
        model_rng=np.random.default_rng(1), train_rng=np.random.default_rng(2)
    )
    assert seeded[0] == generated[0] and same_arrays(seeded[1], generated[1])
    with pytest.raises(ValueError, match="pass either rng= or seed=, not both"):
        run(train_seed=1, train_rng=np.random.default_rng(1))


def test_initial_weights_depend_only_on_the_seed():
    a = NeuralNetwork(4, 3, 8, 2, seed=5)
    b = NeuralNetwork(4, 3, 8, 2, rng=np.random.default_rng(5))
    assert same_arrays([p for p, _ in a.parameters()], [p for p, _ in b.parameters()])
    layer_a, layer_b = Layer(3, 2, seed=5), Layer(3, 2, rng=np.random.default_rng(5))
    assert layer_a.weights.tobytes() == layer_b.weights.tobytes()
    with pytest.raises(ValueError, match="pass either rng= or seed=, not both"):
        NeuralNetwork(4, 3, 8, 2, seed=1, rng=np.random.default_rng(1))


@pytest.mark.parametrize("change", ["model", "train"])
def test_different_seed_gives_different_numbers(change):
    base = run(1, 2)
    other = run(10, 2) if change == "model" else run(1, 20)
    assert base[0][0] != other[0][0]
    assert not same_arrays(base[1], other[1])


def test_different_seeds_give_different_initial_weights():
    a, b = NeuralNetwork(4, 3, 8, 2, seed=0), NeuralNetwork(4, 3, 8, 2, seed=1)
    assert not np.array_equal(a.layers[0].weights, b.layers[0].weights)


def test_no_seed_draws_fresh_entropy_not_the_global_state():
    """Without a seed each run differs, yet the global state is not used for that
    either."""
    np.random.seed(123)
    a = NeuralNetwork(4, 3, 8, 2).layers[0].weights
    np.random.seed(123)
    b = NeuralNetwork(4, 3, 8, 2).layers[0].weights
    assert not np.array_equal(a, b)


def test_global_random_state_is_never_touched(tmp_path):
    np.random.seed(123)
    state = np.random.get_state()
    # what the global state draws next
    expected_next = np.random.RandomState(123).random_sample(3)

    X, y = data()
    X_reg, y_reg = X, X[:, :1] * 2 - 1
    for seed in (0, None):  # seeded and unseeded paths
        clf = NeuralNetwork(4, 3, 8, 2, head_activation=Softmax, dropout=0.2, seed=seed)
        train(
            clf,
            X,
            y,
            loss_fn=CrossEntropyLoss,
            epochs=2,
            batch_size=16,
            learning_rate=0.1,
            bar=False,
            seed=seed,
        )
        reg = NeuralNetwork(
            4, 1, 8, 1, hidden_activation=Tanh(), dtype=np.float64, seed=seed
        )
        train(
            reg,
            X_reg,
            y_reg,
            MeanSquaredErrorLoss,
            2,
            5,
            0.05,
            X_reg,
            y_reg,
            False,
            seed=seed,
        )
        clf.predict(X), accuracy(clf, X, y), reg.predict(X)
        layer = Layer(4, 2, Relu, seed=seed)
        layer.forward(np.ones((3, 4), np.float32))
        layer.backward(np.ones((3, 2), np.float32))
        loaded = NeuralNetwork.load(clf.save(tmp_path / f"clf{seed}"))
        loaded.predict(X)

    after = np.random.get_state()
    assert (
        after[0] == state[0]
        and np.array_equal(after[1], state[1])
        and after[2:] == state[2:]
    )
    assert np.array_equal(np.random.random_sample(3), expected_next)


def test_predict_is_deterministic():
    X, _ = data()
    model = NeuralNetwork(4, 3, 8, 2, head_activation=Softmax, seed=0)
    assert model.predict(X).tobytes() == model.predict(X).tobytes()
    # a row's prediction does not depend on the other rows of the batch (up to rounding
    # of BLAS kernels)
    np.testing.assert_allclose(model.predict(X[:1]), model.predict(X)[:1], rtol=1e-6)


def test_training_does_not_modify_the_callers_data():
    X, y = data()
    X64, y64 = X.copy(), y.copy()
    model = NeuralNetwork(4, 3, 8, 1, head_activation=Softmax, seed=0, dtype=np.float64)
    train(model, X, y, CrossEntropyLoss, 2, 8, 0.1, bar=False, seed=0)
    assert np.array_equal(X, X64) and np.array_equal(y, y64)


def test_a_shared_generator_is_a_different_but_reproducible_recipe():
    """One Generator for both construction and training continues its stream: another
    recipe than seed=, reproducible too."""

    def shared_run():
        rng = np.random.default_rng(1)
        return run(model_rng=rng, train_rng=rng)

    assert shared_run()[0] == shared_run()[0]
    assert shared_run()[0][0] != run(1, 1)[0][0]


def test_importing_nnscratch_leaves_the_global_state_alone():
    """In a fresh interpreter: seed the global state, import everything, and the next
    draw is unchanged."""
    import subprocess
    import sys

    code = (
        "import numpy as np; np.random.seed(7); import nnscratch, "
        "nnscratch.serialization; "
        "print(np.random.random_sample() == np.random.RandomState(7).random_sample())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "True", result.stderr


def test_dropout_runs_are_bit_identical_and_depend_on_the_seed():
    X, y = data()

    def dropout_run(seed):
        model = NeuralNetwork(
            4, 3, 16, 2, head_activation=Softmax, dropout=0.3, seed=seed
        )
        losses, _ = train(
            model, X, y, CrossEntropyLoss, 3, 8, 0.1, bar=False, seed=seed
        )
        return losses, [p.copy() for p, _ in model.parameters()]

    (losses_a, weights_a), (losses_b, weights_b), (losses_c, _) = (
        dropout_run(1),
        dropout_run(1),
        dropout_run(2),
    )
    assert losses_a == losses_b and same_arrays(weights_a, weights_b)
    assert losses_a != losses_c
