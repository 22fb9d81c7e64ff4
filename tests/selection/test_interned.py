"""Interned components keep their ids when merged into the sorted arrays, copied and pickled."""

from __future__ import annotations

import pickle

from toolcatalog.selection.interned import _RECENT, Interned


def test_interned_components_keep_their_ids_when_merged_copied_and_pickled() -> None:
    parts = Interned()
    texts = [tuple(f"w{i} w{i % 7}".split()) for i in range(3 * _RECENT)]
    first = parts.ids(texts[: _RECENT // 2])
    parts.arrays()  # under the threshold: they stay in the dict
    second = parts.ids(texts)  # the first ones again, found; the rest added
    assert second[: len(first)] == first
    assert second == list(range(len(texts)))
    parts.arrays()  # merged into the sorted arrays
    assert not parts._recent
    assert len(parts._ids) == len(texts)
    extra = (("late", "text"),)
    assert parts.ids([texts[5], *extra, texts[-1], extra[0]]) == [
        5,
        len(texts),
        len(texts) - 1,
        len(texts),
    ]
    copy = parts.copy()
    loaded: Interned = pickle.loads(pickle.dumps(parts))
    for held, keys in ((copy, [*texts, *extra]), (loaded, loaded.keep)):
        assert held.ids(keys) == list(range(len(texts) + 1))
        assert len(held.keep) == len(texts) + 1  # nothing added again
