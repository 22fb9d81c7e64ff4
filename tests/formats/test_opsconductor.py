"""The OpsConductor (seed system) converter: mapping field by field, honest reports, problems
with seed paths and lines, and folder loading."""

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
from toolcatalog.formats.definitions import validate_documents
from toolcatalog.formats.dump import dump_tool
from toolcatalog.formats.opsconductor import (
    ConversionReport,
    convert_opsconductor,
    load_opsconductor_paths,
)
from toolcatalog.model.pattern import Pattern
from toolcatalog.model.tool import Tool

FIXTURES = Path(__file__).parent / "fixtures" / "opsconductor"
PROMETHEUS = FIXTURES / "prometheus.yaml"
GREP = FIXTURES / "grep.yaml"
LISTED = FIXTURES / "listed.yaml"


def seed_doc(path: Path = PROMETHEUS) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def convert(doc: dict[str, Any]) -> tuple[Tool, ConversionReport]:
    return convert_opsconductor(doc, file="seed.yaml")


def minimal_seed(**pattern: Any) -> dict[str, Any]:
    """A small valid seed tool with one pattern; keyword arguments replace pattern fields."""
    spec: dict[str, Any] = {
        "description": "Count lines",
        "time_estimate_ms": 100,
        "policy": {"production_safe": True},
    }
    spec.update(pattern)
    return {
        "tool_name": "wc",
        "version": "1.0",
        "description": "Count lines, words and bytes",
        "platform": "linux",
        "category": "system",
        "capabilities": {
            "text_stats": {"description": "Text statistics", "patterns": {"count": spec}}
        },
    }


def only_pattern(tool: Tool) -> Pattern:
    assert tool.pattern_count() == 1
    return tool.capabilities[0].patterns[0]


def problems_of(exc: pytest.ExceptionInfo[InvalidDefinition]) -> dict[str, str]:
    return {p.path: p.message for p in exc.value.problems}


@pytest.fixture(scope="module")
def prometheus() -> tuple[Tool, ConversionReport]:
    return convert_opsconductor(seed_doc(), file=str(PROMETHEUS))


def pattern_named(tool: Tool, capability: str, pattern: str) -> Pattern:
    (cap,) = [c for c in tool.capabilities if c.name == capability]
    (found,) = [p for p in cap.patterns if p.name == pattern]
    return found


# --- the realistic seed file, field by field --------------------------------------------------


def test_tool_level_fields_are_mapped_and_normalised(
    prometheus: tuple[Tool, ConversionReport],
) -> None:
    tool, report = prometheus
    assert tool.name == "prometheus_query"
    assert tool.display_name == "Prometheus-Query"
    assert tool.version == "2.1.0"
    assert tool.description.startswith("Query Prometheus for metric series")
    assert tool.platform == "linux"
    assert tool.category == "monitoring_tools"
    assert tool.tags == ["monitoring", "promql", "time-series"]
    assert tool.docs_url == "https://prometheus.io/docs/prometheus/latest/querying/api/"
    assert tool.examples == [
        "how many targets are down right now",
        "what is the 5xx error rate of checkout over the last hour",
    ]
    assert [c.name for c in tool.capabilities] == ["metric_query", "target_health"]
    assert [p.name for p in tool.capabilities[0].patterns] == ["instant_query", "range_query"]
    assert report.tool_name == "prometheus_query"
    assert report.file == str(PROMETHEUS)
    assert "tool_name: tool name 'Prometheus-Query' -> 'prometheus_query'" in report.notes
    assert "version: '2.1' -> '2.1.0' (a semantic version)" in report.notes


def test_instant_query_profile_comes_from_estimates_scores_and_label(
    prometheus: tuple[Tool, ConversionReport],
) -> None:
    profile = pattern_named(prometheus[0], "metric_query", "instant_query").profile
    assert profile.time_estimate_ms == "200 + 5 * N"
    assert profile.cost_estimate == "1 + 0.01 * N"
    assert profile.complexity == 0.3  # complexity_score wins over preference_match.complexity
    assert profile.accuracy == 0.95
    assert profile.completeness == 0.9  # "complete" (1.0) moved to the preference 0.9 in band
    assert profile.limitations == ["Only what is scraped; no logs or traces"]


def test_instant_query_policy_converts_seconds_and_max_n_immediate(
    prometheus: tuple[Tool, ConversionReport],
) -> None:
    tool, report = prometheus
    policy = pattern_named(tool, "metric_query", "instant_query").policy
    assert policy.max_cost == 20
    assert policy.requires_approval is False
    assert policy.production_safe is True
    assert policy.max_execution_time_ms == 30_000
    assert policy.requires_background_if == "N > 500"
    where = "capabilities.metric_query.patterns.instant_query.policy"
    assert f"{where}.max_execution_time: 30 s -> max_execution_time_ms 30000" in report.notes
    assert f"{where}.max_N_immediate: 500 -> requires_background_if 'N > 500'" in report.notes


def test_instant_query_inputs_become_a_json_schema_object(
    prometheus: tuple[Tool, ConversionReport],
) -> None:
    pattern = pattern_named(prometheus[0], "metric_query", "instant_query")
    assert pattern.inputs == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "PromQL expression", "pattern": ".+"},
            "N": {
                "type": "integer",
                "description": "Number of targets the query touches",
                "default": 10,
                "minimum": 1,
                "maximum": 100000,
            },
            "prometheus_url": {
                "type": "string",
                "description": "Base URL of the Prometheus server",
                "default": "http://prometheus:9090",
                "examples": ["http://prometheus:9090"],
            },
            "dedup": {"type": "boolean", "default": True, "enum": [True, False]},
        },
        "required": ["query"],
    }
    assert pattern.input_defaults() == {"N": 10.0}
    assert pattern.outputs == {
        "type": "object",
        "properties": {
            "series": {"type": "array", "description": "Result vector, one sample per series"},
            "value": {"type": "number"},
        },
    }


def test_range_query_declares_the_expression_names_it_used_without_declaring(
    prometheus: tuple[Tool, ConversionReport],
) -> None:
    tool, report = prometheus
    pattern = pattern_named(tool, "metric_query", "range_query")
    properties = pattern.inputs["properties"]
    assert properties["N"]["type"] == "integer"
    assert properties["N"]["default"] == 1
    assert properties["pages"]["type"] == "integer"
    assert properties["pages"]["default"] == 1
    assert properties["step"]["pattern"] == "^[0-9]+[smh]$"
    assert pattern.inputs["required"] == ["query", "step"]
    assert pattern.outputs == {"description": "A matrix: one list of samples per label set"}
    where = "capabilities.metric_query.patterns.range_query"
    added = "its expressions use undeclared 'pages': added it as an input (integer, default 1)"
    assert f"{where}: {added}" in report.notes


def test_range_query_keeps_max_n_immediate_when_a_condition_is_given(
    prometheus: tuple[Tool, ConversionReport],
) -> None:
    tool, report = prometheus
    pattern = pattern_named(tool, "metric_query", "range_query")
    assert pattern.policy.requires_background_if == "pages > 20"
    assert pattern.policy.max_execution_time_ms == 120_000
    assert pattern.profile.complexity == pytest.approx(0.6)  # 1 - preference_match.complexity
    assert pattern.profile.completeness == pytest.approx(0.8)  # comprehensive 0.95, band 0.15
    kept = tool.metadata["opsconductor"]["capabilities"]["metric_query"]["patterns"]
    assert kept["range_query"]["policy"] == {"max_N_immediate": 200}
    assert "capabilities.metric_query.patterns.range_query.policy.max_N_immediate" in (
        report.kept_in_metadata
    )


def test_a_pattern_without_label_or_production_safe_inherits_and_is_told(
    prometheus: tuple[Tool, ConversionReport],
) -> None:
    tool, report = prometheus
    pattern = pattern_named(tool, "target_health", "list_targets")
    assert pattern.profile.completeness == 0.5  # defaults "summary" (0.4) moved to 0.5 in band
    assert pattern.policy.production_safe is False
    assert pattern.policy.max_execution_time_ms == 500
    assert pattern.outputs == {
        "type": "object",
        "properties": {"active_targets": {}, "dropped_targets": {}},
    }
    assert (
        "capabilities.target_health.patterns.list_targets.policy: production_safe not given: "
        "the seed read that as true, ours as false"
    ) in report.notes


def test_unmapped_seed_fields_are_kept_in_metadata_at_their_seed_paths(
    prometheus: tuple[Tool, ConversionReport],
) -> None:
    tool, report = prometheus
    assert report.unmapped == []
    assert sorted(report.kept_in_metadata) == sorted(
        [
            "metadata.author",
            "metadata.created",
            "metadata.related_tools",
            "examples[1].name",
            "examples[1].inputs",
            "examples[1].expected_time_ms",
            "capabilities.metric_query.patterns.instant_query.preference_match.speed",
            "capabilities.metric_query.patterns.instant_query.preference_match.cost",
            "capabilities.metric_query.patterns.instant_query.preference_match.complexity",
            "capabilities.metric_query.patterns.instant_query.scope",
            "capabilities.metric_query.patterns.instant_query.accuracy_level",
            "capabilities.metric_query.patterns.range_query.preference_match.speed",
            "capabilities.metric_query.patterns.range_query.preference_match.cost",
            "capabilities.metric_query.patterns.range_query.policy.max_N_immediate",
            "capabilities.metric_query.patterns.range_query.scope",
            "capabilities.target_health.patterns.list_targets.scope",
            "execution_location",
            "defaults",
            "dependencies",
        ]
    )
    kept = tool.metadata["opsconductor"]
    assert kept["metadata"]["created"] == "2025-01-15"  # a YAML date, stored as JSON text
    assert kept["dependencies"] == [
        {"name": "prometheus_http_api", "type": "service", "required": True}
    ]


def _at(data: Any, path: str) -> Any:
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        data = data[int(index)] if index else data[name]
    return data


@pytest.mark.parametrize("path", [PROMETHEUS, GREP, LISTED], ids=lambda p: p.name)
def test_every_kept_path_holds_the_seed_value_in_metadata(path: Path) -> None:
    doc = seed_doc(path)
    tool, report = convert(copy.deepcopy(doc))
    assert report.kept_in_metadata
    for kept in report.kept_in_metadata:
        value = _at(doc, kept)
        stored = _at(tool.metadata["opsconductor"], kept)
        assert stored == (value.isoformat() if hasattr(value, "isoformat") else value), kept


# Seed fields the converter maps onto our model (the rest must be reported).
MAPPED = [
    r"tool_name", r"version", r"description", r"platform", r"category", r"metadata\.tags.*",
    r"metadata\.documentation_url", r"examples\[\d+\](\.(description|query))?",
    r"capabilities(\.\w+|\[\d+\])\.(description|capability_name)",
    r"capabilities(\.\w+|\[\d+\])\.patterns(\.\w+|\[\d+\])\.(pattern_name|description"
    r"|typical_use_cases|time_estimate_ms"
    r"|cost_estimate|complexity_score|completeness|limitations|required_inputs|optional_inputs"
    r"|expected_outputs|policy\.(max_cost|requires_approval|production_safe|max_execution_time"
    r"|requires_background_if|max_N_immediate)|preference_match\.(accuracy|complexity"
    r"|completeness))(\W.*)?",
]  # fmt: skip


def _leaves(data: Any, path: str = "") -> list[str]:
    if isinstance(data, dict) and data:
        return [
            leaf
            for key, value in data.items()
            for leaf in _leaves(value, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(data, list) and data:
        return [leaf for i, value in enumerate(data) for leaf in _leaves(value, f"{path}[{i}]")]
    return [path]


@pytest.mark.parametrize("path", [PROMETHEUS, GREP, LISTED], ids=lambda p: p.name)
def test_every_seed_field_is_mapped_kept_or_reported_unmapped(path: Path) -> None:
    _, report = convert(seed_doc(path))
    reported = report.kept_in_metadata + report.unmapped
    for leaf in _leaves(seed_doc(path)):
        if any(re.fullmatch(pattern, leaf) for pattern in MAPPED):
            continue
        assert any(leaf == r or leaf.startswith((f"{r}.", f"{r}[")) for r in reported), leaf


def test_converted_tool_dumps_to_yaml_that_our_own_loader_reads_back(
    prometheus: tuple[Tool, ConversionReport],
) -> None:
    tool = prometheus[0]
    tools, problems, _ = validate_documents(yaml.safe_load(dump_tool(tool)), file="out.yaml")
    assert problems == []
    assert [loaded.tool for loaded in tools] == [tool]


def test_grep_like_seed_declares_its_own_expression_name_without_a_default() -> None:
    tool, report = convert(seed_doc(GREP))
    pattern = only_pattern(tool)
    assert tool.version == "1.0.0"
    assert tool.examples == ["Find ERROR entries in application log"]
    assert pattern.inputs["properties"]["file_size_kb"] == {"type": "number"}
    assert pattern.profile.cost_estimate == 1.0
    assert pattern.profile.completeness == pytest.approx(0.65)  # partial 0.5, preference 0.8
    assert (
        "capabilities.text_search.patterns.search_files.completeness: "
        "'partial' with preference_match.completeness 0.8 -> 0.65"
    ) in report.notes


# --- completeness --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "preference", "expected"),
    [
        ("complete", None, 1.0),
        ("full", None, 1.0),
        ("comprehensive", None, 0.95),
        ("partial", None, 0.5),
        ("summary", None, 0.4),
        ("Complete for cached data", None, 1.0),
        ("partial", 0.55, 0.55),
        ("complete", 0.2, 0.85),
        (None, 0.3, 0.3),
        (None, None, 0.7),
        (0.42, None, 0.42),
    ],
)
def test_completeness_label_sets_the_value_and_preference_refines_it_within_the_band(
    label: str | float | None, preference: float | None, expected: float
) -> None:
    spec: dict[str, Any] = {}
    if label is not None:
        spec["completeness"] = label
    if preference is not None:
        spec["preference_match"] = {"completeness": preference}
    tool, _ = convert(minimal_seed(**spec))
    assert only_pattern(tool).profile.completeness == pytest.approx(expected)


def test_unknown_completeness_label_gives_a_note_and_0_7() -> None:
    tool, report = convert(minimal_seed(completeness="informational only"))
    assert only_pattern(tool).profile.completeness == 0.7
    assert report.notes == [
        "version: '1.0' -> '1.0.0' (a semantic version)",
        "capabilities.text_stats.patterns.count.completeness: "
        "unknown completeness label 'informational only'; used 0.7",
        "capabilities.text_stats.patterns.count: effect 'read': the seed has none; read from "
        "its policy",
    ]


def test_unknown_completeness_label_uses_the_preference_when_there_is_one() -> None:
    spec = {"completeness": "mostly", "preference_match": {"completeness": 0.35}}
    tool, report = convert(minimal_seed(**spec))
    assert only_pattern(tool).profile.completeness == 0.35
    assert any("unknown completeness label 'mostly'" in note for note in report.notes)


@settings(max_examples=200, deadline=None)
@given(label=st.one_of(st.text(max_size=40), st.floats(), st.integers(), st.booleans()))
def test_random_completeness_labels_never_crash(label: Any) -> None:
    tool, _ = convert(minimal_seed(completeness=label))
    assert 0.0 <= only_pattern(tool).profile.completeness <= 1.0


# --- problems ------------------------------------------------------------------------------------


def test_missing_tool_name_is_an_invalid_definition_at_its_seed_path() -> None:
    doc = minimal_seed()
    del doc["tool_name"]
    with pytest.raises(InvalidDefinition) as exc:
        convert(doc)
    assert problems_of(exc) == {"tool_name": "is required"}
    assert exc.value.problems[0].file == "seed.yaml"


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('id')",
        "N.bit_length()",
        "[N][0]",
        "lambda: 1",
        "N ^ 2",
        "open(N)",
    ],
)
def test_expression_with_a_forbidden_construct_is_refused_at_its_seed_path(
    expression: str,
) -> None:
    with pytest.raises(InvalidDefinition) as exc:
        convert(minimal_seed(time_estimate_ms=expression))
    (problem,) = exc.value.problems
    assert problem.path == "capabilities.text_stats.patterns.count.time_estimate_ms"
    assert expression[:10] in problem.message or "unknown function" in problem.message


def test_a_condition_that_is_a_number_and_an_estimate_that_is_a_condition_are_refused() -> None:
    doc = minimal_seed(cost_estimate="N > 5", policy={"requires_background_if": "N + 1"})
    with pytest.raises(InvalidDefinition) as exc:
        convert(doc)
    where = "capabilities.text_stats.patterns.count"
    assert problems_of(exc) == {
        f"{where}.cost_estimate": "must be a number or an expression, got 'N > 5'",
        f"{where}.policy.requires_background_if": (
            "must be a condition such as 'N > 50', got 'N + 1'"
        ),
    }


def test_every_problem_is_listed_with_its_seed_path() -> None:
    doc = minimal_seed(complexity_score=1.5, policy={"max_execution_time": "soon"})
    doc["tool_name"] = "health"  # reserved: refused by our model, named by the seed field
    doc["capabilities"]["text_stats"]["patterns"]["count"]["typical_use_cases"] = ["x" * 201]
    with pytest.raises(InvalidDefinition) as exc:
        convert(doc)
    where = "capabilities.text_stats.patterns.count"
    assert problems_of(exc) == {
        f"{where}.complexity_score": "must be a number between 0 and 1, not 1.5",
        f"{where}.policy.max_execution_time": "must be a number >= 0, not 'soon'",
        "tool_name": "'health' is reserved (it is an API path segment); choose another name, "
        "such as 'health_tool'",
        f"{where}.typical_use_cases[0]": "is too long (at most 200 characters)",
    }


def test_an_input_without_an_identifier_name_is_refused_at_its_seed_path() -> None:
    inputs = [{"type": "string"}, {"name": "file-path", "type": "string"}]
    with pytest.raises(InvalidDefinition) as exc:
        convert(minimal_seed(optional_inputs=inputs))
    where = "capabilities.text_stats.patterns.count.optional_inputs"
    message = "must have a 'name' that is an identifier, e.g. max_depth"
    assert problems_of(exc) == {f"{where}[0]": message, f"{where}[1]": message}


def test_a_tag_with_nothing_left_after_normalising_is_reported_unmapped() -> None:
    doc = minimal_seed()
    doc["metadata"] = {"tags": ["Ops Team", "!!!"]}
    tool, report = convert(doc)
    assert tool.tags == ["ops-team"]
    assert report.unmapped == ["metadata.tags[1]"]


def test_a_document_that_is_not_a_tool_mapping_is_refused() -> None:
    with pytest.raises(InvalidDefinition, match="not an OpsConductor tool"):
        convert_opsconductor(["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(InvalidDefinition) as exc:
        convert({"version": "1.1", "tools": {"ps": {}}})
    assert "combined profiles file" in exc.value.problems[0].message


# --- smaller mappings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "ours", "kept"),
    [
        ("Linux", "linux", False),
        ("cross_platform", "cross-platform", False),
        ("multi", "cross-platform", True),
        ("any", "cross-platform", True),
        ("api", "custom", True),
        ("saas", "custom", True),
        ("network", "custom", True),
        ("k8s", "kubernetes", True),
        ("beos", "custom", True),
    ],
)
def test_platform_spellings_map_and_coarsened_ones_keep_the_original(
    seed: str, ours: str, kept: bool
) -> None:
    doc = minimal_seed()
    doc["platform"] = seed
    tool, report = convert(doc)
    assert tool.platform == ours
    assert ("platform" in report.kept_in_metadata) is kept
    if kept:
        assert tool.metadata["opsconductor"]["platform"] == seed


def test_max_n_immediate_alone_declares_n_and_becomes_a_background_condition() -> None:
    tool, report = convert(minimal_seed(policy={"production_safe": True, "max_N_immediate": 50}))
    pattern = only_pattern(tool)
    assert pattern.policy.requires_background_if == "N > 50"
    assert pattern.inputs["properties"]["N"]["default"] == 1
    assert any("undeclared 'N'" in note for note in report.notes)


def test_the_seeds_constants_pi_and_e_become_numbers_not_inputs() -> None:
    tool, report = convert(minimal_seed(time_estimate_ms="100 * pi + e * pages"))
    pattern = only_pattern(tool)
    assert set(pattern.inputs["properties"]) == {"pages"}
    assert isinstance(pattern.profile.time_estimate_ms, str)
    assert "pi" not in pattern.profile.time_estimate_ms
    assert sum("the seed's constant" in note for note in report.notes) == 2


def test_input_validation_that_is_not_a_schema_keyword_set_is_kept_as_x_validation() -> None:
    inputs = [
        {"name": "port", "type": "integer", "validation": "1-65535"},
        {"name": "mode", "type": "string", "validation": {"one_of": ["a", "b"]}},
        {"name": "host", "type": "hostname", "required": True},
    ]
    tool, report = convert(minimal_seed(required_inputs=inputs))
    properties = only_pattern(tool).inputs["properties"]
    assert properties["port"] == {"type": "integer", "x-validation": "1-65535"}
    assert properties["mode"] == {"type": "string", "x-validation": {"one_of": ["a", "b"]}}
    assert properties["host"] == {}
    where = "capabilities.text_stats.patterns.count.required_inputs[2]"
    assert {f"{where}.type", f"{where}.required"} <= set(report.kept_in_metadata)


def test_a_value_json_cannot_hold_is_reported_unmapped() -> None:
    doc = minimal_seed()
    doc["icon"] = b"\x89PNG"  # what YAML's !!binary loads as
    tool, report = convert(doc)
    assert report.unmapped == ["icon"]
    assert "icon" not in tool.metadata.get("opsconductor", {})


# --- files and folders ---------------------------------------------------------------------------


def test_every_file_in_a_folder_loads_with_a_report_each() -> None:
    result, reports = load_opsconductor_paths([FIXTURES])
    assert result.problems == []
    assert [loaded.tool.name for loaded in result.tools] == [
        "grep", "smart_health", "prometheus_query"
    ]  # fmt: skip
    assert [loaded.file for loaded in result.tools] == [str(GREP), str(LISTED), str(PROMETHEUS)]
    assert [report.file for report in reports.tools] == [str(GREP), str(LISTED), str(PROMETHEUS)]


def test_malformed_yaml_is_reported_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tool_name: ps\ncapabilities:\n  list: [unclosed\n  other: 1\n", "utf-8")
    result, reports = load_opsconductor_paths([tmp_path])
    assert reports.tools == []
    assert list(reports.refused) == [str(bad)]
    (problem,) = result.problems
    assert problem.file == str(bad)
    assert problem.line == 4
    assert problem.message.startswith("YAML syntax error")


def test_a_conversion_problem_in_a_file_points_at_its_line(tmp_path: Path) -> None:
    text = PROMETHEUS.read_text("utf-8").replace("complexity_score: 0.3", "complexity_score: 3")
    (tmp_path / "prometheus.yaml").write_text(text, "utf-8")
    result, _ = load_opsconductor_paths([tmp_path / "prometheus.yaml"])
    (problem,) = result.problems
    assert problem.path == "capabilities.metric_query.patterns.instant_query.complexity_score"
    assert problem.line is not None
    assert text.splitlines()[problem.line - 1].strip() == "complexity_score: 3"


def test_the_same_tool_in_two_files_is_reported_and_other_problems_still_collected(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.yml").write_text(GREP.read_text("utf-8"), "utf-8")
    (tmp_path / "b.yaml").write_text(GREP.read_text("utf-8"), "utf-8")
    (tmp_path / "c.yaml").write_text("- just a list\n", "utf-8")
    (tmp_path / "notes.txt").write_text("not a seed file", "utf-8")
    result, reports = load_opsconductor_paths([tmp_path, tmp_path / "missing.yaml"])
    assert [loaded.file for loaded in result.tools] == [str(tmp_path / "a.yml")]
    assert len(reports.tools) == 1
    assert [(p.file, p.path, p.message) for p in result.problems] == [
        (
            str(tmp_path / "b.yaml"),
            "tool_name",
            f"tool 'grep' is also defined in {tmp_path / 'a.yml'}",
        ),
        (str(tmp_path / "c.yaml"), "", "an OpsConductor tool file must be a mapping, found list"),
        (str(tmp_path / "missing.yaml"), "", "no such file or folder"),
    ]


# --- list-style capabilities and patterns (the seed's API bodies) -----------------------------


def test_list_style_capabilities_and_patterns_convert_like_the_mapping_style() -> None:
    tool, report = convert_opsconductor(seed_doc(LISTED), file=str(LISTED))

    assert tool.name == "smart_health"
    assert [c.name for c in tool.capabilities] == ["disk_health", "disk_inventory"]
    assert [p.name for p in tool.capabilities[0].patterns] == ["read_attributes", "run_self_test"]
    read = tool.capabilities[0].patterns[0]
    assert read.profile.time_estimate_ms == 300
    assert read.inputs["required"] == ["device"]
    assert tool.capabilities[0].patterns[1].policy.requires_approval is True
    assert tool.capabilities[1].description == "Disk inventory."
    kept = tool.metadata["opsconductor"]["capabilities"][0]["patterns"][0]
    assert kept["examples"][0]["description"] == "Show SMART attributes of sda"
    assert "capabilities[0].patterns[0].examples" in report.kept_in_metadata


def test_the_two_styles_give_the_same_tool() -> None:
    listed = seed_doc(LISTED)
    mapped = copy.deepcopy(listed)
    mapped["capabilities"] = {
        cap.pop("capability_name"): {
            **cap,
            "patterns": {p.pop("pattern_name"): p for p in cap["patterns"]},
        }
        for cap in copy.deepcopy(listed["capabilities"])
    }

    from_list, _ = convert(listed)
    from_mapping, _ = convert(mapped)

    assert from_list.model_dump(exclude={"metadata"}) == from_mapping.model_dump(
        exclude={"metadata"}
    )


def test_a_listed_entry_without_its_name_is_refused_at_its_index() -> None:
    doc = seed_doc(LISTED)
    del doc["capabilities"][0]["patterns"][1]["pattern_name"]
    doc["capabilities"][1] = "not a mapping"

    with pytest.raises(InvalidDefinition) as exc:
        convert(doc)

    problems = problems_of(exc)
    assert problems["capabilities[0].patterns[1].pattern_name"] == "is required: the pattern's name"
    assert "capability_name" in problems["capabilities[1]"]


def test_a_problem_in_a_listed_pattern_points_at_its_line(tmp_path: Path) -> None:
    text = LISTED.read_text(encoding="utf-8").replace(
        "time_estimate_ms: '120000'", "time_estimate_ms: -5"
    )
    (tmp_path / "listed.yaml").write_text(text, encoding="utf-8")

    result, _ = load_opsconductor_paths([tmp_path])

    (problem,) = result.problems
    assert problem.path == "capabilities[0].patterns[1].time_estimate_ms"
    assert problem.line == text.splitlines().index("    time_estimate_ms: -5") + 1


@pytest.mark.parametrize("value", ["1e999", float("nan"), 1e300, "2**99999999", "1/0"])
def test_non_finite_estimates_and_expressions_that_never_evaluate_are_refused(
    value: Any,
) -> None:
    with pytest.raises(InvalidDefinition) as exc:
        convert(minimal_seed(time_estimate_ms=value))
    assert list(problems_of(exc)) == ["capabilities.text_stats.patterns.count.time_estimate_ms"]
