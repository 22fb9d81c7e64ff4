"""Migrating a seed tree: templates skipped, legacy profiles converted, generic names given a
meaning (vocabulary, description, mapping file), and the report that says what happened."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from toolcatalog.errors import InvalidDefinition
from toolcatalog.formats.opsconductor import (
    Kind,
    Naming,
    convert_opsconductor,
    load_mapping,
    load_opsconductor_paths,
    template_reason,
)
from toolcatalog.model.fields import SNAKE_RE
from toolcatalog.model.vocabulary import Vocabulary

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "opsconductor"
LEGACY = FIXTURES / "opsconductor_legacy" / "profiles.yaml"

VOCABULARY = Vocabulary.model_validate(
    {
        "vocabulary": [
            {"name": "scheduled_tasks", "description": "List, create or change scheduled jobs.",
             "aliases": ["job_scheduling", "cron_jobs"]},
            {"name": "disk_usage", "description": "Free and used space per file system.",
             "aliases": ["disk_space"]},
            {"name": "log_search", "description": "Search logs for patterns."},
            {"name": "system_repair", "description": "Verify and repair operating-system files."},
        ]
    }
)  # fmt: skip


def generic_seed(name: str, description: str, **extra: Any) -> dict[str, Any]:
    """A seed tool the way most of the seed's tree writes them: one `primary_capability` with
    one `execute` pattern whose description only says "run it"."""
    return {
        "tool_name": name,
        "version": "1.0",
        "description": description,
        "platform": "linux",
        "category": "automation",
        "capabilities": {
            "primary_capability": {
                "description": f"{name} primary capability",
                "patterns": {
                    "execute": {
                        "description": f"Execute {name} command",
                        "typical_use_cases": [f"use {name}", f"{name} command"],
                        "time_estimate_ms": "500",
                        "policy": {"production_safe": True},
                    }
                },
            }
        },
        **extra,
    }


# --- templates -------------------------------------------------------------------------------


TEMPLATE_TEXT = """\
tool_name: "<TOOL_NAME>"
version: "1.0"
description: "<ONE_LINE_DESCRIPTION>"
platform: "<PLATFORM>"
category: "<CATEGORY>"
capabilities:
  <capability_name>:
    description: "<WHAT_IT_DOES>"
    patterns:
      <pattern_name>:
        time_estimate_ms: "<EXPRESSION>"
        complexity_score: <0.0-1.0>
        policy:
          max_cost: <MAX_COST>
"""


def test_a_file_under_a_templates_folder_is_skipped_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "new_tool.yaml").write_text(yaml.safe_dump(generic_seed("at", "x")))
    (tmp_path / "at.yaml").write_text(yaml.safe_dump(generic_seed("at", "Schedule a job")))

    result, report = load_opsconductor_paths([tmp_path])

    assert result.problems == []
    assert [lt.tool.name for lt in result.tools] == ["at"]
    (skipped,) = report.skipped
    assert skipped.file == str(tmp_path / "templates" / "new_tool.yaml")
    assert "templates/ folder" in skipped.reason


def test_a_file_full_of_angle_bracket_placeholders_is_skipped_wherever_it_is(
    tmp_path: Path,
) -> None:
    (tmp_path / "blank.yaml").write_text(TEMPLATE_TEXT)

    result, report = load_opsconductor_paths([tmp_path])

    assert (result.tools, result.problems) == ([], [])
    (skipped,) = report.skipped
    assert "placeholders such as <0.0-1.0>, <CATEGORY>, <EXPRESSION>" in skipped.reason


def test_a_tree_kept_under_a_folder_named_templates_is_not_all_templates(tmp_path: Path) -> None:
    tree = tmp_path / "templates" / "seed"
    tree.mkdir(parents=True)
    (tree / "at.yaml").write_text(yaml.safe_dump(generic_seed("at", "Schedule a job")))

    result, report = load_opsconductor_paths([tree, tree / "at.yaml"])

    assert report.skipped == []
    assert result.tools[0].tool.name == "at"  # and the second is the same tool, refused


def test_one_or_two_bracketed_values_do_not_make_a_tool_a_template() -> None:
    doc = generic_seed("at", "Schedule a job <once>", metadata={"owner": "<team>"})
    assert template_reason(Path("linux/at.yaml"), doc) is None
    assert template_reason(None, {**doc, "tool_name": "<TOOL_NAME>"}) is not None


# --- the legacy single-file profiles (v1.1) --------------------------------------------------


def test_legacy_profiles_convert_every_tool_with_the_missing_fields_defaulted() -> None:
    result, report = load_opsconductor_paths([LEGACY])

    assert result.problems == []
    assert [lt.tool.name for lt in result.tools] == ["inventory_lookup", "restart_helper"]
    inventory = result.tools[0].tool
    assert (inventory.platform.value, inventory.category, inventory.version) == (
        "custom", "general", "1.0.0"
    )  # fmt: skip
    export = inventory.capabilities[0].patterns[1]
    assert export.policy.requires_background_if == "N > 2000"
    assert set(export.inputs["properties"]) == {"N", "pages"}
    changes = {(c.kind, c.path) for c in report.tools[0].changes}
    assert (Kind.defaulted, "tools.inventory-lookup.platform") in changes
    assert (Kind.renamed, "tools.inventory-lookup.tool_name") in changes
    assert (Kind.kept, "tools.inventory-lookup.defaults") in changes


def test_a_problem_in_a_legacy_profile_names_the_tool_and_line(tmp_path: Path) -> None:
    text = LEGACY.read_text(encoding="utf-8").replace(
        "time_estimate_ms: 3000", "time_estimate_ms: -1"
    )
    (tmp_path / "profiles.yaml").write_text(text, encoding="utf-8")

    result, report = load_opsconductor_paths([tmp_path])

    assert result.tools == []  # one bad profile refuses the file, as for any file
    (problem,) = result.problems
    where = "tools.restart-helper.capabilities.service_control.patterns.restart.time_estimate_ms"
    assert problem.path == where
    assert problem.line == text.splitlines().index("            time_estimate_ms: -1") + 1
    assert list(report.refused) == [str(tmp_path / "profiles.yaml")]


# --- generic names ---------------------------------------------------------------------------


def test_generic_names_map_to_the_vocabulary_and_the_description() -> None:
    doc = generic_seed("crontab", "Manage cron jobs")

    tool, report = convert_opsconductor(doc, naming=Naming(VOCABULARY))

    (capability,) = tool.capabilities
    assert capability.name == "scheduled_tasks"
    assert capability.description == "Manage cron jobs"
    assert [p.name for p in capability.patterns] == ["manage_cron_jobs"]
    renamed = {c.detail for c in report.changes if c.kind is Kind.renamed}
    assert "capability 'primary_capability' -> 'scheduled_tasks'" in renamed
    assert "pattern 'execute' -> 'manage_cron_jobs'" in renamed


def test_a_single_vague_word_does_not_pick_a_vocabulary_entry() -> None:
    tool, report = convert_opsconductor(
        generic_seed("cat", "Display file contents"), naming=Naming(VOCABULARY)
    )
    assert tool.capabilities[0].name == "display_file_contents"
    topics = {c.topic for c in report.changes}
    assert "generic capability names mapped from the description (no vocabulary match)" in topics


def test_generic_naming_is_deterministic() -> None:
    doc = generic_seed("df", "Report file system disk space usage")
    first, _ = convert_opsconductor(copy.deepcopy(doc), naming=Naming(VOCABULARY))
    second, _ = convert_opsconductor(copy.deepcopy(doc), naming=Naming(VOCABULARY))
    assert first == second
    assert first.capabilities[0].name == "disk_usage"


def test_meaningful_seed_names_are_left_alone() -> None:
    doc = generic_seed("journal", "Query logs")
    doc["capabilities"] = {"log_access": doc["capabilities"]["primary_capability"]}
    doc["capabilities"]["log_access"]["patterns"] = {
        "view_logs": doc["capabilities"]["log_access"]["patterns"]["execute"]
    }
    tool, _ = convert_opsconductor(doc, naming=Naming(VOCABULARY))
    assert [(c.name, [p.name for p in c.patterns]) for c in tool.capabilities] == [
        ("log_access", ["view_logs"])
    ]


def test_a_mapping_file_overrides_names_platform_and_category(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "at:\n  capability: scheduled_tasks\n  pattern: schedule_once\n  category: scheduling\n"
    )
    tool, report = convert_opsconductor(
        generic_seed("at", "Schedule one-time command execution"),
        naming=Naming(VOCABULARY, load_mapping(mapping)),
    )
    assert tool.capabilities[0].name == "scheduled_tasks"
    assert tool.capabilities[0].patterns[0].name == "schedule_once"
    assert tool.category == "scheduling"
    topics = {c.topic for c in report.changes}
    assert "generic pattern names set by the mapping file" in topics


def test_a_bad_mapping_file_is_refused_with_every_problem(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("at:\n  capability: Not A Name\n  colour: red\n")
    with pytest.raises(InvalidDefinition) as exc:
        load_mapping(mapping)
    assert {p.path for p in exc.value.problems} == {"at.capability", "at.colour"}


# --- the report ------------------------------------------------------------------------------


def test_the_report_counts_changes_by_kind_and_topic_across_tools() -> None:
    _, report = load_opsconductor_paths([SEED, LEGACY], naming=Naming(VOCABULARY))

    rows = {(r.kind, r.topic): (r.changes, r.tools) for r in report.summary()}
    assert rows[(Kind.converted, "versions made semantic")] == (3, 3)
    assert rows[(Kind.defaulted, "legacy profiles: platform not given")] == (2, 2)
    kinds = [r.kind for r in report.summary()]
    assert kinds == sorted(kinds, key=list(Kind).index)


def test_the_report_as_json_and_markdown_carries_every_tool_and_change() -> None:
    _, report = load_opsconductor_paths([SEED], naming=Naming(VOCABULARY))

    data = report.as_json()
    assert [t["tool"] for t in data["per_tool"]] == ["grep", "smart_health", "prometheus_query"]
    grep = data["per_tool"][0]
    assert {"seed": "tool_name", "ours": "name"} in grep["mapped"]
    assert len(grep["changes"]) == len(report.tools[0].changes)
    markdown = report.as_markdown()
    assert markdown.startswith("# OpsConductor migration report\n")
    assert "### smart_health (`" in markdown
    assert "| converted | versions made semantic | 3 | 3 |" in markdown


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.from_regex(r"[a-z][a-z0-9]{1,20}", fullmatch=True))
def test_any_description_gives_valid_names(description: str, name: str) -> None:
    doc = generic_seed(name, description)
    refused: list[str] = []
    try:
        tool, _ = convert_opsconductor(doc, naming=Naming(VOCABULARY))
    except InvalidDefinition as exc:
        refused = [p.path for p in exc.problems]
    # Only what the seed wrote may be refused (an empty description, a reserved name), never
    # a name the migration made.
    assert set(refused) <= {"description", "tool_name"}
    if not refused:
        (capability,) = tool.capabilities
        assert re.fullmatch(SNAKE_RE, capability.name)
        assert re.fullmatch(SNAKE_RE, capability.patterns[0].name)


def test_the_documented_mapping_example_loads_and_names_vocabulary_capabilities() -> None:
    root = Path(__file__).parents[2]
    mapping = load_mapping(root / "docs" / "examples" / "opsconductor-mapping.yaml")
    vocabulary = Vocabulary.model_validate(
        yaml.safe_load((root / "catalog" / "capabilities.yaml").read_text(encoding="utf-8"))
    )
    assert len(mapping) > 30
    unknown = {e.capability for e in mapping.values()} - set(vocabulary.names())
    assert unknown == set()


def test_seed_statuses_map_to_ours_and_unknown_ones_stay_in_metadata() -> None:
    testing, report = convert_opsconductor(generic_seed("at", "Schedule jobs", status="testing"))
    assert testing.status.value == "experimental"
    assert "status: 'testing' -> 'experimental'" in report.notes
    odd, report = convert_opsconductor(generic_seed("at", "Schedule jobs", status="retired"))
    assert odd.status.value == "active"
    assert odd.metadata["opsconductor"]["status"] == "retired"
