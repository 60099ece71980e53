"""What every benchmark measures with: percentiles, timings, memory, process age, and the printed figures.

Each ``lovemart bench`` command returns a flat-ish dict of figures (``*_ms``, ``*_s``, ``*_mb``) that includes
a baseline measured in the same run (``baseline_*``), so a ratio can be compared across noisy machines.
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0 < q <= 1) of ``values`` (any order); 0.0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` value)."""
    return (time.perf_counter() - started) * 1000


def median_ms(fn: Callable[[int], object], runs: int) -> float:
    """The median time of ``fn(i)`` for i in ``range(runs)``, in milliseconds, to the microsecond."""
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        fn(i)
        samples.append(elapsed_ms(started))
    return round(statistics.median(samples), 3)


def rss_mb() -> float:
    """This process's resident memory now, in MiB."""
    import psutil

    return float(psutil.Process().memory_info().rss) / (1024 * 1024)


def peak_rss_mb() -> float:
    """High-water mark of this process's resident memory (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def process_age_s() -> float:
    """Seconds since this process started, to about 10 ms.

    From ``/proc`` (the process's start in clock ticks since boot against the uptime), not psutil's
    ``create_time``, which adds the boot time rounded to whole seconds and so can be a second off.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        import psutil

        return time.time() - float(psutil.Process().create_time())


def figure_lines(figures: Mapping[str, Any]) -> list[str]:
    """The figures as the bench commands print them without ``--json``: one ``name: value`` a line."""
    return [f"{name}: {value}" for name, value in figures.items()]
