"""``io.atomic``: a reader sees the old file or the new one, and every failure is one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pianogan.errors import OutputError
from pianogan.io import atomic


def test_write_bytes_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "deep" / "er" / "song.bin"
    atomic.write_bytes(target, b"old")
    atomic.write_bytes(target, b"new content")
    assert target.read_bytes() == b"new content" and os.listdir(target.parent) == ["song.bin"]


def test_a_failing_writer_keeps_the_old_file(tmp_path):
    target = tmp_path / "song.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("the writer broke")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["song.bin"]


@pytest.mark.parametrize(
    ("check", "content", "problem"),
    [
        (None, b"", "nothing was written"),
        (atomic.size_is(4), b"abc", "3 of 4 bytes written"),
        (atomic.complete_png, b"\x89PNG not finished", "the PNG file is truncated"),
        (atomic.complete_zip, b"PK not a zip", "the archive is truncated"),
    ],
)
def test_an_incomplete_file_is_refused_and_named(tmp_path, check, content, problem):
    target = tmp_path / "out.dat"
    with pytest.raises(OutputError, match=rf"^{target}: cannot write \({problem}; is the disk full\?\)$"), atomic.atomic_path(target, check=check) as tmp:
        tmp.write_bytes(content)
    assert not target.exists() and os.listdir(tmp_path) == []


def test_check_folder_names_the_file_in_the_way(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match=r"file: it is a file, not a folder$"):
        atomic.check_folder(tmp_path / "file")
    with pytest.raises(OutputError, match=rf"below: {tmp_path / 'file'} is a file, not a folder$"):
        atomic.make_folder(tmp_path / "file" / "below")
    assert atomic.check_folder(tmp_path / "new" / "folder") == tmp_path / "new" / "folder" and not (tmp_path / "new").exists()


def test_only_the_leftovers_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True).stdout.strip()
    leftover = tmp_path / f".song.mid.{atomic.TEMP_TAG}-{dead}-abcd1234.tmp"
    live = tmp_path / f".song.mid.{atomic.TEMP_TAG}-{os.getpid()}-abcd1234.tmp"
    other = tmp_path / ".song.mid.someone-else.tmp"
    for path in (leftover, live, other):
        path.write_bytes(b"x")
    atomic.remove_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])
