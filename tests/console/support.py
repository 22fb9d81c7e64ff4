"""Helpers of the console tests: forms posted the way a browser posts them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from html.parser import HTMLParser
from typing import Any

import httpx

BASE = "http://testserver"
ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


async def csrf_token(client: httpx.AsyncClient) -> str:
    """The browser's CSRF cookie, fetching a page first if it has none yet."""
    if "tc_csrf" not in client.cookies:
        await client.get("/ui/login")
    token: str = client.cookies["tc_csrf"]
    return token


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, Any], *, csrf: bool = True
) -> httpx.Response:
    fields = {**data, "csrf": await csrf_token(client)} if csrf else data
    return await client.post(path, data=fields, headers={"Origin": BASE})


async def sign_in(client: httpx.AsyncClient, secret: str) -> None:
    response = await post_form(client, "/ui/login", {"key": secret})
    assert response.status_code == 303, response.text


class _FormReader(HTMLParser):
    """The (name, value) pairs a browser would submit from one form of a page."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.pairs: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._option: tuple[str | None, bool] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and "name" in a:
            kind = a.get("type", "text")
            if kind == "checkbox" and "checked" not in a:
                return
            self.pairs.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name", ""), []
        elif tag == "select":
            self._select, self._options = a.get("name", ""), []
        elif tag == "option":
            self._option, self._text = (a.get("value"), "selected" in a), []

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            self.pairs.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "option" and self._option is not None:
            value, selected = self._option
            self._options.append((value if value is not None else "".join(self._text), selected))
            self._option = None
        elif tag == "select" and self._select is not None:
            chosen = [v for v, s in self._options if s] or [v for v, _ in self._options[:1]]
            self.pairs += [(self._select, v) for v in chosen]
            self._select = None


def form_pairs(page: str, form_id: str) -> list[tuple[str, str]]:
    """What submitting the form `form_id` of `page` sends (without a button's own field)."""
    reader = _FormReader(form_id)
    reader.feed(page)
    return reader.pairs


async def post_pairs(
    client: httpx.AsyncClient, path: str, pairs: list[tuple[str, str]]
) -> httpx.Response:
    """Post (name, value) pairs in order, as a browser does (a name may repeat), with the
    CSRF token when the pairs do not carry one."""
    if not any(name == "csrf" for name, _ in pairs):
        pairs = [*pairs, ("csrf", await csrf_token(client))]
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return await client.post(path, data=fields, headers={"Origin": BASE})
