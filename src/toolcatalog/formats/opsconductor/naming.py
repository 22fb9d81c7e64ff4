"""Meaning for the seed's generic names: most seed tools call their one capability
`primary_capability` and its one pattern `execute`, which tells selection nothing. The capability
becomes the vocabulary entry whose words best match the tool's own (name, description, category,
tags, use cases), the pattern a name drawn from the description; both deterministic, reported,
and overridable per tool by a mapping file."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.opsconductor.bookkeeping import Bookkeeping, Kind
from toolcatalog.formats.opsconductor.values import is_text, snake
from toolcatalog.formats.problems import problems_from_validation
from toolcatalog.model.fields import SNAKE_RE
from toolcatalog.model.tool import Platform
from toolcatalog.model.vocabulary import Vocabulary

GENERIC_CAPABILITIES = frozenset({"primary_capability", "main_capability", "capability", "default"})
GENERIC_PATTERNS = frozenset({"execute", "run", "default", "main", "invoke", "primary"})
# A pattern description that only says "run the tool" ("Execute at command").
GENERIC_DESCRIPTION = re.compile(r"^(execute|run|use|invoke)\b.{0,40}$", re.IGNORECASE)
STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and or the of for to in on with from by via using use used into over per its it is "
        "be "
        "as at this that these all any some command commands tool tools utility cli execute run "
        "primary capability based line client sdk library framework toolkit ui",
    )
)
# Words too common in tool descriptions to tell capabilities apart ("AWS EC2 management" matched
# alert_management, "Command Line Interface" interface_config): they never pick an entry.
VAGUE_WORDS = frozenset(
    re.findall(
        r"\w+",
        "management manage interface info information display show get set status data detail "
        "detailed modern legacy simple advanced new execution",
    )
)
PATTERN_WORDS = 4
# Where a word of the tool counts, and where a word of a vocabulary entry counts.
TOOL_WEIGHTS = {"name": 2.0, "description": 1.5, "category": 1.0, "tags": 1.0, "uses": 1.0}
ENTRY_WEIGHTS = {"name": 3.0, "aliases": 2.0, "description": 1.0}


class MappingEntry(BaseModel):
    """What the mapping file may set for one tool (by its seed name or ours)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capability: Annotated[str, Field(pattern=SNAKE_RE)] | None = None
    pattern: Annotated[str, Field(pattern=SNAKE_RE)] | None = None
    platform: Platform | None = None
    category: Annotated[str, Field(pattern=SNAKE_RE)] | None = None


def load_mapping(path: Path) -> dict[str, MappingEntry]:
    """A mapping file: `tool: {capability, pattern, platform, category}` per tool; refused with
    every problem (path, file, line-free) when it is not that."""
    file = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problem = Problem("", f"cannot read the mapping file: {exc}", file)
        raise InvalidDefinition(f"{file} is not a mapping file", [problem]) from None
    if not isinstance(data, dict):
        problem = Problem("", "must be a mapping of tool name to {capability, pattern, ...}", file)
        raise InvalidDefinition(f"{file} is not a mapping file", [problem])
    out: dict[str, MappingEntry] = {}
    problems: list[Problem] = []
    for name, entry in data.items():
        try:
            out[str(name)] = MappingEntry.model_validate(entry)
        except ValidationError as exc:
            problems += problems_from_validation(exc, file=file, prefix=(str(name),))
    if problems:
        raise InvalidDefinition(f"{file}: {len(problems)} problem(s)", problems)
    return out


def words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS]


def stem(word: str) -> str:
    """A crude stem, the same for a word's usual forms: schedule/scheduled, file/files,
    process/processes."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


VAGUE_STEMS = frozenset(stem(w) for w in VAGUE_WORDS)


class Naming:
    """Gives generic seed names a meaning; `vocabulary` None derives capability names from the
    description too."""

    def __init__(
        self, vocabulary: Vocabulary | None, overrides: dict[str, MappingEntry] | None = None
    ) -> None:
        self.vocabulary = vocabulary
        self.overrides = overrides or {}
        self._entries: list[tuple[str, dict[str, float]]] = []
        if vocabulary is not None:
            for entry in vocabulary.vocabulary:
                bag: dict[str, float] = {}
                for field, text in (
                    ("name", entry.name.replace("_", " ")),
                    ("aliases", " ".join(entry.aliases).replace("_", " ")),
                    ("description", entry.description),
                ):
                    for word in {stem(w) for w in words(text)}:
                        bag[word] = max(bag.get(word, 0.0), ENTRY_WEIGHTS[field])
                self._entries.append((entry.name, bag))
        df = Counter(w for _, bag in self._entries for w in bag)
        self._idf = {w: math.log(1 + len(self._entries) / n) for w, n in df.items()}

    def apply(self, data: dict[str, Any], doc: dict[str, Any], conversion: Bookkeeping) -> None:
        """Rename generic capabilities and patterns of the converted `data` in place."""
        name = str(data.get("name", ""))
        override = self.overrides.get(name) or self.overrides.get(str(doc.get("tool_name")))
        override = override or MappingEntry()
        for key in ("platform", "category"):
            value = getattr(override, key)
            if value is not None:
                detail = f"{data.get(key)!r} -> {str(value)!r} (mapping file)"
                conversion.note((key,), Kind.renamed, f"{key} set by the mapping file", detail)
                data[key] = str(value)
        capabilities = data.get("capabilities") or []
        taken = {c["name"] for c in capabilities}
        for i, capability in enumerate(capabilities):
            self._capability(data, capability, i, override, taken, conversion)

    def _capability(
        self, data: dict[str, Any], capability: dict[str, Any], i: int,
        override: MappingEntry, taken: set[str], conversion: Bookkeeping,
    ) -> None:  # fmt: skip
        seed = conversion.ours.get(f"capabilities[{i}]", ("capabilities", i))
        old = capability["name"]
        only = len(data["capabilities"]) == 1
        if old in GENERIC_CAPABILITIES or (override.capability and only):
            new, how = self.capability_for(data, override)
            if new not in taken:
                taken.discard(old)
                taken.add(new)
                capability["name"] = new
                topic = "generic capability names mapped" + (
                    " by the mapping file" if override.capability else f" {how}"
                )
                conversion.note(seed, Kind.renamed, topic, f"capability {old!r} -> {new!r}")
                said = str(capability.get("description", ""))
                generic = GENERIC_DESCRIPTION.match(said) or "primary capability" in said
                if generic and is_text(data.get("description")):
                    detail = f"{said!r} -> the tool's description"
                    topic = "generic capability descriptions replaced"
                    conversion.note(seed, Kind.converted, topic, detail)
                    capability["description"] = data["description"]
        self._patterns(data, capability, i, seed, override, conversion)

    def _patterns(
        self, data: dict[str, Any], capability: dict[str, Any], i: int, seed: Any,
        override: MappingEntry, conversion: Bookkeeping,
    ) -> None:  # fmt: skip
        patterns = capability.get("patterns") or []
        pattern_names = {p["name"] for p in patterns}
        for j, pattern in enumerate(patterns):
            if pattern["name"] not in GENERIC_PATTERNS and not (
                override.pattern and len(patterns) == 1
            ):
                continue
            text = pattern.get("description", "")
            where = conversion.ours.get(f"capabilities[{i}].patterns[{j}]", seed)
            if (not text or GENERIC_DESCRIPTION.match(text)) and is_text(data.get("description")):
                text = data["description"]
                detail = f"{pattern.get('description')!r} -> the tool's description"
                topic = "generic pattern descriptions replaced"
                conversion.note(where, Kind.converted, topic, detail)
                pattern["description"] = text
            new = override.pattern or self.phrase(text, data.get("name", "")) or pattern["name"]
            if new != pattern["name"] and new not in pattern_names:
                topic = "generic pattern names " + (
                    "set by the mapping file" if override.pattern else "drawn from the description"
                )
                detail = f"pattern {pattern['name']!r} -> {new!r}"
                conversion.note(where, Kind.renamed, topic, detail)
                pattern_names.add(new)
                pattern["name"] = new

    def capability_for(self, data: dict[str, Any], override: MappingEntry) -> tuple[str, str]:
        """The capability name for a tool, and how it was found."""
        if override.capability:
            return override.capability, "by the mapping file"
        name = str(data.get("name", ""))
        if self.vocabulary is not None:
            if (canonical := self.vocabulary.resolve(name)) is not None:
                return canonical, "to the vocabulary"
            best = self.best_entry(data)
            if best is not None:
                return best, "to the vocabulary"
        derived = self.phrase(str(data.get("description", "")), name)
        return derived or f"{name}_operations", "from the description (no vocabulary match)"

    def best_entry(self, data: dict[str, Any]) -> str | None:
        weights: dict[str, float] = {}
        uses = [
            use
            for cap in data.get("capabilities") or []
            for pattern in cap.get("patterns") or []
            for use in pattern.get("typical_use_cases") or []
        ]
        for field, text in (
            ("name", str(data.get("name", "")).replace("_", " ")),
            ("description", str(data.get("description", ""))),
            ("category", str(data.get("category", "")).replace("_", " ")),
            ("tags", " ".join(str(t) for t in data.get("tags") or [])),
            ("uses", " ".join(str(u) for u in uses)),
        ):
            for word in {stem(w) for w in words(text)} - VAGUE_STEMS:
                weights[word] = max(weights.get(word, 0.0), TOOL_WEIGHTS[field])
        best: tuple[float, str] = (0.0, "")
        for name, bag in self._entries:
            shared = [t for t in weights if t in bag]
            # One shared word is evidence only when it names the entry ("log" for log_search);
            # a word of a description alone ("file") picked system_repair for `cat`.
            if len(shared) < 2 and not any(bag[t] >= ENTRY_WEIGHTS["name"] for t in shared):
                continue
            score = sum(weights[t] * bag[t] * self._idf[t] for t in shared)
            if score > best[0] or (score == best[0] and name < best[1]):
                best = (score, name)
        return best[1] or None

    @staticmethod
    def phrase(text: str, tool: str) -> str:
        """Up to PATTERN_WORDS content words of `text` as a snake_case name, without the tool's
        own name words ("Schedule one-time command execution" -> schedule_one_time_execution)."""
        own = set(tool.split("_"))
        chosen = [w for w in words(text) if w not in own and not w.isdigit()][:PATTERN_WORDS]
        name = snake("_".join(chosen))[:48].strip("_")
        return name if re.fullmatch(SNAKE_RE, name) else ""
