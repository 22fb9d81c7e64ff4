"""Convert the seed system's (OpsConductor) per-tool YAML files into our `Tool` model.

Every seed field lands in one of three places, and the per-file `ConversionReport` says which:
mapped onto our model (with a note when the value changed on the way), kept verbatim under
`metadata["opsconductor"]` at its seed path (`kept_in_metadata`), or dropped (`unmapped`: only
what has no form here, such as `!!binary` data or a tag of punctuation). Problems name the seed
path (`capabilities.text_search.patterns.search_files.time_estimate_ms`), file and line.

    seed                                         ours
    tool_name                                    name, snake_cased (the original -> display_name)
    version "1.0" / 1                            version "1.0.0"
    platform                                     platform via PLATFORMS (coarsened: original kept)
    category                                     category, snake_cased
    metadata.tags / metadata.documentation_url   tags (lower-case, '-' for spaces) / docs_url
    examples: strings, or maps                   examples: a map's query, request, question,
                                                 prompt, description or name (the rest kept)
    capabilities.<c>.patterns.<p>, or lists of   capabilities[] / patterns[], names snake_cased
      {capability_name, patterns: [{pattern_name}]}
    description, typical_use_cases, limitations  the same (limitations under profile)
    time_estimate_ms, cost_estimate              profile.*; the seed's constants pi and e inlined
    complexity_score                             profile.complexity, else 1 - preference_match
                                                 .complexity (the seed's "complexity" is simplicity)
    preference_match.accuracy                    profile.accuracy
    completeness label (+ preference_match)      profile.completeness, see COMPLETENESS
    policy.max_cost, requires_approval,          policy.* (production_safe: the seed's default was
      production_safe, requires_background_if      true, ours is false; a note says so)
    policy.max_execution_time (seconds)          policy.max_execution_time_ms
    policy.max_N_immediate                       requires_background_if "N > value" if none given
    required_inputs / optional_inputs            inputs: JSON Schema object, `required` from the
                                                 former; undeclared expression names are added
    expected_outputs                             outputs: JSON Schema object
    everything else: defaults, dependencies, scope, accuracy_level, freshness, data_source,
    preference_match.speed/.cost, unknown keys   metadata["opsconductor"] at the same path
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
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
from toolcatalog.formats.opsconductor.tool import Conversion
from toolcatalog.formats.problems import Loc
from toolcatalog.model.tool import Tool

SEED_SUFFIXES = (".yaml", ".yml")


@dataclass
class ConversionReport:
    """What happened to one file's seed fields: entries are seed JSON paths, and each note
    starts with one (`policy.max_execution_time: 30 s -> max_execution_time_ms 30000`)."""

    file: str
    tool_name: str | None
    unmapped: list[str] = field(default_factory=list)
    kept_in_metadata: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def convert_opsconductor(
    doc: dict[str, Any], *, file: str | None = None
) -> tuple[Tool, ConversionReport]:
    """One seed tool document as our Tool; raises InvalidDefinition listing every problem."""
    return _convert(doc, file, None)


def load_opsconductor_paths(
    paths: Iterable[Path | str],
) -> tuple[LoadResult, list[ConversionReport]]:
    """Convert every *.yaml/*.yml under `paths` (files or folders), collecting all problems with
    file and line like `load_paths`; one report per converted file."""
    result = LoadResult()
    reports: list[ConversionReport] = []
    for path in _seed_files(Path(p) for p in paths):
        file = str(path)
        try:
            text = read_definition_file(path)
            tool, report = _convert(parse_text(text, file, ".yaml"), file, _lazy_lines(text, file))
        except InvalidDefinition as exc:
            result.problems.extend(exc.problems)
            continue
        if result.add_tool(LoadedTool(tool, file), name_path="tool_name"):
            reports.append(report)
    return result, reports


def _seed_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.suffix in SEED_SUFFIXES and p.is_file()
            )
        else:
            yield path


def _lazy_lines(text: str, file: str) -> Callable[[Loc], int | None]:
    # Composing the YAML again costs as much as parsing it: only when a problem needs a line.
    index: list[LineIndex] = []

    def line(loc: Loc) -> int | None:
        if not index:
            index.append(LineIndex(text, file))
        return index[0].line(loc)

    return line


def _convert(
    doc: Any, file: str | None, line_of: Callable[[Loc], int | None] | None
) -> tuple[Tool, ConversionReport]:
    source = file or "input"
    message = None
    if not isinstance(doc, dict):
        kind = type(doc).__name__ if doc is not None else "empty"
        message = f"an OpsConductor tool file must be a mapping, found {kind}"
    elif "tool_name" not in doc and isinstance(doc.get("tools"), dict):
        message = "a combined profiles file ('tools:'); convert the per-tool files instead"
    if message is not None:
        problem = Problem("", message, file)
        raise InvalidDefinition(f"{source} is not an OpsConductor tool", [problem])
    conversion = Conversion()
    data = conversion.tool(doc)
    tool: Tool | None = None
    try:
        tool = Tool.model_validate(data)
    except ValidationError as exc:
        conversion.add_validation_errors(exc)
    if conversion.problems or tool is None:
        problems = [
            Problem(path, text, file, line_of(loc) if line_of else None)
            for path, loc, text in conversion.problems
        ]
        detail = f"{source}: {len(problems)} problem(s) converting from OpsConductor"
        raise InvalidDefinition(detail, problems)
    report = ConversionReport(
        file or "<input>", tool.name, conversion.unmapped, conversion.kept, conversion.notes
    )
    return tool, report
