"""Editing a tool as a form: fields from the JSON Schema, each problem at its field, the same
document as the YAML editor (an unchanged form saves nothing new), adding and removing
patterns without JavaScript, and the 412 path keeping the form."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from builders import make_tool
from toolcatalog.catalog.documents import canonical_definition
from toolcatalog.catalog.writes import Actor
from toolcatalog.console.form_values import PostedForm, form_nodes
from toolcatalog.formats.catalog_folder import read_catalog_folder
from toolcatalog.formats.dump import dump_tool, tool_document
from toolcatalog.model.tool import Tool
from toolcatalog.runtime import Runtime

from .support import form_pairs, post_pairs, sign_in

STARTER = read_catalog_folder(Path(__file__).resolve().parents[2] / "catalog")
ESTIMATE = "capabilities[0].patterns[0].profile.time_estimate_ms"


def test_every_starter_tool_reads_back_from_its_unchanged_form_as_the_same_tool() -> None:
    for tool in STARTER.tools:
        posted = PostedForm(form_nodes(tool_document(tool)).posted())
        back = Tool.model_validate(posted.document())
        assert canonical_definition(back) == canonical_definition(tool), tool.name


def _set(pairs: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    assert any(n == name for n, _ in pairs), name
    return [(n, value if n == name else v) for n, v in pairs]


async def _open(
    browser: httpx.AsyncClient, runtime: Runtime, secret: str, tool: Tool
) -> tuple[str, list[tuple[str, str]]]:
    await runtime.catalog.create_tool(tool, actor=Actor("t"))
    await sign_in(browser, secret)
    page = await browser.get(f"/ui/tools/{tool.name}/form")
    assert page.status_code == 200, page.text
    return page.text, form_pairs(page.text, "tool-form")


async def test_an_unchanged_form_previews_no_differences_and_saves_no_new_revision(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    kubectl = next(t for t in STARTER.tools if t.name == "kubectl")
    _, pairs = await _open(browser, runtime, secrets["editor"], kubectl)
    preview = await post_pairs(browser, "/ui/tools/kubectl/form", [*pairs, ("action", "preview")])
    assert preview.status_code == 200, preview.text
    assert "No differences." in preview.text
    saved = await post_pairs(browser, "/ui/tools/kubectl/form", [*pairs, ("action", "save")])
    assert saved.status_code == 303
    stored = await runtime.catalog.get_tool("kubectl")
    assert stored.revision == 1
    assert canonical_definition(stored.tool) == canonical_definition(kubectl)


async def test_a_form_edit_is_saved_with_if_match_and_shows_in_the_yaml_editor(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    _, pairs = await _open(browser, runtime, secrets["editor"], make_tool("formed_tool"))
    pairs = _set(pairs, "description", "Edited in the form.")
    pairs = _set(pairs, ESTIMATE, "20 + 3 * 4")
    saved = await post_pairs(browser, "/ui/tools/formed_tool/form", [*pairs, ("action", "save")])
    assert saved.status_code == 303, saved.text
    stored = await runtime.catalog.get_tool("formed_tool")
    assert stored.revision == 2
    assert stored.tool.description == "Edited in the form."
    yaml_page = await browser.get("/ui/tools/formed_tool/edit")
    assert "description: Edited in the form." in yaml_page.text


async def test_an_expression_with_an_unknown_input_is_shown_at_its_field(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    _, pairs = await _open(browser, runtime, secrets["editor"], make_tool("checked_tool"))
    pairs = _set(pairs, ESTIMATE, "10 * files")
    for path in ("/ui/tools/checked_tool/form", "/ui/tools/checked_tool/form/check"):
        answer = await post_pairs(browser, path, [*pairs, ("action", "validate")])
        slot = re.search(
            r'id="e-f-capabilities-0-patterns-0-profile-time_estimate_ms"[^>]*>(.*?)</div>',
            answer.text,
            re.S,
        )
        assert slot is not None, path
        assert "unknown input(s) files" in slot.group(1)
        assert 'href="#f-capabilities-0-patterns-0-profile-time_estimate_ms"' in answer.text
    assert (await runtime.catalog.get_tool("checked_tool")).revision == 1


async def test_free_form_inputs_that_are_not_yaml_are_refused_at_their_field(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    _, pairs = await _open(browser, runtime, secrets["editor"], make_tool("data_tool"))
    pairs = _set(pairs, "capabilities[0].patterns[0].inputs", "type: [unclosed")
    answer = await post_pairs(browser, "/ui/tools/data_tool/form", [*pairs, ("action", "save")])
    assert answer.status_code == 422
    slot = re.search(r'id="e-f-capabilities-0-patterns-0-inputs"[^>]*>(.*?)</div>', answer.text)
    assert slot is not None
    assert "YAML syntax error" in slot.group(1)


async def test_patterns_are_added_and_removed_without_javascript(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    _, pairs = await _open(browser, runtime, secrets["editor"], make_tool("grown_tool"))
    path = "/ui/tools/grown_tool/form"
    added = await post_pairs(browser, path, [*pairs, ("action", "add:capabilities[0].patterns")])
    assert "Pattern 2" in added.text
    grown = form_pairs(added.text, "tool-form")
    grown = _set(grown, "capabilities[0].patterns[1].name", "second")
    grown = _set(grown, "capabilities[0].patterns[1].description", "Another way.")
    grown = _set(grown, "capabilities[0].patterns[1].effect", "read")
    saved = await post_pairs(browser, path, [*grown, ("action", "save")])
    assert saved.status_code == 303, saved.text
    stored = await runtime.catalog.get_tool("grown_tool")
    assert [p.name for p in stored.tool.capabilities[0].patterns][-1] == "second"
    page = (await browser.get(path)).text
    removed = await post_pairs(
        browser,
        path,
        [*form_pairs(page, "tool-form"), ("action", "remove:capabilities[0].patterns[1]")],
    )
    assert "Pattern 2" not in removed.text


async def test_a_concurrent_change_shows_the_other_edit_and_keeps_the_form(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    _, pairs = await _open(browser, runtime, secrets["editor"], make_tool("raced_form_tool"))
    await runtime.catalog.patch_tool(
        "raced_form_tool", {"tags": ["theirs"]}, actor=Actor("someone-else")
    )
    pairs = _set(pairs, "description", "My edit.")
    path = "/ui/tools/raced_form_tool/form"
    refused = await post_pairs(browser, path, [*pairs, ("action", "save")])
    assert refused.status_code == 412
    assert "theirs" in refused.text.split('id="conflict"', 1)[1]
    kept = dict(form_pairs(refused.text, "tool-form"))
    assert kept["description"] == "My edit."
    stored = await runtime.catalog.get_tool("raced_form_tool")
    assert kept["etag"] == stored.etag
    again = await post_pairs(
        browser, path, [*form_pairs(refused.text, "tool-form"), ("action", "save")]
    )
    assert again.status_code == 303
    assert (await runtime.catalog.get_tool("raced_form_tool")).tool.description == "My edit."


async def test_the_draft_switches_between_the_form_and_the_yaml_editor(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    _, pairs = await _open(browser, runtime, secrets["editor"], make_tool("switched_tool"))
    pairs = _set(pairs, "description", "Drafted in the form.")
    as_yaml = await post_pairs(
        browser, "/ui/tools/switched_tool/form", [*pairs, ("action", "yaml")]
    )
    yaml_pairs = form_pairs(as_yaml.text, "editor")
    assert "description: Drafted in the form." in dict(yaml_pairs)["yaml"]
    back = await post_pairs(
        browser, "/ui/tools/switched_tool/form", [*yaml_pairs, ("action", "form")]
    )
    assert dict(form_pairs(back.text, "tool-form"))["description"] == "Drafted in the form."


@pytest.mark.parametrize("hostile", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
async def test_hostile_values_are_escaped_in_the_form(
    hostile: str, browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    tool = make_tool("hostile_form_tool", description=hostile, examples=[hostile])
    page, pairs = await _open(browser, runtime, secrets["editor"], tool)
    assert hostile not in page
    assert dict(pairs)["description"] == hostile


async def test_readers_may_not_post_the_form(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    await runtime.catalog.create_tool(make_tool("read_only_tool"), actor=Actor("t"))
    await sign_in(browser, secrets["reader"])
    assert (await browser.get("/ui/tools/read_only_tool/form")).status_code == 403
    page = await browser.get("/ui/tools/read_only_tool")
    assert "Edit as a form" not in page.text


async def test_a_form_posting_thousands_of_items_is_refused_at_the_list(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    _, pairs = await _open(browser, runtime, secrets["editor"], make_tool("flooded_tool"))
    flood = [(f"capabilities[{i}].name", "x") for i in range(1, 3000)]
    answer = await post_pairs(
        browser, "/ui/tools/flooded_tool/form", [*pairs, *flood, ("action", "validate")]
    )
    assert answer.status_code == 422
    assert "3000 items; at most 200" in answer.text
    assert (await runtime.catalog.get_tool("flooded_tool")).revision == 1


async def test_a_new_tool_is_created_from_a_skeleton_form(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    await sign_in(browser, secrets["editor"])
    page = await browser.get("/ui/new/form", params={"template": "api"})
    pairs = _set(form_pairs(page.text, "tool-form"), "name", "formed_api_tool")
    saved = await post_pairs(browser, "/ui/new/form", [*pairs, ("action", "save")])
    assert saved.status_code == 303, saved.text
    stored = await runtime.catalog.get_tool("formed_api_tool")
    assert stored.tool.execution is not None
    assert stored.tool.execution.kind == "http"


async def test_switching_to_the_form_names_the_yaml_keys_it_would_drop(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    tool = make_tool("misspelt_tool")
    await runtime.catalog.create_tool(tool, actor=Actor("t"))
    await sign_in(browser, secrets["editor"])
    text = dump_tool(tool).replace("description:", "descripton: typo\ndescription:", 1)
    answer = await post_pairs(
        browser, "/ui/tools/misspelt_tool/form", [("yaml", text), ("action", "form")]
    )
    assert answer.status_code == 422
    assert "<code>descripton</code></a>: not a field of a tool" in answer.text


def test_an_explicit_empty_choice_list_reads_back_apart_from_an_unset_one() -> None:
    pattern = "capabilities[0].patterns[0].policy.allowed_environments"
    for given in ([], ["production"], None):
        policy = {"production_safe": True} | (
            {} if given is None else {"allowed_environments": given}
        )
        tool = make_tool("choosy_tool", capabilities=[{
            "name": "disk_usage", "description": "d",
            "patterns": [{"name": "p", "description": "d", "effect": "read", "policy": policy}],
        }])  # fmt: skip
        root = form_nodes(tool_document(tool))
        back = Tool.model_validate(PostedForm(root.posted()).document())
        assert back.capabilities[0].patterns[0].policy.allowed_environments == given, pattern
