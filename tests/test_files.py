"""nnscratch.files (book/19_loading_mnist): atomic_write, its use for the MNIST cache,
and the readers that judge a file before they open or unpack it: check_regular_file,
read_exactly, read_npz."""

import io
import os
import socket
import stat
import struct
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nnscratch.data as data
from nnscratch.files import atomic_write, check_regular_file, read_exactly, read_npz

posix_only = pytest.mark.skipif(
    os.name != "posix", reason="POSIX permissions and umask"
)


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_content_is_complete(tmp_path):
    content = np.random.default_rng(0).bytes(
        3 << 20
    )  # several MiB, several buffer fills
    path = tmp_path / "big.bin"
    atomic_write(path, lambda f: f.write(content))
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]


def test_str_path_and_replacing_an_existing_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"old")
    atomic_write(str(path), lambda f: f.write(b"new content"))
    assert path.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@posix_only
@pytest.mark.parametrize(
    "mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664), (0o000, 0o666)]
)
def test_permissions_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    path = tmp_path / "file.bin"
    atomic_write(path, lambda f: f.write(b"x"))
    assert mode(path) == expected
    with open(tmp_path / "plain.bin", "wb") as f:  # the same as open() gives
        f.write(b"x")
    assert mode(path) == mode(tmp_path / "plain.bin")


@posix_only
def test_the_mnist_cache_gets_normal_permissions(tmp_path, umask):
    umask(0o022)
    path = tmp_path / data.CACHE_NAME
    data._save_cache(path, np.zeros((2, 784), np.uint8), np.zeros(2, np.uint8))
    assert mode(path) == 0o644


@pytest.mark.parametrize(
    "error", [OSError("disk full"), ValueError("bad data"), KeyboardInterrupt()]
)
def test_failure_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, error):
    path = tmp_path / "model.npz"
    path.write_bytes(b"the old, complete file")

    def write_half(f):
        f.write(b"half of the new")
        raise error

    with pytest.raises(type(error)):
        atomic_write(path, write_half)
    assert path.read_bytes() == b"the old, complete file"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_failure_without_an_old_file_leaves_nothing(tmp_path):
    def fail(f):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "new.bin", fail)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_removes_the_temp_file(tmp_path):
    (tmp_path / "a folder").mkdir()  # os.replace cannot put a file there
    with pytest.raises(OSError):
        atomic_write(tmp_path / "a folder", lambda f: f.write(b"x"))
    assert [p.name for p in tmp_path.iterdir()] == ["a folder"]


def test_data_reaches_the_disk_before_the_rename(tmp_path, monkeypatch):
    """fsync of the file happens before os.replace, then the folder is flushed."""
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1]
    )
    monkeypatch.setattr(
        os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1]
    )
    atomic_write(tmp_path / "f.bin", lambda f: f.write(b"x"))
    expected = (
        ["fsync", "replace", "fsync"] if os.name == "posix" else ["fsync", "replace"]
    )
    assert calls == expected


def test_folder_fsync_refused_by_the_system_is_ignored(tmp_path, monkeypatch):
    real_open = os.open

    def no_folders(path, flags, *args):
        if os.path.isdir(path):
            raise PermissionError("folders cannot be opened here")  # as on Windows
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_folders)
    atomic_write(tmp_path / "f.bin", lambda f: f.write(b"ok"))
    assert (tmp_path / "f.bin").read_bytes() == b"ok"


@pytest.mark.parametrize(
    "path, write, message",
    [
        (3, lambda f: None, "path must be a str or pathlib.Path"),
        ("x.bin", b"not callable", "write must be a function"),
    ],
)
def test_bad_arguments(tmp_path, monkeypatch, path, write, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match=message):
        atomic_write(path, write)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ hostile files
# The readers of nnscratch.files (issue 15): special files are refused before they are
# opened, and every archive is judged by its headers before a byte of it is unpacked.

fifo_only = pytest.mark.skipif(
    not hasattr(os, "mkfifo"), reason="named pipes are POSIX"
)


def peak_memory(call):
    """(result or exception, peak bytes allocated by Python and NumPy during call())."""
    tracemalloc.start()
    try:
        try:
            result = call()
        except Exception as err:  # noqa: BLE001
            result = err
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def patch_entry(path, name, *, flag_bits=None, method=None, file_size=None):
    """Rewrite the flags, compression method or declared size of the zip entry `name`
    in place: in the central directory (what zipfile trusts) and, for flags and method,
    in its local header."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(name).header_offset
    central = raw.index(b"PK\x01\x02")  # the first central record
    while (
        raw[central + 46 : central + 46 + len(name)] != name.encode()
    ):  # ... until the name matches
        central = raw.index(b"PK\x01\x02", central + 4)
    for value, offsets, fmt in (
        (flag_bits, (local + 6, central + 8), "<H"),
        (method, (local + 8, central + 10), "<H"),
        (file_size, (central + 24,), "<I"),
    ):
        if value is not None:
            for offset in offsets:
                struct.pack_into(fmt, raw, offset, value)
    path.write_bytes(bytes(raw))


def zeros_entry(path, name, n_bytes, mode="w"):
    """Add an entry of n_bytes zeros, deflated, in chunks (a decompression bomb)."""
    with zipfile.ZipFile(path, mode, zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(name, "w", force_zip64=n_bytes >= 2**31) as f:
            chunk = bytes(1 << 20)
            for _ in range(n_bytes // len(chunk)):
                f.write(chunk)


EXPECTED = {"w": ((2, 3), np.float64), "b": ((3,), np.float32)}


@pytest.fixture
def npz(tmp_path):
    """A small valid .npz with arrays w (2, 3) float64 and b (3,) float32."""
    path = tmp_path / "model.npz"
    np.savez(path, w=np.arange(6.0).reshape(2, 3), b=np.ones(3, np.float32))
    return path


# --- check_regular_file
def test_check_regular_file_accepts_files_and_links_to_them(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "a.txt")
    assert check_regular_file(str(tmp_path / "a.txt")) == tmp_path / "a.txt"
    assert check_regular_file(tmp_path / "link") == tmp_path / "link"


@fifo_only
def test_check_regular_file_refuses_a_fifo_without_opening_it(tmp_path, no_hang):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(
        ValueError, match=r"pipe is a named pipe \(FIFO\), not a regular file"
    ):
        check_regular_file(tmp_path / "pipe")


@pytest.mark.parametrize(
    "kind", ["folder", "device", "socket", "missing", "not a path"]
)
def test_check_regular_file_refuses_everything_else(tmp_path, kind):
    if kind == "folder":
        path, error, message = tmp_path, ValueError, "is a folder"
    elif kind == "device":
        path, error, message = Path("/dev/null"), ValueError, "/dev/null is a device"
        if not path.exists():
            pytest.skip("no /dev/null")
    elif kind == "socket":
        if not hasattr(socket, "AF_UNIX"):
            pytest.skip("no Unix sockets")
        path, error, message = tmp_path / "s", ValueError, "is a socket"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    elif kind == "missing":
        path, error, message = (
            tmp_path / "nothing.npz",
            FileNotFoundError,
            "nothing.npz",
        )
    else:
        path, error, message = (
            3,
            TypeError,
            "path must be a str or pathlib.Path, got int",
        )
    try:
        with pytest.raises(error, match=message):
            check_regular_file(path)
    finally:
        if kind == "socket":
            server.close()


# --- read_exactly
class Endless(io.RawIOBase):
    """A stream of zeros without end, like /dev/zero."""

    def readable(self):
        return True

    def readinto(self, b):
        b[:] = bytes(len(b))
        return len(b)


def test_read_exactly_reads_what_is_announced_and_no_more():
    assert read_exactly(io.BytesIO(b"abc"), 3, "f") == b"abc"
    assert read_exactly(io.BytesIO(b""), 0, "f") == b""
    with pytest.raises(ValueError, match="f ends after 2 of the 3 bytes announced"):
        read_exactly(io.BytesIO(b"ab"), 3, "f")
    with pytest.raises(
        ValueError, match="f holds more than the 3 bytes its header announces"
    ):
        read_exactly(io.BytesIO(b"abcd"), 3, "f")


def test_read_exactly_stops_an_endless_stream_with_bounded_memory():
    stream = io.BufferedReader(Endless())
    result, peak = peak_memory(lambda: read_exactly(stream, 10 << 20, "endless"))
    assert isinstance(result, ValueError) and "endless holds more than" in str(result)
    assert peak < 14 << 20  # 10 MiB asked for, plus a chunk or so


# --- read_npz: the right file
def test_read_npz_round_trip_with_any_length_and_fortran_order(tmp_path, npz):
    arrays = read_npz(npz, {"w": ((None, 3), np.float64), "b": ((3,), "float32")}, 1000)
    np.testing.assert_array_equal(arrays["w"], np.arange(6.0).reshape(2, 3))
    assert arrays["b"].dtype == np.float32 and arrays["w"].flags.writeable
    path = tmp_path / "f.npz"
    fortran = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    np.savez_compressed(path, f=fortran, s=np.array("text"))
    out = read_npz(path, {"f": ((3, 4), np.float64), "s": ((), "U4")}, 1000)
    np.testing.assert_array_equal(out["f"], fortran)
    assert str(out["s"]) == "text"


def test_read_npz_exercise_claims(tmp_path):
    """The solution of ex-loading-3 in book/19_loading_mnist."""
    path = tmp_path / "w.npz"
    np.savez(path, w=np.ones((3, 4)))
    assert read_npz(path, {"w": ((3, 4), np.float64)}, max_bytes=1000)["w"].shape == (
        3,
        4,
    )
    with pytest.raises(ValueError, match=r"holds float64 \(3, 4\), expected float32"):
        read_npz(path, {"w": ((3, 4), np.float32)}, max_bytes=1000)
    assert read_npz(path, {"w": ((None, 4), np.float64)}, max_bytes=1000)[
        "w"
    ].shape == (3, 4)


# --- read_npz: hostile files, each a ValueError naming the file (and never a long wait)
def test_read_npz_zip_bomb_is_refused_before_unpacking(tmp_path):
    path = tmp_path / "bomb.npz"
    zeros_entry(path, "w.npy", 256 << 20)  # 256 MiB of zeros in about 1 MiB
    assert path.stat().st_size < 2 << 20
    result, peak = peak_memory(
        lambda: read_npz(path, {"w": ((None,), np.uint8)}, 10 << 20)
    )
    assert isinstance(result, ValueError), result
    assert str(path) in str(result) and "would unpack to 268,435,456 bytes" in str(
        result
    )
    assert peak < 4 << 20  # nothing was unpacked


@pytest.mark.parametrize(
    "declared, message",
    [
        (
            10,
            r"is not a readable \.npz file \(Bad CRC-32",
        ),  # less than the 176 it holds
        (
            5000,
            r"entry w\.npy: its header announces 48 bytes of data, "
            r"but the entry holds 4,872",
        ),
        (2**32 - 1, "would unpack to 4,294,967,"),
    ],
)
def test_read_npz_entry_lying_about_its_size_is_refused(npz, declared, message):
    patch_entry(npz, "w.npy", file_size=declared)
    with pytest.raises(ValueError, match=message) as err:
        read_npz(npz, EXPECTED, 10_000)
    assert str(npz) in str(err.value)


@pytest.mark.parametrize(
    "case, fields, message",
    [
        (
            "encrypted",
            dict(flag_bits=0x1),
            "entry w.npy is encrypted or uses compression method 0",
        ),
        ("unknown method", dict(method=99), "uses compression method 99"),
        ("lzma", dict(method=zipfile.ZIP_LZMA), "uses compression method 14"),
    ],
)
def test_read_npz_encrypted_or_unknown_method_is_a_value_error(
    npz, case, fields, message
):
    patch_entry(npz, "w.npy", **fields)
    with pytest.raises(
        ValueError, match=message
    ) as err:  # not RuntimeError / NotImplementedError
        read_npz(npz, EXPECTED, 1000)
    assert str(npz) in str(err.value)


def npy_bytes(array, cut=0, version=(1, 0)):
    out = io.BytesIO()
    np.lib.format.write_array(out, array, version=version, allow_pickle=True)
    return out.getvalue()[: len(out.getvalue()) - cut]


@pytest.mark.parametrize(
    "case, entries, message",
    [
        (
            "missing array",
            {"w.npy": npy_bytes(np.zeros((2, 3)))},
            r"holds \['w.npy'\], expected the arrays",
        ),
        (
            "extra array",
            {
                "w.npy": npy_bytes(np.zeros((2, 3))),
                "b.npy": npy_bytes(np.zeros(3, np.float32)),
                "x.npy": b"",
            },
            "holds .*'x.npy'",
        ),
        (
            "no .npy suffix",
            {
                "w": npy_bytes(np.zeros((2, 3))),
                "b.npy": npy_bytes(np.zeros(3, np.float32)),
            },
            r"holds \['b.npy', 'w'\]",
        ),
        (
            "wrong shape",
            {
                "w.npy": npy_bytes(np.zeros((3, 2))),
                "b.npy": npy_bytes(np.zeros(3, np.float32)),
            },
            r"entry w.npy holds float64 \(3, 2\), expected float64 \(2, 3\)",
        ),
        (
            "wrong dtype",
            {
                "w.npy": npy_bytes(np.zeros((2, 3), np.float32)),
                "b.npy": npy_bytes(np.zeros(3, np.float32)),
            },
            "holds float32",
        ),
        (
            "big-endian",
            {
                "w.npy": npy_bytes(np.zeros((2, 3), ">f8")),
                "b.npy": npy_bytes(np.zeros(3, np.float32)),
            },
            "holds >f8",
        ),
        (
            "pickle",
            {
                "w.npy": npy_bytes(np.array([[object()] * 3] * 2)),
                "b.npy": npy_bytes(np.zeros(3, np.float32)),
            },
            r"holds Python objects \(a pickle\)",
        ),
        (
            "short data",
            {
                "w.npy": npy_bytes(np.zeros((2, 3)), cut=8),
                "b.npy": npy_bytes(np.zeros(3, np.float32)),
            },
            "its header announces 48 bytes of data, but the entry holds 40",
        ),
        (
            "long data",
            {
                "w.npy": npy_bytes(np.zeros((2, 3))) + bytes(8),
                "b.npy": npy_bytes(np.zeros(3, np.float32)),
            },
            "but the entry holds 56",
        ),
        (
            "no header",
            {"w.npy": b"\x93NUMPY", "b.npy": npy_bytes(np.zeros(3, np.float32))},
            "has no valid .npy header",
        ),
        (
            "not npy",
            {
                "w.npy": b"hello world, this is text",
                "b.npy": npy_bytes(np.zeros(3, np.float32)),
            },
            "has no valid .npy header",
        ),
        (
            "npy version 3",
            {
                "w.npy": npy_bytes(np.zeros((2, 3)), version=(3, 0)),
                "b.npy": npy_bytes(np.zeros(3, np.float32)),
            },
            "has no valid .npy header",
        ),
        (
            "duplicate name",
            [
                ("w.npy", npy_bytes(np.zeros((2, 3)))),
                ("w.npy", npy_bytes(np.zeros((2, 3)))),
                ("b.npy", npy_bytes(np.zeros(3, np.float32))),
            ],
            r"holds \['b.npy', 'w.npy', 'w.npy'\]",
        ),
    ],
)
def test_read_npz_refuses_malformed_archives_naming_the_file(
    tmp_path, case, entries, message
):
    path = tmp_path / "hostile.npz"
    with zipfile.ZipFile(path, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name
        for name, content in entries.items() if isinstance(entries, dict) else entries:
            archive.writestr(name, content)
    with pytest.raises(ValueError, match=message) as err:
        read_npz(path, EXPECTED, 10_000)
    assert str(path) in str(err.value)


def test_read_npz_refuses_a_negative_length_even_where_any_length_is_allowed(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (-2, 3)}
    )
    path = tmp_path / "negative.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", header.getvalue())
    with pytest.raises(
        ValueError,
        match=r"entry w.npy holds float64 \(-2, 3\), expected float64 \(None, 3\)",
    ):
        read_npz(path, {"w": ((None, 3), np.float64)}, 1000)


def test_read_npz_checks_its_arguments(npz):
    for expected in (
        [("w", (2, 3), float)],
        {"w": (2, 3)},
        {"w": ((2, 3), "no dtype")},
        {"w": (3, float)},
        None,
    ):
        with pytest.raises(TypeError, match=r"expected must be a dict \{name: \(shape"):
            read_npz(npz, expected, 1000)
    with pytest.raises(TypeError, match="max_bytes"):
        read_npz(npz, EXPECTED, 1e6)
    with pytest.raises(ValueError, match="max_bytes"):
        read_npz(npz, EXPECTED, -1)
    with pytest.raises(TypeError, match="path must be a str or pathlib.Path"):
        read_npz(None, EXPECTED, 1000)


@fifo_only
def test_read_npz_refuses_a_fifo_without_blocking(tmp_path, no_hang):
    os.mkfifo(tmp_path / "model.npz")
    with pytest.raises(ValueError, match=r"model\.npz is a named pipe"):
        read_npz(tmp_path / "model.npz", EXPECTED, 1000)


def test_read_npz_not_a_zip_file(tmp_path):
    for content in (b"", b"junk", b"PK\x03\x04junk", bytes(100)):
        (tmp_path / "x.npz").write_bytes(content)
        with pytest.raises(ValueError, match=r"x\.npz is not a readable \.npz file"):
            read_npz(tmp_path / "x.npz", EXPECTED, 1000)


def test_read_npz_corrupt_data_fails_the_crc(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(
        path, w=np.arange(6.0).reshape(2, 3), b=np.ones(3, np.float32)
    )  # stored, not deflated
    raw = bytearray(path.read_bytes())
    position = raw.index(np.arange(6.0).tobytes())
    raw[position + 9] ^= 0xFF  # one bit of the data, headers intact
    path.write_bytes(bytes(raw))
    with pytest.raises(
        ValueError, match=r"m\.npz is not a readable \.npz file \(Bad CRC-32"
    ):
        read_npz(path, EXPECTED, 1000)


def test_read_npz_refuses_an_archive_far_bigger_than_max_bytes_before_parsing_it(
    tmp_path,
):
    """20,000 empty entries: a zip directory that would cost memory to parse."""
    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(20_000):
            archive.writestr(f"a{i}.npy", b"")
    with pytest.raises(
        ValueError, match=r"many\.npz is [\d,]+ bytes, too big for arrays"
    ):
        read_npz(path, EXPECTED, 10_000)


def test_read_npz_size_bound_accepts_real_files(tmp_path):
    """np.savez and np.savez_compressed files of random data are never refused by it."""
    rng = np.random.default_rng(0)
    arrays = {
        "a": rng.random((50, 40)),
        "b": rng.integers(0, 256, 1000).astype(np.uint8),
    }
    expected = {name: (a.shape, a.dtype) for name, a in arrays.items()}
    for save in (np.savez, np.savez_compressed):
        save(tmp_path / "r.npz", **arrays)
        exact = sum(a.nbytes + 128 for a in arrays.values())  # data + .npy headers
        out = read_npz(tmp_path / "r.npz", expected, exact)
        np.testing.assert_array_equal(out["a"], arrays["a"])
