"""The per-step trace of a `toolcatalog serve` under load (bench/mix_trace.py puts this folder
first on the server's PYTHONPATH). Inactive unless MIXTRACE_OUT names a file.

Wraps, as their modules are imported: the ASGI app (each request's kind, arrival at the app,
first byte sent, end), a patch's steps (body, caller, the tool's turn, pool acquire,
write_tool, the whole update), a select's hop (queued, in the thread with its CPU, the
completing callback), the selector's background builds and embeddings (wall and thread CPU),
and `CatalogState.written`; records every collection of the cyclic collector (its thread
CPU) and, each second, each thread's CPU and the loop's lag. Events go to MIXTRACE_OUT as
JSON lines, written by a thread once a second. Ad hoc by design: it patches by name, and a
renamed function is simply not traced (the report then lacks its rows)."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gc
import importlib.abc
import importlib.util
import itertools
import json
import os
import sys
import threading
import time
from typing import Any

OUT = os.environ.get("MIXTRACE_OUT")
_now = time.perf_counter
_events: list[Any] = []
_rid: contextvars.ContextVar[int | None] = contextvars.ContextVar("mixtrace_rid", default=None)
_ids = itertools.count(1)


def _rec(*event: Any) -> None:
    _events.append(event)


def _thread_cpu() -> dict[str, float]:
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    cpu: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(tid), "native").rstrip("0123456789_")
        cpu[name] = cpu.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return cpu


def _flush(path: str) -> None:
    with open(path, "a") as f:
        while True:
            time.sleep(1.0)
            _events.append(("tcpu", _now(), None, _thread_cpu()))
            n = len(_events)
            batch = _events[:n]
            del _events[:n]
            f.writelines(json.dumps(e) + "\n" for e in batch)
            f.flush()


_gc_started: dict[int, tuple[float, float]] = {}


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    tid = threading.get_ident()
    if phase == "start":
        _gc_started[tid] = (_now(), time.thread_time())
        return
    began = _gc_started.pop(tid, None)
    if began is not None:
        cpu = time.thread_time() - began[1]
        _rec("gc", began[0], _now(), [info["generation"], threading.current_thread().name, cpu])


def _kind(scope: dict[str, Any]) -> str:
    method, path = scope.get("method"), scope.get("path", "")
    if method == "PATCH":
        return "patch"
    if method == "POST" and path.endswith("select"):
        return "select"
    if path.startswith("/api/v1/tools/"):
        return "get"
    if path == "/api/v1/tools":
        return "search" if b"q=" in scope.get("query_string", b"") else "list"
    return "other"


async def _lag() -> None:
    import asyncio

    while True:
        began = _now()
        await asyncio.sleep(0.001)
        late = _now() - began - 0.001
        if late > 0.002:
            _rec("lag", began, _now(), None)


def _traced_app(app: Any) -> Any:
    started = []

    async def traced(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        if not started:
            import asyncio

            started.append(asyncio.ensure_future(_lag()))
        kind, began, first = _kind(scope), _now(), [None]
        rid = next(_ids)
        _rid.set(rid)

        async def sending(message: Any) -> None:
            if first[0] is None and message["type"] == "http.response.start":
                first[0] = _now()
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            _rec("req", began, _now(), [kind, first[0], rid])

    return traced


def _wrap_async(owner: Any, name: str, label: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        began = _now()
        try:
            return await original(*args, **kwargs)
        finally:
            _rec("step", began, _now(), [label, _rid.get()])

    setattr(owner, name, wrapped)


def _wrap_entered(owner: Any, name: str, label: str) -> None:
    """An async context manager: the time until its body starts."""
    original = getattr(owner, name)

    @contextlib.asynccontextmanager
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        began = _now()
        async with original(*args, **kwargs) as value:
            _rec("step", began, _now(), [label, _rid.get()])
            yield value

    setattr(owner, name, wrapped)


def _wrap_batch(store: Any) -> None:
    """write_tools (the write queue's batches, session 11): each call, with its size."""
    original = store.write_tools

    @functools.wraps(original)
    async def wrapped(conn: Any, items: Any, *args: Any) -> Any:
        began = _now()
        try:
            return await original(conn, items, *args)
        finally:
            _rec("batch", began, _now(), [len(items)])

    store.write_tools = wrapped


def _wrap_thread(owner: Any, name: str, label: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        began, cpu = _now(), time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            used = time.thread_time() - cpu
            _rec(label, began, _now(), [used, threading.current_thread().name])

    setattr(owner, name, wrapped)


def _wrap_run_beside(module: Any) -> None:
    original = module.run_beside

    def run_beside(pool: Any, work: Any, *args: Any, then: Any = None) -> Any:
        queued, rid, marks = _now(), _rid.get(), {}

        def timed(*a: Any) -> Any:
            marks["start"], cpu = _now(), time.thread_time()
            try:
                return work(*a)
            finally:
                marks["end"], marks["cpu"] = _now(), time.thread_time() - cpu

        def done(result: Any) -> None:
            _rec(
                "sel", queued, _now(), [rid, marks.get("start"), marks.get("end"), marks.get("cpu")]
            )
            if then is not None:
                then(result)

        return original(pool, timed, *args, then=done)

    module.run_beside = run_beside


def _patch(name: str, module: Any) -> None:
    if name == "toolcatalog.api.asgi":
        make = module.create_app_from_env
        module.create_app_from_env = lambda: _traced_app(make())
    elif name == "toolcatalog.selection.selector":
        _wrap_thread(module.Selector, "_build_beside", "build")
        _wrap_run_beside(module)
    elif name in ("toolcatalog.selection.semantic", "toolcatalog.selection.semantic_engine"):
        if hasattr(module, "SemanticEngine"):  # semantic.py's before session 12
            _wrap_thread(module.SemanticEngine, "filled_index", "embed")
    elif name == "toolcatalog.catalog.state":
        _wrap_thread(module.CatalogState, "written", "written")
    elif name == "toolcatalog.catalog.writes":
        _wrap_async(module.CatalogWrites, "_update", "update")
        if hasattr(module.CatalogWrites, "_turn"):  # before the write queue (session 11)
            _wrap_entered(module.CatalogWrites, "_turn", "turn")
        if hasattr(module.tool_store, "write_tool"):
            _wrap_async(module.tool_store, "write_tool", "write_tool")
        if hasattr(module.tool_store, "write_tools"):
            _wrap_batch(module.tool_store)
    elif name == "toolcatalog.store.database":
        _wrap_entered(module.Database, "_acquired", "acquire")
    elif name == "toolcatalog.api.tool_writes":
        _wrap_async(module, "editor_of", "auth")
        _wrap_async(module, "read_body", "body")


class _AfterImport(importlib.abc.MetaPathFinder):
    names = frozenset(
        {
            "toolcatalog.api.asgi",
            "toolcatalog.selection.selector",
            "toolcatalog.selection.semantic",
            "toolcatalog.selection.semantic_engine",
            "toolcatalog.catalog.state",
            "toolcatalog.catalog.writes",
            "toolcatalog.store.database",
            "toolcatalog.api.tool_writes",
        }
    )

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self.names:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            _patch(fullname, module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if OUT:
    gc.callbacks.append(_on_gc)
    threading.Thread(target=_flush, args=(OUT,), daemon=True, name="mixtrace-flush").start()
    sys.meta_path.insert(0, _AfterImport())
