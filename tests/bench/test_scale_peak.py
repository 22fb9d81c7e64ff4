"""bench/scale.py's peak resident memory per phase: /proc/<pid>/status read, and the kernel's
high-water mark set back between phases, on a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from scale import peak_rss, reset_peak, status_kb  # noqa: E402

STATUS = """Name:\tpython
VmPeak:\t 5169236 kB
VmHWM:\t 4949120 kB
VmRSS:\t 2319360 kB
RssAnon:\t 2187264 kB
"""


def test_status_fields_are_read_in_kb_and_a_missing_one_is_zero() -> None:
    assert status_kb(STATUS, ("VmHWM", "VmRSS", "RssShmem")) == {
        "VmHWM": 4_949_120,
        "VmRSS": 2_319_360,
        "RssShmem": 0,
    }


def _mib(text: str) -> float:
    return float(text.split()[0].replace(",", ""))


def test_the_peak_holds_memory_already_freed_until_it_is_reset() -> None:
    # 96 MiB touched, then freed: the process's RSS falls back, its peak does not.
    code = "b = b'x' * (96 << 20); del b; print('ready', flush=True); input()"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n"
            before = _mib(peak_rss(proc.pid))
            assert before >= 96
            if reset_peak(proc.pid):  # a kernel that refuses leaves the peak since the start
                assert _mib(peak_rss(proc.pid)) < before - 64
        finally:
            proc.kill()
