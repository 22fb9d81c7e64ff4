"""Through the service and real PostgreSQL: after each create, update and delete, the
selector's index derived from the previous generation's answers every request as a selector
built from nothing over the same catalog version: on the starter catalog, and on one generated
from its wording (shuffled descriptions and examples, renamed tools, as bench/select_bench.py
makes them) beside it."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from builders import FixedSource, make_settings
from toolcatalog.catalog.service import Actor
from toolcatalog.config import Settings
from toolcatalog.model.tool import Tool
from toolcatalog.runtime import Runtime
from toolcatalog.selection.models import SelectionRequest
from toolcatalog.selection.selector import Selector

from .support import import_starter, starter_definitions

REQUESTS = [
    "why is / full on db2",
    "restart nginx on the load balancer",
    "is port 443 open on api.example.com",
    "rotate the quorum snapshot zqxwv",
    "bake a chocolate cake",
]


@pytest.fixture
def settings(module_db_url: str, tmp_path: Path) -> Settings:
    # Lexical: the semantic side's derivation is compared in tests/selection.
    return make_settings(module_db_url, tmp_path, semantic=False)


async def write(runtime: Runtime, rng: random.Random, step: int) -> str:
    snapshot = await runtime.catalog.get_all_tools_with_structure()
    victim = rng.choice(sorted(t.name for t in snapshot.tools))
    kind = ("create", "patch", "patch", "enable", "delete")[step % 5]
    if kind == "create":
        doc = snapshot.by_name[victim].model_dump(mode="json", exclude_none=True)
        doc["name"] = f"{victim[:40]}_copy{step}"
        doc["description"] = f"Rotate the quorum snapshot zqxwv, step {step}."
        await runtime.catalog.create_tool(Tool.model_validate(doc))
    elif kind == "patch":
        await runtime.catalog.patch_tool(victim, {"description": f"Zqxwv quorum {step}."})
    elif kind == "enable":
        await runtime.catalog.set_enabled(victim, not snapshot.by_name[victim].enabled)
    else:
        await runtime.catalog.delete_tool(victim, purge=True)
    return kind


def answers(selector: Selector) -> list[dict[str, Any]]:
    out = []
    for text in REQUESTS:
        result = selector.select(SelectionRequest(request=text, top_k=5, explain=True))
        out.append(result.model_dump(mode="json", exclude={"selection_id", "elapsed_ms"}))
    return out


async def import_generated(runtime: Runtime, count: int, seed: int) -> None:
    """The starter catalog and `count` tools made from its wording."""
    await import_starter(runtime)
    tools, _vocabulary = starter_definitions()
    rng = random.Random(seed)
    words = " ".join(t.description for t in tools).split()
    made = []
    for n in range(count):
        doc = rng.choice(tools).model_dump(mode="json", exclude_none=True)
        doc["name"] = f"gen_{n:04d}_{doc['name']}"[:64]
        doc["description"] = " ".join(rng.sample(words, 30))
        doc["examples"] = [" ".join(rng.sample(words, 8)) for _ in range(3)]
        made.append(Tool.model_validate(doc))
    await runtime.catalog.import_definitions(made, actor=Actor("test"))


@pytest.mark.parametrize("catalog", ["starter", "generated"])
async def test_selection_after_writes_answers_as_an_index_built_from_nothing(
    runtime: Runtime, catalog: str
) -> None:
    if catalog == "starter":
        await import_starter(runtime)
    else:
        await import_generated(runtime, 300, seed=15)
    selector = runtime.selector
    selector.recorder = None
    current = await selector.aselect_index(fresh=True)
    rng = random.Random(14)
    for step in range(10):
        kind = await write(runtime, rng, step)
        derived = await selector.aselect_index(fresh=True)
        assert derived is not current
        assert derived.index.parts is current.index.parts, kind  # derived, not rebuilt
        snapshot = await runtime.catalog.get_all_tools_with_structure()
        assert derived.index.generation == snapshot.generation
        fresh = Selector(FixedSource(snapshot), selector.settings)
        fresh.observed, fresh.memory = selector.observed, selector.memory
        fresh.experiment, fresh.promoted = selector.experiment, selector.promoted
        assert answers(selector) == answers(fresh), kind
        current = derived
