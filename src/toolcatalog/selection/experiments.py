"""A/B experiments over the selector's configuration: what a variant may change, how a caller
is assigned to one (sticky, with no state: a hash of the experiment and the subject), and the
configuration a selection runs with.

A variant may set preference weights (used when the request states no preference),
the preference share of the score, retrieval (semantic on or off) and the tie margin.
Assignment hashes "experiment:subject" (the request's session_id, else the API key's name)
onto [0, 1) and walks the variants' cumulative shares: the same subject gets the same
variant on every replica and after every restart. A request with neither subject is not in
the experiment (it runs the default configuration and records no variant)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from toolcatalog.selection.models import Weights

NAME_RE = r"^[a-z][a-z0-9_-]{0,63}$"


class VariantConfig(BaseModel):
    """A selector configuration; what is left out stays as configured."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: Weights | None = Field(
        default=None,
        description="Preference weights for requests that state none (normalised).",
    )
    preference_share: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None,
        description="The preferences' share of the score (0.25 by default without a stated "
        "preference, 0.4 with one).",
    )
    semantic: bool | None = Field(
        default=None, description="Retrieval: false for lexical only, true for hybrid."
    )
    tie_margin: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None, description="Score gap under which the top two are a tie."
    )


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=NAME_RE)]
    share: Annotated[float, Field(gt=0, le=1000)] = Field(
        default=1.0, description="Relative share of the subjects (the split), e.g. 50 and 50."
    )
    config: VariantConfig = Field(default_factory=VariantConfig)


class ExperimentSpec(BaseModel):
    """POST /api/v1/experiments: starts at once; one experiment runs at a time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=NAME_RE)]
    description: Annotated[str, Field(max_length=2000)] = ""
    variants: Annotated[list[Variant], Field(min_length=2, max_length=10)]

    @model_validator(mode="after")
    def _distinct_names(self) -> ExperimentSpec:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be distinct; got {names}")
        return self


@dataclass(frozen=True, slots=True)
class RunningExperiment:
    name: str
    variants: tuple[Variant, ...]

    def assign(self, subject: str) -> Variant:
        """The subject's variant: the same for the same subject, everywhere."""
        digest = hashlib.sha256(f"{self.name}:{subject}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
        total = sum(v.share for v in self.variants)
        edge = 0.0
        for variant in self.variants:
            edge += variant.share / total
            if point < edge:
                return variant
        return self.variants[-1]


@dataclass(frozen=True, slots=True)
class Assignment:
    """The configuration one selection runs with, and the variant to record."""

    config: VariantConfig | None
    experiment: str | None = None
    variant: str | None = None


def assignment(
    running: RunningExperiment | None, promoted: VariantConfig | None, subject: str | None
) -> Assignment:
    """A running experiment's variant for `subject`, else the promoted configuration."""
    if running is not None and subject:
        variant = running.assign(subject)
        return Assignment(variant.config, running.name, variant.name)
    return Assignment(promoted)
