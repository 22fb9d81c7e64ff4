"""An immutable view of the whole catalog at one generation, handed to the selector."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from toolcatalog.model.environment import EnvironmentPolicies
from toolcatalog.model.tool import Tool
from toolcatalog.model.vocabulary import Vocabulary


@dataclass(frozen=True, slots=True)
class CatalogSnapshot:
    """Every tool (all statuses; consumers filter), the vocabulary if one was imported, the
    environment policies if the catalog defines any, and the catalog generation it was read
    at (bumped by every write)."""

    tools: tuple[Tool, ...]
    generation: int
    loaded_at: datetime
    vocabulary: Vocabulary | None = None
    source: str = "database"
    environments: EnvironmentPolicies | None = None  # None: the default environment rules
    by_name: dict[str, Tool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {t.name: t for t in self.tools})
