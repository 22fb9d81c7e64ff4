"""The request's intent, read from its words: look or change, and the action it names."""

from __future__ import annotations

import pytest

from toolcatalog.selection.intent import action_words, read_intent


@pytest.mark.parametrize(
    ("request_text", "action"),
    [
        ("restart nginx on web01", "restart"),
        ("reboot lb02, it is wedged", "reboot"),
        ("delete the old docker images on build01", "delete"),
        ("roll back the payments release to the previous helm revision", "roll back"),
        ("block 203.0.113.50 on the edge firewall", "block"),
        ("can you restart php-fpm on app-03", "restart"),
        ("nginx needs a restart on web01", "restart"),
        ("payments rollback to v41 please", "roll back"),
        ("clean up old journal logs on web01 to free space", "delete"),
        ("is nginx running? if not restart it", "restart"),
        ("scale the checkout deployment to 6 replicas", "scale"),
        ("flush the redis cache on cache01", "flush"),
        ("unmount /mnt/backup on nas1", "unmount"),
        ("renew the tls certificate for api.example.com", "renew"),
        ("set vm.swappiness to 10 on db2", "set"),
        ("shut the worker down on batch2", "stop"),
        ("how do I roll back a kubernetes deployment", "roll back"),
        ("graceful reload of apache on web2", "reload"),
        ("restart of the worker on batch2", "restart"),
        ("run a long SMART self-test on /dev/sdb tonight", "run"),
        ("run the nightly backup job on db2 now", "run"),
        # A subject asked to act, not telling what it did.
        ("can someone set the TTL of api.example.com to 60", "set"),
        ("we need to reset her password", "reset"),
        ("someone restart nginx on web01", "restart"),
    ],
)
def test_a_request_that_asks_for_an_action_is_a_change(request_text: str, action: str) -> None:
    reading = read_intent(request_text)
    assert (reading.kind, reading.action) == ("change", action)
    assert reading.source == "request"


@pytest.mark.parametrize(
    "request_text",
    [
        "why did nginx restart",
        "why is / full on db2",
        "is postgresql running on db2",
        "don't restart nginx, just check the status",
        "what would a docker system prune delete on build01",
        "did someone restart nginx and delete the logs?",
        "show the restart history of nginx",
        "when does the certbot renewal timer run next",
        "which processes use the most memory on app-03",
        "disk usage on db2",
        "run uptime on every minion with role=db",
        "run a speed test from the office",
        "memory limit of the checkout pod",
        "the reload of apache failed last night",
        "don't run the backup job before noon",
        "dry run of the rsync to the backup host",
        # The dots of a host name do not end the sentence ("com about to expire").
        "is the TLS certificate on shop.example.com about to expire",
        "did the job on 10.0.2.7:8080 stop",
        # What someone did, told with a verb whose past tense is its base form.
        "who besides the owner can get into /shared/projects? someone set ACLs on it",
        "I reset her password but she is still locked out",
        "we shut down the old replica last week, is anything still connecting to it",
    ],
)
def test_questions_negations_dry_runs_and_plain_looks_are_reads(request_text: str) -> None:
    assert read_intent(request_text).kind == "read"


def test_the_reason_names_the_action_asked_about() -> None:
    reading = read_intent("why did nginx restart")
    assert reading.action == "restart"
    assert "without asking for it" in reading.explain()


def test_stage_a_action_decides_when_the_words_are_silent() -> None:
    reading = read_intent("nginx on web01", "restart_service")
    assert (reading.kind, reading.action, reading.source) == ("change", "restart", "stage_a")
    assert read_intent("nginx on web01", "check_status").kind == "read"
    assert read_intent("nginx on web01").source == "default"


def test_the_words_win_over_stage_a_when_they_ask_a_question() -> None:
    assert read_intent("why did nginx restart", "restart_service").kind == "read"


def test_action_words_cover_inflections_and_joined_phrases() -> None:
    words = action_words("roll back")
    assert {"rollback", "roll_back", "revert", "undo"} <= words
    assert {"restart", "restarts", "restarted"} <= action_words("restart")
