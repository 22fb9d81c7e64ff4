"""How a tool runs (Execution) and how one of its patterns refines that (PatternExecution)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Execution(BaseModel):
    """How to run the tool. Credentials are named, never given."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: Literal["command", "http", "script", "mcp"] = "command"
    command: str | None = Field(
        default=None,
        max_length=4000,
        description="Command template, e.g. 'df -h {path}'.",
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] | None = None
    url: str | None = Field(default=None, max_length=2000, description="URL template for http.")
    body: str | None = Field(
        default=None, max_length=10_000, description="http: request body template."
    )
    credentials: list[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,127}$")]] = Field(
        default_factory=list, description="Names of the credentials it needs (never values)."
    )

    @model_validator(mode="after")
    def _kind_needs_its_fields(self) -> Execution:
        if self.kind in ("command", "script") and not self.command:
            raise ValueError(f"execution.kind {self.kind!r} needs a 'command' template")
        if self.kind == "http" and not (self.method and self.url):
            raise ValueError("execution.kind 'http' needs 'method' and 'url'")
        return self


class PatternExecution(BaseModel):
    """How one pattern runs, over its tool's `execution`: each field given replaces the tool's
    (kind and credentials stay the tool's). Listing deployments is a GET to /deployments;
    rolling one back a POST to /deployments/{id}/rollback with a body."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    command: str | None = Field(
        default=None, max_length=4000, description="Command template (command, script)."
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] | None = None
    path: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^/",
        description="http: path (and query) template replacing the tool's url path, on the same "
        "scheme and host, e.g. '/api/v1/deployments/{id}/rollback'.",
    )
    body: str | None = Field(
        default=None,
        max_length=10_000,
        description='http: request body template, e.g. \'{"reason": "{reason}"}\'.',
    )
