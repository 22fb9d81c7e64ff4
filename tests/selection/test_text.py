"""A request's terms: host words weighed down, related words added, platforms hinted."""

from __future__ import annotations

from toolcatalog.selection.text import platform_hint, query_terms
from toolcatalog.selection.tokenizer import tokenize


def test_host_words_weigh_less_than_the_request_and_related_words_are_added() -> None:
    weights = query_terms("how much swap on kafka-broker-2")
    assert weights["swap"] == 1.0
    assert weights["kafka"] < 0.5
    assert 0 < weights["memory"] < 1.0


def test_a_maintenance_window_is_not_the_windows_platform() -> None:
    assert "windows" not in tokenize("2h maintenance window")
    assert tokenize("Windows servers")[0] == "windows"
    assert platform_hint(tokenize("mute alerts for the maintenance window")) == frozenset()


def test_platform_words_give_a_hint() -> None:
    assert platform_hint(tokenize("restart the spooler on the windows file server")) == {"windows"}
    assert platform_hint(tokenize("dns fails on an ubuntu box")) == {"linux"}
    assert platform_hint(tokenize("which pod restarts")) == {"kubernetes"}
