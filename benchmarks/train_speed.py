"""Training speed on MNIST-shaped data: nnscratch vs the naive start vs PyTorch CPU.

    .venv/bin/python benchmarks/train_speed.py             # a few minutes on 2 cores
    .venv/bin/python benchmarks/train_speed.py --rounds 9  # more rounds, steadier
    .venv/bin/python benchmarks/train_speed.py --threads 1 # one thread for all

The seed recipe: 784-32-32-10, ReLU hidden layers, softmax + cross-entropy, batch 64,
SGD with learning rate 0.05, one epoch over 56,000 rows followed by the loss on 14,000
evaluation rows. The data are synthetic but MNIST-shaped (pixels in [0, 1], ten
classes), so no download is needed.

The implementations run in the same process, one epoch each in turn (after a warm-up
epoch each), and the script reports the median epoch time of each:

  nnscratch  `nnscratch.train(..., epochs=1)`, float32, the library as the book builds
             it;
  naive      `nnscratch.reference`, the naive loop the book starts from, with the
             habits of the blog post the book started from (float64 data, a shuffled
             copy of the data every epoch, fresh arrays every step, each layer updating
             itself on the way back, softmax and cross-entropy as two steps);
  torch      nn.Sequential(Linear, ReLU, ...), CrossEntropyLoss on logits,
             torch.optim.SGD, float32, batches taken by indexing (no DataLoader), as
             many threads as NumPy's BLAS uses.

With --threads N, NumPy's BLAS and torch both use N threads (on a machine shared with
other work, one thread each gives steadier comparisons: a BLAS thread that waits for a
descheduled partner can slow an epoch down many times).

Two yardsticks run in the same rotation:

  nnscratch on 1 BLAS thread   the same `train`, inside threadpool_limits(1);
  skeleton   what any NumPy loop of this recipe must at least do: gather each batch
             (rows and targets) into buffers and run the step's eight matrix products,
             then the evaluation's three; no bias, activation, loss or update, so it
             learns nothing.

A third yardstick learns:

  lean       `nnscratch.reference.LeanLoop` (chapter 20), the leanest NumPy loop we know
             for this recipe: one NumPy call per operation, in place where it can, no
             layer objects and no checks; it starts from nnscratch's initial weights. A
             target below its ratio is out of reach of any NumPy loop we know how to
             write, the library included.

The improved recipe of the book's part "Training better" runs in the same rotation, in
nnscratch, in the lean loop and in PyTorch: 784-128-128-10, He initialisation (normal,
std sqrt(2/fan_in), zero biases; torch's kaiming_normal_), dropout 0.2 after each hidden
ReLU, Adam with learning rate 0.001 (torch.optim.Adam), batch 64, the evaluation loss
without dropout.

It also prints the FLOP floor (the epoch's arithmetic at the rate of one big float32
matmul), the peak memory of a process that only trains with nnscratch, the memory
`predict` needs beyond its output on 200,000 x 784 float64 rows (in a child process:
tracemalloc, which sees NumPy's arrays, and the growth of the peak RSS), and the BLAS
NumPy uses. The last lines are the ratios `nnscratch / torch`, `nnscratch / naive`,
`nnscratch / skeleton`, `nnscratch / torch` for the improved recipe, and issue 16's
four rows against their targets as a markdown table, with the lean loop's ratio beside
each.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

N_TRAIN, N_EVAL, N_PIXELS, N_CLASSES = 56_000, 14_000, 784, 10
HIDDEN, NUM_HIDDEN = 32, 2
BATCH_SIZE, LEARNING_RATE = 64, 0.05
SIZES = [N_PIXELS] + [HIDDEN] * NUM_HIDDEN + [N_CLASSES]
# The improved recipe: wider layers, He initialisation, dropout, Adam.
BETTER_HIDDEN, BETTER_DROPOUT, BETTER_LEARNING_RATE = 128, 0.2, 1e-3
BETTER_SIZES = [N_PIXELS] + [BETTER_HIDDEN] * NUM_HIDDEN + [N_CLASSES]
PREDICT_ROWS = 200_000  # predict's memory is measured on this many float64 rows
# issue 16's targets: ratios of median epoch times, and MiB beyond predict's output
TARGETS = {"seed / torch": 0.40, "seed / skeleton": 1.6, "improved / torch": 0.45,
           "predict MiB": 64}


def make_data(n, strokes, rng):
    """MNIST-shaped float32 images (n, 784) in [0, 1] and integer labels (n,).

    A pixel is inked with probability 0.4 if it belongs to its class's `strokes` (a
    random tenth of the pixels) and 0.15 otherwise, with a random intensity: mostly
    zeros, as in MNIST, and about as hard to learn. Built in chunks, so that no
    temporary the size of the data inflates the peak memory.
    """
    labels = rng.integers(0, N_CLASSES, n)
    X = np.empty((n, N_PIXELS), np.float32)
    for start in range(0, n, 1024):
        chunk, chunk_labels = X[start:start + 1024], labels[start:start + 1024]
        u = rng.random(chunk.shape, dtype=np.float32)
        inked = np.where(strokes[chunk_labels], u < 0.4, u < 0.15)
        rng.random(chunk.shape, dtype=np.float32, out=chunk)  # intensities...
        chunk *= inked  # ...where inked, 0 elsewhere
    return X, labels


def one_hot32(labels):
    out = np.zeros((labels.size, N_CLASSES), np.float32)
    out[np.arange(labels.size), labels] = 1.0
    return out


def dataset(seed=0):
    rng = np.random.default_rng(seed)
    strokes = rng.random((N_CLASSES, N_PIXELS)) < 0.1
    X, labels = make_data(N_TRAIN, strokes, rng)
    X_eval, labels_eval = make_data(N_EVAL, strokes, rng)
    return X, labels, X_eval, labels_eval


# --- the implementations: each returns a function that runs one epoch ----------------

def nnscratch_epoch(X, labels, X_eval, labels_eval, seed=1):
    import nnscratch as nn

    Y, Y_eval = one_hot32(labels), one_hot32(labels_eval)
    model = nn.NeuralNetwork(N_PIXELS, N_CLASSES, HIDDEN, NUM_HIDDEN,
                             head_activation=nn.Softmax, seed=seed)
    rng = np.random.default_rng(seed)
    return lambda: nn.train(model, X, Y, nn.CrossEntropyLoss, 1, BATCH_SIZE,
                            LEARNING_RATE, X_eval, Y_eval, bar=False, rng=rng)


def naive_epoch(X, labels, X_eval, labels_eval, seed=1):
    from nnscratch.reference import (NaiveCrossEntropy, NaiveNetwork, NaiveSoftmax,
                                     naive_train)

    # The naive habit: uint8 pixels divided by 255.0 are float64, and so are the data
    # and the weights.
    X64, X_eval64 = X.astype(np.float64), X_eval.astype(np.float64)
    Y64 = one_hot32(labels).astype(np.float64)
    Y_eval64 = one_hot32(labels_eval).astype(np.float64)
    rng = np.random.default_rng(seed)
    model = NaiveNetwork(N_PIXELS, N_CLASSES, HIDDEN, NUM_HIDDEN,
                         head_activation=NaiveSoftmax, rng=rng)
    return lambda: naive_train(model, X64, Y64, NaiveCrossEntropy, 1, BATCH_SIZE,
                               LEARNING_RATE, X_eval64, Y_eval64, rng=rng)


def lean_epoch(X, labels, X_eval, labels_eval, better=False, seed=1):
    """The leanest NumPy loop of the seed (or, better=True, the improved) recipe, from
    the initial weights of nnscratch's model with the same seed."""
    import nnscratch as nn
    from nnscratch.reference import LeanLoop

    if better:
        model = nn.NeuralNetwork(N_PIXELS, N_CLASSES, BETTER_HIDDEN, NUM_HIDDEN,
                                 init="he", seed=seed)
        options = dict(learning_rate=BETTER_LEARNING_RATE, adam=True,
                       dropout=BETTER_DROPOUT)
    else:
        model = nn.NeuralNetwork(N_PIXELS, N_CLASSES, HIDDEN, NUM_HIDDEN, seed=seed)
        options = dict(learning_rate=LEARNING_RATE)
    dense = [layer for layer in model.layers if isinstance(layer, nn.Layer)]
    lean = LeanLoop([layer.weights for layer in dense], [layer.bias for layer in dense],
                    np.random.default_rng(seed), **options)
    Y, Y_eval = one_hot32(labels), one_hot32(labels_eval)

    def epoch():
        train_loss, eval_loss = lean.epoch(X, Y, X_eval, Y_eval, BATCH_SIZE)
        return [train_loss], [eval_loss]

    return epoch


def torch_epoch(X, labels, X_eval, labels_eval, threads, seed=1):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    layers = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])  # no ReLU after the head: logits
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    return _torch_loop(model, loss_fn, optimizer, X, labels, X_eval, labels_eval, seed)


def nnscratch_better_epoch(X, labels, X_eval, labels_eval, seed=1):
    """The improved recipe in nnscratch; the function returned carries `.model` and
    `.optimizer`."""
    import nnscratch as nn
    from nnscratch.optim import Adam

    Y, Y_eval = one_hot32(labels), one_hot32(labels_eval)
    model = nn.NeuralNetwork(N_PIXELS, N_CLASSES, BETTER_HIDDEN, NUM_HIDDEN,
                             head_activation=nn.Softmax, init="he",
                             dropout=BETTER_DROPOUT, seed=seed)
    optimizer = Adam(model.parameters(), BETTER_LEARNING_RATE)
    rng = np.random.default_rng(seed)

    def epoch():
        return nn.train(model, X, Y, nn.CrossEntropyLoss, 1, BATCH_SIZE, X_test=X_eval,
                        y_test=Y_eval, bar=False, rng=rng, optimizer=optimizer)

    epoch.model, epoch.optimizer = model, optimizer
    return epoch


def torch_better_epoch(X, labels, X_eval, labels_eval, threads, seed=1):
    """The improved recipe in PyTorch; the function returned carries `.model` and
    `.optimizer`."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    layers = []
    for n_in, n_out in zip(BETTER_SIZES[:-1], BETTER_SIZES[1:]):
        linear = torch.nn.Linear(n_in, n_out)
        # normal with std sqrt(2 / n_in)
        torch.nn.init.kaiming_normal_(linear.weight, mode="fan_in", nonlinearity="relu")
        torch.nn.init.zeros_(linear.bias)
        layers += [linear, torch.nn.ReLU(), torch.nn.Dropout(BETTER_DROPOUT)]
    model = torch.nn.Sequential(*layers[:-2])  # the head: no ReLU, no dropout; logits
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=BETTER_LEARNING_RATE)
    epoch = _torch_loop(model, loss_fn, optimizer, X, labels, X_eval, labels_eval, seed)
    epoch.model, epoch.optimizer = model, optimizer
    return epoch


def _torch_loop(model, loss_fn, optimizer, X, labels, X_eval, labels_eval, seed):
    """The epoch function of both torch recipes: batches by indexing a fresh
    permutation, dropout (if any) on for the steps (model.train()) and off for the
    evaluation loss (model.eval())."""
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(labels)
    Xt_eval, yt_eval = torch.from_numpy(X_eval), torch.from_numpy(labels_eval)
    generator = torch.Generator().manual_seed(seed)
    starts = range(0, N_TRAIN, BATCH_SIZE)

    def epoch():
        model.train()
        order = torch.randperm(N_TRAIN, generator=generator)
        batch_losses = np.empty(len(starts))
        for b, start in enumerate(starts):
            rows = order[start:start + BATCH_SIZE]
            optimizer.zero_grad()
            loss = loss_fn(model(Xt[rows]), yt[rows])
            loss.backward()
            optimizer.step()
            batch_losses[b] = loss.item()
        model.eval()
        with torch.no_grad():
            eval_loss = loss_fn(model(Xt_eval), yt_eval).item()
        return [float(batch_losses.mean())], [eval_loss]

    return epoch


def skeleton_epoch(X, labels, X_eval, labels_eval, seed=1):
    from nnscratch.reference import skeleton_epoch as skeleton

    rng = np.random.default_rng(seed)
    Y = one_hot32(labels)
    weights = [(rng.normal(size=(i, o)) / np.sqrt(i)).astype(np.float32)
               for i, o in zip(SIZES[:-1], SIZES[1:])]

    def epoch():
        skeleton(X, Y, X_eval, weights, BATCH_SIZE, rng)
        return [], [float("nan")]  # it learns nothing: no losses to report

    return epoch


def with_blas_threads(epoch, threads):
    from threadpoolctl import threadpool_limits

    def limited():
        with threadpool_limits(threads, user_api="blas"):
            return epoch()

    return limited


# --- reference points ----------------------------------------------------------------

def epoch_flops():
    """(training, evaluation) FLOPs of one epoch, at 2 FLOPs per multiply-add of the
    matmuls: forward x @ W, backward dW = x^T delta for every layer, dx = delta W^T for
    all but the first."""
    pairs = list(zip(SIZES[:-1], SIZES[1:]))
    forward = sum(2 * i * o for i, o in pairs)
    backward = forward + sum(2 * i * o for i, o in pairs[1:])
    return N_TRAIN * (forward + backward), N_EVAL * forward


def gemm_rate(n=2048, repeats=5):
    """The best float32 FLOP rate of one big square np.matmul: about what this BLAS can
    do."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    best = min(timed(lambda: np.matmul(a, a, out=out)) for _ in range(repeats))
    return 2 * n**3 / best


def validation_seconds(data):
    """Best time of the NaN/inf and shape checks nnscratch.train runs on its four
    arrays at every call."""
    from nnscratch.validation import check_array

    X, labels, X_eval, labels_eval = data
    arrays = (X, one_hot32(labels), X_eval, one_hot32(labels_eval))
    return min(timed(lambda: [check_array(a, "a", ndim=2) for a in arrays])
               for _ in range(5))


def predict_memory(rows=None):
    """Memory model.predict needs beyond its output on `rows` x 784 float64 rows
    (default PREDICT_ROWS), as a dict of bytes:

    "seed", "improved": the tracemalloc peak (NumPy's arrays included) minus the
    output, with the seed and the improved recipe's model (float32, as built);
    "rss": the growth of the process's peak RSS during the seed model's predict, minus
    its output (measured first, without tracemalloc).
    """
    import tracemalloc

    import nnscratch as nn

    # float64 rows, as pixels / 255.0 give them
    X = np.random.default_rng(0).random((rows or PREDICT_ROWS, N_PIXELS))
    models = {
        "seed": nn.NeuralNetwork(N_PIXELS, N_CLASSES, HIDDEN, NUM_HIDDEN,
                                 head_activation=nn.Softmax, seed=1),
        "improved": nn.NeuralNetwork(N_PIXELS, N_CLASSES, BETTER_HIDDEN, NUM_HIDDEN,
                                     head_activation=nn.Softmax, init="he",
                                     dropout=BETTER_DROPOUT, seed=1)}
    before = peak_rss_bytes()
    out_bytes = models["seed"].predict(X).nbytes
    result = {"rss": peak_rss_bytes() - before - out_bytes}
    for name, model in models.items():
        tracemalloc.start()
        try:
            out = model.predict(X)
            result[name] = tracemalloc.get_traced_memory()[1] - out.nbytes
        finally:
            tracemalloc.stop()
        del out
    return result


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None, "unknown (threadpoolctl not installed)"
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return None, "unknown"
    b = blas[0]
    settings = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items())
                        if k.startswith("OPENBLAS"))
    return b["num_threads"], (
        f"{b['internal_api']} {b.get('version')} ({b.get('architecture')}), "
        f"{b['num_threads']} threads, {Path(b['filepath']).name}; "
        f"environment: {settings or 'no OPENBLAS_* variables'}")


def child(kind):
    """Run in a fresh interpreter: `bare` imports NumPy only; `nnscratch` trains one
    epoch; `predict` runs predict_memory()."""
    if kind == "predict":
        print(json.dumps(predict_memory()))
        return
    if kind == "nnscratch":
        data = dataset()
        nnscratch_epoch(*data)()
        one_hot_bytes = (N_TRAIN + N_EVAL) * N_CLASSES * 4
        data_bytes = sum(a.nbytes for a in data) + one_hot_bytes
    else:
        data_bytes = 0
    print(json.dumps({"peak_rss": peak_rss_bytes(), "data_bytes": data_bytes}))


def run_child(kind):
    out = subprocess.run([sys.executable, __file__, "--child", kind],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def issue_table(values, lean=None):
    """Issue 16's four rows as a markdown table: this run's value, the target, the lean
    loop's value (from `lean`, the same keys but the last, if given), met?"""
    rows = [
        ("seed recipe (784-32-32-10, SGD) vs PyTorch", "seed / torch",
         "{:.2f}×", "≤ {:.2f}×"),
        ("seed recipe vs the NumPy skeleton (gather + 8 matmuls)", "seed / skeleton",
         "{:.2f}×", "≤ {:.1f}×"),
        ("improved recipe (784-128-128-10, He, dropout 0.2, Adam 1e-3) vs PyTorch",
         "improved / torch", "{:.2f}×", "≤ {:.2f}×"),
        (f"`predict` on {PREDICT_ROWS:,} × {N_PIXELS} float64 rows, memory beyond its "
         "output", "predict MiB", "{:.1f} MiB", "≤ {:.0f} MiB")]
    lines = ["| recipe | this run | target | leanest NumPy loop | met |",
             "|---|---|---|---|---|"]
    for label, key, value, target in rows:
        met = "yes" if values[key] <= TARGETS[key] else "no"
        floor = value.format(lean[key]) if lean and key in lean else "–"
        lines.append(f"| {label} | {value.format(values[key])} | "
                     f"{target.format(TARGETS[key])} | {floor} | {met} |")
    return "\n".join(lines)


def report(args, times, last_eval_loss, threads, blas, rss_bare, rss_nn, predict_mem,
           data):
    """Print the measurements; return issue 16's four values (see TARGETS)."""
    import torch

    median = {name: statistics.median(t) for name, t in times.items()}
    train_flops, eval_flops = epoch_flops()
    rate = gemm_rate()
    floor = (train_flops + eval_flops) / rate
    print(f"MNIST recipe {'-'.join(map(str, SIZES))}, batch {BATCH_SIZE}, "
          f"{N_TRAIN:,} train + {N_EVAL:,} eval rows, median of {args.rounds} epochs "
          "each (after one warm-up)")
    for name in ("nnscratch", "naive", "torch", "lean"):
        spread = f"{min(times[name]):.3f}-{max(times[name]):.3f}"
        print(f"  {name:<10} {median[name]:7.3f} s/epoch   (range {spread}; eval loss "
              f"after {args.rounds + 1} epochs {last_eval_loss[name]:.3f})")
    print(f"  nnscratch on 1 BLAS thread instead of {threads}: "
          f"{median['nnscratch, 1 BLAS thread']:.3f} s/epoch")
    print(f"Improved recipe {'-'.join(map(str, BETTER_SIZES))}, He init, dropout "
          f"{BETTER_DROPOUT}, Adam {BETTER_LEARNING_RATE:g}, batch {BATCH_SIZE}, "
          "same rotation")
    for name in ("nnscratch, better recipe", "torch, better recipe",
                 "lean, better recipe"):
        spread = f"{min(times[name]):.3f}-{max(times[name]):.3f}"
        print(f"  {name.split(',')[0]:<10} {median[name]:7.3f} s/epoch   (range "
              f"{spread}; eval loss after {args.rounds + 1} epochs "
              f"{last_eval_loss[name]:.3f})")
    print(f"FLOP floor: {(train_flops + eval_flops) / 1e9:.2f} GFLOP/epoch "
          f"({train_flops / 1e9:.2f} train + {eval_flops / 1e9:.2f} eval) at "
          f"{rate / 1e9:.1f} GFLOP/s (best 2048^2 float32 matmul) = "
          f"{floor * 1e3:.1f} ms")
    print(f"nnscratch epoch = {median['nnscratch'] / floor:.2f} x FLOP floor")
    print(f"  (of which {validation_seconds(data) * 1e3:.0f} ms is train()'s input "
          "check, a pass over the data paid once per call: here every epoch is its "
          "own call)")
    print("skeleton epoch (gather + matmuls only, learns nothing) = "
          f"{median['skeleton'] * 1e3:.1f} ms = {median['skeleton'] / floor:.2f} x "
          "FLOP floor")
    budget = rss_nn["data_bytes"] + rss_bare["peak_rss"]
    print(f"peak RSS of an nnscratch-only process: {rss_nn['peak_rss'] / 2**20:.0f} "
          f"MiB = {rss_nn['peak_rss'] / budget:.2f} x (data "
          f"{rss_nn['data_bytes'] / 2**20:.0f} MiB + bare `import numpy` "
          f"{rss_bare['peak_rss'] / 2**20:.0f} MiB)")
    print(f"predict on {PREDICT_ROWS:,} x {N_PIXELS} float64 rows, memory beyond its "
          f"output (tracemalloc): {predict_mem['seed'] / 2**20:.1f} MiB with the seed "
          f"recipe's model, {predict_mem['improved'] / 2**20:.1f} MiB with the "
          f"improved one; peak RSS growth beyond the output (seed model) "
          f"{predict_mem['rss'] / 2**20:.1f} MiB")
    print(f"NumPy {np.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), BLAS: {blas}")
    values = {"seed / torch": median["nnscratch"] / median["torch"],
              "seed / skeleton": median["nnscratch"] / median["skeleton"],
              "improved / torch": (median["nnscratch, better recipe"]
                                   / median["torch, better recipe"]),
              "predict MiB": max(predict_mem["seed"], predict_mem["improved"]) / 2**20}
    print(f"nnscratch / torch = {values['seed / torch']:.2f}")
    print(f"nnscratch / naive = {median['nnscratch'] / median['naive']:.2f}")
    print(f"nnscratch / skeleton = {values['seed / skeleton']:.2f}")
    print(f"improved recipe: nnscratch / torch = {values['improved / torch']:.2f}")
    lean = {"seed / torch": median["lean"] / median["torch"],
            "seed / skeleton": median["lean"] / median["skeleton"],
            "improved / torch": (median["lean, better recipe"]
                                 / median["torch, better recipe"])}
    print(f"nnscratch / lean = {median['nnscratch'] / median['lean']:.2f}; improved "
          f"recipe: nnscratch / lean = "
          f"{median['nnscratch, better recipe'] / median['lean, better recipe']:.2f}")
    return values, lean


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="timed epochs per implementation (default 5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and for torch (default: as many "
                             "as the BLAS uses)")
    parser.add_argument("--child", choices=["bare", "nnscratch", "predict"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    if args.threads:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(args.threads, user_api="blas")  # noqa: F841 (kept)

    threads, blas = blas_info()
    # in fresh processes, before torch is even imported here
    rss_bare, rss_nn = run_child("bare"), run_child("nnscratch")
    predict_mem = run_child("predict")
    data = dataset()
    import torch

    torch_threads = threads or torch.get_num_threads()
    epochs = {
        "nnscratch": nnscratch_epoch(*data),
        "naive": naive_epoch(*data),
        "torch": torch_epoch(*data, threads=torch_threads),
        "nnscratch, 1 BLAS thread": with_blas_threads(nnscratch_epoch(*data), 1),
        "skeleton": skeleton_epoch(*data),
        "lean": lean_epoch(*data),
        "nnscratch, better recipe": nnscratch_better_epoch(*data),
        "torch, better recipe": torch_better_epoch(*data, threads=torch_threads),
        "lean, better recipe": lean_epoch(*data, better=True),
    }
    times = {name: [] for name in epochs}
    last_eval_loss = {}
    for epoch in epochs.values():  # warm-up: first touch of buffers, lazy init
        epoch()
    names = list(epochs)
    for r in range(args.rounds):
        # rotate who goes first each round
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            _, eval_losses = epochs[name]()
            times[name].append(time.perf_counter() - start)
            last_eval_loss[name] = float(eval_losses[-1])
    values, lean = report(args, times, last_eval_loss, threads, blas, rss_bare, rss_nn,
                          predict_mem, data)
    print(f"\nIssue 16, this run ({args.rounds} rounds, {torch_threads} thread(s) for "
          f"BLAS and torch, load average {os.getloadavg()[0]:.1f}):\n")
    print(issue_table(values, lean))
    print("\nA target below the leanest loop's ratio is out of reach of every NumPy "
          "loop we know, the library included (chapter 20, 'The leanest loop').")


if __name__ == "__main__":
    main()
