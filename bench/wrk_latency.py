"""wrk's latency histogram as measured, without the samples wrk adds to it.

wrk 4.x (`src/wrk.c`, after the run) calls `stats_correct(latency, interval)` with
`interval = runtime_us / (requests / connections)`, a connection's mean time per request.
For every recorded latency n >= 2 x interval it adds samples at n - interval, n - 2 x
interval, ... down to just above the interval: the requests a constant-rate client "would
have sent" while that one waited (a coordinated-omission correction). This bench's clients
are closed loops (each connection sends its next request when the last is answered), so
those requests never existed. One stall is enough to swamp a short run: 8 connections whose
first answer took 0.5 s, then ~22,000 answers a second, got ~26,000 invented samples beside
44,000 real ones, and a mean of 40 ms where the real one is 0.3 ms. That is how session 16
saw select p95 ~625 ms at p50 0.9 ms, which Little's law rules out.

wrk hands a script's `done()` the corrected histogram. Undoing it is exact: the correction
reads each bucket before any larger bucket adds to it, and adds only to smaller ones, so
going down from the largest latency, a bucket's own count is what it holds less what the
larger buckets of its residue class (mod interval) added.
"""

from __future__ import annotations

import math
import re

# wrk's done() prints the corrected histogram's non-empty buckets (microseconds: count) on one
# line, and the number of samples it holds. With LuaJIT's FFI it reads wrk's `stats` struct
# (src/stats.h: count, limit, min, max, data[]) in one pass; without FFI, through the stats
# object's call (latency(i) = i-th non-empty bucket), which rescans from the minimum each call.
DONE_LUA = r"""
local function histogram(latency)
  local buckets = {}
  local ok, ffi = pcall(require, "ffi")
  if ok then
    pcall(ffi.cdef, "typedef struct { uint64_t count, limit, min, max, data[1]; } wrk_stats;")
    local s = ffi.cast("wrk_stats **", latency)[0]
    if tonumber(s.min) == latency.min and tonumber(s.max) == latency.max then
      for v = latency.min, latency.max do
        local n = tonumber(s.data[v])
        if n > 0 then buckets[#buckets + 1] = v .. ":" .. n end
      end
      return table.concat(buckets, " "), tonumber(s.count)
    end
  end
  local total = 0
  for i = 1, #latency do
    local v, n = latency(i)
    buckets[#buckets + 1] = string.format("%d:%d", v, n)
    total = total + n
  end
  return table.concat(buckets, " "), total
end
"""

_HISTOGRAM = re.compile(r"^WRK_HISTOGRAM (\d+) ?(.*)$", re.MULTILINE)


def parse_histogram(stdout: str) -> tuple[dict[int, int], int]:
    """The `WRK_HISTOGRAM <samples> <us>:<count> ...` line: the buckets and the sample count
    wrk kept beside them; ValueError if the line is missing or does not add up."""
    match = _HISTOGRAM.search(stdout)
    if match is None:
        raise ValueError("wrk printed no latency histogram")
    buckets: dict[int, int] = {}
    for part in match.group(2).split():
        value, _, count = part.partition(":")
        buckets[int(value)] = buckets.get(int(value), 0) + int(count)
    samples = int(match.group(1))
    if sum(buckets.values()) != samples:
        raise ValueError(f"wrk's histogram holds {sum(buckets.values())} of {samples} samples")
    return buckets, samples


def wrk_interval_us(duration_us: int, requests: int, connections: int) -> int | None:
    """The interval wrk corrected with (integer arithmetic, as in wrk.c); None: no correction."""
    per_connection = requests // connections
    if per_connection <= 0:
        return None
    return duration_us // per_connection


def uncorrected(
    corrected: dict[int, int], *, duration_us: int, requests: int, connections: int
) -> dict[int, int]:
    """The histogram wrk recorded before `stats_correct` added to it (see the module's doc)."""
    interval = wrk_interval_us(duration_us, requests, connections)
    if interval is None or interval <= 0:
        return dict(corrected)
    added: dict[int, int] = {}  # residue mod interval -> real samples above, in that class
    real: dict[int, int] = {}
    for value in sorted(corrected, reverse=True):
        count = corrected[value]
        if value > interval:
            residue = value % interval
            count -= added.get(residue, 0)
            if count < 0:
                raise ValueError(f"not a histogram wrk corrected with interval {interval} us")
            added[residue] = added.get(residue, 0) + count
        if count:
            real[value] = count
    return real


def percentile_us(histogram: dict[int, int], p: float) -> int:
    """wrk's own percentile rule (stats.c): the smallest value whose cumulative count reaches
    round(p / 100 x samples + 0.5)."""
    total = sum(histogram.values())
    if total == 0:
        return 0
    rank = math.floor(p / 100 * total + 0.5 + 0.5)  # C's round() of a positive number
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


def mean_us(histogram: dict[int, int]) -> float:
    total = sum(histogram.values())
    return sum(v * n for v, n in histogram.items()) / total if total else 0.0
