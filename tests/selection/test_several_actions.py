"""A request that asks for several things: the decision keeps its strongest action, and a
pattern that does every asked change wins over one that does only the first."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.intent import read_intent
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest, SelectionResult
from toolcatalog.selection.selector import Selector

from .selection_catalog import write_catalog


@pytest.mark.parametrize(
    ("request_text", "action", "also"),
    [
        ("check nginx on web01 and restart it", "restart", ()),
        ("find and delete core dumps older than 7 days", "delete", ()),
        ("is the worker up? if so, kill it", "kill", ()),
        ("open a P2 incident and page whoever is on call", "create", ("send",)),
        ("stop the worker on app3 and wipe its data directory", "delete", ("stop",)),
        ("drain node-3, then reboot it", "reboot", ("drain",)),
        ("stop and disable the telnet service", "stop", ("set",)),
    ],
)
def test_a_change_request_names_its_strongest_action_and_keeps_the_others(
    request_text: str, action: str, also: tuple[str, ...]
) -> None:
    reading = read_intent(request_text)
    assert (reading.kind, reading.action, reading.also) == ("change", action, also)


def test_a_question_beside_an_asked_change_is_no_second_action() -> None:
    reading = read_intent("why did nginx restart and delete its cache?")
    assert reading.kind == "read"
    assert reading.also == ()


TICKETS = """
name: tickets
description: The incident and change ticketing system; incidents, problems and change records.
platform: custom
category: itsm
examples: [open an incident for the outage on db7, open a P1 incident for checkout]
capabilities:
  - name: ticket_management
    description: Query, create and update incidents.
    patterns:
      - name: list_incidents
        effect: read
        description: Open incidents for a service.
        policy: {production_safe: true}
      - name: create_incident
        effect: change
        description: Create an incident record with priority and assignment group.
        policy: {production_safe: true}
"""

PAGER = """
name: pager
description: On-call paging; alerts that wake the responsible team.
platform: custom
category: notification
examples: [page the network on-call, who is on call for databases]
capabilities:
  - name: incident_response
    description: On-call lookup and paging.
    patterns:
      - name: who_is_on_call
        effect: read
        description: The current on-call of a schedule.
        policy: {production_safe: true}
      - name: create_page
        effect: change
        description: Create an alert that pages the on-call of a team.
        policy: {production_safe: true}
"""


def _production(folder: Path, text: str) -> SelectionResult:
    selector = Selector(FolderSource(folder), Settings(llm_url=None, semantic=False))
    request = SelectionRequest.model_validate(
        {"request": text, "constraints": {"environment": "production"}}
    )
    return selector.select(request)


def test_the_pattern_that_does_every_asked_change_wins(tmp_path: Path) -> None:
    folder = write_catalog(tmp_path / "c", {"tickets.yaml": TICKETS, "pager.yaml": PAGER})
    text = "open a P2 incident for the database outage and page whoever is on call"
    result = _production(folder, text)
    assert result.decision is not None
    assert (result.decision.tool, result.decision.pattern) == ("pager", "create_page")
    assert result.intent is not None
    assert (result.intent.action, result.intent.also) == ("create", ["send"])
    assert "also send" in result.intent.evidence
    # The ticket alone does the first change: still an action, marked as doing part of it.
    tickets = next(c for c in result.candidates if c.tool == "tickets")
    assert (tickets.pattern, tickets.role) == ("create_incident", "action")
    assert "does not send, also asked for" in tickets.reasons
    # Asked for once, the ticket stays the answer: nothing else changed the ranking.
    alone = _production(folder, "open a P2 incident for the database outage")
    assert alone.decision is not None
    assert (alone.decision.tool, alone.decision.pattern) == ("tickets", "create_incident")


def test_a_look_then_a_change_comes_back_as_the_change_needing_approval(
    catalog_dir: Path,
) -> None:
    result = _production(catalog_dir, "check nginx on web01 and restart it")
    assert result.decision is not None
    assert (result.decision.tool, result.decision.pattern) == ("systemctl", "restart")
    assert result.decision.policy_outcome == "needs_approval"
