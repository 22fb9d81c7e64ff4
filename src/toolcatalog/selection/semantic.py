"""Semantic retrieval (`Settings.semantic`, on by default): tool texts embedded with the
packaged MiniLM encoder (encoders/), compared with the request by cosine,
and fused with the lexical ranking (see candidates.py).

Each tool has three kinds of text: its name and description, each example (written like
requests), and each capability with its patterns' use cases. A tool's semantic score is the
mean over the kinds it has of the best cosine in that kind; measured on the dev and held-out
sets this beat the single best text (0.758 vs 0.708 top-1 on dev) and the description alone.
Its name alone is a fourth field (see NAME_WEIGHT), left out of the best single cosine; so
are the clauses of a tool's description when it has no examples (see CLAUSE_WEIGHT).

Embedding tool texts is slow next to everything else here (the starter catalog's ~1,900
texts take about 5 s with the int8 ONNX encoder on two threads, 40 s with the numpy one), so
it never blocks: the encoder is loaded and an index's embeddings are computed in a background
thread, cached by text across catalog generations (a hot reload re-embeds only changed texts)
and kept in a file per encoder between runs. Until they are ready, selection is lexical and
the result says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from toolcatalog.model.tool import Tool
from toolcatalog.selection.bm25 import FloatArray, IntArray
from toolcatalog.selection.byte_cache import DEFAULT_SELECT_CACHE_BYTES, ByteLRU
from toolcatalog.selection.calibrate import Calibration, calibrate, generic_requests
from toolcatalog.selection.clauses import clauses
from toolcatalog.selection.cosine_scan import CosineScan
from toolcatalog.selection.embedding_cache import EmbeddingCache, SharedVectors
from toolcatalog.selection.encoders.minilm import Array, MiniLMEncoder, model_dir
from toolcatalog.selection.encoders.onnx import load_fast_encoder
from toolcatalog.selection.negation import affirmed
from toolcatalog.selection.retrieval import positions_in
from toolcatalog.selection.spelling import Speller
from toolcatalog.selection.text import changed_chunks, text_chunks, without_hosts
from toolcatalog.selection.tool_fields import ToolFields

log = logging.getLogger(__name__)

KINDS = ("description", "example", "capability", "name", "clause")
# The name alone of a tool without examples ("finance tool", "pg_dump (PostgreSQL logical
# backup)") is a field of its own: NAME_WEIGHT of its semantic score, the mean over its other
# kinds the rest. A name says what a tool is for in few words, which a one-sentence
# description's other words blur; it takes no part in the best single cosine (what the gate
# and the calibration read), since a short text can sit near a request by accident. Measured
# offline on three terse catalogs (fused ranking, top-1 / recall@5), weights 0 -> 0.15 ->
# 0.25: MetaTool 2,000 0.586 / 0.805 -> 0.590 / 0.807 -> 0.592 / 0.810; the starter catalog's
# names and descriptions (180 dev and held-out requests) 0.683 / 0.894 -> 0.700 / 0.894 ->
# 0.672 / 0.894; manual pages (43 shell requests) 0.442 / 0.744 -> 0.465 / 0.744 -> 0.512 /
# 0.767. 0.15 gains on all three. A tool with examples has request-like texts already: given
# to every tool of the starter catalog with its examples, the name field cost dev 0.833 ->
# 0.808 (a tool the request names won: "no docker", "NIC Link is Down" -> ethtool) while
# held-out went 0.867 -> 0.900.
NAME_KIND = 3
NAME_WEIGHT = 0.15
# Each clause of the description of a tool without examples is a text of its own (clauses.py):
# the description's field is (1 - CLAUSE_WEIGHT) x the whole description's cosine +
# CLAUSE_WEIGHT x the most of it and its clauses'. Like the name, clauses take no part in the
# best single cosine nor in the calibration. Measured with bench/multi_vector.py (session 11,
# `metatool`): the starter catalog's names and descriptions, held-out 0.817 -> 0.867, dev
# 0.692 -> 0.692; MetaTool 2,000 0.592 / 0.812 -> 0.591 / 0.814; weight 1 lost dev 0.658.
CLAUSE_KIND = 4
CLAUSE_WEIGHT = 0.5
# A calibration is kept for a new index while under this share of its texts differ from the
# texts it was computed on (a write changes one tool's few texts; recalibrating cost ~0.2 s
# of CPU per write for the starter catalog, more than the rest of the index).
RECALIBRATE_SHARE = 0.02


def tool_texts(tool: Tool) -> list[tuple[int, str]]:
    """(kind index, text) pairs to embed for one tool. A name without a display name is
    written as words ("aus surf report", not "aus_surf_report"), as the encoder reads text:
    MetaTool 2000, top-1 0.579 -> 0.586 and recall@5 0.799 -> 0.805 (offline, ranking only);
    the starter catalog has display names."""
    title = tool.display_name or tool.name.replace("_", " ")
    out = [(0, f"{title}: {affirmed(tool.description)}")]
    out += [(1, example) for example in tool.examples]
    for capability in tool.capabilities:
        uses = "; ".join(u for p in capability.patterns for u in p.typical_use_cases)
        out.append((2, f"{affirmed(capability.description)} {uses}".strip()))
    if not tool.examples:
        out.append((NAME_KIND, title))
        out += [(CLAUSE_KIND, clause) for clause in clauses(affirmed(tool.description))]
    return out


class _Stopped(Exception):
    """Filling was asked to stop (SemanticEngine.close)."""


class SemanticIndex:
    """The embeddings of one snapshot's tools (in CatalogIndex order), filled in the
    background; `ready` tells whether `tool_scores` may be called."""

    tool_texts: list[list[tuple[int, str]]]

    def __init__(self, tools: Sequence[Tool], previous: SemanticIndex | None = None) -> None:
        """`previous`: the index of an earlier generation; its unchanged tools (the same
        objects) keep their texts, and `fill` reuses their vectors and spelling counts."""
        self.size = len(tools)
        self.tools = tuple(tools)
        moved, reused = positions_in(previous.tools if previous is not None else (), tools)
        per_tool = [
            previous.tool_texts[j] if previous is not None and j >= 0 else tool_texts(tool)
            for tool, j in zip(tools, moved, strict=True)
        ]
        self.tool_texts = per_tool
        # The texts a write took out and put in (all of them without `previous`).
        self.went = [
            text
            for k, texts in enumerate(previous.tool_texts if previous is not None else ())
            if k not in reused
            for _kind, text in texts
        ]
        self.came = [
            text for texts, j in zip(per_tool, moved, strict=True) if j < 0 for _, text in texts
        ]
        counts = np.fromiter(map(len, per_tool), dtype=np.int64, count=len(per_tool))
        owner_of = np.repeat(np.arange(len(per_tool), dtype=np.int64), counts)
        kind_of = np.fromiter(
            (kind for texts in per_tool for kind, _ in texts), dtype=np.int64, count=len(owner_of)
        )
        texts = [text for texts in per_tool for _, text in texts]
        # Texts sorted by (tool, kind), so each (tool, kind) group is one contiguous segment;
        # they are embedded in this order, so the vectors need no reordering copy.
        order = np.lexsort((kind_of, owner_of))
        self.texts = [texts[i] for i in order]
        self.text_kinds: IntArray = kind_of[order]
        self.text_owners: IntArray = owner_of[order]
        slot = self.text_owners * len(KINDS) + self.text_kinds
        self._starts: IntArray = (
            np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]]) if len(slot) else slot
        )
        self._slots: IntArray = slot[self._starts] if len(slot) else slot
        self._slot_tool: IntArray = self._slots // len(KINDS)
        self._text_slot: IntArray = slot
        # Each tool's texts are texts[_tool_start[i]:_tool_start[i + 1]] (see exact_scores).
        self._tool_start: IntArray = np.searchsorted(self.text_owners, np.arange(self.size + 1))
        self._slot_named: npt.NDArray[np.bool_] = self._slots % len(KINDS) == NAME_KIND
        self._slot_clause: npt.NDArray[np.bool_] = self._slots % len(KINDS) == CLAUSE_KIND
        # How many kinds of text but its name and clauses each tool has (at least its
        # description, so never 0).
        self._kinds = np.maximum(
            np.bincount(
                self._slot_tool[~(self._slot_named | self._slot_clause)], minlength=self.size
            ),
            1,
        )
        self._per_tool_fields = ToolFields(
            self._starts,
            self._slot_tool,
            self._slot_named,
            self._kinds,
            len(slot),
            NAME_WEIGHT,
            self._slot_clause,
            CLAUSE_WEIGHT,
        )
        self._scan: CosineScan | None = None  # over one row per distinct text (see _keep)
        self._inverse: IntArray | None = None
        self._rows: dict[str, int] = {}  # each distinct text's row in the scan
        self.calibration: Calibration | None = None  # set before `ready`
        self.speller: Speller | None = None  # set before `ready` (see spelling.py)
        self.chunks: Counter[str] = Counter()  # the texts' chunks (text.without_hosts)
        self.calibrated_on: frozenset[str] = frozenset()  # the texts it was computed on
        self.embedded = 0  # texts in so far, of len(self.texts): progress for people
        self.ready = threading.Event()  # set once the embeddings are in
        self.done = threading.Event()  # set once filling ended, ready or failed
        self.error: str | None = None

    def _embedded(self, count: int) -> None:
        self.embedded = count

    def fill(
        self,
        prepare: Callable[[], tuple[MiniLMEncoder, EmbeddingCache]],
        previous: SemanticIndex | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Embed every text (cached ones are free) with the encoder and cache `prepare` gives;
        sets `ready`. `previous`'s calibration is kept when few texts differ from those it
        was computed on (see RECALIBRATE_SHARE). Never raises. When `stop` is set, filling
        ends at its next step (after loading the encoder, after each chunk of texts) without
        `ready`."""

        def check(count: int | None = None) -> None:
            if count is not None:
                self._embedded(count)
            if stop is not None and stop.is_set():
                raise _Stopped

        try:
            started = time.monotonic()
            check()
            encoder, cache = prepare()
            computed, fetched = cache.computed, cache.fetched
            if previous is not None and previous.ready.is_set() and previous.speller is not None:
                self._fill_from(previous, encoder, cache, check)
                kept = _kept_calibration(previous, self.texts)
                if kept is not None:
                    self.calibration, self.calibrated_on = kept
                    self.ready.set()
                    self._retain(cache)
                    return
                self.embedded = len(self.texts)
                vectors = self._vectors()
            else:
                # An encoder of another make may not say which words it knows.
                known = getattr(encoder, "known_words", frozenset)
                self.speller = Speller(self.texts, known())
                self.chunks = text_chunks(self.texts)
                check()
                vectors = cache.embed(encoder, self.texts, check)
                self._keep(vectors)
            negatives = cache.embed(encoder, list(generic_requests()), lambda _count: check())
            # Names and clauses take no part in the best cosine.
            unnamed = (self.text_kinds != NAME_KIND) & (self.text_kinds != CLAUSE_KIND)
            self.calibration = calibrate(
                vectors[unnamed], self.text_kinds[unnamed], negatives, self.text_owners[unnamed]
            )
            self.calibrated_on = frozenset(self.texts)
            self.ready.set()
            self._retain(cache)
            log.info(
                "semantic retrieval ready",
                extra={
                    "tools": self.size,
                    "texts": len(self.texts),
                    "embedded": cache.computed - computed,
                    "fetched": cache.fetched - fetched,
                    "encoder": encoder.name,
                    "seconds": round(time.monotonic() - started, 2),
                    "calibration": self.calibration.describe(),
                },
            )
        except _Stopped:
            self.error = "stopped: the service is shutting down"
            log.info("semantic index filling stopped: the service is shutting down")
        except Exception as exc:  # a failed embedding must not take selection down
            self.error = str(exc)
            log.warning("semantic index failed, selection stays lexical: %s", exc)
        finally:
            self.done.set()

    def _retain(self, cache: EmbeddingCache) -> None:
        """Let the cache drop what no index uses any more: this index's texts and the
        calibration's generic requests are what the next index starts from."""
        try:
            if cache.due():  # the list of texts is not made per write
                cache.retain([*self._rows, *generic_requests()])
        except Exception as exc:  # housekeeping: this index is ready either way
            log.warning("could not prune the embedding cache: %r", exc)

    def _fill_from(
        self,
        previous: SemanticIndex,
        encoder: MiniLMEncoder,
        cache: EmbeddingCache,
        check: Callable[..., None],
    ) -> None:
        """Speller, chunks and vectors from `previous` (ready) and the texts that came and
        went: only texts it did not hold are looked up in the cache (or embedded). The
        same values as a fill from nothing: a text's vector is the cache's either way."""
        assert previous.speller is not None
        assert previous._scan is not None
        self.speller = previous.speller.changed(self.went, self.came)
        self.chunks = changed_chunks(previous.chunks, self.went, self.came)
        rows: dict[str, int] = {}
        for text in self.texts:
            rows.setdefault(text, len(rows))
        held = previous._rows
        fresh = [text for text in rows if text not in held]
        check(len(self.texts) - len(fresh))
        vectors = cache.embed(encoder, fresh, lambda _count: check())
        old = previous._scan.matrix
        matrix = np.empty((len(rows), old.shape[1]), dtype=old.dtype)
        kept = [(row, held[text]) for text, row in rows.items() if text in held]
        if kept:
            new_rows, old_rows = np.asarray(kept, dtype=np.int64).T
            matrix[new_rows] = old[old_rows]
        if fresh:
            matrix[[rows[text] for text in fresh]] = vectors
        self._rows = rows
        self._scan = CosineScan(matrix)
        inverse = np.fromiter(map(rows.__getitem__, self.texts), dtype=np.int64)
        self._inverse = None if len(rows) == len(self.texts) else inverse

    def _vectors(self) -> Array:
        """Every text's vector, in `texts` order (for a calibration)."""
        assert self._scan is not None
        matrix = self._scan.matrix
        return matrix if self._inverse is None else matrix[self._inverse]

    def _keep(self, vectors: Array) -> None:
        """Keep one vector per distinct text (`_inverse` maps each text to its row): a
        catalog repeats texts (shared capability descriptions; the generated 10,000-tool
        catalog's 72,077 texts hold 50,448 distinct), and the cosine scan that every request
        pays is memory-bound, so its cost is the rows kept. Equal texts have equal vectors
        (the cache is keyed by text), so the scores are the same."""
        rows: dict[str, int] = {}
        inverse = np.fromiter(
            (rows.setdefault(t, len(rows)) for t in self.texts),
            dtype=np.int64,
            count=len(self.texts),
        )
        self._rows = rows
        if len(rows) == len(self.texts):
            self._scan, self._inverse = CosineScan(vectors), None
            return
        first = np.empty(len(rows), dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)  # each row's first text
        self._scan, self._inverse = CosineScan(vectors[first]), inverse

    def tool_scores(self, query: Array) -> tuple[FloatArray, FloatArray]:
        """Per tool: the mean over text kinds of the best cosine in each kind, and the best
        cosine of any one of its texts."""
        assert self._scan is not None
        return self._per_tool(self._scan.exact(query))

    def approximate_scores(self, query: Array) -> tuple[FloatArray, FloatArray, float]:
        """tool_scores from the fast scan (cosine_scan.py), and a bound neither of a tool's
        scores is off by more (0: exact); exact_scores settles the tools in doubt."""
        assert self._scan is not None
        sims, bound = self._scan.approximate(query)
        mean, best = self._per_tool(sims)
        return mean, best, bound

    def exact_scores(self, query: Array, tools: IntArray) -> tuple[FloatArray, FloatArray]:
        """tool_scores of `tools` (ascending positions) alone: the same values, bit for bit,
        from their texts' rows only."""
        assert self._scan is not None
        if not len(tools):
            return np.zeros(0), np.zeros(0)
        starts = self._tool_start[tools]
        counts = self._tool_start[tools + 1] - starts
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
        texts = offsets + np.arange(int(counts.sum()))
        rows = texts if self._inverse is None else self._inverse[texts]
        sims = self._scan.exact(query, rows)
        slots = self._text_slot[texts]
        segments = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]])
        best_in_kind = np.maximum.reduceat(sims, segments)
        owner = np.searchsorted(tools, slots[segments] // len(KINDS))
        firsts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        named = slots[segments] % len(KINDS) == NAME_KIND
        clause = slots[segments] % len(KINDS) == CLAUSE_KIND
        return _fields(best_in_kind, owner, named, firsts, self._kinds[tools], clause)

    def _per_tool(self, sims: Array) -> tuple[FloatArray, FloatArray]:
        if not self.size:
            return np.zeros(0), np.zeros(0)
        if self._inverse is not None:
            sims = sims[self._inverse]
        return self._per_tool_fields(sims)


def _fields(
    best_in_kind: Array,
    owner: IntArray,
    named: npt.NDArray[np.bool_],
    firsts: IntArray,
    kinds: IntArray,
    clause: npt.NDArray[np.bool_] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Per tool, from the best cosine of each of its (tool, kind) groups (`owner`: the group's
    tool, 0..len(kinds)-1, grouped by tool; `named`: a name group; `firsts`: each tool's first
    group, its description; `kinds`: each tool's groups but its name and clauses; `clause`: a
    clause group): the mean over its kinds but the name, the description's field mixed with
    its clauses' (CLAUSE_WEIGHT), mixed with the name's cosine (NAME_WEIGHT), and the best
    cosine of any text but its name and clauses. Computed as tool_fields.ToolFields computes
    the whole scan, so both give the same bits."""
    values = best_in_kind.astype(np.float64)
    left_out = named
    if clause is not None and clause.any():
        at = np.flatnonzero(clause)
        described = firsts[owner[at]]
        whole = values[described]
        values[described] = (1.0 - CLAUSE_WEIGHT) * whole + CLAUSE_WEIGHT * np.maximum(
            whole, values[at]
        )
        left_out = named | clause
    fields = np.bincount(owner, weights=np.where(left_out, 0.0, values), minlength=len(kinds))
    mean: FloatArray = fields / kinds
    if named.any():
        name = np.zeros(len(kinds))
        name[owner[named]] = best_in_kind[named]
        has_name = np.zeros(len(kinds), dtype=bool)
        has_name[owner[named]] = True
        mean = np.where(has_name, (1.0 - NAME_WEIGHT) * mean + NAME_WEIGHT * name, mean)
    best = np.maximum.reduceat(np.where(left_out, -np.inf, best_in_kind), firsts)
    return mean, best.astype(np.float64)


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
        waiting for it)."""
        index = SemanticIndex(tools)
        thread = threading.Thread(
            target=index.fill,
            args=(self._prepare, None, self._closing),
            name="toolcatalog-embed",
            daemon=True,
        )
        with self._lock_fillers:
            self._fillers = [t for t in self._fillers if t.is_alive()] + [thread]
        thread.start()
        return index

    def filled_index(self, tools: Sequence[Tool], previous: SemanticIndex | None) -> SemanticIndex:
        """A SemanticIndex of `tools` filled on this thread (only texts not cached are
        embedded; `previous`'s calibration kept when few texts changed), for a selector
        that swaps it in once ready."""
        index = SemanticIndex(tools, previous)
        index.fill(self._prepare, previous, self._closing)
        return index

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


class SemanticView:
    """One request's semantic side: a ready index and the request's embedding."""

    def __init__(self, index: SemanticIndex, query: Array) -> None:
        self.index = index
        self.query = query

    def scores(self) -> tuple[FloatArray, FloatArray]:
        return self.index.tool_scores(self.query)

    def approximate(self) -> tuple[FloatArray, FloatArray, float]:
        return self.index.approximate_scores(self.query)

    def exact(self, tools: IntArray) -> tuple[FloatArray, FloatArray]:
        return self.index.exact_scores(self.query, tools)

    @property
    def calibration(self) -> Calibration | None:
        return self.index.calibration

    def unreadable(self, text: str) -> bool:
        """Whether request `text` holds no word the encoder or the catalog knows
        (spelling.Speller.unreadable)."""
        speller = self.index.speller
        return speller is not None and speller.unreadable(text)

    def names(self, text: str) -> list[str]:
        """The words of request `text` the catalog holds but the encoder cannot read
        (spelling.Speller.names)."""
        speller = self.index.speller
        return [] if speller is None else speller.names(text)


def _kept_calibration(
    previous: SemanticIndex | None, texts: Sequence[str]
) -> tuple[Calibration, frozenset[str]] | None:
    """`previous`'s calibration and its texts, when under RECALIBRATE_SHARE of `texts`
    differ from those texts (counted against the texts it was computed on, so many small
    changes add up to a recalibration)."""
    if previous is None or previous.calibration is None or not previous.calibrated_on:
        return None
    base = previous.calibrated_on
    current = set(texts)
    differing = len(current - base) + len(base - current)
    if differing > RECALIBRATE_SHARE * max(len(base), 1):
        return None
    return previous.calibration, base
