"""Convolutional layers (book/15_convolution.ipynb): gradients, errors, PyTorch."""

import numpy as np
import pytest

from nnscratch.conv import Conv2D, Flatten, MaxPool2D, col2im, conv_output_size, im2col
from nnscratch.gradcheck import numerical_gradient, relative_error
from nnscratch.layers import ParamPair, init_std


def conv_reference(x, weights, bias, stride=1, padding=0):
    """The definition of the layer, one output value at a time (float64)."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, _, h, w = x.shape
    f, _, k, _ = weights.shape
    out = np.empty((n, f, (h - k) // stride + 1, (w - k) // stride + 1))
    for b, o, i, j in np.ndindex(out.shape):
        window = x[b, :, stride * i : stride * i + k, stride * j : stride * j + k]
        out[b, o, i, j] = np.sum(window * weights[o]) + bias[o]
    return out


def gradient_errors(layer, x, seed=1):
    """Relative errors of dx (and parameter gradients) vs central differences."""
    upstream = np.random.default_rng(seed).normal(size=layer.forward(x).shape)

    def loss(_=None):
        return np.sum(layer.forward(x) * upstream)

    dx = layer.backward(upstream)
    errors = {"dx": relative_error(dx, numerical_gradient(loss, x))}
    if hasattr(layer, "weights"):
        errors["dW"] = relative_error(
            layer.grad_weights, numerical_gradient(loss, layer.weights)
        )
        errors["db"] = relative_error(
            layer.grad_bias, numerical_gradient(loss, layer.bias)
        )
    return errors


# ---------------------------------------------------------------- im2col / col2im


@pytest.mark.parametrize(
    "size, k, stride, padding, expected",
    [
        (28, 3, 1, 0, 26),
        (28, 3, 1, 1, 28),
        (28, 5, 2, 2, 14),
        (7, 3, 2, 0, 3),
        (8, 3, 2, 0, 3),
        (3, 3, 1, 0, 1),
    ],
)
def test_conv_output_size(size, k, stride, padding, expected):
    assert conv_output_size(size, k, stride, padding) == expected


def test_im2col_layout():
    x = np.arange(2 * 2 * 4 * 5, dtype=float).reshape(2, 2, 4, 5)
    cols = im2col(x, 3, 1)
    assert cols.shape == (2, 2 * 9, 2 * 3)
    # column i * W_out + j of image n: channel 0's window, then channel 1's, row by row
    assert np.array_equal(cols[1, :, 1 * 3 + 2], x[1, :, 1:4, 2:5].ravel())
    cols2 = im2col(x, 2, 2)
    assert cols2.shape == (2, 8, 4) and np.array_equal(
        cols2[0, :, 3], x[0, :, 2:4, 2:4].ravel()
    )


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_col2im_is_the_adjoint_of_im2col(stride):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 8, 7))
    c = rng.normal(size=im2col(x, 3, stride).shape)
    assert np.isclose(
        np.sum(im2col(x, 3, stride) * c), np.sum(x * col2im(c, x.shape, 3, stride))
    )


# ---------------------------------------------------------------- Conv2D


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 0), (2, 1), (3, 2)])
def test_conv_forward_matches_the_definition(stride, padding):
    rng = np.random.default_rng(stride * 10 + padding)
    layer = Conv2D(3, 4, 3, stride=stride, padding=padding, seed=0, dtype=np.float64)
    layer.bias[:] = rng.normal(size=4)
    x = rng.normal(size=(2, 3, 7, 8))
    out = layer.forward(x)
    expected = conv_reference(x, layer.weights, layer.bias, stride, padding)
    assert out.shape == expected.shape
    assert out.shape[2:] == (
        conv_output_size(7, 3, stride, padding),
        conv_output_size(8, 3, stride, padding),
    )
    assert np.allclose(out, expected, atol=1e-12)


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 0), (2, 1)])
@pytest.mark.parametrize("kernel_size", [2, 3])
def test_conv_gradients_match_finite_differences(stride, padding, kernel_size):
    rng = np.random.default_rng(7)
    layer = Conv2D(
        2, 3, kernel_size, stride=stride, padding=padding, seed=1, dtype=np.float64
    )
    layer.bias[:] = rng.normal(size=3)
    errors = gradient_errors(layer, rng.normal(size=(2, 2, 6, 5)))
    assert max(errors.values()) < 1e-7, errors


def test_conv_gradients_are_written_in_place():
    layer = Conv2D(1, 2, 3, seed=0)
    grad_w, grad_b = layer.grad_weights, layer.grad_bias
    params = layer.parameters()
    x = np.random.default_rng(0).random((4, 1, 6, 6), dtype=np.float32)
    layer.backward(np.ones_like(layer.forward(x)))
    assert layer.grad_weights is grad_w and layer.grad_bias is grad_b
    assert params[0][1] is grad_w and params[1][1] is grad_b
    assert np.allclose(grad_b, 4 * 16)  # ones over 4 images of 4 x 4 outputs
    assert np.abs(grad_w).sum() > 0


def test_conv_parameters_and_init():
    layer = Conv2D(8, 16, 3, seed=0)
    params = layer.parameters()
    assert all(isinstance(p, ParamPair) for p in params)
    assert params[0][0] is layer.weights and params[1][0] is layer.bias
    assert params[0].decay and not params[1].decay
    assert layer.weights.shape == (16, 8, 3, 3) and layer.bias.shape == (16,)
    assert (
        layer.grad_weights.shape == layer.weights.shape
        and layer.grad_bias.shape == layer.bias.shape
    )
    assert np.all(layer.bias == 0)
    for init in ("lecun", "he", "xavier"):
        w = Conv2D(8, 16, 3, init=init, seed=0).weights
        assert abs(w.std() / init_std(init, 8 * 9, 16 * 9) - 1) < 0.08, init
    with pytest.raises(ValueError, match="init must be one of"):
        Conv2D(1, 2, 3, init="glorot")


def test_conv_keeps_its_arguments():
    layer = Conv2D(3, 5, 4, stride=2, padding=1, seed=0)
    assert (
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,
        layer.stride,
        layer.padding,
    ) == (3, 5, 4, 2, 1)


def test_conv_seeds():
    assert np.array_equal(
        Conv2D(2, 3, 3, seed=5).weights, Conv2D(2, 3, 3, seed=5).weights
    )
    assert not np.array_equal(
        Conv2D(2, 3, 3, seed=5).weights, Conv2D(2, 3, 3, seed=6).weights
    )
    a = Conv2D(2, 3, 3, rng=np.random.default_rng(5))
    assert np.array_equal(a.weights, Conv2D(2, 3, 3, seed=5).weights)
    with pytest.raises(ValueError, match="not both"):
        Conv2D(2, 3, 3, seed=1, rng=np.random.default_rng(1))
    state = np.random.get_state()[1].copy()
    Conv2D(2, 3, 3, seed=1)
    assert np.array_equal(np.random.get_state()[1], state)  # global state untouched


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_computes_in_its_dtype(dtype):
    layer = Conv2D(1, 2, 3, padding=1, seed=0, dtype=dtype)
    assert layer.weights.dtype == dtype and layer.grad_weights.dtype == dtype
    other = np.float64 if dtype == np.float32 else np.float32
    x = np.random.default_rng(0).random((2, 1, 5, 5)).astype(other)
    out = layer.forward(x)
    assert out.dtype == dtype
    dx = layer.backward(np.ones(out.shape, other))
    assert dx.dtype == dtype and layer.grad_bias.dtype == dtype


def test_conv_without_input_grad():
    layer = Conv2D(1, 2, 3, seed=0, dtype=np.float64)
    layer.needs_input_grad = False
    x = np.random.default_rng(0).normal(size=(2, 1, 5, 5))
    assert layer.backward(np.ones_like(layer.forward(x))) is None
    assert np.allclose(layer.grad_bias, 2 * 9)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"in_channels": 0}, ValueError, "in_channels"),
        ({"out_channels": 2.0}, TypeError, "out_channels"),
        ({"kernel_size": 0}, ValueError, "kernel_size"),
        ({"stride": 0}, ValueError, "stride"),
        ({"padding": -1}, ValueError, "padding"),
        ({"padding": True}, TypeError, "padding"),
        ({"dtype": np.int32}, TypeError, "dtype"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_conv_constructor_errors(kwargs, error, match):
    args = {"in_channels": 1, "out_channels": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(error, match=match):
        Conv2D(
            args.pop("in_channels"),
            args.pop("out_channels"),
            args.pop("kernel_size"),
            **args,
        )


def test_conv_forward_errors():
    layer = Conv2D(3, 2, 5, padding=1, seed=0)
    with pytest.raises(TypeError, match="NumPy array"):
        layer.forward([[1.0]])
    with pytest.raises(TypeError, match="floating-point.*int64"):
        layer.forward(np.zeros((1, 3, 8, 8), dtype=np.int64))
    with pytest.raises(ValueError, match="4-D.*reshape"):
        layer.forward(np.zeros((2, 784)))
    with pytest.raises(ValueError, match="4-D"):
        layer.forward(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="3 channels.*got 1"):
        layer.forward(np.zeros((2, 1, 8, 8)))
    with pytest.raises(
        ValueError, match="kernel_size 5 is larger than the padded input 4x6"
    ):
        layer.forward(np.zeros((2, 3, 2, 4)))
    layer.forward(np.zeros((2, 3, 3, 3)))  # 5x5 once padded: one position


def test_conv_backward_errors():
    layer = Conv2D(1, 2, 3, seed=0)
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.zeros((1, 2, 3, 3)))
    layer.forward(np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"\(1, 2, 3, 3\)"):
        layer.backward(np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="d_output"):
        layer.backward([[0.0]])


# ---------------------------------------------------------------- MaxPool2D


@pytest.mark.parametrize("size", [1, 2, 3])
def test_maxpool_forward_and_gradient(size):
    rng = np.random.default_rng(size)
    pool = MaxPool2D(size)
    x = rng.normal(size=(2, 3, 2 * size, 3 * size))
    out = pool.forward(x)
    expected = x.reshape(2, 3, 2, size, 3, size).max(axis=(3, 5))
    assert np.array_equal(out, expected)
    assert gradient_errors(pool, x)["dx"] < 1e-8


def test_maxpool_routes_to_one_winner_on_ties():
    pool = MaxPool2D(2)
    x = np.ones((1, 1, 2, 4))
    pool.forward(x)
    dx = pool.backward(np.array([[[[5.0, 7.0]]]]))
    assert np.array_equal(
        dx[0, 0], [[5, 0, 7, 0], [0, 0, 0, 0]]
    )  # first maximum of each block


def test_maxpool_keeps_dtype_and_errors():
    pool = MaxPool2D(2)
    x = np.zeros((1, 2, 4, 4), np.float32)
    assert pool.forward(x).dtype == np.float32
    assert pool.backward(np.zeros((1, 2, 2, 2), np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="multiples of 2.*13x13"):
        pool.forward(np.zeros((1, 2, 13, 13)))
    with pytest.raises(ValueError, match="4-D"):
        pool.forward(np.zeros((4, 4)))
    with pytest.raises(TypeError, match="floating-point"):
        pool.forward(np.zeros((1, 1, 4, 4), dtype=int))
    with pytest.raises(ValueError, match="size"):
        MaxPool2D(0)
    with pytest.raises(TypeError, match="size"):
        MaxPool2D(2.0)
    with pytest.raises(RuntimeError, match="forward"):
        MaxPool2D(2).backward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(ValueError, match="d_output"):
        pool.backward(np.zeros((1, 2, 4, 4)))


# ---------------------------------------------------------------- Flatten


def test_flatten_round_trip_and_gradient():
    flatten = Flatten()
    x = np.random.default_rng(0).normal(size=(3, 2, 4, 5))
    rows = flatten.forward(x)
    assert rows.shape == (3, 40) and np.array_equal(rows[2], x[2].ravel())
    assert np.array_equal(flatten.backward(rows), x)
    assert gradient_errors(flatten, x)["dx"] < 1e-8


def test_flatten_errors():
    with pytest.raises(RuntimeError, match="forward"):
        Flatten().backward(np.zeros((1, 4)))
    with pytest.raises(TypeError, match="NumPy array"):
        Flatten().forward([1.0, 2.0])
    with pytest.raises(ValueError, match="at least one"):
        Flatten().forward(np.zeros(5))
    flatten = Flatten()
    flatten.forward(np.zeros((2, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"\(2, 12\)"):
        flatten.backward(np.zeros((2, 11)))


# ------------------------------------------------------------ a small CNN, end to end


def test_small_cnn_gradient_through_every_layer():
    """Conv, tanh, pool, flatten, tanh, linear map: dx and dW of the whole stack."""
    rng = np.random.default_rng(3)
    conv, pool, flatten = (
        Conv2D(1, 2, 3, padding=1, seed=0, dtype=np.float64),
        MaxPool2D(2),
        Flatten(),
    )
    head = rng.normal(size=(2 * 2 * 2, 3))
    x = rng.normal(size=(2, 1, 4, 4))

    def loss(_=None):
        z = conv.forward(x)
        return np.sum(np.tanh(flatten.forward(pool.forward(np.tanh(z)))) @ head)

    loss()
    z = conv.forward(x)
    t1 = np.tanh(z)
    t2 = np.tanh(flatten.forward(pool.forward(t1)))
    d = flatten.backward((1 - t2**2) * (np.ones((2, 3)) @ head.T))
    d = pool.backward(d) * (1 - t1**2)
    dx = conv.backward(d)
    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-7
    assert (
        relative_error(conv.grad_weights, numerical_gradient(loss, conv.weights)) < 1e-7
    )


# ---------------------------------------------------------------- PyTorch as an oracle


@pytest.mark.torch
@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 0), (2, 1)])
def test_conv_matches_torch(stride, padding):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    layer = Conv2D(3, 4, 3, stride=stride, padding=padding, seed=0, dtype=np.float64)
    layer.bias[:] = rng.normal(size=4)
    x = rng.normal(size=(2, 3, 9, 8))
    out = layer.forward(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)

    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.weights, requires_grad=True)
    tb = torch.tensor(layer.bias, requires_grad=True)
    tout = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding)
    tout.backward(torch.tensor(upstream))
    assert np.allclose(out, tout.detach().numpy(), atol=1e-12)
    assert np.allclose(dx, tx.grad.numpy(), atol=1e-12)
    assert np.allclose(layer.grad_weights, tw.grad.numpy(), atol=1e-12)
    assert np.allclose(layer.grad_bias, tb.grad.numpy(), atol=1e-12)


@pytest.mark.torch
def test_maxpool_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    x = rng.normal(size=(2, 3, 6, 8))
    pool = MaxPool2D(2)
    out = pool.forward(x)
    upstream = rng.normal(size=out.shape)
    dx = pool.backward(upstream)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.max_pool2d(tx, 2)
    tout.backward(torch.tensor(upstream))
    assert np.allclose(out, tout.detach().numpy())
    assert np.allclose(dx, tx.grad.numpy())
