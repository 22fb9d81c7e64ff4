"""What every part of a tool definition shares: its name patterns, text lengths, free-form JSON
and the validation context of a definition read back from the store (STORED)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationInfo

from toolcatalog.model.limits import check_json

TOOL_NAME_RE = r"^[a-z][a-z0-9_]{1,63}$"
SNAKE_RE = r"^[a-z][a-z0-9_]{0,63}$"
SEMVER_RE = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
)

# The validation context for a definition this catalog stored (`Tool.model_validate(d,
# context=STORED)`): it was validated in full when written, and canonical_definition wrote it,
# so the checks that only guard writes and cost the most to repeat are skipped (evaluating
# estimate expressions at the input defaults, walking free-form JSON for its limits): a
# whole read of 100,000 tools spent half its validation there. Types, required fields and
# value constraints are still checked, so a row that stopped validating (a rule tightened,
# an edit in SQL) is still found.
STORED: dict[str, bool] = {"stored": True}


def is_stored(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and info.context.get("stored") is True


def checked_json(value: Any, info: ValidationInfo) -> Any:
    return value if is_stored(info) else check_json(value)


ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=10_000)]

JsonSchema = dict[str, Any]
