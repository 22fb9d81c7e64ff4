"""Smoke tests on the repository's starter catalog (the rest use their own YAML)."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector

CATALOG = Path(__file__).resolve().parents[2] / "catalog"


@pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog in this checkout")
def test_the_starter_catalog_answers_a_disk_question_and_refuses_a_recipe() -> None:
    selector = Selector(FolderSource(CATALOG), Settings(llm_url=None))
    disk = selector.select(SelectionRequest(request="which directories fill up /var on web01"))
    assert disk.decision is not None
    assert disk.decision.tool in {"du", "ncdu", "df"}
    cake = selector.select(SelectionRequest(request="bake a chocolate cake"))
    assert cake.decision is None


@pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog in this checkout")
def test_a_host_named_in_one_tools_example_does_not_pick_that_tool() -> None:
    # restic's examples mention app3; before example host names were set apart, this request
    # about a big folder picked restic.
    selector = Selector(FolderSource(CATALOG), Settings(llm_url=None))
    result = selector.select(
        SelectionRequest(request="which folder under /var/log is huge on app3", top_k=3)
    )
    assert result.decision is not None
    assert "restic" not in {c.tool for c in result.candidates}


@pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog in this checkout")
def test_a_sure_stage_a_capability_retrieves_the_tool_the_words_do_not_name() -> None:
    selector = Selector(FolderSource(CATALOG), Settings(llm_url=None, semantic=False))
    classification = {"intent": {"confidence": 0.9, "capabilities": ["memory_usage"]}}
    result = selector.select(
        SelectionRequest.model_validate(
            {"request": "check web01", "classification": classification}
        )
    )
    assert result.decision is not None
    assert result.decision.tool == "free"


@pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog in this checkout")
def test_a_diagnosis_gets_an_interactive_way_and_an_action_its_own_pattern() -> None:
    # Issue #13: a symptom to explain is answered now, not by du's ten-second deep scan run
    # off-peak; "restart" is restart_unit, not reload_unit.
    selector = Selector(FolderSource(CATALOG), Settings(llm_url=None, semantic=False))
    for text, tool, pattern in [
        ("used space doesn't add up on /data, something is eating it", "du", "top_level_summary"),
        ("restart nginx", "systemctl", "restart_unit"),
    ]:
        decision = selector.select(SelectionRequest(request=text)).decision
        assert decision is not None
        assert (decision.tool, decision.pattern) == (tool, pattern)


@pytest.mark.skipif(not CATALOG.is_dir(), reason="no starter catalog in this checkout")
def test_issue_13_classes_on_the_starter_catalog() -> None:
    # Issue #13's named classes, each by a general rule (no tool is named in the code).
    selector = Selector(FolderSource(CATALOG), Settings(llm_url=None, semantic=False))

    def decided(text: str) -> str | None:
        decision = selector.select(SelectionRequest(request=text)).decision
        return decision.tool if decision is not None else None

    # A vendor's product word in capitals outweighs the generic words around it.
    assert decided("list the GKE clusters in project foo") == "gcloud"
    assert decided("list the AKS clusters in rg-prod") == "azure_cli"
    assert decided("run this SPL query for the last 24h") == "splunk_api"
    assert decided("read the HKLM run keys on ws-12") == "reg"
    # The tool named as the problem is where the person already looked.
    assert decided("journalctl shows nothing for the unit") not in {"journalctl", None}
    # A question about a certificate on a host name is a read, not a renewal.
    result = selector.select(
        SelectionRequest(request="is the TLS certificate on shop.example.com about to expire")
    )
    assert result.intent.kind == "read"
    assert result.decision is not None
    assert result.decision.effect == "read"
    # Explanations show the request's words, not the index's stems.
    top = selector.select(SelectionRequest(request="is there enough space left on the storage"))
    matched = top.candidates[0].reasons[0].split(": matches ", 1)[1].split(", ")
    assert {"space", "storage"} <= set(matched)
