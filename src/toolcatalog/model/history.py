"""A tool's history as readers see it: its stored versions and the audit trail of changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class VersionRecord:
    revision: int
    definition: dict[str, Any]
    actor: str
    action: str
    comment: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """A version without its definition (a history listing): `version` is the definition's
    semantic version."""

    revision: int
    version: str | None
    actor: str
    action: str
    comment: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    tool_name: str | None
    revision_before: int | None
    revision_after: int | None
    diff: list[dict[str, Any]]
    request_id: str | None
    client_address: str | None
