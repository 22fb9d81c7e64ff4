"""files.replace_atomically: a file is replaced whole or left as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from toolcatalog.files import STALE_AFTER_S, remove_left_behind, replace_atomically


def test_the_file_is_replaced_whole_in_a_folder_made_for_it(tmp_path: Path) -> None:
    path = tmp_path / "made" / "kept.bin"
    replace_atomically(path, lambda out: out.write(b"first"))
    replace_atomically(path, lambda out: out.writelines((b"sec", b"ond")))
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["kept.bin"]


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "kept.bin"
    path.write_bytes(b"old")

    def half(out: BinaryIO) -> None:
        out.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(path, half)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.bin"]


def _left(folder: Path, name: str, age_s: float) -> Path:
    leftover = folder / name
    leftover.write_bytes(b"half a levels file")
    then = time.time() - age_s
    os.utime(leftover, (then, then))
    return leftover


def _a_pid_that_ended() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_a_write_removes_what_a_killed_writer_of_the_same_file_left(tmp_path: Path) -> None:
    dead = _a_pid_that_ended()
    old = STALE_AFTER_S + 60
    killed = _left(tmp_path, f".kept.bin.{dead}.x1y2z3", old)
    recent = _left(tmp_path, f".kept.bin.{dead}.recent", 5)  # may be a writer elsewhere
    running = _left(tmp_path, f".kept.bin.{os.getpid()}.mine", old)
    other_file = _left(tmp_path, f".kept.bin.log.{dead}.abc", old)  # kept.bin.log's
    no_pid = _left(tmp_path, ".kept.bin.k3j_a9q", old)  # an older version's name

    replace_atomically(tmp_path / "kept.bin", lambda out: out.write(b"new"))

    assert not killed.exists()
    assert all(p.exists() for p in (recent, running, other_file, no_pid))
    assert (tmp_path / "kept.bin").read_bytes() == b"new"
    # Its own temporary file, renamed, left nothing: the five above less the one removed.
    assert len(list(tmp_path.iterdir())) == 5


def test_left_behind_files_are_judged_by_age_and_by_their_writer(tmp_path: Path) -> None:
    dead = _a_pid_that_ended()
    _left(tmp_path, f".kept.bin.{dead}.a", 10)
    assert remove_left_behind(tmp_path / "kept.bin") == []
    later = time.time() + STALE_AFTER_S
    assert remove_left_behind(tmp_path / "kept.bin", now=later) == [f".kept.bin.{dead}.a"]
    assert remove_left_behind(tmp_path / "missing" / "kept.bin") == []
