"""A write's vectors appended to the scan's rows (delta_scan.py, TextVectors.appended): over
many generations of writes the scores are those of vectors made whole from every text (the
same bits where exact, within the bounds where approximate), the spliced layout is the one
sorted from nothing, and the compacted scan is a fresh one, level for level."""

from __future__ import annotations

import random
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from toolcatalog.config import Settings
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.selection import cosine_scan, semantic, semantic_engine, text_vectors
from toolcatalog.selection.delta_scan import DeltaScan
from toolcatalog.selection.encoders.onnx import onnx_available
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector
from toolcatalog.selection.semantic_engine import SemanticEngine
from toolcatalog.selection.text_layout import TextLayout
from toolcatalog.selection.text_vectors import TextVectors

from .test_cosine_scan import (
    WORDS,
    Source,
    WideStub,
    _same_levels,
    bag_of_words,
    generated_tools,
)

needs_onnx = pytest.mark.skipif(not onnx_available(), reason="the embeddings extra is absent")
DIMENSIONS = 384
Tool = list[tuple[int, str]]


def vector(text: str) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(text.encode()))
    row = rng.standard_normal(DIMENSIONS)
    return (row / np.linalg.norm(row)).astype(np.float32)


def a_tool(rng: random.Random) -> Tool:
    """A few (kind, text) pairs, some texts shared with other tools (`shared N`)."""
    pairs = [(rng.randrange(5), f"text {rng.randrange(10**9)}") for _ in range(rng.randint(1, 6))]
    pairs += [(2, f"shared {rng.randrange(40)}") for _ in range(rng.randint(0, 2))]
    return pairs


def a_write(tools: list[Tool], rng: random.Random) -> list[Tool]:
    """The tools after a write: some updated, inserted or deleted (the others the same
    objects, in the same order, as a catalog's next version holds them)."""
    after = list(tools)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(after))
        change = rng.random()
        if change < 0.5:
            after[at] = a_tool(rng)
        elif change < 0.75:
            after.insert(at, a_tool(rng))
        elif len(after) > 10:
            del after[at]
    return after


def moved_of(before: list[Tool], after: list[Tool]) -> list[int]:
    where = {id(tool): k for k, tool in enumerate(before)}
    return [where.get(id(tool), -1) for tool in after]


def test_a_spliced_layout_is_the_one_sorted_from_nothing() -> None:
    rng = random.Random(3)
    tools = [a_tool(rng) for _ in range(200)]
    layout = TextLayout.of(tools)
    in_place = 0  # writes that only updated tools (their texts put into a copy of the list)
    for _ in range(40):
        after = a_write(tools, rng)
        moved = moved_of(tools, after)
        in_place += len(after) == len(tools) and all(m in (-1, k) for k, m in enumerate(moved))
        held = list(layout.texts)
        spliced, splice = TextLayout.spliced(layout, moved, after)
        assert layout.texts == held  # the previous layout's list is its own
        fresh = TextLayout.of(after)
        assert splice is not None
        assert spliced.texts == fresh.texts
        assert spliced.kinds.tolist() == fresh.kinds.tolist()
        assert spliced.owners.tolist() == fresh.owners.tolist()
        assert spliced.tool_start.tolist() == fresh.tool_start.tolist()
        kept = np.ones(len(fresh.texts), dtype=bool)
        for here, there, length in splice.runs:
            assert spliced.texts[here : here + length] == layout.texts[there : there + length]
            kept[here : here + length] = False
        assert np.flatnonzero(kept).tolist() == splice.fresh.tolist()
        tools, layout = after, spliced
    assert in_place >= 5
    # Kept tools in another order: sorted from nothing, without a splice.
    swapped = [tools[1], tools[0], *tools[2:]]
    again, splice = TextLayout.spliced(layout, moved_of(tools, swapped), swapped)
    assert splice is None
    assert again.texts == TextLayout.of(swapped).texts


@needs_onnx
def test_vectors_appended_over_many_writes_score_as_vectors_made_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 generations of writes, the rows appended until the delta passes its bound (then
    made again in the layout's order): every tool's exact scores the same bits as vectors
    made whole, the fast scan's within its bounds of them, and a compacted scan's levels
    those of a fresh scan."""
    monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", 0)
    monkeypatch.setattr(text_vectors, "DELTA_MAX_ROWS", 60)
    monkeypatch.setattr(cosine_scan, "PART_ROWS", 97)  # the file written in many parts
    rng = random.Random(8)
    tools = [a_tool(rng) for _ in range(300)]
    layout = TextLayout.of(tools)
    vectors = TextVectors.kept(layout, np.stack([vector(t) for t in layout.texts]))
    queries = [vector(f"request {k}") + vector(f"shared {k}") for k in range(4)]
    queries = [(q / np.linalg.norm(q)).astype(np.float32) for q in queries]
    appended = rebuilt = 0
    for _ in range(30):
        after = a_write(tools, rng)
        layout, splice = TextLayout.spliced(layout, moved_of(tools, after), after)
        assert splice is not None
        fresh_texts = dict.fromkeys(layout.texts[at] for at in splice.fresh.tolist())
        missing = [text for text in fresh_texts if text not in vectors.rows]
        new = np.stack([vector(t) for t in missing]) if missing else np.zeros((0, DIMENSIONS))
        grown = vectors.appended(layout, splice, missing, new)
        if grown is None:
            rebuilt += 1
            grown = vectors.extended(layout, missing, new)
        else:
            appended += isinstance(grown.scan, DeltaScan)
        whole = TextVectors.kept(layout, np.stack([vector(t) for t in layout.texts]))
        some = np.array(sorted(rng.sample(range(len(after)), 25)))
        for query in queries:
            got, want = grown.tool_scores(query), whole.tool_scores(query)
            assert got[0].tobytes() == want[0].tobytes()
            assert got[1].tobytes() == want[1].tobytes()
            mean, best = grown.exact_scores(query, some)
            assert mean.tobytes() == want[0][some].tobytes()
            assert best.tobytes() == want[1][some].tobytes()
            fast = grown.approximate_scores(query)
            assert np.abs(fast.mean - want[0]).max() <= fast.bound
            held = np.isfinite(want[1])  # a tool of names and clauses alone has no best
            assert np.abs(fast.best[held] - want[1][held]).max() <= fast.bound
            fine_mean, _fine_best = fast.finer(some)
            assert np.abs(fine_mean - want[0][some]).max() <= fast.fine_bound
        tools, vectors = after, grown
    assert appended >= 15
    assert rebuilt >= 1
    compacted = vectors.compacted()
    whole = TextVectors.kept(layout, np.stack([vector(t) for t in layout.texts]))
    assert compacted.rows == whole.rows
    assert compacted.scan.matrix.tobytes() == whole.scan.matrix.tobytes()  # type: ignore[union-attr]
    _same_levels(compacted.scan, whole.scan)  # type: ignore[arg-type]
    # Compacted into the levels file (as a written worker's pause does): read from it at once,
    # the same rows and levels.
    filed = vectors.compacted(tmp_path / "written.levels.npz")
    assert filed.rows == whole.rows
    assert filed.scan.matrix.tobytes() == whole.scan.matrix.tobytes()  # type: ignore[union-attr]
    assert filed.scan.keep(tmp_path / "elsewhere.npz")  # reads a file already: nothing written
    assert not (tmp_path / "elsewhere.npz").exists()
    _same_levels(filed.scan, whole.scan)  # type: ignore[arg-type]


@needs_onnx
def test_a_written_index_counts_its_calibration_drift_as_a_set_of_every_text_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Derived index after derived index (the rows appended): the texts that differ from
    those the calibration was computed on, counted over each write's texts alone, are
    those a set of every text counts, so the calibration is kept and made again as often;
    and the scores are those of an index filled from nothing."""
    monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", 0)
    monkeypatch.setattr(semantic, "RECALIBRATE_SHARE", 0.01)
    _no_compaction_while_writing(monkeypatch)
    tools = list(generated_tools(120))
    stub = WideStub(bag_of_words)
    engine = SemanticEngine(tmp_path / "home", load=lambda: stub)
    engines = [engine]
    index = engine.filled_index(tools, None)
    rng = random.Random(4)
    recalibrated = 0
    query = bag_of_words(["w1 w2 w3 w40"], 0)[0]
    for k in range(14):
        at = rng.randrange(len(tools))
        tools[at] = tools[at].model_copy(update={"description": f"{tools[at].description} w{k}"})
        previous = index
        index = engine.filled_index(tools, previous)
        assert index.vectors is not None
        assert isinstance(index.vectors.scan, DeltaScan)
        base = index.calibrated_on
        current = set(index.texts)
        assert index.drift == len(current - base) + len(base - current)
        recalibrated += index.calibration is not previous.calibration
        engines.append(SemanticEngine(tmp_path / f"fresh{k}", load=lambda: stub))
        fresh = engines[-1].filled_index(tools, None)
        assert index.tool_scores(query)[0].tobytes() == fresh.tool_scores(query)[0].tobytes()
    assert recalibrated >= 1
    assert all(engine.close(60) for engine in engines)  # no keeping thread outlives the test


@needs_onnx
def test_a_selector_after_many_appending_writes_answers_as_one_built_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes (an update, an insert, a delete) derived one after another, the rows appended:
    every answer (decision, candidates, scores and relevance) is that of a selector built
    from nothing on the same catalog, given the same calibration (kept by rule while few
    texts change, semantic.RECALIBRATE_SHARE)."""
    monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", 0)
    _no_compaction_while_writing(monkeypatch)
    snapshot = CatalogSnapshot(generated_tools(300), 1, datetime.now(UTC), None, "generated")
    rng = random.Random(12)
    requests = [" ".join(rng.sample(WORDS, rng.randint(3, 8))) for _ in range(25)]
    engines: list[SemanticEngine] = []

    def selector_of(source: Source, home: Path) -> Selector:
        stub = WideStub(bag_of_words)
        settings = Settings(llm_url=None, semantic=True, home=home)
        engines.append(SemanticEngine(home, load=lambda: stub))
        selector = Selector(source, settings, engine=engines[-1])
        assert selector.wait_for_semantic(300)
        return selector

    def answers(selector: Selector) -> list[object]:
        out: list[object] = []
        for text in requests:
            result = selector.select(SelectionRequest(request=text, top_k=8))
            assert result.retrieval == "hybrid"
            decided = None if result.decision is None else result.decision.tool
            out.append((decided, [(c.tool, c.score, c.relevance) for c in result.candidates]))
        return out

    source = Source(snapshot)
    selector = selector_of(source, tmp_path / "written")
    extra = iter(generated_tools(40, seed=9))
    for k in range(12):
        tools = list(snapshot.tools)
        at = rng.randrange(len(tools))
        if k % 3 == 0:
            tools[at] = tools[at].model_copy(update={"description": f"{rng.choice(WORDS)} w{k}"})
        elif k % 3 == 1:
            new = next(extra)
            tools.append(new.model_copy(update={"name": f"{new.name}_new_{k}"}))
            tools.sort(key=lambda tool: tool.name)
        else:
            del tools[at]
        snapshot = replace(snapshot, tools=tuple(tools), generation=snapshot.generation + 1)
        source.value = snapshot
        selector._build_beside(snapshot)
        semantic = selector._semantic
        assert semantic is not None
        assert semantic.vectors is not None
        assert isinstance(semantic.vectors.scan, DeltaScan)
        if k % 4 == 3:
            fresh = selector_of(Source(snapshot), tmp_path / f"fresh{k}")
            assert fresh._semantic is not None
            fresh._semantic.calibration = semantic.calibration
            assert answers(selector) == answers(fresh)
    assert all(engine.close(60) for engine in engines)  # no keeping thread outlives the test


def _no_compaction_while_writing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows are compacted once no write came for KEEP_AFTER_S (5 s; test_scan_file.py
    tests it): a step of these tests that took that long on a busy machine found its scan
    compacted before it looked (`isinstance(..., DeltaScan)` failed, 1 run in 1 with
    KEEP_AFTER_S at 0). Not while they write: the keeping threads wait for the close."""
    monkeypatch.setattr(semantic_engine, "KEEP_AFTER_S", 3600.0)
