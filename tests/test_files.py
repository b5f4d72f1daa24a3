"""nnscratch.files.atomic_write (book/13_loading_mnist) and its use for the MNIST cache."""
import os
import stat

import numpy as np
import pytest

import nnscratch.data as data
from nnscratch.files import atomic_write

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and umask")


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_content_is_complete(tmp_path):
    content = np.random.default_rng(0).bytes(3 << 20)            # several MiB, several buffer fills
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
@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664), (0o000, 0o666)])
def test_permissions_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    path = tmp_path / "file.bin"
    atomic_write(path, lambda f: f.write(b"x"))
    assert mode(path) == expected
    with open(tmp_path / "plain.bin", "wb") as f:                  # the same as open() gives
        f.write(b"x")
    assert mode(path) == mode(tmp_path / "plain.bin")


@posix_only
def test_the_mnist_cache_gets_normal_permissions(tmp_path, umask):
    umask(0o022)
    path = tmp_path / data.CACHE_NAME
    data._save_cache(path, np.zeros((2, 784), np.uint8), np.zeros(2, np.uint8))
    assert mode(path) == 0o644


@pytest.mark.parametrize("error", [OSError("disk full"), ValueError("bad data"), KeyboardInterrupt()])
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
    (tmp_path / "a folder").mkdir()                                # os.replace cannot put a file there
    with pytest.raises(OSError):
        atomic_write(tmp_path / "a folder", lambda f: f.write(b"x"))
    assert [p.name for p in tmp_path.iterdir()] == ["a folder"]


def test_data_reaches_the_disk_before_the_rename(tmp_path, monkeypatch):
    """fsync of the file happens before os.replace, then the folder is flushed."""
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    atomic_write(tmp_path / "f.bin", lambda f: f.write(b"x"))
    expected = ["fsync", "replace", "fsync"] if os.name == "posix" else ["fsync", "replace"]
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


@pytest.mark.parametrize("path, write, message", [
    (3, lambda f: None, "path must be a str or pathlib.Path"),
    ("x.bin", b"not callable", "write must be a function"),
])
def test_bad_arguments(tmp_path, monkeypatch, path, write, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match=message):
        atomic_write(path, write)
    assert list(tmp_path.iterdir()) == []
