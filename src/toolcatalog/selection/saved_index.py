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

import pickle
from collections.abc import Callable, Mapping, Sequence

from toolcatalog.catalog.saved import code_stamp
from toolcatalog.model.tool import Tool
from toolcatalog.selection.candidates import CandidateEnumerator
from toolcatalog.selection.retrieval import CatalogIndex

_CODE = ("selection", "model")


class SavedIndex:
    """The Attachment of the selector's index: `current` gives the selector's current
    enumerator (None before the first build)."""

    def __init__(self, current: Callable[[], CandidateEnumerator | None]) -> None:
        self.current = current
        self.key = code_stamp(_CODE)

    def dump(self, tools: Sequence[Tool]) -> bytes | None:
        """The current index's state when it was built from exactly `tools`, else None.
        One pickle (the documents share their term tuples with the interned texts):
        ~0.3 s of CPU per 10,000 generated tools, holding the GIL."""
        enumerator = self.current()
        if enumerator is None:
            return None
        index = enumerator.index
        held = {id(t) for t in index.tools}
        if len(index.tools) != len(tools) or any(id(t) not in held for t in tools):
            return None  # built from another version (a write came since)
        state = (index.saved_state(), enumerator.saved_state())
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, data: bytes, tools: Mapping[str, Tool]) -> CandidateEnumerator:
        index_state, enumerator_state = pickle.loads(data)  # our own file, checked (saved.py)
        index = CatalogIndex.restored(index_state, tools)
        return CandidateEnumerator.restored(index, enumerator_state)
