"""Interned components keep their ids when merged into the sorted arrays, copied and pickled."""

from __future__ import annotations

import pickle
import random

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


def test_arrays_grow_into_their_room_and_views_handed_out_keep_their_values() -> None:
    """Each `arrays` after a few new components writes them into the room past the arrays'
    ends: the result equals arrays counted from nothing, and the views an earlier call
    returned (a previous index's) keep their values, as does a copy that grows on its own."""
    rng = random.Random(3)
    words = [f"w{k}" for k in range(50)]
    parts = Interned()
    handed = []
    texts: list[tuple[str, ...]] = []
    for step in range(60):
        batch = [tuple(rng.choices(words, k=rng.randint(0, 9))) for _ in range(rng.randint(1, 40))]
        texts += batch
        parts.ids(batch)
        arrays = parts.arrays()
        handed.append((arrays, [a.tobytes() for a in arrays]))
        if step == 30:
            copy = parts.copy()
            copy.ids([("only", "in", "the", "copy")])
            grown = copy.arrays()
    fresh = Interned()
    fresh.ids(texts)
    assert [a.tobytes() for a in parts.arrays()] == [a.tobytes() for a in fresh.arrays()]
    buffers = {id(held[3] if held[3].base is None else held[3].base) for held, _ in handed}
    assert len(buffers) < len(handed) // 4  # most grew into the room of the one before
    for held, values in handed:
        assert [a.tobytes() for a in held] == values
    assert grown[3][-4:].tolist() == [copy.vocab[w] for w in ("only", "in", "the", "copy")]
