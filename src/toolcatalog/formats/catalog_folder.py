"""A catalog folder: tool files plus an optional capability vocabulary (capabilities.yaml) and
environment policies (environments.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from toolcatalog.errors import InvalidDefinition
from toolcatalog.formats.definitions import LoadResult, load_paths, parse_text, read_definition_file
from toolcatalog.formats.problems import problems_from_validation
from toolcatalog.model.environment import EnvironmentPolicies
from toolcatalog.model.tool import Tool
from toolcatalog.model.vocabulary import Vocabulary


def load_vocabulary(path: Path) -> Vocabulary:
    """Read a vocabulary file; raises InvalidDefinition naming the file (and the line of a
    syntax error) when it cannot be read, parsed or validated."""
    data = parse_text(read_definition_file(path), str(path), path.suffix)
    try:
        return Vocabulary.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation(exc, file=str(path))
        raise InvalidDefinition(f"{path} is not a valid vocabulary", problems) from None


def load_environments(path: Path) -> EnvironmentPolicies:
    """Read an environments file (`environments: {name: rules}`); raises InvalidDefinition
    naming the file when it cannot be read, parsed or validated."""
    data = parse_text(read_definition_file(path), str(path), path.suffix)
    try:
        return EnvironmentPolicies.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation(exc, file=str(path))
        raise InvalidDefinition(f"{path} is not a valid environments file", problems) from None


def folder_environments(result: LoadResult) -> EnvironmentPolicies | None:
    """The environment policies of a loaded folder (the last file wins), or None."""
    policies = None
    for path in result.environment_files:
        policies = load_environments(path)
    return policies


@dataclass(frozen=True, slots=True)
class CatalogFolder:
    tools: list[Tool]
    vocabulary: Vocabulary | None
    environments: EnvironmentPolicies | None


def read_catalog_folder(*paths: Path | str) -> CatalogFolder:
    """Every tool under `paths`, the vocabulary and the environment policies if there; raises
    InvalidDefinition listing every problem when any file is invalid."""
    result = load_paths(paths)
    result.raise_if_invalid()
    vocabulary = None
    for vocab_file in result.vocabulary_files:
        vocabulary = load_vocabulary(vocab_file)
    tools = [lt.tool for lt in result.tools]
    return CatalogFolder(tools, vocabulary, folder_environments(result))


def load_catalog_folder(*paths: Path | str) -> tuple[list[Tool], Vocabulary | None]:
    """Every tool under `paths` and the vocabulary if one is there (see read_catalog_folder)."""
    folder = read_catalog_folder(*paths)
    return folder.tools, folder.vocabulary
