"""Loading definitions: every problem reported with file, line and JSON path."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import make_tool, tool_doc
from toolcatalog.errors import InvalidDefinition
from toolcatalog.formats.definitions import load_paths, parse_text, validate_documents
from toolcatalog.formats.dump import dump_tool
from toolcatalog.model.tool import Tool


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_schema_violation_names_file_line_and_path(tmp_path: Path) -> None:
    doc = tool_doc("alpha_tool")
    doc["capabilities"][0]["patterns"][0]["profile"]["accuracy"] = 1.5
    path = _write(tmp_path, "alpha.yaml", yaml.safe_dump(doc, sort_keys=False))
    result = load_paths([path])
    assert result.tools == []
    [problem] = result.problems
    assert problem.path == "capabilities[0].patterns[0].profile.accuracy"
    assert problem.message == "must be <= 1.0"
    assert problem.file == str(path)
    line = path.read_text().splitlines()[problem.line - 1]  # type: ignore[operator]
    assert "accuracy" in line


def test_every_problem_is_listed_not_just_the_first(tmp_path: Path) -> None:
    doc = tool_doc("alpha_tool", platform="plan9", version="one")
    del doc["description"]
    path = _write(tmp_path, "alpha.yaml", yaml.safe_dump(doc))
    paths = sorted(p.path for p in load_paths([path]).problems)
    assert paths == ["description", "platform", "version"]


def test_malformed_yaml_reports_the_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "bad.yaml", "name: alpha_tool\ndescription: [unclosed\nplatform: linux\n"
    )
    [problem] = load_paths([path]).problems
    assert problem.message.startswith("YAML syntax error")
    assert problem.line is not None
    assert problem.line >= 2


def test_malformed_json_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.json", '{"name": "alpha_tool",')
    [problem] = load_paths([path]).problems
    assert "JSON syntax error" in problem.message


def test_a_file_may_hold_a_list_of_tools(tmp_path: Path) -> None:
    docs = [tool_doc("alpha_tool"), tool_doc("beta_tool", platform="nope")]
    path = _write(tmp_path, "many.yaml", yaml.safe_dump(docs))
    result = load_paths([path])
    assert [t.tool.name for t in result.tools] == ["alpha_tool"]
    assert [p.path for p in result.problems] == ["[1].platform"]


def test_the_same_tool_in_two_files_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", yaml.safe_dump(tool_doc("alpha_tool")))
    _write(tmp_path, "b.json", orjson.dumps(tool_doc("alpha_tool")).decode())
    result = load_paths([tmp_path])
    assert len(result.tools) == 1
    assert "also defined in" in result.problems[0].message


def test_a_vocabulary_file_is_recognised_not_loaded_as_a_tool(tmp_path: Path) -> None:
    _write(tmp_path, "capabilities.yaml", "vocabulary: []\n")
    result = load_paths([tmp_path])
    assert result.problems == []
    assert result.vocabulary_files == [tmp_path / "capabilities.yaml"]


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    [problem] = load_paths([tmp_path / "nope.yaml"]).problems
    assert problem.message == "no such file or folder"


def test_non_utf8_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9".encode("latin-1"))
    [problem] = load_paths([path]).problems
    assert "not UTF-8" in problem.message


def test_an_expression_naming_an_undeclared_input_is_refused_at_import() -> None:
    doc = tool_doc("alpha_tool")
    doc["capabilities"][0]["patterns"][0]["profile"]["time_estimate_ms"] = "100 + 5 * files"
    _, problems, _ = validate_documents(doc, file=None)
    assert "unknown input(s) files" in problems[0].message


def test_an_unsafe_expression_is_refused_at_import() -> None:
    doc = tool_doc("alpha_tool")
    doc["capabilities"][0]["patterns"][0]["profile"]["time_estimate_ms"] = "__import__('os')"
    _, problems, _ = validate_documents(doc, file=None)
    assert problems
    assert problems[0].path.endswith("time_estimate_ms")


def test_a_dumped_tool_loads_back_identical(tmp_path: Path) -> None:
    tool = make_tool("alpha_tool", tags=["x", "y"], owner="sre")
    path = _write(tmp_path, "alpha.yaml", dump_tool(tool))
    assert load_paths([path]).tools[0].tool == tool


def test_parse_text_raises_invalid_definition_for_syntax_errors() -> None:
    with pytest.raises(InvalidDefinition) as err:
        parse_text("a: [", "x.yaml")
    assert err.value.problems[0].file == "x.yaml"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes_the_loader(text: str) -> None:
    try:
        data = parse_text(text, "fuzz.yaml")
    except InvalidDefinition:
        return
    tools, problems, _ = validate_documents(data, file="fuzz.yaml", text=text)
    assert all(isinstance(t.tool, Tool) for t in tools) or problems


def test_a_pattern_without_an_effect_loads_and_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "alpha.yaml", orjson.dumps(tool_doc("alpha_tool")).decode())
    loaded = load_paths([path])
    assert loaded.problems == []
    assert [(n.path, n.file) for n in loaded.notes] == [
        ("capabilities[0].patterns[0].effect", str(path))
    ]
    assert "read as 'read' from its policy" in loaded.notes[0].message
