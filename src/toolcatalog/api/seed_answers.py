"""Encoded answers of the seed's read routes (api/routes/seed_reads.py), kept so that a
repeated read is a dictionary lookup, and where its mounts are (api/routes/seed.py)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from toolcatalog.api.seed_shapes import seed_tool
from toolcatalog.catalog.views import CachedTool
from toolcatalog.model.snapshot import CatalogSnapshot

SEED_PREFIX = "/opsconductor/api/v1/tools"
SHARED_PREFIX = "/api/v1/tools"


class SeedAnswers:
    """Encoded answers, valid while the catalog snapshot they were cut from is current (every
    write replaces the snapshot, and the tool cache with it), plus each tool's encoded seed
    shape while its cache entry is the same object. Bounded: cleared when full."""

    MAX = 512

    def __init__(self) -> None:
        self.snapshot: CatalogSnapshot | None = None
        self.pages: dict[tuple[Any, ...], bytes] = {}
        # The same pages by the raw query string of a request the route validated, for the
        # middleware's fast path (api/middleware.py), which answers without FastAPI.
        self.raw: dict[bytes, bytes] = {}
        self.tools: dict[str, tuple[CachedTool, bytes]] = {}

    @staticmethod
    def of(request: Request) -> SeedAnswers:
        return SeedAnswers.of_state(request.app.state)

    @staticmethod
    def of_state(state: Any) -> SeedAnswers:
        answers: SeedAnswers | None = getattr(state, "seed_answers", None)
        if answers is None:
            answers = state.seed_answers = SeedAnswers()
        return answers

    def page(self, snapshot: CatalogSnapshot, key: tuple[Any, ...]) -> bytes | None:
        if snapshot is not self.snapshot:
            self.snapshot, self.pages, self.raw = snapshot, {}, {}
        return self.pages.get(key)

    def keep_page(self, key: tuple[Any, ...], body: bytes, raw_query: bytes) -> bytes:
        if len(self.pages) >= self.MAX or len(self.raw) >= self.MAX:
            self.pages.clear()
            self.raw.clear()
        self.pages[key] = body
        self.raw[raw_query] = body
        return body

    def fresh_page(self, snapshot: CatalogSnapshot | None, raw_query: bytes) -> bytes | None:
        """The list answered for exactly this query string, if cut from `snapshot`."""
        if snapshot is None or snapshot is not self.snapshot:
            return None
        return self.raw.get(raw_query)

    def fresh_tool(self, cached: CachedTool | None) -> bytes | None:
        """The seed bytes of this very cache entry, if made already."""
        known = self.tools.get(cached.tool.name) if cached is not None else None
        return known[1] if known is not None and known[0] is cached else None

    def tool(self, cached: CachedTool) -> bytes:
        name = cached.tool.name
        known = self.tools.get(name)
        if known is not None and known[0] is cached:
            return known[1]
        if len(self.tools) >= self.MAX:
            self.tools.clear()
        body = orjson.dumps(seed_tool(cached))
        self.tools[name] = (cached, body)
        return body
