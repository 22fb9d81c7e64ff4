"""Translate asyncpg and socket errors into the CatalogError tree, by constraint name."""

from __future__ import annotations

import asyncpg

from toolcatalog.errors import (
    Busy,
    CatalogError,
    Conflict,
    InvalidDefinition,
    Problem,
    StoreUnavailable,
)

# Constraint name -> (JSON path, message) for violations a person can fix.
_CHECKS: dict[str, tuple[str, str]] = {
    "tools_name_format_check": ("name", "must match ^[a-z][a-z0-9_]{1,63}$"),
    "tools_name_reserved_check": ("name", "is reserved (an API path segment)"),
    "tools_version_format_check": ("version", "must be a semantic version such as 1.2.3"),
    "tools_platform_check": ("platform", "is not a known platform"),
    "tools_status_check": ("status", "must be active, experimental, deprecated or disabled"),
    "tools_category_format_check": ("category", "must be lower snake_case"),
    "tools_description_check": ("description", "must be 1 to 10000 characters"),
    "tool_capabilities_name_format_check": ("capabilities[].name", "must be lower snake_case"),
    "tool_patterns_name_format_check": ("patterns[].name", "must be lower snake_case"),
    "tool_patterns_time_estimate_check": ("profile.time_estimate_ms", "must be >= 0"),
    "tool_patterns_cost_estimate_check": ("profile.cost_estimate", "must be >= 0"),
    "tool_patterns_complexity_check": ("profile.complexity", "must be between 0 and 1"),
    "tool_patterns_accuracy_check": ("profile.accuracy", "must be between 0 and 1"),
    "tool_patterns_completeness_check": ("profile.completeness", "must be between 0 and 1"),
    "tool_patterns_max_cost_check": ("policy.max_cost", "must be >= 0"),
    "tool_api_keys_role_check": ("role", "must be reader, editor or admin"),
    "tool_api_keys_name_format_check": ("name", "must be letters, digits, '_', '.' or '-'"),
}
_UNIQUE: dict[str, str] = {
    "tools_name_key": "a tool with this name already exists",
    "tool_capabilities_tool_name_key": "capability names must be unique within a tool",
    "tool_patterns_capability_name_key": "pattern names must be unique within a capability",
    "tool_api_keys_name_key": "an API key with this name already exists",
    "tool_ab_tests_name_key": "an experiment with this name already exists",
}

_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.ConnectionFailureError,
    asyncpg.InterfaceError,
    # Client-side protocol states seen at the moment the server stops answering (e.g. "cannot
    # process message ... in this state"): the connection is unusable, the database away.
    asyncpg.InternalClientError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, _UNAVAILABLE)


def translate(exc: BaseException) -> CatalogError | None:
    """The CatalogError for a database-side failure, or None if `exc` did not come from it."""
    if isinstance(exc, asyncpg.CheckViolationError | asyncpg.NotNullViolationError):
        name = getattr(exc, "constraint_name", None) or ""
        path, message = _CHECKS.get(name, ("", f"violates {name or 'a constraint'}"))
        return InvalidDefinition(
            f"the database refused the value: {path or name} {message}".strip(),
            [Problem(path, message)],
        )
    if isinstance(exc, asyncpg.UniqueViolationError):
        name = getattr(exc, "constraint_name", None) or ""
        return Conflict(_UNIQUE.get(name, f"duplicate value violates {name}"))
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return Conflict(f"referenced row is missing or still referenced ({exc.constraint_name})")
    if isinstance(
        exc, asyncpg.StringDataRightTruncationError | asyncpg.CharacterNotInRepertoireError
    ):
        return InvalidDefinition(f"the database refused a string: {exc}")
    if isinstance(exc, asyncpg.UntranslatableCharacterError):
        return InvalidDefinition(f"the database refused a character: {exc}")
    if isinstance(exc, asyncpg.LockNotAvailableError):
        return Busy(
            "another write holds this tool longer than the lock timeout "
            "(TOOLCATALOG_DB_LOCK_TIMEOUT_S); nothing was changed, retry shortly"
        )
    if isinstance(exc, asyncpg.QueryCanceledError):
        return StoreUnavailable("the database did not answer in time (statement timeout)")
    if is_unavailable(exc) and not isinstance(exc, CatalogError):
        return StoreUnavailable(f"the database is unreachable: {exc.__class__.__name__}")
    return None
