"""Migrating an OpsConductor tree with the CLI, as an operator runs it: one command, templates
skipped, a summary instead of a warning flood, partial imports only on purpose."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import asyncpg
import yaml
from test_catalog_commands import run

from builders import tool_doc
from seed_database import add_history, create_seed_database

FIXTURES = Path(__file__).resolve().parents[1] / "formats" / "fixtures"
VOCABULARY = """\
vocabulary:
- name: text_search
  description: Search text or logs for patterns (regular expressions).
- name: disk_health
  description: SMART status and disk failures.
"""


def seed_tree(root: Path) -> Path:
    """Our seed fixtures laid out like the seed's tree: per-tool files in platform folders,
    a template under templates/."""
    tree = root / "tools"
    (tree / "linux").mkdir(parents=True)
    (tree / "templates").mkdir()
    for name in ("grep.yaml", "listed.yaml", "prometheus.yaml"):
        shutil.copy(FIXTURES / "opsconductor" / name, tree / "linux" / name)
    (tree / "templates" / "tool_template.yaml").write_text(
        'tool_name: "<TOOL_NAME>"\nversion: "1.0"\ndescription: "<DESCRIPTION>"\n'
    )
    return tree


async def _names(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [
            r["name"] for r in await conn.fetch("SELECT name FROM tool_catalog.tools ORDER BY 1")
        ]
    finally:
        await conn.close()


def test_a_seed_tree_imports_in_one_command_with_a_summary(
    fresh_db_url: str, tmp_path: Path
) -> None:
    tree = seed_tree(tmp_path)

    result = run(fresh_db_url, "import", "--format", "opsconductor", str(tree))

    assert result.returncode == 0, result.stderr
    assert "tool_template.yaml: a template (under a templates/ folder)" in result.stderr
    assert "created 3, updated 0, unchanged 0, skipped 0, invalid 0" in result.stdout
    assert "versions made semantic" in result.stdout  # the summary, one row per kind of change
    assert len(result.stdout.splitlines()) + len(result.stderr.splitlines()) < 60
    assert asyncio.run(_names(fresh_db_url)) == ["grep", "prometheus_query", "smart_health"]


def test_skip_invalid_imports_the_valid_files_lists_the_refused_and_exits_1(
    fresh_db_url: str, tmp_path: Path
) -> None:
    tree = seed_tree(tmp_path)
    broken = tree / "linux" / "broken.yaml"
    broken.write_text("tool_name: broken\ncapabilities: 7\n")

    atomic = run(fresh_db_url, "import", "--format", "opsconductor", str(tree))
    assert atomic.returncode == 1
    assert "nothing was imported" in atomic.stderr
    assert asyncio.run(_names(fresh_db_url)) == []

    partial = run(fresh_db_url, "import", "--format", "opsconductor", "--skip-invalid", str(tree))
    assert partial.returncode == 1
    assert "importing the rest" in partial.stderr
    assert f"{broken}:2: capabilities: must be a mapping of name to capability" in partial.stderr
    assert "created 3" in partial.stdout
    assert "invalid 1" in partial.stdout
    assert asyncio.run(_names(fresh_db_url)) == ["grep", "prometheus_query", "smart_health"]


def test_json_gives_the_full_report_and_report_writes_markdown(
    fresh_db_url: str, tmp_path: Path
) -> None:
    tree = seed_tree(tmp_path)
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "capabilities.yaml").write_text(VOCABULARY)
    assert run(fresh_db_url, "import", str(tmp_path / "catalog")).returncode == 0
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("smart-health:\n  category: hardware\n")
    markdown = tmp_path / "report.md"

    result = run(
        fresh_db_url, "import", "--format", "opsconductor", "--json", "--dry-run",
        "--mapping", str(mapping), "--report", str(markdown), str(tree),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout[result.stdout.index("{") :])
    assert data["created"] == ["grep", "smart_health", "prometheus_query"]
    migration = data["migration"]
    assert migration["skipped"][0]["reason"] == "a template (under a templates/ folder)"
    (smart,) = [t for t in migration["per_tool"] if t["tool"] == "smart_health"]
    assert {"kind": "renamed", "topic": "category set by the mapping file", "path": "category",
            "detail": "'storage' -> 'hardware' (mapping file)"} in smart["changes"]  # fmt: skip
    text = markdown.read_text()
    assert "### smart_health" in text
    assert "| renamed | tool names snake_cased |" in text


def test_validate_needs_no_database_and_reads_the_same_tree(tmp_path: Path) -> None:
    tree = seed_tree(tmp_path)
    result = run(
        "postgresql://nobody@127.0.0.1:1/none", "validate", "--format", "opsconductor", str(tree)
    )
    assert result.returncode == 0, result.stderr
    assert "3 tool definition(s) are valid" in result.stdout
    assert "skipped" in result.stderr
    assert yaml.safe_load(FIXTURES.joinpath("opsconductor", "grep.yaml").read_text())


def test_import_from_a_running_seed_database(
    fresh_db_url: str, empty_db_url: str, tmp_path: Path
) -> None:
    grep = yaml.safe_load((FIXTURES / "opsconductor" / "grep.yaml").read_text(encoding="utf-8"))
    ids = asyncio.run(create_seed_database(empty_db_url, [grep]))
    asyncio.run(add_history(empty_db_url, ids["grep"], audit=2, telemetry=5))

    result = run(fresh_db_url, "import", "--format", "opsconductor-db", empty_db_url)

    assert result.returncode == 0, result.stderr
    assert "created 1" in result.stdout
    assert "2 audit entries, 5 telemetry rows" in result.stdout
    assert "not imported: 1 tool_cache row(s)" in result.stdout
    assert asyncio.run(_names(fresh_db_url)) == ["grep"]
    usage = run(fresh_db_url, "import", "--format", "opsconductor-db", str(tmp_path))
    assert usage.returncode == 1
    assert "takes one PostgreSQL URL" in usage.stderr


def test_validate_of_a_seed_database_is_a_usage_error_pointing_at_dry_run() -> None:
    result = run(
        "postgresql://nobody@127.0.0.1:1/none",
        "validate", "--format", "opsconductor-db", "postgresql://seed/db",
    )  # fmt: skip
    assert result.returncode == 2
    assert "--dry-run" in result.stderr


def test_skip_invalid_works_for_native_definitions_too(fresh_db_url: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "alpha_tool.yaml").write_text(yaml.safe_dump(tool_doc("alpha_tool")))
    (defs / "broken.yaml").write_text(yaml.safe_dump(tool_doc("beta_tool", platform="plan9")))

    result = run(fresh_db_url, "import", "--skip-invalid", str(defs))

    assert result.returncode == 1
    assert f"{defs / 'broken.yaml'}" in result.stderr
    assert "created 1" in result.stdout
    assert asyncio.run(_names(fresh_db_url)) == ["alpha_tool"]


def test_a_report_that_cannot_be_written_is_one_line_and_exit_1(
    fresh_db_url: str, tmp_path: Path
) -> None:
    tree = seed_tree(tmp_path)
    result = run(
        fresh_db_url, "import", "--format", "opsconductor", "--dry-run",
        "--report", str(tmp_path), str(tree),
    )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot write the report to {tmp_path}" in result.stderr
    assert "Traceback" not in result.stderr


def _description_only(folder: Path, count: int) -> Path:
    """A catalog as users write one: no examples, no effects declared."""
    folder.mkdir(parents=True)
    for i in range(count):
        doc = tool_doc(f"plain_{i:03d}")
        del doc["examples"]
        (folder / f"plain_{i:03d}.yaml").write_text(yaml.safe_dump(doc))
    return folder


def test_a_description_only_catalog_is_summarised_per_kind_with_all_in_json_and_verbose(
    fresh_db_url: str, tmp_path: Path
) -> None:
    folder = _description_only(tmp_path / "plain", 40)

    result = run(fresh_db_url, "import", str(folder), "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) <= 12, result.stderr
    assert "note: 40 times: capabilities[].patterns[].effect: not declared" in result.stderr
    assert "warning: 40 times: examples: none given" in result.stderr
    assert "and 37 more (--verbose lists every one, --json has them all)" in result.stderr

    verbose = run(fresh_db_url, "import", str(folder), "--dry-run", "--verbose")
    assert len(verbose.stderr.splitlines()) == 80

    as_json = json.loads(run(fresh_db_url, "import", str(folder), "--dry-run", "--json").stdout)
    assert len(as_json["warnings"]) == 40
    assert len(as_json["notes"]) == 40
    assert all("effect: not declared" in note for note in as_json["notes"])


def test_a_few_warnings_are_still_printed_one_per_line(fresh_db_url: str, tmp_path: Path) -> None:
    folder = _description_only(tmp_path / "plain", 2)
    result = run(fresh_db_url, "import", str(folder), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("warning: ") == 2
    assert "times:" not in result.stderr
