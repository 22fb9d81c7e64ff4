"""Helpers of the console tests: forms posted the way a browser posts them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
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
