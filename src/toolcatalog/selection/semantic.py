"""Semantic retrieval (`Settings.semantic`, on by default): tool texts embedded with the
packaged MiniLM encoder (encoders/), compared with the request by cosine (text_vectors.py),
and fused with the lexical ranking (see candidates.py).

Each tool has three kinds of text: its name and description, each example (written like
requests), and each capability with its patterns' use cases; a tool without examples also
has its name alone and its description's clauses (text_layout.NAME_WEIGHT,
clauses.CLAUSE_WEIGHT).

Embedding tool texts is slow next to everything else here (the starter catalog's ~1,900
texts take about 5 s with the int8 ONNX encoder on two threads, 40 s with the numpy one), so
it never blocks: an index's embeddings are computed in a background thread
(semantic_engine.py), cached by text across catalog generations (a hot reload re-embeds only
changed texts) and kept in a file per encoder between runs. Until every text but the names
and the description clauses is in (`ready`), selection is lexical and the result says so;
those LATER_KINDS come after (a 6,608-tool terse catalog: 13,216 texts, then 6,608 names and
8,589 clauses) and their vectors are swapped in when in (`complete`), without a pause.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import compress
from typing import NamedTuple

import numpy as np

from toolcatalog.catalog.heap import release_free_memory
from toolcatalog.model.tool import Tool
from toolcatalog.selection.arrays import FloatArray, IntArray
from toolcatalog.selection.calibrate import (
    Calibration,
    calibrate,
    generic_requests,
    neighbour_requests,
)
from toolcatalog.selection.calibration_file import (
    calibration_key,
    calibration_path,
    read_calibration,
    write_calibration,
)
from toolcatalog.selection.clauses import CLAUSE_KIND, clauses
from toolcatalog.selection.derivation import Positions, positions_in
from toolcatalog.selection.embedding_cache import EmbeddingCache
from toolcatalog.selection.encoders.minilm import Array, MiniLMEncoder
from toolcatalog.selection.hosts import changed_chunks, text_chunks
from toolcatalog.selection.layered_counts import LayeredCounts
from toolcatalog.selection.negation import affirmed
from toolcatalog.selection.scan_file import levels_path
from toolcatalog.selection.spelling import Speller
from toolcatalog.selection.text_layout import NAME_KIND, Splice, TextLayout
from toolcatalog.selection.text_vectors import Approximation, TextVectors

log = logging.getLogger(__name__)

# A calibration is kept for a new index while under this share of its texts differ from the
# texts it was computed on (a write changes one tool's few texts; recalibrating cost ~0.2 s
# of CPU per write for the starter catalog, more than the rest of the index).
RECALIBRATE_SHARE = 0.02
# Kinds of text embedded after selection turns hybrid: fields mixed into a tool's mean that
# take no part in its best single cosine, so not in the calibration or the gate either (the
# ready stage's calibration is the complete stage's). A terse catalog's names were a fifth of
# the CPU before hybrid (6,608 tools: 6,608 names of ~9 tokens beside 13,181 texts of ~25).
LATER_KINDS = (NAME_KIND, CLAUSE_KIND)

Prepare = Callable[[], tuple[MiniLMEncoder, EmbeddingCache]]
Stop = threading.Event | None  # the engine's: set when the service shuts down


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


class Progress(NamedTuple):
    """How far an index's embedding is: `embedded` of `texts` before selection turns hybrid,
    then `later_embedded` of `later`, the names and description clauses that come after."""

    embedded: int
    texts: int
    later_embedded: int
    later: int


class _Stopped(Exception):
    """Filling was asked to stop (SemanticEngine.close, or a newer index took over)."""


class SemanticIndex:
    """The embeddings of one snapshot's tools (in CatalogIndex order), filled in the
    background in two stages: every text but the LATER_KINDS (then `ready`: `vectors` may be
    read), then those (then `complete`: `vectors` is replaced by one that holds them). Each
    `vectors` never changes, so a request that took one is answered from it alone: the same
    answer for a given catalog and stage."""

    tool_texts: list[list[tuple[int, str]]]

    def __init__(
        self,
        tools: Sequence[Tool],
        previous: SemanticIndex | None = None,
        positions: Positions | None = None,
    ) -> None:
        """`previous`: the index of an earlier generation; its unchanged tools (the same
        objects) keep their texts, and the fill reuses their vectors and spelling counts.
        `positions`: positions_in(previous.tools, tools) when the caller has it (the
        CatalogIndex derived from the index of `previous.tools`), else made here."""
        self.size = len(tools)
        self.tools = tuple(tools)
        if positions is None:
            positions = positions_in(previous.tools if previous is not None else (), tools)
        at, changed = positions.at, positions.changed
        self.went: list[str] = []  # the texts a write took out and put in (`came`)
        self.splice: Splice | None = None  # how `layout` came from `previous`'s
        if previous is None or not previous.tool_texts:
            per_tool = [tool_texts(tool) for tool in tools]
            self.layout = TextLayout.of(per_tool)  # every text, names and clauses too
        else:
            if positions.in_place:  # a copy of the list (C), the changed tools' put in
                per_tool = previous.tool_texts.copy()
                gone_at = positions.dropped
            else:  # C-level: 100,000 tools a write (a comprehension took 0.35 s of it).
                per_tool = list(map(previous.tool_texts.__getitem__, np.maximum(at, 0).tolist()))
                gone = np.ones(len(previous.tool_texts), dtype=bool)
                gone[at[at >= 0]] = False
                gone_at = np.flatnonzero(gone).tolist()
            went = [previous.tool_texts[k] for k in gone_at]
            for i in changed:
                per_tool[i] = tool_texts(tools[i])
            self.went = [text for texts in went for _kind, text in texts]
            self.layout, self.splice = TextLayout.spliced(previous.layout, at, per_tool)
        self.tool_texts = per_tool
        self.came = [text for i in changed for _kind, text in per_tool[i]]
        self.texts = self.layout.texts
        self.text_kinds: IntArray = self.layout.kinds
        self.text_owners: IntArray = self.layout.owners
        self.later_count = int(np.isin(self.text_kinds, LATER_KINDS).sum())
        self.vectors: TextVectors | None = None  # set before `ready`, replaced at `complete`
        self.calibration: Calibration | None = None  # set before `ready`
        self.speller: Speller | None = None  # set before `ready` (see spelling.py)
        self.chunks = LayeredCounts({})  # the texts' chunks (hosts.without_hosts)
        self.calibrated_on: frozenset[str] = frozenset()  # the texts it was computed on
        self.drift: int | None = None  # how many of `texts` differ from those (when counted)
        self.embedded = 0  # of the texts but the later ones, in so far: progress for people
        self.later_embedded = 0  # of the names and clauses
        self.ready = threading.Event()  # set once every text but the later ones is in
        self.complete = threading.Event()  # set once those are in too
        self.done = threading.Event()  # set once filling ended, complete or failed
        self.settled = threading.Event()  # set once ready or done: what an answer waits for
        self.stop = threading.Event()  # set when a newer index takes over (fill stops)
        self.error: str | None = None
        self._started = time.monotonic()

    @functools.cached_property
    def whole(self) -> TextLayout:
        """Every text but the names and clauses: what selection waits for. Made when first
        needed: an index derived from a complete one (a write after start-up) never needs it
        (~8 ms of a 6,608-tool terse catalog's ~42 ms derived index)."""
        if not self.later_count:
            return self.layout
        return self.layout.without(CLAUSE_KIND).without(NAME_KIND)

    @property
    def progress(self) -> Progress:
        whole = len(self.texts) - self.later_count
        return Progress(self.embedded, whole, self.later_embedded, self.later_count)

    def fill(
        self, prepare: Prepare, previous: SemanticIndex | None = None, stop: Stop = None
    ) -> None:
        """Both stages on this thread (fill_whole, then fill_later). Never raises."""
        self.fill_whole(prepare, previous, stop)
        self.fill_later(prepare, stop)

    def fill_whole(
        self, prepare: Prepare, previous: SemanticIndex | None = None, stop: Stop = None
    ) -> None:
        """Embed every text but the names and clauses (cached ones are free) with the encoder
        and cache `prepare` gives, calibrate, and set `ready`; with a `previous` (ready) index,
        only the texts it does not hold are looked up, and its calibration is kept when few
        texts differ from those it was computed on (see RECALIBRATE_SHARE). When `previous`
        holds its names and clauses too, so does this index at once (a write's few new ones
        are embedded here). Never raises; on failure `error` and `done` are set. When `stop`
        or `self.stop` is set, filling ends at its next step (after loading the encoder, after
        each chunk of texts) without `ready`."""
        counting: Future[tuple[Speller, Counter[str]]] | None = None
        phases = _Phases()
        try:
            self._check(stop)
            encoder, cache = prepare()
            phases.end("prepare")
            computed, fetched = cache.computed, cache.fetched
            # A complete previous index: all at once, as only a write's texts are new (read
            # first: its vectors hold the names and clauses once it is complete).
            full = previous is not None and previous.complete.is_set()
            held = previous.vectors if previous is not None and previous.ready.is_set() else None
            if previous is not None and held is not None and previous.speller is not None:
                self.speller = previous.speller.changed(self.went, self.came)
                self.chunks = changed_chunks(previous.chunks, self.went, self.came)
                target = self.layout if full else self.whole
                # Spliced: only the changed tools' texts are looked up, and their new rows
                # appended to the scan (TextVectors.appended).
                splice = self.splice if full and held.layout is previous.layout else None
                self.vectors = self._embedded(
                    target, held, encoder, cache, stop, "embedded", splice
                )
                kept = _kept_calibration(previous, self, held, splice)
                if kept is not None:
                    self.calibration, self.calibrated_on, self.drift = kept
                    self._ready(full)
                    return
            else:
                # An encoder of another make may not say which words it knows.
                known = getattr(encoder, "known_words", frozenset)
                counting = _counted_beside(self.texts, known)
                self._check(stop)
                self.vectors = self._embedded(self.whole, None, encoder, cache, stop, "embedded")
            phases.end("vectors")
            self._calibrate(encoder, cache, stop)
            phases.end("calibration")
            if counting is not None:
                self.speller, chunks = counting.result()
                self.chunks = LayeredCounts(chunks)
                phases.end("counting_wait")
            self._ready(self.vectors.layout is self.layout)
            log.info(
                "semantic retrieval ready",
                extra={
                    "tools": self.size,
                    "texts": len(self.vectors.layout.texts),
                    "later_to_come": len(self.texts) - len(self.vectors.layout.texts),
                    "embedded": cache.computed - computed,
                    "fetched": cache.fetched - fetched,
                    "encoder": encoder.name,
                    "seconds": round(time.monotonic() - self._started, 2),
                    "calibration": self.calibration.describe() if self.calibration else None,
                    "phases": phases.seconds,
                },
            )
            # The embedding and calibration runs' buffers, freed to malloc (the encoder has no
            # arena of its own): ~90 MiB kept mapped at 100,000 tools until the next trim.
            release_free_memory()
        except BaseException as exc:
            self._failed(exc)

    def fill_later(self, prepare: Prepare, stop: Stop = None) -> None:
        """Once `ready`: embed the names and description clauses and swap in the vectors that
        hold them (`complete`); then let the cache drop what no index uses. Sets `done`; never
        raises. Nothing to do for an index that failed or holds them already."""
        if not self.ready.is_set() or self.done.is_set():
            return
        try:
            encoder, cache = prepare()
            if not self.complete.is_set():
                assert self.vectors is not None
                computed = cache.computed
                vectors = self._embedded(
                    self.layout, self.vectors, encoder, cache, stop, "later_embedded"
                )
                self.vectors = vectors
                self.later_embedded = self.later_count
                self.complete.set()
                log.info(
                    "names and description clauses in",
                    extra={
                        "tools": self.size,
                        "later": self.later_count,
                        "embedded": cache.computed - computed,
                        "seconds": round(time.monotonic() - self._started, 2),
                    },
                )
            self._retain(cache)
            self.done.set()
            self.settled.set()
        except BaseException as exc:
            self._failed(exc)

    def _embedded(
        self,
        target: TextLayout,
        held: TextVectors | None,
        encoder: MiniLMEncoder,
        cache: EmbeddingCache,
        stop: Stop,
        counter: str,
        splice: Splice | None = None,
    ) -> TextVectors:
        """The vectors of `target`: `held`'s rows and the cache's (or the encoder's) for the
        texts `held` lacks; every text's from the cache without `held`. `counter` names the
        progress attribute told how many of target's texts (later_embedded: of the names
        and clauses) are in. `splice`: how `target` was spliced from `held`'s layout, whose
        vectors are then appended to rather than made again (TextVectors.appended)."""
        total = len(target.texts)
        if counter == "later_embedded":
            total = self.later_count
        # Each distinct text once (equal texts have one row): at 100,000 generated tools the
        # vectors of all 721,117 texts stacked were 1.1 GB beside the 500,405 rows kept.
        extension = None
        if held is not None and splice is not None:  # only the changed tools' texts can lack
            came = dict.fromkeys(map(target.texts.__getitem__, splice.fresh.tolist()))
            fresh = [text for text in came if text not in held.rows]
        elif held is not None:
            extension = held.extension(target)
            fresh = extension.missing
        else:
            fresh = TextVectors.distinct(target)
        offset = total - len(fresh) if held is not None else 0
        # Without `held`, distinct texts stand for their copies in the count shown.
        share = total / len(fresh) if held is None and fresh else 1.0

        def progress(count: int) -> None:
            shown = total if held is None and count == len(fresh) else int(count * share)
            setattr(self, counter, offset + shown)
            self._check(stop)

        if held is None:  # a part at a time, straight into the scan's file
            parts = cache.parts(encoder, fresh, progress)
            levels = levels_path(cache.path)
            return TextVectors.of_distinct(target, fresh, parts, encoder.hidden, levels)
        vectors = cache.embed(encoder, fresh, progress)
        if splice is not None:
            grown = held.appended(target, splice, fresh, vectors)
            if grown is not None:
                return grown
        return held.extended(target, fresh, vectors, extension)

    def _calibrate(self, encoder: MiniLMEncoder, cache: EmbeddingCache, stop: Stop) -> None:
        """The calibration of the texts but names and clauses (which take no part in the best
        cosine) against the generic requests; read from the file beside the cache's when it
        was computed from the same (calibration_file.py: a restart's)."""
        assert self.vectors is not None
        generic = neighbour_requests()
        negatives = cache.embed(encoder, list(generic), lambda _n: self._check(stop))
        layout = self.vectors.layout
        counted = (layout.kinds != NAME_KIND) & (layout.kinds != CLAUSE_KIND)
        kinds, owners = layout.kinds[counted], layout.owners[counted]
        texts = list(compress(layout.texts, counted.tolist()))
        key = calibration_key(encoder.name, generic, texts, kinds, owners)
        path = calibration_path(cache.path)
        self.calibration = read_calibration(path, key, negatives)
        if self.calibration is None:
            vectors = self.vectors.per_text(counted)
            self.calibration = calibrate(vectors, kinds, negatives, owners, len(generic_requests()))
            self.vectors.scan.release()  # every row was read: the mapped pages go back
            write_calibration(path, key, self.calibration)
        self.calibrated_on = frozenset(self.texts)
        self.drift = 0

    def _ready(self, complete: bool) -> None:
        self.embedded = len(self.texts) - self.later_count
        if complete:
            self.later_embedded = self.later_count
            self.complete.set()
        self.ready.set()
        self.settled.set()

    def _check(self, stop: Stop) -> None:
        if self.stop.is_set() or (stop is not None and stop.is_set()):
            raise _Stopped

    def _failed(self, exc: BaseException) -> None:
        """End filling on `exc`: a ready index keeps answering from what it has."""
        if isinstance(exc, _Stopped):
            self.error = "stopped: the service is shutting down or a newer index took over"
            log.info("semantic index filling stopped")
        elif isinstance(exc, Exception):  # a failed embedding must not take selection down
            self.error = str(exc)
            if self.ready.is_set():
                log.warning("names and clauses not embedded, answering without: %s", exc)
            else:
                log.warning("semantic index failed, selection stays lexical: %s", exc)
        self.done.set()
        self.settled.set()
        if not isinstance(exc, Exception):
            raise exc

    def _retain(self, cache: EmbeddingCache) -> None:
        """Let the cache drop what no index uses any more: this index's texts and the
        calibration's generic requests are what the next index starts from."""
        try:
            if cache.due() and self.vectors is not None:  # the list is not made per write
                cache.retain([*self.vectors.rows, *neighbour_requests()])
        except Exception as exc:  # housekeeping: this index is ready either way
            log.warning("could not prune the embedding cache: %r", exc)

    def tool_scores(self, query: Array) -> tuple[FloatArray, FloatArray]:
        """TextVectors.tool_scores of the current vectors (once `ready`)."""
        assert self.vectors is not None
        return self.vectors.tool_scores(query)

    def exact_scores(self, query: Array, tools: IntArray) -> tuple[FloatArray, FloatArray]:
        """TextVectors.exact_scores of the current vectors (once `ready`)."""
        assert self.vectors is not None
        return self.vectors.exact_scores(query, tools)


class SemanticView:
    """One request's semantic side: a ready index, the vectors it held when the request came
    (a request never mixes two stages) and the request's embedding."""

    def __init__(self, index: SemanticIndex, query: Array) -> None:
        assert index.vectors is not None
        self.index = index
        self.vectors = index.vectors
        self.query = query

    def scores(self) -> tuple[FloatArray, FloatArray]:
        return self.vectors.tool_scores(self.query)

    def approximate(self) -> Approximation:
        return self.vectors.approximate_scores(self.query)

    def exact(self, tools: IntArray) -> tuple[FloatArray, FloatArray]:
        return self.vectors.exact_scores(self.query, tools)

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


class _Phases:
    """Wall seconds per step of a fill, logged with "semantic retrieval ready" (bench/scale.py
    prints them: where a start's time went), and this thread's CPU seconds over all of them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._at = time.monotonic()
        self._cpu = time.thread_time()

    def end(self, step: str) -> None:
        now = time.monotonic()
        self.seconds[step] = round(now - self._at, 2)
        self.seconds["thread_cpu"] = round(time.thread_time() - self._cpu, 2)
        self._at = now


def _counted_beside(
    texts: list[str], known: Callable[[], Iterable[str]]
) -> Future[tuple[Speller, Counter[str]]]:
    """The speller and the chunks of `texts`, counted on a thread of their own: Python
    counting words while this one gathers the vectors, builds the scan and calibrates (numpy
    and ONNX Runtime let go of the GIL), so on two cores a start waits for the longer of the
    two instead of their sum (100,000 generated tools: ~7 s of counting)."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="toolcatalog-count")
    try:
        return pool.submit(lambda: (Speller(texts, known()), text_chunks(texts)))
    finally:
        pool.shutdown(wait=False)  # the count goes on; the thread ends with it


def _kept_calibration(
    previous: SemanticIndex | None,
    index: SemanticIndex,
    held: TextVectors,
    splice: Splice | None,
) -> tuple[Calibration, frozenset[str], int] | None:
    """`previous`'s calibration, its texts and how many of `index`'s texts differ from
    those, when under RECALIBRATE_SHARE of them (counted against the texts it was computed
    on, so many small changes add up to a recalibration). Spliced (`splice`; `held`,
    `previous`'s vectors): counted from `previous`'s count over the texts that came or went
    alone (a set of every text took 0.4 s a write at 100,000 generated tools)."""
    if previous is None or previous.calibration is None or not previous.calibrated_on:
        return None
    base = previous.calibrated_on
    if splice is not None and previous.drift is not None and index.vectors is not None:
        differing = previous.drift
        before, after = _held_counts(held), _held_counts(index.vectors)
        for text in {*index.went, *index.came}:
            was = before[held.rows[text]] > 0 if text in held.rows else False
            now = after[index.vectors.rows[text]] > 0 if text in index.vectors.rows else False
            if was != now:  # the text's term in the count flips
                differing += 1 if now != (text in base) else -1
    else:
        current = set(index.texts)
        differing = len(current - base) + len(base - current)
    if differing > RECALIBRATE_SHARE * max(len(base), 1):
        return None
    return previous.calibration, base, differing


def _held_counts(vectors: TextVectors) -> IntArray:
    """How many texts of `vectors`' layout each of its rows holds (0: a row no text holds)."""
    if vectors.inverse is None:
        return np.ones(vectors.scan.rows, dtype=np.int64)
    return np.bincount(vectors.inverse, minlength=vectors.scan.rows)
