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
import json
import math
import re
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
from toolcatalog.formats.problems import Loc, json_path, problems_from_validation
from toolcatalog.model.expressions import ExpressionError, parse_expression
from toolcatalog.model.tool import SEMVER_RE, Platform, Tool

SEED_SUFFIXES = (".yaml", ".yml")

# A label is the seed author's categorical claim, so it sets the value; the pattern's
# preference_match.completeness (the number the seed ranked on) moves it by at most
# COMPLETENESS_BAND, so two "complete" patterns keep their seed order. A phrase is read by its
# first known word ("comprehensive (all fields)"). Without a known label the preference is used
# as is; with neither, UNKNOWN_COMPLETENESS (an unknown label also gets a note).
COMPLETENESS: dict[str, float] = {
    "complete": 1.0, "full": 1.0, "exhaustive": 1.0, "comprehensive": 0.95, "detailed": 0.85,
    "partial": 0.5, "incomplete": 0.4, "summary": 0.4, "basic": 0.3, "sample": 0.3,
    "sampled": 0.3, "minimal": 0.2,
}  # fmt: skip
COMPLETENESS_BAND = 0.15
UNKNOWN_COMPLETENESS = 0.7

# Seed spellings, snake_cased; a spelling that is not our value keeps the original in metadata.
PLATFORMS: dict[str, Platform] = {
    word: platform
    for platform, words in [
        (Platform.linux, "linux unix"),
        (Platform.windows, "windows win win32 win64"),
        (Platform.macos, "macos mac osx darwin"),
        (Platform.cross_platform, "cross_platform multi multi_platform any all generic"),
        (Platform.container, "container docker podman"),
        (Platform.kubernetes, "kubernetes k8s"),
        (Platform.cloud, "cloud aws azure gcp"),
        (Platform.custom, "custom api saas network scheduler web http service"),
    ]
    for word in words.split()
}
INPUT_TYPES: dict[str, str] = {
    word: kind
    for kind, words in [
        ("integer", "integer int"),
        ("number", "number float double"),
        ("string", "string str"),
        ("boolean", "boolean bool"),
        ("array", "array list"),
        ("object", "object dict map"),
    ]
    for word in words.split()
}
SCHEMA_KEYWORDS = frozenset(
    ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
     "maxLength", "pattern", "format", "enum", "const", "items", "minItems", "maxItems",
     "uniqueItems", "examples"]
)  # fmt: skip
KEYWORD_ALIASES = {
    "min": "minimum", "max": "maximum", "min_value": "minimum", "max_value": "maximum",
    "min_length": "minLength", "max_length": "maxLength", "regex": "pattern",
    "allowed_values": "enum", "choices": "enum", "options": "enum", "example": "examples",
}  # fmt: skip
# Names the seed's expressions use without declaring them; our model refuses undeclared names.
IMPLIED_INPUTS: dict[str, dict[str, Any]] = {
    "N": {"type": "integer", "default": 1, "minimum": 0,
          "description": "How many items (hosts, assets, series) the request covers."},
    "pages": {"type": "integer", "default": 1, "minimum": 0,
              "description": "How many result pages are fetched."},
    "p95_latency": {"type": "number", "default": 100, "minimum": 0,
                    "description": "95th percentile latency of the target, in milliseconds."},
}  # fmt: skip
SEED_CONSTANTS = {"pi": repr(math.pi), "e": repr(math.e)}  # the seed's evaluator knew these
EXAMPLE_TEXT_KEYS = ("query", "request", "question", "prompt", "description", "name")
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"

Convert = Callable[[Any, Loc], Any]


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
    conversion = _Conversion()
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


class _Conversion:
    """One document's conversion. It builds our tool as plain data and records where each seed
    field went; `ours` maps our JSON paths to seed locations, so model errors name seed fields."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, Loc, str]] = []
        self.notes: list[str] = []
        self.kept: list[str] = []
        self.unmapped: list[str] = []
        self.metadata: dict[str, Any] = {}
        self.ours: dict[str, Loc] = {}

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append((json_path(loc), loc, message))

    def note(self, loc: Loc, message: str) -> None:
        self.notes.append(f"{json_path(loc)}: {message}")

    def place(self, ours: Loc, seed: Loc) -> None:
        self.ours[json_path(ours)] = seed

    def keep(self, loc: Loc, value: Any) -> None:
        try:
            _put(self.metadata, loc, _jsonable(value))
        except ValueError as exc:
            self.unmapped.append(json_path(loc))
            self.note(loc, f"dropped: {exc}")
        else:
            self.kept.append(json_path(loc))

    def keep_rest(self, loc: Loc, rest: dict[str, Any]) -> None:
        for key, value in rest.items():
            self.keep((*loc, key), value)

    def move(
        self, rest: dict[str, Any], key: str, out: dict[str, Any], seed: Loc, ours: Loc,
        to: str | None = None, convert: Convert | None = None,
    ) -> None:  # fmt: skip
        """Pop `key` from the seed mapping `rest` into `out[to]`, converted, remembering where."""
        if key not in rest:
            return
        self.place((*ours, to or key), (*seed, key))
        value = rest.pop(key)
        value = convert(value, (*seed, key)) if convert else value
        if value is not None:
            out[to or key] = value

    def add_validation_errors(self, exc: ValidationError) -> None:
        known = {path for path, _, _ in self.problems}
        for problem in problems_from_validation(exc):
            probe = problem.path  # the longest placed prefix of our path, then our segments
            while probe and probe not in self.ours:
                probe = probe[: max(probe.rfind("."), probe.rfind("["), 0)]
            loc = self.ours.get(probe, ())
            path = (json_path(loc) + problem.path[len(probe) :]).lstrip(".")
            if path not in known:
                known.add(path)
                self.problems.append((path, loc, problem.message))

    # --- values ----------------------------------------------------------------------------------

    def number(self, value: Any, loc: Loc, high: float | None = None) -> float | None:
        number = _float(value)
        if number is None or number < 0 or (high is not None and number > high):
            wanted = f"a number between 0 and {high:g}" if high is not None else "a number >= 0"
            self.problem(loc, f"must be {wanted}, not {value!r}")
            return None
        return number

    def score(self, value: Any, loc: Loc) -> float | None:
        return self.number(value, loc, 1.0)

    def boolean(self, value: Any, loc: Loc) -> bool | None:
        if not isinstance(value, bool):
            self.problem(loc, f"must be true or false, not {value!r}")
            return None
        return value

    def expression(self, value: Any, loc: Loc, names: set[str], condition: bool) -> Any:
        """A number, or a checked expression whose input names are added to `names`."""
        if not condition and _float(value) is not None:
            return self.number(value, loc)
        wanted = "a condition such as 'N > 50'" if condition else "a number or an expression"
        if not isinstance(value, str):
            self.problem(loc, f"must be {wanted}, not {value!r}")
            return None
        text = value.strip()
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
            self.problem(loc, f"must be {wanted}, got {value!r}")
            return None
        names.update(parsed.names)
        return text

    def name(self, raw: Any, loc: Loc, what: str) -> str:
        name = _snake(str(raw))
        if name != str(raw):
            self.note(loc, f"{what} name {raw!r} -> {name!r}")
        return name

    # --- the tool --------------------------------------------------------------------------------

    def tool(self, doc: dict[Any, Any]) -> dict[str, Any]:
        rest = _keyed(doc)
        out: dict[str, Any] = {}
        self.place(("name",), ("tool_name",))
        raw = rest.pop("tool_name", None)
        if raw is not None and not _text(raw):
            self.problem(("tool_name",), f"must be the tool's name, not {raw!r}")
        elif raw is not None:
            out["name"] = self.name(raw, ("tool_name",), "tool")
            if out["name"] != raw:
                out["display_name"] = raw  # the name the seed's users know it by
        self.move(rest, "version", out, (), (), convert=self.version)
        self.move(rest, "description", out, (), ())
        self.move(rest, "enabled", out, (), (), convert=self.boolean)
        self.move(rest, "platform", out, (), (), convert=self.platform)
        self.move(
            rest, "category", out, (), (), convert=lambda v, loc: self.name(v, loc, "category")
        )
        if isinstance(metadata := rest.get("metadata"), dict):
            metadata = rest.pop("metadata")
            self.move(metadata, "tags", out, ("metadata",), (), convert=self.tags)
            self.move(metadata, "documentation_url", out, ("metadata",), (), "docs_url")
            self.keep_rest(("metadata",), _keyed(metadata))
        self.move(rest, "examples", out, (), (), convert=self.examples)
        defaults = rest.get("defaults")
        # The seed's patterns inherit `defaults`; only completeness has a home in our model.
        inherited = defaults.get("completeness") if isinstance(defaults, dict) else None
        self.place(("capabilities",), ("capabilities",))
        out["capabilities"] = self.capabilities(rest.pop("capabilities", None), inherited)
        self.keep_rest((), rest)
        if self.metadata:
            out["metadata"] = {"opsconductor": self.metadata}
        return out

    def version(self, value: Any, loc: Loc) -> str:
        text = str(value).strip()
        short = re.fullmatch(r"[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
        if re.match(SEMVER_RE, text) or short is None:
            return text
        semver = ".".join(str(int(part or 0)) for part in short.groups())
        self.note(loc, f"{text!r} -> {semver!r} (a semantic version)")
        return semver

    def platform(self, value: Any, loc: Loc) -> str:
        spelling = _snake(str(value))
        platform = PLATFORMS.get(spelling)
        if platform is not None and _snake(platform.value) == spelling:
            return platform.value
        unknown = "unknown platform " if platform is None else ""
        platform = platform or Platform.custom
        self.note(loc, f"{unknown}{value!r} -> {platform.value!r}")
        self.keep(loc, value)
        return platform.value

    def tags(self, value: Any, loc: Loc) -> list[str] | None:
        if not isinstance(value, list):
            self.problem(loc, "must be a list of tags")
            return None
        tags: list[str] = []
        for i, tag in enumerate(value):
            text = re.sub(r"[^a-z0-9_.+-]+", "-", str(tag).strip().lower()).strip("-_.+")
            if text != tag:
                self.note((*loc, i), f"tag {tag!r} -> {text!r}")
            if text:
                self.place(("tags", len(tags)), (*loc, i))
                tags.append(text)
            else:
                self.unmapped.append(json_path((*loc, i)))
        return tags

    def examples(self, value: Any, loc: Loc) -> list[Any] | None:
        if not isinstance(value, list):
            self.problem(loc, "must be a list of requests (strings, or maps with a description)")
            return None
        out: list[Any] = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                item = _keyed(item)
                key = next((k for k in EXAMPLE_TEXT_KEYS if _text(item.get(k))), None)
                if key is not None:
                    self.place(("examples", len(out)), (*loc, i, key))
                    out.append(item.pop(key))
                self.keep_rest((*loc, i), item)
            elif isinstance(item, str):
                self.place(("examples", len(out)), (*loc, i))
                out.append(item)
            else:
                self.keep((*loc, i), item)
        return out

    # --- capabilities and patterns ---------------------------------------------------------------

    def capabilities(self, value: Any, inherited: Any) -> list[dict[str, Any]]:
        if not isinstance(value, dict):
            if value is not None:
                self.problem(("capabilities",), "must be a mapping of name to capability")
            return []
        out = []
        for i, (key, spec) in enumerate(_keyed(value).items()):
            seed, ours = ("capabilities", key), ("capabilities", i)
            self.place(ours, seed)
            if not isinstance(spec, dict):
                self.problem(seed, "must be a mapping with 'description' and 'patterns'")
                continue
            rest = _keyed(spec)
            capability: dict[str, Any] = {"name": self.name(key, seed, "capability")}
            if "description" not in rest:
                rest["description"] = key.replace("_", " ").capitalize() + "."
                self.note(seed, f"no description; used {rest['description']!r}")
            self.move(rest, "description", capability, seed, ours)
            self.place((*ours, "patterns"), (*seed, "patterns"))
            patterns = rest.pop("patterns", None)
            if isinstance(patterns, dict):
                capability["patterns"] = [
                    self.pattern(
                        name, p, (*seed, "patterns", name), (*ours, "patterns", j), inherited
                    )
                    for j, (name, p) in enumerate(_keyed(patterns).items())
                ]
            elif patterns is not None:
                self.problem((*seed, "patterns"), "must be a mapping of name to pattern")
            self.keep_rest(seed, rest)
            out.append(capability)
        return out

    def pattern(self, key: str, spec: Any, seed: Loc, ours: Loc, inherited: Any) -> dict[str, Any]:
        self.place(ours, seed)
        out: dict[str, Any] = {"name": self.name(key, seed, "pattern")}
        if not isinstance(spec, dict):
            self.problem(seed, "must be a mapping (description, estimates, policy, inputs)")
            return out
        rest = _keyed(spec)
        self.move(rest, "description", out, seed, ours)
        self.move(rest, "typical_use_cases", out, seed, ours)
        properties, required = self.inputs(rest, seed, ours)
        names: set[str] = set()
        out["profile"] = self.profile(rest, seed, ours, names, inherited)
        self.place((*ours, "policy"), (*seed, "policy"))
        policy = rest.pop("policy", None)
        out["policy"] = self.policy(policy or {}, (*seed, "policy"), ours, names)
        for name in sorted(names - set(properties)):
            properties[name] = self.implied_input(name, seed)
        if properties:
            out["inputs"] = {"type": "object", "properties": properties}
            out["inputs"].update({"required": required} if required else {})
        self.place((*ours, "inputs"), seed)
        self.move(rest, "expected_outputs", out, seed, ours, "outputs", self.outputs)
        self.keep_rest(seed, rest)
        return out

    def implied_input(self, name: str, seed: Loc) -> dict[str, Any]:
        schema = dict(IMPLIED_INPUTS.get(name, {"type": "number"}))
        shown = f"default {schema['default']}" if "default" in schema else "no default"
        shown = f"{schema['type']}, {shown}"
        self.note(seed, f"its expressions use undeclared {name!r}: added it as an input ({shown})")
        return schema

    def profile(
        self, rest: dict[str, Any], seed: Loc, ours: Loc, names: set[str], inherited: Any
    ) -> dict[str, Any]:
        here = (*ours, "profile")
        profile: dict[str, Any] = {}
        estimate = lambda v, loc: self.expression(v, loc, names, False)  # noqa: E731
        self.move(rest, "time_estimate_ms", profile, seed, here, convert=estimate)
        self.move(rest, "cost_estimate", profile, seed, here, convert=estimate)
        prefs, pref_loc = rest.pop("preference_match", None), (*seed, "preference_match")
        if prefs is not None and not isinstance(prefs, dict):
            self.problem(pref_loc, "must be a mapping of dimension to a score 0..1")
        prefs = _keyed(prefs) if isinstance(prefs, dict) else {}
        if "complexity_score" in rest:
            self.move(rest, "complexity_score", profile, seed, here, "complexity", self.score)
        elif (simplicity := self.pref(prefs, "complexity", pref_loc, here)) is not None:
            profile["complexity"] = round(1.0 - simplicity, 6)
            note = f"{simplicity:g} (simplicity) -> complexity {profile['complexity']:g}"
            self.note((*pref_loc, "complexity"), note)
        if (accuracy := self.pref(prefs, "accuracy", pref_loc, here)) is not None:
            profile["accuracy"] = accuracy
        preference = self.pref(prefs, "completeness", pref_loc, here)
        label_loc: Loc = (*seed, "completeness")
        label = rest.pop("completeness", None)
        if label is None and inherited is not None:
            label, label_loc = inherited, ("defaults", "completeness")
        if label is not None:
            self.place((*here, "completeness"), label_loc)
        profile["completeness"] = self.completeness(label, preference, label_loc)
        self.move(rest, "limitations", profile, seed, here)
        self.keep_rest(pref_loc, prefs)  # speed and cost: ours come from the estimates
        return profile

    def pref(self, prefs: dict[str, Any], key: str, loc: Loc, here: Loc) -> float | None:
        if key not in prefs:
            return None
        self.place((*here, key), (*loc, key))
        return self.score(prefs.pop(key), (*loc, key))

    def completeness(self, label: Any, preference: float | None, loc: Loc) -> float:
        """See COMPLETENESS: the label's value, moved toward the preference by at most the band."""
        if label is not None and (number := _float(label)) is not None and 0 <= number <= 1:
            return number
        value = None
        if label is not None:
            words = re.findall(r"[a-z]+", str(label).lower())
            word = next((w for w in words if w in COMPLETENESS), None)
            if word is None:
                used = "preference_match.completeness" if preference is not None else None
                used = used or f"{UNKNOWN_COMPLETENESS:g}"
                self.note(loc, f"unknown completeness label {label!r}; used {used}")
            else:
                value = COMPLETENESS[word]
                if words != [word]:
                    self.note(loc, f"{label!r} read as {word!r} ({value:g})")
        if value is None:
            return UNKNOWN_COMPLETENESS if preference is None else preference
        if preference is None:
            return value
        band = (max(value - COMPLETENESS_BAND, 0.0), min(value + COMPLETENESS_BAND, 1.0))
        moved = round(min(max(preference, band[0]), band[1]), 6)
        if moved != preference:
            self.note(
                loc, f"{label!r} with preference_match.completeness {preference:g} -> {moved:g}"
            )
        return moved

    def policy(self, value: Any, seed: Loc, ours: Loc, names: set[str]) -> dict[str, Any]:
        here = (*ours, "policy")
        if not isinstance(value, dict):
            self.problem(seed, "must be a mapping")
            return {}
        rest, policy = _keyed(value), dict[str, Any]()
        if "production_safe" not in rest:
            self.note(seed, "production_safe not given: the seed read that as true, ours as false")
        self.move(rest, "production_safe", policy, seed, here, convert=self.boolean)
        self.move(rest, "requires_approval", policy, seed, here, convert=self.boolean)
        self.move(rest, "max_cost", policy, seed, here, convert=self.number)
        self.move(rest, "max_execution_time", policy, seed, here, "max_execution_time_ms", self.ms)
        condition = lambda v, loc: self.expression(v, loc, names, True)  # noqa: E731
        if "requires_background_if" in rest:  # then max_N_immediate stays in metadata
            self.move(rest, "requires_background_if", policy, seed, here, convert=condition)
        else:
            target = "requires_background_if"
            self.move(rest, "max_N_immediate", policy, seed, here, target, self.max_n)
            names.update(["N"] if target in policy else [])
        self.keep_rest(seed, rest)
        return policy

    def ms(self, value: Any, loc: Loc) -> int | None:
        if (seconds := self.number(value, loc)) is None:
            return None
        self.note(loc, f"{seconds:g} s -> max_execution_time_ms {round(seconds * 1000)}")
        return round(seconds * 1000)

    def max_n(self, value: Any, loc: Loc) -> str | None:
        if (limit := self.number(value, loc)) is None:
            return None
        self.note(loc, f"{limit:g} -> requires_background_if 'N > {limit:g}'")
        return f"N > {limit:g}"

    # --- inputs and outputs ----------------------------------------------------------------------

    def inputs(
        self, rest: dict[str, Any], seed: Loc, ours: Loc
    ) -> tuple[dict[str, Any], list[str]]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for key in ("required_inputs", "optional_inputs"):
            items = rest.pop(key, [])
            if not isinstance(items, list):
                self.problem((*seed, key), "must be a list of inputs (name, type, description...)")
                continue
            for i, item in enumerate(items):
                loc = (*seed, key, i)
                item = {"name": item} if isinstance(item, str) else item
                name = item.get("name") if isinstance(item, dict) else None
                if not isinstance(name, str) or not re.fullmatch(IDENTIFIER, name):
                    self.problem(loc, "must have a 'name' that is an identifier, e.g. max_depth")
                elif name in properties:
                    self.problem((*loc, "name"), f"input {name!r} is declared twice")
                else:
                    self.place((*ours, "inputs", "properties", name), loc)
                    properties[name] = self.property(_keyed(item), loc)
                    required.extend([name] if key == "required_inputs" else [])
        return properties, required

    def property(self, rest: dict[str, Any], loc: Loc) -> dict[str, Any]:
        """A seed input or output (without its name) as a JSON Schema."""
        rest.pop("name", None)
        schema: dict[str, Any] = {}
        kind = INPUT_TYPES.get(_snake(str(rest.get("type"))))
        if kind is not None:
            schema["type"] = kind
            del rest["type"]
        if "description" in rest:
            schema["description"] = rest.pop("description")
        if rest.get("default") is not None:
            schema["default"] = self.default(rest.pop("default"), kind, (*loc, "default"))
        rest.pop("default", None)  # null: no default, as the field's absence says
        if "validation" in rest:
            self.validation(rest.pop("validation"), kind, schema)
        for key in [k for k in rest if KEYWORD_ALIASES.get(k, k) in SCHEMA_KEYWORDS]:
            keyword, value = KEYWORD_ALIASES.get(key, key), rest.pop(key)
            schema[keyword] = [value] if key == "example" else value
        self.keep_rest(loc, rest)  # an unknown type, `required`, anything else
        return schema

    def default(self, value: Any, kind: str | None, loc: Loc) -> Any:
        converted = value
        if isinstance(value, str) and kind == "boolean" and value.lower() in ("true", "false"):
            converted = value.lower() == "true"
        elif isinstance(value, str) and kind in ("integer", "number") and _float(value) is not None:
            number = float(value)
            converted = int(number) if kind == "integer" and number.is_integer() else number
        if converted is not value:
            self.note(loc, f"{value!r} -> {json.dumps(converted)} ({kind})")
        return converted

    def validation(self, value: Any, kind: str | None, schema: dict[str, Any]) -> None:
        # A regex on a string is JSON Schema's `pattern`, a mapping of schema keywords merges in;
        # anything else (prose, a regex on a number) stays as written under x-validation.
        keywords = (
            {KEYWORD_ALIASES.get(str(k), str(k)) for k in value}
            if isinstance(value, dict)
            else set()
        )
        if isinstance(value, str) and kind in (None, "string") and _compiles(value):
            schema["pattern"] = value
        elif keywords and keywords <= SCHEMA_KEYWORDS:
            schema.update({KEYWORD_ALIASES.get(str(k), str(k)): v for k, v in value.items()})
        else:
            schema["x-validation"] = value

    def outputs(self, value: Any, loc: Loc) -> dict[str, Any] | None:
        if isinstance(value, str):
            return {"description": value}
        if not isinstance(value, list):
            self.problem(loc, "must be a list of outputs (names or maps with a name), or text")
            return None
        properties: dict[str, Any] = {}
        for i, item in enumerate(value):
            if isinstance(item, str):
                properties[item] = {}
            elif isinstance(item, dict) and _text(item.get("name")):
                properties[str(item["name"])] = self.property(_keyed(item), (*loc, i))
            else:
                self.problem((*loc, i), "must be a name or a mapping with a 'name'")
        return {"type": "object", "properties": properties}


def _keyed(mapping: dict[Any, Any]) -> dict[str, Any]:
    """A copy with string keys, so JSON paths and metadata keys are text (YAML allows `1:`)."""
    return {str(k): v for k, v in mapping.items()}


def _snake(text: str) -> str:
    """'Kubectl-Get' -> 'kubectl_get', 'SystemTools' -> 'system_tools'."""
    split = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text.strip())
    return re.sub(r"[^a-z0-9]+", "_", split.lower()).strip("_")


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _float(value: Any) -> float | None:
    """A finite number, or text that is one; true/false is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _jsonable(value: Any) -> Any:
    """YAML data as JSON data, dates as ISO text; ValueError for what JSON cannot hold."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number")
    if value is None or isinstance(value, str | int | float):
        return value
    raise ValueError(f"a {type(value).__name__} value has no JSON form")


def _put(root: dict[str, Any], loc: Loc, value: Any) -> None:
    """Set `value` at `loc` under `root`, making mappings (lists for indices) on the way."""
    node: Any = root
    for part, following in zip(loc, (*loc[1:], None), strict=True):
        if isinstance(part, int):
            node.extend([None] * (part + 1 - len(node)))
        if following is None:
            node[part] = value
        elif isinstance(part, int):
            node[part] = node[part] if node[part] is not None else _container(following)
            node = node[part]
        else:
            node = node.setdefault(part, _container(following))


def _container(following: int | str) -> list[Any] | dict[str, Any]:
    return [] if isinstance(following, int) else {}
