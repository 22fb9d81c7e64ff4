"""Pages from templates, every value escaped, and the console's one error mapper: a
CatalogError raised by a page becomes the page's error view with the matching status."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from functools import cache
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from toolcatalog.catalog.keys import Role
from toolcatalog.catalog.writes import Actor
from toolcatalog.console.session import Visitor, set_cookies, visitor
from toolcatalog.errors import CatalogError, InvalidDefinition, http_status
from toolcatalog.logs import request_id_var

log = logging.getLogger(__name__)

# Scripts and styles only from this server (htmx and the stylesheet, both vendored); no
# inline script, no inline style, no framing: a definition that smuggles markup past the
# escaping still could not run.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("toolcatalog.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship inside the package and never change under a running server:
        # no stat() of each template (and of each one it includes) per page.
        auto_reload=False,
    )
    env.globals["Role"] = Role
    return env


class FragmentCache:
    """Rendered HTML of a template that depends on one cached tool only, by the tool's ETag
    (which changes with every revision): a tool page renders its capabilities and patterns
    (~2/3 of the page's time for a tool with many patterns) once per revision. The HTML
    comes from an autoescaping template, so it is inserted as Markup, already escaped."""

    def __init__(self, template: str, max_size: int = 512) -> None:
        self.template = template
        self.max_size = max_size
        self._html: OrderedDict[tuple[str, str], Markup] = OrderedDict()

    def get(
        self, key: tuple[str, str], context: dict[str, Any] | Callable[[], dict[str, Any]]
    ) -> Markup:
        """The fragment of `key`, rendered with `context` (or what it returns, called only
        when the fragment is not cached yet)."""
        found = self._html.get(key)
        if found is not None:
            self._html.move_to_end(key)
            return found
        given = context() if callable(context) else context
        html = Markup(environment().get_template(self.template).render(**given))
        self._html[key] = html
        if len(self._html) > self.max_size:
            self._html.popitem(last=False)
        return html


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The template rendered with `context` (which carries `who`, the Visitor), with the
    console's security headers and the visitor's CSRF cookie."""
    who = context["who"]
    partial = request.headers.get("hx-request") == "true" and not request.headers.get("hx-boosted")
    html = (
        environment()
        .get_template(template)
        .render(request=request, partial=partial, csrf_field=who.csrf, **context)
    )
    response = Response(
        html,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, **(headers or {})},
    )
    set_cookies(request, response, who)
    return response


class ConsoleRoute(APIRoute):
    """A route whose CatalogErrors render as the console's error page (HTML, not
    problem+json): a visitor sees what went wrong and how to go on."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except CatalogError as exc:
                return await error_page(request, exc)

        return handle


async def error_page(request: Request, exc: CatalogError) -> Response:
    status = http_status(exc)
    log.info("console request refused", extra={"code": exc.code, "status": status})
    problems = exc.problems if isinstance(exc, InvalidDefinition) else []
    try:
        who = await visitor(request)
    except CatalogError:  # the key service itself is unreachable
        who = Visitor("anonymous", None, Actor("anonymous"), "")
    return render(
        request,
        "error.html",
        {
            "who": who,
            "status": status,
            "title": exc.title,
            "detail": exc.detail,
            "problems": problems,
            "request_id": request_id_var.get(),
        },
        status=status,
    )
