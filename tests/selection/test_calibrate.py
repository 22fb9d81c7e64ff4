"""Abstention calibrated per catalog (selection/calibrate.py): thresholds from the catalog's
own examples and the shipped generic requests, and relevance on that absolute scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.calibrate import (
    DESCRIPTION_QUANTILE,
    DESCRIPTION_SLACK,
    EVERYDAY_NEIGHBOURS,
    GENERIC_MARGIN,
    GENERIC_MARGIN_FLOOR,
    GENERIC_PROBE_REFUSAL,
    IN_SCOPE_REFUSAL,
    NEGATIVE_QUANTILE,
    NEIGHBOUR_MARGIN,
    NO_PROBES_QUANTILE,
    SEMANTIC_SPAN_WITHOUT,
    Calibration,
    calibrate,
    generic_requests,
    neighbour_requests,
)
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector
from toolcatalog.selection.semantic_engine import SemanticEngine

from .selection_catalog import CATALOG, terse_tool, write_catalog
from .test_embedding import needs_model


def _unit(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _catalog(examples_per_tool: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """40 tools in 40 directions: a description each, and examples near it."""
    rng = np.random.default_rng(7)
    axes = np.eye(64)[:40]
    rows, kinds = [], []
    for axis in axes:
        rows.append(axis + 0.05 * rng.standard_normal(64))
        kinds.append(0)
        for _ in range(examples_per_tool):
            rows.append(axis + 0.6 * rng.standard_normal(64))
            kinds.append(1)
    return _unit(np.array(rows)), np.array(kinds, dtype=np.int64)


def _negatives() -> npt.NDArray[np.float32]:
    return _unit(np.random.default_rng(8).standard_normal((120, 64)))


def _described(spread: float) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """40 tools with a description each and no examples, around one topic: `spread` sets how
    far apart the descriptions are (0.1: a tight ops catalog; 3: unrelated tools)."""
    rng = np.random.default_rng(9)
    topic = np.eye(64)[0]
    rows = topic + spread * rng.standard_normal((40, 64))
    return _unit(rows), np.zeros(40, dtype=np.int64)


def _negative_cosines(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    return (_negatives() @ vectors.T).max(axis=1).astype(np.float64)


def test_a_tight_catalog_without_examples_refuses_what_generic_requests_reach() -> None:
    vectors, kinds = _described(spread=0.1)
    calibration = calibrate(vectors, kinds, _negatives(), np.arange(40))
    ceiling = np.quantile(_negative_cosines(vectors), NEGATIVE_QUANTILE)
    assert calibration.threshold == pytest.approx(ceiling)
    assert calibration.negative_refusal >= NEGATIVE_QUANTILE - 0.01


def test_a_loose_catalog_without_examples_keeps_the_generic_requests_median() -> None:
    vectors, kinds = _described(spread=3.0)
    calibration = calibrate(vectors, kinds, _negatives(), np.arange(40))
    median = np.quantile(_negative_cosines(vectors), NO_PROBES_QUANTILE)
    assert calibration.threshold == pytest.approx(median)


def test_between_the_two_the_threshold_is_the_descriptions_reach_less_the_margin() -> None:
    vectors, kinds = _described(spread=0.2)
    calibration = calibrate(vectors, kinds, _negatives(), np.arange(40))
    negatives = _negative_cosines(vectors)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1.0)
    loosest = float(np.quantile(sims.max(axis=1), 0.03))
    assert np.quantile(negatives, NO_PROBES_QUANTILE) < calibration.threshold
    assert calibration.threshold < np.quantile(negatives, NEGATIVE_QUANTILE)
    assert calibration.threshold == pytest.approx(loosest - NEIGHBOUR_MARGIN)


def test_a_tools_own_texts_are_not_its_neighbours() -> None:
    vectors, _ = _described(spread=3.0)
    # Each description twice, as one tool's two texts (description and capability).
    doubled = np.repeat(vectors, 2, axis=0)
    owners = np.repeat(np.arange(40), 2)
    calibration = calibrate(doubled, np.tile([0, 2], 40), _negatives(), owners)
    median = np.quantile(_negative_cosines(vectors), NO_PROBES_QUANTILE)
    assert calibration.threshold == pytest.approx(median)


def test_with_examples_the_threshold_holds_the_stated_false_refusal_rate() -> None:
    vectors, kinds = _catalog(examples_per_tool=3)
    calibration = calibrate(vectors, kinds, _negatives())
    assert calibration.probes == 120
    assert calibration.probe_refusal is not None
    assert calibration.probe_refusal <= IN_SCOPE_REFUSAL
    negatives = (_negatives() @ vectors.T).max(axis=1)
    assert calibration.threshold <= np.quantile(negatives, NEGATIVE_QUANTILE) + 1e-9
    assert calibration.corroborate


def _tight(noise: float) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """40 tools in 40 directions, a description and 3 examples each, `noise` around it."""
    rng = np.random.default_rng(11)
    rows = [axis + noise * rng.standard_normal(64) for axis in np.eye(64)[:40] for _ in range(4)]
    return _unit(np.array(rows)), np.array([0, 1, 1, 1] * 40, dtype=np.int64)


def _lead(
    calibration_vectors: npt.NDArray[np.float32],
    kinds: npt.NDArray[np.int64],
    negatives: npt.NDArray[np.float32],
) -> npt.NDArray[np.float64]:
    """How much nearer each example is to a generic request than to another catalog text."""
    probes = calibration_vectors[kinds == 1]
    sims = probes @ calibration_vectors.T
    sims[sims >= 0.9999] = -1.0
    return ((probes @ negatives.T).max(axis=1) - sims.max(axis=1)).astype(np.float64)


def test_examples_far_from_generic_requests_narrow_the_generic_margin_to_zero() -> None:
    # Random generic requests are far from every example of a tight catalog: a request
    # nearer to one of them than to the catalog is refused without a margin.
    vectors, kinds = _tight(0.1)
    assert calibrate(vectors, kinds, _negatives()).generic_margin == 0.0
    # Without examples the shipped margin holds.
    bare, bare_kinds = _catalog(examples_per_tool=0)
    assert calibrate(bare, bare_kinds, _negatives()).generic_margin == GENERIC_MARGIN


def test_the_generic_margin_spares_all_but_a_few_examples_up_to_the_shipped_one() -> None:
    for noise in (0.1, 0.3, 0.6, 1.0):
        vectors, kinds = _tight(noise)
        negatives = np.vstack([_negatives(), vectors[kinds == 1][::7]])
        margin = calibrate(vectors, kinds, negatives).generic_margin
        assert 0.0 <= margin <= GENERIC_MARGIN
        refused = np.mean(_lead(vectors, kinds, negatives) > margin)
        assert margin == GENERIC_MARGIN or refused <= GENERIC_PROBE_REFUSAL + 1e-9


def test_descriptions_far_from_generic_requests_narrow_the_generic_margin_to_its_floor() -> None:
    # A tight catalog without examples: each description is far nearer to another tool's
    # than to any generic request, so the test may refuse what is a little nearer to one.
    vectors, kinds = _described(spread=0.1)
    assert calibrate(vectors, kinds, _negatives(), np.arange(40)).generic_margin == (
        GENERIC_MARGIN_FLOOR
    )


def test_an_odd_description_near_everyday_talk_does_not_loosen_a_tight_catalogs_margin() -> None:
    # One description of 40 reads like a generic request (as Python's `this` module, "The Zen
    # of Python", does among the standard library's): the margin describes the catalog, not
    # its oddest tool.
    vectors, kinds = _described(spread=0.1)
    negatives = _negatives()
    vectors[7] = negatives[3]
    assert calibrate(vectors, kinds, negatives, np.arange(40)).generic_margin == (
        GENERIC_MARGIN_FLOOR
    )


def test_descriptions_as_near_to_generic_requests_as_to_each_other_keep_the_shipped_margin() -> (
    None
):
    vectors, kinds = _described(spread=3.0)
    calibration = calibrate(vectors, kinds, _negatives(), np.arange(40))
    assert calibration.generic_margin == GENERIC_MARGIN
    assert "generic margin 0.100" in calibration.describe()


def test_between_the_two_the_margin_is_the_descriptions_lead_and_the_slack() -> None:
    vectors, kinds = _described(spread=0.13)
    negatives = _negatives()
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1.0)
    lead = (vectors @ negatives.T).max(axis=1) - sims.max(axis=1)
    expected = float(np.quantile(lead, DESCRIPTION_QUANTILE)) + DESCRIPTION_SLACK
    assert GENERIC_MARGIN_FLOOR < expected < GENERIC_MARGIN
    margin = calibrate(vectors, kinds, negatives, np.arange(40)).generic_margin
    assert margin == pytest.approx(expected)


def test_without_examples_or_owners_the_threshold_is_the_generic_requests_median() -> None:
    vectors, kinds = _catalog(examples_per_tool=0)
    calibration = calibrate(vectors, kinds, _negatives())
    assert calibration.probes == 0
    assert calibration.probe_refusal is None
    assert calibration.negative_refusal == pytest.approx(0.5, abs=0.01)
    assert not calibration.corroborate
    assert "no examples" in calibration.describe()


def test_an_empty_catalog_refuses_everything() -> None:
    empty = np.zeros((0, 64), dtype=np.float32)
    calibration = calibrate(empty, np.zeros(0, dtype=np.int64), _negatives())
    assert calibration.threshold == 1.0


def test_confidence_is_one_half_at_the_threshold_and_monotonic() -> None:
    vectors, kinds = _catalog(examples_per_tool=3)
    calibration = calibrate(vectors, kinds, _negatives())
    t = calibration.threshold
    low, mid, high = calibration.confidence(np.array([t - 0.2, t, t + 0.2]))
    assert mid == pytest.approx(0.5)
    assert low < 0.1 < mid < 0.9 < high


def test_the_shipped_generic_requests_are_many_and_distinct() -> None:
    requests = generic_requests()
    assert len(requests) >= 100
    assert len(set(requests)) == len(requests)
    neighbours = neighbour_requests()
    assert neighbours[: len(requests)] == requests  # the calibrating ones come first
    assert len(neighbours) > len(requests)
    assert len(set(neighbours)) == len(neighbours)


@pytest.mark.parametrize(("examples_per_tool", "tight"), [(0, False), (30, True)])
def test_everyday_talk_joins_the_neighbours_but_does_not_calibrate(
    examples_per_tool: int, tight: bool
) -> None:
    # Everyday talk near the catalog's own texts (each near a tool's description) would
    # loosen the threshold and the margin were it measured on; as neighbours only, the
    # calibration is the generic requests' and a request nearest to such a line finds it.
    vectors, kinds = _catalog(examples_per_tool)
    negatives = _negatives()
    noise = 0.3 * np.random.default_rng(3).standard_normal((10, 64))
    near = _unit(vectors[kinds == 0][:10] + noise)
    both = np.vstack([negatives, near]).astype(np.float32)
    owners = np.repeat(np.arange(40), 1 + examples_per_tool)
    alone = calibrate(vectors, kinds, negatives, owners)
    joined = calibrate(vectors, kinds, both, owners, len(negatives))
    assert (joined.threshold, joined.generic_margin) == (alone.threshold, alone.generic_margin)
    assert joined.negative_refusal == alone.negative_refusal
    assert joined.negatives is not None
    assert len(joined.negatives) == len(both)
    assert (joined.everyday_allowance > 0) is tight
    # In a tight catalog a request on that line has it for its nearest neighbour (the margin's
    # and the kNN test's); a loose one compares the generic requests proper only.
    nearest = joined.generic_nearest(near[4])
    assert nearest is not None
    assert joined.neighbours is not None
    if tight:
        assert len(joined.neighbours) == len(both)
        assert nearest[0] == pytest.approx(1.0)
        assert joined.generic_cosine(near[4]) == pytest.approx(1.0)
    else:
        assert len(joined.neighbours) == len(negatives)
        assert nearest == pytest.approx(alone.generic_nearest(near[4]))
    measured_on_all = calibrate(vectors, kinds, both, owners)
    assert (measured_on_all.threshold, measured_on_all.generic_margin) != (
        alone.threshold,
        alone.generic_margin,
    )


@needs_model
def test_relevance_is_absolute_high_for_a_handled_request_low_for_chit_chat(
    tmp_path: Path,
) -> None:
    folder = write_catalog(tmp_path / "c", CATALOG)
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    selector = Selector(FolderSource(folder), settings)
    assert selector.wait_for_semantic(120), selector.semantic_status
    handled = selector.select(SelectionRequest(request="how much disk space is free on web01"))
    assert handled.decision is not None
    assert handled.candidates[0].relevance > 0.5
    chat = selector.select(SelectionRequest(request="my cat is asleep on the sofa"))
    assert chat.decision is None
    assert all(c.relevance < 0.5 for c in chat.candidates)
    # Scores are on the same scale, never above the relevance: a refused request shows no
    # score above 0.5 either, though its candidates rank high relative to one another.
    love = selector.select(SelectionRequest(request="restart my heart, it is full of love"))
    assert love.decision is None
    assert love.candidates
    assert all(c.score < 0.5 for c in love.candidates)
    for c in [*handled.candidates, *love.candidates]:
        assert 0 <= c.score <= c.relevance + 1e-6
    assert handled.candidates[0].score > 0.5


def _terse(descriptions: dict[str, str]) -> dict[str, str]:
    return {name: terse_tool(name, text) for name, text in descriptions.items()}


TERSE_OPS = _terse(
    {
        "df": "Report file system disk space usage per mounted file system.",
        "du": "Estimate the disk space used by each file and directory.",
        "ls": "List the files and directories in a directory.",
        "find": "Search for files in a directory hierarchy by name, size or time.",
        "cp": "Copy files and directories.",
        "mv": "Move or rename files and directories.",
        "rm": "Remove files or directories.",
        "chmod": "Change the access permissions of files and directories.",
        "chown": "Change the owner and group of files and directories.",
        "tar": "Create, list and extract tar archives of files and directories.",
        "gzip": "Compress or decompress files.",
        "ln": "Make hard or symbolic links between files.",
        "stat": "Display the status of a file or file system, its size, owner and times.",
        "mount": "Mount a file system on a directory.",
        "lsblk": "List block devices, the disks and their partitions.",
        "fsck": "Check and repair a Linux file system.",
        "rsync": "Synchronise files and directories between two locations.",
        "touch": "Change file timestamps, creating the file if it does not exist.",
    }
)


def _terse_ops(tmp_path: Path) -> Path:
    return write_catalog(tmp_path / "c", {f"{n}.yaml": t for n, t in TERSE_OPS.items()})


def _answers_and_refuses(
    tmp_path: Path,
    tools: dict[str, str],
    answered: tuple[tuple[str, str], ...],
    refused: tuple[str, ...],
) -> None:
    """A catalog of `tools` decides each `answered` request for its tool, none of `refused`."""
    folder = write_catalog(tmp_path / "c", {f"{n}.yaml": t for n, t in tools.items()})
    settings = Settings(llm_url=None, semantic=True, home=tmp_path / "home")
    selector = Selector(FolderSource(folder), settings)
    assert selector.wait_for_semantic(120), selector.semantic_status
    for request, tool in answered:
        decision = selector.select(SelectionRequest(request=request)).decision
        assert decision is not None, request
        assert decision.tool == tool, request
    for request in refused:
        result = selector.select(SelectionRequest(request=request))
        assert result.decision is None, request
        assert all(c.relevance < 0.5 for c in result.candidates), request


@needs_model
def test_a_catalog_of_bare_descriptions_answers_its_requests_and_refuses_others(
    tmp_path: Path,
) -> None:
    _answers_and_refuses(
        tmp_path,
        TERSE_OPS,
        (
            ("how much space is left on the root filesystem", "df"),
            ("which folders under /var take the most space", "du"),
            ("extract the backup archive into /srv", "tar"),
            ("find files bigger than 1 GB in /home", "find"),
        ),
        (
            "recommend a good sci-fi novel for the holidays",
            "write a birthday poem for my sister",
            "when does the next train to manchester leave",
            "best way to clean a cast iron pan",
            "plan a road trip through the scottish highlands",
        ),
    )


@needs_model
def test_a_tight_catalog_refuses_everyday_talk_in_its_own_words(tmp_path: Path) -> None:
    # Everyday talk that borrows the catalog's words ("directory", "copy", "archived") lands
    # beside the tool that owns the word; the everyday talk shipped as neighbours
    # (neighbour_requests) is nearer. None of these lines is among the shipped ones.
    _answers_and_refuses(
        tmp_path,
        TERSE_OPS,
        (
            ("how much space is left on the root filesystem", "df"),
            ("copy the config directory to /backup", "cp"),
            ("extract the backup archive into /srv", "tar"),
        ),
        (
            "the kids left their toys scattered in every directory of the house",
            "my sister keeps a copy of every letter I ever sent her",
            "my childhood memories are archived somewhere in my head",
        ),
    )


@needs_model
def test_a_tight_catalog_of_bare_descriptions_refuses_nearly_every_generic_request(
    tmp_path: Path,
) -> None:
    folder = _terse_ops(tmp_path)
    engine = SemanticEngine(tmp_path / "home")
    index = engine.filled_index(FolderSource(folder).snapshot().tools, None)
    assert index.calibration is not None, index.error
    assert index.calibration.probes == 0
    # The generic requests' median took half of them (and the out-of-scope requests near it).
    assert index.calibration.negative_refusal >= NEGATIVE_QUANTILE - 0.01
    # Its descriptions are far nearer to each other than to any generic request.
    assert index.calibration.generic_margin == GENERIC_MARGIN_FLOOR


def test_the_calibration_keeps_the_generic_requests_and_gives_a_requests_nearest() -> None:
    vectors, kinds = _catalog(examples_per_tool=0)
    negatives = _negatives()
    calibration = calibrate(vectors, kinds, negatives)
    assert calibration.generic_cosine(negatives[3]) == pytest.approx(1.0)
    query = vectors[0]
    assert calibration.generic_cosine(query) == pytest.approx(float((negatives @ query).max()))
    nearest = calibration.generic_nearest(query)
    assert nearest is not None
    expected = np.sort(negatives @ query)[::-1][: min(EVERYDAY_NEIGHBOURS, len(negatives))]
    assert nearest == pytest.approx(expected)
    without = Calibration(0.3, False, 0.65, 0, None, 0.5)
    assert without.generic_cosine(query) is None


def test_only_a_catalog_without_examples_places_cosines_over_a_constant_span() -> None:
    negatives = _negatives()
    vectors, kinds = _catalog(examples_per_tool=0)
    assert calibrate(vectors, kinds, negatives).semantic_span == SEMANTIC_SPAN_WITHOUT
    vectors, kinds = _catalog(examples_per_tool=3)
    assert calibrate(vectors, kinds, negatives).semantic_span is None


# A loose catalog of consumer tools, one sentence each: its threshold stays at the generic
# requests' median, where chit-chat passes it.
CONSUMER = _terse(
    {
        "weather": "Get the current weather and the forecast for any city.",
        "recipes": "Find recipes, meal plans and cooking tips.",
        "flights": "Search and book cheap flights and hotels for your trip.",
        "music": "Create playlists and discover new songs and artists.",
        "translate": "Translate text between any two languages.",
        "currency": "Convert amounts between currencies at today's rates.",
        "fitness": "Get a workout plan tailored to your goals.",
        "books": "Personalised book recommendations and reviews.",
        "news": "The latest news headlines on any topic.",
        "stocks": "Stock prices, company financials and market news.",
        "jobs": "Search job listings and get help with your resume.",
        "movies": "Find films and TV shows to watch, with reviews.",
        "shopping": "Search products and compare prices across online stores.",
        "restaurants": "Find restaurants near you and book a table.",
        "qr_codes": "Create QR codes for links, text and contact cards.",
        "horoscope": "Your daily horoscope and astrology readings.",
    }
)


@needs_model
def test_a_loose_catalog_refuses_chit_chat_nearer_to_generic_requests_than_to_its_tools(
    tmp_path: Path,
) -> None:
    _answers_and_refuses(
        tmp_path,
        CONSUMER,
        (
            ("will it rain in lisbon tomorrow", "weather"),
            ("how do I say thank you in german", "translate"),
            ("find me a cheap flight to rome in may", "flights"),
        ),
        ("hey, what's up", "nice to meet you", "I had a strange dream last night"),
    )


@needs_model
def test_a_request_of_words_nothing_knows_is_refused_a_typo_of_a_tool_is_not(
    tmp_path: Path,
) -> None:
    # Keyboard mash lands near some tool ("sdfgh jkl" 0.82 relevant to webhooks,
    # "qwerty uiop" 0.66 to qr_codes): the loose catalog's threshold let both through.
    webhooks = "Create and run small JavaScript webhooks that receive HTTP callbacks."
    _answers_and_refuses(
        tmp_path,
        {**CONSUMER, **_terse({"webhooks": webhooks})},
        (("horoscpe", "horoscope"), ("wheather forecast", "weather")),
        ("sdfgh jkl", "sdfgh jkl?", "qwerty uiop", "asdf qwerty"),
    )
