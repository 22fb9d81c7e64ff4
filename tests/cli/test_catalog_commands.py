"""The CLI as a user runs it: real processes against a real database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import yaml

from builders import tool_doc
from toolcatalog.catalog.checks import tool_warnings, vocabulary_warnings
from toolcatalog.formats.catalog_folder import load_vocabulary
from toolcatalog.model.tool import Tool

ROOT = Path(__file__).resolve().parents[2]


def run(url: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TOOLCATALOG_STARTUP_RETRY_S": "0",
        "TOOLCATALOG_POOL_MIN_SIZE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "toolcatalog.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def _write_tools(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(tool_doc(name)))


async def _definitions(url: str) -> dict[str, object]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT name, definition::text AS d FROM tool_catalog.tools")
        return {r["name"]: r["d"] for r in rows}
    finally:
        await conn.close()


def test_import_is_idempotent_and_reports_what_it_did(fresh_db_url: str, tmp_path: Path) -> None:
    _write_tools(tmp_path / "defs", "alpha_tool", "beta_tool")
    first = run(fresh_db_url, "import", str(tmp_path / "defs"))
    assert first.returncode == 0, first.stderr
    assert "created 2, updated 0, unchanged 0" in first.stdout
    second = run(fresh_db_url, "import", str(tmp_path / "defs"))
    assert "created 0, updated 0, unchanged 2" in second.stdout


def test_one_bad_file_imports_nothing_and_exits_1(fresh_db_url: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    _write_tools(defs, "alpha_tool")
    (defs / "broken.yaml").write_text(yaml.safe_dump(tool_doc("beta_tool", platform="plan9")))
    result = run(fresh_db_url, "import", str(defs))
    assert result.returncode == 1
    assert "broken.yaml" in result.stderr
    assert "platform" in result.stderr
    assert "Traceback" not in result.stderr
    assert asyncio.run(_definitions(fresh_db_url)) == {}


def test_dry_run_writes_nothing(fresh_db_url: str, tmp_path: Path) -> None:
    _write_tools(tmp_path / "defs", "alpha_tool")
    result = run(fresh_db_url, "import", "--dry-run", str(tmp_path / "defs"))
    assert result.returncode == 0
    assert "would have created 1" in result.stdout
    assert asyncio.run(_definitions(fresh_db_url)) == {}


def test_export_then_import_reproduces_the_catalog(
    fresh_db_url: str, second_fresh_db_url: str, tmp_path: Path
) -> None:
    imported = run(fresh_db_url, "import", str(ROOT / "catalog"))
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "export"
    exported = run(fresh_db_url, "export", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert (out / "storage" / "du.yaml").is_file()
    assert (out / "capabilities.yaml").is_file()
    copy_url = second_fresh_db_url
    reimported = run(copy_url, "import", str(out))
    assert reimported.returncode == 0, reimported.stderr
    assert asyncio.run(_definitions(copy_url)) == asyncio.run(_definitions(fresh_db_url))
    # Importing the export into the original changes nothing.
    again = run(fresh_db_url, "import", str(out))
    assert "created 0, updated 0" in again.stdout


def test_validate_reports_file_line_and_path_and_needs_no_database(tmp_path: Path) -> None:
    doc = tool_doc("alpha_tool")
    doc["capabilities"][0]["patterns"][0]["profile"]["accuracy"] = 3
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    result = run("postgresql://nobody@127.0.0.1:1/none", "validate", str(tmp_path))
    assert result.returncode == 1
    assert "a.yaml:" in result.stderr
    assert "capabilities[0].patterns[0].profile.accuracy: must be <= 1.0" in result.stderr


def test_validate_accepts_the_starter_catalog_strictly() -> None:
    result = run(
        "postgresql://nobody@127.0.0.1:1/none", "validate", "--strict", str(ROOT / "catalog")
    )
    assert result.returncode == 0, result.stderr
    assert "203 tool definition(s) are valid" in result.stdout
    assert "warning:" not in result.stderr


def _warned_folder(folder: Path) -> Tool:
    """A valid tool with a capability outside the folder's vocabulary and a command
    placeholder no input declares."""
    doc = tool_doc("alpha_tool", execution={"kind": "command", "command": "ps {flags}"})
    doc["capabilities"][0]["name"] = "made_up_thing"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alpha_tool.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    vocabulary = {"vocabulary": [{"name": "process_list", "description": "List processes."}]}
    (folder / "capabilities.yaml").write_text(yaml.safe_dump(vocabulary))
    return Tool.model_validate(doc)


def test_validate_prints_the_apis_warnings_and_strict_refuses(tmp_path: Path) -> None:
    tool = _warned_folder(tmp_path / "defs")
    vocabulary = load_vocabulary(tmp_path / "defs" / "capabilities.yaml")
    expected = tool_warnings(tool) + vocabulary_warnings(tool, vocabulary)  # as the API says
    assert len(expected) == 2
    lenient = run("postgresql://nobody@127.0.0.1:1/none", "validate", str(tmp_path / "defs"))
    assert lenient.returncode == 0, lenient.stderr
    for warning in expected:
        assert f"alpha_tool: {warning}" in lenient.stderr.replace("\n", "")
    assert "valid, with 2 warning(s)" in lenient.stdout
    strict = run(
        "postgresql://nobody@127.0.0.1:1/none", "validate", "--strict", str(tmp_path / "defs")
    )
    assert strict.returncode == 1
    assert "2 warning(s) and --strict" in strict.stderr


def test_import_strict_refuses_a_definition_with_warnings(
    fresh_db_url: str, tmp_path: Path
) -> None:
    _warned_folder(tmp_path / "defs")
    refused = run(fresh_db_url, "import", "--strict", str(tmp_path / "defs"))
    assert refused.returncode == 1
    assert "not in the shared capability vocabulary" in refused.stderr
    assert "nothing was imported" in refused.stderr
    assert asyncio.run(_definitions(fresh_db_url)) == {}
    lenient = run(fresh_db_url, "import", str(tmp_path / "defs"))
    assert lenient.returncode == 0, lenient.stderr
    assert "placeholder {flags}" in lenient.stderr


def test_a_usage_error_exits_2() -> None:
    result = run("postgresql://nobody@127.0.0.1:1/none", "import", "--no-such-flag")
    assert result.returncode == 2


def test_an_unreachable_database_is_one_line_and_exit_1() -> None:
    result = run("postgresql://nobody@127.0.0.1:1/none", "list")
    assert result.returncode == 1
    assert "cannot reach PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


def test_show_and_list_and_db_status(fresh_db_url: str, tmp_path: Path) -> None:
    _write_tools(tmp_path / "defs", "alpha_tool")
    run(fresh_db_url, "import", str(tmp_path / "defs"))
    shown = run(fresh_db_url, "show", "alpha_tool")
    assert shown.returncode == 0
    assert yaml.safe_load(shown.stdout)["name"] == "alpha_tool"
    listed = run(fresh_db_url, "list", "--json")
    assert [row["name"] for row in yaml.safe_load(listed.stdout)] == ["alpha_tool"]
    assert yaml.safe_load(listed.stdout)[0]["capabilities"] == ["process_list"]
    unknown = run(fresh_db_url, "list", "--capability", "proces_list")
    assert unknown.returncode == 1
    assert "unknown capability 'proces_list'" in unknown.stderr
    assert "process_list" in unknown.stderr
    missing = run(fresh_db_url, "show", "nope_tool")
    assert missing.returncode == 1
    assert "no tool named 'nope_tool'" in missing.stderr
    assert "did you mean alpha_tool" in run(fresh_db_url, "show", "alpha_tol").stderr
    status = run(fresh_db_url, "db", "status", "--json")
    assert '"state": "applied"' in status.stdout


def test_validate_and_import_refuse_a_non_finite_estimate_by_path(
    fresh_db_url: str, tmp_path: Path
) -> None:
    text = yaml.safe_dump(tool_doc("alpha_tool")).replace(
        "time_estimate_ms: 50", "time_estimate_ms: .nan"
    )
    (tmp_path / "a.yaml").write_text(text)
    for command in ("validate", "import"):
        result = run(fresh_db_url, command, str(tmp_path))
        assert result.returncode == 1, result.stdout
        assert "profile.time_estimate_ms: nan is not a finite number" in result.stderr
        assert "Traceback" not in result.stderr
    assert asyncio.run(_definitions(fresh_db_url)) == {}


BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "name: laughing_tool",
    ]
)
NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


def test_a_billion_laughs_file_is_refused_at_once_with_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "laughs.yaml").write_text(BILLION_LAUGHS)
    result = run(NOWHERE, "validate", str(tmp_path / "laughs.yaml"))
    assert result.returncode == 1
    assert "laughs.yaml: its aliases (*name) expand into more than" in result.stderr
    assert "Traceback" not in result.stderr


def test_deeply_nested_yaml_is_refused_without_crashing_the_parser(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text("name: deep_tool\nmetadata: " + "[" * 100_000)
    result = run(NOWHERE, "validate", str(tmp_path / "deep.yaml"))
    assert result.returncode == 1
    assert "levels of nesting are accepted" in result.stderr


def test_a_symlink_loop_named_on_the_command_line_is_one_line(
    fresh_db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "loop_a.yaml").symlink_to(tmp_path / "loop_b.yaml")
    (tmp_path / "loop_b.yaml").symlink_to(tmp_path / "loop_a.yaml")
    for command in ("validate", "import"):
        result = run(fresh_db_url, command, str(tmp_path / "loop_a.yaml"))
        assert result.returncode == 1
        assert "loop_a.yaml: cannot read it: Too many levels of symbolic links" in result.stderr
        assert "Traceback" not in result.stderr


def test_an_invalid_vocabulary_file_gives_the_documented_error_lines(
    fresh_db_url: str, tmp_path: Path
) -> None:
    _write_tools(tmp_path, "alpha_tool")
    vocabulary = tmp_path / "capabilities.yaml"
    for text, expected in (
        (
            "vocabulary:\n  - name: disk_usage\n    bogus: 1\n",
            "vocabulary[0].bogus: is not a known",
        ),
        ("vocabulary:\n  - name: [\n", "capabilities.yaml:3: YAML syntax error"),
    ):
        vocabulary.write_text(text)
        for command in ("validate", "import"):
            result = run(fresh_db_url, command, str(tmp_path))
            assert result.returncode == 1, result.stdout
            assert "\nerror: " in "\n" + result.stderr, result.stderr
            assert expected in result.stderr
            assert "Traceback" not in result.stderr
    assert asyncio.run(_definitions(fresh_db_url)) == {}


def test_list_by_a_capability_alias_lists_what_the_canonical_name_lists(
    fresh_db_url: str,
) -> None:
    imported = run(fresh_db_url, "import", str(ROOT / "catalog"))
    assert imported.returncode == 0, imported.stderr
    canonical = run(fresh_db_url, "list", "--capability", "disk_usage", "--json")
    alias = run(fresh_db_url, "list", "--capability", "disk_monitoring", "--json")
    assert alias.returncode == 0, alias.stderr
    assert "df" in [row["name"] for row in yaml.safe_load(canonical.stdout)]
    assert alias.stdout == canonical.stdout
