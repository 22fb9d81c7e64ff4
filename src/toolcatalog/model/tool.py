"""The tool definition: Tool > Capability > Pattern (> Profile, Policy).

The same model is the YAML file format, the HTTP request body and `schema/tool.schema.json`.
Validation happens here once; everything downstream trusts a `Tool`.
Execution, Pattern and the field types they share have their own modules (execution.py,
pattern.py, fields.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from toolcatalog.model.execution import Execution
from toolcatalog.model.fields import (
    SEMVER_RE,
    SNAKE_RE,
    TOOL_NAME_RE,
    LongText,
    checked_json,
)
from toolcatalog.model.pattern import Pattern

__all__ = [
    "RESERVED_NAMES",
    "Capability",
    "Platform",
    "Status",
    "Tool",
]

# Names that a route with a fixed segment under /api/v1/tools takes before /{name}: GET
# /tools/health and /tools/metrics answer health and metrics, and /tools/platform/{p},
# /tools/category/{c} take /tools/<name>/versions (also in the OpsConductor contract). Every
# other name works, `search`, `import` or `select` included (a public catalog has a `search`
# tool); tests/api/test_tool_names.py checks each fixed segment of the route table.
RESERVED_NAMES = frozenset({"health", "metrics", "platform", "category"})


class Platform(StrEnum):
    linux = "linux"
    windows = "windows"
    macos = "macos"
    cross_platform = "cross-platform"
    container = "container"
    kubernetes = "kubernetes"
    cloud = "cloud"
    custom = "custom"


class Status(StrEnum):
    active = "active"
    experimental = "experimental"
    deprecated = "deprecated"
    disabled = "disabled"


class Capability(BaseModel):
    """Something the tool can do, named from the shared capability vocabulary."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: Annotated[str, Field(pattern=SNAKE_RE)]
    description: LongText
    patterns: list[Pattern] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _unique_pattern_names(cls, value: list[Pattern]) -> list[Pattern]:
        _refuse_duplicates([p.name for p in value], "pattern")
        return value


def _refuse_duplicates(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} name {name!r}")
        seen.add(name)


class Tool(BaseModel):
    """A tool the agent may use: the YAML file, the request body and the JSON Schema."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "name": "df",
                    "version": "1.0.0",
                    "description": "Report file system space usage per mount.",
                    "platform": "linux",
                    "category": "storage",
                    "capabilities": [
                        {
                            "name": "disk_usage",
                            "description": "Free and used space per mounted file system.",
                            "patterns": [
                                {
                                    "name": "summary",
                                    "description": "df -h over all mounts.",
                                    "profile": {"time_estimate_ms": 50},
                                    "policy": {"production_safe": True},
                                }
                            ],
                        }
                    ],
                }
            ]
        },
    )

    name: Annotated[str, Field(pattern=TOOL_NAME_RE, description="Unique, lower snake_case.")]
    version: Annotated[str, Field(pattern=SEMVER_RE, description="Semantic version.")] = "1.0.0"
    display_name: Annotated[str, Field(max_length=200)] | None = None
    description: LongText
    platform: Platform
    category: Annotated[str, Field(pattern=SNAKE_RE)]
    tags: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.+-]{0,63}$")]] = Field(
        default_factory=list
    )
    status: Status = Status.active
    enabled: bool = True
    owner: Annotated[str, Field(max_length=200)] | None = None
    docs_url: Annotated[str, Field(max_length=2000, pattern=r"^https?://")] | None = None
    execution: Execution | None = None
    capabilities: list[Capability] = Field(min_length=1)
    examples: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, description="Natural-language requests this tool serves."
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form data a pipeline needs beyond this schema (finite numbers, "
        "64-bit integers, at most 32 levels deep).",
    )

    _free_json = field_validator("metadata", mode="before")(checked_json)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(
                f"{value!r} is reserved (it is an API path segment); choose another name, "
                f"such as {value + '_tool'!r}"
            )
        return value

    @field_validator("capabilities")
    @classmethod
    def _unique_capability_names(cls, value: list[Capability]) -> list[Capability]:
        _refuse_duplicates([c.name for c in value], "capability")
        return value

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _pattern_executions_refine_the_tools(self) -> Tool:
        for i, cap in enumerate(self.capabilities):
            for j, pattern in enumerate(cap.patterns):
                own = pattern.execution
                if own is None:
                    continue
                where = f"capabilities[{i}].patterns[{j}].execution"
                if self.execution is None:
                    raise ValueError(
                        f"{where}: a pattern's execution refines the tool's, and the tool has "
                        "none; set the tool's execution (kind, and url for http) first"
                    )
                http = self.execution.kind == "http"
                wrong = (["command"] if http and own.command else []) or [
                    f for f in ("method", "path", "body") if not http and getattr(own, f)
                ]
                if wrong:
                    raise ValueError(
                        f"{where}: {', '.join(wrong)} does not apply to the tool's execution "
                        f"kind {self.execution.kind!r}"
                    )
        return self

    def document(self, *, exclude_defaults: bool = False) -> dict[str, Any]:
        """The definition as JSON-ready data, without the effects it did not declare: read
        back, those are inferred again and stay undeclared (the selector's intent rule holds
        only between declared effects), so the tool loads exactly as it was defined."""
        data = self.model_dump(mode="json", exclude_defaults=exclude_defaults)
        for capability, doc in zip(self.capabilities, data["capabilities"], strict=True):
            for pattern, pattern_doc in zip(capability.patterns, doc["patterns"], strict=True):
                if not pattern.effect_declared:
                    pattern_doc.pop("effect", None)
        return data

    def execution_for(self, pattern: Pattern) -> Execution | None:
        """How `pattern` runs: its own execution's fields over the tool's (a path replaces the
        path and query of the tool's url, keeping its scheme and host); None when the tool
        declares no execution."""
        base = self.execution
        own = pattern.execution
        if base is None or own is None:
            return base
        url = base.url
        if own.path is not None and url is not None:
            parts = urlsplit(url)
            url = f"{parts.scheme}://{parts.netloc}{own.path}"
        return base.model_copy(
            update={
                "command": own.command or base.command,
                "method": own.method or base.method,
                "url": url,
                "body": own.body if own.body is not None else base.body,
            }
        )

    def pattern_count(self) -> int:
        return sum(len(c.patterns) for c in self.capabilities)
