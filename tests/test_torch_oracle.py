"""PyTorch as an oracle: nnscratch's optimizers, losses and layers against torch's.

Everything runs in float64 on both sides, so the two agree to rounding error. The tests
carry the marker `torch`: without torch they skip, except under CI=true, where they fail
(tests/conftest.py); .ci/run installs torch.
"""

import numpy as np
import pytest

from nnscratch.activations import Relu, Sigmoid, Softmax, Tanh
from nnscratch.layers import Layer, ParamPair
from nnscratch.losses import CrossEntropyLoss, MeanSquaredErrorLoss, one_hot
from nnscratch.optim import SGD, Adam, Momentum

pytestmark = pytest.mark.torch

STEPS = 6
RTOL, ATOL = 1e-10, 1e-12


def close(ours, theirs, rtol=RTOL, atol=ATOL):
    """True if an ndarray equals a torch tensor (or array) to rounding error."""
    theirs = (
        theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    )
    return ours.shape == theirs.shape and np.allclose(
        ours, theirs, rtol=rtol, atol=atol
    )


def weight_and_bias(seed=0):
    """A (3, 4) weight and a (1, 4) bias in float64, and their (zero) gradient
    arrays."""
    rng = np.random.default_rng(seed)
    weight, bias = rng.normal(size=(3, 4)), rng.normal(size=(1, 4))
    return weight, bias, np.zeros_like(weight), np.zeros_like(bias)


def run_both(torch, make_ours, make_theirs, seed=0):
    """Take STEPS steps with the same random gradients in both; return (ours, theirs).

    make_ours(pairs) -> an nnscratch optimizer; make_theirs(weight, bias) -> a torch one
    for the two leaf tensors. The weight decays, the bias does not (ParamPair's decay).
    """
    weight, bias, grad_weight, grad_bias = weight_and_bias(seed)
    t_weight = torch.tensor(weight, requires_grad=True)
    t_bias = torch.tensor(bias, requires_grad=True)
    ours = make_ours(
        [ParamPair(weight, grad_weight), ParamPair(bias, grad_bias, decay=False)]
    )
    theirs = make_theirs(t_weight, t_bias)
    rng = np.random.default_rng(seed + 1)
    for step in range(STEPS):
        for array, grad, tensor in (
            (weight, grad_weight, t_weight),
            (bias, grad_bias, t_bias),
        ):
            # in place: the optimizer holds it
            grad[...] = rng.normal(size=grad.shape)
            tensor.grad = torch.tensor(grad.copy())
        ours.step()
        theirs.step()
        assert close(weight, t_weight) and close(bias, t_bias), (
            f"differ after step {step + 1}"
        )
    return weight, t_weight


def test_sgd_with_weight_decay_on_weights_only_matches_torch(torch):
    lr, decay = 0.1, 0.05
    run_both(
        torch,
        lambda pairs: SGD(pairs, learning_rate=lr, weight_decay=decay),
        lambda w, b: torch.optim.SGD(
            [
                {"params": [w], "weight_decay": decay},
                {"params": [b], "weight_decay": 0.0},
            ],
            lr=lr,
        ),
    )


def test_sgd_without_weight_decay_matches_torch(torch):
    run_both(
        torch,
        lambda pairs: SGD(pairs, learning_rate=0.3),
        lambda w, b: torch.optim.SGD([w, b], lr=0.3),
    )


def test_momentum_matches_torch_sgd_with_momentum(torch):
    # nnscratch uses PyTorch's form: v <- mu * v + g, param <- param - lr * v
    run_both(
        torch,
        lambda pairs: Momentum(pairs, learning_rate=0.05, momentum=0.9),
        lambda w, b: torch.optim.SGD([w, b], lr=0.05, momentum=0.9),
    )


@pytest.mark.parametrize("betas, eps", [((0.9, 0.999), 1e-8), ((0.8, 0.99), 1e-3)])
def test_adam_matches_torch(torch, betas, eps):
    run_both(
        torch,
        lambda pairs: Adam(
            pairs, learning_rate=0.01, beta1=betas[0], beta2=betas[1], eps=eps
        ),
        lambda w, b: torch.optim.Adam([w, b], lr=0.01, betas=betas, eps=eps),
    )


def test_adam_weight_decay_is_adamw_on_weights_only(torch):
    lr, decay = 0.01, 0.1
    run_both(
        torch,
        lambda pairs: Adam(pairs, learning_rate=lr, weight_decay=decay),
        lambda w, b: torch.optim.AdamW(
            [
                {"params": [w], "weight_decay": decay},
                {"params": [b], "weight_decay": 0.0},
            ],
            lr=lr,
        ),
    )


def test_adam_weight_decay_is_not_torch_adams_l2_penalty(torch):
    """The decoupled decay really differs from Adam's coupled one (else the test above
    is moot)."""
    lr, decay = 0.01, 0.1
    with pytest.raises(AssertionError, match="differ after step"):
        run_both(
            torch,
            lambda pairs: Adam(pairs, learning_rate=lr, weight_decay=decay),
            lambda w, b: torch.optim.Adam(
                [
                    {"params": [w], "weight_decay": decay},
                    {"params": [b], "weight_decay": 0.0},
                ],
                lr=lr,
            ),
        )


def classification_batch(seed=0, n=8, classes=5):
    """Logits (n, classes), integer labels (n,), softmax probabilities and one-hot
    rows."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, classes))
    labels = rng.integers(0, classes, size=n)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (
        logits,
        labels,
        shifted / shifted.sum(axis=1, keepdims=True),
        one_hot(labels, classes),
    )


def test_cross_entropy_of_probabilities_is_torch_cross_entropy_of_logits(torch):
    logits, labels, probs, targets = classification_batch()
    t_logits = torch.tensor(logits, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.tensor(labels))
    t_loss.backward()
    assert CrossEntropyLoss.loss(probs, targets) == pytest.approx(
        t_loss.item(), rel=1e-12
    )
    # the fused gradient dL/dz of softmax + cross-entropy is torch's gradient for the
    # logits
    assert close(CrossEntropyLoss.logits_grad(probs, targets), t_logits.grad)


def test_cross_entropy_gradient_for_the_probabilities_matches_torch(torch):
    _, labels, probs, targets = classification_batch(seed=1)
    t_probs = torch.tensor(probs, requires_grad=True)
    torch.nn.functional.nll_loss(torch.log(t_probs), torch.tensor(labels)).backward()
    assert close(CrossEntropyLoss.grad(probs, targets), t_probs.grad)


def test_mean_squared_error_is_torchs_mean_over_every_entry(torch):
    rng = np.random.default_rng(2)
    y_pred, y_true = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    t_pred = torch.tensor(y_pred, requires_grad=True)
    t_loss = torch.nn.functional.mse_loss(
        t_pred, torch.tensor(y_true), reduction="mean"
    )
    t_loss.backward()
    assert MeanSquaredErrorLoss.loss(y_pred, y_true) == pytest.approx(
        t_loss.item(), rel=1e-12
    )
    assert close(MeanSquaredErrorLoss.grad(y_pred, y_true), t_pred.grad)


TORCH_ACTIVATIONS = {Relu: "relu", Tanh: "tanh", Sigmoid: "sigmoid", None: None}


@pytest.mark.parametrize(
    "activation", TORCH_ACTIVATIONS, ids=lambda a: getattr(a, "__name__", "linear")
)
def test_dense_layer_forward_and_backward_match_torch_linear(torch, activation):
    rng = np.random.default_rng(3)
    layer = Layer(5, 4, activation, dtype=np.float64, seed=0)
    layer.bias[...] = rng.normal(size=layer.bias.shape)  # not just zeros
    x, d_out = rng.normal(size=(6, 5)), rng.normal(size=(6, 4))
    linear = torch.nn.Linear(5, 4, dtype=torch.float64)
    # torch keeps the weight as (out, in): transpose
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(layer.weights.T))
        linear.bias.copy_(torch.tensor(layer.bias[0]))
    t_x = torch.tensor(x, requires_grad=True)
    t_out = linear(t_x)
    if TORCH_ACTIVATIONS[activation]:
        t_out = getattr(torch, TORCH_ACTIVATIONS[activation])(t_out)
    assert close(layer.forward(x), t_out)
    t_out.backward(torch.tensor(d_out))
    assert close(layer.backward(d_out), t_x.grad)
    assert close(layer.grad_weights, linear.weight.grad.T)
    assert close(layer.grad_bias, linear.bias.grad.reshape(1, -1))


def test_softmax_layer_matches_torch_softmax(torch):
    rng = np.random.default_rng(4)
    x, d_out = rng.normal(scale=4.0, size=(6, 5)), rng.normal(size=(6, 5))
    softmax = Softmax()
    t_x = torch.tensor(x, requires_grad=True)
    t_out = torch.softmax(t_x, dim=1)
    assert close(softmax.forward(x), t_out)
    t_out.backward(torch.tensor(d_out))
    assert close(softmax.backward(d_out), t_x.grad)
