"""The cyclic garbage collector around large builds (a catalog version, the selector's index).

A build allocates millions of small containers at 100,000 tools; while it runs, every
generation-0 overflow made the collector walk the growing heap, and once built, every full
collection on some request's path walked it all again (seconds each on a busy machine). The
builds create no reference cycles, so pausing the collector during one loses nothing, and
freezing what is alive after it (gc.freeze) takes it out of every later collection; frozen
objects are still freed by reference counting when a newer build replaces them. After a large
build, the C allocator's free pages go back to the system (release_free_memory)."""

from __future__ import annotations

import ctypes
import gc
import logging
import queue
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

import orjson
from pydantic import BaseModel

from toolcatalog.collector import collector_paused

# Objects alive when the heap is frozen that later die in a reference cycle (a request's task
# in flight during a build) are not reclaimed while frozen: once the heap has grown past
# FULL_COLLECT_GROWTH times its size after the last full collection, a build first unfreezes
# and collects everything (a pause like the one freezing avoids: 12.7 s at 100,000 tools on
# a busy machine). Not 2: while a whole read builds the next version beside the current one,
# both are alive, and that doubling is not growth. The heap's size is the allocator's count
# of small blocks (sys.getallocatedblocks: a walk of its arenas, ~3 ms), not the frozen set's
# (gc.get_freeze_count walks every frozen object: 12.6 million at 100,000 tools, ~1-2 s
# each time, three times per start).
FULL_COLLECT_GROWTH = 3.0
_frozen_after_full = [0]


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Around a build: collect cyclic garbage first, then move every object alive after the
    build out of the cyclic collector's reach (gc.freeze), with the collector paused in
    between. The collection before the build is cheap (the earlier builds are frozen) and
    keeps cyclic garbage from being frozen; see FULL_COLLECT_GROWTH for what dies in a cycle
    after being frozen."""
    # The first build only sets the baseline: comparing with 0 made the second build (the
    # selector's, right after the catalog version's at start) unfreeze and walk the whole
    # heap: 12.7 s at 100,000 tools.
    baseline = _frozen_after_full[0]
    full = baseline > 0 and sys.getallocatedblocks() > FULL_COLLECT_GROWTH * baseline
    if full:
        gc.unfreeze()
    gc.collect()
    with collector_paused():
        yield
        # Frozen before the collector runs again: the first allocation after it was enabled
        # collected the youngest generation, which then held every object of the build
        # (6 million: ~0.5 s of CPU, 1.3 s of wall at load 9; the 20,000-tool whole read
        # spent ~9% of its samples there). Frozen, the youngest generation is empty.
        gc.freeze()
    if full or baseline == 0:
        _frozen_after_full[0] = sys.getallocatedblocks()


# One set object per (model class, fields given) for every model the process holds (a
# handful: the classes of a tool times the few shapes of definition).
_shared_fields_sets: dict[tuple[type, frozenset[str]], set[str]] = {}
# Strings up to this long are shared between tools (names, tags, types of JSON Schemas, short
# use cases); longer ones are mostly one tool's own (descriptions), not worth a lookup.
_SHARED_STR_MAX = 32
_shared_floats: dict[float, float] = {}
# Distinct floats kept for sharing; past it the table starts again (a long-lived process that
# sees ever new estimates must not grow for ever).
_SHARED_FLOATS_MAX = 1 << 16


def share_fields_sets(model: BaseModel, *, from_json: bool = False) -> None:
    """Give `model` and the models inside it one shared `__pydantic_fields_set__` per class
    and set of fields, instead of a set each: a stored definition gives every field, so the
    sets are equal, and they were 43% of a held tool's memory (14 of 34 KB; 1.4 GB at
    100,000 tools). Only frozen models: nothing can add to a set they share (pydantic adds
    to it on attribute assignment, which a frozen model refuses), and nothing here reads it
    but `exclude_unset` dumps, which the catalog never asks for.

    Equal values of its fields become one object shared with every other tool's: short
    strings, floats, JSON values (an input's schema, a list of use cases) and whole models
    of plain values (a profile, a policy). Each decoded value was its own object: a
    generated tool held 'object', 'integer', its pattern names, its six equal policies and
    input schemas once per use (10,000 generated tools: 20.9 -> 12.1 KiB a held tool, for
    ~125 us of CPU a tool, bench/memory.py; strings up to 48 characters kept 1 KiB more:
    the interned table's places for names of one tool only). Values are replaced by equal
    ones of the same type, and nothing changes a held tool's values in place (frozen models;
    their JSON fields are only read), so nothing that reads them can tell.

    `from_json`: `model` was validated from decoded JSON (a stored definition), so its dict
    values hold JSON's types only: an equal one already held is found by its encoding
    (_shared_json), without a walk."""
    _share(model, from_json)


# Models handed to share_beside, and the one daemon thread that shares them.
_backlog: queue.Queue[BaseModel] = queue.Queue()
_sharer: list[threading.Thread] = []
_sharer_lock = threading.Lock()


def share_beside(model: BaseModel) -> None:
    """share_fields_sets(`model`) on a thread beside the caller's, soon: a write's plan (on
    the event loop when its batch is small) spent ~160 of its ~190 us of a starter tool's
    search lexemes on it, for memory alone. Safe beside readers of the model: its values are
    replaced by equal ones. `shared_beside` waits until what was handed over is shared."""
    _backlog.put(model)
    if not _sharer:
        with _sharer_lock:
            if not _sharer:
                thread = threading.Thread(target=_share_backlog, name="share-fields", daemon=True)
                thread.start()
                _sharer.append(thread)


def shared_beside() -> None:
    """Wait until every model handed to share_beside so far is shared (tests, benches)."""
    _backlog.join()


def _share_backlog() -> None:
    while True:
        model = _backlog.get()
        try:
            share_fields_sets(model)
        except Exception:  # memory only: the model stays as it is, unshared
            logging.getLogger(__name__).exception("could not share a model's values")
        finally:
            _backlog.task_done()


def _share(model: BaseModel, from_json: bool = False) -> BaseModel:
    """`model` with its values shared, or an equal model already held: one of plain values
    and no private state (a profile, a policy). `from_json`: as share_fields_sets'."""
    kind = type(model)
    if not _frozen_class(kind):
        return model
    fields = model.__pydantic_fields_set__
    key = (kind, frozenset(fields))
    shared = _shared_fields_sets.setdefault(key, fields)
    object.__setattr__(model, "__pydantic_fields_set__", shared)
    private = model.__pydantic_private__
    if private:
        object.__setattr__(model, "__pydantic_private__", _shared_private(kind, private))
    held = model.__dict__
    keys: list[object] | None = []
    holding = _holds.get
    for name, value in held.items():
        # By the value's class, looked up: isinstance against BaseModel (an ABC's check) was
        # ~0.35 us a value, most of this walk's cost (~180 values a generated tool); strings
        # and None, half of them, without a call.
        value_kind = type(value)
        if value_kind is str:
            if len(value) <= _SHARED_STR_MAX:
                held[name] = _intern(value)
            if keys is not None:
                keys.append(value)
            continue
        if value is None:
            if keys is not None:
                keys.append(_NONE_KEY)
            continue
        holds = holding(value_kind) or _holding(value_kind)
        if holds is _HOLDS_MODEL:
            held[name] = _share(value, from_json)
            keys = None
        elif holds is _HOLDS_ITEMS and value and _holding(type(value[0])) is _HOLDS_MODEL:
            for item in value:
                _share(item, from_json)  # kept: a list of models is the parent's own
            keys = None
        else:
            if from_json and value_kind is dict:
                held[name], plain = _shared_json(value)
            else:
                held[name], plain = _shared_value(value)
            if keys is not None:
                keys.append(plain if plain is not _NOT_PLAIN else None)
                if plain is _NOT_PLAIN:
                    keys = None
    if keys is None or model.__pydantic_private__ or model.__pydantic_extra__:
        return model
    return _shared_object(model, (kind, *keys))  # type: ignore[no-any-return]


# What a class's instances are to _share: a model, a list or tuple (of models, if its first
# item is one), or anything else; and whether a model class is frozen. A handful of classes.
_HOLDS_MODEL, _HOLDS_ITEMS, _HOLDS_VALUE = "model", "items", "value"
_holds: dict[type, str] = {}
_frozen_classes: dict[type, bool] = {}


def _holding(kind: type) -> str:
    found = _holds.get(kind)
    if found is None:
        if issubclass(kind, BaseModel):
            found = _HOLDS_MODEL
        else:
            found = _HOLDS_ITEMS if issubclass(kind, list | tuple) else _HOLDS_VALUE
        _holds[kind] = found
    return found


def _frozen_class(kind: type[BaseModel]) -> bool:
    found = _frozen_classes.get(kind)
    if found is None:
        found = _frozen_classes[kind] = bool(kind.model_config.get("frozen"))
    return found


def _shared_private(kind: type, private: dict[str, Any]) -> dict[str, Any]:
    """An equal private-state dict already held by a model of the same class, when its
    values are plain: a pattern's `_effect_declared` was a dict of its own (184 bytes; six
    patterns a generated tool, ~105 MiB at 100,000 tools). Set once by validation, before
    the model is shared, and never after on a held (frozen) model."""
    key: list[object] = ["private", kind]
    for name, value in private.items():
        if type(value) not in (bool, int, str) and value is not None:
            return private
        key += (name, type(value), value)
    return _shared_object(private, tuple(key))  # type: ignore[no-any-return]


# Equal plain values and models held once: key -> the object. Bounded like the floats
# (a unique value only costs a place here until it starts again).
_shared_plain: dict[object, Any] = {}
_SHARED_PLAIN_MAX = 1 << 13
_NOT_PLAIN = object()
# The keys of the commonest values, made once (a tuple each time was ~10% of the walk).
_NONE_KEY = (type(None), None)
_TRUE_KEY, _FALSE_KEY = (bool, True), (bool, False)
_intern = sys.intern


def _shared_object(value: Any, key: object) -> Any:
    if len(_shared_plain) >= _SHARED_PLAIN_MAX:
        _shared_plain.clear()
    return _shared_plain.setdefault(key, value)


# Dicts of JSON values shared so far by their encoding (_shared_json) -> (the dict held, its
# _shared_value key). Bounded like _shared_plain.
_shared_encoded: dict[bytes, tuple[object, object]] = {}
# Encodings that fail (TypeError) for what decoded JSON never holds: subclasses of str, int,
# dict or list (enums of strings), datetimes, dataclasses, integers past 64 bits.
_ENCODE_JSON_ONLY = (
    orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)  # fmt: skip


def _shared_json(value: dict[str, object]) -> tuple[object, object]:
    """_shared_value(`value`) for a dict of decoded JSON (str, int, float, bool, None, list,
    dict): an equal one already held is found by its encoding, which tells JSON's types
    apart (1, 1.0 and true; 0.0 and -0.0) and keeps the keys' order, with no walk of its
    items (the walk of an input's schema was about half of sharing a generated tool's
    values). Not for other values: a tuple or NaN encodes as a list or null would."""
    try:
        encoded = orjson.dumps(value, option=_ENCODE_JSON_ONLY)
    except TypeError:
        return _shared_value(value)
    found = _shared_encoded.get(encoded)
    if found is None:
        found = _shared_value(value)
        if found[1] is not _NOT_PLAIN:
            if len(_shared_encoded) >= _SHARED_PLAIN_MAX:
                _shared_encoded.clear()
            _shared_encoded[encoded] = found
    return found


def _shared_value(value: object) -> tuple[object, object]:
    """`value` with its short strings and floats the shared objects, and a list or dict an
    equal one already held (its items shared first, in place: the model's own, made by
    validation), a tuple an equal one; with a key equal only for values equal in type too
    (1, 1.0 and True differ; so do 0.0 and -0.0), or _NOT_PLAIN for anything but JSON-like
    values, tuples of them and enums."""
    kind = type(value)
    key: object
    if kind is str:
        text: str = value  # type: ignore[assignment]
        return (_intern(text) if len(text) <= _SHARED_STR_MAX else text), text
    if value is None:
        return None, _NONE_KEY
    if kind is bool:
        return value, _TRUE_KEY if value else _FALSE_KEY
    if kind is float:
        number: float = value  # type: ignore[assignment]
        # 0.0 and -0.0 are equal but not the same value, and NaN equals nothing: both stay,
        # keyed by their bits; any other float is equal only to the same value.
        if not number or number != number:
            return number, (kind, number.hex())
        if len(_shared_floats) >= _SHARED_FLOATS_MAX:
            _shared_floats.clear()
        return _shared_floats.setdefault(number, number), (kind, number)
    if kind is list:
        items: list[object] = value  # type: ignore[assignment]
        keys: list[object] = [kind]
        plain = True
        for i, item in enumerate(items):
            items[i], key = _shared_value(item)
            plain = plain and key is not _NOT_PLAIN
            keys.append(key)
        if not plain:
            return value, _NOT_PLAIN
        key = tuple(keys)
    elif kind is tuple:
        # A pattern's estimates at its inputs' defaults (two numbers, ~100 bytes a pattern
        # as a tuple of its own): equal ones are one tuple.
        parts = [_shared_value(item) for item in value]  # type: ignore[attr-defined]
        if any(key is _NOT_PLAIN for _, key in parts):
            return value, _NOT_PLAIN
        key = (kind, *(key for _, key in parts))
        value = tuple(item for item, _ in parts)
    elif kind is dict:
        mapping: dict[object, object] = value  # type: ignore[assignment]
        pairs: list[object] = [kind]
        plain = True
        for k, item in mapping.items():
            mapping[k], key = _shared_value(item)
            plain = plain and key is not _NOT_PLAIN
            pairs.append((k, key))
        if not plain:
            return value, _NOT_PLAIN
        key = tuple(pairs)
    elif kind is int or isinstance(value, Enum):
        return value, (kind, value)
    else:
        return value, _NOT_PLAIN
    return _shared_object(value, key), key


def release_free_memory() -> bool:
    """Hand the C allocator's free pages back to the system (glibc's `malloc_trim`); False
    where there is none (another libc, another system). A whole read decodes every row's
    document and frees it once validated and encoded; glibc keeps those pages mapped, so a
    worker's RSS after a first start stayed ~1.1 GiB above the same catalog loaded from the
    saved file (100,000 tools: 5,696 against 4,623 MiB). Blocking (a walk of the heap): call
    it in a thread; ctypes releases the GIL meanwhile."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return False
    trim(0)
    return True
