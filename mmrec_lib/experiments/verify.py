"""Recompute a few recorded results and check that they come out the same.

``python -m mmrec_lib.experiments.verify results/ml-100k --n 3`` picks three recorded runs at
random (seeded), computes each again from its config in an empty run store, the way a sweep
worker does (one torch thread), and compares every metric and every recorded array: equal
bit for bit on CPU, or the command fails naming what differs. A record made by older library
code is recomputed with the current code, so a difference there says the code changed its
result, not that the run does not reproduce.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

from mmrec_lib.experiments.results import small_copy
from mmrec_lib.experiments.store import RunRecord, read_record

TIMINGS = ("seconds",)
"""Metric names that start with these are timings: reported, never compared."""


def run_function(config: dict):
    """The run function of the config's paper."""
    if config.get("paper") == "A":
        from mmrec_lib.experiments.rating import run_rating

        return run_rating
    from mmrec_lib.experiments.sequential import run_sequential

    return run_sequential


def differences(recorded: RunRecord, again: RunRecord) -> list[str]:
    """What differs between a recorded run and its recomputation (timings aside)."""
    found = []
    for name, value in recorded.metrics.items():
        if not name.startswith(TIMINGS) and again.metrics.get(name) != value:
            found.append(f"metric {name}: recorded {value!r}, now {again.metrics.get(name)!r}")
    for name, values in recorded.arrays.items():
        if name.startswith("history/seconds"):
            continue
        if name not in again.arrays or not np.array_equal(values, again.arrays[name]):
            found.append(f"array {name} differs")
    return found


def verify(folder: Path, n: int = 3, seed: int = 0) -> dict[str, list[str]]:
    """{record folder name: differences} for ``n`` records of ``folder`` chosen with ``seed``."""
    import torch

    from mmrec_lib.experiments.store import compute_and_store

    folders = sorted(path.parent for path in Path(folder).glob("*/record.json"))
    if not folders:
        raise ValueError(f"no recorded results in {folder}")
    chosen = random.Random(seed).sample(folders, min(n, len(folders)))
    torch.set_num_threads(1)
    report = {}
    with tempfile.TemporaryDirectory() as store:
        for path in chosen:
            recorded = read_record(path)
            again = compute_and_store(recorded.config, run_function(recorded.config), store)
            report[path.name] = differences(recorded, small_copy(again))
            verdict = "identical" if not report[path.name] else "DIFFERENT"
            print(f"[verify] {path.name[:12]} {recorded.config.get('model')}: {verdict}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder of recorded results")
    parser.add_argument("--n", type=int, default=3, help="how many records to recompute")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random choice")
    args = parser.parse_args(argv)
    report = verify(args.folder, args.n, args.seed)
    for name, found in report.items():
        for line in found:
            print(f"[verify] {name[:12]}: {line}")
    return 1 if any(report.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
