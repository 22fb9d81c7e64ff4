"""Convert the seed system's (OpsConductor) per-tool YAML files into our `Tool` model.

Every seed field lands in one of three places, and the per-file `ConversionReport` says which:
mapped onto our model (with a note when the value changed on the way), kept verbatim under
`metadata["opsconductor"]` at its seed path (`kept_in_metadata`), or dropped (`unmapped`: only
what has no form here, such as `!!binary` data or a tag of punctuation). Problems name the seed
path (`capabilities.text_search.patterns.search_files.time_estimate_ms`), file and line.

    seed                                         ours
    tool_name                                    name, snake_cased (the original -> display_name)
    version "1.0" / 1                            version "1.0.0"
    platform                                     platform via PLATFORMS (coarsened: original kept)
    category                                     category, snake_cased
    metadata.tags / metadata.documentation_url   tags (lower-case, '-' for spaces) / docs_url
    examples: strings, or maps                   examples: a map's query, request, question,
                                                 prompt, description or name (the rest kept)
    capabilities.<c>.patterns.<p>, or lists of   capabilities[] / patterns[], names snake_cased
      {capability_name, patterns: [{pattern_name}]}
    description, typical_use_cases, limitations  the same (limitations under profile)
    time_estimate_ms, cost_estimate              profile.*; the seed's constants pi and e inlined
    complexity_score                             profile.complexity, else 1 - preference_match
                                                 .complexity (the seed's "complexity" is simplicity)
    preference_match.accuracy                    profile.accuracy
    completeness label (+ preference_match)      profile.completeness, see COMPLETENESS
    policy.max_cost, requires_approval,          policy.* (production_safe: the seed's default was
      production_safe, requires_background_if      true, ours is false; a note says so)
    (no seed field)                              effect: read if production_safe without
                                                 requires_approval, else change (a note says so)
    policy.max_execution_time (seconds)          policy.max_execution_time_ms
    policy.max_N_immediate                       requires_background_if "N > value" if none given
    required_inputs / optional_inputs            inputs: JSON Schema object, `required` from the
                                                 former; undeclared expression names are added
    expected_outputs                             outputs: JSON Schema object
    everything else: defaults, dependencies, scope, accuracy_level, freshness, data_source,
    preference_match.speed/.cost, unknown keys   metadata["opsconductor"] at the same path
"""

from __future__ import annotations

from toolcatalog.formats.opsconductor.bookkeeping import Change, Kind
from toolcatalog.formats.opsconductor.files import (
    convert_opsconductor,
    load_opsconductor_paths,
    template_reason,
)
from toolcatalog.formats.opsconductor.naming import Naming, load_mapping
from toolcatalog.formats.opsconductor.report import ConversionReport, MigrationReport, SkippedFile

__all__ = [
    "Change",
    "ConversionReport",
    "Kind",
    "MigrationReport",
    "Naming",
    "SkippedFile",
    "convert_opsconductor",
    "load_mapping",
    "load_opsconductor_paths",
    "template_reason",
]
