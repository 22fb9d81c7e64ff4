"""The selector end to end on a small YAML catalog: preferences, policy, null decisions,
determinism, Stage A evidence and hot reload."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest, SelectionResult
from toolcatalog.selection.selector import Selector

from .selection_catalog import CATALOG, LOGROTATE, ask, terse_tool, write_catalog

DISK = "how much disk space is used on the server"


def test_fast_picks_df_and_thorough_picks_du(selector: Selector) -> None:
    assert ask(selector, DISK, preferences={"mode": "fast"}) == ("df", "summary")
    assert ask(selector, DISK, preferences={"mode": "thorough"}) == ("du", "deep_scan")


def test_explicit_weights_flip_the_choice_like_modes(selector: Selector) -> None:
    speed = {"speed": 1, "accuracy": 0, "cost": 0, "complexity": 0, "completeness": 0}
    whole = {"speed": 0, "accuracy": 0, "cost": 0, "complexity": 0, "completeness": 1}
    assert ask(selector, DISK, preferences={"weights": speed})[0] == "df"
    assert ask(selector, DISK, preferences={"weights": whole})[0] == "du"


def test_preference_picks_instant_or_range_query_within_a_tool(selector: Selector) -> None:
    text = "request rate of the checkout api"
    assert ask(selector, text, preferences={"mode": "fast"}) == ("prometheus", "instant_query")
    assert ask(selector, text, preferences={"mode": "thorough"}) == ("prometheus", "range_query")


def test_preference_is_inferred_from_the_text(selector: Selector) -> None:
    quick = selector.select(SelectionRequest(request=f"quick rough idea: {DISK}"))
    assert quick.preferences_used.mode == "fast"
    assert quick.preferences_used.source == "inferred"
    assert quick.decision is not None
    assert quick.decision.tool == "df"
    full = selector.select(SelectionRequest(request=f"full report, everything: {DISK}"))
    assert full.preferences_used.mode == "thorough"
    assert full.decision is not None
    assert full.decision.tool == "du"


def test_a_cheap_irrelevant_tool_does_not_displace_a_relevant_one(selector: Selector) -> None:
    for mode in ("fast", "cheap", "simple", "accurate", "thorough"):
        text = "cpu metrics of the web tier as a promql range"
        assert ask(selector, text, preferences={"mode": mode})[0] == "prometheus"


def _production(selector: Selector, text: str, **constraints: Any) -> SelectionResult:
    return selector.select(
        SelectionRequest.model_validate(
            {
                "request": text,
                "constraints": {"environment": "production", **constraints},
                "explain": True,
            }
        )
    )


def test_production_decides_the_restart_asked_for_with_approval_never_a_status(
    selector: Selector,
) -> None:
    assert ask(selector, "restart nginx") == ("systemctl", "restart")
    result = _production(selector, "restart nginx")
    assert result.decision is not None
    assert (result.decision.pattern, result.decision.effect) == ("restart", "change")
    assert result.decision.policy_outcome == "needs_approval"
    assert result.decision.policy_rule == "default environments.production.change: needs_approval"
    assert result.decision.approval == "a human approves this run"
    assert result.intent is not None
    assert (result.intent.kind, result.intent.action) == ("change", "restart")
    roles = {(c.tool, c.pattern): c.role for c in result.candidates}
    assert roles[("systemctl", "restart")] == "action"
    assert all(role == "helper" for (_, p), role in roles.items() if p == "status")


def test_a_refused_action_gives_a_null_decision_naming_the_pattern_and_rule(
    selector: Selector,
) -> None:
    result = _production(selector, "restart nginx", require_production_safe=True)
    assert result.decision is None
    assert result.reason is not None
    assert "asks to restart" in result.reason
    assert "systemctl.restart (not production_safe (constraints.require_production_safe))" in (
        result.reason
    )


def test_a_question_about_a_restart_is_answered_by_a_read(selector: Selector) -> None:
    result = _production(selector, "why did nginx restart")
    assert result.decision is not None
    assert (result.decision.pattern, result.decision.policy_outcome) == ("status", "allowed")
    assert result.intent is not None
    assert result.intent.kind == "read"
    restart = [c for c in result.candidates if c.pattern == "restart"]
    assert all(c.role == "unrequested_change" for c in restart)


def test_an_irrelevant_request_gets_a_null_decision_with_a_reason(selector: Selector) -> None:
    result = selector.select(SelectionRequest(request="bake a chocolate cake"))
    assert result.decision is None
    assert result.reason is not None
    assert "no tool in the catalog handles" in result.reason


def test_everything_excluded_gives_a_null_decision_naming_the_policy(selector: Selector) -> None:
    result = selector.select(
        SelectionRequest.model_validate(
            {"request": DISK, "constraints": {"exclude_tools": ["df", "du"]}}
        )
    )
    assert result.decision is None
    assert result.reason is not None
    assert "excluded" in result.reason


def test_same_snapshot_and_request_give_the_same_result(selector: Selector) -> None:
    request = SelectionRequest(request=DISK, top_k=5, explain=True)
    first, second = selector.select(request), selector.select(request)
    strip = {"elapsed_ms", "selection_id"}
    assert first.model_dump(exclude=strip) == second.model_dump(exclude=strip)
    assert first.selection_id != second.selection_id  # each answer is its own selection


def test_equal_scores_are_ordered_by_tool_name(tmp_path: Path) -> None:
    from .selection_catalog import DF

    twin = DF.replace("name: df", "name: bdf")
    folder = write_catalog(tmp_path / "c", {"a.yaml": DF, "b.yaml": twin})
    selector = Selector(FolderSource(folder), Settings(llm_url=None))
    result = selector.select(SelectionRequest(request=DISK))
    assert [c.tool for c in result.candidates] == ["bdf", "df"]
    assert result.tie_break.used
    assert result.tie_break.method == "deterministic"


async def test_hot_reload_changes_results_without_restart(
    selector: Selector, catalog_dir: Path
) -> None:
    first = await selector.aselect(SelectionRequest(request="rotate the nginx logs now"))
    assert first.decision is None or first.decision.tool != "logrotate"
    write_catalog(catalog_dir, {"logs/logrotate.yaml": LOGROTATE})
    await selector.aselect_index(fresh=True)
    second = await selector.aselect(SelectionRequest(request="rotate the nginx logs now"))
    assert second.decision is not None
    assert second.decision.tool == "logrotate"
    assert second.catalog_version > first.catalog_version


async def test_a_new_catalog_is_answered_from_the_previous_index_until_its_own_is_built(
    selector: Selector, catalog_dir: Path
) -> None:
    text = "rotate the nginx logs now"
    first = await selector.aselect(SelectionRequest(request=text))
    write_catalog(catalog_dir, {"logs/logrotate.yaml": LOGROTATE})
    # The select right after the change does not wait for the new index: it answers from
    # the previous one and says so by its catalog version.
    during = await selector.aselect(SelectionRequest(request=text))
    assert during.catalog_version == first.catalog_version
    assert during.decision is None or during.decision.tool != "logrotate"
    await selector.aselect_index(fresh=True)
    after = await selector.aselect(SelectionRequest(request=text))
    assert after.catalog_version > first.catalog_version
    assert after.decision is not None
    assert after.decision.tool == "logrotate"
    await selector.close()


def test_stage_a_capability_aliases_lift_the_tools_that_offer_them(selector: Selector) -> None:
    text = "check the web01 storage"
    classified = selector.select(
        SelectionRequest.model_validate(
            {
                "request": text,
                "classification": {
                    "intent": {
                        "category": "monitoring",
                        "action": "check",
                        "confidence": 0.9,
                        "capabilities": ["disk_monitoring"],
                    },
                    "entities": [{"type": "hostname", "value": "web01", "confidence": 0.9}],
                    "risk_level": "low",
                },
            }
        )
    )
    assert classified.decision is not None
    assert classified.decision.tool == "df"


def test_a_command_entity_naming_a_tool_selects_it(selector: Selector) -> None:
    result = selector.select(
        SelectionRequest.model_validate(
            {
                "request": "how big is it",
                "classification": {"entities": [{"type": "command", "value": "du -sh /var"}]},
            }
        )
    )
    assert result.decision is not None
    assert result.decision.tool == "du"


def test_stage_a_production_environment_and_approval_are_applied(selector: Selector) -> None:
    result = selector.select(
        SelectionRequest.model_validate(
            {
                "request": "is the nginx service running",
                "classification": {"environment": "production", "requires_approval": True},
            }
        )
    )
    assert result.decision is not None
    assert result.decision.pattern == "status"
    assert result.candidates[0].policy.requires_approval


def test_the_result_carries_estimates_hints_and_reasons(selector: Selector) -> None:
    result = selector.select(
        SelectionRequest.model_validate(
            {"request": DISK, "preferences": {"mode": "thorough"}, "inputs": {"files": 2_000_000}}
        )
    )
    top = result.candidates[0]
    assert (top.tool, top.estimates.time_ms, top.estimates.cost) == ("du", 100_500.0, 42.0)
    assert top.execution == "background"
    assert top.sla == "background"
    assert result.execution == "background"
    assert result.sla == "background"
    assert any(r.startswith("relevance") for r in top.reasons)
    assert 0.0 <= top.features.speed <= 1.0
    assert top.features.completeness == 1.0
    assert result.catalog_version >= 1
    assert result.elapsed_ms >= 0


def test_top_k_limits_candidates_to_distinct_tools(selector: Selector) -> None:
    result = selector.select(SelectionRequest(request="service disk metrics", top_k=2))
    assert len(result.candidates) <= 2
    assert len({c.tool for c in result.candidates}) == len(result.candidates)


def test_an_os_named_in_the_text_prefers_that_platform_softly(selector: Selector) -> None:
    windows = selector.select(SelectionRequest(request="check a service on the windows server"))
    linux = selector.select(SelectionRequest(request="check a service on the ubuntu server"))
    assert windows.decision is not None
    assert linux.decision is not None
    assert (windows.decision.tool, linux.decision.tool) == ("get_service", "systemctl")
    # soft: the other OS's tool is still a candidate, not filtered out
    assert "systemctl" in {c.tool for c in windows.candidates}


def test_every_select_is_counted_by_the_method_that_decided(selector: Selector) -> None:
    from toolcatalog.metrics import REGISTRY

    def count(method: str) -> float:
        value = REGISTRY.get_sample_value(
            "toolcatalog_selection_decisions_total", {"method": method}
        )
        return value or 0.0

    none, deterministic = count("none"), count("deterministic")
    selector.select(SelectionRequest(request="bake a chocolate cake"))
    selector.select(SelectionRequest(request=DISK))
    assert (count("none"), count("deterministic")) == (none + 1, deterministic + 1)


SCANNER = """
name: scanner
description: Scans directories and reports what uses the disk space.
platform: linux
category: storage
examples: [what is using the disk space]
capabilities:
  - name: directory_size
    description: Disk space used per directory.
    patterns:
      - name: full_scan
        description: Scan every directory and report what uses the disk space in full detail.
        profile: {time_estimate_ms: 900000, cost_estimate: 1, complexity: 0.1, accuracy: 1.0,
                  completeness: 1.0}
        policy: {production_safe: true}
      - name: summary
        description: Top-level directory sizes.
        profile: {time_estimate_ms: 2000, cost_estimate: 1, complexity: 0.1, accuracy: 0.8,
                  completeness: 0.5}
        policy: {production_safe: true}
"""


def test_a_question_under_the_default_preference_gets_an_inline_pattern_first(
    tmp_path: Path,
) -> None:
    folder = write_catalog(tmp_path / "c", {"storage/scanner.yaml": SCANNER})
    selector = Selector(FolderSource(folder), Settings(llm_url=None))
    asked = selector.select(SelectionRequest(request="what is using the disk space?"))
    assert asked.decision is not None
    assert asked.decision.pattern == "summary"
    assert asked.execution == "inline"
    told = selector.select(
        SelectionRequest(request="scan every directory for disk space in full detail")
    )
    assert told.decision is not None
    assert told.decision.pattern == "full_scan"  # not a question: the best fit stands


def test_a_tool_named_as_the_problem_is_not_the_answer(catalog_dir: Path) -> None:
    from toolcatalog.selection.loader import load_folder_snapshot
    from toolcatalog.selection.request_names import named_as_problem
    from toolcatalog.selection.retrieval import CatalogIndex

    index = CatalogIndex(load_folder_snapshot(catalog_dir))
    df = index.tool_position["df"]
    assert named_as_problem(index, "df shows nothing for /data") == [df]
    assert named_as_problem(index, "'df: command not found' on db2") == [df]
    assert named_as_problem(index, "df says 40% used but the app says disk full") == [df]
    assert named_as_problem(index, "use df to show free space") == []
    assert named_as_problem(index, "is the disk full? df please") == []


def test_a_tool_the_request_rules_out_is_not_the_answer(selector: Selector) -> None:
    assert ask(selector, "how much disk space is used")[0] == "df"
    assert ask(selector, "how much disk space is used, without df")[0] == "du"
    assert ask(selector, "how much disk space is used instead of df")[0] == "du"
    assert ask(selector, "how much disk space is used? df is not installed here")[0] == "du"
    assert ask(selector, "how much disk space is used? I can't use df")[0] == "du"


def test_a_tool_the_request_says_to_use_is_the_answer(selector: Selector) -> None:
    assert ask(selector, "is the nginx service running")[0] == "systemctl"
    assert ask(selector, "is the nginx service running? use get_service")[0] == "get_service"
    assert ask(selector, "how big is /var") == (None, None)
    assert ask(selector, "how big is /var, using df")[0] == "df"


def test_a_word_that_heads_one_tool_name_names_that_tool(tmp_path: Path) -> None:
    from toolcatalog.selection.loader import load_folder_snapshot
    from toolcatalog.selection.request_names import tool_named
    from toolcatalog.selection.retrieval import CatalogIndex

    index = CatalogIndex(load_folder_snapshot(write_catalog(tmp_path / "c", CATALOG)))
    get_service = index.tool_position["get_service"]
    assert tool_named(index, "get") == get_service  # the only name it heads
    assert tool_named(index, "df") == index.tool_position["df"]
    assert tool_named(index, "service") is None
    assert tool_named(index, "zzz") is None  # after every name


def test_a_product_name_in_capitals_weighs_more_than_the_words_around_it(
    catalog_dir: Path,
) -> None:
    from toolcatalog.selection.loader import load_folder_snapshot
    from toolcatalog.selection.request_names import ACRONYM_WEIGHT, weigh_acronyms
    from toolcatalog.selection.retrieval import CatalogIndex
    from toolcatalog.selection.text import query_terms

    index = CatalogIndex(load_folder_snapshot(catalog_dir))
    text = "rate of errors in PROMQL for the XYZ team"
    terms = query_terms(text)
    plain = dict(terms)
    weigh_acronyms(index, text, terms)
    assert terms["promql"] == ACRONYM_WEIGHT
    assert {t: w for t, w in terms.items() if t != "promql"} == {
        t: w for t, w in plain.items() if t != "promql"
    }  # XYZ: no tool has it; the other words keep their weight


def test_a_product_named_in_capitals_outweighs_the_generic_words_of_the_request(
    tmp_path: Path,
) -> None:
    folder = write_catalog(
        tmp_path / "catalog",
        {
            "kubectl.yaml": terse_tool(
                "kubectl", "Show the nodes, pods and events of a Kubernetes cluster."
            ),
            "gcloud.yaml": terse_tool(
                "gcloud",
                "Manage Google Cloud resources such as GKE, compute instances and buckets.",
            ),
            "aws.yaml": terse_tool(
                "aws", "Manage AWS resources such as EKS, EC2 instances and S3."
            ),
        },
    )
    selector = Selector(
        FolderSource(folder, check_interval_s=0), Settings(llm_url=None, semantic=False)
    )

    # One word is kubectl's, one gcloud's: the product, written in capitals, ranks first.
    def first(text: str) -> str:
        return selector.select(SelectionRequest(request=text)).candidates[0].tool

    assert first("list the GKE nodes") == "gcloud"
    assert first("list the gke nodes") == "kubectl"


FREEZE = """
environments:
  freeze:
    description: Change freeze before the release.
    change: refused
    destructive: refused
"""


def test_a_catalog_folder_environment_refuses_what_its_rules_refuse(
    selector: Selector, catalog_dir: Path
) -> None:
    write_catalog(catalog_dir, {"environments.yaml": FREEZE})
    frozen = _production(selector, "restart nginx", environment="freeze")
    assert frozen.decision is None
    assert frozen.reason is not None
    assert "environments.freeze.change: refused" in frozen.reason
    looked = _production(selector, "is nginx running", environment="freeze")
    assert looked.decision is not None
    assert looked.decision.policy_outcome == "allowed"


def test_an_invalid_environments_file_is_refused_naming_it(tmp_path: Path) -> None:
    from toolcatalog.errors import InvalidDefinition
    from toolcatalog.formats.catalog_folder import read_catalog_folder

    folder = write_catalog(tmp_path / "c", {"environments.yaml": FREEZE.replace("refused", "x")})
    with pytest.raises(InvalidDefinition) as caught:
        read_catalog_folder(folder)
    assert "environments.yaml" in str(caught.value)
    assert "freeze" in str(caught.value.problems[0].path)


def test_a_replaced_catalog_index_is_freed_though_the_heap_is_frozen(
    selector: Selector, catalog_dir: Path
) -> None:
    import gc
    import weakref

    selector.select(SelectionRequest(request=DISK))
    old = weakref.ref(selector.enumerator_for(selector.loader.snapshot()).index)
    assert gc.get_freeze_count() > 0  # the build froze what it made (catalog.heap.frozen_heap)
    write_catalog(catalog_dir, {"logs/logrotate.yaml": LOGROTATE})
    selector.select(SelectionRequest(request=DISK))
    assert old() is None  # reference counting alone freed it: the index holds no cycles


def test_a_select_reads_the_sources_snapshot_without_loading_through_the_profile_loader(
    catalog_dir: Path,
) -> None:
    from toolcatalog.model.snapshot import CatalogSnapshot
    from toolcatalog.selection.loader import load_folder_snapshot

    class CountingSource:
        def __init__(self, snapshot: CatalogSnapshot) -> None:
            self.value, self.loads, self.peeks = snapshot, 0, 0

        async def get_all_tools_with_structure(self) -> CatalogSnapshot:
            self.loads += 1
            return self.value

        def peek_snapshot(self) -> CatalogSnapshot | None:
            self.peeks += 1
            return self.value

    source = CountingSource(load_folder_snapshot(catalog_dir))
    selector = Selector(source, Settings(llm_url=None, semantic=False))
    for _ in range(3):
        assert selector.select(SelectionRequest(request=DISK)).decision is not None
    assert (source.loads, source.peeks) == (0, 3)
    assert selector.loader.status.source == "none"  # the ProfileLoader was never asked

    async def asynchronously() -> None:  # the service's path: aselect
        for _ in range(3):
            result = await selector.aselect(SelectionRequest(request=DISK))
            assert result.decision is not None

    asyncio.run(asynchronously())
    assert (source.loads, source.peeks) == (0, 6)
    assert selector.loader.status.source == "none"


def test_a_cycle_that_dies_after_the_heap_was_frozen_is_reclaimed_by_a_later_build(
    selector: Selector, catalog_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import weakref

    from toolcatalog.catalog import heap

    class Node:
        me: object = None

    selector.select(SelectionRequest(request=DISK))
    node = Node()
    node.me = node  # a cycle: only the cyclic collector can free it
    ref = weakref.ref(node)
    write_catalog(catalog_dir, {"logs/logrotate.yaml": LOGROTATE})
    selector.select(SelectionRequest(request=DISK))  # a build freezes the live node
    del node
    monkeypatch.setattr(heap, "FULL_COLLECT_GROWTH", 0.0)  # the frozen set "doubled"
    write_catalog(catalog_dir, {"logs/logrotate2.yaml": LOGROTATE.replace("logrotate", "lr2")})
    selector.select(SelectionRequest(request=DISK))
    assert ref() is None


def test_silent_words_take_the_change_when_only_a_change_is_relevant(tmp_path: Path) -> None:
    """A request that names no action and asks nothing is read as a look; when its most
    relevant tool can only change something and no tool that reads is near it, the look
    would refuse what the catalog answers: the change is decided, with the policy's say."""
    folder = write_catalog(tmp_path / "catalog", {**CATALOG, "logs/logrotate.yaml": LOGROTATE})
    selector = Selector(FolderSource(folder, check_interval_s=0), Settings(llm_url=None))
    text = "old log files on web01 pile up uncompressed"
    result = _production(selector, text)
    assert result.decision is not None
    assert (result.decision.tool, result.decision.pattern) == ("logrotate", "force")
    assert result.decision.effect == "change"
    assert result.intent is not None
    assert (result.intent.kind, result.intent.source) == ("change", "default")
    assert "only change" in result.intent.evidence


def test_silent_words_still_read_when_a_tool_that_reads_is_relevant(
    selector: Selector,
) -> None:
    result = _production(selector, "nginx service on web01 since this morning")
    assert result.decision is not None
    assert (result.decision.tool, result.decision.pattern) == ("systemctl", "status")
    assert result.intent is not None
    assert (result.intent.kind, result.intent.source) == ("read", "default")
