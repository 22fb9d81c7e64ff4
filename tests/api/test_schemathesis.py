"""schemathesis against the app's own /openapi.json, on a real server over a real database:
generated requests for every operation find no server error, no undocumented status or
content type, and no response that violates its documented schema; and stateful sequences
(create, then read, patch, roll back, delete what was created, through the links schemathesis
infers) keep the same contract, for a fixed time budget.

The server runs in a thread (uvicorn, its own event loop and pool) with an admin key, so the
write routes are exercised past authentication. Tuned to about a minute on 2 cores.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from builders import make_settings, tool_doc
from toolcatalog.api.app import create_app
from toolcatalog.catalog.keys import Role
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.config import Settings
from toolcatalog.model.tool import Tool
from toolcatalog.runtime import open_runtime

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    allow_header_conformance,  # a 405 lists every method of the path
]
MAX_EXAMPLES = 15


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _seed(catalog: ToolCatalogService) -> None:
    # Something to read, patch, roll back and diff, under names the generator will try.
    await catalog.create_tool(Tool.model_validate(tool_doc("alpha_tool")))
    await catalog.patch_tool("alpha_tool", {"owner": "sre"})


@pytest.fixture(scope="module")
async def live_server(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str]]:
    home: Path = tmp_path_factory.mktemp("schemathesis")
    port = _free_port()
    # URL imports off: the generator's URLs would make the server reach out to the network
    # (a 502 for an unreachable host is right, but not a test of this contract).
    settings = make_settings(
        module_db_url, home, port=port, access_log=False, pool_max_size=10,
        import_upstream_urls=False,
    )  # fmt: skip
    async with open_runtime(settings, listen=False) as runtime:
        admin = await runtime.keys.create("schemathesis", Role.admin)
        await _seed(runtime.catalog)
    config = uvicorn.Config(
        create_app(settings=settings),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        ws="none",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="schemathesis-server", daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}", admin.secret
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 15)


@pytest.fixture(scope="module")
def api_schema(live_server: tuple[str, str]) -> Any:
    base_url, _ = live_server
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


# The operations, known at collection time from the app itself (its OpenAPI document does not
# depend on a database); the test checks them against what the live server publishes.
# (schemathesis' own pytest integration does not work with pytest 9, hence this loop.)
_SPEC = create_app(settings=Settings(database_url="postgresql://unused/unused")).openapi()
OPERATIONS = [
    pytest.param(path, method.upper(), id=f"{method.upper()} {path}")
    for path, methods in _SPEC["paths"].items()
    for method in methods
]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_operation_keeps_its_openapi_contract(
    api_schema: Any, live_server: tuple[str, str], path: str, method: str
) -> None:
    base_url, secret = live_server
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {secret}"}

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(GenerationMode.POSITIVE)
        | operation.as_strategy(GenerationMode.NEGATIVE)
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    check()


# Stateful runs go on in short rounds until this many seconds have passed: a budget, so the
# suite's duration does not depend on how many operations the document grows.
STATEFUL_BUDGET_S = 30.0


def test_stateful_sequences_keep_the_contract_within_a_time_budget(
    api_schema: Any, live_server: tuple[str, str]
) -> None:
    base_url, secret = live_server
    headers = {"Authorization": f"Bearer {secret}", "If-Match": "*"}

    calls: list[str] = []

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            calls.append(f"{case.method} {case.operation.path}")

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": base_url, "headers": headers, "timeout": 30}

        def validate_response(
            self, response: Any, case: schemathesis.Case, additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:  # fmt: skip
            case.validate_response(response, checks=CHECKS)

    rounds = 0
    deadline = time.monotonic() + STATEFUL_BUDGET_S
    while time.monotonic() < deadline:
        Workflow.run(
            settings=settings(
                max_examples=3,
                stateful_step_count=8,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
        rounds += 1
    assert rounds >= 1
    assert len(set(calls)) > 1, calls  # sequences ran, not one call repeated
