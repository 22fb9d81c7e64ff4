"""An OpenAPI 3.0/3.1 spec as catalog tools: one tool for the spec (or one per tag), each
operation a pattern under the vocabulary capability its words match (else one named after the
operation), its path and query parameters (and
a JSON request body as `body`) as the pattern's inputs, its method and path as the pattern's
execution. GET and HEAD read (production-safe); DELETE is destructive and other methods
change, both needing approval until an editor says otherwise. Local `$ref`s are inlined
(recursion and expansion bounded); header and cookie parameters are left out (noted)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.opsconductor.values import snake
from toolcatalog.formats.upstream import (
    UNMEASURED,
    CapabilityNamer,
    UpstreamResult,
    UpstreamSource,
    short,
    tool_name,
    validated,
)
from toolcatalog.model.vocabulary import Vocabulary

METHODS = ("get", "put", "post", "delete", "patch", "head")
EFFECTS = {"get": "read", "head": "read", "delete": "destructive"}
MAX_REF_DEPTH = 16
MAX_EXPANDED_NODES = 20_000  # per operation: a spec whose refs fan out (refs of refs) stops here
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
Grouping = Literal["spec", "tag"]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def spec_source(spec: Any, transport: Any, target: str) -> UpstreamSource:
    """The source an OpenAPI document describes; InvalidDefinition unless it is OpenAPI 3."""
    if not isinstance(spec, dict):
        raise InvalidDefinition(
            f"{target} is not an OpenAPI document",
            [Problem("", "expected a mapping with openapi, info and paths", target)],
        )
    version = str(spec.get("openapi", ""))
    if not version.startswith("3."):
        said = f"swagger {spec['swagger']}" if "swagger" in spec else f"openapi {version!r}"
        raise InvalidDefinition(
            f"{target} is not OpenAPI 3",
            [Problem("openapi", f"found {said}; convert it to OpenAPI 3.0 or 3.1 first", target)],
        )
    info = _dict(spec.get("info"))
    title = str(info.get("title") or "api").strip()[:200] or "api"
    return UpstreamSource(
        "openapi", title, transport, target, str(info.get("version") or "") or None
    )


class _Refs:
    """Inlines local `$ref`s, bounded in depth and in the nodes one operation may expand to."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.budget = MAX_EXPANDED_NODES

    def target(self, ref: str) -> Any:
        node: Any = self.spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return {"description": f"unresolved reference {ref}"}
            node = node[part]
        return node

    def inline(self, node: Any, seen: tuple[str, ...] = ()) -> Any:
        self.budget -= 1
        if self.budget < 0:
            return {"description": "not expanded: the schema is too large"}
        if isinstance(node, list):
            return [self.inline(v, seen) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in seen or len(seen) >= MAX_REF_DEPTH:
                return {"description": f"recursive: {ref.rsplit('/', 1)[-1]}"}
            return self.inline(self.target(ref), (*seen, ref))
        return {k: self.inline(v, seen) for k, v in node.items()}


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], list[Any]]]:
    paths = spec.get("paths")
    for path, item in (paths if isinstance(paths, dict) else {}).items():
        if not isinstance(item, dict) or not str(path).startswith("/"):
            continue
        shared = _list(item.get("parameters"))
        for method in METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                yield str(path), method, op, shared


def _base_url(spec: dict[str, Any], source: UpstreamSource) -> str | None:
    servers = spec.get("servers")
    first = servers[0] if isinstance(servers, list) and servers else {}
    url = str(first.get("url", "")) if isinstance(first, dict) else ""
    variables = first.get("variables") if isinstance(first, dict) else None
    for key, var in (variables if isinstance(variables, dict) else {}).items():
        if isinstance(var, dict):
            url = url.replace(f"{{{key}}}", str(var.get("default", "")))
    if source.transport == "url":
        url = urljoin(source.target, url or "/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url.rstrip("/")


def _inputs(
    op: dict[str, Any], shared: list[Any], refs: _Refs, path: str, notes: list[str], where: str
) -> tuple[dict[str, Any], str]:
    """(JSON Schema of the inputs, the path template with renamed inputs and required query)."""
    props: dict[str, Any] = {}
    required: list[str] = []
    query: list[str] = []
    own = _list(op.get("parameters"))
    params = {}
    for param in [refs.inline(p) for p in [*shared, *own]]:  # an operation's own win
        if isinstance(param, dict) and isinstance(param.get("name"), str):
            params[(param["name"], param.get("in"))] = param
    for (name, where_in), param in params.items():
        if where_in not in ("path", "query"):
            notes.append(f"{where}: {where_in} parameter {name!r} left out")
            continue
        ours = name if IDENTIFIER.match(name) else (snake(name) or "param")
        if not IDENTIFIER.match(ours):
            ours = f"p_{ours}"
        prop = dict(_dict(param.get("schema")))
        if isinstance(param.get("description"), str):
            prop.setdefault("description", param["description"])
        props[ours] = prop
        if where_in == "path":
            path = path.replace(f"{{{name}}}", f"{{{ours}}}")
        if param.get("required") or where_in == "path":
            required.append(ours)
            if where_in == "query":
                query.append(f"{name}={{{ours}}}")
    body = op.get("requestBody")
    if isinstance(body, dict):
        body = refs.inline(body)
        content = _dict(body.get("content"))
        media = next((v for k, v in content.items() if "json" in k), None)
        if isinstance(media, dict) and isinstance(media.get("schema"), dict):
            props["body"] = media["schema"]
            if body.get("required"):
                required.append("body")
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(dict.fromkeys(required))
    return schema, path + ("?" + "&".join(query) if query else "")


def _pattern_name(op: dict[str, Any], method: str, path: str, taken: set[str]) -> str:
    base = snake(str(op.get("operationId") or "")) or snake(f"{method} {path}") or method
    if not base[0].isalpha():
        base = f"{method}_{base}"
    base, name, n = base[:60].strip("_"), base[:64].strip("_"), 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def tools_from_openapi(
    spec: dict[str, Any],
    source: UpstreamSource,
    vocabulary: Vocabulary | None,
    *,
    group: Grouping = "spec",
) -> UpstreamResult:
    """Convert the spec's operations into Tools (see the module's docstring); a tool that does
    not validate is refused in `problems`, named by its upstream name (the title or tag)."""
    result = UpstreamResult(source)
    namer = CapabilityNamer(vocabulary)
    info = _dict(spec.get("info"))
    about = str(info.get("description") or info.get("summary") or source.server).strip()
    base = _base_url(spec, source)
    if base is None:
        result.notes.append("no absolute server URL: the tools carry no execution")
    tags = {
        t["name"]: str(t.get("description") or "")
        for t in _list(spec.get("tags"))
        if isinstance(t, dict) and isinstance(t.get("name"), str)
    }
    groups: dict[str, list[tuple[str, str, dict[str, Any], list[Any]]]] = {}
    for path, method, op, shared in _operations(spec):
        op_tags = _list(op.get("tags"))
        key = str(op_tags[0]) if group == "tag" and op_tags else ""
        groups.setdefault(key, []).append((path, method, op, shared))
    if not groups:
        result.problems.append(Problem("paths", "the spec has no operations", source.target))
    documents = []
    for key, operations in groups.items():
        upstream = key or source.server
        name = tool_name(f"{source.server} {key}" if key else source.server, source.server)
        description = short(
            (tags.get(key) or f"{key}: operations of {source.server}" if key else about),
            result.notes,
            upstream,
        )
        capabilities: dict[str, dict[str, Any]] = {}
        pinned: list[dict[str, Any]] = []
        names: set[str] = set()
        for path, method, op, shared in operations:
            refs = _Refs(spec)
            where = f"{method.upper()} {path}"
            text = str(op.get("description") or op.get("summary") or where).strip()
            summary = str(op.get("summary") or "").strip()
            words = f"{summary}. {text}" if summary and summary not in text else text
            inputs, template = _inputs(op, shared, refs, path, result.notes, where)
            pattern: dict[str, Any] = {
                "name": _pattern_name(op, method, path, names),
                "description": short(words, result.notes, where),
                "inputs": inputs,
                "effect": EFFECTS.get(method, "change"),
                "policy": {"production_safe": True}
                if method in ("get", "head")
                else {"requires_approval": True},
                "profile": {"limitations": [UNMEASURED]},
            }
            if base is not None:
                execution = {"method": method.upper(), "path": urlsplit(base).path + template}
                if "body" in inputs["properties"]:
                    execution["body"] = "{body}"
                pattern["execution"] = execution
            cap, cap_text = namer.name(
                {"name": pattern["name"], "description": words, "category": key},
                result,
                name,
                pattern["name"],
            )
            entry = capabilities.setdefault(
                cap,
                {"name": cap, "description": short(cap_text, result.notes, where), "patterns": []},
            )
            entry["patterns"].append(pattern)
            pinned.append({"method": method, "path": path, "operation": refs.inline(op)})
        document: dict[str, Any] = {
            "name": name,
            "display_name": f"{source.server}: {key}"[:200] if key else source.server,
            "description": description,
            "platform": "custom",
            "category": snake(key)[:64] if key and snake(key)[:1].isalpha() else "api",
            "tags": ["openapi"],
            "capabilities": list(capabilities.values()),
            "metadata": {"upstream": source.pin(upstream, pinned)},
        }
        if base is not None:
            document["execution"] = {"kind": "http", "method": "GET", "url": base}
        if isinstance(_dict(spec.get("externalDocs")).get("url"), str):
            document["docs_url"] = spec["externalDocs"]["url"]
        documents.append((upstream, document))
    validated(documents, result, source.target)
    return result
