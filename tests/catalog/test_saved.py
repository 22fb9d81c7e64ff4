"""The catalog version saved between starts: a restart reads only the rows changed since, and
a file that is not exactly what was saved is ignored."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from builders import make_settings, starter_definitions
from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.store.database import Database


async def _saved_service(db: Database, url: str, home: Path) -> ToolCatalogService:
    """A service whose whole read of the starter tools has been saved."""
    service = ToolCatalogService(db, make_settings(url, home, saved_version_min_tools=0))
    await service.import_definitions(starter_definitions()[0][:30])
    service.invalidate_all()  # as after a restart: the next read is a whole read
    await service.get_all_tools_with_structure()
    saving = service.state.whole.saving
    assert saving is not None
    assert await saving
    return service


async def test_a_restart_reads_only_the_rows_changed_since_the_saved_version(
    db: Database, conn: Any, module_db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = await _saved_service(db, module_db_url, tmp_path)
    before = {t.name: t for t in (await first.get_all_tools_with_structure()).tools}
    edited, broken, purged, *_ = sorted(before)
    # Changes made while this process was down, in SQL: one still valid, one no longer, one gone.
    await conn.execute(
        "UPDATE tools SET definition = jsonb_set(definition, '{description}', "
        "'\"Edited in SQL.\"') WHERE name = $1",
        edited,
    )
    await conn.execute(
        "UPDATE tools SET definition = definition - 'description' WHERE name = $1", broken
    )
    await conn.execute("DELETE FROM tools WHERE name = $1", purged)

    second = ToolCatalogService(db, make_settings(module_db_url, tmp_path))
    with caplog.at_level(logging.INFO, logger="toolcatalog.catalog"):
        held = {t.name: t for t in (await second.get_all_tools_with_structure()).tools}

    assert set(held) == set(before) - {broken, purged}
    assert held[edited].description == "Edited in SQL."
    assert all(held[n] == before[n] for n in held if n != edited)
    assert broken in second.state.invalid.problems()
    assert "28 tools, 2 of them from the database" in caplog.text
    body = (await second.get_tool(edited)).body
    assert b"Edited in SQL." in body


async def test_a_saved_version_that_is_damaged_is_ignored_and_everything_read(
    db: Database, module_db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = await _saved_service(db, module_db_url, tmp_path)
    data = bytearray(first.state.saved.file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    first.state.saved.file.write_bytes(bytes(data))

    second = ToolCatalogService(db, make_settings(module_db_url, tmp_path))
    with caplog.at_level(logging.INFO, logger="toolcatalog.catalog"):
        held = (await second.get_all_tools_with_structure()).tools

    assert len(held) == 30
    assert "30 tools, 30 of them from the database" in caplog.text


async def test_a_saved_version_of_another_code_or_database_is_not_read(
    db: Database, module_db_url: str, tmp_path: Path
) -> None:
    first = await _saved_service(db, module_db_url, tmp_path)
    elsewhere = type(first.state.saved)(first.state.saved.directory, "another database")
    elsewhere.file = first.state.saved.file  # the same file, read under another key

    assert elsewhere.load() is None
    assert first.state.saved.load() is not None


async def test_a_whole_read_after_a_missed_notice_reads_only_the_rows_changed_since(
    db: Database, conn: Any, module_db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = await _saved_service(db, module_db_url, tmp_path)
    edited, written, *_ = sorted(
        t.name for t in (await service.get_all_tools_with_structure()).tools
    )
    await service.patch_tool(written, {"description": "Written by this process."})
    await conn.execute(
        "UPDATE tools SET definition = jsonb_set(definition, '{description}', "
        "'\"Edited in SQL.\"') WHERE name = $1",
        edited,
    )
    service.invalidate_all()  # as after a listener reconnect: notices may have been missed

    with caplog.at_level(logging.INFO, logger="toolcatalog.catalog"):
        held = (await service.get_all_tools_with_structure()).by_name

    assert "30 tools, 2 of them from the database" in caplog.text
    assert held[edited].description == "Edited in SQL."
    assert held[written].description == "Written by this process."


def _models(value: object) -> Iterator[BaseModel]:
    """Every pydantic model in `value`, depth first."""
    if isinstance(value, BaseModel):
        yield value
        value = list(value.__dict__.values())
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _models(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _models(item)


async def test_a_restart_loads_every_entry_exactly_as_it_was_saved(
    db: Database, module_db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = await _saved_service(db, module_db_url, tmp_path)
    saved = (await first.state.version()).entries

    second = ToolCatalogService(db, make_settings(module_db_url, tmp_path))
    with caplog.at_level(logging.INFO, logger="toolcatalog.catalog"):
        loaded = (await second.state.version()).entries

    assert "30 tools, 0 of them from the database" in caplog.text
    assert set(loaded) == set(saved)
    for name, entry in loaded.items():
        assert entry == saved[name]  # every field: the model, body, ETag, summary, terms...
        pairs = list(zip(_models(entry.tool), _models(saved[name].tool), strict=True))
        assert len(pairs) > 3
        for got, want in pairs:
            # What pydantic keeps beside the fields, and what validation cached in __dict__
            # (Pattern.estimates_at_defaults), as the saved model had them.
            assert type(got) is type(want)
            assert got.__dict__ == want.__dict__
            assert got.__pydantic_fields_set__ == want.__pydantic_fields_set__
            assert got.__pydantic_private__ == want.__pydantic_private__
            assert got.__pydantic_extra__ is None
        with pytest.raises(ValidationError):
            entry.tool.name = "renamed"  # still frozen
        assert entry.tool.model_dump(mode="json") == saved[name].tool.model_dump(mode="json")
