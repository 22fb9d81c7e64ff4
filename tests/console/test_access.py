"""Signing in, roles, CSRF and escaping: the console's guard rails."""

from __future__ import annotations

import httpx

from builders import make_tool
from toolcatalog.catalog.writes import Actor
from toolcatalog.runtime import Runtime

from .support import BASE, ClientFactory, csrf_token, post_form, sign_in

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def test_signing_in_sets_an_httponly_samesite_strict_cookie_for_the_console_only(
    browser: httpx.AsyncClient, secrets: dict[str, str]
) -> None:
    response = await post_form(browser, "/ui/login", {"key": secrets["reader"]})
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if "tc_session" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/ui" in cookie
    page = await browser.get("/ui/tools")
    assert "Signed in as <strong>console-reader</strong>" in page.text


async def test_a_wrong_key_is_refused_and_signs_nobody_in(browser: httpx.AsyncClient) -> None:
    response = await post_form(browser, "/ui/login", {"key": "tc_not_a_real_key"})
    assert response.status_code == 401
    assert "not valid" in response.text
    assert "tc_session" not in browser.cookies


async def test_a_form_without_the_csrf_token_is_refused(
    browser: httpx.AsyncClient, secrets: dict[str, str]
) -> None:
    await csrf_token(browser)
    response = await post_form(browser, "/ui/login", {"key": secrets["admin"]}, csrf=False)
    assert response.status_code == 403
    assert "security token" in response.text
    forged = await browser.post(
        "/ui/login", data={"key": secrets["admin"], "csrf": "x" * 43}, headers={"Origin": BASE}
    )
    assert forged.status_code == 403


async def test_a_form_posted_from_another_site_is_refused(
    browser: httpx.AsyncClient, secrets: dict[str, str]
) -> None:
    token = await csrf_token(browser)
    response = await browser.post(
        "/ui/login",
        data={"key": secrets["admin"], "csrf": token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


async def test_signing_out_forgets_the_key(
    browser: httpx.AsyncClient, secrets: dict[str, str]
) -> None:
    await sign_in(browser, secrets["reader"])
    response = await post_form(browser, "/ui/logout", {})
    assert response.status_code == 303
    assert "Sign in" in (await browser.get("/ui/tools")).text


async def test_a_revoked_key_signs_its_session_out(
    browser: httpx.AsyncClient, runtime: Runtime, secrets: dict[str, str]
) -> None:
    await sign_in(browser, secrets["editor"])
    await runtime.keys.revoke("console-editor")
    page = await browser.get("/ui/tools")
    assert "Signed in" not in page.text


async def test_with_auth_required_an_anonymous_visitor_is_asked_to_sign_in(
    make_browser: ClientFactory, secrets: dict[str, str]
) -> None:
    async with make_browser(auth="required") as browser:
        refused = await browser.get("/ui/tools")
        assert refused.status_code == 401
        assert 'href="/ui/login"' in refused.text
        assert (await browser.get("/ui/login")).status_code == 200
        await sign_in(browser, secrets["reader"])
        assert (await browser.get("/ui/tools")).status_code == 200


async def test_only_admins_manage_keys_and_a_new_secret_is_shown_once(
    browser: httpx.AsyncClient, secrets: dict[str, str]
) -> None:
    await sign_in(browser, secrets["editor"])
    assert (await browser.get("/ui/keys")).status_code == 403
    await sign_in(browser, secrets["admin"])
    created = await post_form(browser, "/ui/keys", {"name": "ci-bot", "role": "reader"})
    assert created.status_code == 201
    assert "tck_" in created.text
    assert "ci-bot" in created.text
    assert created.headers["cache-control"] == "no-store"
    revoked = await post_form(browser, "/ui/keys/revoke", {"name": "ci-bot"})
    assert revoked.status_code == 303
    assert "revoked" in (await browser.get("/ui/keys")).text


async def test_the_next_page_after_signing_in_stays_in_the_console(
    browser: httpx.AsyncClient, secrets: dict[str, str]
) -> None:
    response = await post_form(
        browser, "/ui/login", {"key": secrets["reader"], "next": "//evil.example/ui/x"}
    )
    assert response.headers["location"] == "/ui/tools"


async def test_hostile_descriptions_examples_and_tags_are_rendered_escaped(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    tool = make_tool(
        "hostile_tool",
        display_name=HOSTILE,
        description=f"Harmless words {HOSTILE} and more.",
        examples=[HOSTILE],
        owner=HOSTILE,
    )
    await runtime.catalog.create_tool(tool, actor=Actor(HOSTILE))
    for path in ("/ui/tools", "/ui/tools/hostile_tool", "/ui/tools?q=harmless"):
        text = (await browser.get(path)).text
        assert "<script>alert" not in text, path
        assert "<img src=x" not in text, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text, path


async def test_a_hostile_query_is_echoed_escaped(browser: httpx.AsyncClient) -> None:
    text = (await browser.get("/ui/tools", params={"q": HOSTILE, "category": HOSTILE})).text
    assert "<script>alert" not in text
    assert "<img src=x" not in text
