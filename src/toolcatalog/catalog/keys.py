"""API keys: roles, creation (the secret is shown once), revocation and authentication.

A key is `tck_` plus 43 URL-safe random characters (256 bits). Only its SHA-256 hash is
stored; the first 12 characters are kept as a prefix so people can tell keys apart and so
that authentication finds the candidate row without comparing secrets in SQL. The hashes are
compared in constant time. Keys are never logged.

A verified key is remembered for AUTH_CACHE_TTL_S, which saves a database round trip per
request with a key (a cached GET of a tool through the ASGI app, local database: 660 us with
the lookup, 565 us without). A revocation sends a change notice (`keys_changed`) in its own
transaction, and every replica that hears it forgets the keys it verified
(`forget_verified`), so a revoked key stops working everywhere as soon as the notice arrives
(milliseconds: bench/propagation.py). The TTL only bounds what a replica whose listener was
away could miss, and it forgets everything when the listener reconnects.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from toolcatalog.catalog.changes import ChangeNotice, notify_change
from toolcatalog.catalog.writes import Actor
from toolcatalog.errors import Conflict, NotFound, Unauthorized
from toolcatalog.store import audit as audit_store
from toolcatalog.store import keys as key_store
from toolcatalog.store.audit import AuditWrite
from toolcatalog.store.database import Database
from toolcatalog.store.keys import ApiKeyRecord

KEY_SCHEME = "tck_"
PREFIX_LENGTH = 12
_MAX_KEY_LENGTH = 200
_TOUCH_EVERY = timedelta(minutes=1)
AUTH_CACHE_TTL_S = 5.0
_AUTH_CACHE_MAX = 1024
INITIAL_ADMIN_NAME = "admin"
_SYSTEM = Actor()


class Role(StrEnum):
    """reader < editor < admin: each role may do everything the lower ones may. reporter
    stands beside them, below editor: it may post telemetry (as editors and admins may) and
    nothing else, so an agent's key can report outcomes without reading or changing the
    catalog (with TOOLCATALOG_AUTH=optional reads are open to every caller anyway)."""

    reporter = "reporter"
    reader = "reader"
    editor = "editor"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        if needed is Role.reporter:
            return self is Role.reporter or self.rank >= _RANKS[Role.editor]
        return self is not Role.reporter and self.rank >= needed.rank


_RANKS = {Role.reporter: 0, Role.reader: 1, Role.editor: 2, Role.admin: 3}


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as people see it: never the secret, never the hash."""

    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown to the creator once; only its hash is stored


def new_secret() -> str:
    return KEY_SCHEME + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _public(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(
        name=record.name,
        role=Role(record.role),
        prefix=record.key_prefix,
        created_at=record.created_at,
        last_used_at=record.last_used_at,
        revoked_at=record.revoked_at,
    )


def _audit(actor: Actor, action: str, key: ApiKeyRecord) -> AuditWrite:
    op = "add" if action == "key_create" else "remove"
    value = {"name": key.name, "role": key.role, "prefix": key.key_prefix}
    return AuditWrite(
        actor=actor.name,
        action=action,
        tool_name=None,
        revision_before=None,
        revision_after=None,
        diff=[{"op": op, "path": f"api_keys[{key.name}]", "to" if op == "add" else "from": value}],
        request_id=actor.request_id,
        client_address=actor.client_address,
    )


class ApiKeyService:
    """Creates, lists, revokes and checks API keys. Each write is one transaction with its
    audit entry (`key_create`, `key_revoke`)."""

    def __init__(self, db: Database, *, instance_id: str = "local") -> None:
        self.db = db
        self.instance_id = instance_id
        self._verified: dict[bytes, tuple[ApiKey, float]] = {}

    def forget_verified(self) -> None:
        """Forget every verified key (a key changed somewhere): the next request with a key
        checks it against the database again."""
        self._verified.clear()

    async def create(self, name: str, role: Role, *, actor: Actor = _SYSTEM) -> CreatedKey:
        """A new key; raises Conflict if the name is taken (revoked keys keep their name)
        and InvalidDefinition for a malformed name."""
        created = await self._insert(name, role, actor, only_if_none=False)
        assert created is not None
        return created

    async def create_initial_admin(
        self, *, actor: Actor = _SYSTEM, secret: str | None = None
    ) -> CreatedKey | None:
        """An admin key (`secret` when given, else a new one) if the table has never held a
        key, else None. Safe to race: a second replica starting at the same moment loses on
        the unique name and gets None."""
        try:
            return await self._insert(
                INITIAL_ADMIN_NAME, Role.admin, actor, only_if_none=True, secret=secret
            )
        except Conflict:
            return None

    async def _insert(
        self, name: str, role: Role, actor: Actor, *, only_if_none: bool, secret: str | None = None
    ) -> CreatedKey | None:
        secret = secret or new_secret()
        async with self.db.transaction("create_api_key") as conn:
            record = await key_store.insert_key(
                conn,
                name,
                role.value,
                hash_secret(secret),
                secret[:PREFIX_LENGTH],
                only_if_none=only_if_none,
            )
            if record is None:
                return None
            await audit_store.insert_audit(conn, [_audit(actor, "key_create", record)])
        return CreatedKey(_public(record), secret)

    async def list_keys(self) -> list[ApiKey]:
        async with self.db.connection("fetch_api_keys") as conn:
            return [_public(r) for r in await key_store.fetch_keys(conn)]

    async def revoke(self, name: str, *, actor: Actor = _SYSTEM) -> ApiKey:
        """Revoke the active key `name`; raises NotFound. It stops working here at once and
        on every other replica when they hear the change notice sent with the commit."""
        async with self.db.transaction("revoke_api_key") as conn:
            record = await key_store.revoke_key(conn, name)
            if record is None:
                existing = await key_store.fetch_key(conn, name)
                state = "is already revoked" if existing else "does not exist"
                raise NotFound(f"the API key {name!r} {state}")
            await audit_store.insert_audit(conn, [_audit(actor, "key_revoke", record)])
            await notify_change(conn, ChangeNotice(self.instance_id, -1, keys_changed=True))
        self.forget_verified()
        return _public(record)

    async def authenticate(self, secret: str) -> ApiKey:
        """The active key whose secret this is; raises Unauthorized otherwise."""
        if not secret.startswith(KEY_SCHEME) or len(secret) > _MAX_KEY_LENGTH:
            raise Unauthorized("the API key is not valid")
        digest = hash_secret(secret)
        remembered = self._verified.get(digest)
        if remembered is not None and remembered[1] > time.monotonic():
            return remembered[0]
        async with self.db.connection("authenticate") as conn:
            candidates = await key_store.fetch_active_keys_by_prefix(conn, secret[:PREFIX_LENGTH])
            match = None
            for record in candidates:
                if hmac.compare_digest(record.key_hash, digest):
                    match = record
            if match is None:
                raise Unauthorized("the API key is not valid or has been revoked")
            last = match.last_used_at
            if last is None or datetime.now(UTC) - last > _TOUCH_EVERY:
                await key_store.touch_last_used(conn, match.id)
        key = _public(match)
        if len(self._verified) >= _AUTH_CACHE_MAX:
            self._verified.clear()
        self._verified[digest] = (key, time.monotonic() + AUTH_CACHE_TTL_S)
        return key


async def ensure_initial_admin_key(keys: ApiKeyService, secret: str | None = None) -> str | None:
    """On first start (no key was ever created) create the admin key (the operator's
    `secret` when given) and return its secret, for `serve` to hand over once; None
    otherwise."""
    created = await keys.create_initial_admin(actor=Actor("toolcatalog-serve"), secret=secret)
    return created.secret if created else None
