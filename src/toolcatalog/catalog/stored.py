"""Stored definitions read back into models; one that no longer validates is left out.

A stored tool can stop validating: written before a rule was tightened (non-finite estimates
were once accepted and stored as null), or edited in SQL. One such row must not take the
catalog down with it: snapshots, the selection index and exports skip it, a GET of that tool
answers 409 naming the problem, the skip is logged and counted
(`toolcatalog_stored_tools_invalid`), and health reports `degraded` naming the tool until it
is replaced (PUT), fixed (PATCH) or purged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator

from pydantic import ValidationError

from toolcatalog import metrics
from toolcatalog.errors import StoredDefinitionInvalid
from toolcatalog.formats.problems import problems_from_validation
from toolcatalog.model.fields import STORED
from toolcatalog.model.tool import Tool
from toolcatalog.store.tools import ToolRecord

log = logging.getLogger(__name__)


class InvalidStoredTools:
    """The stored tools that failed validation when last read: name -> the first problem.
    Updated from the event loop and from the validation thread of large snapshots."""

    def __init__(self) -> None:
        self._problems: dict[str, str] = {}
        self._lock = threading.Lock()

    def problems(self) -> dict[str, str]:
        with self._lock:
            return dict(sorted(self._problems.items()))

    def valid(
        self, records: Iterable[ToolRecord], *, whole: bool
    ) -> Iterator[tuple[ToolRecord, Tool]]:
        """Each record of `records` that validates, with its tool, one at a time (a whole read
        validates and encodes one tool before decoding the next); the others are logged and
        remembered once all are through. `whole`: the records are the entire catalog, so any
        tool not among them is forgotten too."""
        read: list[str] = []
        found: dict[str, str] = {}
        for record in records:
            read.append(record.name)
            try:
                tool = Tool.model_validate(record.definition, context=STORED)
            except ValidationError as exc:
                found[record.name] = _first_problem(exc)
                continue
            yield record, tool
        self._update(read, found, whole=whole)

    def validate_one(self, record: ToolRecord) -> Tool:
        """The record's tool; raises StoredDefinitionInvalid (remembered) if it is not one."""
        try:
            tool = Tool.model_validate(record.definition, context=STORED)
        except ValidationError as exc:
            problem = _first_problem(exc)
            self._update([record.name], {record.name: problem}, whole=False)
            raise StoredDefinitionInvalid(
                f"the stored definition of {record.name!r} no longer validates ({problem}); "
                "replace it with PUT, fix it with PATCH, or purge it"
            ) from None
        self._update([record.name], {}, whole=False)
        return tool

    def forget(self, names: Iterable[str]) -> None:
        """`names` were written (valid, by construction) or removed."""
        self._update(names, {}, whole=False)

    def _update(self, read: Iterable[str], found: dict[str, str], *, whole: bool) -> None:
        with self._lock:
            before = set(self._problems)
            if whole:
                self._problems.clear()
            else:
                for name in read:
                    self._problems.pop(name, None)
            self._problems.update(found)
            count = len(self._problems)
            new = sorted(set(self._problems) - before)
        for name in new:
            log.error(
                "stored tool skipped: its definition no longer validates",
                extra={"tool": name, "problem": self._problems.get(name, "")},
            )
        metrics.STORED_TOOLS_INVALID.set(count)


def _first_problem(exc: ValidationError) -> str:
    problems = problems_from_validation(exc)
    return str(problems[0]) if problems else str(exc)
