"""The one error tree of the core; doors map it to HTTP statuses and exit codes.

```
CatalogError            .code (stable slug), .detail (one line for people)
  InvalidDefinition     422 | exit 1   .problems: [Problem(path, message, file, line)]
  NotFound              404 | exit 1
  Conflict              409 | exit 1   unique / foreign-key violations, reserved names
    StoredDefinitionInvalid            a stored tool that no longer validates (catalog/stored.py)
    Busy                409 | exit 1   a row lock was not granted in time: retry (Retry-After)
  PreconditionFailed    412            stale If-Match
  StoreUnavailable      503 | exit 1   database unreachable
  SelectionUnavailable  503            the server's selection process is (re)starting
  UpstreamUnavailable   502 | exit 1   an import's MCP server or OpenAPI URL did not answer
  Unauthorized          401            missing or unknown API key
  Forbidden             403            role too low
```
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition: where (JSON path, file, line) and what."""

    path: str
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        loc = f"{self.path}: " if self.path else ""
        return f"{where}{loc}{self.message}"


class CatalogError(Exception):
    code = "catalog_error"
    title = "Catalog error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidDefinition(CatalogError):
    code = "invalid_definition"
    title = "Invalid definition"

    def __init__(self, detail: str, problems: list[Problem] | None = None) -> None:
        super().__init__(detail)
        self.problems: list[Problem] = list(problems or [])

    def __str__(self) -> str:
        if not self.problems:
            return self.detail
        return self.detail + "\n" + "\n".join(f"  {p}" for p in self.problems)


class NotFound(CatalogError):
    code = "not_found"
    title = "Not found"


class Conflict(CatalogError):
    code = "conflict"
    title = "Conflict"


class StoredDefinitionInvalid(Conflict):
    code = "stored_definition_invalid"
    title = "Stored definition invalid"


class Busy(Conflict):
    """Another write holds the row this one needs for longer than the lock timeout: a
    refusal to retry, not an outage (the database answered)."""

    code = "busy"
    title = "Busy"


class PreconditionFailed(CatalogError):
    code = "precondition_failed"
    title = "Precondition failed"


class StoreUnavailable(CatalogError):
    code = "store_unavailable"
    title = "Database unavailable"


class SelectionUnavailable(CatalogError):
    """The server's selection process (selection/sidecar.py) died with the select in flight,
    or is starting again: retry in a moment."""

    code = "selection_unavailable"
    title = "Selection unavailable"


class UpstreamUnavailable(CatalogError):
    code = "upstream_unavailable"
    title = "Upstream unavailable"


class Unauthorized(CatalogError):
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(CatalogError):
    code = "forbidden"
    title = "Forbidden"


# The HTTP status of each error (the table above), shared by the doors that speak HTTP: the
# API's problem mapper and the console's error page.
HTTP_STATUS: dict[type[CatalogError], int] = {
    InvalidDefinition: 422,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    StoreUnavailable: 503,
    SelectionUnavailable: 503,
    UpstreamUnavailable: 502,
    Unauthorized: 401,
    Forbidden: 403,
}


def http_status(exc: CatalogError) -> int:
    """The status of `exc`'s nearest class in HTTP_STATUS; 400 for any other error."""
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400
