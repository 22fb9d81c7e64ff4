"""One seed tool document as our tool's plain data: tool-level fields, then capabilities."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from toolcatalog.formats.opsconductor.bookkeeping import Kind
from toolcatalog.formats.opsconductor.patterns import PatternFields
from toolcatalog.formats.opsconductor.values import (
    EXAMPLE_TEXT_KEYS,
    PLATFORMS,
    is_text,
    keyed,
    snake,
)
from toolcatalog.formats.problems import Loc
from toolcatalog.model.fields import SEMVER_RE
from toolcatalog.model.tool import Platform

# The seed's tool statuses as ours; another value stays in metadata.
STATUSES = {
    "active": "active", "deprecated": "deprecated", "disabled": "disabled",
    "testing": "experimental", "draft": "experimental", "experimental": "experimental",
}  # fmt: skip


class Conversion(PatternFields):
    """One document's conversion. It builds our tool as plain data and records where each seed
    field went; `ours` maps our JSON paths to seed locations, so model errors name seed fields."""

    def tool(self, doc: dict[Any, Any]) -> dict[str, Any]:
        rest = keyed(doc)
        out: dict[str, Any] = {}
        self.place(("name",), ("tool_name",))
        raw = rest.pop("tool_name", None)
        if raw is not None and not is_text(raw):
            self.problem(("tool_name",), f"must be the tool's name, not {raw!r}")
        elif raw is not None:
            out["name"] = self.name(raw, ("tool_name",), "tool")
            if out["name"] != raw:
                out["display_name"] = raw  # the name the seed's users know it by
        self.move(rest, "version", out, (), (), convert=self.version)
        self.move(rest, "description", out, (), ())
        self.move(rest, "enabled", out, (), (), convert=self.boolean)
        if str(rest.get("status", "")).lower() in STATUSES:
            self.move(rest, "status", out, (), (), convert=self.status)
        self.move(rest, "platform", out, (), (), convert=self.platform)
        self.move(
            rest, "category", out, (), (), convert=lambda v, loc: self.name(v, loc, "category")
        )
        if isinstance(metadata := rest.get("metadata"), dict):
            metadata = rest.pop("metadata")
            self.move(metadata, "tags", out, ("metadata",), (), convert=self.tags)
            self.move(metadata, "documentation_url", out, ("metadata",), (), "docs_url")
            self.keep_rest(("metadata",), keyed(metadata))
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

    def status(self, value: Any, loc: Loc) -> str:
        status = STATUSES[str(value).lower()]
        if status != value:
            self.note(loc, Kind.converted, "statuses mapped", f"{value!r} -> {status!r}")
        return status

    def version(self, value: Any, loc: Loc) -> str:
        text = str(value).strip()
        short = re.fullmatch(r"[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
        if re.match(SEMVER_RE, text) or short is None:
            return text
        semver = ".".join(str(int(part or 0)) for part in short.groups())
        topic = "versions made semantic"
        self.note(loc, Kind.converted, topic, f"{text!r} -> {semver!r} (a semantic version)")
        return semver

    def platform(self, value: Any, loc: Loc) -> str:
        spelling = snake(str(value))
        platform = PLATFORMS.get(spelling)
        if platform is not None and snake(platform.value) == spelling:
            return platform.value
        unknown = "unknown platform " if platform is None else ""
        platform = platform or Platform.custom
        topic = "unknown platforms -> custom" if unknown else "platforms coarsened"
        self.note(loc, Kind.converted, topic, f"{unknown}{value!r} -> {platform.value!r}")
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
                self.note((*loc, i), Kind.renamed, "tags normalised", f"tag {tag!r} -> {text!r}")
            if text:
                self.place(("tags", len(tags)), (*loc, i))
                tags.append(text)
            else:
                self.note((*loc, i), Kind.dropped, "tags empty once normalised", "dropped")
        return tags

    def examples(self, value: Any, loc: Loc) -> list[Any] | None:
        if not isinstance(value, list):
            self.problem(loc, "must be a list of requests (strings, or maps with a description)")
            return None
        out: list[Any] = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                item = keyed(item)
                key = next((k for k in EXAMPLE_TEXT_KEYS if is_text(item.get(k))), None)
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
        out = []
        for i, (key, rest, seed, name_loc) in enumerate(
            self.entries(value, ("capabilities",), "capability")
        ):
            ours = ("capabilities", i)
            self.place(ours, seed)
            capability: dict[str, Any] = {"name": self.name(key, name_loc, "capability")}
            if "description" not in rest:
                rest["description"] = key.replace("_", " ").capitalize() + "."
                detail = f"no description; used {rest['description']!r}"
                self.note(seed, Kind.defaulted, "capability descriptions from names", detail)
            self.move(rest, "description", capability, seed, ours)
            self.place((*ours, "patterns"), (*seed, "patterns"))
            if "patterns" in rest:
                capability["patterns"] = [
                    self.pattern(name, p, p_seed, p_name_loc, (*ours, "patterns", j), inherited)
                    for j, (name, p, p_seed, p_name_loc) in enumerate(
                        self.entries(rest.pop("patterns"), (*seed, "patterns"), "pattern")
                    )
                ]
            self.keep_rest(seed, rest)
            out.append(capability)
        return out

    def entries(
        self, value: Any, loc: Loc, what: str
    ) -> Iterator[tuple[str, dict[str, Any], Loc, Loc]]:
        """Named entries written either way the seed wrote them: a mapping of name to entry (its
        YAML files), or a list of entries naming themselves by `<what>_name` (its API bodies and
        `prometheus.yaml`). Yields name, the entry's other fields, its seed path and its name's."""
        key_field = f"{what}_name"
        if isinstance(value, dict):
            for key, spec in keyed(value).items():
                if isinstance(spec, dict):
                    yield key, keyed(spec), (*loc, key), (*loc, key)
                else:
                    self.problem((*loc, key), f"must be a mapping: the {what}'s fields")
        elif isinstance(value, list):
            for i, spec in enumerate(value):
                rest = keyed(spec) if isinstance(spec, dict) else None
                name = rest.pop(key_field, rest.pop("name", None)) if rest is not None else None
                if rest is None:
                    self.problem((*loc, i), f"must be a mapping with {key_field!r} and its fields")
                elif not is_text(name):
                    self.problem((*loc, i, key_field), f"is required: the {what}'s name")
                else:
                    yield str(name), rest, (*loc, i), (*loc, i, key_field)
        elif value is not None:
            self.problem(
                loc, f"must be a mapping of name to {what}, or a list of {what}s with {key_field!r}"
            )
