"""benchmarks/train_speed.py's improved recipe (He init, dropout, Adam) in nnscratch and in PyTorch.

Small data, no timings: the recipe is built as documented and learns. The PyTorch parts are skipped
where torch is not installed (it is only in benchmarks/requirements.txt).
"""
import io
import sys
from contextlib import redirect_stdout

import numpy as np
import pytest



def test_the_improved_recipe_is_he_dropout_adam(bench):
    from nnscratch.optim import Adam
    epoch = bench.nnscratch_better_epoch(*bench.dataset())
    model = epoch.model
    assert [layer.weights.shape for layer in model.layers] == [(784, 128), (128, 128), (128, 10)]
    first = model.layers[0].weights
    assert abs(first.std() - np.sqrt(2 / 784)) < 0.05 * np.sqrt(2 / 784), "He: std sqrt(2 / fan_in)"
    assert all(d.rate == 0.2 for d in model.dropouts) and len(model.dropouts) == 2
    assert isinstance(epoch.optimizer, Adam) and epoch.optimizer.learning_rate == 1e-3


def test_the_improved_nnscratch_epoch_learns(bench):
    epoch = bench.nnscratch_better_epoch(*bench.dataset())
    train_first, eval_first = epoch()
    _, eval_second = epoch()
    assert len(train_first) == len(eval_first) == 1
    assert 0 < eval_second[0] < eval_first[0] < 2 * np.log(10)
    assert not epoch.model.training, "train() must leave dropout off"


def test_the_improved_torch_recipe_matches(bench):
    torch = pytest.importorskip("torch")
    epoch = bench.torch_better_epoch(*bench.dataset(), threads=1)
    linears = [m for m in epoch.model if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(128, 784), (128, 128), (10, 128)]
    std = float(linears[0].weight.detach().std())
    assert abs(std - np.sqrt(2 / 784)) < 0.05 * np.sqrt(2 / 784), "kaiming_normal_, fan_in: std sqrt(2 / fan_in)"
    assert all(float(m.bias.detach().abs().max()) == 0 for m in linears)
    dropouts = [m for m in epoch.model if isinstance(m, torch.nn.Dropout)]
    assert [m.p for m in dropouts] == [0.2, 0.2] and not isinstance(epoch.model[-1], torch.nn.Dropout)
    assert isinstance(epoch.optimizer, torch.optim.Adam) and epoch.optimizer.param_groups[0]["lr"] == 1e-3
    first, second = epoch()[1][0], epoch()[1][0]
    assert 0 < second < first


def test_main_times_the_improved_recipe_and_prints_its_ratio(bench, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(bench, "run_child", lambda kind: {"peak_rss": 2 ** 27, "data_bytes": 2 ** 20})
    monkeypatch.setattr(bench, "gemm_rate", lambda: 1e10)
    monkeypatch.setattr(sys, "argv", ["train_speed.py", "--rounds", "1"])
    out = io.StringIO()
    with redirect_stdout(out):
        bench.main()
    text = out.getvalue()
    assert "Improved recipe 784-128-128-10, He init, dropout 0.2, Adam 0.001" in text
    ratio = [line for line in text.splitlines() if line.startswith("improved recipe: nnscratch / torch = ")]
    assert len(ratio) == 1 and float(ratio[0].rsplit("=", 1)[1]) > 0
    assert "nnscratch / naive = " in text, "the original measurements stay"
