"""Files written whole or not at all: the caches and saved artefacts a process keeps beside
its data (calibration, scan levels, embeddings, snapshots, the quantised model), which other
processes of the same home may read at any moment."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def replace_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Make `path` hold what `write` writes to the binary file it is given: a temporary file
    beside `path` (same folder, so the rename is atomic; its name starts with "." and
    `path`'s name), renamed over `path` once written. Readers see the old file or the new
    one, never part of one, and concurrent writers each rename a whole file of their own.
    Creates the folder. Raises OSError, or whatever `write` raises; the temporary file
    never stays behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
