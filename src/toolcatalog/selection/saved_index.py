"""The selector's index saved with the catalog version (catalog/saved.py's Attachment), so that
a restart derives its first index from the saved one, tokenising and counting only the texts
of the tools changed since, instead of building it from every tool's texts.

The state is each tool's documents, the BM25F index with its interned texts and the
enumerator's per-pattern flags (CatalogIndex.saved_state, CandidateEnumerator.saved_state),
with the tools referred to by name and resolved to the loaded version's own objects; what
is derived from the tools is made again on load. Saved only when the selector's current index
was built from exactly the tools being saved (the same objects), so a loaded state always
describes the tools it is loaded with. The key is the digest of the selection package (its
code and data files) and of the model: another selection code, and the state is built afresh.
A tool changed since the save is a different object in the new version, so the derived build
treats it as changed; the vocabulary and environment policies are compared by value
(CatalogIndex.adopt). The result is the index a build from nothing makes
(tests/selection/test_saved_index.py).
"""

from __future__ import annotations

import io
import pickle
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from toolcatalog.catalog.saved import code_stamp
from toolcatalog.model.tool import Tool
from toolcatalog.selection.candidates import CandidateEnumerator
from toolcatalog.selection.retrieval import CatalogIndex

_CODE = ("selection", "model")
# Items (tools' documents, interned texts) pickled per call, and the pause after each call
# that lets the serving loop take the GIL (~10 ms of pickling a call).
_CHUNK = 500
_PAUSE_S = 0.001
# How long a save waits for the selector's first index (a start saves its catalog version
# beside the index build; at 100,000 tools the entries can be written before the index is
# built, ~20 s of CPU, and the version was then saved without it, so the next restart built
# the index from nothing: 20 s instead of ~1 s). Checked every POLL_S.
WAIT_S = 600.0
POLL_S = 0.2


class SavedIndex:
    """The Attachment of the selector's index: `current` gives the selector's current
    enumerator (None before the first build)."""

    def __init__(self, current: Callable[[], CandidateEnumerator | None]) -> None:
        self.current = current
        self.key = code_stamp(_CODE)

    def dump(self, tools: Sequence[Tool], stopping: threading.Event) -> bytes | None:
        """The current index's state when it was built from exactly `tools`, else None (or
        when `stopping` is set meanwhile). One pickle stream, written a few hundred tools at
        a time with a pause between (the pickler's memo spans the whole stream, so the
        documents keep sharing their term tuples with the interned texts): ~1.6 s of CPU per
        20,000 generated tools, which in one call held the GIL from the serving loop."""
        enumerator = self._first_index(stopping)
        if enumerator is None:
            return None
        index = enumerator.index
        held = {id(t) for t in index.tools}
        if len(index.tools) != len(tools) or any(id(t) not in held for t in tools):
            return None  # built from another version (a write came since)
        state, lists = index.saved_state()
        out = io.BytesIO()
        pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dump((state, enumerator.saved_state(), {k: len(v) for k, v in lists.items()}))
        for values in lists.values():
            for start in range(0, len(values), _CHUNK):
                if stopping.is_set():
                    return None
                pickler.dump(values[start : start + _CHUNK])
                time.sleep(_PAUSE_S)
        return out.getvalue()

    def _first_index(self, stopping: threading.Event) -> CandidateEnumerator | None:
        """The current enumerator; before the selector's first build, the one it builds
        (waited for up to WAIT_S, or until `stopping`). Only the first is waited for: a
        later index that is not of the saved tools is of a write that came since."""
        deadline = time.monotonic() + WAIT_S
        enumerator = self.current()
        while enumerator is None:
            if stopping.wait(POLL_S) or time.monotonic() > deadline:
                return None
            enumerator = self.current()
        return enumerator

    def load(self, data: bytes, tools: Mapping[str, Tool]) -> CandidateEnumerator:
        unpickler = pickle.Unpickler(io.BytesIO(data))  # our own file, checked (saved.py)
        state, enumerator_state, sizes = unpickler.load()
        lists: dict[str, list[Any]] = {}
        for name, size in sizes.items():
            values = lists[name] = []
            while len(values) < size:
                values.extend(unpickler.load())
        index = CatalogIndex.restored(state, lists, tools)
        return CandidateEnumerator.restored(index, enumerator_state)
