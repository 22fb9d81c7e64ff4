"""The requests of `toolcatalog select`: from the command's options, or from one line of a
JSONL batch; a refused value becomes one line saying where and what."""

from __future__ import annotations

import orjson
from pydantic import ValidationError

from toolcatalog.cli.output import validation_message
from toolcatalog.selection.models import SelectionRequest

BATCH_FIELDS = frozenset({"query", "platform", "prefer", "environment", "top_k", "explain"})


def build_request(
    query: str,
    *,
    platform: str | None = None,
    prefer: str | None = None,
    environment: str | None = None,
    top_k: int = 5,
    explain: bool = False,
    patterns: str = "best",
) -> SelectionRequest:
    """A SelectionRequest from the command's options (or a batch line's fields); raises
    pydantic's ValidationError for values it refuses."""
    return SelectionRequest.model_validate(
        {
            "request": query,
            "constraints": {"platform": platform, "environment": environment},
            "preferences": {"mode": prefer} if prefer else None,
            "top_k": top_k,
            "explain": explain,
            "patterns": patterns,
        }
    )


def batch_request(line: str, top_k: int, explain: bool) -> SelectionRequest:
    """One batch line: a JSON object with `query` and optional `platform`, `prefer`,
    `environment` (and `top_k`, `explain`), or a whole `POST /api/v1/select` body (with
    `request`); raises ValueError saying what is wrong."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if "request" in data and "query" not in data:
        try:
            return SelectionRequest.model_validate({"top_k": top_k, "explain": explain} | data)
        except ValidationError as exc:
            raise ValueError(validation_message(exc)) from None
    unknown = sorted(set(data) - BATCH_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ValueError("'query' must be a non-empty string")
    try:
        return build_request(
            query,
            platform=data.get("platform"),
            prefer=data.get("prefer"),
            environment=data.get("environment"),
            top_k=data.get("top_k", top_k),
            explain=data.get("explain", explain),
        )
    except ValidationError as exc:
        raise ValueError(validation_message(exc)) from None
