"""The embedded PostgreSQL server (from the `pgserver` wheel) used when DATABASE_URL is unset."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

from toolcatalog.files import process_running

log = logging.getLogger(__name__)

DATABASE_NAME = "toolcatalog"


class EmbeddedPostgres:
    """A private PostgreSQL 16 server whose data lives in `data_dir`, reused across runs.

    `cleanup` is pgserver's mode: "stop" stops the server when the last process using it exits,
    "delete" also removes the data (tests), None leaves it running.
    """

    def __init__(self, data_dir: Path, cleanup: str | None = "stop") -> None:
        self.data_dir = data_dir
        self.cleanup = cleanup
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server and return the URL of the toolcatalog database."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._forget_dead_handles()
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back
            # to /tmp, which is what we want.
            warnings.simplefilter("ignore")
            import pgserver  # imported lazily: only the embedded mode needs it

            get_server: Any = getattr(pgserver, "get_server")  # noqa: B009 - untyped package
            self._server = get_server(self.data_dir, cleanup_mode=self.cleanup)
        base_uri: str = self._server.get_uri()
        self._ensure_database()
        return base_uri.replace("/postgres?", f"/{DATABASE_NAME}?", 1)

    def _forget_dead_handles(self) -> None:
        """pgserver stops the server when its last user exits, counting users in a file of
        pids; a user killed by SIGKILL stays in it forever and the server would never stop.
        Drop pids of processes that no longer exist."""
        handles = self.data_dir / ".handle_pids.json"
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        alive = [p for p in pids if isinstance(p, int) and process_running(p)]
        if alive != pids:
            handles.write_text(json.dumps(alive))

    def _ensure_database(self) -> None:
        # psql takes no parameters; DATABASE_NAME is a constant of this module.
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608
        exists = self._server.psql(query)
        if "1 row" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")
            log.info("created database %s in %s", DATABASE_NAME, self.data_dir)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
