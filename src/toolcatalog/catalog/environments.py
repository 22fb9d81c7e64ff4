"""Environment policy writes inside the caller's transaction: one environment stored by an
editor, or the folder's environments stored by an import; each write audited (action
`environment`, the environment's path in the diff)."""

from __future__ import annotations

from typing import Any, Protocol

from toolcatalog.model.environment import EnvironmentPolicies, EnvironmentRules
from toolcatalog.store import audit as audit_store
from toolcatalog.store import environments as environment_store
from toolcatalog.store.audit import AuditWrite


class Actor(Protocol):
    """Who writes (catalog.writes.Actor), for the audit log."""

    @property
    def name(self) -> str: ...
    @property
    def request_id(self) -> str | None: ...
    @property
    def client_address(self) -> str | None: ...


def _entry(actor: Actor, name: str, rules: EnvironmentRules | None, before: int | None,
           after: int | None) -> AuditWrite:  # fmt: skip
    to = rules.model_dump(mode="json") if rules is not None else None
    diff = [{"op": "change", "path": f"environments.{name}", "to": to}]
    return AuditWrite(
        actor.name, "environment", None, before, after, diff,
        actor.request_id, actor.client_address,
    )  # fmt: skip


async def store_environment(conn: Any, name: str, rules: EnvironmentRules, actor: Actor) -> int:
    """Store `rules` for `name` and audit it; returns the new revision."""
    before = await environment_store.fetch_environment_revision(conn, name)
    revision = await environment_store.upsert_environment(conn, name, rules)
    await audit_store.insert_audit(conn, [_entry(actor, name, rules, before or None, revision)])
    return revision


async def import_environments(conn: Any, actor: Actor, policies: EnvironmentPolicies) -> list[str]:
    """Make the stored environments equal to `policies`, auditing each one written or
    removed; returns their names."""
    names = await environment_store.replace_environments(conn, policies)
    entries = [_entry(actor, n, policies.environments.get(n), None, None) for n in names]
    if entries:
        await audit_store.insert_audit(conn, entries)
    return names
