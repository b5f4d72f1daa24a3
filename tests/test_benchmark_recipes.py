"""benchmarks/train_speed.py's improved recipe (He init, dropout, Adam) in nnscratch and
in PyTorch, and its report of issue 16's four rows.

Small data, no timings: the recipe is built as documented and learns. The PyTorch parts
are marked `torch` (skipped where torch is not installed: it is only in
benchmarks/requirements.txt).
"""
import io
import sys
from contextlib import redirect_stdout

import numpy as np
import pytest


def test_the_improved_recipe_is_he_dropout_adam(bench):
    from nnscratch.layers import Dropout, Layer
    from nnscratch.optim import Adam

    epoch = bench.nnscratch_better_epoch(*bench.dataset())
    layers = epoch.model.layers      # [Layer, Relu, Dropout, Layer, Relu, Dropout, ...]
    dense = [layer for layer in layers if isinstance(layer, Layer)]
    shapes = [layer.weights.shape for layer in dense]
    assert shapes == [(784, 128), (128, 128), (128, 10)]
    std = np.sqrt(2 / 784)
    assert abs(dense[0].weights.std() - std) < 0.05 * std, "He: std sqrt(2 / fan_in)"
    dropouts = [layer for layer in layers if isinstance(layer, Dropout)]
    assert [d.rate for d in dropouts] == [0.2, 0.2]
    assert layers.index(dropouts[-1]) < layers.index(dense[-1]), "none on the head"
    assert isinstance(epoch.optimizer, Adam) and epoch.optimizer.learning_rate == 1e-3


def test_the_improved_nnscratch_epoch_learns(bench):
    epoch = bench.nnscratch_better_epoch(*bench.dataset())
    train_first, eval_first = epoch()
    _, eval_second = epoch()
    assert len(train_first) == len(eval_first) == 1
    assert 0 < eval_second[0] < eval_first[0] < 2 * np.log(10)
    assert not epoch.model.training, "train() must leave dropout off"


@pytest.mark.torch
def test_the_improved_torch_recipe_matches(bench, torch):
    epoch = bench.torch_better_epoch(*bench.dataset(), threads=1)
    linears = [m for m in epoch.model if isinstance(m, torch.nn.Linear)]
    shapes = [tuple(m.weight.shape) for m in linears]
    assert shapes == [(128, 784), (128, 128), (10, 128)]
    std = float(linears[0].weight.detach().std())
    assert abs(std - np.sqrt(2 / 784)) < 0.05 * np.sqrt(2 / 784), "kaiming_normal_"
    assert all(float(m.bias.detach().abs().max()) == 0 for m in linears)
    dropouts = [m for m in epoch.model if isinstance(m, torch.nn.Dropout)]
    assert [m.p for m in dropouts] == [0.2, 0.2]
    assert not isinstance(epoch.model[-1], torch.nn.Dropout)
    assert isinstance(epoch.optimizer, torch.optim.Adam)
    assert epoch.optimizer.param_groups[0]["lr"] == 1e-3
    first, second = epoch()[1][0], epoch()[1][0]
    assert 0 < second < first


def _fake_child(kind):
    """run_child without a subprocess: what the children print, made up."""
    if kind == "predict":
        return {"seed": 2**20, "improved": 3 * 2**20, "rss": 2**21}
    return {"peak_rss": 2**27, "data_bytes": 2**20}


@pytest.mark.torch
def test_main_prints_the_ratios_and_issue_16s_table(bench, monkeypatch):
    monkeypatch.setattr(bench, "run_child", _fake_child)
    monkeypatch.setattr(bench, "gemm_rate", lambda: 1e10)
    monkeypatch.setattr(sys, "argv", ["train_speed.py", "--rounds", "1"])
    out = io.StringIO()
    with redirect_stdout(out):
        bench.main()
    text = out.getvalue()
    assert "Improved recipe 784-128-128-10, He init, dropout 0.2, Adam 0.001" in text
    for start in ("nnscratch / torch = ", "nnscratch / naive = ",
                  "nnscratch / skeleton = ", "improved recipe: nnscratch / torch = "):
        lines = [line for line in text.splitlines() if line.startswith(start)]
        assert len(lines) == 1 and float(lines[0].rsplit("=", 1)[1]) > 0, start
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 5 and table[0].startswith("| recipe | this run | target")
    assert "| 3.0 MiB | ≤ 64 MiB | – | yes |" in table[-1]  # the larger of the two
    for row in table[1:4]:                 # the lean loop's ratio beside each target
        assert float(row.split("|")[4].strip().rstrip("×")) > 0, row


def test_issue_table_says_which_targets_are_met(bench):
    values = {"seed / torch": 0.39, "seed / skeleton": 1.7, "improved / torch": 0.45,
              "predict MiB": 65.0}
    rows = bench.issue_table(values).split("\n")
    met = [row.rsplit("|", 2)[1].strip() for row in rows]
    assert met[2:] == ["yes", "no", "yes", "no"]


def test_predict_memory_reports_bytes_beyond_the_output(bench):
    memory = bench.predict_memory(rows=4096)
    assert set(memory) == {"seed", "improved", "rss"}
    input_bytes = 4096 * 784 * 8
    assert 0 <= memory["seed"] < input_bytes and 0 <= memory["improved"] < input_bytes
