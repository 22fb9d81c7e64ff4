"""LearningRefresher: brings what the database learned to the in-memory selector, so that no
select reads the database. Every `learning_refresh_s` (and on demand, after a change made
through this process) it re-reads each source it was given and swaps the result into the
selector whole: observed profiles from telemetry's hourly rollups, labelled feedback (the
newest feedback.MAX_EXAMPLES), experiments. A failed read keeps what the selector had and is
logged once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from toolcatalog.config import Settings
from toolcatalog.errors import CatalogError
from toolcatalog.model.telemetry import PatternKey
from toolcatalog.selection.experiments import RunningExperiment, Variant
from toolcatalog.selection.feedback import FeedbackMemory, LabelledExample
from toolcatalog.selection.process import SelectionProcess
from toolcatalog.selection.profiles import Observed, ObservedProfiles, ProfileRules
from toolcatalog.selection.selector import Selector
from toolcatalog.store.experiments import ExperimentRecord
from toolcatalog.store.selections import LabelledRequest

ObservedReader = Callable[[datetime], Awaitable[Mapping[PatternKey, Observed]]]
LabelledReader = Callable[[], Awaitable[Sequence[LabelledRequest]]]
ExperimentsReader = Callable[[], Awaitable[tuple[ExperimentRecord | None, ExperimentRecord | None]]]

log = logging.getLogger(__name__)


def rules_of(settings: Settings) -> ProfileRules:
    return ProfileRules(
        prior_samples=settings.profile_prior_samples,
        min_samples=settings.profile_min_samples,
        min_success_rate=settings.profile_min_success_rate,
    )


class LearningRefresher:
    def __init__(
        self,
        selector: Selector | SelectionProcess,
        settings: Settings,
        *,
        observed: ObservedReader | None = None,
        labelled: LabelledReader | None = None,
        experiments: ExperimentsReader | None = None,
        process: SelectionProcess | None = None,
    ) -> None:
        """`process`: the selection process to tell of feedback given and experiments changed
        through this one (it refreshes the rest itself)."""
        self.selector = selector
        self._process = process
        self.settings = settings
        self._observed = observed
        self._labelled = labelled
        self._experiments = experiments
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def refresh_profiles(self) -> None:
        """Re-read the observed figures of the last `profile_window_days`."""
        if self._observed is None:
            return
        since = datetime.now(UTC) - timedelta(days=self.settings.profile_window_days)
        stats = await self._observed(since)
        self.selector.observed = ObservedProfiles(
            {(k[0], k[1], k[2]): v for k, v in stats.items()}, rules_of(self.settings)
        )

    async def refresh_feedback(self) -> None:
        """Rebuild the selector's feedback memory from the newest labelled requests."""
        if self._labelled is None:
            return
        rows = await self._labelled()
        # Oldest first, so that the memory's cap keeps the newest (rows come newest first).
        memory = FeedbackMemory(
            LabelledExample(r.request, r.tool_name, r.outcome != "rejected") for r in reversed(rows)
        )
        self.selector.memory = memory

    def learn(self, example: LabelledExample) -> None:
        """Feedback given through this process: the selector learns it at once."""
        memory = self.selector.memory
        if memory is None:
            memory = self.selector.memory = FeedbackMemory()
        memory.add(example)
        if self._process is not None:
            self._process.learned(example)

    async def refresh_experiments(self) -> None:
        """The running experiment and the promoted configuration, into the selector, after a
        change made through this process (the selection process is told to read them too)."""
        await self._read_experiments()
        if self._process is not None:
            await self._process.experiments_changed()

    async def _read_experiments(self) -> None:
        if self._experiments is None:
            return
        running, promoted = await self._experiments()
        self.selector.experiment = (
            None
            if running is None
            else RunningExperiment(
                running.name, tuple(Variant.model_validate(v) for v in running.variants)
            )
        )
        config = None
        if promoted is not None:
            chosen = [v for v in promoted.variants if v["name"] == promoted.promoted_variant]
            config = Variant.model_validate(chosen[0]).config if chosen else None
        self.selector.promoted = config

    async def refresh(self) -> None:
        await self.refresh_profiles()
        await self.refresh_feedback()
        await self._read_experiments()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="learning-refresh")

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except CatalogError as exc:
                if not self._failing:
                    log.warning(
                        "learning not refreshed; keeping the last", extra={"error": exc.detail}
                    )
                self._failing = True
            else:
                self._failing = False
            await asyncio.sleep(self.settings.learning_refresh_s)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
