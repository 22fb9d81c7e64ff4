"""The web console at /ui: server-rendered pages (Jinja2) with htmx, both shipped in this
package; a door like the API, reaching the catalog through the runtime only."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from toolcatalog.console import access, authoring, browse, form_edit, generator_pages, trial

CONSOLE_PREFIX = "/ui"
# Form posts (application/x-www-form-urlencoded) are accepted under this prefix only.
FORM_PATH_PREFIX = CONSOLE_PREFIX + "/"


def install_console(app: FastAPI) -> None:
    """Add the console's pages and its static files (htmx, the stylesheet) to `app`."""
    app.mount(
        CONSOLE_PREFIX + "/static",
        StaticFiles(packages=[("toolcatalog.console", "static")]),
        name="console-static",
    )
    routers = (access, authoring, browse, form_edit, generator_pages, trial)
    for module in routers:
        app.include_router(module.router)
