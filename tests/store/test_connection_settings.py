"""The startup parameters every pooled connection is opened with."""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import make_settings
from toolcatalog.store.connection_settings import server_settings


@pytest.mark.parametrize(
    ("lock_s", "command_s", "expected"),
    [(2.0, 5.0, "2000ms"), (2.0, 2.0, "1000ms"), (0.25, 30.0, "250ms")],
)
def test_the_lock_timeout_stays_under_the_command_timeout(
    tmp_path: Path, lock_s: float, command_s: float, expected: str
) -> None:
    # Equal timeouts raced: a lock wait was reported as an outage when the command timed out first.
    settings = make_settings(
        "postgresql://unused/db",
        tmp_path,
        db_lock_timeout_s=lock_s,
        db_command_timeout_s=command_s,
    )
    assert server_settings(settings)["lock_timeout"] == expected
