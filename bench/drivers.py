"""Load drivers for bench/load.py: wrk (C, preferred: it leaves the CPU to the server) and a
pure-asyncio HTTP/1.1 keep-alive client (the fallback when wrk is not installed).

Both take the same weighted list of `Op`s and return the same `Measurement`.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from wrk_latency import DONE_LUA, mean_us, parse_histogram, percentile_us, uncorrected


@dataclass(frozen=True, slots=True)
class Op:
    """One kind of request. In the path and body, `{n}` becomes a value unique per request
    (creates do not collide) and `{k}` a random digit 0-7 (updates spread over 8 rows)."""

    kind: str
    method: str
    path: str
    weight: int
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Measurement:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    client: str
    error_detail: dict[str, int] = field(default_factory=dict)
    mean_ms: float = 0.0
    # wrk's own p99, with the samples its correction adds (bench/wrk_latency.py): not a
    # latency any request had; kept to show how far it is off.
    wrk_p99_ms: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


# ---------------------------------------------------------------------------------------- wrk

_LUA = r"""
local ops = %(ops)s
local slots = {}
for i, op in ipairs(ops) do
  for _ = 1, op.weight do slots[#slots + 1] = op end
end
local counter = 0
local thread_id = 0
local threads = {}

%(histogram)s

setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
  table.insert(threads, thread)
end

init = function(args)
  math.randomseed(os.time() * 100 + (tid or 0))
  run_id = tostring(math.random(100000000))  -- writes of the warm-up and the run never collide
end

%(request)s

%(response)s

done = function(summary, latency, requests)
  local e = summary.errors
  local codes = {}
  for _, t in ipairs(threads) do
    local seen = t:get("statuses")
    if seen then
      for code, n in pairs(seen) do codes[code] = (codes[code] or 0) + n end
    end
  end
  for code, n in pairs(codes) do io.write(string.format("WRK_STATUS %%d %%d\n", code, n)) end
  io.write(string.format(
    'WRK_RESULT {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, ' ..
    '"write": %%d, "status": %%d, "timeout": %%d, "p50": %%d, "p95": %%d, "p99": %%d, ' ..
    '"max": %%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
  local buckets, samples = histogram(latency)
  io.write("WRK_HISTOGRAM ", string.format("%%d", samples), " ", buckets, "\n")
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def _lua_ops(ops: list[Op]) -> str:
    items = []
    for op in ops:
        headers = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in op.headers.items())
        body = _lua_string(op.body) if op.body is not None else "nil"
        items.append(
            f"{{method = {_lua_string(op.method)}, path = {_lua_string(op.path)}, "
            f"weight = {op.weight}, body = {body}, headers = {{{headers}}}}}"
        )
    return "{" + ", ".join(items) + "}"


# A Lua call per request costs wrk CPU that the server then lacks: one plain GET is sent as
# wrk's own pre-built request instead.
_REQUEST = """
request = function()
  counter = counter + 1
  local op = slots[math.random(#slots)]
  local n = run_id .. "_" .. tostring(tid or 0) .. "_" .. tostring(counter)
  local k = tostring(math.random(0, 7))
  local path = string.gsub(string.gsub(op.path, "{n}", n), "{k}", k)
  local body = op.body
  if body ~= nil then body = string.gsub(string.gsub(body, "{n}", n), "{k}", k) end
  return wrk.format(op.method, path, op.headers, body)
end
"""

# Counting statuses costs wrk a Lua call per response: only when some op is not a plain GET.
_COUNT_STATUSES = """
statuses = {}
response = function(status, headers, body)
  if status >= 400 then statuses[status] = (statuses[status] or 0) + 1 end
end
"""


def run_wrk(
    url: str, ops: list[Op], *, connections: int, seconds: float, threads: int = 1
) -> Measurement:
    """Run wrk against `url` (scheme://host:port) with the weighted `ops`."""
    count = any(op.method != "GET" or "?" in op.path for op in ops)
    plain = len(ops) == 1 and ops[0].method == "GET" and not ops[0].headers
    plain = plain and "{" not in ops[0].path
    request = f"wrk.path = {_lua_string(ops[0].path)}" if plain else _REQUEST
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            _LUA
            % {
                "ops": _lua_ops(ops),
                "request": request,
                "response": _COUNT_STATUSES if count else "",
                "histogram": DONE_LUA,
            }
        )
    try:
        proc = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(script.name).unlink(missing_ok=True)
    match = re.search(r"WRK_RESULT (\{.*\})", proc.stdout)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{proc.stdout}\n{proc.stderr}")
    r = json.loads(match.group(1))
    detail = {k: int(r[k]) for k in ("connect", "read", "write", "timeout") if r[k]}
    codes = re.findall(r"WRK_STATUS (\d+) (\d+)", proc.stdout)
    if codes:
        detail |= {f"status {code}": int(n) for code, n in codes}
    elif r["status"]:
        detail["status >= 400"] = int(r["status"])
    # wrk's own percentiles (r["p50"] ...) include the samples its coordinated-omission
    # correction invents (bench/wrk_latency.py); these are the answers' own latencies.
    corrected, _ = parse_histogram(proc.stdout)
    real = uncorrected(
        corrected,
        duration_us=int(r["duration_us"]),
        requests=int(r["requests"]),
        connections=connections,
    )
    return Measurement(
        requests=int(r["requests"]),
        seconds=r["duration_us"] / 1e6,
        errors=sum(detail.values()),
        p50_ms=percentile_us(real, 50) / 1000,
        p95_ms=percentile_us(real, 95) / 1000,
        p99_ms=percentile_us(real, 99) / 1000,
        max_ms=max(real, default=0) / 1000,
        client=f"wrk -t{threads}",
        error_detail=detail,
        mean_ms=mean_us(real) / 1000,
        wrk_p99_ms=r["p99"] / 1000,
    )


# ------------------------------------------------------------------------------ python client


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


def _encode(op: Op, host: str, n: str, k: str) -> bytes:
    body = op.body.replace("{n}", n).replace("{k}", k).encode() if op.body is not None else b""
    headers = {"Host": host, **op.headers}
    if op.body is not None:
        headers["Content-Length"] = str(len(body))
    lines = [f"{op.method} {op.path.replace('{n}', n).replace('{k}', k)} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _python_load(
    url: str, ops: list[Op], connections: int, seconds: float
) -> tuple[list[float], dict[str, int], float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    slots = [op for op in ops for _ in range(op.weight)]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    start = time.perf_counter()
    deadline = start + seconds

    run_id = random.randrange(10**8)  # writes of the warm-up and the run never collide

    async def connection(cid: int) -> None:
        rng = random.Random(cid)
        reader, writer = await asyncio.open_connection(host, port)
        counter = 0
        try:
            while time.perf_counter() < deadline:
                counter += 1
                op = rng.choice(slots)
                request = _encode(
                    op, parts.netloc, f"{run_id}_{cid}_{counter}", str(rng.randrange(8))
                )
                t0 = time.perf_counter()
                try:
                    writer.write(request)
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                latencies.append(time.perf_counter() - t0)
                if status >= 400:
                    errors[f"status {status}"] = errors.get(f"status {status}", 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection(i) for i in range(connections)))
    return latencies, errors, time.perf_counter() - start


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def run_python(url: str, ops: list[Op], *, connections: int, seconds: float) -> Measurement:
    """The asyncio client (uvloop when installed). It shares the CPU with the server, so its
    figures are a floor, not the server's capacity."""
    try:
        import uvloop

        latencies, errors, elapsed = uvloop.run(_python_load(url, ops, connections, seconds))
    except ImportError:
        latencies, errors, elapsed = asyncio.run(_python_load(url, ops, connections, seconds))
    latencies.sort()
    return Measurement(
        requests=len(latencies),
        seconds=elapsed,
        errors=sum(errors.values()),
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p95_ms=_percentile(latencies, 0.95) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] if latencies else 0.0) * 1000,
        client="python asyncio",
        error_detail=errors,
        mean_ms=sum(latencies) / len(latencies) * 1000 if latencies else 0.0,
    )


# ------------------------------------------------------------------------------ per kind


class KindSampler:
    """Each kind's own latency under the load another client makes: beside it, one
    connection per kind sends that kind's request, waits for the answer, pauses `pause_s`,
    and so on (a thread with its own event loop). wrk reports one latency distribution for
    the whole mix; this says which kind forms its tail. A few requests a second per kind:
    it hardly adds to the load it measures.

        with KindSampler(url, ops) as sampler:
            run_wrk(...)
        sampler.latencies  # {kind: [seconds, ...]}
    """

    def __init__(self, url: str, ops: list[Op], pause_s: float = 0.05) -> None:
        self.url = url
        self.ops: dict[str, list[Op]] = {}  # each kind's ops, drawn at random
        for op in ops:
            self.ops.setdefault(op.kind, []).append(op)
        self.pause_s = pause_s
        self.latencies: dict[str, list[float]] = {kind: [] for kind in self.ops}
        self.errors: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> KindSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    async def _run(self) -> None:
        await asyncio.gather(*(self._kind(kind, op) for kind, op in self.ops.items()))

    async def _kind(self, kind: str, ops: list[Op]) -> None:
        parts = urlsplit(self.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        rng = random.Random(kind)
        count = 0
        try:
            while not self._stop.is_set():
                count += 1
                op = ops[0] if len(ops) == 1 else rng.choice(ops)
                request = _encode(op, parts.netloc, f"s{rng.randrange(10**8)}_{count}", "0")
                t0 = time.perf_counter()
                writer.write(request)
                status = await _read_response(reader)
                self.latencies[kind].append(time.perf_counter() - t0)
                if status >= 400:
                    self.errors[f"{kind} {status}"] = self.errors.get(f"{kind} {status}", 0) + 1
                await asyncio.sleep(self.pause_s)
        finally:
            writer.close()

    def summary(self) -> str:
        """`kind n p50/p99/max ms` per kind, on one line."""
        parts = []
        for kind, values in self.latencies.items():
            ordered = sorted(values)
            if not ordered:
                continue
            p50, p99 = (_percentile(ordered, q) * 1000 for q in (0.50, 0.99))
            parts.append(f"{kind} {len(ordered)}: {p50:.1f}/{p99:.1f}/{ordered[-1] * 1000:.1f}")
        errors = f"  errors: {self.errors}" if self.errors else ""
        return "; ".join(parts) + errors
