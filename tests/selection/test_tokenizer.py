"""The ops-aware tokeniser: hosts, paths, units, identifiers, synonyms, phrases and stemming."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolcatalog.selection import hosts, tokenizer
from toolcatalog.selection.spelling import Speller
from toolcatalog.selection.tokenizer import stem, tokenize


def test_paths_hosts_and_units_become_words_and_typed_values() -> None:
    terms = tokenize("last 200 lines of /var/log/mail.log on relay-2, 10GB in 500ms")
    assert {"<path>", "log", "mail", "relay", "<size>", "<duration>", "line"} <= set(terms)
    assert "200" not in terms


def test_addresses_urls_and_emails_are_typed() -> None:
    terms = tokenize("ping 10.0.0.1 and 10.30.5.0/24 via https://quay.io/x, mail ops@acme.io")
    assert {"<ip>", "<cidr>", "<url>", "<email>"} <= set(terms)


def test_camel_and_snake_identifiers_split_and_stay_whole() -> None:
    assert {"nullpointerexception", "null", "pointer", "exception"} <= set(
        tokenize("NullPointerException")
    )
    assert {"long_query_time", "long", "query", "time"} <= set(tokenize("long_query_time=1"))
    assert {"pwdlastset", "pwd", "last", "set"} <= set(tokenize("pwdLastSet"))
    assert {"passwordlastset", "password", "last", "set"} <= set(tokenize("PasswordLastSet"))
    assert {"getuserinfo", "user", "info"} <= set(tokenize("getUserInfo"))


def test_acronyms_keep_their_digits_and_versions_inside_identifiers() -> None:
    assert {"snmpv3", "snmp", "v3"} <= set(tokenize("SNMPv3"))
    assert {"ipv6", "ip", "v6"} <= set(tokenize("IPv6"))
    assert {"ec2instance", *tokenize("EC2 instance")} <= set(tokenize("EC2Instance"))
    assert {"http2server", *tokenize("HTTP2 server")} <= set(tokenize("HTTP2Server"))
    assert {"httpserver", *tokenize("HTTP server")} <= set(tokenize("HTTPServer"))


def test_synonyms_collapse_and_stemming_joins_word_forms() -> None:
    assert tokenize("RAM") == tokenize("memory") == ["memory"]
    assert tokenize("k8s") == ["kubernetes"]
    assert stem("rotating") == stem("rotation") == stem("rotate")
    assert stem("processes") == stem("process")
    assert tokenize("load balancer") == ["lb"]


def test_plural_acronyms_are_the_acronym_not_its_letters() -> None:
    assert tokenize("IPs VMs PIDs") == ["ip", "vm", "pid"]
    assert "ps" not in tokenize("which IPs are on eth1")


def test_every_inflection_of_a_phrase_is_rewritten() -> None:
    assert "full" in tokenize("what fills up /var")
    assert "full" in tokenize("the disk filled up")


def test_the_verb_log_in_is_a_login_and_the_noun_log_stays_a_log() -> None:
    # The stemmer made "logged into" the noun "log" (journals, log files).
    for text in ("who logged into bastion01", "was anyone logged in as root", "logging in fails"):
        assert "login" in tokenize(text), text
        assert "log" not in tokenize(text), text
    assert tokenize("the error log in /var/log")[:2] == ["error", "log"]


@given(st.text(max_size=200))
def test_tokenize_never_fails_and_gives_non_empty_terms(text: str) -> None:
    assert all(term for term in tokenize(text))


def test_words_and_chunks_counted_by_batch_are_those_counted_text_by_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Speller and text_chunks count through counted_matches (texts joined by line breaks,
    a batch at a time): the same counts, in the same order, as one text and one match at a
    time, across batch edges and with texts that hold line breaks or are empty."""
    monkeypatch.setattr(tokenizer, "_COUNTED_TEXTS", 3)
    rng = random.Random(7)
    pieces = ["Disk", "disk", "DISK", "pwdLastSet", "web01.prod's", "db-2", "(x)", "über", "a\nb"]
    pieces += ["", " ", "::", "SIGTERM", "sigterm", "memroy", "10.0.0.1", "'quoted'"]
    texts = [" ".join(rng.choices(pieces, k=rng.randrange(0, 9))) for _ in range(40)]
    counts: Counter[str] = Counter()
    identifiers: Counter[str] = Counter()
    chunks: Counter[str] = Counter()
    for text in texts:
        for word in re.findall(r"[A-Za-z]+", text):
            counts[word.lower()] += 1
            if word.isupper() or re.search(r"[a-z][A-Z]", word):
                identifiers[word.lower()] += 1
        for chunk in tokenizer.CHUNK.findall(text):
            chunks[hosts._bare_chunk(chunk)] += 1
    speller = Speller(texts)
    assert list(speller.counts.items()) == list(counts.items())
    assert list(speller.identifiers.items()) == list(identifiers.items())
    assert list(hosts.text_chunks(texts).items()) == list(chunks.items())
