"""The names and description clauses come after every other text (semantic.SemanticIndex):
selection is hybrid as soon as the rest is in, picks them up when they are in without a pause,
and answers the same for a given catalog and stage, whether an index was filled in one go, in
two stages or derived from a write's previous index."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from builders import FixedSource
from toolcatalog.config import Settings
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.selection.clauses import CLAUSE_KIND
from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.selection.models import SelectionRequest, SelectionResult
from toolcatalog.selection.selector import Selector
from toolcatalog.selection.semantic import LATER_KINDS, tool_texts
from toolcatalog.selection.semantic_engine import SemanticEngine

from .stub_encoder import StubEncoder
from .stub_encoder import seeded as vector

CATALOG = Path(__file__).resolve().parents[2] / "catalog"
REQUESTS = [
    "why is / full on db2",
    "restart nginx on the load balancer",
    "rotate the app logs, they fill the disk",
    "is port 443 open on api.example.com",
    "which process holds the most memory",
]

pytestmark = pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog")


def terse(count: int) -> CatalogSnapshot:
    """The starter catalog's first tools without their examples: names and descriptions of
    several sentences, so each has clauses."""
    snapshot = load_folder_snapshot(CATALOG, strict=False)
    tools = tuple(t.model_copy(update={"examples": []}) for t in snapshot.tools[:count])
    return replace(snapshot, tools=tools)


class Held:
    """A stub encoder's answer that holds any batch with a clause until `release` is set."""

    def __init__(self, clauses: set[str]) -> None:
        self.clauses = clauses
        self.release = threading.Event()
        self.held = threading.Event()  # set once a clause batch is waiting

    def __call__(self, texts: Sequence[str], _call: int) -> np.ndarray:
        if self.clauses.intersection(texts):
            self.held.set()
            assert self.release.wait(60)
        return np.stack([vector(t) for t in texts])


def clause_texts(snapshot: CatalogSnapshot) -> set[str]:
    return {text for t in snapshot.tools for kind, text in tool_texts(t) if kind == CLAUSE_KIND}


def answers(selector: Selector) -> list[SelectionResult]:
    out = []
    for text in REQUESTS:
        got = selector.select(SelectionRequest(request=text, top_k=10, explain=True))
        assert got.retrieval == "hybrid", text
        out.append(got.model_copy(update={"elapsed_ms": 0.0, "selection_id": None}))
    return out


def settled_selector(snapshot: CatalogSnapshot, home: Path) -> Selector:
    """A selector over `snapshot` whose embeddings, clauses too, were filled without a wait."""
    stub = StubEncoder(lambda texts, _call: np.stack([vector(t) for t in texts]))
    settings = Settings(llm_url=None, semantic=True, home=home)
    selector = Selector(
        FixedSource(snapshot), settings, engine=SemanticEngine(home, load=lambda: stub)
    )
    assert selector.wait_for_semantic(60), selector.semantic_status
    return selector


def test_selection_is_hybrid_before_the_clauses_are_in_and_takes_them_when_in(
    tmp_path: Path,
) -> None:
    snapshot = terse(30)
    held = Held(clause_texts(snapshot))
    assert held.clauses
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    engine = SemanticEngine(settings.home, load=lambda: StubEncoder(held))
    selector = Selector(FixedSource(snapshot), settings, engine=engine)
    try:
        assert selector.wait_for_semantic(60, complete=False), selector.semantic_status
        assert held.held.wait(60)
        index = selector._semantic
        assert index is not None
        assert index.ready.is_set()
        assert not index.complete.is_set()
        assert index.vectors is not None
        assert index.vectors.layout is index.whole
        progress = selector.semantic_progress
        assert progress is not None
        assert progress.embedded == progress.texts == len(index.whole.texts)
        assert progress.later == len(index.texts) - len(index.whole.texts)
        assert progress.later_embedded < progress.later  # those held as other texts
        assert selector.semantic_status == (
            "ready; embedding the names and description clauses: "
            f"{progress.later_embedded} of {progress.later}"
        )
        # Selection waits for no name: hybrid without them, as without the clauses.
        assert not set(np.asarray(index.whole.kinds).tolist()) & set(LATER_KINDS)
        before = answers(selector)
        assert answers(selector) == before  # the same stage, the same answers
        in_flight = engine.view(index, REQUESTS[0])
        assert in_flight is not None
        scores = in_flight.scores()
    finally:
        held.release.set()
    assert selector.wait_for_semantic(60), selector.semantic_status
    assert selector.semantic_status == "ready"
    assert index.complete.is_set()
    assert index.vectors.layout is index.layout
    # A request that began before the swap reads the vectors it began with to its end.
    assert in_flight.vectors.layout is index.whole
    assert all(np.array_equal(a, b) for a, b in zip(in_flight.scores(), scores, strict=True))
    after = answers(selector)
    assert after == answers(settled_selector(snapshot, tmp_path / "other"))


def test_a_write_while_the_clauses_come_stays_hybrid_and_gets_its_clauses_beside(
    tmp_path: Path,
) -> None:
    snapshot = terse(30)
    held = Held(clause_texts(snapshot))
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    engine = SemanticEngine(settings.home, load=lambda: StubEncoder(held))
    source = FixedSource(snapshot)
    selector = Selector(source, settings, engine=engine)
    try:
        assert selector.wait_for_semantic(60, complete=False), selector.semantic_status
        assert held.held.wait(60)
        previous = selector._semantic
        assert previous is not None
        tools = list(snapshot.tools)
        tools[3] = tools[3].model_copy(
            update={"description": f"{tools[3].description} Also checks quorum, and repairs it."}
        )
        written = replace(snapshot, tools=tuple(tools), generation=snapshot.generation + 1)
        source.value = written
        selector._build_beside(written)  # derived from the ready index, without its clauses
        index = selector._semantic
        assert index is not None
        assert index is not previous
        assert index.ready.is_set()
        assert not index.complete.is_set()
        assert previous.stop.is_set()  # the new index embeds the clauses now
        assert selector.semantic_status.startswith(
            "ready; embedding the names and description clauses"
        )
        answers(selector)
    finally:
        held.release.set()
    assert selector.wait_for_semantic(60), selector.semantic_status
    assert index.complete.is_set()
    fresh = settled_selector(written, tmp_path / "other")
    # Kept while few texts change, by rule (semantic.RECALIBRATE_SHARE), not recomputed.
    assert fresh._semantic is not None
    fresh._semantic.calibration = index.calibration
    assert answers(selector) == answers(fresh)


def test_an_embedding_stopped_midway_keeps_what_it_embedded_for_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CLI select answers once every text but the clauses is in, then stops the clauses'
    embedding as it exits: the chunks done are saved, however recent the last save."""
    import toolcatalog.selection.embedding_cache as cache_module
    from toolcatalog.selection.embedding_cache import EmbeddingCache

    class Stopped(Exception):
        pass

    def stop_after_two_chunks(count: int) -> None:
        if count >= 4:
            raise Stopped

    monkeypatch.setattr(cache_module, "EMBED_CHUNK", 2)
    path = tmp_path / "e.npz"
    texts = [f"text {i}" for i in range(6)]
    stub = StubEncoder(lambda texts, _call: np.stack([vector(t) for t in texts]))
    with pytest.raises(Stopped):
        EmbeddingCache(path).embed(stub, texts, stop_after_two_chunks)
    again = EmbeddingCache(path)  # what the next run reads
    assert len(again) == 4
    again.embed(stub, texts[:4])
    assert stub.texts == texts[:4]  # all four were cached: the encoder was not asked again
