"""Property-based: random and malformed bodies, query strings and headers against every route
that takes them. Whatever arrives, the answer is never a 500, and every error is
problem+json. Runs over a real pool (committed transactions), as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import make_settings, tool_doc
from toolcatalog.catalog.keys import Role
from toolcatalog.runtime import open_runtime

from .support import client_for

T = "/api/v1/tools"
Live = tuple[httpx.AsyncClient, dict[str, str]]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
async def live(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Live]:
    home = tmp_path_factory.mktemp("fuzz")
    async with open_runtime(make_settings(module_db_url, home), listen=False) as runtime:
        admin = await runtime.keys.create("fuzzer", Role.admin)
        async with client_for(runtime) as client:
            headers = {"Authorization": f"Bearer {admin.secret}"}
            await client.post(T, json=tool_doc("alpha_tool"), headers=headers)
            yield client, headers


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "Traceback" not in response.text


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)
TOOL_FIELDS = [
    "name", "version", "display_name", "description", "platform", "category", "tags", "status",
    "enabled", "owner", "docs_url", "execution", "capabilities", "examples", "metadata", "bogus",
]  # fmt: skip
PROFILE_FIELDS = ["time_estimate_ms", "cost_estimate", "accuracy", "complexity", "completeness"]
expressions = st.text(alphabet="xyz0123456789+-*/() .,_abcdefmin", max_size=30)


@st.composite
def near_valid_tools(draw: st.DrawFn) -> dict[str, Any]:
    """A valid definition with a few fields replaced by anything at all."""
    doc = tool_doc(draw(st.from_regex(r"fuzz_[a-z0-9_]{1,12}", fullmatch=True)))
    doc.update(draw(st.dictionaries(st.sampled_from(TOOL_FIELDS), json_values, max_size=3)))
    if draw(st.booleans()) and isinstance(doc.get("capabilities"), list) and doc["capabilities"]:
        profile = draw(
            st.dictionaries(st.sampled_from(PROFILE_FIELDS), json_values | expressions, max_size=3)
        )
        doc["capabilities"] = [
            {
                **tool_doc()["capabilities"][0],
                "patterns": [{"name": "p", "description": "d", "profile": profile}],
            }
        ]
    return doc


BODY_ROUTES = [
    ("POST", T),
    ("PUT", f"{T}/alpha_tool"),
    ("PATCH", f"{T}/alpha_tool"),
    ("POST", f"{T}/bulk"),
    ("POST", f"{T}/import"),
    ("POST", f"{T}/validate"),
    ("POST", f"{T}/alpha_tool/validate"),
    ("POST", f"{T}/export"),
    ("POST", f"{T}/alpha_tool/rollback"),
    ("POST", "/api/v1/keys"),
]


@FUZZ
@given(route=st.sampled_from(BODY_ROUTES), body=json_values | near_valid_tools())
async def test_random_json_bodies_never_cause_a_server_error(
    live: Live, route: tuple[str, str], body: Any
) -> None:
    client, headers = live
    method, path = route
    if path.endswith("/bulk") and isinstance(body, dict) and "name" in body:
        body = {"tools": [body]}
    elif path.endswith("/import") and not isinstance(body, str):
        body = {"yaml_content": str(body)}
    headers = {**headers, "If-Match": "*"}  # past the 428 of PUT and PATCH, to the body
    _check(await client.request(method, path, json=body, headers=headers))


@FUZZ
@given(route=st.sampled_from(BODY_ROUTES), raw=st.binary(max_size=300))
async def test_random_bytes_never_cause_a_server_error(
    live: Live, route: tuple[str, str], raw: bytes
) -> None:
    client, headers = live
    method, path = route
    headers = {**headers, "Content-Type": "application/json", "If-Match": "*"}
    _check(await client.request(method, path, content=raw, headers=headers))


@FUZZ
@given(yaml_text=st.text(max_size=300))
async def test_random_yaml_never_causes_a_server_error(live: Live, yaml_text: str) -> None:
    client, headers = live
    body = {"yaml_content": yaml_text, "validate_only": True}
    _check(await client.post(f"{T}/import", json=body, headers=headers))


QUERY_ROUTES = [
    T,
    f"{T}/search/query",
    f"{T}/alpha_tool/diff",
    f"{T}/alpha_tool/audit",
    "/api/v1/audit",
    "/api/v1/capabilities/process_list/tools",
]
QUERY_NAMES = [
    "q", "limit", "cursor", "platform", "category", "status", "tag", "capability", "enabled",
    "updated_since", "fields", "from", "to", "action", "actor", "tool", "since",
]  # fmt: skip


@FUZZ
@given(
    path=st.sampled_from(QUERY_ROUTES),
    params=st.lists(st.tuples(st.sampled_from(QUERY_NAMES), st.text(max_size=20)), max_size=4),
)
async def test_random_query_strings_never_cause_a_server_error(
    live: Live, path: str, params: list[tuple[str, str]]
) -> None:
    client, _ = live
    _check(await client.get(path, params=params))


@FUZZ
@given(
    name=st.text(max_size=40),
    if_match=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
async def test_random_names_and_etags_never_cause_a_server_error(
    live: Live, name: str, if_match: str
) -> None:
    client, headers = live
    path = f"{T}/{quote(name, safe='') or 'x'}"
    _check(await client.get(path, headers={"If-None-Match": if_match}))
    patched = await client.patch(
        f"{T}/alpha_tool", json={"owner": "o"}, headers={**headers, "If-Match": if_match}
    )
    _check(patched)
