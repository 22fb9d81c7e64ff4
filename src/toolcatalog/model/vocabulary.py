"""The shared capability vocabulary: canonical names, what they mean, and their aliases.

Stage A classifiers emit capability names from their own vocabularies; aliases map those
names onto ours so that a request's capabilities can be compared with a tool's.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from toolcatalog.model.fields import SNAKE_RE

CapabilityName = Annotated[str, Field(pattern=SNAKE_RE)]


class VocabularyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: CapabilityName
    description: Annotated[str, Field(min_length=1, max_length=1000)]
    aliases: list[CapabilityName] = Field(default_factory=list)


class Vocabulary(BaseModel):
    """All entries; every name and alias resolves to exactly one canonical name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocabulary: list[VocabularyEntry]

    _index: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _names_and_aliases_are_unique(self) -> Vocabulary:
        index: dict[str, str] = {}
        for entry in self.vocabulary:
            for word in (entry.name, *entry.aliases):
                if word in index:
                    first = index[word]
                    raise ValueError(
                        f"{word!r} is listed twice (under {first!r} and {entry.name!r})"
                    )
                index[word] = entry.name
        self._index = index
        return self

    def resolve(self, name: str) -> str | None:
        """The canonical name for `name` (itself or an alias), or None when unknown."""
        return self._index.get(name)

    def names(self) -> list[str]:
        return [e.name for e in self.vocabulary]
