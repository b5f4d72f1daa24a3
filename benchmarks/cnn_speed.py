"""One training epoch of chapter 15's small CNN: nnscratch vs PyTorch on the CPU.

    .venv/bin/python benchmarks/cnn_speed.py             # about a minute on 2 cores
    .venv/bin/python benchmarks/cnn_speed.py --rounds 7  # more rounds, steadier medians

The network (book/15_convolution.ipynb): Conv2D(1, 8, 3, padding=1) -> ReLU ->
MaxPool2D(2) -> Conv2D(8, 16, 3, padding=1) -> ReLU -> MaxPool2D(2) -> Flatten ->
dense 784 -> 10 -> softmax, cross-entropy, SGD with learning rate 0.05, batch 64,
float32, He-initialised convolutions. One epoch is one pass over N_TRAIN MNIST-shaped
synthetic images (pixels in [0, 1], ten classes), so no download is needed.

Both implementations run in the same process, one epoch each in turn (after a warm-up
epoch each); the script prints the median epoch time of each and their ratio
`nnscratch / torch`. It also prints where nnscratch's time goes: each layer's share of
the forward and backward time, and, for the second convolution, the time of im2col, of
the matrix products and of col2im per batch. Without torch it prints a note and the
nnscratch times alone. Nothing is asserted: the numbers depend on the machine and on
its load.

nnscratch's loop is written out here (forward through the layers, the fused softmax
and cross-entropy gradient CrossEntropyLoss.logits_grad, backward in reverse,
SGD.step): the steps of nnscratch.train. PyTorch gets nn.Sequential, F.cross_entropy
on the logits and torch.optim.SGD.

Threads: both run on `--threads` threads (default 1), NumPy's BLAS through
threadpoolctl and PyTorch through torch.set_num_threads. On a shared 2-core machine
whose cores were busy, PyTorch on 2 threads was 10 to 20 times slower than on 1 (its
threads wait for each other), and the small products of this network gain little from
a second BLAS thread: one thread each is the fair default.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(
    0, str(Path(__file__).resolve().parent.parent)
)  # run from a checkout without installing

from nnscratch import SGD, CrossEntropyLoss, Layer, Relu, Softmax, one_hot  # noqa: E402
from nnscratch.conv import Conv2D, Flatten, MaxPool2D, col2im, im2col  # noqa: E402

N_TRAIN, BATCH_SIZE, LEARNING_RATE, SEED = 10_000, 64, 0.05, 0


def make_data(n, rng):
    """Float32 images (n, 1, 28, 28) in [0, 1], mostly zeros, and one-hot targets."""
    images = rng.random((n, 1, 28, 28), dtype=np.float32)
    images[images < 0.8] = 0.0
    labels = rng.integers(0, 10, n)
    return images, one_hot(labels, 10).astype(np.float32), labels


def nnscratch_model(rng):
    """The chapter's CNN as a list of nnscratch layers (the first one skips dL/dx)."""
    layers = [
        Conv2D(1, 8, 3, padding=1, init="he", rng=rng),
        Relu(),
        MaxPool2D(2),
        Conv2D(8, 16, 3, padding=1, init="he", rng=rng),
        Relu(),
        MaxPool2D(2),
        Flatten(),
        Layer(16 * 7 * 7, 10, rng=rng),
        Softmax(),
    ]
    layers[0].needs_input_grad = False
    return layers


def nnscratch_epoch(layers, optimizer, X, Y, order, timings=None):
    """One epoch in `order`; a dict `timings` collects each layer's seconds."""
    for start in range(0, len(order), BATCH_SIZE):
        rows = order[start : start + BATCH_SIZE]
        x = X[rows]
        for i, layer in enumerate(layers):
            t = time.perf_counter()
            x = layer.forward(x)
            if timings is not None:
                timings[(i, "forward")] = (
                    timings.get((i, "forward"), 0) + time.perf_counter() - t
                )
        grad = CrossEntropyLoss.logits_grad(x, Y[rows])  # dL/dz of the softmax head
        for i in range(len(layers) - 2, -1, -1):  # the head's softmax is fused
            t = time.perf_counter()
            grad = layers[i].backward(grad)
            if timings is not None:
                timings[(i, "backward")] = (
                    timings.get((i, "backward"), 0) + time.perf_counter() - t
                )
        optimizer.step()


def torch_setup(torch, threads):
    """The same CNN, loss and optimizer in PyTorch: (model, optimizer, epoch)."""
    nn = torch.nn
    torch.manual_seed(SEED)
    torch.set_num_threads(threads)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    )
    for module in model:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def epoch(X, y, order):
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(X[rows]), y[rows])
            loss.backward()
            optimizer.step()

    return model, optimizer, epoch


def blas_threads():
    """The number of threads NumPy's BLAS uses (threadpoolctl), or None if unknown."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [
        pool["num_threads"]
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    ]
    return max(counts) if counts else None


def conv_breakdown(layers, X, repeats=20):
    """Seconds per batch of the second convolution's im2col, products, col2im."""
    conv = layers[3]
    x = np.zeros((BATCH_SIZE, 8, 14, 14), np.float32)
    x[:] = X[:BATCH_SIZE, :, ::2, ::2]  # any 8-channel 14 x 14 input will do
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    w = conv.weights.reshape(16, -1)
    cols = im2col(padded, 3)
    delta = np.ones((BATCH_SIZE, 16, cols.shape[2]), np.float32)
    d_cols = np.matmul(w.T, delta)
    pieces = {
        "im2col": lambda: im2col(padded, 3),
        "products (forward, dW, d_cols)": lambda: (
            np.matmul(w, cols),
            np.matmul(delta, cols.transpose(0, 2, 1)).sum(axis=0),
            np.matmul(w.T, delta),
        ),
        "col2im": lambda: col2im(d_cols, padded.shape, 3),
    }
    result = {}
    for name, piece in pieces.items():
        piece()
        start = time.perf_counter()
        for _ in range(repeats):
            piece()
        result[name] = (time.perf_counter() - start) / repeats
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=5, help="timed epochs per implementation"
    )
    parser.add_argument("--n-train", type=int, default=N_TRAIN, help="images per epoch")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=args.threads, user_api="blas"):
        run_benchmark(args)


def run_benchmark(args):
    """Time the epochs and print the results (inside main's thread limit)."""
    rng = np.random.default_rng(SEED)
    X, Y, labels = make_data(args.n_train, rng)
    threads = blas_threads()
    print(
        f"CNN epoch: {args.n_train:,} images 1x28x28, batch {BATCH_SIZE}, "
        f"SGD {LEARNING_RATE}; "
        f"NumPy {np.__version__}, BLAS threads: {threads}"
    )

    layers = nnscratch_model(np.random.default_rng(SEED))
    optimizer = SGD(
        [
            pair
            for layer in layers
            if hasattr(layer, "parameters")
            for pair in layer.parameters()
        ],
        LEARNING_RATE,
    )
    runners = {
        "nnscratch": lambda order: nnscratch_epoch(layers, optimizer, X, Y, order)
    }
    try:
        import torch
    except ImportError:
        torch = None
        print(
            "torch is not installed: timing nnscratch alone "
            "(.venv/bin/pip install -r benchmarks/requirements.txt for the comparison)"
        )
    if torch is not None:
        _, _, torch_epoch = torch_setup(torch, args.threads)
        tX, ty = torch.from_numpy(X), torch.from_numpy(labels)
        runners["torch"] = lambda order: torch_epoch(tX, ty, torch.from_numpy(order))
        print(f"torch {torch.__version__}, threads: {torch.get_num_threads()}")

    times = {name: [] for name in runners}
    for name, run in runners.items():  # warm-up epoch, not timed
        run(rng.permutation(args.n_train))
    for _ in range(args.rounds):
        for name, run in runners.items():  # alternate, so that load hits both
            order = rng.permutation(args.n_train)
            start = time.perf_counter()
            run(order)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(
            f"{name:10s} median {medians[name]:.3f} s/epoch   (epochs: "
            + ", ".join(f"{v:.3f}" for v in values)
            + ")"
        )

    timings = {}
    nnscratch_epoch(layers, optimizer, X, Y, rng.permutation(args.n_train), timings)
    total = sum(timings.values())
    print("\nnnscratch, share of the epoch's layer time:")
    for (i, direction), seconds in sorted(timings.items(), key=lambda kv: -kv[1]):
        if seconds / total >= 0.01:
            print(
                f"  {i}: {type(layers[i]).__name__:9s} {direction:8s} "
                f"{seconds / total:6.1%}"
            )
    print(
        "second convolution, per batch:",
        ", ".join(
            f"{name} {seconds * 1e3:.2f} ms"
            for name, seconds in conv_breakdown(layers, X).items()
        ),
    )
    if "torch" in medians:
        print(f"\nnnscratch / torch = {medians['nnscratch'] / medians['torch']:.2f}")


if __name__ == "__main__":
    main()
