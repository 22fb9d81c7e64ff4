"""A catalog's calibration (calibrate.py) kept beside the embedding cache's file, so that a
restart over the same texts reads it instead of computing it again: at 100,000 generated tools
the calibration compares 500 probes with every one of 600,000 texts (~10 s of CPU, the
largest part of a restart's semantic index once the vectors are cached).

The file holds one calibration (the last computed, by any worker of the home) and the digest
of everything it was computed from: the calibration code, the encoder's name (its vectors),
the generic requests, and the counted texts with their kinds and owners in order. Any other
digest, and the calibration is computed (and the file replaced). Its negatives are the
generic requests' vectors, which the caller embeds (from the cache) either way."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from toolcatalog.files import replace_atomically
from toolcatalog.selection import calibrate as calibrate_module
from toolcatalog.selection.calibrate import Calibration

log = logging.getLogger(__name__)

_FIELDS = (
    "calibrating",
    "threshold",
    "corroborate",
    "semantic_share",
    "probes",
    "probe_refusal",
    "negative_refusal",
    "generic_margin",
    "semantic_span",
)


def calibration_path(cache_file: Path | None) -> Path | None:
    """Where the calibration of the embedding cache file `cache_file` is kept (None: not)."""
    return None if cache_file is None else cache_file.with_suffix(".calibration.json")


# Texts encoded at a time for the key (calibration_key).
KEY_TEXTS = 4096


@functools.cache
def _code() -> bytes:
    """calibrate.py, read once a process (the code it runs; as catalog/saved.py's code_stamp)."""
    return Path(calibrate_module.__file__).read_bytes()


def calibration_key(
    encoder: str,
    generic: Sequence[str],
    texts: Sequence[str],
    kinds: npt.NDArray[np.int64],
    owners: npt.NDArray[np.int64],
) -> str:
    """The digest of what a calibration is computed from (see the module's docstring)."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(_code())
    for part in (encoder, "\x00".join(generic)):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x01")
    # The texts joined by NULs, as one string was, KEY_TEXTS at a time: the whole join and
    # its UTF-8 (~100 MB at 100,000 generated tools) were a restart's memory peak.
    for at in range(0, len(texts), KEY_TEXTS):
        joined = "\x00".join(texts[at : at + KEY_TEXTS])
        digest.update(("\x00" + joined if at else joined).encode("utf-8", "surrogatepass"))
    digest.update(b"\x01")
    digest.update(np.ascontiguousarray(kinds, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(owners, dtype="<i8").tobytes())
    return digest.hexdigest()


def read_calibration(
    path: Path | None, key: str, negatives: npt.NDArray[np.float32]
) -> Calibration | None:
    """The calibration kept at `path` when it was computed from what `key` digests."""
    if path is None:
        return None
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(kept, dict) or kept.get("key") != key:
            return None
        values = {name: kept[name] for name in _FIELDS}
    except (OSError, ValueError, KeyError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.warning("ignoring an unreadable calibration %s: %s", path, exc)
        return None
    return Calibration(**values, negatives=negatives)


def write_calibration(path: Path | None, key: str, calibration: Calibration) -> None:
    """Keep `calibration`, computed from what `key` digests, at `path` (atomically; a file
    that cannot be written is only logged: the next start computes it again)."""
    if path is None:
        return
    kept = {"key": key, **{name: getattr(calibration, name) for name in _FIELDS}}
    text = json.dumps(kept).encode("utf-8")  # floats as repr: exact
    try:
        replace_atomically(path, lambda out: out.write(text))
    except OSError as exc:
        log.warning("could not keep the calibration %s: %s", path, exc)
