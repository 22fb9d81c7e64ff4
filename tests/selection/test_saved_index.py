"""The selector's index saved with the catalog version (saved_index.py): a restart derives its
first index from the saved one, and selects exactly as an index built from nothing over the
same tools, whatever changed while the service was down (in SQL, or written by another
process); a saved index another code made is not loaded, and the catalog's entries still are."""

from __future__ import annotations

import logging
import random
import threading
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from builders import FixedSource, make_settings, starter_definitions
from toolcatalog.config import Settings
from toolcatalog.model.tool import Tool
from toolcatalog.runtime import Runtime, open_runtime
from toolcatalog.selection.candidates import CandidateEnumerator
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.saved_index import SavedIndex
from toolcatalog.selection.selector import Selector
from toolcatalog.store.connection_settings import SERVER_SETTINGS

from .test_incremental_index import REQUESTS, answer, assert_same_index, starter

CATALOG = Path(__file__).resolve().parents[2] / "catalog"
pytestmark = pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog")


def _settings(url: str, home: Path) -> Settings:
    return make_settings(url, home, semantic=False, saved_version_min_tools=0, llm_url=None)


async def _saved(runtime: Runtime) -> None:
    """Wait for the save the start's whole read made (with the selector's index)."""
    saving = runtime.catalog.state.whole.saving
    assert saving is not None
    assert await saving


def _assert_selects_as_built_from_nothing(runtime: Runtime) -> None:
    current = runtime.selector.current
    assert current is not None
    snapshot = current.index.snapshot
    fresh = Selector(FixedSource(snapshot), Settings(semantic=False, llm_url=None))
    built = fresh.enumerator_for(snapshot)
    assert_same_index(current.index, built.index)
    assert current._reads == built._reads
    assert current._declared == built._declared
    assert current.declared_inputs == built.declared_inputs
    for text in REQUESTS:
        request = SelectionRequest(request=text)
        assert answer(runtime.selector.select(request)) == answer(fresh.select(request)), text


async def test_a_restart_derives_the_index_saved_with_the_version_and_selects_as_a_fresh_build(
    fresh_db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(fresh_db_url, tmp_path / "home")
    tools = starter_definitions()[0][:40]
    async with open_runtime(settings) as first:
        await first.catalog.import_definitions(tools)
    async with open_runtime(settings) as second:  # reads everything, saves it with the index
        await _saved(second)

    names = sorted(t.name for t in tools)
    edited, purged, written, *_ = names
    # While no server runs: an edit and a delete in SQL, and a write by another process
    # (here a runtime without warm-up, as a CLI would be) that changes a tool's patterns.
    conn = await asyncpg.connect(fresh_db_url, server_settings=SERVER_SETTINGS)
    try:
        await conn.execute(
            "UPDATE tools SET definition = jsonb_set(definition, '{description}', "
            "'\"Quorum latency of the kafka brokers, edited in SQL.\"') WHERE name = $1",
            edited,
        )
        await conn.execute("DELETE FROM tools WHERE name = $1", purged)
    finally:
        await conn.close()
    async with open_runtime(settings, listen=False) as other:
        doc = next(t for t in tools if t.name == written).model_dump(mode="json")
        doc["capabilities"][0]["patterns"] = doc["capabilities"][0]["patterns"][:1]
        doc["capabilities"][0]["description"] = "Rotate snapshot certificates"
        await other.catalog.import_definitions([Tool.model_validate(doc)])

    with caplog.at_level(logging.INFO, logger="toolcatalog"):
        async with open_runtime(settings) as third:
            current = third.selector.current
            assert current is not None
            assert current.index.base is not None  # derived from the saved index
            assert "39 tools, 2 of them from the database" in caplog.text
            held = {t.name: t for t in current.index.tools}
            assert purged not in held
            assert "edited in SQL" in held[edited].description
            assert held[written].capabilities[0].description == "Rotate snapshot certificates"
            _assert_selects_as_built_from_nothing(third)
            await _saved(third)  # with the index derived at its start
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="toolcatalog"):
        async with open_runtime(settings) as fourth:  # nothing changed since
            current = fourth.selector.current
            assert current is not None
            assert current.index.base is not None
            assert "39 tools, 0 of them from the database" in caplog.text
            _assert_selects_as_built_from_nothing(fourth)


async def test_an_index_saved_by_other_selection_code_is_built_again_and_the_version_kept(
    fresh_db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(fresh_db_url, tmp_path / "home")
    async with open_runtime(settings) as first:
        await first.catalog.import_definitions(starter_definitions()[0][:20])
    async with open_runtime(settings) as second:
        await _saved(second)

    class OtherCode(SavedIndex):
        def __init__(self, current: Any) -> None:
            super().__init__(current)
            self.key = "another selection code"

        def load(self, data: bytes, tools: Any) -> CandidateEnumerator:
            raise AssertionError("a state saved under another key is not loaded")

    with caplog.at_level(logging.INFO, logger="toolcatalog"):
        async with open_runtime(settings, listen=False) as third:
            saved = third.catalog.state.saved
            saved.attachment = OtherCode(lambda: third.selector.current)
            await third.catalog.get_all_tools_with_structure()
            assert saved.take_attached() is None
            assert "20 tools, 0 of them from the database" in caplog.text


def test_a_save_that_reaches_the_index_before_its_first_build_waits_for_it() -> None:
    """A start saves its version beside the selector's first build: at 100,000 tools the
    entries were written before the index was built (~20 s), the version was saved without
    it, and the next restart built the index from nothing (20 s instead of ~1 s)."""
    snapshot = starter(20, random.Random(7))
    built = Selector(FixedSource(snapshot), Settings(semantic=False, llm_url=None))
    asked = threading.Event()
    current: list[CandidateEnumerator | None] = [None]

    def first_build() -> CandidateEnumerator | None:
        asked.set()
        return current[0]

    saving = SavedIndex(first_build)
    made: list[bytes | None] = []
    save = threading.Thread(
        target=lambda: made.append(saving.dump(snapshot.tools, threading.Event()))
    )
    save.start()
    assert asked.wait(60)  # the save asked while no index was built yet
    enumerator = current[0] = built.enumerator_for(snapshot)
    save.join(120)
    assert made
    assert made[0] is not None
    loaded = saving.load(made[0], {t.name: t for t in snapshot.tools})
    assert_same_index(loaded.index, enumerator.index)


def test_a_save_stopped_while_waiting_for_the_first_index_ends_without_it() -> None:
    stopping = threading.Event()
    stopping.set()
    assert SavedIndex(lambda: None).dump(starter(3, random.Random(1)).tools, stopping) is None
