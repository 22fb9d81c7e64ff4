"""The cosine scan: the int8 pass stays within its bound, exact cosines of a few tools are
those of the full scan, and a selector on the fast path answers as on the exact one."""

from __future__ import annotations

import gc
import random
import weakref
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from toolcatalog.config import Settings
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Tool
from toolcatalog.selection import cosine_scan, int8_graphs
from toolcatalog.selection.cosine_scan import CosineScan
from toolcatalog.selection.encoders.onnx import onnx_available
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector
from toolcatalog.selection.semantic_engine import SemanticEngine
from toolcatalog.selection.text_vectors import TextLayout, TextVectors

from .stub_encoder import StubEncoder

needs_onnx = pytest.mark.skipif(not onnx_available(), reason="the embeddings extra is absent")
DIMENSIONS = 384


def unit_rows(count: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, DIMENSIONS)).astype(np.float32)
    out: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


@needs_onnx
def test_the_int8_scan_stays_within_its_bound_of_the_exact_cosines() -> None:
    matrix = unit_rows(6000, seed=1)
    scan = CosineScan(matrix, use_int8=True)
    assert scan.approximates
    rows = np.array([0, 3, 17, 100, 4000, 5999])
    for k in range(5):
        # A request near some rows, as a real one is near its tools' texts.
        query = matrix[k] + matrix[k + 100] + unit_rows(1, seed=10 + k)[0]
        query = (query / np.linalg.norm(query)).astype(np.float32)
        cosines = scan.approximate(query)
        exact = scan.exact(query)
        assert np.abs(cosines.sims - exact).max() <= cosines.bound
        assert cosines.bound < 0.05  # tight enough to leave few tools in doubt
        finer = cosines.finer(rows)
        assert np.abs(finer - exact[rows]).max() <= cosines.fine_bound
        assert np.abs(cosines.finer(np.arange(6000)) - exact).max() <= cosines.fine_bound
        assert cosines.fine_bound < cosines.bound / 20
        assert len(cosines.finer(np.zeros(0, dtype=np.int64))) == 0
        assert scan.exact(query, rows).tolist() == exact[rows].tolist()


@needs_onnx
def test_a_scan_no_one_holds_is_freed_without_the_cyclic_collector(tmp_path: Path) -> None:
    # A start freezes what is alive (gc.freeze): a scan in a reference cycle (its product
    # holding its bound method) outlived the write that replaced it, session and all.
    matrix = unit_rows(3000, seed=5)
    heap = CosineScan(matrix, use_int8=True)
    kept = CosineScan(matrix, use_int8=True)
    assert kept.keep(tmp_path / "levels.bin")
    for scan in (heap, kept):
        scan.approximate(matrix[0]).finer(np.arange(10))
        scan.exact(matrix[0], np.arange(10))
    refs = [weakref.ref(heap), weakref.ref(kept)]
    gc.freeze()
    try:
        del heap, kept, scan
        assert [ref() for ref in refs] == [None, None]
    finally:
        gc.unfreeze()


@needs_onnx
def test_many_chosen_rows_read_in_parts_give_the_same_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The exact tier and the second level read many chosen rows a part at a time
    (_READ_ROWS: what a request holds, and ONNX Runtime's arena keeps, stays small); the
    cosines are those read at once, bit for bit."""
    matrix = unit_rows(5000, seed=7)
    scan = CosineScan(matrix, use_int8=True)
    query = matrix[11]
    rows = np.flatnonzero(np.arange(5000) % 3 != 1)  # 3,333 rows, with gaps
    cosines = scan.approximate(query)
    exact, finer = scan.exact(query, rows), cosines.finer(rows)
    assert exact.tobytes() == scan.exact(query)[rows].tobytes()
    monkeypatch.setattr(cosine_scan, "_READ_ROWS", 1000)  # four parts, the last short
    assert scan.exact(query, rows).tobytes() == exact.tobytes()
    assert cosines.finer(rows).tobytes() == finer.tobytes()


@needs_onnx
@pytest.mark.parametrize("where", ["heap", "file"])
def test_the_first_level_packed_in_parts_gives_the_bits_of_one_session(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first level's codes are packed PACK_ROWS rows a session (ONNX Runtime's rise while
    packing is one part's); its cosines are those of one session over every row, bit for bit.
    A part's codes are given from a copy whose pages are handed back (zeros if read again)
    once its session is made: equal cosines also say the session never reads it after."""
    matrix = unit_rows(5000, seed=8)
    queries = [matrix[k] for k in (0, 1999, 4999)] + [unit_rows(1, seed=9)[0]]
    whole = CosineScan(matrix, use_int8=True)
    if where == "file":
        assert whole.keep(tmp_path / "whole.levels.npz")
    expected = [whole.approximate(query).sims.tobytes() for query in queries]
    # Parts of 16-column blocks, of odd ends, of 97 rows, and a last part of one row (4,999 + 1:
    # a one-row session computes other last bits, so that row joins the part before).
    for rows, count in ((1000, 5), (1024, 5), (97, 52), (4999, 1)):
        monkeypatch.setattr(cosine_scan, "PACK_ROWS", rows)
        parts = CosineScan(matrix, use_int8=True)
        if where == "file":
            assert parts.keep(tmp_path / f"parts-{rows}.levels.npz")
        assert len(parts._int8._sessions) == count  # type: ignore[union-attr]
        assert [parts.approximate(query).sims.tobytes() for query in queries] == expected


@needs_onnx
def test_a_scan_made_again_shares_the_sessions_of_its_unchanged_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan made from another (a compaction after writes, a scan kept in its file) takes
    the first-level session of each part whose codes and scales it has, instead of packing
    them again beside it; the parts with a changed row get their own. The same bits as a
    scan built from nothing."""
    monkeypatch.setattr(cosine_scan, "PACK_ROWS", 1000)
    matrix = unit_rows(5000, seed=12)
    old = CosineScan(matrix, use_int8=True)
    changed = matrix.copy()
    changed[2500] = unit_rows(1, seed=13)[0]  # one text's vector, in the third part
    kept = np.flatnonzero(np.arange(5000) != 2500)
    new = CosineScan(changed, use_int8=True, previous=old, taken=(kept, kept))
    fresh = CosineScan(changed, use_int8=True)

    def sessions(scan: CosineScan) -> list[object]:
        return [session for _start, session in scan._int8._sessions]  # type: ignore[union-attr]

    shared = [a is b for a, b in zip(sessions(new), sessions(old), strict=True)]
    assert shared == [True, True, False, True, True]
    for query in (changed[2500], changed[7], unit_rows(1, seed=14)[0]):
        assert new.approximate(query).sims.tobytes() == fresh.approximate(query).sims.tobytes()
    before = sessions(new)
    assert new.keep(tmp_path / "levels.npz")  # the same rows, read from the file
    assert all(a is b for a, b in zip(sessions(new), before, strict=True))
    assert (
        new.approximate(changed[3]).sims.tobytes() == fresh.approximate(changed[3]).sims.tobytes()
    )
    shifted = CosineScan(changed[1:], use_int8=True, previous=new)  # every part's rows moved
    assert not any(a is b for a, b in zip(sessions(shifted), sessions(new), strict=True))


@needs_onnx
def test_a_scan_derived_from_another_is_the_one_built_from_nothing() -> None:
    """A write's scan copies the int8 levels of the rows it keeps (in new places) and
    computes the rest: every level, norm and bound, and so every cosine, the same bits."""
    before = unit_rows(9000, seed=5)
    previous = CosineScan(before, use_int8=True)
    rng = np.random.default_rng(6)
    there = np.sort(rng.choice(len(before), 8000, replace=False))
    here = np.sort(rng.choice(8500, 8000, replace=False))
    matrix = unit_rows(8500, seed=7)  # the 500 rows not taken are new
    matrix[here] = before[there]
    derived = CosineScan(matrix, use_int8=True, previous=previous, taken=(here, there))
    fresh = CosineScan(matrix, use_int8=True)
    _same_levels(derived, fresh)
    query = matrix[3] + unit_rows(1, seed=8)[0]
    query = (query / np.linalg.norm(query)).astype(np.float32)
    got, want = derived.approximate(query), fresh.approximate(query)
    assert got.sims.tobytes() == want.sims.tobytes()
    assert got.bound == want.bound
    rows = np.arange(0, 8500, 7)
    assert got.finer(rows).tobytes() == want.finer(rows).tobytes()


@needs_onnx
def test_vectors_extended_after_a_write_scan_as_vectors_made_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TextVectors.extended (a write: texts gone, new ones, shared ones) hands its scan the
    rows it keeps: the int8 levels those of the vectors made from every text at once."""
    monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", 0)
    vectors = dict(zip([f"text {i}" for i in range(700)], unit_rows(700, seed=11), strict=True))
    per_tool = [[(k % 3, f"text {(7 * t + k) % 600}") for k in range(4)] for t in range(150)]
    before = TextVectors.kept(
        TextLayout.of(per_tool), np.stack([vectors[t] for t in TextLayout.of(per_tool).texts])
    )
    per_tool[40:45] = [[(0, f"text {600 + t}"), (1, "text 3")] for t in range(5)]  # a write
    layout = TextLayout.of(per_tool)
    missing = before.missing(layout)
    extended = before.extended(layout, missing, np.stack([vectors[t] for t in missing]))
    whole = TextVectors.kept(layout, np.stack([vectors[t] for t in layout.texts]))
    assert extended.rows == whole.rows
    assert extended.scan.matrix.tobytes() == whole.scan.matrix.tobytes()  # copied by runs
    _same_levels(extended.scan, whole.scan)


def test_levels_built_in_parts_are_those_of_the_whole_formulas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """int8_levels computes a part's levels in reused work arrays: the same bits as the
    levels and norms written out over every row at once (a row of zeros, a part cut short,
    rows copied from a previous build among fresh ones)."""
    monkeypatch.setattr(cosine_scan, "_BUILD_ROWS", 97)
    matrix = unit_rows(1000, seed=21)
    matrix[5] = 0.0
    matrix[6] *= 1e-30  # scales near the bottom of float64's range after the first level
    values = matrix.astype(np.float64)

    def level(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        peak = np.abs(values).max(axis=1)
        scales = np.where(peak > 0, peak / 127, 1.0)
        return np.clip(np.rint(values / scales[:, None]), -127, 127), scales

    codes, scales = level(values)
    fine, fine_scales = level(values - codes * scales[:, None])
    first = codes * scales[:, None]
    held = first + fine * fine_scales[:, None]
    norms = [values, first, values - first, held, values - held]
    want = {
        "codes_t": codes.T.astype(np.int8),
        "fine_rows": (fine + 127).astype(np.uint8),
        "scales": scales,
        "fine_scales": fine_scales,
        "norms": np.stack([np.linalg.norm(v, axis=1) for v in norms]),
    }
    whole = cosine_scan.int8_levels(matrix)
    here, there = np.arange(0, 1000, 3), np.arange(0, 1000, 3)
    derived = cosine_scan.int8_levels(matrix, whole, (here, there))
    for built in (whole, derived):
        for name, value in want.items():
            assert getattr(built, name).tobytes() == value.tobytes(), name


def _same_levels(got: CosineScan, want: CosineScan) -> None:
    """Every level and norm of the two scans, and so their bounds, the same bits."""
    mine, theirs = got._int8, want._int8
    assert mine is not None
    assert theirs is not None
    for name in ("codes_t", "fine_rows", "scales", "fine_scales", "norms"):
        a, b = getattr(mine.levels(), name), getattr(theirs.levels(), name)
        assert a.tobytes() == b.tobytes(), name
    assert (mine._coarse, mine._fine) == (theirs._coarse, theirs._fine)


@needs_onnx
@pytest.mark.parametrize("level", ["first", "second"])
def test_codes_at_the_ends_of_their_ranges_do_not_saturate_the_products(level: str) -> None:
    # Each level's session against integer arithmetic, with every code at an end of its
    # range and adjacent products of one sign: where VPMADDUBSW's pair sums would saturate
    # if the codes were wider.
    rng = np.random.default_rng(4)
    rows = np.where(rng.random((8, DIMENSIONS)) < 0.5, -127, 127)
    rows[0], rows[1] = 127, -127
    request = np.where(rng.random((2, DIMENSIONS)) < 0.5, -63, 63)
    request[0] = 63
    request[1] = np.where(rows[2] > 0, 63, -63)  # every product of row 2 positive
    ones = np.ones(len(rows))
    if level == "first":
        session = int8_graphs.first_level_session(rows.T.astype(np.int8), ones)
        sent = (request + int8_graphs.ZERO_POINT).astype(np.uint8)
        got = session.run(["s"], {"q": sent, "steps": np.array([[1.0, 1.0]], np.float32)})[0]
    else:
        fine = (rows + int8_graphs.ROW_ZERO_POINT).astype(np.uint8)
        session = int8_graphs.second_level_session(DIMENSIONS)
        feed = {
            "rows": np.arange(len(rows), dtype=np.int64),
            "q": request.T.astype(np.int8),
            "steps": np.array([[1.0], [1.0]], np.float32),
            "m": fine,
            "scales": ones.astype(np.float32),
        }
        got = session.run(["s"], feed)[0]
    expected = rows.astype(np.int64) @ request.sum(axis=0)
    assert got.tolist() == expected.astype(np.float32).tolist()


def test_a_small_matrix_is_scanned_exactly_in_one_pass() -> None:
    matrix = unit_rows(50, seed=2)
    scan = CosineScan(matrix)
    cosines = scan.approximate(matrix[0])
    assert not scan.approximates
    assert cosines.bound == cosines.fine_bound == 0.0
    assert cosines.sims.tolist() == scan.exact(matrix[0]).tolist()
    assert cosines.finer(np.array([4, 9])).tolist() == scan.exact(matrix[0])[[4, 9]].tolist()


WORDS = [f"w{n}" for n in range(400)]


def word_vector(word: str) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(word.encode()))
    return rng.standard_normal(DIMENSIONS)


def bag_of_words(texts: Sequence[str], _call: int) -> np.ndarray:
    """Vectors that share direction as texts share words (real cosines are structured so)."""
    out = []
    for text in texts:
        v = sum((word_vector(w) for w in text.lower().replace(":", " ").split()), np.zeros(1))
        v = v + 0.01 * word_vector(text)
        out.append(v / np.linalg.norm(v))
    return np.asarray(out, dtype=np.float32)


class WideStub(StubEncoder):
    hidden = DIMENSIONS


def generated_tools(count: int, seed: int = 5) -> tuple[Tool, ...]:
    rng = random.Random(seed)
    tools = []
    for n in range(count):
        pattern = {"name": "default", "description": " ".join(rng.sample(WORDS, 6))}
        tools.append(
            Tool.model_validate(
                {
                    "name": f"tool_{n:04d}",
                    "description": " ".join(rng.sample(WORDS, 10)),
                    "platform": "linux",
                    "category": "system",
                    "examples": [" ".join(rng.sample(WORDS, 5)) for _ in range(3)],
                    "capabilities": [
                        {
                            "name": "use",
                            "description": " ".join(rng.sample(WORDS, 8)),
                            "patterns": [pattern],
                        }
                    ],
                }
            )
        )
    return tuple(tools)


def test_exact_scores_of_some_tools_are_those_of_the_full_scan(tmp_path: Path) -> None:
    tools = generated_tools(60)
    stub = WideStub(bag_of_words)
    index = SemanticEngine(tmp_path, load=lambda: stub).filled_index(tools, None)
    query = bag_of_words([" ".join(WORDS[:6])], 0)[0]
    mean, best = index.tool_scores(query)
    some = np.array([0, 7, 8, 31, 59])
    exact_mean, exact_best = index.exact_scores(query, some)
    assert exact_mean.tolist() == mean[some].tolist()
    assert exact_best.tolist() == best[some].tolist()


class Source:
    def __init__(self, snapshot: CatalogSnapshot) -> None:
        self.value = snapshot

    async def get_all_tools_with_structure(self) -> CatalogSnapshot:
        return self.value

    def peek_snapshot(self) -> CatalogSnapshot:
        return self.value


@needs_onnx
def test_a_select_on_the_int8_scan_ranks_as_on_the_exact_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    snapshot = CatalogSnapshot(generated_tools(900), 1, datetime.now(UTC), None, "generated")
    rng = random.Random(9)
    requests = [" ".join(rng.sample(WORDS, rng.randint(3, 8))) for _ in range(40)]

    def answers(min_rows: int, home: Path) -> list[object]:
        monkeypatch.setattr(cosine_scan, "INT8_MIN_ROWS", min_rows)
        stub = WideStub(bag_of_words)
        engine = SemanticEngine(home, load=lambda: stub)
        settings = Settings(llm_url=None, semantic=True, home=home)
        selector = Selector(Source(snapshot), settings, engine=engine)
        assert selector.wait_for_semantic(300)
        assert selector._semantic is not None
        assert selector._semantic.vectors is not None
        assert selector._semantic.vectors.scan.approximates == (min_rows == 0)
        out: list[object] = []
        for text in requests:
            result = selector.select(SelectionRequest(request=text, top_k=8))
            assert result.retrieval == "hybrid"
            out.append(
                (
                    None if result.decision is None else result.decision.tool,
                    [(c.tool, c.pattern, c.score, c.relevance) for c in result.candidates],
                )
            )
        return out

    assert answers(0, tmp_path / "int8") == answers(10**9, tmp_path / "exact")
