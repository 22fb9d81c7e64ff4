"""Preferences read from a request: which requests want an answer now (scoring.wants_answer_now)."""

from __future__ import annotations

import pytest

from toolcatalog.selection.models import Preferences, SelectionRequest
from toolcatalog.selection.scoring import resolve_preferences, wants_answer_now


def _wants(text: str, preferences: Preferences | None = None) -> bool:
    request = SelectionRequest(request=text, preferences=preferences)
    return wants_answer_now(request, resolve_preferences(request))


@pytest.mark.parametrize(
    "text",
    [
        "why is / full on db2",
        "disk usage on db2?",
        "the root partition on app3 is at 97%, what's taking all the space",
        "used space doesn't add up on /data",
        "the new screensaver GPO isn't applying on WS-221",
        "explorer keeps crashing on the Server 2019 box",
        "k8s node worker-3 went NotReady, find out why",
    ],
)
def test_a_question_or_a_diagnosis_wants_an_answer_now(text: str) -> None:
    assert _wants(text)


@pytest.mark.parametrize(
    "text",
    [
        "follow the app log on web5 and watch for new errors",
        "capture traffic on eth0 port 53 into a pcap",
        "restart nginx",
        "run a long SMART self-test on /dev/sdb tonight",
    ],
)
def test_a_request_for_a_run_does_not(text: str) -> None:
    assert not _wants(text)


def test_a_stated_preference_is_left_to_itself() -> None:
    assert not _wants("why is / full on db2", Preferences(mode="thorough"))
