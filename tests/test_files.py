"""files.replace_atomically: a file is replaced whole or left as it was."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pytest

from toolcatalog.files import replace_atomically


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
