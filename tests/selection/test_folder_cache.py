"""The catalog folder's snapshot kept on disk between processes: reused for the same files,
missed after an edit, and ignored (then rewritten) when damaged."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolcatalog.errors import InvalidDefinition
from toolcatalog.selection.folder_cache import FolderSnapshotCache
from toolcatalog.selection.loader import FolderSource


def _tools(source: FolderSource) -> dict[str, str]:
    return {t.name: t.description for t in source.snapshot().tools}


def test_a_second_process_reads_the_kept_snapshot_for_the_same_files(
    catalog_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = FolderSource(catalog_dir, cache_dir=cache)
    expected = _tools(first)
    files = list(cache.glob("catalog-*.snapshot"))
    assert len(files) == 1

    kept = FolderSnapshotCache(cache, catalog_dir, strict=True).load(first._fingerprint())
    assert kept is not None
    assert {t.name: t.description for t in kept.tools} == expected
    assert kept.vocabulary == first.snapshot().vocabulary
    assert _tools(FolderSource(catalog_dir, cache_dir=cache)) == expected


def test_an_edited_definition_misses_the_kept_snapshot(catalog_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    FolderSource(catalog_dir, cache_dir=cache).snapshot()
    df = catalog_dir / "storage" / "df.yaml"
    df.write_text(
        df.read_text().replace("description: ", "description: Edited. ", 1), encoding="utf-8"
    )
    assert _tools(FolderSource(catalog_dir, cache_dir=cache))["df"].startswith("Edited. ")


def test_an_invalid_edit_is_reported_not_hidden_by_the_kept_snapshot(
    catalog_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    FolderSource(catalog_dir, cache_dir=cache).snapshot()
    (catalog_dir / "broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(InvalidDefinition, match=r"broken\.yaml|problem"):
        FolderSource(catalog_dir, cache_dir=cache).snapshot()


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # a torn write
        lambda data: data[:-10] + bytes(10),  # a damaged payload
        lambda data: b"something else entirely",  # not our file
    ],
    ids=["torn", "damaged", "foreign"],
)
def test_a_damaged_kept_snapshot_is_ignored_and_rewritten(
    catalog_dir: Path, tmp_path: Path, damage: object
) -> None:
    cache = tmp_path / "cache"
    expected = _tools(FolderSource(catalog_dir, cache_dir=cache))
    (kept,) = cache.glob("catalog-*.snapshot")
    good = kept.read_bytes()
    assert callable(damage)
    kept.write_bytes(damage(good))

    assert _tools(FolderSource(catalog_dir, cache_dir=cache)) == expected
    assert kept.read_bytes() != damage(good)  # rewritten whole


def test_a_cache_folder_that_cannot_be_written_only_costs_the_cache(
    catalog_dir: Path, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    assert _tools(FolderSource(catalog_dir, cache_dir=blocked / "cache"))
