"""The interactive explorers (nnscratch.widgets), driven without a browser: set
controls, click, inspect."""

import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import nnscratch.widgets as widgets_module  # noqa: E402
from nnscratch.activations import ACTIVATIONS  # noqa: E402
from nnscratch.losses import one_hot  # noqa: E402
from nnscratch.optim import SGD, Adam, Momentum  # noqa: E402
from nnscratch.widgets import classifier_explorer, function_explorer  # noqa: E402

PACKAGE = Path(widgets_module.__file__).resolve().parent


def images(explorer):
    """The entries of the explorer's output area that hold a PNG."""
    return [
        entry
        for entry in explorer.output.outputs
        if "image/png" in entry.get("data", {})
    ]


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data / 16.0, data.target


def test_importing_the_package_does_not_import_ipywidgets_or_matplotlib():
    code = (
        "import sys; from nnscratch import *; "
        "print(*[m in sys.modules for m in ('ipywidgets', 'matplotlib', "
        "'nnscratch.widgets')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False", "False"]


def test_no_other_module_of_the_package_imports_widgets():
    importers = [
        path.name
        for path in PACKAGE.glob("*.py")
        if path.name != "widgets.py"
        and re.search(
            r"^\s*(from|import)\s+(ipywidgets|nnscratch\.widgets|\.widgets)|import "
            r"widgets",
            path.read_text(encoding="utf-8"),
            re.MULTILINE,
        )
    ]
    assert importers == []
    assert "widgets" not in __import__("nnscratch").__all__


def test_explorers_drive_the_progress_bar_through_one_train_call_with_on_epoch(
    monkeypatch,
):
    calls, bar_after_each_epoch = [], []
    real_train = widgets_module.train

    def spy(*args, on_epoch, **kwargs):
        def watched(epoch, train_losses, eval_losses):
            stop = on_epoch(epoch, train_losses, eval_losses)
            bar_after_each_epoch.append(
                (explorer.progress.value, explorer.progress.description)
            )
            return stop

        calls.append(kwargs)
        return real_train(*args, on_epoch=watched, **kwargs)

    monkeypatch.setattr(widgets_module, "train", spy)
    explorer = function_explorer(epochs=4)
    explorer.button.click()
    assert len(calls) == 1, "one train call per run, not one per epoch"
    assert bar_after_each_epoch == [(e, f"epoch {e}/4") for e in range(1, 5)]
    assert explorer.result is not None and len(explorer.result["train_losses"]) == 4


def test_function_explorer_has_the_controls_and_starts_untrained():
    explorer = function_explorer()
    assert set(explorer.controls) == {
        "target",
        "hidden_layer_size",
        "num_hidden_layers",
        "activation",
        "learning_rate",
        "epochs",
        "batch_size",
        "seed",
    }
    assert set(explorer.controls["target"].options) == {"x²", "|x|", "3 sin x", "step"}
    assert explorer.controls["activation"].options == ("Relu", "Tanh", "Sigmoid")
    assert all(
        name in ACTIVATIONS for name in explorer.controls["activation"].options
    ), "one table of names"
    assert type(explorer.controls["learning_rate"]).__name__ == "FloatLogSlider"
    assert (
        explorer.result is None
        and explorer.output.outputs == ()
        and explorer.button.description == "Train"
    )
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_click_trains_and_shows_one_figure_and_the_mse():
    explorer = function_explorer(epochs=30)
    explorer.button.click()
    assert len(images(explorer)) == 1 and len(explorer.output.outputs) == 1
    assert explorer.result["mse"] > 0 and len(explorer.result["train_losses"]) == 30
    assert explorer.message.startswith("Final MSE") and "30 epochs" in explorer.message
    assert explorer.progress.value == explorer.progress.max == 30
    assert not explorer.button.disabled
    assert plt.get_fignums() == [], "the explorer must not leave pyplot figures open"


def test_more_epochs_give_a_lower_mse_on_x_squared_with_a_fixed_seed():
    explorer = function_explorer(target="x²", seed=3)
    mse = {}
    for epochs in (10, 300):
        explorer.controls["epochs"].value = epochs
        explorer.button.click()
        mse[epochs] = explorer.result["mse"]
    assert mse[300] < mse[10] / 5
    explorer.controls["epochs"].value = 10
    explorer.button.click()
    assert explorer.result["mse"] == mse[10], (
        "same settings and seed must reproduce the same result"
    )


def test_pressing_train_twice_replaces_the_figure():
    explorer = function_explorer(epochs=5)
    explorer.button.click()
    first = images(explorer)[0]["data"]["image/png"]
    explorer.controls["target"].value = "step"
    explorer.button.click()
    assert len(explorer.output.outputs) == 1
    assert images(explorer)[0]["data"]["image/png"] != first


@pytest.mark.parametrize("activation", ["Relu", "Tanh", "Sigmoid"])
@pytest.mark.parametrize("target", ["|x|", "3 sin x"])
def test_every_target_and_activation_runs(target, activation):
    explorer = function_explorer(
        target=target, activation=activation, epochs=3, num_hidden_layers=1
    )
    explorer.button.click()
    assert np.isfinite(explorer.result["mse"]) and len(images(explorer)) == 1


def test_a_divergent_learning_rate_gives_a_message_not_an_exception():
    explorer = function_explorer(epochs=5)
    explorer.button.click()
    assert len(images(explorer)) == 1
    explorer.configure(learning_rate=10.0, epochs=400)
    explorer.button.click()  # must not raise
    assert explorer.result is None
    assert (
        explorer.message.startswith("Training diverged")
        and "learning_rate=10.0" in explorer.message
    )
    diverged_at = int(re.search(r"at epoch (\d+)", explorer.message)[1])
    assert (
        explorer.progress.max == 400
        and explorer.progress.value == diverged_at - 1 < 400
    ), "the bar shows the epochs completed before training stopped"
    assert explorer.output.outputs == (), "the previous run's plot must not stay up"
    assert "color:#b00020" in explorer.status.value
    assert not explorer.button.disabled


@pytest.mark.parametrize(
    "setting, words",
    [
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"batch_size": -5}, "batch_size must be an integer >= 1"),
        ({"seed": -1}, "seed must be an integer >= 0"),
    ],
)
def test_invalid_values_give_the_value_error_message(setting, words):
    explorer = function_explorer(**setting)
    assert explorer.run() is None
    assert explorer.message.startswith("Invalid setting") and words in explorer.message


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="unknown control 'epoch'"):
        function_explorer(epoch=3)
    with pytest.raises(ValueError, match="unknown control 'optimizer'"):
        function_explorer(optimizer="Adam")


def test_classifier_explorer_reports_accuracy_losses_and_mistakes(digits):
    X, y = digits
    explorer = classifier_explorer(X, y, val_size=300)
    assert list(explorer.controls) == [
        "hidden_layer_size",
        "num_hidden_layers",
        "activation",
        "init",
        "dropout",
        "optimizer",
        "learning_rate",
        "epochs",
        "train_size",
    ]
    assert explorer.controls["optimizer"].options == ("SGD", "Momentum", "Adam")
    assert explorer.controls["init"].options == ("lecun", "xavier", "he")
    dropout = explorer.controls["dropout"]
    assert (dropout.value, dropout.min, dropout.max) == (0.0, 0.0, 0.5)
    assert explorer.controls["activation"].value == "Relu"
    assert explorer.controls["train_size"].max == len(y) - 300
    explorer.configure(epochs=5).button.click()
    result = explorer.result
    assert 0.5 < result["accuracy"] <= 1.0, (
        "a 5-epoch digit classifier should beat chance by far"
    )
    assert len(result["train_losses"]) == len(result["val_losses"]) == 5
    assert len(images(explorer)) == 1
    assert (
        explorer.message.startswith("Validation accuracy")
        and "300 held-out" in explorer.message
    )
    assert plt.get_fignums() == []


def test_classifier_more_training_data_helps_on_the_same_test_set(digits):
    X, y = digits
    explorer = classifier_explorer(X, y, val_size=300, epochs=10)
    explorer.configure(train_size=100).button.click()
    small = explorer.result["accuracy"]
    explorer.configure(train_size=1400).button.click()
    assert explorer.result["accuracy"] > small
    assert len(explorer.output.outputs) == 1


def test_classifier_accepts_non_image_data_and_reports_divergence():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    explorer = classifier_explorer(X, y, epochs=5)
    explorer.button.click()
    assert explorer.result["accuracy"] > 0.7 and len(images(explorer)) == 1
    explorer.configure(
        learning_rate=10.0, epochs=200, hidden_layer_size=256, num_hidden_layers=4
    ).button.click()
    assert explorer.result is None and explorer.message.startswith("Training diverged")
    assert explorer.output.outputs == ()


def test_classifier_checks_its_data():
    X = np.zeros((50, 4))
    with pytest.raises(ValueError, match="pass both X and y"):
        classifier_explorer(X=X)
    with pytest.raises(ValueError, match="y must hold integer labels"):
        classifier_explorer(X, np.zeros(50))
    with pytest.raises(ValueError, match="50 rows"):
        classifier_explorer(X, np.zeros(40, dtype=int))
    with pytest.raises(ValueError, match="val_size"):
        classifier_explorer(X, np.zeros(50, dtype=int), val_size=45)


def test_close_frees_every_widget_of_the_panel():
    def models(widget):
        children = [
            m for child in getattr(widget, "children", ()) for m in models(child)
        ]
        parts = [getattr(widget, "layout", None), getattr(widget, "style", None)]
        return [widget, *children, *[p for p in parts if p is not None]]

    explorer = function_explorer()
    everything = models(explorer.widget)
    assert len(everything) > 20 and all(m.comm is not None for m in everything)
    explorer.close()
    assert [m for m in everything if m.comm is not None] == [], (
        "close() left some of the panel's widgets open"
    )


@pytest.mark.parametrize(
    "name, cls, rate",
    [("SGD", SGD, 0.1), ("Momentum", Momentum, 0.01), ("Adam", Adam, 0.001)],
)
@pytest.mark.parametrize("init", ["lecun", "xavier", "he"])
def test_optimizer_init_and_dropout_controls_build_the_right_objects(
    digits, monkeypatch, name, cls, rate, init
):
    built = []
    real = widgets_module.NeuralNetwork

    def spy(*args, **kwargs):
        built.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(widgets_module, "NeuralNetwork", spy)
    X, y = digits
    explorer = classifier_explorer(
        X,
        y,
        val_size=300,
        epochs=2,
        train_size=300,
        hidden_layer_size=16,
        optimizer=name,
        init=init,
        dropout=0.3,
    )
    assert explorer.controls["learning_rate"].value == rate, (
        "choosing an optimizer sets its usual rate"
    )
    explorer.button.click()
    assert explorer.result is not None, explorer.message
    assert len(built) == 1 and built[0]["init"] == init and built[0]["dropout"] == 0.3
    assert type(explorer.optimizer) is cls and explorer.optimizer.learning_rate == rate
    assert [d.rate for d in explorer.model.layers if type(d).__name__ == "Dropout"] == [
        0.3
    ]
    assert not explorer.model.training, "dropout must be off after training"
    assert explorer.optimizer.parameters[0][0] is explorer.model.layers[0].weights


def test_init_control_sets_the_scale_of_the_first_weights(digits):
    X, y = digits
    explorer = classifier_explorer(X, y, val_size=300, hidden_layer_size=256)
    stds = {}
    for init in ("lecun", "he"):
        settings = explorer.configure(init=init).values()
        del settings["epochs"], settings["train_size"]
        model, _ = explorer._build(rng=np.random.default_rng(0), **settings)
        stds[init] = model.layers[0].weights.std()
    assert (
        abs(stds["lecun"] - np.sqrt(1 / 64)) < 0.01
        and abs(stds["he"] - np.sqrt(2 / 64)) < 0.01
    )


def test_an_explicit_learning_rate_wins_over_the_optimizers_usual_rate(digits):
    X, y = digits
    for settings in (
        {"learning_rate": 0.003, "optimizer": "Adam"},
        {"optimizer": "Adam", "learning_rate": 0.003},
    ):
        explorer = classifier_explorer(X, y, **settings)
        assert explorer.controls["optimizer"].value == "Adam"
        assert explorer.controls["learning_rate"].value == pytest.approx(0.003)
    # the reader picks another optimizer
    explorer.controls["optimizer"].value = "Momentum"
    assert explorer.controls["learning_rate"].value == 0.01


@pytest.mark.parametrize(
    "labels",
    [
        np.zeros(50),
        np.full(50, -1),
        np.full(50, 12),
        np.zeros((50, 1), dtype=int),
        [0] * 50,
        np.array(["a"] * 50),
    ],
)
def test_bad_labels_are_refused_like_one_hot_refuses_them(labels):
    X = np.zeros((50, 4))
    with pytest.raises(ValueError) as from_explorer:
        classifier_explorer(X, labels, num_classes=10)
    with pytest.raises(ValueError) as from_one_hot:
        one_hot(labels, 10)
    assert str(from_explorer.value) == str(from_one_hot.value)
    assert str(from_explorer.value).startswith("y must hold integer labels 0..9")


@pytest.mark.parametrize(
    "labels",
    [np.zeros(50), np.full(50, -1), [0] * 50, np.array([]), np.array(["a"] * 50)],
)
def test_bad_labels_without_num_classes_still_give_a_value_error_naming_y(labels):
    with pytest.raises(ValueError, match="^y must hold integer labels"):
        classifier_explorer(np.zeros((50, 4)), labels)


def test_num_classes_can_exceed_the_labels_present():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)  # only classes 0 and 1 occur
    explorer = classifier_explorer(X, y, num_classes=4, epochs=2)
    explorer.button.click()
    assert explorer.num_classes == 4 and explorer.model.output_size == 4
    with pytest.raises(ValueError, match=r"0\.\.0"):
        classifier_explorer(X, y, num_classes=1)


def test_two_classes_train_one_sigmoid_output_with_binary_cross_entropy():
    from nnscratch import BinaryCrossEntropyLoss, Sigmoid

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=300)
    X = rng.normal(size=(300, 16)) + 1.5 * y[:, None]
    explorer = classifier_explorer(X, y, val_size=100, epochs=5)
    seen = []
    real_train = explorer._train

    def spy(model, X_, y_, loss_fn, epochs, **options):
        seen.append((loss_fn, y_.shape))
        return real_train(model, X_, y_, loss_fn, epochs, **options)

    explorer._train = spy
    result = explorer.run()
    explorer.close()
    assert result is not None, explorer.message
    assert isinstance(explorer.model.layers[-1], Sigmoid)
    assert seen == [(BinaryCrossEntropyLoss, (200, 1))]
    assert result["accuracy"] > 0.8
