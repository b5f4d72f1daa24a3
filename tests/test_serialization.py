"""model.save / Sequential.load / NeuralNetwork.load: exact round trips of any
Sequential, clear refusals of bad files, atomic writes, and the seed's formats 1 and 2
(book/21_save_and_load)."""
import ast
import json
import os
import pickle
import struct
import threading
import zipfile
from importlib.metadata import version

import numpy as np
import pytest

import nnscratch.serialization as serialization
from nnscratch import (
    BatchNorm, CrossEntropyLoss, Dropout, Layer, NeuralNetwork, Relu, Sequential,
    Sigmoid, Softmax, Tanh, train,
)
from nnscratch.activations import ACTIVATIONS
from nnscratch.serialization import FORMAT_VERSION

ARCHITECTURES = [
    # (input, output, hidden size, hidden layers, head, hidden activation, dtype)
    (3, 2, 5, 2, None, Relu, np.float32),
    (3, 2, 5, 2, None, Relu, np.float64),
    (4, 3, 6, 1, Softmax, Tanh, np.float32),
    (4, 3, 6, 3, Softmax, Sigmoid, np.float64),
    (2, 1, 4, 1, Sigmoid, Relu, np.float32),
    (5, 2, 7, 0, None, Relu, np.float64),          # a single linear layer
    (5, 4, 7, 0, Softmax, Relu, np.float32),       # multinomial logistic regression
    (1, 1, 1, 1, Tanh, None, np.float64),          # linear hidden layer
]


def dense(model):
    return [layer for layer in model.layers if isinstance(layer, Layer)]


def make_model(n_in, n_out, hidden, depth, head, hidden_act, dtype, seed=0, **kw):
    model = NeuralNetwork(n_in, n_out, hidden, depth, head_activation=head,
                          hidden_activation=hidden_act, seed=seed, dtype=dtype, **kw)
    rng = np.random.default_rng(seed + 1)
    for layer in dense(model):   # non-zero biases, so that a lost bias would show
        layer.bias[...] = rng.normal(size=layer.bias.shape)
    return model


def batchnorm_net(dtype=np.float64, seed=0):
    """A Sequential with widths that differ, batch normalisation (trained a little, so
    its running statistics are not the defaults) and dropout."""
    net = Sequential(Layer(3, 6, seed=seed, dtype=dtype), BatchNorm(6, dtype=dtype),
                     Relu(), Dropout(0.2, seed=seed), Layer(6, 4, seed=seed + 1,
                                                            dtype=dtype),
                     Tanh(), Layer(4, 2, seed=seed + 2, dtype=dtype), Softmax())
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(40, 3)), np.eye(2)[rng.integers(0, 2, 40)]
    train(net, X, y, CrossEntropyLoss, 2, 8, 0.1, bar=False, seed=seed)
    return net


@pytest.fixture
def saved(tmp_path):
    """A saved float32 NeuralNetwork and its path."""
    model = make_model(*ARCHITECTURES[0])
    return model, model.save(tmp_path / "model.npz")


def kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def X_for(n_in, rows=11, seed=7):
    return np.random.default_rng(seed).normal(size=(rows, n_in))


def same_predictions(a, b, n_in):
    X = X_for(n_in)
    return a.predict(X).tobytes() == b.predict(X).tobytes()


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: f"{a[0]}-{a[2]}x{a[3]}-"
                         f"{getattr(a[4], '__name__', None)}-"
                         f"{getattr(a[5], '__name__', None)}-{np.dtype(a[6])}")
def test_round_trip_is_bit_identical(tmp_path, arch):
    model = make_model(*arch)
    loaded = NeuralNetwork.load(model.save(tmp_path / "net.npz"))
    assert type(loaded) is NeuralNetwork and same_predictions(model, loaded, arch[0])
    assert loaded.dtype == np.dtype(arch[6]) and kinds(loaded) == kinds(model)
    assert (loaded.input_size, loaded.output_size) == (arch[0], arch[1])
    for a, b in zip(dense(model), dense(loaded)):
        assert a.weights.tobytes() == b.weights.tobytes()
        assert a.bias.tobytes() == b.bias.tobytes() and a.bias.dtype == b.bias.dtype
        assert a.needs_input_grad == b.needs_input_grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_any_sequential_round_trips(tmp_path, dtype):
    net = batchnorm_net(dtype)
    loaded = Sequential.load(net.save(tmp_path / "bn"))
    assert type(loaded) is Sequential and kinds(loaded) == kinds(net)
    assert same_predictions(net, loaded, 3) and loaded.dtype == np.dtype(dtype)
    a, b = net.layers[1], loaded.layers[1]
    for key in ("gamma", "beta", "running_mean", "running_var"):
        assert getattr(a, key).tobytes() == getattr(b, key).tobytes()
    assert (b.momentum, b.eps, loaded.layers[3].rate) == (a.momentum, a.eps, 0.2)
    assert loaded.training is False and b.training is False
    assert loaded.layers[3].training is False


def test_seed_style_layers_and_layer_free_networks_round_trip(tmp_path):
    net = Sequential(Layer(3, 4, Tanh, seed=0), Layer(4, 2, Softmax, seed=1))
    loaded = Sequential.load(net.save(tmp_path / "seed_style"))
    assert [type(layer.activation) for layer in loaded.layers] == [Tanh, Softmax]
    assert same_predictions(net, loaded, 3)
    bare = Sequential(Relu(), Sigmoid())      # no parameters: dtype float64
    again = Sequential.load(bare.save(tmp_path / "bare"))
    assert kinds(again) == ["Relu", "Sigmoid"] and same_predictions(bare, again, 3)


def test_loaded_models_train_like_the_originals(tmp_path):
    model = make_model(4, 3, 6, 2, Softmax, Relu, np.float32)
    loaded = NeuralNetwork.load(model.save(tmp_path / "m"))
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(40, 4)), np.eye(3)[rng.integers(0, 3, 40)]
    kwargs = dict(loss_fn=CrossEntropyLoss, epochs=3, batch_size=8, learning_rate=0.1,
                  bar=False, seed=5)
    assert train(model, X, y, **kwargs) == train(loaded, X, y, **kwargs)
    assert model.predict(X).tobytes() == loaded.predict(X).tobytes()
    net = Sequential(Layer(4, 5, seed=0), BatchNorm(5), Relu(), Layer(5, 3, seed=1),
                     Softmax())
    again = Sequential.load(net.save(tmp_path / "bn"))
    assert train(net, X, y, **kwargs) == train(again, X, y, **kwargs)


def test_which_class_load_returns(tmp_path):
    nn_path = make_model(*ARCHITECTURES[0]).save(tmp_path / "nn")
    seq_path = Sequential(Layer(3, 2, seed=0)).save(tmp_path / "seq")
    assert type(Sequential.load(nn_path)) is NeuralNetwork     # what was saved
    assert type(NeuralNetwork.load(nn_path)) is NeuralNetwork
    assert type(Sequential.load(seq_path)) is Sequential
    with pytest.raises(ValueError, match=r"seq\.npz holds a Sequential, not a Neural"
                                         r"Network: load it with Sequential\.load"):
        NeuralNetwork.load(seq_path)

    class Mine(NeuralNetwork):
        pass
    assert type(Mine.load(nn_path)) is Mine


def test_file_holds_plain_arrays_only(saved):
    model, path = saved
    with np.load(path, allow_pickle=False) as archive:   # raises on any object array
        contents = {key: archive[key] for key in archive.files}
    assert all(value.dtype != object for value in contents.values())
    assert str(contents["format_version"]) == FORMAT_VERSION == "nnscratch-model-3"
    arch = json.loads(str(contents["architecture"]))
    assert arch["nnscratch_version"] == version("nnscratch")
    assert (arch["model"], arch["dtype"], arch["input_size"], arch["output_size"]) == \
        ("NeuralNetwork", "float32", 3, 2)
    assert [layer["type"] for layer in arch["layers"]] == kinds(model)
    assert arch["layers"][0] == {"type": "Layer", "input_size": 3, "output_size": 5,
                                 "activation": None, "needs_input_grad": False}
    assert sorted(contents) == sorted(["format_version", "architecture"] + [
        f"layer_{i}_{kind}" for i in (0, 2, 4) for kind in ("weights", "bias")])
    assert contents["layer_4_weights"].shape == (5, 2)
    with zipfile.ZipFile(path) as z:
        assert all(name.endswith(".npy") for name in z.namelist())


def test_load_never_unpickles(saved, monkeypatch):
    model, path = saved

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    assert same_predictions(model, NeuralNetwork.load(path), 3)


@pytest.mark.parametrize("given, written", [
    ("model", "model.npz"), ("model.npz", "model.npz"), ("model.v2", "model.v2.npz"),
    ("model.NPZ", "model.NPZ.npz")])
def test_suffix_npz_is_appended_when_missing(tmp_path, given, written):
    model = make_model(*ARCHITECTURES[0])
    path = model.save(tmp_path / given)
    assert path == tmp_path / written and path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [written]
    for name in (str(tmp_path / given), tmp_path / given, path):
        assert same_predictions(NeuralNetwork.load(name), model, 3)


def test_save_overwrites_and_load_is_a_classmethod(tmp_path):
    path = tmp_path / "m.npz"
    make_model(*ARCHITECTURES[0], seed=1).save(path)
    second = make_model(*ARCHITECTURES[0], seed=2)
    second.save(path)
    loaded = NeuralNetwork.load(path)
    assert loaded is not second
    assert loaded.layers[0].weights.tobytes() == second.layers[0].weights.tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_path_must_be_str_or_pathlike(saved):
    model, _ = saved
    with pytest.raises(TypeError, match="path must be a str or a pathlib.Path, "
                                        "got int"):
        model.save(3)
    with pytest.raises(TypeError, match="path must be a str or a pathlib.Path, "
                                        "got NoneType"):
        NeuralNetwork.load(None)


def test_missing_file_and_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no model file .*absent\.npz"):
        NeuralNetwork.load(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match=r"cannot save to .*m\.npz: the folder "
                                                r".*folder does not exist"):
        make_model(*ARCHITECTURES[0]).save(tmp_path / "no" / "such" / "folder" / "m")


# --- issue 15: folders and special files ----------------------------------------------


@pytest.mark.parametrize("name", ["runs/", "runs", "runs.npz"])
def test_a_folder_is_not_a_model_file(tmp_path, name):
    (tmp_path / name.rstrip("/")).mkdir()
    model = make_model(*ARCHITECTURES[0])
    with pytest.raises(ValueError, match=r"runs.* names a folder"):
        model.save(str(tmp_path / name) + ("/" if name.endswith("/") else ""))
    with pytest.raises(ValueError, match=r"names a folder"):
        NeuralNetwork.load(tmp_path / name)
    assert [p.name for p in tmp_path.iterdir()] == [name.rstrip("/")]   # nothing beside


def test_a_path_ending_with_a_separator_is_refused_even_if_absent(tmp_path):
    with pytest.raises(ValueError, match=r"names a folder; give a file name such as "
                                         r".*new.model\.npz"):
        make_model(*ARCHITECTURES[0]).save(str(tmp_path / "new") + os.sep)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    outcome = []

    def load():
        try:
            NeuralNetwork.load(fifo)
        except Exception as error:          # noqa: BLE001 - recorded and checked below
            outcome.append(error)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():                   # unblock the reader before failing
        with open(fifo, "wb"):
            pass
        pytest.fail("NeuralNetwork.load blocked on a FIFO")
    assert isinstance(outcome[0], ValueError)
    assert "pipe.npz is a named pipe" in str(outcome[0])


# --- refusing bad files: ValueError naming the file and the problem -------------------


def rewrite(path, change):
    """Re-save the archive at `path` after change(dict of arrays) edits its entries."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def rewrite_arch(path, change):
    """Re-save the model file at `path` after change(architecture dict) edits it."""
    def edit(arrays):
        arch = json.loads(str(arrays["architecture"]))
        change(arch)
        arrays["architecture"] = np.array(json.dumps(arch))
    rewrite(path, edit)


@pytest.mark.parametrize("keep", [0.99, 0.5, 0.1])
def test_truncated_file(saved, keep):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(ValueError, match=r"model\.npz is not a readable \.npz archive "
                                         r"\(truncated or damaged\?\)"):
        NeuralNetwork.load(path)


def test_truncated_to_a_few_bytes(saved):
    _, path = saved
    path.write_bytes(path.read_bytes()[:3])
    with pytest.raises(ValueError, match=r"model\.npz is not an nnscratch model file: "
                                         r"it starts with b'PK\\x03'"):
        NeuralNetwork.load(path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.npz is not an nnscratch model file: "
                                         r"it is empty"):
        NeuralNetwork.load(tmp_path / "empty.npz")


def test_an_empty_archive_is_a_zip_but_not_a_model(tmp_path):
    np.savez(tmp_path / "none.npz")
    assert (tmp_path / "none.npz").read_bytes()[:4] == b"PK\x05\x06"
    with pytest.raises(ValueError, match=r"none\.npz is not an nnscratch model file: "
                                         r"it has no 'format_version' entry \(entries: "
                                         r"none\)"):
        NeuralNetwork.load(tmp_path / "none.npz")


def test_random_bytes_file(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(ValueError, match=r"noise\.npz is not an nnscratch model file: "
                                         r"it starts with b'"):
        NeuralNetwork.load(path)


def test_random_bytes_after_a_zip_signature(tmp_path):
    path = tmp_path / "fake.npz"
    path.write_bytes(b"PK\x03\x04" + np.random.default_rng(0).bytes(2000))
    with pytest.raises(ValueError, match=r"fake\.npz is not a readable \.npz archive"):
        NeuralNetwork.load(path)


def entry_data_offset(data, info):
    """Where the stored bytes of the zip entry `info` begin in the archive bytes."""
    name_length, extra_length = struct.unpack(
        "<HH", data[info.header_offset + 26:info.header_offset + 30])
    return info.header_offset + 30 + name_length + extra_length


def test_corrupted_byte_inside_an_array(saved):
    """A flipped byte in the middle of the archive: zip's CRC check catches it."""
    _, path = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("layer_2_weights.npy")
    data[entry_data_offset(data, info) + info.file_size - 5] ^= 0xFF   # a weight
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.npz is not a readable \.npz archive"):
        NeuralNetwork.load(path)


def test_a_plain_npy_file(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as f:
        np.save(f, np.arange(5))
    with pytest.raises(ValueError, match=r"array\.npz is not an nnscratch model file: "
                                         r"it starts with b'\\x93NUM'"):
        NeuralNetwork.load(path)


def test_a_zip_that_is_not_an_npz(tmp_path):
    path = tmp_path / "docs.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match=r"docs\.npz is not an nnscratch model file: "
                                         r"it has no 'format_version' entry \(entries: "
                                         r"readme\.txt\)"):
        NeuralNetwork.load(path)


def test_an_npz_of_other_arrays(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.arange(3), y=np.ones(2))
    with pytest.raises(ValueError, match=r"other\.npz is not an nnscratch model file: "
                                         r"it has no 'format_version' entry "
                                         r"\(entries: x, y\)"):
        NeuralNetwork.load(path)


def copy_archive(source, target, change_info=lambda info: None, compression=None):
    """Copy the zip `source` to `target` entry by entry; change_info(ZipInfo) may edit
    each entry's record first."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if compression is not None:
                info.compress_type = compression
            change_info(info)
            out.writestr(info, data)


def test_an_encrypted_entry_is_refused(saved, tmp_path):
    _, path = saved
    locked = tmp_path / "locked.npz"
    copy_archive(path, locked)
    data = bytearray(locked.read_bytes())
    for offset in range(len(data) - 4):   # set the "encrypted" flag bit of every record
        if data[offset:offset + 4] in (b"PK\x03\x04", b"PK\x01\x02"):   # local, central
            data[offset + (6 if data[offset + 2] == 3 else 8)] |= 0x1
    locked.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"locked\.npz: entry 'format_version\.npy' is "
                                         r"encrypted or uses compression method 0"):
        NeuralNetwork.load(locked)


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_an_unknown_compression_method_is_refused(saved, tmp_path, method):
    _, path = saved
    odd = tmp_path / "odd.npz"
    copy_archive(path, odd, compression=method)
    with pytest.raises(ValueError, match=rf"odd\.npz: entry '.*\.npy' is encrypted or "
                                         rf"uses compression method {method}; NumPy "
                                         rf"writes entries unencrypted"):
        NeuralNetwork.load(odd)


def test_pickled_object_array_is_refused_not_unpickled(saved):
    _, path = saved
    rewrite(path, lambda a: a.update(layer_0_bias=np.array([None, 1], dtype=object)))
    with pytest.raises(ValueError, match=r"model\.npz: entry layer_0_bias\.npy holds "
                                         r"Python objects \(a pickle\): never loaded"):
        NeuralNetwork.load(path)


@pytest.mark.parametrize("stored", ["nnscratch-model-4", "nnscratch-model-0", ""])
def test_wrong_format_version(saved, stored):
    _, path = saved
    rewrite(path, lambda a: a.update(format_version=np.array(stored)))
    with pytest.raises(ValueError, match=rf"model\.npz has format version '{stored}'; "
                                         rf"this nnscratch .* reads only "
                                         rf"'nnscratch-model-3', 'nnscratch-model-1', "
                                         rf"'nnscratch-model-2'"):
        NeuralNetwork.load(path)


@pytest.mark.parametrize("value", [np.array(3), np.array(["nnscratch-model-3"]),
                                   np.zeros(1000)])
def test_format_version_of_the_wrong_kind(saved, value):
    _, path = saved
    rewrite(path, lambda a: a.update(format_version=value))
    with pytest.raises(ValueError, match=r"model\.npz: entry 'format_version' must "
                                         r"be a 0-d array of kind 'U'"):
        NeuralNetwork.load(path)


@pytest.mark.parametrize("key", ["layer_2_weights", "layer_0_bias", "architecture"])
def test_npz_missing_keys(saved, key):
    _, path = saved
    rewrite(path, lambda a: a.pop(key))
    with pytest.raises(ValueError, match=rf"model\.npz is incomplete: missing entries "
                                         rf"{key}"):
        NeuralNetwork.load(path)


def test_extra_entries(saved):
    _, path = saved
    rewrite(path, lambda a: a.update(layer_9_weights=np.ones((2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"model\.npz has entries that do not fit its "
                                         r"architecture: layer_9_weights"):
        NeuralNetwork.load(path)


def test_an_extra_non_array_entry_is_refused(saved):
    _, path = saved
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match=r"do not fit its architecture: notes\.txt"):
        NeuralNetwork.load(path)


def test_an_entry_that_is_not_a_npy_file(saved):
    _, path = saved
    rewrite(path, lambda a: a.pop("architecture"))
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("architecture.npy", "{}")
    with pytest.raises(ValueError, match=r"entry architecture\.npy has no valid \.npy "
                                         r"header"):
        NeuralNetwork.load(path)


@pytest.mark.parametrize("text, message", [
    ("{not json", r"entry 'architecture' is not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, r"entry 'architecture' is not valid JSON"),
    ("[1, 2]", r"entry 'architecture' must hold a JSON object, got \[1, 2\]"),
    ('{"model": "Sequential"}', r"entry 'architecture' must have the keys model, "
                                r"dtype, nnscratch_version, layers, got model"),
])
def test_an_architecture_that_is_not_one(saved, text, message):
    _, path = saved
    rewrite(path, lambda a: a.update(architecture=np.array(text)))
    with pytest.raises(ValueError, match=rf"model\.npz: {message}"):
        NeuralNetwork.load(path)


def test_an_oversized_architecture_is_not_read(saved, monkeypatch):
    _, path = saved
    rewrite(path, lambda a: a.update(architecture=np.array(" " * 300_000)))
    counter = ReadCounter(monkeypatch)
    with pytest.raises(ValueError, match=r"entry 'architecture' would unpack to "
                                         r"1,200,128 bytes, more than it can need"):
        NeuralNetwork.load(path)
    assert counter.total < 4096


def set_layer(i, **fields):
    return lambda arch: arch["layers"][i].update(fields)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(model="Pickle"), r"'architecture' describes no model"),
    (lambda a: a.update(input_size=0), r"'architecture' describes no model"),
    (lambda a: a.update(output_size="2"), r"'architecture' describes no model"),
    (lambda a: a.pop("input_size"), r"entry 'architecture' must have the keys model, "
                                     r"dtype, nnscratch_version, layers, input_size"),
    (lambda a: a.update(dtype="int32"), r"'dtype' must name a floating-point type, "
                                        r"got 'int32'"),
    (lambda a: a.update(dtype="banana"), r"'dtype' must name a floating-point type"),
    (lambda a: a.update(dtype=["float32"]), r"'dtype' must name a floating-point type"),
    (lambda a: a.update(layers=[]), r"'layers' must be a non-empty list"),
    (lambda a: a.update(layers={"type": "Relu"}), r"'layers' must be a non-empty list"),
    (lambda a: a["layers"].append("Relu"), r"layer 5 has the unknown type 'None'"),
    (lambda a: a["layers"].append({"type": "Swish"}), r"layer 5 has the unknown type "
                                                      r"'Swish' \(known: Layer, "
                                                      r"Dropout, BatchNorm"),
    (lambda a: a["layers"].append({"type": "os.system"}),
     r"layer 5 has the unknown type 'os\.system'"),
    (set_layer(0, init="he"), r"layer 0 \(Layer\) must have the fields \['input_size', "
                              r"'output_size', 'activation', 'needs_input_grad'\]"),
    (set_layer(1, rate=0.5), r"layer 1 \(Relu\) must have the fields \[\]"),
    (set_layer(0, input_size="3"), r"layer 0 \(Layer\) has invalid sizes"),
    (set_layer(0, input_size=3.0), r"layer 0 \(Layer\) has invalid sizes"),
    (set_layer(0, input_size=-3), r"layer 0 \(Layer\) has invalid sizes"),
    (set_layer(0, input_size=True), r"layer 0 \(Layer\) has invalid sizes"),
    (set_layer(0, input_size=4), r"entry layer_0_weights\.npy holds float32 \(3, 5\), "
                                 r"expected float32 \(4, 5\)"),
    (set_layer(0, activation="Swish"), r"layer 0 \(Layer\) .*activation 'Swish' is not "
                                       r"in nnscratch\.activations\.ACTIVATIONS"),
    (set_layer(0, needs_input_grad="yes"), r"layer 0 \(Layer\) .*needs_input_grad must "
                                           r"be true or false"),
])
def test_a_bad_architecture_is_refused(saved, change, message):
    _, path = saved
    rewrite_arch(path, change)
    with pytest.raises(ValueError, match=rf"model\.npz: {message}"):
        NeuralNetwork.load(path)


@pytest.mark.parametrize("change, message", [
    (set_layer(3, rate=1.0), r"layer 3 \(Dropout\) .*rate must be a number in "
                             r"\[0, 1\)"),
    (set_layer(3, rate="0.2"), r"layer 3 \(Dropout\) .*rate must be a number"),
    (set_layer(1, eps=-1.0), r"layer 1 \(BatchNorm\) .*eps must be a finite "
                             r"number > 0"),
    (set_layer(1, momentum=2.0), r"layer 1 \(BatchNorm\) .*momentum must be a number"),
    (set_layer(1, features=0), r"entry layer_1_gamma\.npy holds .*, expected float64 "
                               r"\(1, 0\)"),
    (set_layer(1, features=6.0), r"layer 1 \(BatchNorm\) has invalid sizes"),
])
def test_a_layer_constructor_refuses_a_forged_configuration(tmp_path, change, message):
    path = batchnorm_net().save(tmp_path / "bn")
    rewrite_arch(path, change)
    with pytest.raises(ValueError, match=rf"bn\.npz: {message}"):
        Sequential.load(path)


@pytest.mark.parametrize("key, value, message", [
    ("layer_2_weights", np.ones((5, 4), np.float32),
     r"entry layer_2_weights\.npy holds float32 \(5, 4\), expected float32 "
     r"\(5, 5\)"),
    ("layer_0_weights", np.ones((3, 5), np.float64),
     r"holds float64 \(3, 5\), expected float32 \(3, 5\)"),
    ("layer_4_bias", np.ones(2, np.float32),
     r"holds float32 \(2,\), expected float32 \(1, 2\)"),
    ("layer_4_weights", np.full((5, 2), np.nan, np.float32), r"layer_4_weights holds "
                                                             r"NaN or inf"),
    ("layer_0_bias", np.full((1, 5), -np.inf, np.float32), r"layer_0_bias holds NaN"),
])
def test_arrays_that_do_not_fit_their_layer(saved, key, value, message):
    _, path = saved
    rewrite(path, lambda a: a.update({key: value}))
    with pytest.raises(ValueError, match=rf"model\.npz.*{message}"):
        NeuralNetwork.load(path)


def test_a_header_that_lies_about_the_data_size(saved):
    """The .npy header says (3, 5) but the entry holds more bytes: refused unread."""
    _, path = saved
    rewrite(path, lambda a: None)
    with zipfile.ZipFile(path) as z:
        entries = {info.filename: z.read(info) for info in z.infolist()}
    entries["layer_0_weights.npy"] += bytes(64)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match=r"entry layer_0_weights\.npy: its header "
                                         r"announces 60 bytes of data, but the entry "
                                         r"holds "
                                         r"124"):
        NeuralNetwork.load(path)


def test_error_names_the_file_as_given_with_suffix(tmp_path):
    path = tmp_path / "weights"
    (tmp_path / "weights.npz").write_text("not a model")
    with pytest.raises(ValueError) as info:
        NeuralNetwork.load(str(path))
    assert str(tmp_path / "weights.npz") in str(info.value)


def test_a_checkpoint_is_not_loaded_as_a_model(saved, tmp_path):
    from nnscratch import SGD
    from nnscratch.serialization import save_checkpoint
    model, _ = saved
    path = save_checkpoint(tmp_path / "ckpt", model, SGD(model.parameters(), 0.1))
    with pytest.raises(ValueError, match=r"ckpt\.npz is a checkpoint: use "
                                         r"load_checkpoint"):
        NeuralNetwork.load(path)


# --- refusing to save what cannot be restored -----------------------------------------


class Square:
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, d_output):
        return 2 * self.x * d_output


def test_unregistered_layer_refused_on_save(tmp_path):
    model = make_model(*ARCHITECTURES[0])
    model.layers[1] = Square()
    with pytest.raises(TypeError, match=r"cannot save layer 1 \(Square\): its type is "
                                        r"not in nnscratch\.serialization\.LAYER_TYPES "
                                        r"\(Layer, Dropout, BatchNorm.*\) nor in "
                                        r"nnscratch\.activations\.ACTIVATIONS \(Relu, "
                                        r"Tanh, Sigmoid, Softmax"):
        model.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_subclasses_with_a_registered_name_are_refused(tmp_path):
    class Relu(ACTIVATIONS["Relu"]):   # same name, other class: loading would differ
        pass

    class Dropout(serialization.Dropout):
        pass
    model = make_model(*ARCHITECTURES[0])
    model.layers[1] = Relu()
    with pytest.raises(TypeError, match=r"cannot save layer 1 \(Relu\): its type"):
        model.save(tmp_path / "m.npz")
    model.layers[1] = Dropout(0.1)
    with pytest.raises(TypeError, match=r"cannot save layer 1 \(Dropout\)"):
        model.save(tmp_path / "m.npz")


def test_unregistered_activation_inside_a_seed_style_layer(tmp_path):
    net = Sequential(Layer(3, 2, seed=0), Layer(2, 2, seed=1))
    net.layers[1].activation = Square()
    with pytest.raises(TypeError, match=r"cannot save layer 1 \(Layer\): its "
                                        r"activation Square is not in "
                                        r"nnscratch\.activations\.ACTIVATIONS"):
        net.save(tmp_path / "m")


def test_registered_custom_activation_round_trips(tmp_path, monkeypatch):
    monkeypatch.setitem(ACTIVATIONS, "Square", Square)
    model = make_model(3, 2, 4, 1, None, Square, np.float64)
    loaded = NeuralNetwork.load(model.save(tmp_path / "sq"))
    assert isinstance(loaded.layers[1], Square) and same_predictions(model, loaded, 3)
    monkeypatch.delitem(ACTIVATIONS, "Square")
    with pytest.raises(ValueError, match=r"layer 1 has the unknown type 'Square'"):
        NeuralNetwork.load(tmp_path / "sq.npz")


def test_mixed_hidden_activations_round_trip(tmp_path):
    model = make_model(3, 2, 4, 3, Sigmoid, Relu, np.float64)
    model.layers[3] = Tanh()
    del model.layers[5]
    loaded = NeuralNetwork.load(model.save(tmp_path / "mixed"))
    assert kinds(loaded) == ["Layer", "Relu", "Layer", "Tanh", "Layer", "Layer",
                             "Sigmoid"]
    assert same_predictions(model, loaded, 3)


@pytest.mark.parametrize("damage, message", [
    (lambda m: setattr(m.layers[2], "bias", np.zeros((1, 3), np.float32)),
     r"cannot save: layer 2 \(Layer\) bias must be a float32 array of shape \(1, 5\) "
     r"\(the model's dtype\), got float32 \(1, 3\)"),
    (lambda m: m.layers[0].weights.__setitem__((0, 0), np.inf),
     r"cannot save: layer 0 \(Layer\) weights holds NaN or inf"),
    (lambda m: setattr(m.layers[4], "bias", np.zeros((1, 2))),
     r"cannot save: layer 4 \(Layer\) bias must be a float32 array .* got float64"),
    (lambda m: setattr(m.layers[4], "bias", [[0.0, 0.0]]),
     r"cannot save: layer 4 \(Layer\) bias must be a float32 array .* got list"),
])
def test_model_that_cannot_be_rebuilt_is_refused(tmp_path, damage, message):
    model = make_model(*ARCHITECTURES[0])
    damage(model)
    with pytest.raises(ValueError, match=message):
        model.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_model_without_layers_is_refused(tmp_path):
    model = make_model(*ARCHITECTURES[0])
    model.layers = []
    with pytest.raises(ValueError, match="cannot save: the model has no layers"):
        model.save(tmp_path / "m.npz")


# --- atomic save ----------------------------------------------------------------------


def test_crash_during_write_keeps_the_old_file(saved, monkeypatch):
    model, path = saved
    good = path.read_bytes()

    def crashing_savez(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half an archive")   # some bytes reach the temp file
        raise OSError("disk full")                    # ...then the write dies

    monkeypatch.setattr(np, "savez", crashing_savez)
    with pytest.raises(OSError, match="disk full"):
        make_model(*ARCHITECTURES[0], seed=42).save(path)
    assert path.read_bytes() == good                                 # old file intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]  # no temp
    monkeypatch.undo()
    assert same_predictions(NeuralNetwork.load(path), model, 3)


def test_interrupt_during_write_keeps_the_old_file(saved, monkeypatch):
    """Even KeyboardInterrupt (not an Exception) cleans the temporary file up."""
    _, path = saved
    good = path.read_bytes()

    def interrupted(file, *args, **kwargs):
        file.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_model(*ARCHITECTURES[0], seed=3).save(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]


def test_crash_before_the_rename_keeps_the_old_file(saved, monkeypatch):
    _, path = saved
    good = path.read_bytes()

    def failing_replace(src, dst):
        raise PermissionError("replace refused")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        make_model(*ARCHITECTURES[0], seed=3).save(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]


def test_crash_on_first_save_leaves_nothing(tmp_path, monkeypatch):
    def crashing_savez(file, *args, **kwargs):
        file.write(b"PK")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crashing_savez)
    with pytest.raises(OSError):
        make_model(*ARCHITECTURES[0]).save(tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_saved_file_gets_the_usual_permissions(tmp_path):
    """Like any file the user creates (not 0600, as a tempfile.mkstemp file is)."""
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    path = make_model(*ARCHITECTURES[0]).save(tmp_path / "m")
    assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def test_save_goes_through_the_shared_atomic_writer(tmp_path, monkeypatch):
    """One atomic writer for the whole library: nnscratch.files.atomic_write."""
    from nnscratch import files
    calls = []

    def spy(path, write):
        calls.append(path)
        return files.atomic_write(path, write)

    monkeypatch.setattr(serialization, "atomic_write", spy)
    path = make_model(*ARCHITECTURES[0]).save(tmp_path / "m")
    assert calls == [tmp_path / "m.npz"] and path.exists()


def test_the_module_does_not_import_its_own_package():
    """`import nnscratch` inside nnscratch/serialization.py would run the package's
    __init__ half-built."""
    tree = ast.parse(open(serialization.__file__, encoding="utf-8").read())
    plain = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names]
    assert "nnscratch" not in plain
    assert not any(isinstance(node, ast.ImportFrom) and node.module == "nnscratch"
                   for node in ast.walk(tree))


# --- zip bombs and absurd sizes: refused from the zip's central directory -------------


class ReadCounter:
    """Counts the bytes unpacked from any zip entry while it is installed."""
    def __init__(self, monkeypatch):
        self.total = 0
        real_read, real_readinto = zipfile.ZipExtFile.read, zipfile.ZipExtFile.readinto

        def counting_read(entry, n=-1):
            data = real_read(entry, n)
            self.total += len(data)
            return data

        def counting_readinto(entry, buffer):
            n = real_readinto(entry, buffer)
            self.total += n
            return n

        monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
        monkeypatch.setattr(zipfile.ZipExtFile, "readinto", counting_readinto)


def write_bomb(path, source, key, mib=48):
    """Copy the model file `source` to `path`, deflated, with entry `key` followed by
    `mib` MiB of zeros (its .npy header still announces the honest shape)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w",
                                                        zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            with z.open(info.filename, "w", force_zip64=True) as entry:
                entry.write(src.read(info))
                if info.filename == f"{key}.npy":
                    for _ in range(mib):
                        entry.write(bytes(2**20))


def test_zip_bomb_is_refused_before_it_is_unpacked(saved, tmp_path, monkeypatch):
    _, path = saved
    bomb = tmp_path / "bomb.npz"
    write_bomb(bomb, path, "layer_2_weights")
    assert bomb.stat().st_size < 2**20 / 4                              # small on disk
    with zipfile.ZipFile(bomb) as z:
        assert sum(info.file_size for info in z.infolist()) > 48 * 2**20  # unpacked
    counter = ReadCounter(monkeypatch)
    with pytest.raises(ValueError, match=r"bomb\.npz would unpack to [\d,]+ bytes, "
                                         r"but its architecture needs about [\d,]+: "
                                         r"refused unread \(a damaged file, or a zip "
                                         r"bomb\)"):
        NeuralNetwork.load(bomb)
    assert 0 < counter.total < 8192                        # only the small entries


def test_honest_files_are_read_in_full(saved, monkeypatch):
    """The counter above sees a full read: loading a good file unpacks every weight."""
    _, path = saved
    counter = ReadCounter(monkeypatch)
    NeuralNetwork.load(path)
    with zipfile.ZipFile(path) as z:
        assert counter.total >= sum(info.file_size for info in z.infolist()) - 1024


def test_absurd_total_size_is_refused_before_anything_is_read(saved, monkeypatch):
    _, path = saved
    monkeypatch.setattr(serialization, "MAX_MODEL_BYTES", 1000)   # the file is larger
    counter = ReadCounter(monkeypatch)
    with pytest.raises(ValueError, match=r"model\.npz would unpack to [\d,]+ bytes, "
                                         r"more than MAX_MODEL_BYTES = 1,000: refused "
                                         r"unread"):
        NeuralNetwork.load(path)
    assert counter.total == 0


def test_the_default_limit_is_4_gib():
    assert serialization.MAX_MODEL_BYTES == 2**32


def test_a_compressed_model_file_still_loads(saved):
    """np.savez_compressed changes the bytes on disk, not the unpacked sizes."""
    model, path = saved
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    np.savez_compressed(path, **arrays)
    assert same_predictions(NeuralNetwork.load(path), model, 3)


def test_fortran_ordered_arrays_load_as_the_same_numbers(saved):
    model, path = saved
    rewrite(path, lambda a: a.update(layer_2_weights=np.asfortranarray(
        a["layer_2_weights"])))
    assert same_predictions(NeuralNetwork.load(path), model, 3)


# --- the seed's formats 1 and 2, written entry by entry as its save() wrote them ------


def write_old_format(path, model, fmt="nnscratch-model-2", **changes):
    """The NeuralNetwork `model` (Layer, activation, (Dropout), ...) in the layout of
    the committed code before networks were lists of layers."""
    layers = dense(model)
    names = []
    for layer in layers:
        after = model.layers[model.layers.index(layer) + 1:][:1]
        is_activation = after and not isinstance(after[0], (Layer, Dropout))
        names.append(type(after[0]).__name__ if is_activation else "None")
    rates = {d.rate for d in model.layers if isinstance(d, Dropout)}
    arrays = {"format_version": np.array(fmt), "nnscratch_version": np.array("0.2.0"),
              "input_size": np.array(model.input_size),
              "output_size": np.array(model.output_size),
              "hidden_layer_size": np.array(layers[0].weights.shape[1]
                                            if len(layers) > 1 else 0),
              "num_hidden_layers": np.array(len(layers) - 1),
              "activations": np.array(names), "dtype": np.array(model.dtype.name)}
    if fmt == "nnscratch-model-2":
        arrays["dropout"] = np.array(rates.pop() if rates else 0.0)
    for i, layer in enumerate(layers):
        arrays[f"weights_{i}"], arrays[f"bias_{i}"] = layer.weights, layer.bias
    arrays.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del arrays[key]
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("fmt", ["nnscratch-model-1", "nnscratch-model-2"])
@pytest.mark.parametrize("arch", ARCHITECTURES,
                         ids=lambda a: f"{a[3]}-{np.dtype(a[6])}")
def test_old_format_files_still_load(tmp_path, arch, fmt):
    model = make_model(*arch)
    loaded = NeuralNetwork.load(write_old_format(tmp_path / "old.npz", model, fmt))
    assert type(loaded) is NeuralNetwork and kinds(loaded) == kinds(model)
    assert same_predictions(model, loaded, arch[0]) and loaded.dtype == model.dtype
    assert [layer.needs_input_grad for layer in dense(loaded)] == \
        [layer.needs_input_grad for layer in dense(model)]
    assert type(Sequential.load(tmp_path / "old.npz")) is NeuralNetwork


def test_format_2_dropout_becomes_dropout_layers(tmp_path):
    model = make_model(4, 3, 6, 2, Softmax, Relu, np.float32, dropout=0.3)
    loaded = NeuralNetwork.load(write_old_format(tmp_path / "d.npz", model))
    assert kinds(loaded) == kinds(model) == ["Layer", "Relu", "Dropout", "Layer",
                                             "Relu", "Dropout", "Layer", "Softmax"]
    assert [d.rate for d in loaded.layers if isinstance(d, Dropout)] == [0.3, 0.3]
    assert loaded.training is False and same_predictions(model, loaded, 4)


def test_a_linear_hidden_layer_in_an_old_file(tmp_path):
    model = make_model(3, 2, 4, 2, Sigmoid, Relu, np.float64)
    del model.layers[3]                                   # the second hidden: linear
    loaded = NeuralNetwork.load(write_old_format(tmp_path / "lin.npz", model))
    assert kinds(loaded) == ["Layer", "Relu", "Layer", "Layer", "Sigmoid"]
    assert same_predictions(model, loaded, 3)


@pytest.mark.parametrize("changes, message", [
    (dict(dropout=None), r"is incomplete: missing entries dropout"),
    (dict(weights_1=None), r"is incomplete: missing entries weights_1"),
    (dict(activations=None), r"is incomplete: missing entries activations"),
    (dict(num_hidden_layers=np.array(10**12)), r"is incomplete: 1000000000001 layers "
                                               r"need more entries than its 15"),
    (dict(weights_3=np.ones((2, 2), np.float32)), r"has entries that do not fit its "
                                                  r"architecture: weights_3"),
    (dict(weights_1=np.ones((5, 4), np.float32)),
     r"entry weights_1\.npy holds float32 \(5, 4\), expected float32 \(5, 5\)"),
    (dict(input_size=np.array(4)), r"entry weights_0\.npy holds .*, expected float32 "
                                   r"\(4, 5\)"),
    (dict(output_size=np.array(0)), r"the sizes .* describe no network"),
    (dict(hidden_layer_size=np.array(0)), r"the sizes .* describe no network"),
    (dict(input_size=np.array(2.5)), r"entry 'input_size' must be a 0-d array of kind "
                                     r"'iu'"),
    (dict(activations=np.array(["Relu", "Relu"])), r"'activations' must hold one name "
                                                   r"per layer"),
    (dict(activations=np.array(["Relu", "Swish", "None"])), r"unknown type 'Swish'"),
    (dict(dtype=np.array("int32")), r"'dtype' must name a floating-point type"),
    (dict(dropout=np.array(1.0)), r"entry 'dropout' must be a number in \[0, 1\)"),
    (dict(dropout=np.array(np.nan)), r"entry 'dropout' must be a number in \[0, 1\)"),
    (dict(dropout=np.array(1)), r"entry 'dropout' must be a 0-d array of kind 'f'"),
    (dict(weights_2=np.full((5, 2), np.nan, np.float32)), r"weights_2 holds NaN"),
])
def test_bad_old_format_files(tmp_path, changes, message):
    path = write_old_format(tmp_path / "old.npz", make_model(*ARCHITECTURES[0]),
                            **changes)
    with pytest.raises(ValueError, match=rf"old\.npz.*{message}"):
        NeuralNetwork.load(path)


def test_format_1_with_a_dropout_entry_is_refused(tmp_path):
    path = write_old_format(tmp_path / "old.npz", make_model(*ARCHITECTURES[0]),
                            "nnscratch-model-1", dropout=np.array(0.0))
    with pytest.raises(ValueError, match=r"has entries that do not fit its "
                                         r"architecture: dropout"):
        NeuralNetwork.load(path)


def test_an_old_format_zip_bomb_is_refused(tmp_path, monkeypatch):
    path = write_old_format(tmp_path / "old.npz", make_model(*ARCHITECTURES[0]))
    write_bomb(tmp_path / "bomb.npz", path, "weights_1")
    counter = ReadCounter(monkeypatch)
    with pytest.raises(ValueError, match=r"refused unread \(a damaged file, or a zip "
                                         r"bomb\)"):
        NeuralNetwork.load(tmp_path / "bomb.npz")
    assert counter.total < 8192


# --- chapter 15's layers --------------------------------------------------------------


def conv_net(dtype=np.float32):
    from nnscratch.conv import Conv2D, Flatten, MaxPool2D
    return Sequential(Conv2D(2, 3, 3, stride=1, padding=1, seed=0, dtype=dtype), Relu(),
                      MaxPool2D(2), Flatten(), Layer(3 * 3 * 3, 4, seed=1, dtype=dtype),
                      Softmax())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_convolutional_networks_round_trip(tmp_path, dtype):
    net = conv_net(dtype)
    net.layers[0].bias[...] = [0.5, -1.0, 2.0]
    loaded = Sequential.load(net.save(tmp_path / "conv"))
    assert kinds(loaded) == ["Conv2D", "Relu", "MaxPool2D", "Flatten", "Layer",
                             "Softmax"]
    a, b = net.layers[0], loaded.layers[0]
    assert (b.in_channels, b.out_channels, b.kernel_size, b.stride, b.padding) == \
        (2, 3, 3, 1, 1) and loaded.layers[2].size == 2
    assert a.weights.tobytes() == b.weights.tobytes() and a.bias.tobytes() == \
        b.bias.tobytes()
    X = np.random.default_rng(0).normal(size=(5, 2, 6, 6)).astype(dtype)
    assert net.predict(X).tobytes() == loaded.predict(X).tobytes()


@pytest.mark.parametrize("change, message", [
    (set_layer(2, size=-1), r"layer 2 \(MaxPool2D\) .*size must be an integer >= 1"),
    (set_layer(0, stride=0), r"layer 0 \(Conv2D\) .*stride must be an integer >= 1"),
    (set_layer(0, kernel_size=2), r"entry layer_0_weights\.npy holds .*, expected "
                                  r"float32 \(3, 2, 2, 2\)"),
    (set_layer(3, start_dim=1), r"layer 3 \(Flatten\) must have the fields \[\]"),
])
def test_forged_convolution_configurations(tmp_path, change, message):
    path = conv_net().save(tmp_path / "conv")
    rewrite_arch(path, change)
    with pytest.raises(ValueError, match=rf"conv\.npz: {message}"):
        Sequential.load(path)


def test_a_float16_file_is_refused_as_the_layers_refuse_float16(tmp_path):
    """Layer refuses float16 (guards round to 0); so does a file asking for it."""
    model = make_model(3, 2, 5, 1, None, Relu, np.float32)
    path = write_old_format(tmp_path / "half.npz", model, dtype=np.array("float16"),
                            weights_0=model.layers[0].weights.astype(np.float16),
                            bias_0=model.layers[0].bias.astype(np.float16),
                            weights_1=model.layers[2].weights.astype(np.float16),
                            bias_1=model.layers[2].bias.astype(np.float16))
    with pytest.raises(ValueError, match=r"half\.npz: layer 0 \(Layer\) .*dtype "
                                         r"float16 is not supported"):
        NeuralNetwork.load(path)


def test_a_model_prints_its_layers_with_the_settings_save_records():
    from nnscratch import Conv2D, Flatten, MaxPool2D

    model = NeuralNetwork(4, 3, 5, 1, head_activation=Softmax, dropout=0.1, seed=0)
    assert repr(model).splitlines() == [
        "NeuralNetwork(",
        "  (0) Layer(input_size=4, output_size=5, needs_input_grad=False)",
        "  (1) Relu()",
        "  (2) Dropout(rate=0.1)",
        "  (3) Layer(input_size=5, output_size=3, needs_input_grad=True)",
        "  (4) Softmax()",
        ")"]
    cnn = Sequential(Conv2D(1, 2, 3, padding=1, seed=0), MaxPool2D(2), Flatten())
    assert repr(cnn).splitlines()[1] == ("  (0) Conv2D(in_channels=1, out_channels=2, "
                                         "kernel_size=3, stride=1, padding=1)")

    class Custom(Layer):                      # not in the registry: Python's default
        pass

    assert "Custom object at 0x" in repr(Sequential(Custom(2, 2)))
