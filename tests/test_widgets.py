"""The interactive explorers (nnscratch.widgets), driven without a browser: set controls, click, inspect."""
import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nnscratch.widgets import classifier_explorer, function_explorer  # noqa: E402


def images(explorer):
    """The entries of the explorer's output area that hold a PNG."""
    return [entry for entry in explorer.output.outputs if "image/png" in entry.get("data", {})]


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    data = load_digits()
    return data.data / 16.0, data.target


def test_importing_the_package_does_not_import_ipywidgets_or_matplotlib():
    code = "import sys, nnscratch; print('ipywidgets' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_function_explorer_has_the_controls_and_starts_untrained():
    explorer = function_explorer()
    assert set(explorer.controls) == {"target", "hidden_layer_size", "num_hidden_layers", "activation",
                                      "learning_rate", "epochs", "batch_size", "seed"}
    assert set(explorer.controls["target"].options) == {"x²", "|x|", "3 sin x", "step"}
    assert set(explorer.controls["activation"].options) == {"ReLU", "Tanh", "Sigmoid"}
    assert type(explorer.controls["learning_rate"]).__name__ == "FloatLogSlider"
    assert explorer.result is None and explorer.output.outputs == () and explorer.button.description == "Train"
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
    assert explorer.result["mse"] == mse[10], "same settings and seed must reproduce the same result"


def test_pressing_train_twice_replaces_the_figure():
    explorer = function_explorer(epochs=5)
    explorer.button.click()
    first = images(explorer)[0]["data"]["image/png"]
    explorer.controls["target"].value = "step"
    explorer.button.click()
    assert len(explorer.output.outputs) == 1
    assert images(explorer)[0]["data"]["image/png"] != first


@pytest.mark.parametrize("activation", ["ReLU", "Tanh", "Sigmoid"])
@pytest.mark.parametrize("target", ["|x|", "3 sin x"])
def test_every_target_and_activation_runs(target, activation):
    explorer = function_explorer(target=target, activation=activation, epochs=3, num_hidden_layers=1)
    explorer.button.click()
    assert np.isfinite(explorer.result["mse"]) and len(images(explorer)) == 1


def test_a_divergent_learning_rate_gives_a_message_not_an_exception():
    explorer = function_explorer(epochs=5)
    explorer.button.click()
    assert len(images(explorer)) == 1
    explorer.set(learning_rate=10.0, epochs=400)
    explorer.button.click()                       # must not raise
    assert explorer.result is None
    assert explorer.message.startswith("Training diverged") and "learning_rate=10.0" in explorer.message
    assert "of 400" in explorer.message
    assert explorer.progress.value < 400, "training must stop early"
    assert explorer.output.outputs == (), "the previous run's plot must not stay up"
    assert "color:#b00020" in explorer.status.value
    assert not explorer.button.disabled


@pytest.mark.parametrize("setting, words", [({"epochs": 0}, "epochs must be an integer >= 1"),
                                            ({"batch_size": -5}, "batch_size must be an integer >= 1"),
                                            ({"seed": -1}, "seed must be an integer >= 0")])
def test_invalid_values_give_the_value_error_message(setting, words):
    explorer = function_explorer(**setting)
    assert explorer.run() is None
    assert explorer.message.startswith("Invalid setting") and words in explorer.message


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="unknown control 'epoch'"):
        function_explorer(epoch=3)


def test_classifier_explorer_reports_accuracy_losses_and_mistakes(digits):
    X, y = digits
    explorer = classifier_explorer(X, y, test_size=300)
    assert set(explorer.controls) == {"hidden_layer_size", "num_hidden_layers", "activation", "learning_rate",
                                      "epochs", "train_size"}
    assert explorer.controls["train_size"].max == len(y) - 300
    explorer.set(epochs=5).button.click()
    result = explorer.result
    assert 0.5 < result["accuracy"] <= 1.0, "a 5-epoch digit classifier should beat chance by far"
    assert len(result["train_losses"]) == len(result["test_losses"]) == 5
    assert len(images(explorer)) == 1
    assert explorer.message.startswith("Test accuracy") and "300 held-out" in explorer.message
    assert plt.get_fignums() == []


def test_classifier_more_training_data_helps_on_the_same_test_set(digits):
    X, y = digits
    explorer = classifier_explorer(X, y, test_size=300, epochs=10)
    explorer.set(train_size=100).button.click()
    small = explorer.result["accuracy"]
    explorer.set(train_size=1400).button.click()
    assert explorer.result["accuracy"] > small
    assert len(explorer.output.outputs) == 1


def test_classifier_accepts_non_image_data_and_reports_divergence():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    explorer = classifier_explorer(X, y, epochs=5)
    explorer.button.click()
    assert explorer.result["accuracy"] > 0.7 and len(images(explorer)) == 1
    explorer.set(learning_rate=10.0, epochs=200, hidden_layer_size=256, num_hidden_layers=4).button.click()
    assert explorer.result is None and explorer.message.startswith("Training diverged")
    assert explorer.output.outputs == ()


def test_classifier_checks_its_data():
    X = np.zeros((50, 4))
    with pytest.raises(ValueError, match="pass both X and y"):
        classifier_explorer(X=X)
    with pytest.raises(ValueError, match="integer class labels"):
        classifier_explorer(X, np.zeros(50))
    with pytest.raises(ValueError, match="50 rows"):
        classifier_explorer(X, np.zeros(40, dtype=int))
    with pytest.raises(ValueError, match="test_size"):
        classifier_explorer(X, np.zeros(50, dtype=int), test_size=45)


def test_close_frees_every_widget_of_the_panel():
    def models(widget):
        children = [m for child in getattr(widget, "children", ()) for m in models(child)]
        parts = [getattr(widget, "layout", None), getattr(widget, "style", None)]
        return [widget, *children, *[p for p in parts if p is not None]]
    explorer = function_explorer()
    everything = models(explorer.widget)
    assert len(everything) > 20 and all(m.comm is not None for m in everything)
    explorer.close()
    assert [m for m in everything if m.comm is not None] == [], "close() left some of the panel's widgets open"
