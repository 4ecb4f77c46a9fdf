"""Resident memory of the current process (Linux), for the benchmarks' peak-memory columns.

Imports nothing from mmrec_lib, so the reference libraries' workers (in venvs of their own)
can use it too."""

from __future__ import annotations

import time
from pathlib import Path


def memory_mib(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MiB; NaN off Linux."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return float("nan")
    line = next(line for line in status.splitlines() if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024  # kB


def reset_peak_memory() -> None:
    """Set VmHWM to the current RSS (Linux >= 4.0); a no-op where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def measured(fit):
    """``fit()``'s result, and its seconds and the process's RSS before and at its peak."""
    before = memory_mib("VmRSS")
    reset_peak_memory()
    started = time.perf_counter()
    result = fit()
    seconds = time.perf_counter() - started
    return result, {"fit_s": seconds, "rss_before": before, "peak_rss": memory_mib("VmHWM")}
