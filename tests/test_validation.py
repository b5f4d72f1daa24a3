"""Input checks and seeds (book/18_checks_and_seeds.ipynb): good input passes, bad input
names the argument."""

import numpy as np
import pytest

from hypothesis import given, settings, strategies as st

from nnscratch.validation import (
    all_finite,
    check_array,
    check_int,
    check_labels,
    check_positive_float,
    make_rng,
)


# check_int


@pytest.mark.parametrize("value", [1, 5, np.int64(7), np.int32(3)])
def test_check_int_accepts_integers(value):
    result = check_int(value, "epochs", 1)
    assert result == value and type(result) is int


@pytest.mark.parametrize("value", [2.0, 2.5, "3", None, True, np.float64(2.0)])
def test_check_int_refuses_non_integers(value):
    with pytest.raises(
        TypeError,
        match=rf"epochs must be an integer >= 1, got .* of type {type(value).__name__}",
    ):
        check_int(value, "epochs", 1)


def test_check_int_refuses_too_small():
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1, got 0"):
        check_int(0, "batch_size", 1)
    assert check_int(0, "num_hidden_layers", 0) == 0


# check_positive_float


@pytest.mark.parametrize("value", [0.1, 3, np.float32(0.5), 1e-12])
def test_check_positive_float_accepts_positive_numbers(value):
    result = check_positive_float(value, "learning_rate")
    assert result == pytest.approx(float(value)) and type(result) is float


@pytest.mark.parametrize("value", ["0.1", None, True, [0.1]])
def test_check_positive_float_refuses_non_numbers(value):
    with pytest.raises(
        TypeError, match=r"learning_rate must be a finite number > 0, got .* of type"
    ):
        check_positive_float(value, "learning_rate")


@pytest.mark.parametrize("value", [0, -0.1, float("nan"), float("inf")])
def test_check_positive_float_refuses_bad_numbers(value):
    with pytest.raises(
        ValueError, match=rf"learning_rate must be a finite number > 0, got {value}$"
    ):
        check_positive_float(value, "learning_rate")


# check_array


def test_check_array_returns_the_same_array():
    X = np.ones((3, 2))
    assert check_array(X, "X", ndim=2, n_cols=2, n_rows=3) is X
    mask, labels = np.array([True, False]), np.array([1, 2])
    assert check_array(mask, "mask") is mask
    assert check_array(labels, "labels", ndim=1) is labels


def test_check_array_refuses_lists_without_converting():
    with pytest.raises(
        TypeError, match=r"X must be a NumPy array, got list; wrap it with np.asarray"
    ):
        check_array([[1.0, 2.0]], "X")


@pytest.mark.parametrize(
    "bad", [np.array(["a", "b"]), np.array([1, None], dtype=object), np.array([1j])]
)
def test_check_array_refuses_non_real_dtypes(bad):
    with pytest.raises(
        TypeError, match=rf"X must hold real numbers, got dtype {bad.dtype}"
    ):
        check_array(bad, "X")


def test_check_array_wrong_ndim_with_hint():
    with pytest.raises(
        ValueError, match=r"X must be 2-D, got shape \(4,\) \(use x.reshape\(-1, 1\)"
    ):
        check_array(np.arange(4.0), "X", ndim=2)
    with pytest.raises(ValueError, match=r"y must be 1-D, got shape \(2, 2\)$"):
        check_array(np.ones((2, 2)), "y", ndim=1)


def test_check_array_empty():
    with pytest.raises(ValueError, match=r"X is empty \(shape \(0, 3\)\)"):
        check_array(np.ones((0, 3)), "X", ndim=2)


def test_check_array_rows_and_columns():
    with pytest.raises(
        ValueError, match=r"y must have 4 rows to match, got shape \(3, 1\)"
    ):
        check_array(np.ones((3, 1)), "y", n_rows=4)
    with pytest.raises(ValueError, match=r"X must have 2 columns, got shape \(3, 5\)"):
        check_array(np.ones((3, 5)), "X", n_cols=2)


def test_check_array_non_finite():
    X = np.array([[1.0, np.nan], [np.inf, 0.0]])
    with pytest.raises(ValueError, match=r"X holds 2 NaN or inf value\(s\)"):
        check_array(X, "X")
    assert check_array(X, "X", finite=False) is X


# check_labels: always ValueError, naming the argument, the expectation and what was
# received


@pytest.mark.parametrize(
    "y",
    [
        np.array([0, 9, 3]),
        np.array([0], dtype=np.uint8),
        np.arange(10, dtype=np.int32),
        np.array([], dtype=np.int64),
    ],
)
def test_check_labels_returns_good_labels(y):
    assert check_labels(y, "y_true", 10) is y


@pytest.mark.parametrize(
    "bad, got",
    [
        ([0, 1], "got list"),
        ((0, 1), "got tuple"),
        (None, "got NoneType"),
        (3, "got int"),
        (np.array([0.0, 1.0]), "got dtype float64"),
        (np.array([True, False]), "got dtype bool"),
        (np.array(["0", "1"]), "got dtype <U1"),
        (np.array([0, 1], dtype=object), "got dtype object"),
        (np.array([[0, 1]]), r"got shape \(1, 2\)"),
        (np.array(3), r"got shape \(\)"),
        (np.array([0, 10]), "got labels from 0 to 10"),
        (np.array([-1, 2]), "got labels from -1 to 2"),
    ],
)
def test_check_labels_refuses_with_a_value_error(bad, got):
    with pytest.raises(
        ValueError,
        match=rf"^y_true must hold integer labels 0\.\.9 in a 1-D array, {got}$",
    ):
        check_labels(bad, "y_true", 10)


def test_check_labels_names_the_argument_and_the_range():
    with pytest.raises(ValueError, match=r"^y_pred must hold integer labels 0\.\.1 "):
        check_labels(np.array([2]), "y_pred", 2)
    # one class: only label 0
    assert check_labels(np.zeros(4, dtype=int), "y", 1).size == 4


@pytest.mark.parametrize(
    "num_classes, error", [(0, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_check_labels_checks_num_classes(num_classes, error):
    with pytest.raises(
        error, match=rf"num_classes must be an integer >= 1, got {num_classes!r}"
    ):
        check_labels(np.array([0]), "y", num_classes)


# all_finite: the sum-of-squares fast path must never call a non-finite array finite

SPECIALS = [np.nan, np.inf, -np.inf]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("special", SPECIALS)
@pytest.mark.parametrize("layout", ["C", "F", "strided", "1-D", "3-D"])
def test_all_finite_finds_one_special_value(dtype, special, layout):
    a = np.random.default_rng(0).normal(size=(6, 8, 4)).astype(dtype)
    a = {
        "C": a[:, :, 0].copy(),
        "F": np.asfortranarray(a[:, :, 0]),
        "strided": a[:, ::2, 1],
        "1-D": a[0, :, 0].copy(),
        "3-D": a,
    }[layout]
    assert all_finite(a)
    a[(2,) * a.ndim if a.ndim < 3 else (2, 1, 3)] = special
    assert not all_finite(a)


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64, bool])
def test_all_finite_integers_and_booleans_are_always_finite(dtype):
    assert all_finite(np.array([[0, 1], [1, 0]], dtype=dtype))


def test_all_finite_squares_that_overflow_next_to_a_nan():
    """A NaN among numbers whose squares overflow: the sum is NaN or inf either way,
    and the full test finds the NaN."""
    a = np.full((4, 4), 1e20, dtype=np.float32)   # squares overflow float32
    assert all_finite(a)
    a[3, 3] = np.nan
    assert not all_finite(a)


def test_all_finite_opposite_infinities_in_one_row():
    assert not all_finite(np.array([[1.0, np.inf, -np.inf], [0.0, 0.0, 0.0]]))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_all_finite_huge_finite_values_whose_squares_overflow(dtype):
    a = np.full((3, 5), np.finfo(dtype).max, dtype=dtype)
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.dot(a.ravel(), a.ravel()))  # the fast path fails...
    # ...and the full test answers correctly
    assert all_finite(a)
    a[0, 0] = np.nan
    assert not all_finite(a)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 7),
    cols=st.integers(1, 7),
    seed=st.integers(0, 2**32 - 1),
    n_special=st.integers(0, 3),
    scale=st.sampled_from([1.0, 1e30, 3e38]),
)
def test_all_finite_agrees_with_isfinite(rows, cols, seed, n_special, scale):
    rng = np.random.default_rng(seed)
    # scale 3e38 gives some inf: fine, they are specials too
    with np.errstate(over="ignore"):
        a = (rng.normal(size=(rows, cols)) * scale).astype(np.float32)
    for _ in range(n_special):
        a[rng.integers(rows), rng.integers(cols)] = rng.choice(SPECIALS)
    assert all_finite(a) == bool(np.isfinite(a).all())


def test_check_array_reports_the_count_of_non_finite_values():
    a = np.zeros((4, 3))
    a[0, 0], a[2, 1], a[3, 2] = np.nan, np.inf, -np.inf
    with pytest.raises(ValueError, match=r"^X holds 3 NaN or inf value\(s\)"):
        check_array(a, "X")


# make_rng


def test_make_rng_seed_is_reproducible():
    assert np.array_equal(
        make_rng(seed=3).normal(size=5), make_rng(seed=3).normal(size=5)
    )
    assert not np.array_equal(
        make_rng(seed=3).normal(size=5), make_rng(seed=4).normal(size=5)
    )


def test_make_rng_passes_a_generator_through():
    rng = np.random.default_rng(0)
    assert make_rng(rng=rng) is rng
    assert isinstance(make_rng(), np.random.Generator)


def test_make_rng_refuses_both_rng_and_seed():
    with pytest.raises(ValueError, match=r"pass either rng= or seed=, not both"):
        make_rng(rng=np.random.default_rng(0), seed=0)


@pytest.mark.parametrize("bad", [42, np.random.RandomState(0), "rng"])
def test_make_rng_refuses_non_generators(bad):
    with pytest.raises(TypeError, match=r"rng must be a np.random.Generator .* got"):
        make_rng(rng=bad)


def test_make_rng_never_touches_the_global_state():
    before = np.random.get_state()
    make_rng(seed=1).normal(size=10)
    make_rng().normal(size=10)
    make_rng(rng=np.random.default_rng(2)).random(10)
    after = np.random.get_state()
    assert (
        before[0] == after[0]
        and np.array_equal(before[1], after[1])
        and before[2:] == after[2:]
    )


@pytest.mark.parametrize(
    "seed, error, message",
    [
        (
            1.5,
            TypeError,
            r"seed must be a non-negative integer or None, got 1\.5 of type float",
        ),
        (True, TypeError, r"got True of type bool"),
        (
            "3",
            TypeError,
            r"seed must be a non-negative integer or None, got '3' of type str",
        ),
        (-1, ValueError, r"seed must be a non-negative integer or None, got -1$"),
    ],
)
def test_make_rng_refuses_bad_seeds(seed, error, message):
    with pytest.raises(error, match=message):
        make_rng(seed=seed)


def test_make_rng_accepts_numpy_integer_seeds():
    assert np.array_equal(
        make_rng(seed=np.int64(5)).random(3), np.random.default_rng(5).random(3)
    )
