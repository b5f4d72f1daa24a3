"""model.save / NeuralNetwork.load: exact round trips, clear refusals, atomic writes (book/15_save_and_load)."""
import ast
import os
import struct
import zipfile
from importlib.metadata import version

import numpy as np
import pytest

import nnscratch.serialization as serialization
from nnscratch import NeuralNetwork, Relu, Sigmoid, Softmax, Tanh
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
    (1, 1, 1, 1, Tanh, None, np.float16),          # linear hidden layer, half precision
]


def make_model(input_size, output_size, hidden, depth, head, hidden_act, dtype, seed=0):
    model = NeuralNetwork(input_size, output_size, hidden, depth, head_activation=head,
                          hidden_activation=hidden_act, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    for layer in model.layers:   # non-zero biases, so that a lost bias would show
        layer.bias[...] = rng.normal(size=layer.bias.shape)
    return model


@pytest.fixture
def saved(tmp_path):
    """A saved float32 model and its path."""
    model = make_model(*ARCHITECTURES[0])
    return model, model.save(tmp_path / "model.npz")


def names(model):
    return [None if layer.activation is None else type(layer.activation).__name__ for layer in model.layers]


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: f"{a[0]}-{a[2]}x{a[3]}-{a[1]}-"
                         f"{getattr(a[4], '__name__', None)}-{getattr(a[5], '__name__', None)}-{np.dtype(a[6])}")
def test_round_trip_is_bit_identical(tmp_path, arch):
    model = make_model(*arch)
    path = model.save(tmp_path / "net.npz")
    loaded = NeuralNetwork.load(path)
    X = np.random.default_rng(7).normal(size=(11, arch[0]))
    assert model.predict(X).tobytes() == loaded.predict(X).tobytes()
    assert loaded.dtype == np.dtype(arch[6]) and names(loaded) == names(model)
    assert (loaded.input_size, loaded.output_size) == (arch[0], arch[1])
    for a, b in zip(model.layers, loaded.layers):
        assert a.weights.tobytes() == b.weights.tobytes() and a.bias.tobytes() == b.bias.tobytes()
        assert a.weights.dtype == b.weights.dtype and a.bias.shape == b.bias.shape
        assert a.needs_input_grad == b.needs_input_grad


def test_loaded_model_trains_like_the_original(tmp_path):
    """The loaded model is a full NeuralNetwork: training it further equals training the original."""
    from nnscratch import CrossEntropyLoss, train
    model = make_model(4, 3, 6, 2, Softmax, Relu, np.float32)
    loaded = NeuralNetwork.load(model.save(tmp_path / "m"))
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(40, 4)), np.eye(3)[rng.integers(0, 3, 40)]
    kwargs = dict(loss_fn=CrossEntropyLoss, epochs=3, batch_size=8, learning_rate=0.1, bar=False, seed=5)
    assert train(model, X, y, **kwargs) == train(loaded, X, y, **kwargs)
    assert model.predict(X).tobytes() == loaded.predict(X).tobytes()


def test_file_holds_plain_arrays_only(saved):
    model, path = saved
    with np.load(path, allow_pickle=False) as archive:   # would raise on any object array
        contents = {key: archive[key] for key in archive.files}
    assert all(value.dtype != object for value in contents.values())
    assert str(contents["format_version"]) == FORMAT_VERSION
    assert str(contents["nnscratch_version"]) == version("nnscratch")
    assert contents["dropout"].dtype == np.float64 and float(contents["dropout"]) == 0.0
    assert list(contents["activations"]) == ["Relu", "Relu", "None"]
    assert str(contents["dtype"]) == "float32"
    assert int(contents["num_hidden_layers"]) == 2 and int(contents["hidden_layer_size"]) == 5
    assert contents["weights_0"].shape == (3, 5) and contents["bias_2"].shape == (1, 2)
    with zipfile.ZipFile(path) as z:
        assert all(name.endswith(".npy") for name in z.namelist())


def test_load_never_allows_pickle(saved, monkeypatch):
    model, path = saved
    seen = []
    real_load = np.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    NeuralNetwork.load(path)
    assert seen == [False]


@pytest.mark.parametrize("given, written", [("model", "model.npz"), ("model.npz", "model.npz"),
                                            ("model.v2", "model.v2.npz"), ("model.NPZ", "model.NPZ.npz")])
def test_suffix_npz_is_appended_when_missing(tmp_path, given, written):
    model = make_model(*ARCHITECTURES[0])
    path = model.save(tmp_path / given)
    assert path == tmp_path / written and path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [written]
    for name in (str(tmp_path / given), tmp_path / given, path):   # str or Path, with or without suffix
        assert NeuralNetwork.load(name).predict(np.ones((1, 3))).tobytes() == model.predict(np.ones((1, 3))).tobytes()


def test_save_overwrites_and_load_is_a_classmethod(tmp_path):
    path = tmp_path / "m.npz"
    make_model(*ARCHITECTURES[0], seed=1).save(path)
    second = make_model(*ARCHITECTURES[0], seed=2)
    second.save(path)
    loaded = NeuralNetwork.load(path)
    assert isinstance(loaded, NeuralNetwork) and loaded is not second
    assert loaded.layers[0].weights.tobytes() == second.layers[0].weights.tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_path_must_be_str_or_pathlike(saved):
    model, _ = saved
    with pytest.raises(TypeError, match="path must be a str or a pathlib.Path, got int"):
        model.save(3)
    with pytest.raises(TypeError, match="path must be a str or a pathlib.Path, got NoneType"):
        NeuralNetwork.load(None)


def test_missing_file_and_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no model file .*absent\.npz"):
        NeuralNetwork.load(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match=r"cannot save to .*m\.npz: the folder .*folder does not exist"):
        make_model(*ARCHITECTURES[0]).save(tmp_path / "no" / "such" / "folder" / "m")


# --- refusing bad files: ValueError naming the file and the problem -------------------------------------------


def rewrite(path, change):
    """Re-save the archive at `path` after change(dict of arrays) edits its entries."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("keep", [0.99, 0.5, 0.1])
def test_truncated_file(saved, keep):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(ValueError, match=r"model\.npz is not a readable \.npz archive \(truncated or damaged\?\)"):
        NeuralNetwork.load(path)


def test_truncated_to_a_few_bytes(saved):
    _, path = saved
    path.write_bytes(path.read_bytes()[:3])
    with pytest.raises(ValueError, match=r"model\.npz is not an nnscratch model file: it starts with b'PK\\x03'"):
        NeuralNetwork.load(path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.npz is not an nnscratch model file: it is empty"):
        NeuralNetwork.load(tmp_path / "empty.npz")


def test_random_bytes_file(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(ValueError, match=r"noise\.npz is not an nnscratch model file: it starts with b'"):
        NeuralNetwork.load(path)


def test_random_bytes_after_a_zip_signature(tmp_path):
    path = tmp_path / "fake.npz"
    path.write_bytes(b"PK\x03\x04" + np.random.default_rng(0).bytes(2000))
    with pytest.raises(ValueError, match=r"fake\.npz is not a readable \.npz archive"):
        NeuralNetwork.load(path)


def test_corrupted_byte_inside_an_array(saved):
    """A flipped byte in the middle of the archive: zip's CRC check catches it."""
    _, path = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("weights_1.npy")
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length        # where the stored bytes of weights_1 begin
    data[start + info.file_size - 5] ^= 0xFF                             # flip a byte of the last weight
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.npz is not a readable \.npz archive"):
        NeuralNetwork.load(path)


def test_a_plain_npy_file(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as f:
        np.save(f, np.arange(5))
    with pytest.raises(ValueError, match=r"array\.npz is not an nnscratch model file: it starts with b'\\x93NUM'"):
        NeuralNetwork.load(path)


def test_a_zip_that_is_not_an_npz(tmp_path):
    path = tmp_path / "docs.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match=r"docs\.npz is not an nnscratch model file: it has no 'format_version' "
                                         r"entry \(entries: readme\.txt\)"):
        NeuralNetwork.load(path)


def test_an_npz_of_other_arrays(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.arange(3), y=np.ones(2))
    with pytest.raises(ValueError, match=r"other\.npz is not an nnscratch model file: it has no 'format_version' "
                                         r"entry \(entries: x, y\)"):
        NeuralNetwork.load(path)


def test_pickled_object_array_is_refused_not_unpickled(saved):
    _, path = saved
    rewrite(path, lambda a: a.update(activations=np.array(["Relu", "Relu", None], dtype=object)))
    with pytest.raises(ValueError, match=r"model\.npz is not a readable \.npz archive.*allow_pickle"):
        NeuralNetwork.load(path)


@pytest.mark.parametrize("stored", ["nnscratch-model-3", "nnscratch-model-0", ""])
def test_wrong_format_version(saved, stored):
    _, path = saved
    rewrite(path, lambda a: a.update(format_version=np.array(stored)))
    with pytest.raises(ValueError, match=rf"model\.npz has format version '{stored}'; this nnscratch "
                                         rf".* reads only 'nnscratch-model-1', 'nnscratch-model-2'$"):
        NeuralNetwork.load(path)


def test_format_version_of_the_wrong_type(saved):
    _, path = saved
    rewrite(path, lambda a: a.update(format_version=np.array(1)))
    with pytest.raises(ValueError, match=r"entry 'format_version' must be a string, got a int64 array"):
        NeuralNetwork.load(path)


@pytest.mark.parametrize("key", ["weights_1", "bias_0", "activations", "dtype", "input_size",
                                 "num_hidden_layers", "nnscratch_version", "dropout"])
def test_npz_missing_keys(saved, key):
    _, path = saved
    rewrite(path, lambda a: a.pop(key))
    with pytest.raises(ValueError, match=rf"model\.npz is incomplete: missing entries .*{key}"):
        NeuralNetwork.load(path)


def test_forged_huge_layer_count(saved):
    _, path = saved
    rewrite(path, lambda a: a.update(num_hidden_layers=np.array(10**12)))
    with pytest.raises(ValueError, match=r"model\.npz is incomplete: 1000000000001 layers need 2000000000002 weight "
                                         r"and bias entries, the file has 15 entries in all"):
        NeuralNetwork.load(path)


def test_extra_layer_entries(saved):
    _, path = saved
    rewrite(path, lambda a: a.update(weights_3=np.ones((2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"model\.npz has entries that do not fit a 3-layer model: weights_3"):
        NeuralNetwork.load(path)


@pytest.mark.parametrize("key, value, message", [
    ("weights_1", np.ones((5, 4), np.float32), r"weights_1 must be a float32 array of shape \(5, 5\), got float32 \(5, 4\)"),
    ("weights_0", np.ones((3, 5), np.float64), r"weights_0 must be a float32 array of shape \(3, 5\), got float64 \(3, 5\)"),
    ("bias_2", np.ones(2, np.float32), r"bias_2 must be a float32 array of shape \(1, 2\), got float32 \(2,\)"),
    ("input_size", np.array(4), r"weights_0 must be a float32 array of shape \(4, 5\), got float32 \(3, 5\)"),
    ("hidden_layer_size", np.array(6), r"weights_0 must be a float32 array of shape \(3, 6\)"),
    ("output_size", np.array(0), r"entry 'output_size' must be an integer >= 1, got array\(0\)"),
    ("num_hidden_layers", np.array(-1), r"entry 'num_hidden_layers' must be an integer >= 0"),
    ("input_size", np.array(2.5), r"entry 'input_size' must be an integer >= 1, got array\(2.5\)"),
    ("hidden_layer_size", np.array(0), r"hidden_layer_size 0 does not fit num_hidden_layers 2"),
    ("activations", np.array(["Relu", "Relu"]), r"'activations' must hold 3 names"),
    ("activations", np.array(["Relu", "Swish", "None"]), r"uses activations \['Swish'\] that are not in "
                                                         r"nnscratch\.activations\.ACTIVATIONS"),
    ("dtype", np.array("int32"), r"'dtype' must name a floating-point type, got array\('int32'"),
    ("dtype", np.array("banana"), r"'dtype' must name a floating-point type"),
    ("weights_2", np.full((5, 2), np.nan, np.float32), r"weights_2 holds NaN or inf"),
])
def test_shape_and_content_mismatch(saved, key, value, message):
    _, path = saved
    rewrite(path, lambda a: a.update({key: value}))
    with pytest.raises(ValueError, match=rf"model\.npz.*{message}"):
        NeuralNetwork.load(path)


def test_error_names_the_file_as_given_with_suffix(tmp_path):
    path = tmp_path / "weights"
    (tmp_path / "weights.npz").write_text("not a model")
    with pytest.raises(ValueError) as info:
        NeuralNetwork.load(str(path))
    assert str(tmp_path / "weights.npz") in str(info.value)


# --- refusing to save what cannot be restored -----------------------------------------------------------------


class Square:
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, d_output):
        return 2 * self.x * d_output


def test_unregistered_activation_refused_on_save(tmp_path):
    model = make_model(*ARCHITECTURES[0])
    model.layers[1].activation = Square()
    with pytest.raises(TypeError, match=r"cannot save layer 1: its activation Square is not in "
                                        r"nnscratch\.activations\.ACTIVATIONS \(Relu, Tanh, Sigmoid, Softmax"):
        model.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_subclass_with_a_registered_name_is_refused(tmp_path):
    class Relu(ACTIVATIONS["Relu"]):   # same name, different class: loading would give the wrong one
        pass
    model = make_model(*ARCHITECTURES[0])
    model.layers[0].activation = Relu()
    with pytest.raises(TypeError, match="cannot save layer 0: its activation Relu is not in"):
        model.save(tmp_path / "m.npz")


def test_registered_custom_activation_round_trips(tmp_path, monkeypatch):
    monkeypatch.setitem(ACTIVATIONS, "Square", Square)
    model = make_model(3, 2, 4, 1, None, Square, np.float64)
    loaded = NeuralNetwork.load(model.save(tmp_path / "sq"))
    assert isinstance(loaded.layers[0].activation, Square)
    X = np.random.default_rng(0).normal(size=(4, 3))
    assert model.predict(X).tobytes() == loaded.predict(X).tobytes()
    monkeypatch.delitem(ACTIVATIONS, "Square")
    with pytest.raises(ValueError, match=r"uses activations \['Square'\] that are not in"):
        NeuralNetwork.load(tmp_path / "sq.npz")


def test_mixed_hidden_activations_round_trip(tmp_path):
    model = make_model(3, 2, 4, 3, Sigmoid, Relu, np.float64)
    model.layers[1].activation = Tanh()
    model.layers[2].activation = None
    loaded = NeuralNetwork.load(model.save(tmp_path / "mixed"))
    assert names(loaded) == ["Relu", "Tanh", None, "Sigmoid"]
    X = np.random.default_rng(0).normal(size=(6, 3))
    assert model.predict(X).tobytes() == loaded.predict(X).tobytes()


@pytest.mark.parametrize("damage, message", [
    (lambda m: setattr(m.layers[1], "weights", np.ones((5, 3), np.float32)),
     r"cannot save: layer 1 has weights \(5, 3\) and bias \(1, 5\), expected \(5, 5\) and \(1, 5\)"),
    (lambda m: m.layers.append(m.layers[-1]), r"cannot save: layer 2 has weights \(5, 2\) and bias \(1, 2\), "
                                            r"expected \(5, 5\) and \(1, 5\) for a NeuralNetwork\(3, 2, 5, 3\)"),
    (lambda m: m.layers[0].weights.__setitem__((0, 0), np.inf), r"cannot save: layer 0 weights hold NaN or inf"),
    (lambda m: setattr(m.layers[2], "bias", np.zeros((1, 2))), r"cannot save: layer 2 bias are float64, the model is float32"),
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


# --- atomic save -------------------------------------------------------------------------------------------------


def test_crash_during_write_keeps_the_old_file(saved, monkeypatch):
    model, path = saved
    good = path.read_bytes()

    def crashing_savez(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half an archive")   # some bytes reach the temporary file...
        raise OSError("disk full")                    # ...then the write dies

    monkeypatch.setattr(np, "savez", crashing_savez)
    other = make_model(*ARCHITECTURES[0], seed=42)
    with pytest.raises(OSError, match="disk full"):
        other.save(path)
    assert path.read_bytes() == good                                    # old good file intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]   # no temporary file remains
    monkeypatch.undo()
    assert NeuralNetwork.load(path).predict(np.ones((1, 3))).tobytes() == model.predict(np.ones((1, 3))).tobytes()


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
    """Like any file the user creates (not 0600, as a tempfile.mkstemp file would be)."""
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    path = make_model(*ARCHITECTURES[0]).save(tmp_path / "m")
    assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def test_temporary_file_lives_in_the_destination_folder(tmp_path, monkeypatch):
    """os.replace is atomic only within one file system: the temporary file must sit next to the target."""
    calls = []
    real_replace = os.replace

    def spy(src, dst):
        calls.append((os.path.dirname(src), os.path.dirname(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    make_model(*ARCHITECTURES[0]).save(tmp_path / "m")
    assert calls == [(str(tmp_path), str(tmp_path))]


def test_save_goes_through_the_shared_atomic_writer(tmp_path, monkeypatch):
    """One atomic writer for the whole library: nnscratch.files.atomic_write (book/13_loading_mnist)."""
    from nnscratch import files
    calls = []

    def spy(path, write):
        calls.append(path)
        return files.atomic_write(path, write)

    monkeypatch.setattr(serialization, "atomic_write", spy)
    path = make_model(*ARCHITECTURES[0]).save(tmp_path / "m")
    assert calls == [tmp_path / "m.npz"] and path.exists()
    assert serialization.atomic_write is spy and files.atomic_write.__module__ == "nnscratch.files"


def test_the_module_does_not_import_its_own_package():
    """`import nnscratch` inside nnscratch/serialization.py would run the package's __init__ half-built."""
    tree = ast.parse(open(serialization.__file__, encoding="utf-8").read())
    plain = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert "nnscratch" not in plain
    assert not any(isinstance(node, ast.ImportFrom) and node.module == "nnscratch" for node in ast.walk(tree))


# --- zip bombs and absurd sizes: refused from the zip's central directory, before unpacking ------------------


class ReadCounter:
    """Counts the bytes unpacked from any zip entry while it is installed."""
    def __init__(self, monkeypatch):
        self.total = 0
        real_read = zipfile.ZipExtFile.read

        def counting_read(entry, n=-1):
            data = real_read(entry, n)
            self.total += len(data)
            return data

        monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)


def write_bomb(path, source, mib=48):
    """Copy the model file `source` to `path`, deflated, with weights_1 replaced by `mib` MiB of zeros."""
    with np.load(source, allow_pickle=False) as archive, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for key in archive.files:
            if key != "weights_1":
                with z.open(f"{key}.npy", "w") as entry:
                    np.lib.format.write_array(entry, archive[key])
        with z.open("weights_1.npy", "w", force_zip64=True) as entry:
            np.lib.format.write_array_header_1_0(entry, {"descr": "<f4", "fortran_order": False,
                                                         "shape": (mib * 2**18,)})
            for _ in range(mib):
                entry.write(bytes(2**20))


def test_zip_bomb_is_refused_before_it_is_unpacked(saved, tmp_path, monkeypatch):
    _, path = saved
    bomb = tmp_path / "bomb.npz"
    write_bomb(bomb, path)
    assert bomb.stat().st_size < 2**20 / 4                          # small on disk...
    with zipfile.ZipFile(bomb) as z:
        assert sum(info.file_size for info in z.infolist()) > 48 * 2**20   # ...huge once unpacked
    counter = ReadCounter(monkeypatch)
    with pytest.raises(ValueError, match=r"bomb\.npz would unpack to [\d,]+ bytes, but its architecture needs "
                                         r"about [\d,]+: refused unread \(a damaged file, or a zip bomb\)"):
        NeuralNetwork.load(bomb)
    assert 0 < counter.total < 4096                                  # only the small entries were read


def test_honest_files_are_read_in_full(saved, monkeypatch):
    """The counter above can see a full read: loading a good file unpacks every weight."""
    _, path = saved
    counter = ReadCounter(monkeypatch)
    NeuralNetwork.load(path)
    with zipfile.ZipFile(path) as z:
        assert counter.total >= z.getinfo("weights_1.npy").file_size


def test_absurd_total_size_is_refused_before_anything_is_read(saved, monkeypatch):
    _, path = saved
    monkeypatch.setattr(serialization, "MAX_MODEL_BYTES", 1000)      # the saved file unpacks to more than this
    opened = []
    monkeypatch.setattr(np, "load", lambda *args, **kwargs: opened.append(args))
    with pytest.raises(ValueError, match=r"model\.npz would unpack to [\d,]+ bytes, more than MAX_MODEL_BYTES = "
                                         r"1,000: refused unread"):
        NeuralNetwork.load(path)
    assert opened == []


def test_the_default_limit_is_4_gib():
    assert serialization.MAX_MODEL_BYTES == 2**32


def test_an_oversized_single_value_entry_is_not_read(saved, monkeypatch):
    _, path = saved
    rewrite(path, lambda a: a.update(input_size=np.zeros(1000, np.int64)))
    counter = ReadCounter(monkeypatch)
    with pytest.raises(ValueError, match=r"entry 'input_size' would unpack to 8,128 bytes, not a single value"):
        NeuralNetwork.load(path)
    assert counter.total < 1024


def test_a_compressed_model_file_still_loads(saved):
    """np.savez_compressed (ex-save-2) changes the bytes on disk, not the unpacked sizes the guard checks."""
    model, path = saved
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    np.savez_compressed(path, **arrays)
    X = np.ones((2, 3))
    assert NeuralNetwork.load(path).predict(X).tobytes() == model.predict(X).tobytes()


def test_an_extra_non_array_entry_is_refused(saved):
    _, path = saved
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match=r"has entries that do not fit a 3-layer model: notes\.txt"):
        NeuralNetwork.load(path)


def test_a_header_entry_that_is_not_a_npy_file(tmp_path):
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("format_version", "nnscratch-model-2")      # no .npy suffix: np.load returns raw bytes
    with pytest.raises(ValueError, match=r"odd\.npz is not an nnscratch model file: its entry 'format_version' "
                                         r"is not an array"):
        NeuralNetwork.load(path)


# --- dropout and the format versions ---------------------------------------------------------------------------


def test_dropout_rate_round_trips(tmp_path):
    model = NeuralNetwork(4, 3, 6, 2, head_activation=Softmax, dropout=0.3, seed=0)
    loaded = NeuralNetwork.load(model.save(tmp_path / "d"))
    assert [d.rate for d in loaded.dropouts] == [0.3, 0.3] and loaded.training is False
    X = np.random.default_rng(0).normal(size=(5, 4))
    assert model.predict(X).tobytes() == loaded.predict(X).tobytes()


def test_format_1_files_still_load_without_dropout(saved):
    model, path = saved
    rewrite(path, lambda a: (a.pop("dropout"), a.update(format_version=np.array("nnscratch-model-1"))))
    loaded = NeuralNetwork.load(path)
    assert loaded.dropouts == []
    assert loaded.predict(np.ones((1, 3))).tobytes() == model.predict(np.ones((1, 3))).tobytes()


def test_format_1_with_a_dropout_entry_is_refused(saved):
    _, path = saved
    rewrite(path, lambda a: a.update(format_version=np.array("nnscratch-model-1")))
    with pytest.raises(ValueError, match=r"has entries that do not fit a 3-layer model: dropout"):
        NeuralNetwork.load(path)


@pytest.mark.parametrize("value", [np.array(1.0), np.array(-0.1), np.array(np.nan), np.array(1), np.array([0.5])])
def test_bad_dropout_entry(saved, value):
    _, path = saved
    rewrite(path, lambda a: a.update(dropout=value))
    with pytest.raises(ValueError, match=r"model\.npz: entry 'dropout' must be a number in \[0, 1\)"):
        NeuralNetwork.load(path)


def test_dropouts_with_different_rates_are_refused_on_save(tmp_path):
    model = NeuralNetwork(4, 3, 6, 2, dropout=0.3, seed=0)
    model.dropouts[1].rate = 0.5
    with pytest.raises(ValueError, match=r"cannot save: the model's Dropout objects have different rates \[0\.3, 0\.5\]"):
        model.save(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []
