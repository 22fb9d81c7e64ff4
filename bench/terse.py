"""Terse tools: a name and a description, nothing else a selector could learn from (no
examples, no use cases, a neutral profile), the way a public tool list or a bare import
arrives. One capability `use` and one pattern `default`, both described by the description."""

from __future__ import annotations

import random
from typing import Any

from toolcatalog.model.snapshot import CatalogSnapshot


def terse_definition(name: str, description: str) -> dict[str, Any]:
    """A terse tool's definition, as YAML or a POST body would carry it."""
    return {
        "name": name,
        "description": description,
        "platform": "cross-platform",
        "category": "general",
        "capabilities": [
            {
                "name": "use",
                "description": description,
                "patterns": [
                    {
                        "name": "default",
                        "description": description,
                        "policy": {"production_safe": True},
                    }
                ],
            }
        ],
    }


def generated_terse(base: CatalogSnapshot, count: int, seed: int = 11) -> list[dict[str, Any]]:
    """`count` terse definitions in `base`'s wording: each a one-sentence description of 8-16
    words drawn from the starter catalog's descriptions (a tldr page's summary is ~10)."""
    rng = random.Random(seed)
    words = " ".join(t.description for t in base.tools).split()
    return [
        terse_definition(
            f"t{n:05d}_{rng.choice(base.tools).name}"[:64],
            " ".join(rng.sample(words, rng.randint(8, 16))),
        )
        for n in range(count)
    ]
