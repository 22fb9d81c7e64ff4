"""ProfileLoader in YAML mode and over a SnapshotSource, including the fallbacks when the
source reports the database unavailable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from toolcatalog.errors import StoreUnavailable
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.selection.loader import FolderSource, ProfileLoader, load_folder_snapshot


class SwitchableSource:
    """A SnapshotSource serving a folder's snapshot as if from the database, until `down`."""

    def __init__(self, folder: Path) -> None:
        snapshot = load_folder_snapshot(folder, generation=7)
        self.snapshot = CatalogSnapshot(
            snapshot.tools, 7, datetime.now(UTC), snapshot.vocabulary, source="database"
        )
        self.down = False

    async def get_all_tools_with_structure(self) -> CatalogSnapshot:
        if self.down:
            raise StoreUnavailable("connection refused")
        return self.snapshot


def test_yaml_mode_gives_a_typed_view_of_every_pattern(catalog_dir: Path) -> None:
    loader = ProfileLoader(use_database=False, config_path=catalog_dir)
    config = loader.load()
    assert sorted(config.tools) == ["df", "du", "get_service", "prometheus", "systemctl"]
    ref = config.pattern("du", "directory_size", "deep_scan")
    assert ref.pattern.profile.time_estimate_ms == "500 + 0.05 * files"
    assert ref.pattern.policy.requires_background_if == "files > 500000"
    assert len(list(config.patterns())) == 7
    assert config.vocabulary is not None
    assert config.vocabulary.resolve("promql") == "metrics_query"
    assert loader.status.source == "yaml"
    assert loader.status.generation == 1
    with pytest.raises(KeyError, match="no capability"):
        config.pattern("du", "nope", "deep_scan")


async def test_database_mode_reads_the_source(catalog_dir: Path) -> None:
    loader = ProfileLoader(source=SwitchableSource(catalog_dir))
    config = await loader.aload()
    assert config.generation == 7
    assert loader.status.source == "database"
    assert loader.status.fallback_reason is None


async def test_an_unavailable_database_falls_back_to_the_last_good_snapshot(
    catalog_dir: Path,
) -> None:
    source = SwitchableSource(catalog_dir)
    loader = ProfileLoader(source=source)
    await loader.aload()
    source.down = True
    config = await loader.aload(force_reload=True)
    assert config.generation == 7
    assert loader.status.source == "last_good"
    assert "connection refused" in (loader.status.fallback_reason or "")


async def test_an_unavailable_database_falls_back_to_yaml_without_a_last_good(
    catalog_dir: Path,
) -> None:
    source = SwitchableSource(catalog_dir)
    source.down = True
    loader = ProfileLoader(source=source, config_path=catalog_dir)
    config = await loader.aload()
    assert loader.status.source == "yaml"
    assert "database unavailable" in str(loader.status.fallback_reason)
    assert "df" in config.tools


async def test_with_nothing_to_fall_back_on_the_error_is_store_unavailable(
    catalog_dir: Path,
) -> None:
    source = SwitchableSource(catalog_dir)
    source.down = True
    with pytest.raises(StoreUnavailable):
        await ProfileLoader(source=source).aload()


def test_a_database_url_without_a_source_is_reported_not_silently_ignored(
    catalog_dir: Path,
) -> None:
    with pytest.raises(NotImplementedError, match="source="):
        ProfileLoader(database_url="postgresql://x/y").load()
    loader = ProfileLoader(database_url="postgresql://x/y", config_path=catalog_dir)
    loader.load()
    assert loader.status.source == "yaml"
    assert "source" in str(loader.status.fallback_reason)


def test_a_broken_edit_keeps_the_last_good_folder_snapshot(catalog_dir: Path) -> None:
    source = FolderSource(catalog_dir, check_interval_s=0)
    first = source.snapshot()
    (catalog_dir / "broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    assert source.snapshot() is first
    assert source.last_error is not None
    assert "broken.yaml" in source.last_error
    (catalog_dir / "broken.yaml").unlink()
    (catalog_dir / "storage" / "df.yaml").write_text(
        (catalog_dir / "storage" / "df.yaml").read_text().replace("instantly", "at once")
    )
    assert source.snapshot().generation == first.generation + 1


def test_the_cached_view_is_reused_until_invalidated(catalog_dir: Path) -> None:
    loader = ProfileLoader(use_database=False, config_path=catalog_dir)
    assert loader.load() is loader.load()
    loader.invalidate_cache()
    assert loader.load().generation == 2  # invalidation re-reads the folder
