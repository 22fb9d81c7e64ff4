"""What the encoder reads of a request: misspelt words put right (selection/spelling.py),
toward the catalog's own words only, never an ordinary word or another form of a word; and
host names the catalog never uses left out (text.without_hosts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector
from toolcatalog.selection.semantic_engine import SemanticEngine
from toolcatalog.selection.spelling import Speller

from .selection_catalog import terse_tool, write_catalog, write_terse_catalog
from .test_embedding import needs_model

TEXTS = [
    "Report the memory used by each process.",
    "Inspect a TLS certificate and its expiry date.",
    "Restart a container and follow its logs.",
    "Export playbooks for the retriever service.",
]


def test_a_word_one_slip_from_a_catalog_word_is_put_right() -> None:
    speller = Speller(TEXTS)
    assert speller.spelled("memroy keeps climbing, which proccess is it?") == (
        "memory keeps climbing, which process is it?"
    )
    assert speller.correct("certficate") == "certificate"
    assert speller.correct("restrat") == "restart"
    assert speller.correct("containr") == "container"


def test_a_word_longer_than_any_catalog_word_is_left_alone() -> None:
    # One edit changes a length by one: a hostile 4,000-letter word is not expanded into its
    # ~216,000 edits (1.4 s and ~800 MiB a select before); a long catalog word still corrects.
    long_word = "interoperabilityconfiguration"  # 29 letters
    speller = Speller([*TEXTS, f"Check the {long_word} file."])
    assert speller.correct("a" * 4000) is None
    assert speller.correct(long_word[:5] + long_word[6:]) == long_word
    assert speller.correct(long_word + "xx") is None
    longer = long_word + "stanza"  # a write brings a longer word: its typos correct too
    grown = speller.changed([], [f"Read the {longer}."])
    assert grown.correct(longer[:10] + longer[11:]) == longer


def test_words_the_encoder_or_the_catalog_knows_are_left_alone() -> None:
    speller = Speller(TEXTS, known=["reports", "restore"])
    assert speller.correct("restore") is None  # the encoder knows it
    assert speller.correct("process") is None
    assert speller.spelled("Restore the process") == "Restore the process"


def test_another_form_of_a_word_is_not_a_typo() -> None:
    speller = Speller(TEXTS, known=["limit", "retrieve", "stove"])
    assert speller.correct("playbook") is None  # an ending away from "playbooks"
    assert speller.correct("retrievers") is None  # retrieve + rs: a form of a known word
    assert speller.correct("stoves") is None


def test_a_typo_keeps_its_first_letter_and_short_words_are_left_alone() -> None:
    speller = Speller(["the reallocated blocks", "list the files"])
    assert speller.correct("deallocated") is None  # one letter from "reallocated", the first
    assert speller.correct("reallocatd") == "reallocated"
    assert speller.correct("fils") is None  # under MIN_LENGTH


def test_a_request_of_words_nothing_knows_is_unreadable() -> None:
    speller = Speller([*TEXTS, "kubectl: run commands against Kubernetes"], known=["hey", "the"])
    assert speller.unreadable("sdfgh jkl")
    assert speller.unreadable("asdf qwerty?!")
    assert not speller.unreadable("hey jkl")  # one word the encoder knows
    assert not speller.unreadable("kubectl")  # a word of the catalog
    assert not speller.unreadable("restrat containr")  # typos of catalog words
    # A digit, a symbol or a non-ASCII letter may be an identifier or another language.
    for text in ("sdfgh 404", "ora-01555", "/var/lib/xyz", "grüße", "", "  "):
        assert not speller.unreadable(text), text


@needs_model
def test_a_misspelt_request_means_to_the_encoder_what_the_well_spelt_one_does(
    tmp_path: Path,
) -> None:
    folder = write_catalog(
        tmp_path / "c",
        {
            f"{name}.yaml": terse_tool(name, description)
            for name, description in {
                "ps": "Report a snapshot of the running processes and their memory use.",
                "vmstat": "Report virtual memory statistics, swap, paging and CPU over time.",
                "openssl": "Inspect TLS certificates and their expiry dates.",
                "df": "Report file system disk space usage.",
            }.items()
        },
    )
    engine = SemanticEngine(tmp_path / "home")
    index = engine.filled_index(FolderSource(folder).snapshot().tools, None)
    assert index.ready.is_set(), index.error
    for right, wrong in (
        ("which processes eat the memory", "which proccesses eat the memroy"),
        ("when do the certificates expire", "when do the certficates expire"),
    ):
        well = engine.view(index, right)
        slipped = engine.view(index, wrong)
        assert well is not None
        assert slipped is not None
        assert np.allclose(slipped.scores()[0], well.scores()[0]), wrong


@needs_model
def test_a_host_named_after_a_tool_does_not_make_the_request_about_that_tool(
    tmp_path: Path,
) -> None:
    tools = {
        "kafka_cli": "Manage Kafka topics, partitions and consumer groups.",
        "free": "Display the amount of free and used memory and swap.",
        "df": "Report file system disk space usage.",
    }
    folder = write_terse_catalog(tmp_path / "c", tools)
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    selector = Selector(FolderSource(folder), settings)
    assert selector.wait_for_semantic(120), selector.semantic_status
    for request in (
        "how much swap does kafka-broker-2 have configured",
        "is any swap in use on kafka-broker-2",
    ):
        decision = selector.select(SelectionRequest(request=request)).decision
        assert decision is not None, request
        assert decision.tool == "free", request


def test_lexical_retrieval_corrects_a_slip_in_a_word_the_stemmer_keeps_whole(
    tmp_path: Path,
) -> None:
    # "certificate" is a synonym group's canonical word, indexed whole; "certficate" is
    # stemmed to "certficat", two edits from it (one with its final e back).
    tools = {
        "openssl": "Inspect TLS certificates and their expiry dates.",
        "df": "Report file system disk space usage.",
    }
    folder = write_terse_catalog(tmp_path / "c", tools)
    selector = Selector(FolderSource(folder), Settings(llm_url=None, semantic=False))
    for slip in ("certficate", "certifcate"):
        result = selector.select(SelectionRequest(request=f"show the {slip} of web01"))
        assert result.candidates, slip
        assert result.candidates[0].tool == "openssl", slip
        assert slip in result.candidates[0].reasons[0], slip  # the user's word, as written


def test_an_identifier_the_catalog_holds_and_the_encoder_cannot_read_is_a_name() -> None:
    texts = ["Drain a node that is NotReady.", "Walk a device over SNMP.", "summarize the log"]
    speller = Speller(texts, known=["drain", "node", "went", "it", "the", "speaks"])
    assert speller.names("node went NotReady") == ["notready"]
    assert speller.names("it speaks snmp") == ["snmp"]  # the catalog writes it as one
    assert speller.names("summarize it") == []  # a plain word, not an identifier
    assert speller.names("what's her pwdLastSet") == []  # no text of the catalog holds it
    assert Speller(texts, known=["snmp"]).names("SNMP") == []  # the encoder reads it
    # A write's speller counts identifiers as one built from its texts does.
    changed = speller.changed(["Walk a device over SNMP."], ["Query UPS batteries."])
    assert changed.names("SNMP or UPS") == []  # UPS under MIN_NAME letters, SNMP gone
    assert changed.identifiers == Speller([texts[0], texts[2], "Query UPS batteries."]).identifiers


def test_an_identifier_of_words_run_together_is_read_as_its_words() -> None:
    # The encoder cuts "NullPointerException" into pieces that mean little; written apart its
    # words are what the request says. A word the catalog or the encoder knows whole, or one
    # that is not words run together, stays as written.
    speller = Speller(["Drain a node that is NotReady.", "Errors and their stack traces."])
    assert speller.spelled("who hit the NullPointerException today") == (
        "who hit the Null Pointer Exception today"
    )
    assert speller.spelled("what's her pwdLastSet?") == "what's her pwd Last Set?"
    assert speller.spelled("the node went NotReady") == "the node went NotReady"  # the catalog's
    assert Speller([], known=["github"]).spelled("on GitHub") == "on GitHub"  # the encoder's
    for whole in ("iPhone", "vSphere", "GPOs", "SIGTERM", "CentOS"):
        assert speller.spelled(f"the {whole} one") == f"the {whole} one"
