"""A selection index derived from the previous generation's after writes (CatalogIndex and
SemanticIndex with `previous`, CandidateEnumerator keeping the unchanged tools' rulings) is
the one a build from nothing makes for the same snapshot: random creates, updates and
deletes on a catalog made from the starter catalog, every posting, statistic, spelling table
and answer compared exactly."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from builders import FixedSource
from toolcatalog.config import Settings
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Platform, Tool
from toolcatalog.selection import semantic as semantic_module
from toolcatalog.selection.bm25 import BM25FIndex
from toolcatalog.selection.candidates import CandidateEnumerator
from toolcatalog.selection.loader import load_folder_snapshot
from toolcatalog.selection.models import SelectionRequest, SelectionResult
from toolcatalog.selection.retrieval import CatalogIndex
from toolcatalog.selection.selector import Selector
from toolcatalog.selection.semantic import SemanticIndex
from toolcatalog.selection.semantic_engine import SemanticEngine
from toolcatalog.selection.tokenizer import tokens

from .stub_encoder import StubEncoder
from .stub_encoder import seeded as vector

CATALOG = Path(__file__).resolve().parents[2] / "catalog"
REQUESTS = [
    "why is / full on db2",
    "which process is eating memory on web01",
    "restart nginx on the load balancer",
    "is port 443 open on api.example.com",
    "show the last 100 lines of the app log",
    "memroy usage keeps climbing, which proccess is it",
    "rotate the kafka-broker-2 logs zqxwv",
    "bake a chocolate cake",
]
WORDS = [
    "disk",
    "memory",
    "quorum",
    "zqxwv",
    "network",
    "latency",
    "kafka",
    "rotate",
    "snapshot",
    "restore",
    "cert",
]

pytestmark = pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog")


def engine(home: Path) -> SemanticEngine:
    stub = StubEncoder(lambda texts, _call: np.stack([vector(t) for t in texts]))
    return SemanticEngine(home, load=lambda: stub)


def starter(count: int, rng: random.Random) -> CatalogSnapshot:
    snapshot = load_folder_snapshot(CATALOG, strict=False)
    tools = tuple(sorted(rng.sample(snapshot.tools, count), key=lambda t: t.name))
    return replace(snapshot, tools=tools)


def written(snapshot: CatalogSnapshot, rng: random.Random, step: int) -> CatalogSnapshot:
    """The snapshot after one random write, unchanged tools kept as the same objects (as a
    catalog version keeps them)."""
    tools = {t.name: t for t in snapshot.tools}
    kind = rng.choice(["create", "update", "update", "delete"])
    victim = rng.choice(sorted(tools))
    if kind == "delete" and len(tools) > 5:
        del tools[victim]
    elif kind == "create":
        doc = tools[victim].model_dump(mode="json", exclude_none=True)
        doc["name"] = f"{victim[:50]}_{step}"
        doc["description"] = f"{doc['description']} {' '.join(rng.sample(WORDS, 3))}"
        tools[doc["name"]] = Tool.model_validate(doc)
    else:
        doc = tools[victim].model_dump(mode="json", exclude_none=True)
        field = rng.choice(["description", "examples", "tags", "enabled", "capability"])
        if field == "description":
            doc["description"] = " ".join(rng.sample(WORDS, 4)) + f" step{step}"
        elif field == "examples":
            doc["examples"] = [f"{rng.choice(WORDS)} on web{step}"]
        elif field == "tags":
            doc["tags"] = sorted({rng.choice(WORDS), f"t{step}"})
        elif field == "enabled":
            doc["enabled"] = not doc.get("enabled", True)
        else:
            capability = doc["capabilities"][0]
            capability["description"] = f"{rng.choice(WORDS)} things {step}"
            capability["patterns"] = capability["patterns"][:1]  # pattern count may change
        tools[victim] = Tool.model_validate(doc)
    return replace(
        snapshot,
        tools=tuple(tools[n] for n in sorted(tools)),
        generation=snapshot.generation + 1,
    )


def ids(index: BM25FIndex) -> dict[str, int]:
    """The index's terms and their ids (its table may hold others: BM25FIndex._id)."""
    return {term: i for term in index.words() if (i := index._id(term)) is not None}


def postings(index: BM25FIndex) -> dict[str, tuple[list[int], list[float], list[float]]]:
    out = {}
    for term in ids(index):
        out[term] = tuple(a.tolist() for a in index.postings(term))  # type: ignore[assignment]
    return out


def assert_same_index(derived: CatalogIndex, fresh: CatalogIndex) -> None:
    a, b = derived.tool_index, fresh.tool_index
    assert set(a.words()) == set(b.words())
    assert postings(a) == postings(b)
    assert {t: a.df[i] for t, i in ids(a).items()} == {t: b.df[i] for t, i in ids(b).items()}
    assert {t: a.idf[i] for t, i in ids(a).items()} == {t: b.idf[i] for t, i in ids(b).items()}
    assert a.average_length == b.average_length
    assert {k: set(v) for k, v in a._deletes.items()} == {k: set(v) for k, v in b._deletes.items()}
    assert derived.tools == fresh.tools
    assert derived.tool_names == fresh.tool_names
    assert derived.tool_position == fresh.tool_position
    assert derived._platforms.tolist() == fresh._platforms.tolist()
    for platform in (None, *Platform):
        assert derived.world_mask(platform).tolist() == fresh.world_mask(platform).tolist()
    # Each tool's document, made again from the interned texts (the index keeps no copy).
    assert [a.document(i) for i in range(a.size)] == [b.document(i) for i in range(b.size)]
    assert list(derived.patterns) == list(fresh.patterns)
    assert derived.tool_patterns == fresh.tool_patterns
    assert derived.pattern_start.tolist() == fresh.pattern_start.tolist()
    assert derived.pattern_tool.tolist() == fresh.pattern_tool.tolist()
    assert derived.tool_capabilities == fresh.tool_capabilities
    assert derived.pattern_tables.scorer.average == fresh.pattern_tables.scorer.average


def assert_same_semantic(derived: SemanticIndex, fresh: SemanticIndex) -> None:
    assert derived.ready.is_set()
    assert fresh.ready.is_set()
    assert derived.texts == fresh.texts
    assert derived.text_kinds.tolist() == fresh.text_kinds.tolist()
    assert derived.text_owners.tolist() == fresh.text_owners.tolist()
    assert derived.complete.is_set()
    assert fresh.complete.is_set()
    assert derived.vectors is not None
    assert fresh.vectors is not None
    assert np.array_equal(derived.vectors.scan.matrix, fresh.vectors.scan.matrix)
    inverse = derived.vectors.inverse, fresh.vectors.inverse
    assert (inverse[0] is None) == (inverse[1] is None)
    if inverse[0] is not None and inverse[1] is not None:
        assert np.array_equal(inverse[0], inverse[1])
    assert derived.speller is not None
    assert fresh.speller is not None
    assert derived.speller.counts == fresh.speller.counts
    assert derived.speller.encoder_known == fresh.speller.encoder_known
    assert derived.chunks == fresh.chunks


def test_an_index_derived_when_its_interned_texts_start_afresh_is_the_one_built_from_nothing() -> (
    None
):
    # Each generation rewrites every tool's description, so the interned texts fill with
    # texts no tool holds any more, until a derived index starts a table of its own: the
    # unchanged tools' documents then come from the previous index (BM25FIndex.document).
    snapshot = starter(30, random.Random(7))
    index = CatalogIndex(snapshot)
    for step in range(200):
        tools = tuple(
            t.model_copy(update={"description": f"{t.description} step{step}"})
            if k % 3 == step % 3
            else t
            for k, t in enumerate(snapshot.tools)
        )
        snapshot = replace(snapshot, tools=tools, generation=snapshot.generation + 1)
        derived = CatalogIndex(snapshot, index)
        afresh = derived.parts is not index.parts
        assert_same_index(derived, CatalogIndex(snapshot))
        index = derived
        if afresh:
            break
    assert afresh


def test_a_build_from_nothing_keeps_what_a_restart_keeps_and_derives_the_same() -> None:
    # A build from nothing empties its table of texts, and once it ran through more texts
    # than the tokeniser's cache keeps (a large catalog; filled here beforehand) it forgets
    # the tokeniser's caches: what a restart's index (loaded, not tokenised) holds. Indexes
    # derived from it after writes tokenise their changed tools afresh and are still the
    # ones built from nothing.
    rng = random.Random(11)
    snapshot = starter(40, rng)
    for i in range(tokens.cache_info().maxsize or 0):
        tokens(f"filler{i}")
    index = CatalogIndex(snapshot)
    assert index._documents.size() == 0
    assert index._documents.limit > 0
    assert tokens.cache_info().currsize == 0
    for step in range(30):
        snapshot = written(snapshot, rng, step)
        derived = CatalogIndex(snapshot, index)
        assert_same_index(derived, CatalogIndex(snapshot))
        index = derived


def test_a_derived_index_keeps_the_name_order_and_platforms_only_when_they_hold() -> None:
    # Updates under the same names in name order keep the previous index's order and name
    # table (in_name_order); a tool moved to a platform with a longer value widens the kept
    # platform array (str_per_tool); a snapshot not in name order, and a rename, are sorted.
    snapshot = starter(30, random.Random(11))
    tools = [t.model_copy(update={"platform": Platform.linux}) for t in snapshot.tools]
    snapshot = replace(snapshot, tools=tuple(tools))
    index = CatalogIndex(snapshot)
    assert index._platforms.dtype == np.dtype("<U5")
    for k, platform in ((3, Platform.linux), (7, Platform.cross_platform), (9, Platform.custom)):
        tools[k] = tools[k].model_copy(update={"platform": platform})
    steps = [
        tuple(tools),
        tuple(tools[k].model_copy(update={"platform": Platform.kubernetes}) if k == 2 else t
              for k, t in enumerate(tools)),
        tuple(reversed(tools)),
        (tools[0].model_copy(update={"name": "zz_renamed"}), *tools[1:]),
    ]  # fmt: skip
    for step, listed in enumerate(steps):
        snapshot = replace(snapshot, tools=listed, generation=snapshot.generation + 1)
        derived = CatalogIndex(snapshot, index)
        fresh = CatalogIndex(snapshot)
        assert_same_index(derived, fresh)
        assert (derived.tool_position is index.tool_position) == (step < 2), step
        assert list(derived.tool_names) == sorted(derived.tool_names)
        assert derived._platforms.dtype == np.dtype("<U14")  # widened, or made afresh
        index = derived


def answer(result: SelectionResult) -> dict[str, Any]:
    """What a select answers, less what differs between any two calls (ids, timing)."""
    return result.model_dump(mode="json", exclude={"selection_id", "elapsed_ms"})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_index_derived_after_random_writes_is_the_one_built_from_nothing(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The semantic index takes the derived CatalogIndex's positions (one identity pass over
    # the catalog a write): it makes none of its own.
    made: list[int] = []
    positions_in = semantic_module.positions_in
    monkeypatch.setattr(
        semantic_module, "positions_in", lambda *a: made.append(1) or positions_in(*a)
    )
    rng = random.Random(seed)
    snapshot = starter(40, rng)
    source = FixedSource(snapshot)
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    the_engine = engine(tmp_path / "home")
    selector = Selector(source, settings, engine=the_engine)
    assert selector.wait_for_semantic(60)
    for step in range(12):
        snapshot = written(snapshot, rng, step)
        source.value = snapshot
        previous = selector._enumerator
        made.clear()
        selector._build_beside(snapshot)  # derived from the current index
        assert not made
        derived = selector._enumerator
        assert derived is not None
        assert previous is not None
        assert derived.index.parts is previous.index.parts  # derived, not built afresh
        fresh_index = CatalogIndex(snapshot)
        assert_same_index(derived.index, fresh_index)
        semantic = selector._semantic
        assert semantic is not None
        fresh_semantic = SemanticIndex(fresh_index.tools)
        fresh_semantic.fill(the_engine._prepare)
        assert_same_semantic(semantic, fresh_semantic)
        # A selector over the index built from nothing, with the derived calibration (kept
        # while few texts change, by rule, not recomputed: see semantic.RECALIBRATE_SHARE).
        fresh_semantic.calibration = semantic.calibration
        fresh = Selector(FixedSource(snapshot), settings, engine=the_engine)
        fresh._enumerator = CandidateEnumerator(fresh_index)
        assert derived.declared_inputs == fresh._enumerator.declared_inputs
        assert derived._reads == fresh._enumerator._reads
        assert derived._declared == fresh._enumerator._declared
        assert derived.index._active.tolist() == fresh_index._active.tolist()
        assert derived.index._platforms.tolist() == fresh_index._platforms.tolist()
        fresh._semantic = fresh_semantic
        for text in REQUESTS:
            request = SelectionRequest(request=text, top_k=5, explain=True)
            got = selector.select(request)
            assert got.retrieval == "hybrid"
            assert answer(got) == answer(fresh.select(request)), text
