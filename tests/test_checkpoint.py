"""save_checkpoint / load_checkpoint: the model and the optimizer's state, so that a
resumed run equals the uninterrupted one bit for bit (book/21_save_and_load)."""
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import nnscratch.serialization as serialization
from nnscratch import (
    SGD, Adam, BatchNorm, CrossEntropyLoss, Layer, Momentum, NeuralNetwork, Relu,
    Sequential, Softmax, train,
)
from nnscratch.serialization import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint

OPTIMIZERS = {
    "SGD": lambda params: SGD(params, 0.05, weight_decay=1e-3),
    "Momentum": lambda params: Momentum(params, 0.05, momentum=0.8),
    "Adam": lambda params: Adam(params, 0.01, beta1=0.85, beta2=0.99, eps=1e-7,
                                weight_decay=1e-2),
}


def data(seed=0, n=64):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)), np.eye(3)[rng.integers(0, 3, n)]


def fit(model, optimizer, seed, epochs=3):
    X, y = data()
    return train(model, X, y, CrossEntropyLoss, epochs, 16, optimizer=optimizer,
                 bar=False, seed=seed)


def network(kind="nn", dtype=np.float32):
    if kind == "nn":
        return NeuralNetwork(4, 3, 8, 2, head_activation=Softmax, seed=0, dtype=dtype)
    return Sequential(Layer(4, 6, seed=0, dtype=dtype), BatchNorm(6, dtype=dtype),
                      Relu(), Layer(6, 3, seed=1, dtype=dtype), Softmax())


def weights(model):
    return [param.tobytes() for param, _ in model.parameters()]


def state(model):
    """Everything a model holds that training changes: parameters and running stats."""
    arrays = [a for layer in model.layers for a in vars(layer).values()
              if isinstance(a, np.ndarray)]
    return [a.tobytes() for a in arrays]


@pytest.mark.parametrize("kind", ["nn", "sequential"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_resuming_equals_continuing_bit_for_bit(tmp_path, name, dtype, kind):
    model = network(kind, dtype)
    optimizer = OPTIMIZERS[name](model.parameters())
    fit(model, optimizer, seed=1)
    path = save_checkpoint(tmp_path / "ckpt", model, optimizer)
    continued = fit(model, optimizer, seed=2)                # in memory

    resumed, resumed_optimizer = load_checkpoint(path)
    assert type(resumed_optimizer) is type(optimizer)
    assert fit(resumed, resumed_optimizer, seed=2) == continued    # same losses...
    assert weights(resumed) == weights(model)                      # ...same weights
    assert [layer.running_mean.tobytes() for layer in resumed.layers
            if isinstance(layer, BatchNorm)] == \
        [layer.running_mean.tobytes() for layer in model.layers
         if isinstance(layer, BatchNorm)]
    assert state(resumed) != [] and resumed.dtype == np.dtype(dtype)


@pytest.mark.parametrize("name", ["Momentum", "Adam"])
def test_the_weights_alone_do_not_resume_a_stateful_optimizer(tmp_path, name):
    model = network()
    optimizer = OPTIMIZERS[name](model.parameters())
    fit(model, optimizer, seed=1)
    fresh = NeuralNetwork.load(model.save(tmp_path / "weights"))
    fit(model, optimizer, seed=2)
    fit(fresh, OPTIMIZERS[name](fresh.parameters()), seed=2)
    assert weights(fresh) != weights(model)


def test_the_optimizer_state_comes_back_exactly(tmp_path):
    model = network()
    adam = OPTIMIZERS["Adam"](model.parameters())
    fit(model, adam, seed=1)
    adam.learning_rate = 0.003                    # as a schedule would have set it
    _, loaded = load_checkpoint(save_checkpoint(tmp_path / "a", model, adam))
    for key in ("learning_rate", "beta1", "beta2", "eps", "weight_decay", "steps"):
        assert getattr(loaded, key) == getattr(adam, key)
    assert loaded.steps == 12                     # 3 epochs of 4 batches
    for (m, v), (m2, v2) in zip(adam.moments, loaded.moments):
        assert m.tobytes() == m2.tobytes() and v.tobytes() == v2.tobytes()

    momentum = OPTIMIZERS["Momentum"](model.parameters())
    fit(model, momentum, seed=1)
    _, loaded = load_checkpoint(save_checkpoint(tmp_path / "m", model, momentum))
    assert (loaded.learning_rate, loaded.momentum) == (0.05, 0.8)
    assert [v.tobytes() for v in loaded.velocities] == \
        [v.tobytes() for v in momentum.velocities]


def test_the_loaded_optimizer_holds_the_loaded_models_arrays(tmp_path):
    model = network()
    optimizer = OPTIMIZERS["Adam"](model.parameters())
    resumed, loaded = load_checkpoint(save_checkpoint(tmp_path / "c", model, optimizer))
    assert type(resumed) is NeuralNetwork and resumed.training is False
    assert all(p is q and g is h for (p, g), (q, h) in
               zip(resumed.parameters(), loaded.parameters))
    assert [getattr(pair, "decay", True) for pair in loaded.parameters] == \
        [getattr(pair, "decay", True) for pair in optimizer.parameters]


def test_the_file_is_plain_arrays_and_json(tmp_path):
    model = network()
    optimizer = OPTIMIZERS["Adam"](model.parameters())
    fit(model, optimizer, seed=1)
    path = save_checkpoint(tmp_path / "c", model, optimizer)
    assert path == tmp_path / "c.npz"
    with np.load(path, allow_pickle=False) as archive:
        contents = {key: archive[key] for key in archive.files}
    assert str(contents["format_version"]) == CHECKPOINT_FORMAT
    saved = json.loads(str(contents["optimizer"]))
    assert saved == {"type": "Adam", "parameters": 6, "learning_rate": 0.01,
                     "beta1": 0.85, "beta2": 0.99, "eps": 1e-7, "weight_decay": 1e-2,
                     "steps": 12}
    assert sorted(key for key in contents if key.startswith("optimizer_")) == sorted(
        f"optimizer_{s}_{j}" for j in range(6) for s in ("m", "v"))
    assert contents["optimizer_v_4"].shape == (8, 3)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    model = network()
    path = save_checkpoint(tmp_path / "c", model, SGD(model.parameters(), 0.1))

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    load_checkpoint(path)


def test_model_save_stays_weights_only(tmp_path):
    model = network()
    path = model.save(tmp_path / "m")
    with np.load(path) as archive:
        assert not any(key.startswith("optimizer") for key in archive.files)
    with pytest.raises(ValueError, match=r"m\.npz has format version "
                                         r"'nnscratch-model-3'; this nnscratch .* "
                                         r"reads only 'nnscratch-checkpoint-1' here"):
        load_checkpoint(path)


# --- refusing to save what cannot be resumed ------------------------------------------


def test_an_optimizer_of_another_model_is_refused(tmp_path):
    model, other = network(), network()
    with pytest.raises(ValueError, match=r"cannot save: the optimizer does not hold "
                                         r"this model's parameters"):
        save_checkpoint(tmp_path / "c", model, Adam(other.parameters()))
    with pytest.raises(ValueError, match=r"does not hold this model's parameters"):
        save_checkpoint(tmp_path / "c", model, Adam(model.parameters()[:2]))
    assert list(tmp_path.iterdir()) == []


def test_unknown_optimizers_are_refused(tmp_path):
    class MyAdam(Adam):
        pass

    class Lion:
        parameters = []
    model = network()
    for optimizer, name in ((MyAdam(model.parameters()), "MyAdam"), (Lion(), "Lion")):
        with pytest.raises(TypeError, match=rf"cannot save optimizer {name}: not in "
                                            rf"nnscratch\.serialization\."
                                            rf"OPTIMIZER_TYPES "
                                            rf"\(SGD, Momentum, Adam\)"):
            save_checkpoint(tmp_path / "c", model, optimizer)


def test_a_model_that_is_not_a_sequential_is_refused(tmp_path):
    with pytest.raises(TypeError, match="model must be a Sequential, got Layer"):
        save_checkpoint(tmp_path / "c", Layer(2, 2), SGD([], 0.1))


def test_a_folder_path_is_refused(tmp_path):
    model = network()
    with pytest.raises(ValueError, match="names a folder"):
        save_checkpoint(str(tmp_path) + os.sep, model, SGD(model.parameters(), 0.1))
    with pytest.raises(ValueError, match="names a folder"):
        load_checkpoint(tmp_path)


def test_a_crash_during_the_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    model = network()
    optimizer = SGD(model.parameters(), 0.1)
    path = save_checkpoint(tmp_path / "c", model, optimizer)
    good = path.read_bytes()

    def crashing_savez(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crashing_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, optimizer)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


# --- refusing bad checkpoint files ----------------------------------------------------


@pytest.fixture
def adam_checkpoint(tmp_path):
    model = network()
    optimizer = OPTIMIZERS["Adam"](model.parameters())
    fit(model, optimizer, seed=1, epochs=1)
    return save_checkpoint(tmp_path / "ckpt", model, optimizer)


def rewrite(path, change):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def set_state(**fields):
    def change(arrays):
        state = json.loads(str(arrays["optimizer"]))
        state.update(fields)
        arrays["optimizer"] = np.array(json.dumps(state))
    return change


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("optimizer"), r"is incomplete: missing entries optimizer"),
    (lambda a: a.pop("optimizer_v_3"), r"is incomplete: missing entries "
                                        r"optimizer_v_3"),
    (lambda a: a.update(optimizer_m_9=np.zeros(2, np.float32)),
     r"has entries that do not fit its architecture: optimizer_m_9"),
    (lambda a: a.update(optimizer_m_0=np.zeros((4, 7), np.float32)),
     r"entry optimizer_m_0\.npy holds float32 \(4, 7\), expected float32 \(4, 8\)"),
    (lambda a: a.update(optimizer_v_1=np.zeros((1, 8), np.float64)),
     r"holds float64 \(1, 8\), expected float32 \(1, 8\)"),
    (lambda a: a.update(optimizer_v_2=np.full((8, 8), np.nan, np.float32)),
     r"optimizer_v_2 holds NaN or inf"),
    (lambda a: a.update(optimizer=np.array("[]")), r"'optimizer' must hold a JSON "
                                                   r"object"),
    (lambda a: a.update(optimizer=np.array("{")), r"'optimizer' is not valid JSON"),
    (set_state(type="Lion"), r"'optimizer' names no optimizer of SGD, Momentum, Adam"),
    (set_state(type=["Adam"]), r"'optimizer' names no optimizer of SGD, Momentum"),
    (set_state(momentum=0.9), r"entry 'optimizer' must have the keys type, "
                              r"parameters, learning_rate, beta1, beta2, eps, "
                              r"weight_decay, steps"),
    (set_state(parameters=10**12), r"'optimizer' has an impossible parameter count "
                                   r"1000000000000"),
    (set_state(parameters=-1), r"'optimizer' has an impossible parameter count -1"),
    (set_state(parameters="6"), r"'optimizer' has an impossible parameter count '6'"),
    (set_state(learning_rate=0), r"the optimizer Adam: learning_rate must be a finite "
                                 r"number > 0"),
    (set_state(beta1=1.0), r"the optimizer Adam: beta1 must be a number in "
                           r"\[0, 1\)"),
    (set_state(steps=-1), r"the optimizer Adam: steps must be an integer >= 0"),
    (set_state(steps=2.5), r"the optimizer Adam: steps must be an integer >= 0"),
    (lambda a: a.update(format_version=np.array("nnscratch-checkpoint-9")),
     r"has format version 'nnscratch-checkpoint-9'"),
])
def test_bad_checkpoints_are_refused(adam_checkpoint, change, message):
    rewrite(adam_checkpoint, change)
    with pytest.raises(ValueError, match=rf"ckpt\.npz.*{message}"):
        load_checkpoint(adam_checkpoint)


def test_a_parameter_count_that_does_not_fit_the_model(tmp_path):
    model = network()
    path = save_checkpoint(tmp_path / "ckpt", model, SGD(model.parameters(), 0.1))
    rewrite(path, set_state(parameters=4))
    with pytest.raises(ValueError, match=r"ckpt\.npz: the optimizer has 4 parameters, "
                                         r"the model 6"):
        load_checkpoint(path)


def test_truncated_and_foreign_files(adam_checkpoint, tmp_path):
    data = adam_checkpoint.read_bytes()
    adam_checkpoint.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"ckpt\.npz is not a readable \.npz archive"):
        load_checkpoint(adam_checkpoint)
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(ValueError, match=r"other\.npz is not an nnscratch model file"):
        load_checkpoint(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match=r"no model file .*absent\.npz"):
        load_checkpoint(tmp_path / "absent")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_named_pipe_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    with pytest.raises(ValueError, match=r"pipe\.npz is a named pipe \(FIFO\)"):
        load_checkpoint(tmp_path / "pipe")


def test_a_zip_bomb_in_the_optimizer_state_is_refused(adam_checkpoint, tmp_path):
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(adam_checkpoint) as src, \
            zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            with z.open(info.filename, "w", force_zip64=True) as entry:
                entry.write(src.read(info))
                if info.filename == "optimizer_m_2.npy":
                    for _ in range(32):
                        entry.write(bytes(2**20))
    with pytest.raises(ValueError, match=r"bomb\.npz would unpack to [\d,]+ bytes, but "
                                         r"its architecture needs about"):
        load_checkpoint(bomb)


def test_encrypted_or_odd_entries_are_refused(adam_checkpoint, tmp_path):
    odd = tmp_path / "odd.npz"
    with zipfile.ZipFile(adam_checkpoint) as src, zipfile.ZipFile(odd, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            info.compress_type = zipfile.ZIP_BZIP2
            out.writestr(info, data)
    with pytest.raises(ValueError, match=r"odd\.npz: entry '.*' is encrypted or uses "
                                         r"compression method 12"):
        load_checkpoint(odd)


def test_the_limits_are_shared_with_model_files(adam_checkpoint, monkeypatch):
    monkeypatch.setattr(serialization, "MAX_MODEL_BYTES", 1000)
    with pytest.raises(ValueError, match=r"more than MAX_MODEL_BYTES = 1,000"):
        load_checkpoint(adam_checkpoint)
