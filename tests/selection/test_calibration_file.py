"""A catalog's calibration is kept beside the embedding cache: a restart over the same texts
reads the one computed before (the same values), and any other texts compute their own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from toolcatalog.model.tool import Tool
from toolcatalog.selection.calibrate import Calibration
from toolcatalog.selection.semantic_engine import SemanticEngine

from .stub_encoder import StubEncoder, seeded


def _tools(changed: str = "") -> list[Tool]:
    return [
        Tool.model_validate(
            {
                "name": f"tool_{i}",
                "description": f"Tool {i} looks after the {word} of a host.{changed if i else ''}",
                "platform": "linux",
                "category": "system",
                "examples": [f"check the {word} on web{i}", f"how is the {word} of db{i}"],
                "capabilities": [
                    {
                        "name": "look",
                        "description": f"Look at the {word}.",
                        "patterns": [{"name": "p", "description": "Look."}],
                    }
                ],
            }
        )
        for i, word in enumerate(["disk", "memory", "network", "load", "logs"] * 5)
    ]


def _calibration(home: Path, tools: list[Tool]) -> Calibration:
    stub = StubEncoder(lambda texts, _call: np.stack([seeded(t) for t in texts]))
    index = SemanticEngine(home, load=lambda: stub).filled_index(tools, None)
    assert index.ready.is_set(), index.error
    assert index.calibration is not None
    return index.calibration


def test_a_restart_over_the_same_texts_reads_the_calibration_it_computed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _calibration(home, _tools())
    [kept] = (home / "embeddings").glob("*.calibration.json")
    again = _calibration(home, _tools())  # a restart
    assert again == first
    assert first.negatives is not None
    assert again.negatives is not None
    assert again.negatives.tobytes() == first.negatives.tobytes()
    # It is read, not computed again: a value written there is what the next start takes.
    values = json.loads(kept.read_text())
    kept.write_text(json.dumps({**values, "threshold": 0.123}))
    assert _calibration(home, _tools()).threshold == 0.123


def test_other_texts_compute_their_own_calibration(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _calibration(home, _tools())
    [kept] = (home / "embeddings").glob("*.calibration.json")
    kept.write_text(json.dumps({**json.loads(kept.read_text()), "threshold": 0.123}))
    changed = _calibration(home, _tools(" It also reads its clock."))
    assert changed == _calibration(tmp_path / "elsewhere", _tools(" It also reads its clock."))
    assert changed.threshold != 0.123
    # An unreadable file is computed over (and replaced) too.
    kept.write_text("{not json")
    assert _calibration(home, _tools()) == _calibration(tmp_path / "fresh", _tools())
    assert json.loads(kept.read_text())["threshold"] == _calibration(home, _tools()).threshold


def test_the_key_digests_the_texts_a_part_at_a_time_as_one_string(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The texts are encoded KEY_TEXTS at a time (the whole join was a restart's memory
    peak at 100,000 tools); the digest is that of the one string, so a kept file still
    matches."""
    import hashlib

    from toolcatalog.selection import calibration_file

    texts = [f"tool {n} ünïcode \ud800 end" if n % 5 == 0 else f"text {n}" for n in range(23)]
    generic = ["hello", "how are you"]
    kinds, owners = np.arange(23) % 3, np.arange(23) // 2
    digest = hashlib.blake2b(digest_size=20)
    digest.update(calibration_file._code())
    for part in ("encoder", "\x00".join(generic), "\x00".join(texts)):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x01")
    digest.update(np.ascontiguousarray(kinds, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(owners, dtype="<i8").tobytes())
    for size in (1, 4, 23, 4096):
        monkeypatch.setattr(calibration_file, "KEY_TEXTS", size)
        key = calibration_file.calibration_key("encoder", generic, texts, kinds, owners)
        assert key == digest.hexdigest()
    assert calibration_file.calibration_key("encoder", generic, [], kinds, owners)
