"""Convert the seed system's (OpsConductor) per-tool YAML files into our `Tool` model.

Every seed field lands in one of three places, and the per-file `ConversionReport` says which:
mapped onto our model (with a note when the value changed on the way), kept verbatim under
`metadata["opsconductor"]` at its seed path (`kept_in_metadata`), or dropped (`unmapped`; only
values JSON cannot hold, such as `!!binary`). Problems name the seed path, e.g.
`capabilities.text_search.patterns.search_files.time_estimate_ms`, with file and line.

    seed                                         ours
    tool_name                                    name, snake_cased (the original -> display_name)
    version "1.0" / 1                            version "1.0.0"
    platform                                     platform via PLATFORMS (coarsened: original kept)
    category                                     category, snake_cased
    metadata.tags / metadata.documentation_url   tags (lower-case, '-' for spaces) / docs_url
    examples: strings, or maps                   examples: a map's query|request|description|name
    capabilities.<c>.patterns.<p>                capabilities[] / patterns[], names snake_cased
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

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.definitions import (
    MAX_FILE_BYTES,
    LoadedTool,
    LoadResult,
    _LineIndex,
    parse_text,
)
from toolcatalog.formats.problems import Loc, json_path, problems_from_validation
from toolcatalog.model.expressions import ExpressionError, parse_expression
from toolcatalog.model.tool import SEMVER_RE, Platform, Tool

SEED_SUFFIXES = (".yaml", ".yml")

# A label is the seed author's categorical claim about completeness, so it sets the value; the
# pattern's preference_match.completeness (the number the seed ranked on) may move it by at most
# COMPLETENESS_BAND, so two "complete" patterns keep their seed order. A phrase is read by its
# first known word ("comprehensive (all fields)" -> comprehensive). Without a known label the
# preference is used as is; with neither, or an unknown label, UNKNOWN_COMPLETENESS.
COMPLETENESS: dict[str, float] = {
    "complete": 1.0, "full": 1.0, "exhaustive": 1.0, "comprehensive": 0.95, "detailed": 0.85,
    "partial": 0.5, "incomplete": 0.4, "summary": 0.4, "basic": 0.3, "sample": 0.3,
    "sampled": 0.3, "minimal": 0.2,
}  # fmt: skip
COMPLETENESS_BAND = 0.15
UNKNOWN_COMPLETENESS = 0.7

# Seed spellings (snake_cased) -> ours. A spelling that is not ours keeps the original in metadata.
PLATFORMS: dict[str, Platform] = {
    **dict.fromkeys(["linux", "unix"], Platform.linux),
    **dict.fromkeys(["windows", "win", "win32", "win64"], Platform.windows),
    **dict.fromkeys(["macos", "mac", "osx", "darwin"], Platform.macos),
    **dict.fromkeys(
        ["cross_platform", "multi", "multi_platform", "multiplatform", "any", "all", "generic"],
        Platform.cross_platform,
    ),
    **dict.fromkeys(["container", "docker", "podman"], Platform.container),
    **dict.fromkeys(["kubernetes", "k8s"], Platform.kubernetes),
    **dict.fromkeys(["cloud", "aws", "azure", "gcp"], Platform.cloud),
    **dict.fromkeys(
        ["custom", "api", "saas", "network", "scheduler", "web", "http", "service"],
        Platform.custom,
    ),
}
INPUT_TYPES = {
    **dict.fromkeys(["integer", "int"], "integer"),
    **dict.fromkeys(["float", "number", "double"], "number"),
    **dict.fromkeys(["string", "str"], "string"),
    **dict.fromkeys(["boolean", "bool"], "boolean"),
    **dict.fromkeys(["list", "array"], "array"),
    **dict.fromkeys(["dict", "object", "map"], "object"),
}
SCHEMA_KEYWORDS = frozenset(
    "minimum maximum exclusiveMinimum exclusiveMaximum multipleOf minLength maxLength pattern "
    "format enum const items minItems maxItems uniqueItems examples".split()
)
KEYWORD_ALIASES = {
    "min": "minimum", "max": "maximum", "min_value": "minimum", "max_value": "maximum",
    "min_length": "minLength", "max_length": "maxLength", "regex": "pattern",
    "allowed_values": "enum", "choices": "enum", "options": "enum", "values": "enum",
    "min_items": "minItems", "max_items": "maxItems", "example": "examples",
}  # fmt: skip
# Names the seed's estimates use without declaring them; our model refuses undeclared names.
IMPLIED_INPUTS: dict[str, dict[str, Any]] = {
    "N": {"type": "integer", "default": 1, "minimum": 0,
          "description": "How many items (hosts, assets, series) the request covers."},
    "pages": {"type": "integer", "default": 1, "minimum": 0,
              "description": "How many result pages are fetched."},
    "p95_latency": {"type": "number", "default": 100, "minimum": 0,
                    "description": "95th percentile latency of the target, in milliseconds."},
}  # fmt: skip
SEED_CONSTANTS = {"pi": repr(math.pi), "e": repr(math.e)}
EXAMPLE_TEXT_KEYS = ("query", "request", "question", "prompt", "description", "name")


@dataclass
class ConversionReport:
    """What happened to one seed file's fields; paths are seed JSON paths."""

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
    """Convert every *.yaml/*.yml under `paths` (files or folders), collecting all problems
    with file and line like `load_paths`; a report per converted file."""
    result = LoadResult()
    reports: list[ConversionReport] = []
    seen: dict[str, str] = {}
    for path in _seed_files(Path(p) for p in paths):
        file = str(path)
        try:
            raw = path.read_bytes()
            if len(raw) > MAX_FILE_BYTES:
                raise InvalidDefinition(
                    f"{file} is too large",
                    [Problem("", f"file is over {MAX_FILE_BYTES} bytes", file)],
                )
            text = raw.decode("utf-8")
            data = parse_text(text, file, ".yaml")
            tool, report = _convert(data, file, _lazy_lines(text, file))
        except FileNotFoundError:
            result.problems.append(Problem("", "no such file or folder", file))
            continue
        except UnicodeDecodeError as exc:
            result.problems.append(Problem("", f"not UTF-8 text ({exc.reason})", file))
            continue
        except InvalidDefinition as exc:
            result.problems.extend(exc.problems)
            continue
        if (other := seen.get(tool.name)) is not None:
            message = f"tool {tool.name!r} is also defined in {other}"
            result.problems.append(Problem("tool_name", message, file))
            continue
        seen[tool.name] = file
        result.tools.append(LoadedTool(tool, file))
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
    # Composing the YAML a second time costs as much as parsing it: only when a problem needs it.
    index: list[_LineIndex] = []

    def line(loc: Loc) -> int | None:
        if not index:
            index.append(_LineIndex(text, file))
        return index[0].line(loc)

    return line


def _convert(
    doc: Any, file: str | None, line_of: Callable[[Loc], int | None] | None
) -> tuple[Tool, ConversionReport]:
    where = file or "input"
    if not isinstance(doc, dict):
        kind = type(doc).__name__ if doc is not None else "empty"
        message = f"an OpsConductor tool file must be a mapping, found {kind}"
        raise InvalidDefinition(
            f"{where} is not an OpsConductor tool", [Problem("", message, file)]
        )
    if "tool_name" not in doc and isinstance(doc.get("tools"), dict):
        message = "this is a combined profiles file ('tools:'); convert the per-tool files instead"
        raise InvalidDefinition(
            f"{where} is not an OpsConductor tool", [Problem("", message, file)]
        )
    conversion = _Conversion()
    data = conversion.tool(doc)
    tool: Tool | None = None
    try:
        tool = Tool.model_validate(data)
    except ValidationError as exc:
        conversion.add_validation_errors(exc)
    if conversion.problems or tool is None:
        problems = [
            Problem(path, message, file, line_of(loc) if line_of else None)
            for path, loc, message in conversion.problems
        ]
        count = len(problems)
        raise InvalidDefinition(
            f"{where}: {count} problem(s) converting from OpsConductor", problems
        )
    report = ConversionReport(
        file=file or "<input>",
        tool_name=tool.name,
        unmapped=conversion.unmapped,
        kept_in_metadata=conversion.kept,
        notes=conversion.notes,
    )
    return tool, report


class _Conversion:
    """One document's conversion: builds our tool as plain data and records where each seed
    field went. `ours` maps our JSON paths to seed locations so model errors name seed fields."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, Loc, str]] = []
        self.notes: list[str] = []
        self.kept: list[str] = []
        self.unmapped: list[str] = []
        self.metadata: dict[str, Any] = {}
        self.ours: dict[str, Loc] = {}

    # --- bookkeeping ---------------------------------------------------------------------------

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append((json_path(loc), loc, message))

    def note(self, loc: Loc, message: str) -> None:
        self.notes.append(f"{json_path(loc)}: {message}" if loc else message)

    def place(self, ours: Loc, seed: Loc) -> None:
        self.ours[json_path(ours)] = seed

    def keep(self, loc: Loc, value: Any) -> None:
        try:
            value = _jsonable(value)
        except ValueError as exc:
            self.unmapped.append(json_path(loc))
            self.note(loc, f"dropped: {exc}")
            return
        self.kept.append(json_path(loc))
        _put(self.metadata, loc, value)

    def keep_rest(self, loc: Loc, rest: dict[Any, Any]) -> None:
        for key, value in rest.items():
            self.keep((*loc, str(key)), value)

    def add_validation_errors(self, exc: ValidationError) -> None:
        known = {path for path, _, _ in self.problems}
        for problem in problems_from_validation(exc):
            path, loc = self._seed_place(problem.path)
            if path not in known:
                known.add(path)
                self.problems.append((path, loc, problem.message))

    def _seed_place(self, path: str) -> tuple[str, Loc]:
        """Our JSON path as the seed's: the longest placed prefix, then our remaining segments."""
        probe = path
        while probe:
            if (seed := self.ours.get(probe)) is not None:
                rest = path[len(probe) :]
                head = json_path(seed)
                return (head + rest if head else rest.lstrip(".")), seed
            probe = probe[: max(probe.rfind("."), probe.rfind("["), 0)]
        return path, ()

    # --- values --------------------------------------------------------------------------------

    def number(
        self, value: Any, loc: Loc, low: float = 0.0, high: float | None = None
    ) -> float | None:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.problem(loc, f"must be a number, not {value!r}")
            return None
        if value < low or (high is not None and value > high):
            bounds = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
            self.problem(loc, f"must be {bounds}, not {value:g}")
            return None
        return float(value)

    def boolean(self, value: Any, loc: Loc) -> bool | None:
        if isinstance(value, bool):
            return value
        self.problem(loc, f"must be true or false, not {value!r}")
        return None

    def expression(
        self, value: Any, loc: Loc, names: set[str], *, condition: bool
    ) -> str | float | None:
        """A number, or a checked expression whose input names are added to `names`."""
        if not condition and (isinstance(value, int | float) and not isinstance(value, bool)):
            return self.number(value, loc)
        if not isinstance(value, str):
            self.problem(
                loc,
                f"must be {'a condition' if condition else 'a number or an expression'}, not {value!r}",
            )
            return None
        text = value.strip()
        if not condition and _is_number(text):
            return self.number(text, loc)
        for constant, literal in SEED_CONSTANTS.items():
            if re.search(rf"\b{constant}\b", text):
                text = re.sub(rf"\b{constant}\b", literal, text)
                self.note(loc, f"the seed's constant {constant} -> {literal}")
        try:
            parsed = parse_expression(text)
        except ExpressionError as exc:
            self.problem(loc, str(exc))
            return None
        if parsed.is_boolean() is not condition:
            wanted = (
                "a condition such as 'N > 50'"
                if condition
                else "a number or an expression such as '500 + 10 * N'"
            )
            self.problem(loc, f"must be {wanted}, got {value!r}")
            return None
        names.update(parsed.names)
        return text

    def name(self, raw: Any, loc: Loc, what: str) -> str:
        text = str(raw)
        name = _snake(text)
        if name != text:
            self.note(loc, f"{what} name {text!r} -> {name!r}")
        return name

    # --- the tool --------------------------------------------------------------------------------

    def tool(self, doc: dict[Any, Any]) -> dict[str, Any]:
        rest = {str(k): v for k, v in doc.items()}
        out: dict[str, Any] = {}
        self.place(("name",), ("tool_name",))
        raw_name = rest.pop("tool_name", None)
        if raw_name not in (None, ""):
            out["name"] = self.name(raw_name, ("tool_name",), "tool")
            if out["name"] != str(raw_name):
                out["display_name"] = str(raw_name)
                self.place(("display_name",), ("tool_name",))
        if "version" in rest:
            out["version"] = self.version(rest.pop("version"))
        for key in ("description", "enabled"):
            if key in rest:
                out[key] = rest.pop(key)
                self.place((key,), (key,))
        if "platform" in rest:
            out["platform"] = self.platform(rest.pop("platform"))
        if "category" in rest:
            out["category"] = self.name(rest.pop("category"), ("category",), "category")
            self.place(("category",), ("category",))
        self.seed_metadata(rest.pop("metadata", None), out)
        out["examples"] = self.examples(rest.pop("examples", None))
        defaults = rest.get("defaults")
        # The seed let patterns inherit `defaults`; only completeness has a home in our model.
        inherited = defaults.get("completeness") if isinstance(defaults, dict) else None
        out["capabilities"] = self.capabilities(rest.pop("capabilities", None), inherited)
        self.keep_rest((), rest)
        if self.metadata:
            out["metadata"] = {"opsconductor": self.metadata}
        return out

    def version(self, value: Any) -> str:
        self.place(("version",), ("version",))
        text = str(value).strip()
        match = re.fullmatch(r"[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
        if re.match(SEMVER_RE, text) or match is None:
            return text
        semver = f"{int(match[1])}.{int(match[2] or 0)}.{int(match[3] or 0)}"
        self.note(("version",), f"{text!r} -> {semver!r} (semantic version)")
        return semver

    def platform(self, value: Any) -> str:
        self.place(("platform",), ("platform",))
        spelling = _snake(str(value))
        platform = PLATFORMS.get(spelling)
        if platform is not None and _snake(platform.value) == spelling:
            return platform.value
        if platform is None:
            platform = Platform.custom
            self.note(("platform",), f"unknown platform {value!r} -> {platform.value!r}")
        else:
            self.note(("platform",), f"{value!r} -> {platform.value!r}")
        self.keep(("platform",), value)
        return platform.value

    def seed_metadata(self, value: Any, out: dict[str, Any]) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.keep(("metadata",), value)
            return
        rest = {str(k): v for k, v in value.items()}
        if "tags" in rest:
            out["tags"] = self.tags(rest.pop("tags"))
        if "documentation_url" in rest:
            out["docs_url"] = rest.pop("documentation_url")
            self.place(("docs_url",), ("metadata", "documentation_url"))
        self.keep_rest(("metadata",), rest)

    def tags(self, value: Any) -> list[str]:
        loc: Loc = ("metadata", "tags")
        self.place(("tags",), loc)
        if not isinstance(value, list):
            self.problem(loc, "must be a list of tags")
            return []
        tags = []
        for i, tag in enumerate(value):
            text = re.sub(r"[^a-z0-9_.+-]+", "-", str(tag).strip().lower()).strip("-_.+")
            if text != tag:
                self.note((*loc, i), f"tag {tag!r} -> {text!r}")
            if text:
                self.place(("tags", len(tags)), (*loc, i))
                tags.append(text)
        return tags

    def examples(self, value: Any) -> list[Any]:
        if value is None:
            return []
        self.place(("examples",), ("examples",))
        if not isinstance(value, list):
            self.problem(("examples",), "must be a list of requests (strings or maps)")
            return []
        out: list[Any] = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                item = {str(k): v for k, v in item.items()}
                key = next((k for k in EXAMPLE_TEXT_KEYS if _text(item.get(k))), None)
                if key is not None:
                    self.place(("examples", len(out)), ("examples", i, key))
                    out.append(item.pop(key))
                self.keep_rest(("examples", i), item)
            elif isinstance(item, str):
                self.place(("examples", len(out)), ("examples", i))
                out.append(item)
            else:
                self.keep(("examples", i), item)
        return out

    # --- capabilities and patterns ---------------------------------------------------------------

    def capabilities(self, value: Any, inherited: Any) -> list[dict[str, Any]]:
        self.place(("capabilities",), ("capabilities",))
        if not isinstance(value, dict):
            if value is not None:
                self.problem(
                    ("capabilities",), "must be a mapping of capability name to capability"
                )
            return []
        out = []
        for i, (key, spec) in enumerate(value.items()):
            seed: Loc = ("capabilities", str(key))
            self.place(("capabilities", i), seed)
            if not isinstance(spec, dict):
                self.problem(seed, "must be a mapping with 'description' and 'patterns'")
                continue
            rest = {str(k): v for k, v in spec.items()}
            capability: dict[str, Any] = {"name": self.name(key, seed, "capability")}
            if "description" in rest:
                capability["description"] = rest.pop("description")
            else:
                capability["description"] = str(key).replace("_", " ").capitalize() + "."
                self.note(seed, f"no description; used {capability['description']!r}")
            self.place(("capabilities", i, "patterns"), (*seed, "patterns"))
            patterns = rest.pop("patterns", None)
            if isinstance(patterns, dict):
                capability["patterns"] = [
                    self.pattern(
                        p_key,
                        p_spec,
                        (*seed, "patterns", str(p_key)),
                        ("capabilities", i, "patterns", j),
                        inherited,
                    )
                    for j, (p_key, p_spec) in enumerate(patterns.items())
                ]
            elif patterns is not None:
                self.problem((*seed, "patterns"), "must be a mapping of pattern name to pattern")
            self.keep_rest(seed, rest)
            out.append(capability)
        return out

    def pattern(self, key: Any, spec: Any, seed: Loc, ours: Loc, inherited: Any) -> dict[str, Any]:
        self.place(ours, seed)
        out: dict[str, Any] = {"name": self.name(key, seed, "pattern")}
        if not isinstance(spec, dict):
            self.problem(seed, "must be a mapping (description, estimates, policy, inputs)")
            return out
        rest = {str(k): v for k, v in spec.items()}
        for name in ("description", "typical_use_cases"):
            if name in rest:
                out[name] = rest.pop(name)
                self.place((*ours, name), (*seed, name))
        properties, required = self.inputs(rest, seed, ours)
        names: set[str] = set()
        out["profile"] = self.profile(rest, seed, ours, names, inherited)
        out["policy"] = self.policy(rest.pop("policy", None), seed, ours, names)
        for name in sorted(names - set(properties)):
            properties[name] = self.implied_input(name, seed)
            self.place((*ours, "inputs", "properties", name), seed)
        if properties:
            out["inputs"] = {"type": "object", "properties": properties}
            if required:
                out["inputs"]["required"] = required
        if "expected_outputs" in rest:
            out["outputs"] = self.outputs(rest.pop("expected_outputs"), (*seed, "expected_outputs"))
            self.place((*ours, "outputs"), (*seed, "expected_outputs"))
        self.keep_rest(seed, rest)
        return out

    def implied_input(self, name: str, seed: Loc) -> dict[str, Any]:
        if name in IMPLIED_INPUTS:
            schema = dict(IMPLIED_INPUTS[name])
            shown = f"{schema['type']} input, default {schema['default']}"
        else:
            schema = {"type": "number", "description": "Used by the seed's estimates."}
            shown = "number input without a default (requests must give it)"
        self.note(seed, f"its expressions use {name!r}, which it did not declare; added as {shown}")
        return schema

    def profile(
        self, rest: dict[str, Any], seed: Loc, ours: Loc, names: set[str], inherited: Any
    ) -> dict[str, Any]:
        profile: dict[str, Any] = {}
        preferences = rest.pop("preference_match", None)
        prefs: dict[str, Any] = {}
        if isinstance(preferences, dict):
            prefs = {str(k): v for k, v in preferences.items()}
        elif preferences is not None:
            self.problem((*seed, "preference_match"), "must be a mapping of dimension to 0..1")
        pref_loc: Loc = (*seed, "preference_match")
        for name in ("time_estimate_ms", "cost_estimate"):
            if name in rest:
                self.place((*ours, "profile", name), (*seed, name))
                value = self.expression(rest.pop(name), (*seed, name), names, condition=False)
                if value is not None:
                    profile[name] = value
        if "complexity_score" in rest:
            self.place((*ours, "profile", "complexity"), (*seed, "complexity_score"))
            profile["complexity"] = self.number(
                rest.pop("complexity_score"), (*seed, "complexity_score"), 0, 1
            )
        elif "complexity" in prefs:
            loc = (*pref_loc, "complexity")
            self.place((*ours, "profile", "complexity"), loc)
            simplicity = self.number(prefs.pop("complexity"), loc, 0, 1)
            if simplicity is not None:
                profile["complexity"] = round(1.0 - simplicity, 6)
                self.note(
                    loc,
                    f"{simplicity:g} (simplicity) -> profile.complexity {profile['complexity']:g}",
                )
        if "accuracy" in prefs:
            self.place((*ours, "profile", "accuracy"), (*pref_loc, "accuracy"))
            profile["accuracy"] = self.number(prefs.pop("accuracy"), (*pref_loc, "accuracy"), 0, 1)
        preference = None
        if "completeness" in prefs:
            preference = self.number(prefs.pop("completeness"), (*pref_loc, "completeness"), 0, 1)
        label_loc: Loc = (*seed, "completeness")
        label = rest.pop("completeness", None)
        if label is None and inherited is not None:
            label, label_loc = inherited, ("defaults", "completeness")
        self.place((*ours, "profile", "completeness"), label_loc if label is not None else pref_loc)
        profile["completeness"] = self.completeness(label, preference, label_loc)
        if "limitations" in rest:
            self.place((*ours, "profile", "limitations"), (*seed, "limitations"))
            profile["limitations"] = rest.pop("limitations")
        self.keep_rest(pref_loc, prefs)
        return {k: v for k, v in profile.items() if v is not None}

    def completeness(self, label: Any, preference: float | None, loc: Loc) -> float:
        """See COMPLETENESS: the label's value, moved toward the preference by at most the band."""
        if isinstance(label, int | float) and not isinstance(label, bool) and 0 <= label <= 1:
            return float(label)
        value = None
        if label is not None:
            words = re.findall(r"[a-z]+", str(label).lower())
            word = next((w for w in words if w in COMPLETENESS), None)
            if word is None:
                fallback = (
                    "preference_match.completeness"
                    if preference is not None
                    else f"{UNKNOWN_COMPLETENESS:g}"
                )
                self.note(loc, f"unknown completeness label {label!r}; used {fallback}")
            else:
                value = COMPLETENESS[word]
                if words != [word]:
                    self.note(loc, f"{label!r} read as {word!r} ({value:g})")
        if value is None:
            return preference if preference is not None else UNKNOWN_COMPLETENESS
        if preference is None:
            return value
        moved = min(max(preference, value - COMPLETENESS_BAND), value + COMPLETENESS_BAND)
        moved = round(min(max(moved, 0.0), 1.0), 6)
        if moved != preference:
            self.note(
                loc, f"{label!r} with preference_match.completeness {preference:g} -> {moved:g}"
            )
        return moved

    def policy(self, value: Any, seed: Loc, ours: Loc, names: set[str]) -> dict[str, Any]:
        loc: Loc = (*seed, "policy")
        self.place((*ours, "policy"), loc)
        if value is not None and not isinstance(value, dict):
            self.problem(loc, "must be a mapping")
            return {}
        rest = {str(k): v for k, v in (value or {}).items()}
        policy: dict[str, Any] = {}
        if "production_safe" not in rest:
            self.note(loc, "production_safe not given: the seed read that as true, ours as false")
        for name in ("production_safe", "requires_approval"):
            if name in rest:
                self.place((*ours, "policy", name), (*loc, name))
                policy[name] = self.boolean(rest.pop(name), (*loc, name))
        if "max_cost" in rest:
            self.place((*ours, "policy", "max_cost"), (*loc, "max_cost"))
            policy["max_cost"] = self.number(rest.pop("max_cost"), (*loc, "max_cost"))
        if "max_execution_time" in rest:
            here = (*loc, "max_execution_time")
            self.place((*ours, "policy", "max_execution_time_ms"), here)
            seconds = self.number(rest.pop("max_execution_time"), here)
            if seconds is not None:
                policy["max_execution_time_ms"] = round(seconds * 1000)
                self.note(
                    here,
                    f"{seconds:g} s -> max_execution_time_ms {policy['max_execution_time_ms']}",
                )
        if "requires_background_if" in rest:
            here = (*loc, "requires_background_if")
            self.place((*ours, "policy", "requires_background_if"), here)
            policy["requires_background_if"] = self.expression(
                rest.pop("requires_background_if"), here, names, condition=True
            )
        if "max_N_immediate" in rest and "requires_background_if" not in policy:
            here = (*loc, "max_N_immediate")
            limit = self.number(rest.pop("max_N_immediate"), here)
            if limit is not None:
                self.place((*ours, "policy", "requires_background_if"), here)
                policy["requires_background_if"] = f"N > {limit:g}"
                names.add("N")
                self.note(here, f"{limit:g} -> requires_background_if 'N > {limit:g}'")
        self.keep_rest(loc, rest)
        return {k: v for k, v in policy.items() if v is not None}

    # --- inputs and outputs ----------------------------------------------------------------------

    def inputs(
        self, rest: dict[str, Any], seed: Loc, ours: Loc
    ) -> tuple[dict[str, Any], list[str]]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for key, is_required in (("required_inputs", True), ("optional_inputs", False)):
            items = rest.pop(key, None)
            if items is None:
                continue
            if not isinstance(items, list):
                self.problem((*seed, key), "must be a list of inputs (name, type, description...)")
                continue
            for i, item in enumerate(items):
                loc: Loc = (*seed, key, i)
                spec = {"name": item} if isinstance(item, str) else item
                if not isinstance(spec, dict) or not _text(spec.get("name")):
                    self.problem(loc, "must be a mapping with a 'name'")
                    continue
                name, schema, flag = self.property(spec, loc, identifier=True)
                if name in properties:
                    self.problem((*loc, "name"), f"input {name!r} is declared twice")
                    continue
                properties[name] = schema
                self.place((*ours, "inputs", "properties", name), loc)
                if is_required if flag is None else flag:
                    required.append(name)
        return properties, required

    def property(
        self, spec: dict[Any, Any], loc: Loc, *, identifier: bool
    ) -> tuple[str, dict[str, Any], bool | None]:
        """A seed input or output as (name, JSON Schema, explicit `required` flag or None)."""
        rest = {str(k): v for k, v in spec.items()}
        raw = str(rest.pop("name"))
        name = raw
        if identifier and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", raw):
            name = re.sub(r"\W+", "_", raw).strip("_") or "_"
            name = "_" + name if name[0].isdigit() else name
            self.note((*loc, "name"), f"input name {raw!r} -> {name!r}")
        schema: dict[str, Any] = {}
        kind = None
        if "type" in rest:
            seed_type = rest.pop("type")
            kind = INPUT_TYPES.get(_snake(str(seed_type)))
            if kind is not None:
                schema["type"] = kind
            else:
                schema["x-opsconductor-type"] = seed_type
                self.note(
                    (*loc, "type"),
                    f"type {seed_type!r} has no JSON Schema equivalent; kept as x-opsconductor-type",
                )
        if "description" in rest:
            schema["description"] = rest.pop("description")
        default = rest.pop("default", None)
        if default is not None:
            schema["default"] = self.default(default, kind, (*loc, "default"))
        if "validation" in rest:
            self.validation(rest.pop("validation"), kind, schema)
        flag = rest.pop("required", None)
        for key in list(rest):
            keyword = KEYWORD_ALIASES.get(key, key)
            if keyword in SCHEMA_KEYWORDS:
                value = rest.pop(key)
                schema[keyword] = (
                    value if keyword != "examples" or isinstance(value, list) else [value]
                )
        self.keep_rest(loc, rest)
        return name, schema, flag if isinstance(flag, bool) else None

    def default(self, value: Any, kind: str | None, loc: Loc) -> Any:
        if not isinstance(value, str):
            return value
        converted: Any = value
        if kind == "boolean" and value.strip().lower() in ("true", "false", "yes", "no"):
            converted = value.strip().lower() in ("true", "yes")
        elif kind in ("integer", "number") and _is_number(value):
            number = float(value)
            converted = int(number) if kind == "integer" and number.is_integer() else number
        if converted is not value:
            self.note(loc, f"{value!r} -> {converted!r} ({kind})")
        return converted

    def validation(self, value: Any, kind: str | None, schema: dict[str, Any]) -> None:
        # A regex on a string is JSON Schema's `pattern`, a mapping of schema keywords merges in;
        # anything else (prose, a regex on a number) stays as written under x-validation.
        if isinstance(value, str) and kind in (None, "string") and _compiles(value):
            schema["pattern"] = value
        elif (
            isinstance(value, dict)
            and value
            and all(KEYWORD_ALIASES.get(str(k), str(k)) in SCHEMA_KEYWORDS for k in value)
        ):
            schema.update({KEYWORD_ALIASES.get(str(k), str(k)): v for k, v in value.items()})
        else:
            schema["x-validation"] = value

    def outputs(self, value: Any, loc: Loc) -> dict[str, Any]:
        if isinstance(value, str):
            return {"description": value}
        if isinstance(value, dict):
            value = [
                {"name": k, **(v if isinstance(v, dict) else {"description": v})}
                for k, v in value.items()
            ]
        if not isinstance(value, list):
            self.problem(loc, "must be a list of outputs, a mapping, or a description")
            return {}
        properties: dict[str, Any] = {}
        for i, item in enumerate(value):
            if isinstance(item, str):
                properties[item] = {}
            elif isinstance(item, dict) and _text(item.get("name")):
                name, schema, _ = self.property(item, (*loc, i), identifier=False)
                properties[name] = schema
            else:
                self.problem((*loc, i), "must be a name or a mapping with a 'name'")
        return {"type": "object", "properties": properties}


def _snake(text: str) -> str:
    """'Kubectl-Get' -> 'kubectl_get', 'SystemTools' -> 'system_tools'."""
    split = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text.strip())
    return re.sub(r"[^a-z0-9]+", "_", split.lower()).strip("_")


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _jsonable(value: Any) -> Any:
    """YAML data as JSON data: dates as ISO text; raises ValueError for what JSON cannot hold."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError(f"a {type(value).__name__} value has no JSON form")


def _put(root: dict[str, Any], loc: Loc, value: Any) -> None:
    """Set `value` at `loc` under `root`, creating mappings (and lists for indices) on the way."""
    node: Any = root
    for part, following in zip(loc, (*loc[1:], None), strict=True):
        if isinstance(node, list):
            assert isinstance(part, int)
            node.extend([None] * (part + 1 - len(node)))
        if following is None:
            node[part] = value
            return
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(node, list):
            if node[part] is None:
                node[part] = empty
            node = node[part]
        else:
            node = node.setdefault(part, empty)
