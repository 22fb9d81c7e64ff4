"""Remembered answers (selection/remembered.py): what turns a kept answer stale (the
semantic stage), and the answer's split bytes. An LLM's settling of a tie is never kept:
tests/selection/test_tiebreak.py.
Across writes, feedback, refreshes and experiments on PostgreSQL:
tests/api/test_remembered_answers.py."""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from builders import FixedSource
from toolcatalog.config import Settings
from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.remembered import RememberedAnswers, same_basis, split_answer
from toolcatalog.selection.selector import Selector
from toolcatalog.selection.semantic_engine import SemanticEngine

from .stub_encoder import StubEncoder
from .stub_encoder import seeded as vector

CATALOG = Path(__file__).resolve().parents[2] / "catalog"


def kept(selector: Selector) -> int:
    return 0 if selector.answers is None else len(selector.answers)


class Held:
    """A stub encoder that holds every batch until `release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, texts: Sequence[str], _call: int) -> np.ndarray:
        assert self.release.wait(60)
        return np.stack([vector(t) for t in texts])


@pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog")
def test_answers_kept_while_lexical_are_not_given_once_hybrid(tmp_path: Path) -> None:
    snapshot = load_folder_snapshot(CATALOG, strict=False)
    held = Held()
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    engine = SemanticEngine(settings.home, load=lambda: StubEncoder(held))
    selector = Selector(FixedSource(snapshot), settings, engine=engine)
    texts = ["why is / full on db2", "which process holds the most memory"]
    try:
        lexical = [selector.select(SelectionRequest(request=t)) for t in texts]
        assert [r.retrieval for r in lexical] == ["lexical", "lexical"]
        assert [selector.select(SelectionRequest(request=t)).retrieval for t in texts] == [
            "lexical",
            "lexical",
        ]
        assert kept(selector) == 2
    finally:
        held.release.set()
    assert selector.wait_for_semantic(60), selector.semantic_status
    hybrid = [selector.select(SelectionRequest(request=t)) for t in texts]
    assert [r.retrieval for r in hybrid] == ["hybrid", "hybrid"]
    answers, selector.answers = selector.answers, None
    fresh = [selector.select(SelectionRequest(request=t)) for t in texts]
    selector.answers = answers
    drop = {"selection_id", "elapsed_ms"}
    assert [r.model_dump(exclude=drop) for r in hybrid] == [
        r.model_dump(exclude=drop) for r in fresh
    ]


def test_an_answer_is_split_around_its_id_and_elapsed_and_joined_back(
    selector: Selector,
) -> None:
    result = selector.select(SelectionRequest(request="is the disk full", explain=True))
    body = result.model_dump_json(by_alias=True).encode()
    remembered = split_answer(result, body)
    assert remembered is not None
    assert result.selection_id is not None
    assert remembered.answer(result.selection_id, result.elapsed_ms) == body
    again = json.loads(remembered.answer("another", 12.5))
    assert again["selection_id"] == "another"
    assert again["elapsed_ms"] == 12.5
    assert split_answer(result.model_copy(update={"selection_id": None}), body) is None
    assert split_answer(result, b"{}") is None


def test_a_basis_is_the_same_objects_and_counts() -> None:
    a, b = object(), object()
    assert same_basis((a, 3), (a, 3))
    assert not same_basis((a, 3), (b, 3))
    assert not same_basis((a, 3), (a, 4))
    assert not same_basis(([1],), ([1],))  # equal contents are not the same object


class Part:
    """A basis object that takes a weak reference (as the index and the vectors do)."""


def test_the_remembered_basis_does_not_keep_what_it_was_made_of_alive() -> None:
    # At 100,000 tools the semantic vectors a compaction replaced (and the scan they held,
    # ~400 MiB) stayed alive in the basis until the next select's lookup.
    answers = RememberedAnswers(1 << 20)
    held, other = Part(), Part()
    assert answers.get((held, None, 3), "k") is None  # a new basis
    gone = weakref.ref(held)
    assert answers.get((gone(), None, 3), "k") is None  # the same basis: nothing kept yet
    del held
    assert gone() is None
    # A basis with another object, or None, where the dead one was is not the old one.
    assert answers.get((None, None, 3), "k") is None
    assert answers.get((other, None, 3), "k") is None
