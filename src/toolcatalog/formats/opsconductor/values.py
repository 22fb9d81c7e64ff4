"""The seed's vocabularies as tables, and the small pure functions the conversion uses."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from toolcatalog.formats.problems import Loc
from toolcatalog.model.tool import Platform

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


def keyed(mapping: dict[Any, Any]) -> dict[str, Any]:
    """A copy with string keys, so JSON paths and metadata keys are text (YAML allows `1:`)."""
    return {str(k): v for k, v in mapping.items()}


def snake(text: str) -> str:
    """'Kubectl-Get' -> 'kubectl_get', 'SystemTools' -> 'system_tools'."""
    split = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text.strip())
    return re.sub(r"[^a-z0-9]+", "_", split.lower()).strip("_")


def is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def to_float(value: Any) -> float | None:
    """A finite number, or text that is one; true/false is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def jsonable(value: Any) -> Any:
    """YAML data as JSON data, dates as ISO text; ValueError for what JSON cannot hold."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number")
    if value is None or isinstance(value, str | int | float):
        return value
    raise ValueError(f"a {type(value).__name__} value has no JSON form")


def put(root: dict[str, Any], loc: Loc, value: Any) -> None:
    """Set `value` at `loc` under `root`, making mappings (lists for indices) on the way."""
    node: Any = root
    for part, following in zip(loc, (*loc[1:], None), strict=True):
        if isinstance(part, int):
            node.extend([None] * (part + 1 - len(node)))
        if following is None:
            node[part] = value
        elif isinstance(part, int):
            node[part] = node[part] if node[part] is not None else container(following)
            node = node[part]
        else:
            node = node.setdefault(part, container(following))


def container(following: int | str) -> list[Any] | dict[str, Any]:
    return [] if isinstance(following, int) else {}
