"""The ops-aware tokeniser: hosts, paths, units, identifiers, synonyms and stemming."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from toolcatalog.selection.text import (
    platform_hint,
    query_terms,
    split_entities,
    stem,
    text_chunks,
    tokenize,
    without_hosts,
)


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


def test_host_words_weigh_less_than_the_request_and_related_words_are_added() -> None:
    weights = query_terms("how much swap on kafka-broker-2")
    assert weights["swap"] == 1.0
    assert weights["kafka"] < 0.5
    assert 0 < weights["memory"] < 1.0


def test_plural_acronyms_are_the_acronym_not_its_letters() -> None:
    assert tokenize("IPs VMs PIDs") == ["ip", "vm", "pid"]
    assert "ps" not in tokenize("which IPs are on eth1")


def test_a_maintenance_window_is_not_the_windows_platform() -> None:
    assert "windows" not in tokenize("2h maintenance window")
    assert tokenize("Windows servers")[0] == "windows"
    assert platform_hint(tokenize("mute alerts for the maintenance window")) == frozenset()


def test_every_inflection_of_a_phrase_is_rewritten() -> None:
    assert "full" in tokenize("what fills up /var")
    assert "full" in tokenize("the disk filled up")


def test_the_verb_log_in_is_a_login_and_the_noun_log_stays_a_log() -> None:
    # The stemmer made "logged into" the noun "log" (journals, log files).
    for text in ("who logged into bastion01", "was anyone logged in as root", "logging in fails"):
        assert "login" in tokenize(text), text
        assert "log" not in tokenize(text), text
    assert tokenize("the error log in /var/log")[:2] == ["error", "log"]


def test_example_entities_are_set_apart_but_keep_their_kind() -> None:
    words, entities = split_entities("why is / full on db2; fsck /dev/sdd1 from 10.0.0.5")
    assert {"full", "fsck", "<path>", "dev", "<ip>"} <= set(words)
    assert {"db2", "sdd1"} <= set(entities)
    assert not {"db2", "sdd1"} & set(words)


def test_platform_words_give_a_hint() -> None:
    assert platform_hint(tokenize("restart the spooler on the windows file server")) == {"windows"}
    assert platform_hint(tokenize("dns fails on an ubuntu box")) == {"linux"}
    assert platform_hint(tokenize("which pod restarts")) == {"kubernetes"}


@given(st.text(max_size=200))
def test_tokenize_never_fails_and_gives_non_empty_terms(text: str) -> None:
    assert all(term for term in tokenize(text))


def test_host_names_the_catalog_never_uses_are_left_out_of_what_the_encoder_reads() -> None:
    known = text_chunks(["Query the ec2 API", "why is / full on web01", "ipv6 routes"])
    assert without_hosts("how much swap does kafka-broker-2 have", known) == (
        "how much swap does  have"
    )
    assert without_hosts("ip-10-0-2-7 went NotReady", known) == " went NotReady"
    assert without_hosts("logstore-1's disk is full", known) == "'s disk is full"
    # The catalog names these: an example's host, a product, a protocol.
    assert without_hosts("is ipv6 on for web01 and web5", known) == "is ipv6 on for web01 and "
    assert without_hosts("list EC2 instances", known) == "list EC2 instances"


def test_numbers_and_citations_that_look_like_hosts_are_kept() -> None:
    for text in ("a 2-bedroom flat for a 5-day stay", "ABC Corp., 123 F.3d at 569"):
        assert without_hosts(text, frozenset()) == text
