"""Stage B selection: rank an immutable catalog snapshot for an ops request (see selector.py)."""

from toolcatalog.selection.loader import (
    FolderSource,
    OptimizationProfilesConfig,
    ProfileLoader,
    SnapshotSource,
)
from toolcatalog.selection.models import SelectionRequest, SelectionResult
from toolcatalog.selection.selector import Selector

__all__ = [
    "FolderSource",
    "OptimizationProfilesConfig",
    "ProfileLoader",
    "SelectionRequest",
    "SelectionResult",
    "Selector",
    "SnapshotSource",
]
