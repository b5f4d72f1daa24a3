"""nnscratch.sklearn (book/13_hyperparameter_search.ipynb).

scikit-learn's own estimator checks, quality against MLPClassifier/MLPRegressor, labels,
pandas, partial_fit, pickling and errors.
"""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_friedman1
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from nnscratch.layers import Dropout, Layer
from nnscratch.network import Sequential
from nnscratch.sklearn import NeuralNetworkClassifier, NeuralNetworkRegressor


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """Small matrices: one BLAS thread is faster, and much faster on a busy machine."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# --- scikit-learn's own checks, none expected to fail ---------------------------------


@parametrize_with_checks([NeuralNetworkClassifier(), NeuralNetworkRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# --- default settings against scikit-learn's MLP --------------------------------------


def _scores(make_ours, make_theirs, X, y, stratify):
    """Held-out scores of both estimators on splits 0 and 1 (mean of each)."""
    ours, theirs = [], []
    for split in (0, 1):
        data = train_test_split(
            X, y, test_size=0.25, random_state=split, stratify=y if stratify else None
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLP: "maximum iterations reached"
            for scores, make in ((ours, make_ours), (theirs, make_theirs)):
                model = make(split).fit(data[0], data[2])
                scores.append(model.score(data[1], data[3]))
    return np.mean(ours), np.mean(theirs)


def test_classifier_defaults_match_or_beat_mlp_on_digits():
    X, y = load_digits(return_X_y=True)
    ours, theirs = _scores(
        lambda s: NeuralNetworkClassifier(random_state=s),
        lambda s: MLPClassifier(random_state=s),
        X,
        y,
        stratify=True,
    )
    assert ours >= theirs and ours > 0.97


def test_regressor_defaults_match_or_beat_mlp_on_friedman1():
    X, y = make_friedman1(n_samples=1000, noise=1.0, random_state=0)
    ours, theirs = _scores(
        lambda s: make_pipeline(
            StandardScaler(), NeuralNetworkRegressor(random_state=s)
        ),
        lambda s: make_pipeline(StandardScaler(), MLPRegressor(random_state=s)),
        X,
        y,
        stratify=False,
    )
    assert ours >= theirs and ours > 0.9


# --- labels, pandas, architecture -----------------------------------------------------


@pytest.fixture(scope="module")
def blobs():
    """Three well separated classes in 4 dimensions, 150 rows."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4, size=(3, 4))
    y = np.repeat(np.arange(3), 50)
    return centres[y] + rng.normal(size=(150, 4)), y


def test_string_labels_come_back_as_strings(blobs):
    X, y = blobs
    names = np.array(["cat", "ant", "bee"])[y]
    clf = NeuralNetworkClassifier(random_state=0).fit(X, names)
    assert list(clf.classes_) == ["ant", "bee", "cat"]
    assert clf.predict(X).dtype == names.dtype and clf.score(X, names) > 0.95
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))


def test_binary_problem_uses_a_two_way_softmax(blobs):
    X, y = blobs
    keep = y < 2
    clf = NeuralNetworkClassifier(random_state=0).fit(
        X[keep], y[keep] * 5 - 1
    )  # -1 and 4
    assert list(clf.classes_) == [-1, 4] and clf.predict_proba(X[:3]).shape == (3, 2)
    assert clf.network_.layers[-2].weights.shape[1] == 2


def test_dataframe_input_records_feature_names_and_predicts_as_the_array(blobs):
    X, y = blobs
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    from_frame = NeuralNetworkClassifier(random_state=1).fit(frame, pd.Series(y))
    from_array = NeuralNetworkClassifier(random_state=1).fit(X, y)
    assert list(from_frame.feature_names_in_) == ["a", "b", "c", "d"]
    assert from_frame.n_features_in_ == 4 and not hasattr(
        from_array, "feature_names_in_"
    )
    assert np.array_equal(from_frame.predict_proba(frame), from_array.predict_proba(X))


def test_several_hidden_widths_build_a_sequential_of_library_layers(blobs):
    X, y = blobs
    clf = NeuralNetworkClassifier(
        (16, 8), activation="tanh", dropout=0.1, init="xavier", random_state=0
    ).fit(X, y)
    net = clf.network_
    assert isinstance(net, Sequential)
    shapes = [layer.weights.shape for layer in net.layers if isinstance(layer, Layer)]
    assert shapes == [(4, 16), (16, 8), (8, 3)]
    assert sum(isinstance(layer, Dropout) for layer in net.layers) == 2
    assert all(
        layer.weights.dtype == np.float64
        for layer in net.layers
        if isinstance(layer, Layer)
    )
    assert clf.score(X, y) > 0.95


def test_hidden_layer_sizes_may_be_an_int_a_list_or_an_array(blobs):
    X, y = blobs
    for sizes, widths in ((5, [5]), ([6, 3], [6, 3]), (np.array([4, 2]), [4, 2])):
        net = NeuralNetworkClassifier(sizes, max_iter=2).fit(X, y).network_
        layers = [layer for layer in net.layers if isinstance(layer, Layer)]
        assert [layer.weights.shape[1] for layer in layers[:-1]] == widths


def test_no_hidden_layer_is_softmax_regression(blobs):
    X, y = blobs
    clf = NeuralNetworkClassifier(hidden_layer_sizes=(), random_state=0).fit(X, y)
    assert [type(layer).__name__ for layer in clf.network_.layers] == [
        "Layer",
        "Softmax",
    ]
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "momentum"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_every_optimizer_and_activation_learns(blobs, optimizer, activation):
    X, y = blobs
    rate = {"adam": 0.01, "sgd": 0.1, "momentum": 0.05}[optimizer]
    clf = NeuralNetworkClassifier(
        (16,),
        activation=activation,
        optimizer=optimizer,
        learning_rate_init=rate,
        alpha=1e-3,
        max_iter=100,
        random_state=0,
    ).fit(X, y)
    assert clf.score(X, y) > 0.9


def test_alpha_shrinks_the_weights(blobs):
    X, y = blobs
    norms = [
        np.linalg.norm(
            NeuralNetworkClassifier(
                (16,),
                optimizer=name,
                alpha=alpha,
                learning_rate_init=0.01,
                max_iter=50,
                random_state=0,
            )
            .fit(X, y)
            .network_.layers[0]
            .weights
        )
        for name in ("adam", "momentum")
        for alpha in (0.0, 3.0)
    ]
    assert norms[1] < 0.8 * norms[0] and norms[3] < 0.8 * norms[2]


# --- training: reproducibility, stopping, partial_fit, pickling -----------------------


def test_random_state_gives_identical_models_and_different_seeds_differ(blobs):
    X, y = blobs
    a, b, c = (
        NeuralNetworkClassifier((8,), dropout=0.2, random_state=s).fit(X, y)
        for s in (3, 3, 4)
    )
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))
    rs = [
        NeuralNetworkClassifier((8,), random_state=np.random.RandomState(5)).fit(X, y)
        for _ in range(2)
    ]
    assert np.array_equal(rs[0].predict_proba(X), rs[1].predict_proba(X))


def test_input_is_not_modified_and_sample_order_does_not_matter_for_predict(blobs):
    X, y = blobs
    X_copy, y_copy = X.copy(), y.copy()
    clf = NeuralNetworkClassifier(random_state=0).fit(X, y)
    assert np.array_equal(X, X_copy) and np.array_equal(y, y_copy)
    order = np.random.default_rng(0).permutation(len(X))
    assert np.allclose(
        clf.predict_proba(X)[order], clf.predict_proba(X[order]), atol=1e-12
    )


def test_plateau_stops_before_max_iter_and_records_the_losses(blobs):
    X, y = blobs
    clf = NeuralNetworkClassifier(
        random_state=0, tol=1e-2, n_iter_no_change=3, max_iter=500
    ).fit(X, y)
    assert clf.n_iter_ < 500 and len(clf.loss_curve_) == clf.n_iter_
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_early_stopping_holds_out_a_validation_set_and_keeps_the_best_weights():
    X, y = load_digits(return_X_y=True)
    clf = NeuralNetworkClassifier(
        (64,),
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=3,
        learning_rate_init=0.01,
        alpha=0.0,
        max_iter=200,
        random_state=0,
    ).fit(X, y)
    val = clf.validation_loss_curve_
    assert clf.n_iter_ == len(val) < 200 and int(np.argmin(val)) == len(val) - 1 - 3
    assert clf.score(X, y) > 0.95


def test_early_stopping_that_cannot_split_says_so():
    X, y = np.arange(6.0).reshape(3, 2), np.array([0, 1, 2])
    with pytest.raises(ValueError, match="early_stopping=True could not hold out"):
        NeuralNetworkClassifier(early_stopping=True).fit(X, y)


def test_partial_fit_continues_exactly_like_fit(blobs):
    X, y = blobs
    fitted = NeuralNetworkClassifier(
        (8,), dropout=0.1, max_iter=3, tol=0.0, random_state=2
    ).fit(X, y)
    step = NeuralNetworkClassifier((8,), dropout=0.1, random_state=2)
    for _ in range(3):
        step.partial_fit(X, y, classes=np.arange(3))
    assert step.n_iter_ == 3 and fitted.n_iter_ == 3
    assert np.array_equal(fitted.predict_proba(X), step.predict_proba(X))


def test_regressor_partial_fit_continues_exactly_like_fit():
    X, y = make_friedman1(n_samples=200, random_state=0)
    fitted = NeuralNetworkRegressor((8,), max_iter=4, tol=0.0, random_state=1).fit(X, y)
    step = NeuralNetworkRegressor((8,), random_state=1)
    for _ in range(4):
        step.partial_fit(X, y)
    assert np.array_equal(fitted.predict(X), step.predict(X))


def test_partial_fit_needs_classes_first_and_refuses_new_labels(blobs):
    X, y = blobs
    clf = NeuralNetworkClassifier()
    with pytest.raises(ValueError, match="classes must be given on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # class 2 not yet seen: fine
    assert list(clf.classes_) == [0, 1, 2]
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="differs from the first call"):
        clf.partial_fit(X, y, classes=[0, 1])


def test_pickled_estimator_predicts_and_keeps_training_identically(blobs):
    X, y = blobs
    for optimizer in ("adam", "momentum"):
        clf = NeuralNetworkClassifier(
            (8,),
            optimizer=optimizer,
            learning_rate_init=0.01,
            max_iter=5,
            random_state=0,
        ).fit(X, y)
        copy = pickle.loads(pickle.dumps(clf))
        assert np.array_equal(copy.predict_proba(X), clf.predict_proba(X))
        clf.partial_fit(X, y)
        copy.partial_fit(X, y)
        assert np.array_equal(copy.predict_proba(X), clf.predict_proba(X))


def test_clone_gives_an_unfitted_estimator_with_the_same_parameters(blobs):
    X, y = blobs
    clf = NeuralNetworkClassifier((8, 4), dropout=0.3, optimizer="sgd").fit(X, y)
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "network_")


# --- regression -----------------------------------------------------------------------


def test_regressor_predicts_in_the_units_of_y():
    X, y = make_friedman1(n_samples=400, noise=0.5, random_state=0)
    X = StandardScaler().fit_transform(X)
    small = NeuralNetworkRegressor(random_state=0).fit(X, y)
    large = NeuralNetworkRegressor(random_state=0).fit(X, 1000 * y + 5)
    assert np.allclose(large.predict(X), 1000 * small.predict(X) + 5, rtol=1e-6)
    assert small.score(X, y) > 0.9


def test_regressor_with_several_targets_and_a_constant_one():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Y = np.column_stack([X[:, 0] - 2 * X[:, 1], np.full(200, 7.0)])
    reg = NeuralNetworkRegressor(random_state=0).fit(X, Y)
    pred = reg.predict(X)
    assert reg.n_outputs_ == 2 and pred.shape == (200, 2)
    assert np.allclose(pred[:, 1], 7.0, atol=0.2)
    assert r2_score(Y[:, 0], pred[:, 0]) > 0.95
    assert reg.fit(X, Y[:, 0]).predict(X).shape == (200,)
    one_column = NeuralNetworkRegressor(random_state=0).fit(X, Y[:, :1])
    assert one_column.predict(X).shape == (200,)


def test_regressor_partial_fit_refuses_a_different_number_of_targets():
    X = np.random.default_rng(0).normal(size=(20, 3))
    reg = NeuralNetworkRegressor().partial_fit(X, X[:, 0])
    with pytest.raises(ValueError, match=r"y must have 1 column\(s\) as before"):
        reg.partial_fit(X, X[:, :2])


# --- errors that name the argument ----------------------------------------------------


@pytest.mark.parametrize(
    "params, error, message",
    [
        (
            {"hidden_layer_sizes": (10, 0)},
            ValueError,
            r"hidden_layer_sizes\[1\] must be an integer >= 1",
        ),
        (
            {"hidden_layer_sizes": "100"},
            TypeError,
            "hidden_layer_sizes must be a tuple",
        ),
        (
            {"hidden_layer_sizes": (10.5,)},
            TypeError,
            r"hidden_layer_sizes\[0\] must be an integer",
        ),
        (
            {"activation": "softplus"},
            ValueError,
            "activation must be one of 'relu', 'tanh'",
        ),
        (
            {"optimizer": "rmsprop"},
            ValueError,
            "optimizer must be one of 'adam', 'sgd', 'momentum'",
        ),
        ({"init": "glorot"}, ValueError, "init must be one of 'lecun', 'xavier', 'he'"),
        ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1"),
        ({"batch_size": "big"}, TypeError, "batch_size must be 'auto' or an integer"),
        (
            {"learning_rate_init": 0.0},
            ValueError,
            "learning_rate_init must be a finite number > 0",
        ),
        (
            {"alpha": 0.5, "learning_rate_init": 2.0},
            ValueError,
            r"alpha=0.5 with learning_rate_init=2.0: each step would multiply",
        ),
        ({"max_iter": 0}, ValueError, "max_iter must be an integer >= 1"),
        ({"max_iter": 2.5}, TypeError, "max_iter must be an integer"),
        ({"alpha": -1.0}, ValueError, "alpha must be a finite number >= 0"),
        ({"tol": float("nan")}, ValueError, "tol must be a finite number >= 0"),
        (
            {"n_iter_no_change": 0},
            ValueError,
            "n_iter_no_change must be an integer >= 1",
        ),
        ({"dropout": 1.0}, ValueError, r"dropout must be a number in \[0, 1\)"),
        ({"early_stopping": "yes"}, TypeError, "early_stopping must be True or False"),
        (
            {"validation_fraction": 0.0},
            ValueError,
            r"validation_fraction must be a number in \(0, 1\)",
        ),
        (
            {"validation_fraction": 1.0},
            ValueError,
            "validation_fraction must be a number in",
        ),
        ({"random_state": -1}, ValueError, "random_state must be an integer >= 0"),
        ({"random_state": "seed"}, TypeError, "random_state must be None, an integer"),
    ],
)
@pytest.mark.parametrize("cls", [NeuralNetworkClassifier, NeuralNetworkRegressor])
def test_bad_hyperparameters_fail_in_fit_naming_the_argument(
    blobs, cls, params, error, message
):
    X, y = blobs
    estimator = cls(**params)  # the constructor only stores (scikit-learn rule)
    with pytest.raises(error, match=message):
        estimator.fit(X, y)


def test_classifier_errors_for_one_class_and_continuous_labels(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="needs at least 2 classes in y, got 1 class"):
        NeuralNetworkClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        NeuralNetworkClassifier().fit(X, X[:, 0])


def test_bad_data_is_refused_by_scikit_learn_validation(blobs):
    X, y = blobs
    clf = NeuralNetworkClassifier(max_iter=2).fit(X, y)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        NeuralNetworkClassifier().fit(bad, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict(bad)
    with pytest.raises(
        ValueError,
        match="X has 3 features, but NeuralNetworkClassifier is expecting 4 features",
    ):
        clf.predict(X[:, :3])


def test_a_missing_scikit_learn_names_the_pip_line():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "try:\n    import nnscratch.sklearn\n"
        "except ImportError as error:\n    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert 'pip install "nnscratch[sklearn]"' in result.stdout
