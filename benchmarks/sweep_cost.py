"""What the recorded converged runs of a profile cost: seconds per run and per epoch, by model.

    .venv/bin/python benchmarks/sweep_cost.py results/ml-100k --write-readme

Reads the records in ``results/<profile>/`` (each carries its seconds, epochs and the machine
that ran it) and prints, per model, the runs recorded, the median seconds per run and per
epoch, and the median epochs; the sum of seconds estimates one sweep's CPU time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from readme import markdown_table, write_section

from mmrec_lib.experiments.store import read_record

SECTION = "Recorded sweeps: cost per run (`sweep_cost.py`)"


def cost_table(folder: Path) -> tuple[pd.DataFrame, set[str]]:
    """(one row per model, the machines the records name)."""
    rows, machines = [], set()
    for path in sorted(folder.glob("*/record.json")):
        record = read_record(path.parent)
        machines.add(record.provenance.get("machine", "unknown"))
        seconds = record.arrays.get("history/seconds")
        rows.append(
            {
                "model": record.config["model"],
                "seconds": record.seconds,
                "epochs": record.metrics.get("epochs", np.nan),
                "s / epoch": float(np.median(seconds)) if seconds is not None else np.nan,
            }
        )
    if not rows:
        raise SystemExit(f"no recorded runs in {folder}")
    frame = pd.DataFrame(rows)
    table = frame.groupby("model", sort=False).agg(
        runs=("seconds", "size"),
        median_s_per_run=("seconds", "median"),
        median_s_per_epoch=("s / epoch", "median"),
        median_epochs=("epochs", "median"),
        total_s=("seconds", "sum"),
    )
    return table, machines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder of recorded results")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    table, machines = cost_table(args.folder)
    text = markdown_table(table)
    print(text)
    if args.write_readme:
        command = " ".join(["python", "benchmarks/sweep_cost.py", *sys.argv[1:]])
        write_section(
            SECTION,
            f"`{command}`, from the records themselves (machine: {', '.join(sorted(machines))}; "
            "each sweep worker single-threaded, two workers sharing the 2 cores, and a CI run "
            "shared them for part of the time, so the seconds are upper bounds).\n\n" + text,
        )


if __name__ == "__main__":
    main()
