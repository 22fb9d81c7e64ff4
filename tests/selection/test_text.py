"""The ops-aware tokeniser: hosts, paths, units, identifiers, synonyms and stemming."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from toolcatalog.selection.text import query_terms, stem, tokenize


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


@given(st.text(max_size=200))
def test_tokenize_never_fails_and_gives_non_empty_terms(text: str) -> None:
    assert all(term for term in tokenize(text))
