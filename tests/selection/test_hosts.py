"""Host names, addresses and devices: set apart in examples, left out of what the encoder reads."""

from __future__ import annotations

from toolcatalog.selection.hosts import split_entities, text_chunks, without_hosts


def test_example_entities_are_set_apart_but_keep_their_kind() -> None:
    words, entities = split_entities("why is / full on db2; fsck /dev/sdd1 from 10.0.0.5")
    assert {"full", "fsck", "<path>", "dev", "<ip>"} <= set(words)
    assert {"db2", "sdd1"} <= set(entities)
    assert not {"db2", "sdd1"} & set(words)


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
