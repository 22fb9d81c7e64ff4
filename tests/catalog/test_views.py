"""A cached tool's body (catalog/views.py): kept compressed, served as it was encoded."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from builders import make_tool
from toolcatalog.catalog import views
from toolcatalog.catalog.views import CachedTool, pack_body

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def _cached(encoded: bytes) -> CachedTool:
    return CachedTool(make_tool(), pack_body(encoded), '"e"', 1, NOW, NOW)


def test_a_body_is_kept_smaller_and_read_back_byte_for_byte() -> None:
    encoded = orjson.dumps(make_tool().document())
    cached = _cached(encoded)
    assert len(cached.packed) < len(encoded)
    assert cached.body == encoded
    assert cached.body == encoded  # the second read, from the recent bodies


def test_recent_bodies_stay_bounded_in_number_and_size() -> None:
    large = _cached(b'{"d":"' + b"x" * (views.RECENT_BODY_MAX + 1) + b'"}')
    assert large.body.startswith(b'{"d":"x')
    assert large.packed not in views._recent_bodies  # too large to keep
    many = [_cached(orjson.dumps({"n": i})) for i in range(views.RECENT_BODIES + 10)]
    for i, cached in enumerate(many):
        assert orjson.loads(cached.body) == {"n": i}
        assert len(views._recent_bodies) <= views.RECENT_BODIES
