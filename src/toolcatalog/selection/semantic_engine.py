"""The semantic engine of one Selector: the encoder (loaded once, off the request path), its
embedding cache, the query encoder, and the threads that fill each SemanticIndex
(semantic.py) in the background."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from toolcatalog.model.tool import Tool
from toolcatalog.selection.byte_cache import DEFAULT_SELECT_CACHE_BYTES, ByteLRU
from toolcatalog.selection.derivation import Positions
from toolcatalog.selection.embedding_cache import EmbeddingCache, SharedVectors
from toolcatalog.selection.encoders.minilm import Array, MiniLMEncoder, model_dir
from toolcatalog.selection.encoders.onnx import load_fast_encoder
from toolcatalog.selection.hosts import without_hosts
from toolcatalog.selection.scan_file import levels_path
from toolcatalog.selection.semantic import SemanticIndex, SemanticView

log = logging.getLogger(__name__)

# Seconds without a newer index before a written catalog's scan is kept in its file (~4 s of
# CPU at 100,000 tools, beside the requests: the digest, 1.4 GB written, the codes packed).
KEEP_AFTER_S = 5.0


class QueryEncoder:
    """Encodes requests and remembers recent ones within `max_bytes` (pipelines repeat
    requests; one encoding costs ~4-6 ms of CPU with the int8 encoder on this project's
    2-core VM, the lookup microseconds; ~1.9 KB an entry for a 100-character request).
    Thread-safe; the encoder lets go of the GIL while it computes, so concurrent requests
    proceed."""

    def __init__(
        self, encoder: MiniLMEncoder, max_bytes: int = DEFAULT_SELECT_CACHE_BYTES // 2
    ) -> None:
        self.encoder = encoder
        self.cache: ByteLRU[Array] = ByteLRU(max_bytes, lambda v: int(v.nbytes) + 112)
        # Looked up per call, as before: failures are raised, not kept.
        self._encode = self.cache.memoised(lambda text: self.encoder.encode_query(text))

    def __call__(self, text: str) -> Array:
        return self._encode(text)


class SemanticEngine:
    """Semantic retrieval for one Selector: the encoder (loaded on first use, in the background
    thread, as building the int8 graph takes ~1 s), the embedding cache of that encoder, and the
    query encoder. Constructing it raises ModelUnavailable when the model is not installed."""

    def __init__(
        self,
        home: Path,
        load: Callable[[], MiniLMEncoder] | None = None,
        shared: SharedVectors | None = None,
        query_cache_bytes: int = DEFAULT_SELECT_CACHE_BYTES // 2,
    ) -> None:
        model_dir()  # fail now, not in the background, when the model files are missing
        self._home = home
        self._load = load
        self._shared = shared
        self._query_cache_bytes = query_cache_bytes
        self._lock = threading.Lock()
        self._encoder: tuple[MiniLMEncoder, EmbeddingCache] | None = None
        self.queries: QueryEncoder | None = None
        self._closing = threading.Event()
        self._lock_fillers = threading.Lock()
        self._fillers: list[threading.Thread] = []

    def _prepare(self) -> tuple[MiniLMEncoder, EmbeddingCache]:
        with self._lock:
            if self._encoder is None:
                encoder = (
                    self._load()
                    if self._load is not None
                    else load_fast_encoder(cache_dir=self._home / "models")
                )
                cache = EmbeddingCache(
                    self._home / "embeddings" / f"{encoder.name}.npz", self._shared, encoder.name
                )
                self.queries = QueryEncoder(encoder, self._query_cache_bytes)
                self._encoder = (encoder, cache)
            return self._encoder

    def index(self, tools: Sequence[Tool]) -> SemanticIndex:
        """A SemanticIndex of `tools`, filled by a daemon thread (a process may exit without
        waiting for it): `ready` once every text but the names and description clauses is in,
        then `complete`."""
        index = SemanticIndex(tools)
        self._beside(index.fill, (self._prepare, None, self._closing))
        return index

    def filled_index(
        self,
        tools: Sequence[Tool],
        previous: SemanticIndex | None,
        positions: Positions | None = None,
    ) -> SemanticIndex:
        """A SemanticIndex of `tools` filled on this thread (only texts not cached are
        embedded; `previous`'s calibration kept when few texts changed), for a selector that
        swaps it in once ready. When `previous` is ready but its names and description clauses
        are still coming (a write meanwhile), this index's are embedded by a daemon
        thread after it is returned ready; `previous`'s filling stops (this one takes over).
        `positions`: where `tools` were in `previous.tools`, when known (SemanticIndex)."""
        index = SemanticIndex(tools, previous, positions)
        beside = previous is not None and previous.ready.is_set() and not previous.complete.is_set()
        index.fill_whole(self._prepare, previous, self._closing)
        if previous is not None:
            previous.stop.set()
        if beside and not index.complete.is_set():
            self._beside(index.fill_later, (self._prepare, self._closing))
        else:
            index.fill_later(self._prepare, self._closing)
        if index.vectors is not None and index.vectors.scan.approximates:
            self._beside(self._kept_later, (index,))
        return index

    def _kept_later(self, index: SemanticIndex) -> None:
        """Once no newer index took over for KEEP_AFTER_S (a burst of writes is kept once, at
        its end), write `index`'s int8 scan beside the embedding cache and read it from there
        (CosineScan.keep): a worker that took a write gives back the 1.3 GB (100,000 tools)
        a scan made again holds, and a restart reads that scan instead of building it. The
        rows writes appended (delta_scan.py) are first put in the layout's order
        (TextVectors.compacted: ~5 s of CPU at 100,000 tools, here rather than per write)."""
        deadline = time.monotonic() + KEEP_AFTER_S
        while time.monotonic() < deadline:
            if index.stop.wait(min(0.25, KEEP_AFTER_S)) or self._closing.is_set():
                return
        _encoder, cache = self._prepare()
        vectors, path = index.vectors, levels_path(cache.path)
        if vectors is None or path is None:
            return
        try:
            # Rows appended by writes (delta_scan.py) are put in the layout's order first: a
            # restart over the same texts then reads the file.
            compacted = vectors.compacted(path)
            compacted.scan.keep(path)  # already read from the file when it was compacted
            if compacted is not vectors and not index.stop.is_set():
                index.vectors = compacted  # a request under way keeps the vectors it took
        except Exception as exc:  # the scan answers from memory as before
            log.warning("could not keep the scan of a written catalog: %r", exc)

    def _beside(self, fill: Callable[..., None], args: tuple[object, ...]) -> None:
        thread = threading.Thread(target=fill, args=args, name="toolcatalog-embed", daemon=True)
        with self._lock_fillers:
            self._fillers = [t for t in self._fillers if t.is_alive()] + [thread]
        thread.start()

    def close(self, timeout_s: float) -> bool:
        """Stop every filling thread at its next step and wait up to `timeout_s` for them;
        True when none is left running. A process must not exit while one is inside ONNX
        Runtime: interpreter finalisation can then hang (a `serve` that did not exit within
        60 s of SIGTERM, under load, while the encoder was being built)."""
        self._closing.set()
        deadline = time.monotonic() + timeout_s
        with self._lock_fillers:
            fillers = list(self._fillers)
        for thread in fillers:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in fillers)

    def view(self, index: SemanticIndex, text: str) -> SemanticView | None:
        """Semantic scores for request `text` over `index`, once `index` is ready."""
        queries = self.queries
        if queries is None or not index.ready.is_set():
            return None
        speller = index.speller
        if speller is not None:
            text = speller.spelled(without_hosts(text, index.chunks))
        return SemanticView(index, queries(text))
