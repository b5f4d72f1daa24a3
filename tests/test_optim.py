"""Momentum and Adam (chapter 10) step by step against their formulas, against PyTorch,
and their argument checks."""

import numpy as np
import pytest

from nnscratch import SGD, NeuralNetwork, ParamPair, Softmax
from nnscratch.optim import Adam, Momentum
from nnscratch.validation import check_fraction

# Three steps' worth of gradients for one weight matrix (2, 3) and one bias (1, 3).
RNG = np.random.default_rng(0)
W0, B0 = RNG.normal(size=(2, 3)), RNG.normal(size=(1, 3))
GRADS = [(RNG.normal(size=(2, 3)), RNG.normal(size=(1, 3))) for _ in range(3)]


def run(make_optimizer, grads=GRADS, w0=W0, b0=B0):
    """Step an optimizer over (w, b) with the given gradients; return the positions
    after each step."""
    w, b = w0.copy(), b0.copy()
    gw, gb = np.zeros_like(w), np.zeros_like(b)
    opt = make_optimizer(
        [ParamPair(w, gw), ParamPair(b, gb, decay=False)]
    )  # as Layer.parameters() marks them
    positions = []
    for grad_w, grad_b in grads:
        gw[...], gb[...] = (
            grad_w,
            grad_b,
        )  # gradients are written in place, as layers do
        opt.step()
        positions.append((w.copy(), b.copy()))
    return positions


# ---------------------------------------------------------------- Momentum


def test_momentum_hand_computed_scalar():
    # g = 1, 2, -1; lr = 0.1, mu = 0.5:
    # v1 = 1            w1 = 0 - 0.1 * 1     = -0.1
    # v2 = 0.5 + 2 = 2.5     w2 = -0.1 - 0.25   = -0.35
    # v3 = 1.25 - 1 = 0.25   w3 = -0.35 - 0.025 = -0.375
    w, g = np.array([0.0]), np.array([0.0])
    opt = Momentum([(w, g)], learning_rate=0.1, momentum=0.5)
    seen = []
    for grad in (1.0, 2.0, -1.0):
        g[0] = grad
        opt.step()
        seen.append(w[0])
    assert np.allclose(seen, [-0.1, -0.35, -0.375], rtol=0, atol=1e-15)
    assert np.allclose(opt.velocities[0], 0.25)


def test_momentum_matches_formula_over_three_steps_weights_and_biases():
    lr, mu = 0.05, 0.9
    got = run(lambda p: Momentum(p, learning_rate=lr, momentum=mu))
    (w, b), (vw, vb) = (W0.copy(), B0.copy()), (np.zeros_like(W0), np.zeros_like(B0))
    for (gw, gb), (got_w, got_b) in zip(GRADS, got):
        vw, vb = mu * vw + gw, mu * vb + gb
        w, b = w - lr * vw, b - lr * vb
        np.testing.assert_allclose(got_w, w, rtol=1e-13)
        np.testing.assert_allclose(got_b, b, rtol=1e-13)


def test_momentum_zero_is_sgd():
    assert all(
        np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        for a, b in zip(
            run(lambda p: Momentum(p, 0.1, momentum=0.0)), run(lambda p: SGD(p, 0.1))
        )
    )


def test_momentum_new_learning_rate_scales_the_whole_velocity():
    # PyTorch's form: after a change of rate, the step is new_lr * v (the whole
    # accumulated velocity).
    w, g = np.array([0.0]), np.array([1.0])
    opt = Momentum([(w, g)], learning_rate=0.1, momentum=0.9)
    opt.step()  # v = 1, w = -0.1
    opt.learning_rate = 0.01
    opt.step()  # v = 1.9, w = -0.1 - 0.019
    assert np.isclose(w[0], -0.119)


def test_momentum_updates_in_place_and_keeps_dtype():
    net = NeuralNetwork(3, 2, 4, 1, head_activation=Softmax, seed=0)
    arrays = [param for param, _ in net.parameters()]
    for _, grad in net.parameters():
        grad[...] = 1.0
    Momentum(net.parameters(), 0.1).step()
    assert all(a is p for a, (p, _) in zip(arrays, net.parameters()))
    assert all(p.dtype == np.float32 for p in arrays)
    assert np.allclose(net.layers[0].bias, -0.1)


# ---------------------------------------------------------------- Adam


def adam_reference(
    learning_rate=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0
):
    """Kingma & Ba's algorithm written out independently, with AdamW decay on the
    weight only."""
    lr, params, states, out = (
        learning_rate,
        [W0.copy(), B0.copy()],
        [[0.0, 0.0], [0.0, 0.0]],
        [],
    )
    for t, grads in enumerate(GRADS, start=1):
        for i, g in enumerate(grads):
            if i == 0:  # the (2, 3) weight; the bias is (1, 3)
                params[i] = params[i] * (1 - lr * weight_decay)
            m = beta1 * states[i][0] + (1 - beta1) * g
            v = beta2 * states[i][1] + (1 - beta2) * g**2
            states[i] = [m, v]
            m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
            params[i] = params[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append((params[0].copy(), params[1].copy()))
    return out


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"learning_rate": 0.01, "beta1": 0.5, "beta2": 0.9, "eps": 1e-3},
        {"learning_rate": 0.01, "weight_decay": 0.1},
        {"beta1": 0.0},
    ],
)
def test_adam_matches_formula_over_three_steps(kwargs):
    got = run(lambda p: Adam(p, **kwargs))
    for (w, b), (ref_w, ref_b) in zip(got, adam_reference(**kwargs)):
        np.testing.assert_allclose(w, ref_w, rtol=1e-12)
        np.testing.assert_allclose(b, ref_b, rtol=1e-12)


def test_adam_hand_computed_scalar():
    # g = 1 then -1, lr = 0.1, default betas, eps = 0:
    # step 1: m = 0.1, v = 0.001, m_hat = 1, v_hat = 1                  -> w = -0.1
    # step 2: m = 0.09 - 0.1 = -0.01, v = 0.000999 + 0.001 = 0.001999,
    #         m_hat = -0.01 / 0.19, v_hat = 0.001999 / 0.001999 = 1
    #         -> w = -0.1 + 0.1 / 19
    w, g = np.array([0.0]), np.array([1.0])
    opt = Adam([(w, g)], learning_rate=0.1, eps=1e-300)
    opt.step()
    assert np.isclose(w[0], -0.1, rtol=1e-12)
    g[0] = -1.0
    opt.step()
    assert np.isclose(w[0], -0.1 + 0.1 / 19, rtol=1e-12)
    assert opt.steps == 2


def test_adam_first_step_is_learning_rate_times_sign():
    # bias correction is exact on step 1: the step is lr * g / (|g| + eps), whatever |g|
    g = np.array([[1e-4, -3.0, 250.0], [-7e3, 0.5, -1e-2]])
    w = np.ones_like(g)
    Adam([(w, g)], learning_rate=0.01, eps=1e-8).step()
    np.testing.assert_allclose(w, 1 - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-14)
    np.testing.assert_allclose(w, 1 - 0.01 * np.sign(g), rtol=1e-5)


def test_adam_eps_is_outside_the_square_root():
    w, g = np.array([0.0]), np.array([1e-4])
    Adam([(w, g)], learning_rate=1.0, eps=1e-4).step()
    assert np.isclose(
        w[0], -1e-4 / (1e-4 + 1e-4)
    )  # inside the root it would be -1e-4/sqrt(1e-8+1e-4)


def test_adam_weight_decay_shrinks_weights_only():
    # zero gradients: the Adam step is 0, so only the decoupled decay moves anything
    w, b = np.full((2, 3), 2.0), np.full((1, 3), 2.0)
    opt = Adam(
        [ParamPair(w, np.zeros_like(w)), ParamPair(b, np.zeros_like(b), decay=False)],
        learning_rate=0.1,
        weight_decay=0.5,
    )
    for _ in range(3):
        opt.step()
    np.testing.assert_allclose(w, 2.0 * (1 - 0.1 * 0.5) ** 3)
    np.testing.assert_array_equal(b, 2.0)


def test_adam_weight_decay_is_decoupled_not_l2():
    # L2 in the gradient would be rescaled by Adam; decoupled decay is not. They must
    # differ.
    decoupled = run(lambda p: Adam(p, learning_rate=0.01, weight_decay=0.1))[-1][0]
    w, gw = W0.copy(), np.zeros_like(W0)
    opt = Adam([(w, gw)], learning_rate=0.01)
    for grad_w, _ in GRADS:
        gw[...] = grad_w + 0.1 * w
        opt.step()
    assert not np.allclose(decoupled, w, rtol=1e-6)


def test_adam_keeps_float32_and_learning_rate_is_settable():
    net = NeuralNetwork(3, 2, 4, 1, head_activation=Softmax, seed=0)
    for _, grad in net.parameters():
        grad[...] = 0.5
    opt = Adam(net.parameters())
    opt.learning_rate = 0.1
    opt.step()
    assert all(p.dtype == np.float32 for p, _ in net.parameters())
    assert np.allclose(net.layers[0].bias, -0.1, rtol=1e-4)


# ---------------------------------------------------------------- bad hyperparameters

PAIRS = [(np.zeros((2, 2)), np.zeros((2, 2)))]
BAD_RATES = [
    (0, ValueError),
    (-0.1, ValueError),
    (float("nan"), ValueError),
    (float("inf"), ValueError),
    ("0.1", TypeError),
    (True, TypeError),
    (None, TypeError),
]
BAD_FRACTIONS = [
    (1, ValueError),
    (1.0, ValueError),
    (-0.1, ValueError),
    (float("nan"), ValueError),
    ("0.9", TypeError),
    (True, TypeError),
    (None, TypeError),
]


@pytest.mark.parametrize("value, error", BAD_RATES)
@pytest.mark.parametrize(
    "make",
    [lambda lr: Momentum(PAIRS, lr), lambda lr: Adam(PAIRS, learning_rate=lr)],
    ids=["Momentum", "Adam"],
)
def test_bad_learning_rate(make, value, error):
    with pytest.raises(error, match="learning_rate"):
        make(value)


@pytest.mark.parametrize("value, error", BAD_FRACTIONS)
@pytest.mark.parametrize("name", ["momentum", "beta1", "beta2"])
def test_bad_fraction(name, value, error):
    with pytest.raises(error, match=name):
        Momentum(PAIRS, 0.1, momentum=value) if name == "momentum" else Adam(
            PAIRS, **{name: value}
        )


@pytest.mark.parametrize(
    "value, error",
    [
        (0, ValueError),
        (-1e-8, ValueError),
        (float("inf"), ValueError),
        (float("nan"), ValueError),
        ("1e-8", TypeError),
    ],
)
def test_bad_eps(value, error):
    with pytest.raises(error, match="eps"):
        Adam(PAIRS, eps=value)


@pytest.mark.parametrize(
    "value, error",
    [
        (-1e-4, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        ("0.01", TypeError),
        (None, TypeError),
    ],
)
def test_bad_weight_decay(value, error):
    with pytest.raises(error, match="weight_decay"):
        Adam(PAIRS, weight_decay=value)


def test_good_edge_values_are_accepted():
    opt = Adam(
        PAIRS,
        learning_rate=np.float32(0.5),
        beta1=0,
        beta2=np.float64(0.5),
        weight_decay=0,
    )
    assert (opt.beta1, opt.beta2, opt.weight_decay) == (0.0, 0.5, 0.0)
    assert Momentum(PAIRS, 1e-6, momentum=0).momentum == 0.0


def test_check_fraction():
    assert check_fraction(np.float32(0.25), "x") == 0.25 and isinstance(
        check_fraction(0, "x"), float
    )
    with pytest.raises(ValueError, match=r"rho must be a number in \[0, 1\), got 1"):
        check_fraction(1, "rho")
    with pytest.raises(TypeError, match="rho .* of type str"):
        check_fraction("0.5", "rho")


# ------------------------------------------ in place, no temporary arrays (issue 16)


@pytest.mark.parametrize(
    "make",
    [lambda p: Momentum(p, 0.01), lambda p: Adam(p, weight_decay=1e-4)],
    ids=["Momentum", "Adam"],
)
def test_step_allocates_no_array(make):
    """A step writes into arrays made once (tracemalloc sees NumPy's arrays too)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    w, b = (
        rng.normal(size=(784, 128)).astype(np.float32),
        np.zeros((1, 128), np.float32),
    )
    gw, gb = rng.normal(size=w.shape).astype(np.float32), np.ones_like(b)
    opt = make([ParamPair(w, gw), ParamPair(b, gb, decay=False)])
    opt.step()
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024, f"a step allocated {peak} bytes; the weight holds {w.nbytes}"
    assert w.dtype == b.dtype == np.float32


def test_adam_scratch_does_not_leak_into_the_next_parameter():
    """The scratch arrays are per parameter: stepping two parameters equals stepping
    each alone."""
    together = run(lambda p: Adam(p, learning_rate=0.01, weight_decay=0.1))
    w, gw = W0.copy(), np.zeros_like(W0)
    opt = Adam([(w, gw)], learning_rate=0.01, weight_decay=0.1)
    for (grad_w, _), (got_w, _) in zip(GRADS, together):
        gw[...] = grad_w
        opt.step()
        np.testing.assert_array_equal(w, got_w)


# ---------------------------------------------------- PyTorch as an oracle (`torch`)


def _torch_run(torch, make_optimizer, steps=20):
    """Positions of (W0, B0) under a torch optimizer, with the gradients of _our_run."""
    w, b = torch.tensor(W0, requires_grad=True), torch.tensor(B0, requires_grad=True)
    opt = make_optimizer(torch, w, b)
    rng, out = np.random.default_rng(1), []
    for _ in range(steps):
        w.grad, b.grad = (
            torch.tensor(rng.normal(size=W0.shape)),
            torch.tensor(rng.normal(size=B0.shape)),
        )
        opt.step()
        out.append((w.detach().numpy().copy(), b.detach().numpy().copy()))
    return out


def _our_run(make_optimizer, steps=20):
    rng = np.random.default_rng(1)
    grads = [
        (rng.normal(size=W0.shape), rng.normal(size=B0.shape)) for _ in range(steps)
    ]
    return run(make_optimizer, grads=grads)


@pytest.mark.torch
def test_adamw_follows_torch_adamw(torch):
    theirs = _torch_run(
        torch,
        lambda torch, w, b: torch.optim.AdamW(
            [
                {"params": [w], "weight_decay": 0.1},
                {"params": [b], "weight_decay": 0.0},
            ],
            lr=0.01,
        )
    )
    ours = _our_run(lambda p: Adam(p, learning_rate=0.01, weight_decay=0.1))
    for (w, b), (tw, tb) in zip(ours, theirs):
        np.testing.assert_allclose(w, tw, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, tb, rtol=1e-12, atol=1e-14)


@pytest.mark.torch
def test_momentum_follows_torch_sgd_with_momentum(torch):
    theirs = _torch_run(
        torch,
        lambda torch, w, b: torch.optim.SGD([w, b], lr=0.05, momentum=0.9)
    )
    ours = _our_run(lambda p: Momentum(p, learning_rate=0.05, momentum=0.9))
    for (w, b), (tw, tb) in zip(ours, theirs):
        np.testing.assert_allclose(w, tw, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, tb, rtol=1e-12, atol=1e-14)
