"""Load tool definitions from YAML or JSON files and folders, with file and line in errors.

A file holds one tool (a mapping), a list of tools, or `{tools: [...]}`. A file whose top
level has `vocabulary:` is the capability vocabulary (see `vocabulary.py`), one with
`environments:` the environment policies (see `environment.py`), not a tool.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from toolcatalog.collector import collector_paused
from toolcatalog.errors import InvalidDefinition, Problem
from toolcatalog.formats.problems import (
    Loc,
    nesting_problems,
    nul_problems,
    problems_from_validation,
)
from toolcatalog.model.tool import Tool

# libyaml's loader is ~10x faster; the pure-Python one is the fallback.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SUFFIXES = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_YAML_DEPTH = 64  # a tool definition nests about 8 deep; JSON Schemas of inputs a little more
MAX_EXPANDED_VALUES = 1_000_000
_FLOW = re.compile(r"[\[\]{}]")
_BLOCK_INDENT = re.compile(r"^[ \t?:-]*", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class LoadedTool:
    tool: Tool
    file: str | None
    index: int | None = None


@dataclass(slots=True)
class LoadResult:
    tools: list[LoadedTool] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    vocabulary_files: list[Path] = field(default_factory=list)
    environment_files: list[Path] = field(default_factory=list)  # top-level `environments:`
    notes: list[Problem] = field(default_factory=list)  # valid, but worth telling the user
    _files: dict[str, str | None] = field(default_factory=dict)

    def add_tool(self, loaded: LoadedTool, *, name_path: str = "name") -> bool:
        """Keep `loaded` unless a tool of that name came first (then a problem, and False)."""
        name = loaded.tool.name
        if name in self._files:
            message = f"tool {name!r} is also defined in {self._files[name]}"
            self.problems.append(Problem(name_path, message, loaded.file))
            return False
        self._files[name] = loaded.file
        self.tools.append(loaded)
        return True

    def raise_if_invalid(self) -> None:
        if self.problems:
            files = {p.file for p in self.problems if p.file}
            where = f" in {len(files)} file(s)" if files else ""
            raise InvalidDefinition(
                f"{len(self.problems)} problem(s){where}; nothing was imported", self.problems
            )


def iter_definition_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named on the command line, and every YAML/JSON file under named folders, sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        else:
            yield path


def read_definition_file(path: Path) -> str:
    """The file's text; InvalidDefinition naming the file when it is missing, too large or
    not UTF-8."""
    file = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidDefinition(
            f"{file} does not exist", [Problem("", "no such file or folder", file)]
        ) from None
    except OSError as exc:  # a symlink loop, a folder, no permission, ...
        reason = exc.strerror or str(exc)
        raise InvalidDefinition(
            f"{file} cannot be read", [Problem("", f"cannot read it: {reason}", file)]
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidDefinition(
            f"{file} is too large", [Problem("", f"file is over {MAX_FILE_BYTES} bytes", file)]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDefinition(
            f"{file} is not UTF-8", [Problem("", f"not UTF-8 text ({exc.reason})", file)]
        ) from None


def parse_text(text: str, file: str | None, suffix: str = ".yaml") -> Any:
    """Parse YAML or JSON text; a syntax error becomes InvalidDefinition with the line, and
    so does YAML nested or expanded (by aliases) beyond what any definition needs."""
    try:
        if suffix == ".json":
            return orjson.loads(text)
        _refuse_deep_yaml(text, file)
        data = yaml.load(text, Loader=_Loader)
        _refuse_alias_expansion(data, len(text), file)
        return data
    except orjson.JSONDecodeError as exc:
        raise InvalidDefinition(
            f"{file or 'input'} is not valid JSON",
            [Problem("", f"JSON syntax error: {exc}", file)],
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidDefinition(
            f"{file or 'input'} is not valid YAML",
            [Problem("", f"YAML syntax error: {problem}", file, line)],
        ) from None


def _documents(data: Any) -> tuple[list[Any], bool] | None:
    """The tool mappings in a parsed file, and whether they came from a list."""
    if isinstance(data, dict) and "vocabulary" in data:
        return None
    if isinstance(data, dict) and isinstance(data.get("tools"), list) and "name" not in data:
        return list(data["tools"]), True
    if isinstance(data, list):
        return data, True
    return [data], False


def validate_documents(
    data: Any, *, file: str | None, text: str | None = None
) -> tuple[list[LoadedTool], list[Problem], bool]:
    """Validate parsed data; returns tools, problems and whether it was a vocabulary file."""
    docs = _documents(data)
    if docs is None:
        return [], [], True
    items, listed = docs
    # Validation makes no reference cycles, and the collector walking the tools validated so
    # far was two thirds of it (30,000 generated tools: 248 -> 86 us a tool, load ~6).
    with collector_paused():
        tools, problems = _validated(items, listed, file, text)
    return tools, problems, False


def _validated(
    items: list[Any], listed: bool, file: str | None, text: str | None
) -> tuple[list[LoadedTool], list[Problem]]:
    tools: list[LoadedTool] = []
    problems: list[Problem] = []
    line_index: LineIndex | None = None
    for i, item in enumerate(items):
        prefix: Loc = (i,) if listed else ()
        if not isinstance(item, dict):
            kind = type(item).__name__ if item is not None else "empty"
            problems.append(
                Problem(
                    f"[{i}]" if listed else "",
                    f"a tool definition must be a mapping, found {kind}",
                    file,
                )
            )
            continue
        nul = nesting_problems(item, prefix) or nul_problems(item, prefix)
        if nul:
            problems += [Problem(p.path, p.message, file) for p in nul]
            continue
        try:
            tools.append(LoadedTool(Tool.model_validate(item), file, i if listed else None))
        except ValidationError as exc:
            if line_index is None and text is not None:
                line_index = LineIndex(text, file)
            problems.extend(
                problems_from_validation(
                    exc, file=file, prefix=prefix, line_of=line_index.line if line_index else None
                )
            )
    return tools, problems


def load_paths(paths: Iterable[Path | str]) -> LoadResult:
    """Load every definition under `paths`; collects all problems instead of stopping early."""
    with collector_paused():  # across the files too (see validate_documents)
        return _loaded(paths)


def _loaded(paths: Iterable[Path | str]) -> LoadResult:
    result = LoadResult()
    for path in iter_definition_files(Path(p) for p in paths):
        file = str(path)
        try:
            text = read_definition_file(path)
            data = parse_text(text, file, path.suffix)
        except InvalidDefinition as exc:
            result.problems.extend(exc.problems)
            continue
        if isinstance(data, dict) and "environments" in data and "name" not in data:
            result.environment_files.append(path)
            continue
        tools, problems, is_vocab = validate_documents(data, file=file, text=text)
        if is_vocab:
            result.vocabulary_files.append(path)
        result.problems.extend(problems)
        for loaded in tools:
            if result.add_tool(loaded):
                result.notes += undeclared_effects(data, loaded)
    return result


def undeclared_effects(data: Any, loaded: LoadedTool) -> list[Problem]:
    """A note per pattern whose definition gives no `effect` (the model inferred one from its
    policy: read when production-safe without approval, else change)."""
    docs = _documents(data)
    if docs is None:
        return []
    item = docs[0][loaded.index or 0]
    prefix = f"[{loaded.index}]." if loaded.index is not None else ""
    notes = []
    for i, cap in enumerate(item.get("capabilities") or []):
        for j, pat in enumerate(cap.get("patterns") or [] if isinstance(cap, dict) else []):
            if isinstance(pat, dict) and "effect" not in pat:
                effect = loaded.tool.capabilities[i].patterns[j].effect.value
                notes.append(
                    Problem(
                        f"{prefix}capabilities[{i}].patterns[{j}].effect",
                        f"not declared; read as {effect!r} from its policy (declare read, "
                        "change or destructive)",
                        loaded.file,
                    )
                )
    return notes


class LineIndex:
    """Maps a location in a YAML document to its line, built only when an error needs it."""

    def __init__(self, text: str, file: str | None) -> None:
        self._lines: dict[Loc, int] = {}
        try:
            node = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError:  # pragma: no cover - the text already parsed once
            return
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, loc: Loc) -> None:
        self._lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = key.value
                self._lines[(*loc, name)] = key.start_mark.line + 1
                self._walk(value, (*loc, name))
        elif isinstance(node, yaml.SequenceNode):
            for i, value in enumerate(node.value):
                self._walk(value, (*loc, i))

    def line(self, loc: Loc) -> int | None:
        # The deepest known ancestor: a missing field points at its parent mapping.
        probe = tuple(loc)
        while probe:
            if probe in self._lines:
                return self._lines[probe]
            probe = probe[:-1]
        return self._lines.get(())


def _refuse_deep_yaml(text: str, file: str | None) -> None:
    """libyaml crashes the process (a segmentation fault) on 100,000 nested `[` (200 KB), and
    needs 23 s for them even when it copes: bound the depth first with a linear pre-scan.
    An upper bound: every level is an opening bracket or at least one character of
    indentation or block indicator; brackets inside quoted strings only make it larger."""
    depth = deepest = 0
    for m in _FLOW.finditer(text):
        depth = depth + 1 if m.group() in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    indent = max((len(m.group()) for m in _BLOCK_INDENT.finditer(text)), default=0)
    if deepest > MAX_YAML_DEPTH or indent > 4 * MAX_YAML_DEPTH:
        raise InvalidDefinition(
            f"{file or 'input'} nests too deeply",
            [Problem("", f"at most {MAX_YAML_DEPTH} levels of nesting are accepted", file)],
        )


def _refuse_alias_expansion(data: Any, size: int, file: str | None) -> None:
    """Aliases (`*a`) share nodes, so a 600-byte file can stand for a billion values
    ("billion laughs") that validation would walk for hours. Without aliases a document has
    fewer values than characters; count values as they would be walked, each alias as often
    as it is used, and stop past that (or 1,000,000, for small files with a few aliases)."""
    budget = max(size, MAX_EXPANDED_VALUES)
    stack = [data]
    while stack:
        node = stack.pop()
        budget -= 1
        if budget < 0:
            raise InvalidDefinition(
                f"{file or 'input'} expands into too many values",
                [Problem("", "its aliases (*name) expand into more than "
                         f"{max(size, MAX_EXPANDED_VALUES):,} values; write them out or "
                         "use fewer", file)],
            )  # fmt: skip
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
