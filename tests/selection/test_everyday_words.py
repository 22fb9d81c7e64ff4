"""Everyday talk told by its words: private life in a catalog far from everyday talk."""

from __future__ import annotations

import pytest

from toolcatalog.selection.bm25 import BM25FIndex, FieldSpec
from toolcatalog.selection.calibrate import GENERIC_MARGIN, Calibration
from toolcatalog.selection.everyday_words import private_life_words, speaks_of_private_life
from toolcatalog.selection.text import request_tokens

FIELDS = {"text": FieldSpec(1.0, 0.75)}


def _tools(*texts: str) -> BM25FIndex:
    docs = [[("text", tuple(t for w in text.split() for t in request_tokens(w)))] for text in texts]
    return BM25FIndex(docs, FIELDS, spelling=False)


def _calibration(margin: float) -> Calibration:
    return Calibration(0.3, False, 0.65, 0, None, 0.5, None, margin)


OPS = _tools("ufw firewall rules allow deny ports", "kill send signals to processes by pid")
TIGHT = _calibration(0.02)  # an ops catalog: far from everyday talk (allowance 0.08)
LOOSE = _calibration(GENERIC_MARGIN)  # a consumer catalog: allowance 0


@pytest.mark.parametrize(
    "text",
    [
        "my brother needs a firewall against bad news",
        "my toddler's tantrums need a kill switch",
        "I'm so stressed my heart needs a reboot",
    ],
)
def test_private_life_in_an_ops_catalog_is_everyday_talk(text: str) -> None:
    assert speaks_of_private_life(text, OPS, TIGHT)


@pytest.mark.parametrize(
    "text",
    [
        "open port 443 on the firewall",
        # Words that serve operations in their own sense are not words of private life.
        "kill the parent process of the zombie children",
        "the etcd cluster has a split brain",
        "who is on call over the christmas holiday rota",
        # A machine, an address or a file named: a request about systems.
        "my manager's laptop 10.2.0.7 can't pass the firewall",
        "the baby-monitor vm web-04 ignores SIGTERM",
        "mum's notes are in /srv/share/notes, who can read them",
        # A word of private life inside a hyphenated compound is part of a name.
        "the dog-food cluster nodes are NotReady",
        "restart the pet-store api pods",
        "restart the pet\u2011store api pods",
    ],
)
def test_requests_about_systems_are_not(text: str) -> None:
    assert not speaks_of_private_life(text, OPS, TIGHT)


def test_a_name_does_not_hide_private_life_said_beside_it() -> None:
    assert speaks_of_private_life("my dog ate the dog-food firewall", OPS, TIGHT)
    assert speaks_of_private_life("my sister's well-being needs a kill switch", OPS, TIGHT)


def test_a_long_word_is_read_in_linear_time() -> None:
    # The compound pattern once tried a long word from each of its letters (quadratic); the
    # answer must come at all, whatever its time: a 20,000-letter word took minutes before.
    assert speaks_of_private_life("my dog " + "a" * 20_000, OPS, TIGHT)
    assert not speaks_of_private_life("dog-" + "a" * 20_000, OPS, TIGHT)


def test_a_catalog_near_everyday_talk_answers_talk_of_private_life() -> None:
    # MetaTool's consumer plugins answer "recommend a gift for my dad": the test is off.
    assert not speaks_of_private_life("recommend a birthday gift for my dad", OPS, LOOSE)
    assert not speaks_of_private_life("my brother needs a firewall", OPS, None)


def test_a_word_the_catalog_holds_is_the_catalogs() -> None:
    pets = _tools("petstore api: adopt a dog or a kitten, list pets", "ufw firewall rules")
    assert not speaks_of_private_life("is the dog still up for adoption", pets, TIGHT)
    assert speaks_of_private_life("my dad is the firewall of the family", pets, TIGHT)


def test_the_word_list_leaves_out_words_operations_use() -> None:
    words = private_life_words()
    assert {"dad", "toddler", "wedding", "puppy", "lonely"} <= words
    assert not words & {"parent", "child", "children", "brain", "family", "life", "happy", "cat"}
