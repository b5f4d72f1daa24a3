"""BatchNorm (book/16_batch_normalisation.ipynb): gradients, running statistics, modes,
errors, and PyTorch's BatchNorm1d as an oracle."""

import numpy as np
import pytest

from nnscratch.batchnorm import BatchNorm
from nnscratch.gradcheck import numerical_gradient, relative_error
from nnscratch.layers import ParamPair


def make_layer(features=4, seed=0, **kwargs):
    """A float64 BatchNorm with random gamma, beta and running statistics."""
    rng = np.random.default_rng(seed)
    bn = BatchNorm(features, dtype=np.float64, **kwargs)
    bn.gamma[...] = rng.normal(size=bn.gamma.shape)
    bn.beta[...] = rng.normal(size=bn.beta.shape)
    bn.running_mean[...] = rng.normal(size=bn.running_mean.shape)
    bn.running_var[...] = rng.uniform(0.5, 2.0, size=bn.running_var.shape)
    return bn


def check_gradients(bn, x, target):
    """Relative errors of dx, dgamma, dbeta against central differences, for the loss
    0.5 * ||y - target||^2."""

    def loss(_=None):
        return 0.5 * np.sum((bn.forward(x) - target) ** 2)

    grad_x = bn.backward(bn.forward(x) - target)
    grad_gamma, grad_beta = bn.grad_gamma.copy(), bn.grad_beta.copy()
    return (
        relative_error(grad_x, numerical_gradient(loss, x)),
        relative_error(grad_gamma, numerical_gradient(loss, bn.gamma)),
        relative_error(grad_beta, numerical_gradient(loss, bn.beta)),
    )


# --- gradients ------------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("batch, features", [(3, 1), (5, 3), (8, 6)])
def test_gradients_match_finite_differences(training, batch, features):
    rng = np.random.default_rng(batch * 10 + features)
    bn = make_layer(features, seed=batch)
    bn.training = training
    x = rng.normal(loc=2.0, scale=3.0, size=(batch, features))
    target = rng.normal(size=(batch, features))
    errors = check_gradients(bn, x, target)
    assert max(errors) < 1e-7, errors


def test_batch_of_two_is_almost_constant_and_its_gradient_almost_zero():
    """Two rows normalise to about -1 and +1 whatever they are: dx is tiny."""
    bn = make_layer(3)
    bn.training = True
    x, target = np.random.default_rng(11).normal(size=(2, 2, 3))

    def loss(_=None):
        return 0.5 * np.sum((bn.forward(x) - target) ** 2)

    grad_x = bn.backward(bn.forward(x) - target)
    assert np.allclose(np.abs(bn.x_hat), 1, atol=1e-3)
    assert np.allclose(grad_x, numerical_gradient(loss, x), atol=1e-6)
    assert np.abs(grad_x).max() < 1e-2


def test_training_gradient_with_a_linear_loss_sums_to_zero_per_feature():
    """Shifting a column changes nothing (the mean is subtracted): dx sums to 0."""
    rng = np.random.default_rng(1)
    bn = make_layer(5)
    bn.training = True
    bn.forward(rng.normal(size=(7, 5)))
    grad_x = bn.backward(rng.normal(size=(7, 5)))
    assert np.allclose(grad_x.sum(axis=0), 0, atol=1e-12)


def test_eval_backward_is_the_affine_gradient():
    bn = make_layer(3)
    x, d_out = np.random.default_rng(2).normal(size=(2, 4, 3))
    bn.forward(x)
    expected = d_out * bn.gamma / np.sqrt(bn.running_var + bn.eps)
    assert np.allclose(bn.backward(d_out), expected)


def test_backward_follows_the_mode_of_the_forward_pass():
    """Flipping `training` between forward and backward must not change the formula."""
    rng = np.random.default_rng(3)
    x, d_out = rng.normal(size=(2, 6, 4))
    bn = make_layer(4)
    bn.training = True
    bn.forward(x)
    grad_training = bn.backward(d_out)
    bn.forward(x)
    bn.training = False
    assert np.array_equal(bn.backward(d_out), grad_training)


def test_gradients_are_written_in_place():
    bn = BatchNorm(3)
    bn.training = True
    grads = bn.grad_gamma, bn.grad_beta
    bn.forward(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))
    bn.backward(np.ones((4, 3), np.float32))
    assert bn.grad_gamma is grads[0] and bn.grad_beta is grads[1]
    assert np.allclose(bn.grad_beta, 4) and bn.grad_gamma.dtype == np.float32


# --- forward, running statistics ------------------------------------------------------


def test_training_output_has_zero_mean_unit_variance_then_gamma_beta():
    rng = np.random.default_rng(4)
    x = rng.normal(loc=5.0, scale=10.0, size=(200, 3))
    bn = BatchNorm(3, dtype=np.float64)
    bn.training = True
    y = bn.forward(x)
    assert np.allclose(y.mean(axis=0), 0, atol=1e-12) and np.allclose(
        y.std(axis=0), 1, atol=1e-6
    )
    bn.gamma[...], bn.beta[...] = [[2.0, 3.0, 4.0]], [[-1.0, 0.0, 1.0]]
    y = bn.forward(x)
    assert np.allclose(y.mean(axis=0), [-1, 0, 1]) and np.allclose(
        y.std(axis=0), [2, 3, 4], rtol=1e-5
    )


def test_running_statistics_after_a_few_batches():
    rng = np.random.default_rng(5)
    batches = [rng.normal(loc=i, scale=i + 1, size=(10, 2)) for i in range(4)]
    bn = BatchNorm(2, momentum=0.2, dtype=np.float64)
    bn.training = True
    mean, var = np.zeros(2), np.ones(2)
    for x in batches:
        bn.forward(x)
        mean = 0.8 * mean + 0.2 * x.mean(axis=0)
        var = 0.8 * var + 0.2 * x.var(axis=0, ddof=1)  # unbiased, as in PyTorch
    assert np.allclose(bn.running_mean, mean) and np.allclose(bn.running_var, var)
    assert bn.running_mean.shape == bn.running_var.shape == (1, 2)


def test_eval_mode_uses_the_running_statistics_and_leaves_them_alone():
    bn = make_layer(3)
    before = bn.running_mean.copy(), bn.running_var.copy()
    x = np.random.default_rng(6).normal(size=(5, 3))
    y = bn.forward(x)
    expected = (
        bn.gamma * (x - bn.running_mean) / np.sqrt(bn.running_var + bn.eps) + bn.beta
    )
    assert np.allclose(y, expected)
    assert np.array_equal(bn.running_mean, before[0]) and np.array_equal(
        bn.running_var, before[1]
    )
    assert np.allclose(
        bn.forward(x[:1]), expected[:1]
    )  # one row is fine outside training


def test_default_is_evaluation_and_momentum_extremes():
    x = np.random.default_rng(7).normal(loc=3.0, size=(6, 2))
    assert BatchNorm(2).training is False
    frozen = BatchNorm(2, momentum=0.0, dtype=np.float64)
    frozen.training = True
    frozen.forward(x)
    assert np.array_equal(frozen.running_mean, np.zeros((1, 2)))
    assert np.array_equal(frozen.running_var, np.ones((1, 2)))
    latest = BatchNorm(2, momentum=1.0, dtype=np.float64)
    latest.training = True
    latest.forward(x)
    assert np.allclose(latest.running_mean, x.mean(axis=0))
    assert np.allclose(latest.running_var, x.var(axis=0, ddof=1))


def test_running_arrays_are_updated_in_place():
    bn = BatchNorm(2)
    arrays = bn.running_mean, bn.running_var
    bn.training = True
    bn.forward(np.ones((3, 2), np.float64))  # float64 input, float32 state
    assert bn.running_mean is arrays[0] and bn.running_var is arrays[1]
    assert bn.running_mean.dtype == np.float32


def test_float32_forward_stays_float32():
    bn = BatchNorm(3)
    bn.training = True
    y = bn.forward(np.random.default_rng(8).normal(size=(4, 3)).astype(np.float32))
    assert y.dtype == np.float32


def test_constant_feature_gives_zeros_not_nan():
    bn = BatchNorm(2, dtype=np.float64)
    bn.training = True
    y = bn.forward(np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 4.0]]))
    assert np.all(np.isfinite(y)) and np.allclose(y[:, 0], 0)


# --- parameters and attributes --------------------------------------------------------


def test_parameters_are_gamma_and_beta_without_decay():
    bn = BatchNorm(5)
    pairs = bn.parameters()
    assert len(pairs) == 2 and all(isinstance(pair, ParamPair) for pair in pairs)
    assert pairs[0][0] is bn.gamma and pairs[0][1] is bn.grad_gamma
    assert pairs[1][0] is bn.beta and pairs[1][1] is bn.grad_beta
    assert not pairs[0].decay and not pairs[1].decay
    assert bn.gamma.shape == bn.beta.shape == (1, 5)
    assert np.all(bn.gamma == 1) and np.all(bn.beta == 0)


def test_constructor_keeps_its_arguments():
    bn = BatchNorm(7, momentum=0.3, eps=1e-3, dtype=np.float64)
    assert (bn.features, bn.momentum, bn.eps) == (7, 0.3, 1e-3)
    assert bn.gamma.dtype == bn.running_var.dtype == np.float64
    assert repr(bn) == "BatchNorm(7, momentum=0.3, eps=0.001)"


def test_an_sgd_step_updates_gamma_and_beta():
    from nnscratch.optim import SGD

    bn = BatchNorm(2, dtype=np.float64)
    bn.training = True
    optimizer = SGD(bn.parameters(), 0.1, weight_decay=1.0)
    bn.forward(np.array([[0.0, 1.0], [2.0, 5.0]]))
    bn.backward(np.array([[1.0, 1.0], [3.0, -1.0]]))
    optimizer.step()  # no decay: gamma, beta move by the gradient alone
    assert np.allclose(bn.beta, [[-0.4, 0.0]]) and np.allclose(
        bn.gamma, 1 - 0.1 * bn.grad_gamma
    )


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "features, error",
    [
        (0, ValueError),
        (-3, ValueError),
        (2.0, TypeError),
        ("4", TypeError),
        (True, TypeError),
    ],
)
def test_bad_features(features, error):
    with pytest.raises(error, match="features"):
        BatchNorm(features)


@pytest.mark.parametrize(
    "momentum, error",
    [
        (-0.1, ValueError),
        (1.5, ValueError),
        (float("nan"), ValueError),
        ("0.1", TypeError),
        (None, TypeError),
        (True, TypeError),
    ],
)
def test_bad_momentum(momentum, error):
    with pytest.raises(error, match=r"momentum must be a number in \[0, 1\]"):
        BatchNorm(3, momentum=momentum)


@pytest.mark.parametrize(
    "eps, error",
    [
        (0, ValueError),
        (-1e-5, ValueError),
        (float("inf"), ValueError),
        ("1e-5", TypeError),
    ],
)
def test_bad_eps(eps, error):
    with pytest.raises(error, match="eps"):
        BatchNorm(3, eps=eps)


@pytest.mark.parametrize("dtype", [np.int32, bool])
def test_bad_dtype(dtype):
    with pytest.raises(TypeError, match="dtype"):
        BatchNorm(3, dtype=dtype)


@pytest.mark.parametrize(
    "x", [[[1.0, 2.0, 3.0]], np.ones((2, 3), dtype=int), np.ones((2, 3), dtype=bool)]
)
def test_non_float_input_is_a_type_error(x):
    with pytest.raises(
        TypeError, match=r"x must be a floating-point NumPy array of shape \(batch, 3\)"
    ):
        BatchNorm(3).forward(x)


@pytest.mark.parametrize("shape", [(4, 2), (4, 5), (3,), (2, 3, 1)])
def test_wrong_shape_is_a_value_error(shape):
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 3\), got"):
        BatchNorm(3).forward(np.ones(shape))


def test_one_row_while_training_is_a_value_error():
    bn = BatchNorm(3)
    bn.training = True
    with pytest.raises(ValueError, match="at least 2 rows while training"):
        bn.forward(np.ones((1, 3)))
    assert np.array_equal(bn.running_var, np.ones((1, 3)))  # nothing was updated


def test_backward_errors():
    bn = BatchNorm(3)
    with pytest.raises(RuntimeError, match="call forward"):
        bn.backward(np.ones((2, 3)))
    bn.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"d_out must have shape \(2, 3\)"):
        bn.backward(np.ones((3, 3)))
    with pytest.raises(TypeError, match="d_out must be a NumPy array"):
        bn.backward([[1.0, 1.0, 1.0]] * 2)


# --- in a network ---------------------------------------------------------------------


def test_whole_network_gradients_with_batchnorm_in_training_mode():
    from nnscratch import Layer, MeanSquaredErrorLoss, Sequential, Tanh

    f64 = np.float64
    net = Sequential(
        Layer(3, 5, seed=1, dtype=f64), BatchNorm(5, dtype=f64), Tanh(),
        Layer(5, 4, seed=2, dtype=f64), BatchNorm(4, dtype=f64), Tanh(),
        Layer(4, 2, seed=3, dtype=f64),
    )  # fmt: skip
    net.training = True
    assert all(bn.training for bn in net.layers if isinstance(bn, BatchNorm))
    rng = np.random.default_rng(12)
    for bn in (net.layers[1], net.layers[4]):
        bn.gamma[...] = rng.uniform(0.5, 2.0, size=bn.gamma.shape)
        bn.beta[...] = rng.normal(size=bn.beta.shape)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    net.backward(MeanSquaredErrorLoss.grad(net.forward(X), Y))
    grads = [grad.copy() for _, grad in net.parameters()]

    def loss(_=None):
        return MeanSquaredErrorLoss.loss(net.forward(X), Y)

    for (param, _), grad in zip(net.parameters(), grads):
        if np.abs(grad).max() > 1e-12:          # the biases before BatchNorm get none
            assert relative_error(grad, numerical_gradient(loss, param)) < 1e-6
    assert np.abs(grads[1]).max() < 1e-12 and np.abs(grads[5]).max() < 1e-12


def test_train_uses_batch_statistics_and_predict_the_running_ones():
    from nnscratch import Layer, MeanSquaredErrorLoss, Relu, Sequential, train

    rng = np.random.default_rng(13)
    X = rng.normal(loc=3.0, scale=2.0, size=(100, 4)).astype(np.float32)
    Y = X @ rng.normal(size=(4, 1)).astype(np.float32)
    bn = BatchNorm(8)
    net = Sequential(Layer(4, 8, seed=0), bn, Relu(), Layer(8, 1, seed=1))
    losses, _ = train(net, X, Y, MeanSquaredErrorLoss, 5, 16, 0.01, bar=False, seed=0)
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert net.training is False and bn.training is False
    assert not np.allclose(bn.running_mean, 0) and not np.allclose(bn.running_var, 1)
    one = net.predict(X[:1])                     # evaluation mode: one row is fine
    assert np.allclose(one, net.predict(X)[:1], atol=1e-6)


# --- PyTorch as an oracle -------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_matches_torch_batchnorm1d_step_for_step(momentum):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    ours = BatchNorm(4, momentum=momentum, eps=1e-3, dtype=np.float64)
    theirs = torch.nn.BatchNorm1d(4, momentum=momentum, eps=1e-3, dtype=torch.float64)
    for step, training in enumerate([True, True, False, True, False]):
        ours.training = training
        theirs.train(training)
        theirs.zero_grad()
        x = rng.normal(loc=step, scale=step + 1, size=(6, 4))
        d_out = rng.normal(size=(6, 4))
        x_torch = torch.tensor(x, requires_grad=True)
        y_torch = theirs(x_torch)
        y_torch.backward(torch.tensor(d_out))
        assert np.allclose(ours.forward(x), y_torch.detach().numpy(), atol=1e-12)
        assert np.allclose(ours.backward(d_out), x_torch.grad.numpy(), atol=1e-12)
        assert np.allclose(ours.grad_gamma[0], theirs.weight.grad.numpy(), atol=1e-12)
        assert np.allclose(ours.grad_beta[0], theirs.bias.grad.numpy(), atol=1e-12)
        assert np.allclose(
            ours.running_mean[0], theirs.running_mean.numpy(), atol=1e-12
        )
        assert np.allclose(ours.running_var[0], theirs.running_var.numpy(), atol=1e-12)
        with torch.no_grad():  # a step of learning, the same on both sides
            theirs.weight -= 0.1 * theirs.weight.grad
            theirs.bias -= 0.1 * theirs.bias.grad
        ours.gamma -= 0.1 * ours.grad_gamma
        ours.beta -= 0.1 * ours.grad_beta


@pytest.mark.torch
def test_torch_also_refuses_one_row_while_training():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        torch.nn.BatchNorm1d(3).train()(torch.ones(1, 3))
