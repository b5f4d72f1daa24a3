"""nnscratch.metrics.confusion_matrix and most_confused (book/08_mnist)."""

import numpy as np
import pytest

from nnscratch import accuracy, confusion_matrix, most_confused, one_hot


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 2, 1, 2, 1, 2]), 3)
    np.testing.assert_array_equal(cm, [[1, 0, 1], [0, 1, 0], [0, 1, 2]])
    assert cm.dtype == np.int64


def test_confusion_matrix_matches_scikit_learn_and_accuracy():
    sk_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    y_true, y_pred = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    cm = confusion_matrix(y_true, y_pred, 7)
    np.testing.assert_array_equal(
        cm, sk_metrics.confusion_matrix(y_true, y_pred, labels=range(7))
    )
    assert cm.sum() == 500 and np.isclose(
        np.trace(cm) / cm.sum(), np.mean(y_true == y_pred)
    )


def test_classes_that_never_occur_keep_their_row_and_column():
    cm = confusion_matrix(np.array([0]), np.array([0]), 4)
    assert cm.shape == (4, 4) and cm.sum() == 1 and cm[0, 0] == 1


def test_small_integer_dtypes_do_not_overflow():
    # 2 * 200 + 2 would overflow uint8
    y = np.full(300, 2, dtype=np.uint8)
    cm = confusion_matrix(y, y, 200)
    assert cm[2, 2] == 300 and cm.sum() == 300


@pytest.mark.parametrize(
    "y_true, y_pred, num_classes, error, message",
    [
        (np.array([0, 1]), np.array([0, 1, 1]), 2, ValueError, "same length"),
        (
            np.array([0, 3]),
            np.array([0, 1]),
            3,
            ValueError,
            "y_true must hold integer labels 0..2",
        ),
        (
            np.array([0, 1]),
            np.array([0, -1]),
            3,
            ValueError,
            "y_pred must hold integer labels",
        ),
        (
            np.array([0.0, 1.0]),
            np.array([0, 1]),
            2,
            ValueError,
            "y_true must hold integer labels",
        ),
        (
            np.array([0, 1]),
            np.array([0.0, 1.0]),
            2,
            ValueError,
            "y_pred must hold integer labels",
        ),
        ([0, 1], np.array([0, 1]), 2, ValueError, "got list"),
        (np.array([[0, 1]]), np.array([0, 1]), 2, ValueError, "y_true"),
        (
            np.array([0, 1]),
            np.array([0, 1]),
            0,
            ValueError,
            "num_classes must be an integer >= 1",
        ),
        (
            np.array([0, 1]),
            np.array([0, 1]),
            2.0,
            TypeError,
            "num_classes must be an integer",
        ),
    ],
)
def test_confusion_matrix_rejects_bad_input(
    y_true, y_pred, num_classes, error, message
):
    with pytest.raises(error, match=message):
        confusion_matrix(y_true, y_pred, num_classes)


def test_float_labels_raise_the_same_error_type_as_one_hot_and_accuracy():
    """confusion_matrix, one_hot and accuracy share check_labels: float labels are a
    ValueError in all three."""
    float_labels = np.array([0.0, 1.0, 1.0])

    class Model:
        def predict(self, X):
            return np.eye(2)[[0, 1, 1]]

    errors = []
    for call in (
        lambda: confusion_matrix(float_labels, np.array([0, 1, 1]), 2),
        lambda: one_hot(float_labels, 2),
        lambda: accuracy(Model(), np.zeros((3, 4)), float_labels),
    ):
        with pytest.raises(Exception) as info:
            call()
        errors.append(type(info.value))
    assert errors == [ValueError, ValueError, ValueError]


def test_most_confused():
    cm = np.array([[50, 3, 0], [7, 40, 1], [0, 3, 60]])
    assert most_confused(cm, k=2) == [(1, 0, 7), (0, 1, 3)]
    # zeros left out
    assert most_confused(cm, k=10) == [(1, 0, 7), (0, 1, 3), (2, 1, 3), (1, 2, 1)]
    assert most_confused(cm, k=2, either_way=True) == [(0, 1, 10), (1, 2, 4)]
    assert most_confused(np.eye(3, dtype=int) * 5) == []


def test_most_confused_ties_keep_row_major_order():
    cm = np.array([[0, 2, 2], [2, 0, 2], [2, 2, 0]])
    assert most_confused(cm, k=6) == [
        (0, 1, 2),
        (0, 2, 2),
        (1, 0, 2),
        (1, 2, 2),
        (2, 0, 2),
        (2, 1, 2),
    ]


@pytest.mark.parametrize(
    "cm, k, error, message",
    [
        (
            np.ones((2, 3), dtype=int),
            1,
            TypeError,
            "cm must be a square 2-D integer array",
        ),
        (np.ones((2, 2)), 1, TypeError, "cm must be a square 2-D integer array"),
        ([[1, 0], [0, 1]], 1, TypeError, "got list"),
        (np.array([[1, -1], [0, 1]]), 1, ValueError, "cm must hold counts"),
        (np.eye(2, dtype=int), 0, ValueError, "k must be an integer >= 1"),
        (np.eye(2, dtype=int), 1.5, TypeError, "k must be an integer"),
    ],
)
def test_most_confused_rejects_bad_input(cm, k, error, message):
    with pytest.raises(error, match=message):
        most_confused(cm, k=k)
