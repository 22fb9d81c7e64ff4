"""Files written whole or not at all: the caches and saved artefacts a process keeps beside
its data (calibration, scan levels, embeddings, snapshots, the quantised model), which other
processes of the same home may read at any moment."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# A temporary file nobody has written for this long, whose writer is not running here, was left
# by a process killed mid-write (SIGKILL, out of memory, power off): a 100,000-tool home's scan
# levels or embeddings leave ~0.1-1 GB each time. The age guards a writer in another PID
# namespace (a replica in another container sharing the home), whose PID means nothing here.
STALE_AFTER_S = 3600.0


def replace_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Make `path` hold what `write` writes to the binary file it is given: a temporary file
    beside `path` (same folder, so the rename is atomic; its name starts with "." and
    `path`'s name, then the writer's PID), renamed over `path` once written. Readers see the old
    file or the new one, never part of one, and concurrent writers each rename a whole file of
    their own. Creates the folder. Raises OSError, or whatever `write` raises; the temporary
    file never stays behind, and those of `path` that killed writers left are removed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_left_behind(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_left_behind(path: Path, now: float | None = None) -> list[str]:
    """Remove the temporary files of `path` (replace_atomically's names) whose writer is not
    a running process of this machine and that nobody has written for STALE_AFTER_S; returns
    their names. Files named another way (another file's temporaries, older versions' names
    without a PID) are left alone; a file that cannot be read or removed is skipped."""
    prefix = f".{path.name}."
    now = time.time() if now is None else now
    removed: list[str] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        pid_text, dot, _ = entry.name.removeprefix(prefix).partition(".")
        if not entry.name.startswith(prefix) or not dot or not pid_text.isdigit():
            continue
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime >= STALE_AFTER_S and not process_running(int(pid_text)):
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def process_running(pid: int) -> bool:
    """A process `pid` runs on this machine (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True
