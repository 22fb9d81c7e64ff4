"""toolcatalog: the tool catalog and Stage B tool selector for AI operations agents.

The public Python API is what `__all__` lists (a test pins it); everything else is internal.
Its names are imported on first use (PEP 562): `import toolcatalog.cli.main` would otherwise
import the runtime, the selector and the store before any command runs (the CLI's start-up
cost, issue #15 item 4).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolcatalog.catalog.imports import ImportReport
    from toolcatalog.catalog.service import ToolCatalogService
    from toolcatalog.catalog.views import CachedTool
    from toolcatalog.catalog.writes import Actor
    from toolcatalog.config import Settings
    from toolcatalog.errors import (
        CatalogError,
        Conflict,
        InvalidDefinition,
        NotFound,
        PreconditionFailed,
        Problem,
        StoreUnavailable,
    )
    from toolcatalog.model.execution import Execution
    from toolcatalog.model.expressions import Expression, ExpressionError, parse_expression
    from toolcatalog.model.pattern import Pattern
    from toolcatalog.model.profile import Environment, Policy, Profile
    from toolcatalog.model.snapshot import CatalogSnapshot
    from toolcatalog.model.tool import Capability, Platform, Status, Tool
    from toolcatalog.model.vocabulary import Vocabulary, VocabularyEntry
    from toolcatalog.runtime import Runtime, open_runtime

__all__ = [
    "Actor",
    "CachedTool",
    "Capability",
    "CatalogError",
    "CatalogSnapshot",
    "Conflict",
    "Environment",
    "Execution",
    "Expression",
    "ExpressionError",
    "ImportReport",
    "InvalidDefinition",
    "NotFound",
    "Pattern",
    "Platform",
    "Policy",
    "PreconditionFailed",
    "Problem",
    "Profile",
    "Runtime",
    "Settings",
    "Status",
    "StoreUnavailable",
    "Tool",
    "ToolCatalogService",
    "Vocabulary",
    "VocabularyEntry",
    "open_runtime",
    "parse_expression",
]

_DEFINED_IN = {
    "Actor": "toolcatalog.catalog.writes",
    "CachedTool": "toolcatalog.catalog.views",
    "Capability": "toolcatalog.model.tool",
    "CatalogError": "toolcatalog.errors",
    "CatalogSnapshot": "toolcatalog.model.snapshot",
    "Conflict": "toolcatalog.errors",
    "Environment": "toolcatalog.model.profile",
    "Execution": "toolcatalog.model.execution",
    "Expression": "toolcatalog.model.expressions",
    "ExpressionError": "toolcatalog.model.expressions",
    "ImportReport": "toolcatalog.catalog.imports",
    "InvalidDefinition": "toolcatalog.errors",
    "NotFound": "toolcatalog.errors",
    "Pattern": "toolcatalog.model.pattern",
    "Platform": "toolcatalog.model.tool",
    "Policy": "toolcatalog.model.profile",
    "PreconditionFailed": "toolcatalog.errors",
    "Problem": "toolcatalog.errors",
    "Profile": "toolcatalog.model.profile",
    "Runtime": "toolcatalog.runtime",
    "Settings": "toolcatalog.config",
    "Status": "toolcatalog.model.tool",
    "StoreUnavailable": "toolcatalog.errors",
    "Tool": "toolcatalog.model.tool",
    "ToolCatalogService": "toolcatalog.catalog.service",
    "Vocabulary": "toolcatalog.model.vocabulary",
    "VocabularyEntry": "toolcatalog.model.vocabulary",
    "open_runtime": "toolcatalog.runtime",
    "parse_expression": "toolcatalog.model.expressions",
}


def __getattr__(name: str) -> Any:
    module = _DEFINED_IN.get(name)
    if module is None:
        raise AttributeError(f"module 'toolcatalog' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
