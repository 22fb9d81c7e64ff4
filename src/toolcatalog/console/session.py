"""Who is looking at the console, and the CSRF check of its forms.

Signing in keeps the API key in a session cookie that scripts cannot read (HttpOnly), that no
other site's request carries (SameSite=Strict) and that only /ui receives; each request
checks it against the key service, so a revoked key signs its sessions out at once, on every
replica, with no session table. Every form carries a token equal to a second cookie (double
submit) and a form post whose Origin is another site is refused.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request, Response

from toolcatalog.catalog.keys import Role
from toolcatalog.catalog.writes import Actor
from toolcatalog.errors import Forbidden, InvalidDefinition, Problem, Unauthorized
from toolcatalog.logs import request_id_var
from toolcatalog.runtime import Runtime

SESSION_COOKIE = "tc_session"
CSRF_COOKIE = "tc_csrf"
CSRF_FIELD = "csrf"
COOKIE_PATH = "/ui"
# A form holds at most one tool definition as YAML; the service's body limit applies too.
MAX_FORM_FIELDS = 50


@dataclass(frozen=True, slots=True)
class Visitor:
    """The signed-in key (or anonymous) and the audit actor of its writes."""

    name: str
    role: Role | None
    actor: Actor
    csrf: str

    @property
    def signed_in(self) -> bool:
        return self.role is not None

    def can(self, needed: Role) -> bool:
        return self.role is not None and self.role.allows(needed)

    def require(self, needed: Role, what: str) -> None:
        """Raise Unauthorized (not signed in) or Forbidden (role too low)."""
        if self.role is None:
            raise Unauthorized(f"{what} needs you to sign in with a key of role {needed}")
        if not self.role.allows(needed):
            raise Forbidden(f"{what} needs role {needed}; the key {self.name!r} is {self.role}")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def visitor(request: Request) -> Visitor:
    """The visitor of this request. A session whose key is no longer valid (revoked, deleted)
    is anonymous; with TOOLCATALOG_AUTH=required an anonymous visitor may not read."""
    client = request.client.host if request.client else None
    csrf = request.cookies.get(CSRF_COOKIE) or ""
    if len(csrf) < 32 or len(csrf) > 100:
        csrf = secrets.token_urlsafe(32)  # set on the response by the renderer
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        try:
            key = await runtime_of(request).keys.authenticate(secret)
        except Unauthorized:
            pass
        else:
            return Visitor(key.name, key.role, Actor(key.name, request_id_var.get(), client), csrf)
    return Visitor("anonymous", None, Actor("anonymous", request_id_var.get(), client), csrf)


async def reader(request: Request) -> Visitor:
    """`visitor`, refusing anonymous reads when TOOLCATALOG_AUTH=required."""
    found = await visitor(request)
    if runtime_of(request).settings.auth == "required" and not found.signed_in:
        found.require(Role.reader, "reading (TOOLCATALOG_AUTH=required)")
    return found


def set_cookies(request: Request, response: Response, who: Visitor) -> None:
    """Give the browser its CSRF cookie if it has none (or an unusable one)."""
    if request.cookies.get(CSRF_COOKIE) != who.csrf:
        _cookie(request, response, CSRF_COOKIE, who.csrf)


def sign_in(request: Request, response: Response, secret: str) -> None:
    _cookie(request, response, SESSION_COOKIE, secret)


def sign_out(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_https(request)
    )


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def _cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name, value, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_https(request)
    )


async def form_fields(request: Request, who: Visitor) -> dict[str, str]:
    """The posted form's fields (application/x-www-form-urlencoded), after the CSRF checks
    (`form_pairs`); a field given twice keeps its last value."""
    return dict(await form_pairs(request, who))


async def form_pairs(
    request: Request, who: Visitor, *, max_fields: int = MAX_FORM_FIELDS
) -> list[tuple[str, str]]:
    """The posted (name, value) pairs in order, after the CSRF checks: the token field must
    equal the CSRF cookie, and a browser's Origin must be this site."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        own = f"{request.url.scheme}://{request.url.netloc}"
        parts = urlsplit(origin)
        if f"{parts.scheme}://{parts.netloc}" != own:
            raise Forbidden(f"a form of {origin} may not post to this console")
    raw = (await request.body()).decode("utf-8", errors="replace")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=max_fields)
    except ValueError:
        raise InvalidDefinition(
            "the form has too many fields", [Problem("", f"at most {max_fields}")]
        ) from None
    cookie = request.cookies.get(CSRF_COOKIE, "")
    token = dict(pairs).get(CSRF_FIELD, "")
    if not cookie or not hmac.compare_digest(token.encode(), cookie.encode()):
        raise Forbidden(
            "the form's security token does not match this browser's; reload the page and "
            "send the form again"
        )
    return pairs


def field(fields: dict[str, str], name: str, *, required: bool = True) -> str:
    value = fields.get(name, "").strip()
    if required and not value:
        raise InvalidDefinition(f"{name} is required", [Problem(name, "fill it in")])
    return value
