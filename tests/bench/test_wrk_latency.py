"""bench/wrk_latency.py: wrk's coordinated-omission samples taken back out of its histogram,
by a model of wrk 4.x's `stats_correct` and against the installed wrk itself."""

from __future__ import annotations

import asyncio
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from drivers import Op, run_wrk  # noqa: E402
from wrk_latency import (  # noqa: E402
    parse_histogram,
    percentile_us,
    uncorrected,
    wrk_interval_us,
)


def wrk_correct(histogram: dict[int, int], interval: int) -> dict[int, int]:
    """wrk 4.1.0's src/stats.c `stats_correct`, transcribed: upward from 2 x interval, each
    bucket's count is added at value - interval, value - 2 x interval, ... while above the
    interval."""
    data = dict(histogram)
    top = max(data, default=0)
    for n in range(interval * 2, top + 1):
        count = data.get(n, 0)
        m = n - interval
        while count and m > interval:
            data[m] = data.get(m, 0) + count
            m -= interval
    return data


@given(
    st.dictionaries(st.integers(1, 3000), st.integers(1, 50), min_size=1, max_size=60),
    st.integers(1, 400),
)
def test_the_correction_is_undone_exactly(real: dict[int, int], interval: int) -> None:
    corrected = wrk_correct(real, interval)
    requests, connections = 1000, 10
    duration_us = interval * (requests // connections)
    assert wrk_interval_us(duration_us, requests, connections) == interval
    back = uncorrected(
        corrected, duration_us=duration_us, requests=requests, connections=connections
    )
    assert back == real


def test_one_stall_per_connection_swamps_the_corrected_tail() -> None:
    # 8 connections, each a first answer of 500 ms, then 992 answers of 1 ms: in 1.492 s.
    real = {500_000: 8, 1_000: 8 * 992}
    duration_us, requests, connections = 1_492_000, 8 * 993, 8
    interval = wrk_interval_us(duration_us, requests, connections)
    assert interval == 1_502
    corrected = wrk_correct(real, interval)
    assert percentile_us(corrected, 95) > 100_000  # what wrk reports
    back = uncorrected(
        corrected, duration_us=duration_us, requests=requests, connections=connections
    )
    assert back == real
    assert (percentile_us(back, 95), percentile_us(back, 99)) == (1_000, 1_000)
    assert percentile_us(back, 99.95) == 500_000


def test_a_histogram_that_does_not_add_up_is_refused() -> None:
    assert parse_histogram("x\nWRK_HISTOGRAM 3 10:1 12:2\n") == ({10: 1, 12: 2}, 3)
    with pytest.raises(ValueError, match="2 of 3 samples"):
        parse_histogram("WRK_HISTOGRAM 3 10:1 12:1\n")
    with pytest.raises(ValueError, match="no latency histogram"):
        parse_histogram("Requests/sec: 10\n")


STALL_S = 0.3


@pytest.fixture
def stalling_server() -> Iterator[str]:
    """An HTTP/1.1 keep-alive server whose every connection's first answer waits STALL_S."""
    loop = asyncio.new_event_loop()
    listening = threading.Event()
    address: list[str] = []
    stop = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = True
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                if first:
                    first = False
                    await asyncio.sleep(STALL_S)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        host, port = server.sockets[0].getsockname()[:2]
        address.append(f"http://{host}:{port}")
        listening.set()
        async with server:
            await stop.wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    assert listening.wait(60)
    try:
        yield address[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        loop.close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_the_installed_wrk_reports_every_answer_once(stalling_server: str) -> None:
    connections = 4
    m = run_wrk(stalling_server, [Op("get", "GET", "/", 1)], connections=connections, seconds=1)
    # The histogram read back holds every answer once, and no invented one: its samples are
    # the answers (none timed out), and the stalls are at least the connections' first ones.
    assert m.errors == 0
    assert m.requests > connections
    assert m.max_ms >= STALL_S * 1000
    assert m.wrk_p99_ms is not None
    assert m.mean_ms * m.requests <= m.seconds * 1000 * connections
