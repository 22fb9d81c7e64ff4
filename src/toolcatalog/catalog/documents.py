"""Canonical tool documents: the stored form, the ETag, structured diffs and merge patches."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from toolcatalog.model.tool import Tool

_MISSING = object()


def canonical_definition(tool: Tool) -> dict[str, Any]:
    """The full document stored in the database (defaults included, so diffs are exact).
    Undeclared effects are left out (`Tool.document`): a description-only catalog imported by
    a user must select from the database as it does from its files."""
    return tool.document()


def canonical_bytes(definition: dict[str, Any]) -> bytes:
    return orjson.dumps(definition, option=orjson.OPT_SORT_KEYS)


def make_etag(definition: dict[str, Any], revision: int) -> str:
    """A strong ETag: the revision plus a content hash (a rollback to old content still gets
    a new ETag, so a client holding the old one cannot overwrite the changes in between)."""
    return etag_of(content_digest(definition), revision)


def content_digest(definition: dict[str, Any]) -> str:
    """The content hash of a definition that its ETag carries (64 bits of SHA-256 of the
    canonical bytes)."""
    return digest_of_bytes(canonical_bytes(definition))


def digest_of_bytes(canonical: bytes) -> str:
    """content_digest of the definition whose canonical_bytes are `canonical`."""
    return hashlib.sha256(canonical).hexdigest()[:16]


def etag_of(digest: str, revision: int) -> str:
    return f'"{revision}-{digest}"'


def digest_of_etag(etag: str) -> str | None:
    """The content hash in an ETag made by make_etag, or None for any other string."""
    revision, dash, digest = etag.strip('"').partition("-")
    return digest if dash and revision.isdigit() and len(digest) == 16 else None


def diff_documents(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """A readable structured diff: [{op: add|remove|change, path, from?, to?}], JSON paths."""
    if before is _MISSING:
        return [{"op": "add", "path": path or "$", "to": after}]
    if after is _MISSING:
        return [{"op": "remove", "path": path or "$", "from": before}]
    if isinstance(before, dict) and isinstance(after, dict):
        if before == after:  # in C: a write changes a few fields of a large document
            return []
        out: list[dict[str, Any]] = []
        for key in list(before) + [k for k in after if k not in before]:
            sub = f"{path}.{key}" if path else str(key)
            out += diff_documents(before.get(key, _MISSING), after.get(key, _MISSING), sub)
        return out
    if isinstance(before, list) and isinstance(after, list) and _named_items(before, after):
        return [] if before == after else _diff_named_lists(before, after, path)
    if before == after:
        return []
    return [{"op": "change", "path": path or "$", "from": before, "to": after}]


def _named_items(*lists: list[Any]) -> bool:
    return all(isinstance(i, dict) and "name" in i for items in lists for i in items)


def _diff_named_lists(before: list[Any], after: list[Any], path: str) -> list[dict[str, Any]]:
    # Capabilities and patterns are matched by name, so a reorder or an insert reads as such
    # and not as every later item changing.
    old = {i["name"]: i for i in before}
    new = {i["name"]: i for i in after}
    out: list[dict[str, Any]] = []
    for name in list(old) + [n for n in new if n not in old]:
        out += diff_documents(old.get(name, _MISSING), new.get(name, _MISSING), f"{path}[{name}]")
    if [i["name"] for i in before] != [i["name"] for i in after] and set(old) == set(new):
        out.append(
            {"op": "reorder", "path": path, "from": list(old), "to": [i["name"] for i in after]}
        )
    return out


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
