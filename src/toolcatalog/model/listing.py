"""What a listing or search asks for: filters that combine with AND, and the fields a search
may be restricted to. Shared by the doors (which parse it) and the catalog (which answers it
from memory)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ToolFilter:
    platform: str | None = None
    category: str | None = None
    status: str | None = None
    tags: tuple[str, ...] = ()
    capability: str | None = None
    enabled: bool | None = None
    q: str | None = None
    updated_since: datetime | None = None
    # Restrict `q` to these fields (SEARCH_FIELDS); empty: everything the index holds.
    search_fields: tuple[str, ...] = ()


# The fields a search may be restricted to. The seed's clients ask for `tool_name`.
SEARCH_FIELDS = frozenset(
    {"name", "tool_name", "description", "category", "platform", "tags", "capabilities",
     "examples"}
)  # fmt: skip
