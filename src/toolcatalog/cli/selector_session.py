"""The selector a `toolcatalog select` asks: from a catalog folder or the database's runtime,
waited for until its tool embeddings are in (a progress bar on stderr the first time)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from toolcatalog.cli import output
from toolcatalog.cli.running import command_runtime
from toolcatalog.config import Settings
from toolcatalog.selection.loader import FolderSource
from toolcatalog.selection.models import SelectionRequest, SelectionResult
from toolcatalog.selection.process import SelectionProcess
from toolcatalog.selection.selector import Selector

Ask = Callable[[SelectionRequest], Awaitable[SelectionResult]]

# With semantic retrieval (the default), a select waits until the tool embeddings are in (they
# are cached under TOOLCATALOG_HOME after the first run; the 203-tool starter catalog takes
# ~6 s, 6,608 tools about a minute), with a progress bar on stderr after SEMANTIC_NOTICE_S.
# It answers lexically only when they cannot be had (model missing, embedding failed), and
# says so. The names and description clauses of example-less tools are embedded after the rest
# (selection/semantic.py); a server answers without them meanwhile, but a command is one
# process: it waits for them too (the bar counts both), so its answers are the ones a settled
# server gives and a `--batch` never changes index halfway. TOOLCATALOG_SEMANTIC=false
# selects lexically at once.
SEMANTIC_NOTICE_S = 0.5
SEMANTIC_POLL_S = 0.2


async def with_selector(
    settings: Settings,
    catalog: Path | None,
    go: Callable[[Ask], Awaitable[int]],
    progress: bool = True,
) -> int:
    if catalog is not None:
        selector = Selector(FolderSource(catalog, cache_dir=settings.home / "cache"), settings)
        try:
            return await _asking(selector, go, progress)
        finally:
            # The names and description clauses may still be coming: their thread stops at its next
            # step and saves what it embedded, rather than die at exit inside the encoder
            # (interpreter finalisation can hang there), as a runtime's close does.
            await selector.close()
    async with command_runtime(settings) as runtime:
        return await _asking(runtime.selector, go, progress)


async def _asking(
    selector: Selector | SelectionProcess,
    go: Callable[[Ask], Awaitable[int]],
    progress: bool = True,
) -> int:
    if selector.settings.semantic and not await _semantic_ready(selector, progress):
        output.err.print(
            f"semantic retrieval not used ({selector.semantic_status}); answering lexically",
            highlight=False,
        )
    elif selector.settings.semantic and (status := selector.semantic_status) != "ready":
        output.err.print(  # the later texts could not be embedded (the rest are in)
            f"semantic retrieval {status}; answering without the names and description clauses",
            highlight=False,
        )
    return await go(selector.aselect)


async def _semantic_ready(selector: Selector | SelectionProcess, progress: bool) -> bool:
    waiting = asyncio.ensure_future(selector.await_semantic())
    try:
        done, _ = await asyncio.wait({waiting}, timeout=SEMANTIC_NOTICE_S)
        if done:
            return waiting.result()
        where = selector.settings.home / "embeddings"
        if not any(where.glob("*.npz")):  # the first run; later ones only load the cache
            output.err.print(
                f"computing the tool embeddings (once: cached under {where}; "
                "TOOLCATALOG_SEMANTIC=false selects lexically without them)",
                highlight=False,
            )
        if not progress:
            return await waiting
        with Progress(
            TextColumn("embedding tool texts"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=output.err,
            transient=True,
        ) as bar:
            task = bar.add_task("embed", total=None)
            while not waiting.done():
                counts = selector.semantic_progress
                if counts is not None:
                    bar.update(
                        task,
                        completed=counts.embedded + counts.later_embedded,
                        total=counts.texts + counts.later,
                    )
                await asyncio.wait({waiting}, timeout=SEMANTIC_POLL_S)
        return waiting.result()
    finally:
        waiting.cancel()
