"""Reading the seed's files: per-tool YAML files and folders, the legacy single-file profiles
(v1.1, `tools: {name: profile}`), and its templates (recognised and skipped)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.definitions import (
    LineIndex,
    LoadedTool,
    LoadResult,
    parse_text,
    read_definition_file,
)
from toolcatalog.formats.opsconductor.bookkeeping import Change, Kind
from toolcatalog.formats.opsconductor.naming import Naming
from toolcatalog.formats.opsconductor.report import ConversionReport, MigrationReport, SkippedFile
from toolcatalog.formats.opsconductor.tool import Conversion
from toolcatalog.formats.problems import Loc, json_path
from toolcatalog.model.tool import Tool

SEED_SUFFIXES = (".yaml", ".yml")
TEMPLATE_FOLDERS = frozenset({"templates", "template"})
# A whole value or key in angle brackets, as the seed's template writes them: `<TOOL_NAME>`,
# `<0.0-1.0>`, `<true|false>`. Three of them make a template; a real tool may hold one or two
# (a description saying "<none>").
PLACEHOLDER = re.compile(r"<[^<>\n]{1,60}>")
TEMPLATE_PLACEHOLDERS = 3
# What the legacy profiles file (v1.1) does not say about a tool; our model needs it.
LEGACY_DEFAULTS = {"version": "1.0.0", "platform": "custom", "category": "general"}

LineOf = Callable[[Loc], int | None]


def convert_opsconductor(
    doc: dict[str, Any], *, file: str | None = None, naming: Naming | None = None
) -> tuple[Tool, ConversionReport]:
    """One seed tool document as our Tool; raises InvalidDefinition listing every problem."""
    return _convert(doc, file, None, (), naming)


def load_opsconductor_paths(
    paths: Iterable[Path | str], *, naming: Naming | None = None
) -> tuple[LoadResult, MigrationReport]:
    """Convert every *.yaml/*.yml under `paths` (files or folders) and legacy profiles files,
    collecting all problems with file and line like `load_paths`. Templates are skipped and
    listed; a refused file keeps none of its tools, the others load."""
    result = LoadResult()
    report = MigrationReport()
    for path, inside in _seed_files(Path(p) for p in paths):
        file = str(path)
        try:
            text = read_definition_file(path)
            doc = parse_text(text, file, ".yaml")
            reason = template_reason(inside, doc)
            if reason is not None:
                report.skipped.append(SkippedFile(file, reason))
                continue
            converted = _convert_file(doc, file, _lazy_lines(text, file), naming)
        except InvalidDefinition as exc:
            result.problems.extend(exc.problems)
            report.refuse(exc.problems)
            continue
        for tool, tool_report, name_path in converted:
            if result.add_tool(LoadedTool(tool, file), name_path=name_path):
                report.tools.append(tool_report)
            else:
                report.refuse(result.problems[-1:])
    return result, report


def template_reason(inside: Path | None, doc: Any) -> str | None:
    """Why the file is a template rather than a tool, or None when it is a tool. `inside`: the
    file's path within the folder that was named (a tree kept under /srv/templates/ is not all
    templates), None for a file named itself."""
    if inside is not None and TEMPLATE_FOLDERS & {part.lower() for part in inside.parent.parts}:
        return "a template (under a templates/ folder)"
    found = sorted(set(_placeholders(doc)))
    if len(found) >= TEMPLATE_PLACEHOLDERS or (
        isinstance(doc, dict) and PLACEHOLDER.fullmatch(str(doc.get("tool_name", "")).strip())
    ):
        shown = ", ".join(found[:3])
        return f"a template ({len(found)} placeholders such as {shown})"
    return None


def _placeholders(data: Any) -> Iterator[str]:
    if isinstance(data, str) and PLACEHOLDER.fullmatch(data.strip()):
        yield data.strip()
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _placeholders(key)
            yield from _placeholders(value)
    elif isinstance(data, list):
        for value in data:
            yield from _placeholders(value)


def _convert_file(
    doc: Any, file: str, line_of: LineOf, naming: Naming | None
) -> list[tuple[Tool, ConversionReport, str]]:
    """The tools of one file: a per-tool file holds one, a legacy profiles file several."""
    if not _is_profiles_file(doc):
        return [(*_convert(doc, file, line_of, (), naming), "tool_name")]
    out: list[tuple[Tool, ConversionReport, str]] = []
    problems: list[Problem] = []
    for name, entry in doc["tools"].items():
        prefix: Loc = ("tools", str(name))
        if not isinstance(entry, dict):
            problems.append(
                Problem(json_path(prefix), "must be a mapping: the tool's profile", file)
            )
            continue
        legacy = {"tool_name": str(name), **entry}
        defaulted = {k: v for k, v in LEGACY_DEFAULTS.items() if k not in entry}
        legacy.update(defaulted)
        try:
            tool, report = _convert(legacy, file, line_of, prefix, naming)
        except InvalidDefinition as exc:
            problems.extend(exc.problems)
            continue
        for key, value in defaulted.items():
            detail = f"not in the legacy profiles file; used {value!r}"
            report.changes.insert(0, _change(prefix, key, detail))
        out.append((tool, report, json_path(prefix)))
    if problems:
        raise InvalidDefinition(f"{file}: {len(problems)} problem(s) converting profiles", problems)
    return out


def _is_profiles_file(doc: Any) -> bool:
    return isinstance(doc, dict) and "tool_name" not in doc and isinstance(doc.get("tools"), dict)


def _change(prefix: Loc, key: str, detail: str) -> Change:
    topic = f"legacy profiles: {key} not given"
    return Change(Kind.defaulted, topic, json_path((*prefix, key)), detail)


def _seed_files(paths: Iterable[Path]) -> Iterator[tuple[Path, Path | None]]:
    """Each file, with its path inside the named folder (None for a file named itself)."""
    for path in paths:
        if path.is_dir():
            for found in sorted(
                p for p in path.rglob("*") if p.suffix in SEED_SUFFIXES and p.is_file()
            ):
                yield found, found.relative_to(path)
        else:
            yield path, None


def _lazy_lines(text: str, file: str) -> LineOf:
    # Composing the YAML again costs as much as parsing it: only when a problem needs a line.
    index: list[LineIndex] = []

    def line(loc: Loc) -> int | None:
        if not index:
            index.append(LineIndex(text, file))
        return index[0].line(loc)

    return line


def _convert(
    doc: Any, file: str | None, line_of: LineOf | None, prefix: Loc, naming: Naming | None
) -> tuple[Tool, ConversionReport]:
    source = file or "input"
    if not isinstance(doc, dict):
        kind = type(doc).__name__ if doc is not None else "empty"
        problem = Problem("", f"an OpsConductor tool file must be a mapping, found {kind}", file)
        raise InvalidDefinition(f"{source} is not an OpsConductor tool", [problem])
    if _is_profiles_file(doc):
        message = "a combined profiles file ('tools:'); load it as a file, it holds several tools"
        raise InvalidDefinition(f"{source} is not one tool", [Problem("", message, file)])
    conversion = Conversion()
    data = conversion.tool(doc)
    if naming is not None and not conversion.problems:
        naming.apply(data, doc, conversion)
    tool: Tool | None = None
    try:
        tool = Tool.model_validate(data)
    except ValidationError as exc:
        conversion.add_validation_errors(exc)
    if conversion.problems or tool is None:
        problems = [
            Problem(
                _prefixed(prefix, path), text, file, line_of((*prefix, *loc)) if line_of else None
            )
            for path, loc, text in conversion.problems
        ]
        detail = f"{source}: {len(problems)} problem(s) converting from OpsConductor"
        raise InvalidDefinition(detail, problems)
    if prefix:
        conversion.changes = [
            Change(c.kind, c.topic, _prefixed(prefix, c.path), c.detail) for c in conversion.changes
        ]
    mapped = [(_prefixed(prefix, json_path(seed)), ours) for ours, seed in conversion.ours.items()]
    return tool, ConversionReport(file or "<input>", tool.name, conversion.changes, mapped)


def _prefixed(prefix: Loc, path: str) -> str:
    if not prefix:
        return path
    head = json_path(prefix)
    return f"{head}.{path}" if path and not path.startswith("[") else head + path
