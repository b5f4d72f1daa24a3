"""load_mnist's IDX source (the four original MNIST files) and read_idx, on small
synthetic files, offline, and hostile .gz files.

Checksums of the official files cannot match synthetic files, so the tests inject their
own table into `data.IDX_FILES`; one test checks that the official table is enforced
when nothing is injected.
"""

import gzip
import hashlib
import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

import nnscratch.data as data
from nnscratch import MnistSourceWarning, load_mnist, read_idx

N_TRAIN, N_TEST = 12, 8


def write_idx(path, array):
    """Write a uint8 array as a gzipped IDX file: magic (0, 0, 0x08, ndim), big-endian
    dims, bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def file_entry(path):
    raw = path.read_bytes()
    return len(raw), hashlib.md5(raw).hexdigest()


@pytest.fixture
def idx_folder(tmp_path, monkeypatch):
    """A folder with four small synthetic IDX files under the official names, and a
    matching checksum table."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(
            0, 256, (N_TRAIN, 28, 28), dtype=np.uint8
        ),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(
            0, 256, (N_TEST, 28, 28), dtype=np.uint8
        ),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }
    for name, array in arrays.items():
        write_idx(tmp_path / name, array)
    monkeypatch.setattr(
        data, "IDX_FILES", {name: file_entry(tmp_path / name) for name in arrays}
    )
    return tmp_path, arrays


def test_load_mnist_uses_the_env_var_folder(monkeypatch, idx_folder, no_network):
    folder, _ = idx_folder
    monkeypatch.setenv("NNSCRATCH_DATA", str(folder))
    with pytest.warns(MnistSourceWarning, match="IDX files"):
        _, y, source = load_mnist(return_source=True)
    assert source == "idx" and len(y) == N_TRAIN + N_TEST


def test_idx_files_are_parsed_train_then_test(idx_folder, no_network):
    folder, arrays = idx_folder
    with pytest.warns(
        MnistSourceWarning,
        match=r"MNIST: 20 images from the IDX files .*checksums verified",
    ):
        X, y, source = load_mnist(folder, return_source=True)
    assert source == "idx"
    assert X.dtype == np.float32 and X.shape == (N_TRAIN + N_TEST, 784)
    assert y.dtype == np.int64 and y.shape == (N_TRAIN + N_TEST,)
    pixels = np.concatenate(
        [arrays["train-images-idx3-ubyte.gz"], arrays["t10k-images-idx3-ubyte.gz"]]
    )
    np.testing.assert_array_equal(X, pixels.reshape(-1, 784).astype(np.float32) / 255)
    np.testing.assert_array_equal(
        y,
        np.concatenate(
            [arrays["train-labels-idx1-ubyte.gz"], arrays["t10k-labels-idx1-ubyte.gz"]]
        ),
    )
    assert 0.0 <= X.min() and X.max() <= 1.0


def test_two_values_without_return_source(idx_folder, no_network):
    with pytest.warns(MnistSourceWarning):
        result = load_mnist(idx_folder[0])
    assert len(result) == 2


def test_exactly_one_warning(idx_folder, no_network, recwarn):
    load_mnist(idx_folder[0])
    assert [w.category for w in recwarn] == [MnistSourceWarning]


def test_truncated_idx_file_is_named_with_a_fix(idx_folder, no_network):
    folder, _ = idx_folder
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-50])  # a download that stopped early
    with pytest.raises(
        ValueError,
        match=r"t10k-images-idx3-ubyte\.gz is .* bytes but the official file is",
    ) as err:
        load_mnist(folder)
    assert "delete" in str(err.value) and str(path) in str(err.value)


def test_corrupt_idx_file_fails_its_checksum(idx_folder, no_network):
    folder, _ = idx_folder
    path = folder / "train-labels-idx1-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, one byte flipped
    path.write_bytes(bytes(raw))
    with pytest.raises(
        ValueError,
        match=r"train-labels-idx1-ubyte\.gz has MD5 checksum .*corrupt.*delete",
    ):
        load_mnist(folder)


def test_official_checksums_are_enforced_by_default(tmp_path, no_network):
    """Without an injected table, made-up files under the official names are refused."""
    rng = np.random.default_rng(1)
    for name, shape in (
        ("train-images-idx3-ubyte.gz", (5, 28, 28)),
        ("train-labels-idx1-ubyte.gz", (5,)),
        ("t10k-images-idx3-ubyte.gz", (3, 28, 28)),
        ("t10k-labels-idx1-ubyte.gz", (3,)),
    ):
        write_idx(tmp_path / name, rng.integers(0, 10, shape, dtype=np.uint8))
    with pytest.raises(
        ValueError,
        match=r"train-images-idx3-ubyte\.gz is .* bytes but the official file is "
        r"9,912,422 bytes",
    ):
        load_mnist(tmp_path)


@pytest.mark.parametrize(
    "case",
    [
        "bad magic",
        "short data",
        "label 10",
        "not gzip",
        "wrong size images",
        "no header",
    ],
)
def test_idx_parser_rejects_malformed_files_naming_them(
    idx_folder, monkeypatch, no_network, case
):
    """Files that pass the (injected) checksum but are malformed still fail, naming
    the file."""
    folder, arrays = idx_folder
    name = (
        "t10k-labels-idx1-ubyte.gz"
        if case in ("label 10", "not gzip", "no header")
        else "train-images-idx3-ubyte.gz"
    )
    path = folder / name
    if case == "bad magic":
        write_idx(path, arrays[name].reshape(N_TRAIN, 784))  # 2-D: magic 0x00000802
        expected = "magic number 0x00000802"
    elif case == "short data":
        raw = gzip.decompress(path.read_bytes())
        path.write_bytes(gzip.compress(raw[:-28]))
        expected = r"ends after 9,380 of the 9,408 bytes announced"
    elif case == "label 10":
        write_idx(path, np.full(N_TEST, 10, dtype=np.uint8))
        expected = "the label 10"
    elif case == "not gzip":
        path.write_bytes(b"this is not a gzip file")
        expected = "not a readable gzip file"
    elif case == "no header":
        path.write_bytes(gzip.compress(b"\x00\x00\x08"))
        expected = "too few for an IDX header"
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
    with pytest.raises(
        ValueError, match="the train files hold 12 images but 11 labels"
    ):
        load_mnist(folder)


def test_incomplete_idx_set_names_the_missing_files(idx_folder, no_network):
    folder, _ = idx_folder
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"but not t10k-labels-idx1-ubyte\.gz"):
        load_mnist(folder)


def test_idx_files_take_precedence_over_the_cache(idx_folder, monkeypatch, no_network):
    folder, _ = idx_folder
    monkeypatch.setattr(data, "MNIST_ROWS", 6)
    rng = np.random.default_rng(2)
    data._save_cache(
        folder / data.CACHE_NAME,
        rng.integers(0, 256, (6, 784), dtype=np.uint8),
        rng.integers(0, 10, 6, dtype=np.uint8),
    )
    with pytest.warns(MnistSourceWarning):
        assert load_mnist(folder, return_source=True)[2] == "idx"


# ----------------------------------------------------------------------- read_idx alone
def test_read_idx_round_trip(tmp_path):
    images = np.random.default_rng(3).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "i.gz", images)
    write_idx(tmp_path / "l.gz", np.array([0, 9, 3], dtype=np.uint8))
    out = read_idx(str(tmp_path / "i.gz"), "images")  # a str path works too
    assert out.dtype == np.uint8 and out.shape == (4, 784)
    np.testing.assert_array_equal(out, images.reshape(4, 784))
    np.testing.assert_array_equal(read_idx(tmp_path / "l.gz", "labels"), [0, 9, 3])


def test_read_idx_refuses_images_read_as_labels(tmp_path):
    write_idx(tmp_path / "i.gz", np.zeros((2, 28, 28), dtype=np.uint8))
    with pytest.raises(
        ValueError,
        match=r"i\.gz starts with the magic number 0x00000803, but IDX labels",
    ):
        read_idx(tmp_path / "i.gz", "labels")


@pytest.mark.parametrize("kind", ["pixels", ["images"], None])
def test_read_idx_checks_kind(tmp_path, kind):
    with pytest.raises(ValueError, match="kind must be 'images' or 'labels'"):
        read_idx(tmp_path / "x.gz", kind)


# -------------------------------------------------------------------- hostile .gz files
# Issue 15: read_idx checks the header before it unpacks the rest, and unpacks no more
# than the header announces (at most max_rows rows), so a small .gz that unpacks to
# gigabytes costs nothing.
def gzip_bomb(path, header, n_zeros):
    """A .gz file: `header`, then n_zeros zero bytes, compressed in chunks (never whole
    in memory)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: the gzip format
    chunk = bytes(1 << 20)
    with open(path, "wb") as f:
        f.write(compressor.compress(header))
        for _ in range(n_zeros // len(chunk)):
            f.write(compressor.compress(chunk))
        f.write(compressor.flush())


def peak_of(call):
    """(the exception call() raises, peak bytes allocated during the call)."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as err:
            call()
        return err.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "header, message",
    [
        (
            bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**32 - 1, 28, 28),
            "announces 4,294,967,295 images, more than max_rows=100,000",
        ),
        (
            bytes([0, 0, 8, 1]) + struct.pack(">3I", 5, 28, 28),
            "magic number 0x00000801, but IDX images",
        ),
        (
            bytes([0, 0, 8, 3]) + struct.pack(">3I", 5, 4096, 4096),
            "4096x4096 images, expected 28x28",
        ),
        (
            bytes([0, 0, 8, 3]) + struct.pack(">3I", 5, 28, 28),
            "holds more than the 3,920 bytes",
        ),
    ],
    ids=["huge count", "wrong magic", "huge images", "more than announced"],
)
def test_gzip_bomb_is_refused_after_its_header_with_bounded_memory(
    tmp_path, header, message
):
    path = tmp_path / "bomb-images-idx3-ubyte.gz"
    gzip_bomb(path, header, 256 << 20)  # 256 MiB of zeros in a few hundred KiB
    assert path.stat().st_size < 2 << 20
    err, peak = peak_of(lambda: read_idx(path, "images"))
    assert message in str(err) and str(path) in str(err) and "delete it" in str(err)
    assert peak < 4 << 20


def test_labels_bomb_is_refused_too(tmp_path):
    path = tmp_path / "labels.gz"
    gzip_bomb(
        path, bytes([0, 0, 8, 1]) + struct.pack(">I", 3) + bytes([1, 2, 3]), 64 << 20
    )
    err, peak = peak_of(lambda: read_idx(path, "labels"))
    assert (
        "holds more than the 3 bytes its header announces" in str(err)
        and peak < 4 << 20
    )


def test_max_rows_bounds_what_a_header_may_promise(tmp_path):
    write_idx(tmp_path / "l.gz", np.arange(5, dtype=np.uint8))
    assert len(read_idx(tmp_path / "l.gz", "labels", max_rows=5)) == 5
    with pytest.raises(ValueError, match=r"announces 5 labels, more than max_rows=4"):
        read_idx(tmp_path / "l.gz", "labels", max_rows=4)
    with pytest.raises(TypeError, match="max_rows"):
        read_idx(tmp_path / "l.gz", "labels", max_rows=4.5)
    with pytest.raises(ValueError, match="max_rows"):
        read_idx(tmp_path / "l.gz", "labels", max_rows=-1)


@pytest.mark.parametrize(
    "case, content, message",
    [
        (
            "header only",
            gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 4)),
            "ends after 0 of the 4 bytes",
        ),
        (
            "cut stream",
            gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 4000) + bytes(4000))[
                :-20
            ],
            "is not a readable gzip file",
        ),
        ("bad gzip header", b"\x1f\x8b\x09" + bytes(40), "is not a readable gzip file"),
        ("empty file", b"", "holds 0 bytes, too few for an IDX header"),
        (
            "bad crc",
            gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 1, 7]))[:-8] + bytes(8),
            "is not a readable gzip file",
        ),
    ],
)
def test_broken_gzip_streams_are_value_errors_naming_the_file(
    tmp_path, case, content, message
):
    path = tmp_path / "broken.gz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        read_idx(path, "labels")
    assert str(path) in str(err.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_is_refused_without_blocking(tmp_path, no_hang):
    os.mkfifo(tmp_path / "pipe.gz")
    with pytest.raises(
        ValueError, match=r"pipe\.gz is a named pipe \(FIFO\), not a regular file"
    ):
        read_idx(tmp_path / "pipe.gz", "labels")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_under_an_official_name_is_refused_by_load_mnist(
    idx_folder, no_network, no_hang
):
    folder, _ = idx_folder
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    os.mkfifo(folder / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz is a named pipe"):
        load_mnist(folder)


def test_a_folder_under_an_official_name_is_refused(idx_folder, no_network):
    folder, _ = idx_folder
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    (folder / "train-labels-idx1-ubyte.gz").mkdir()
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz is a folder"):
        load_mnist(folder)


def test_a_device_is_refused(tmp_path):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    with pytest.raises(
        ValueError, match="/dev/zero is a device, not a regular file; it was not opened"
    ):
        read_idx("/dev/zero", "images")


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.gz"):
        read_idx(tmp_path / "nothing.gz", "labels")


def test_read_idx_returns_writeable_arrays(tmp_path):
    write_idx(tmp_path / "l.gz", np.array([1, 2], dtype=np.uint8))
    labels = read_idx(tmp_path / "l.gz", "labels")
    labels[0] = 5
    assert labels.tolist() == [5, 2]
