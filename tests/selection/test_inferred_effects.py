"""A catalog that declares no effects (descriptions only): the model infers `read` from a
production-safe policy, which says nothing about what the tool does, so intent neither blocks
nor demotes it; between declared effects the no-substitution rule still holds."""

from __future__ import annotations

from pathlib import Path

from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector

from .selection_catalog import ask, terse_tool, write_catalog


def _selector(tmp_path: Path, files: dict[str, str]) -> Selector:
    folder = write_catalog(tmp_path / "catalog", files)
    return Selector(FolderSource(folder, check_interval_s=0), Settings(llm_url=None))


def test_a_change_request_on_a_description_only_catalog_is_decided_by_its_inferredterse_tool(
    tmp_path: Path,
) -> None:
    selector = _selector(
        tmp_path,
        {
            "mail.yaml": terse_tool(
                "mailer", "Send an email message to any address with attachments."
            ),
            "weather.yaml": terse_tool(
                "weather", "Weather forecast for any city, today and tomorrow."
            ),
        },
    )
    result = selector.select(
        SelectionRequest.model_validate({"request": "send an email to Bob", "explain": True})
    )
    assert result.decision is not None
    assert result.decision.tool == "mailer"
    assert result.decision.policy_outcome == "allowed"
    roles = {c.tool: c.role for c in result.candidates}
    assert roles["mailer"] == "action"


def test_a_declared_read_still_never_stands_for_a_change(tmp_path: Path) -> None:
    selector = _selector(
        tmp_path,
        {
            "mail.yaml": terse_tool(
                "mailer", "Send an email message to any address with attachments.", "read"
            ),
        },
    )
    assert ask(selector, "send an email to Bob") == (None, None)
