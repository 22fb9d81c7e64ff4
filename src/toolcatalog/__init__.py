"""toolcatalog: the tool catalog and Stage B tool selector for AI operations agents.

The public Python API is what `__all__` lists (a test pins it); everything else is internal.
"""

from toolcatalog.catalog.service import ToolCatalogService
from toolcatalog.catalog.views import CachedTool
from toolcatalog.catalog.writes import Actor, ImportReport
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
from toolcatalog.model.expressions import Expression, ExpressionError, parse_expression
from toolcatalog.model.profile import Environment, Policy, Profile
from toolcatalog.model.snapshot import CatalogSnapshot
from toolcatalog.model.tool import Capability, Execution, Pattern, Platform, Status, Tool
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
