"""Ours beside every reference implementation, in one table: RecBole's SASRec and BERT4Rec,
Surprise's SVD and SVD++ and Cornac's MF, each trained on the split ours trains on.

Run with .venv's Python from the repository root (or ``make references``). The sequential
rows are ``reference_sequential.py``'s, run in .venv-reference (RecBole needs numpy 1); the
rating rows are ``reference_rating.py``'s workers on the 72/8/20 split it exports: ours in
.venv, the references in .venv-reference-rating. Every row is measured in a fresh process;
each script's section of benchmarks/README.md says what its rows do. The full comparison
(about an hour on 2 idle CPU cores, several hours while other jobs share them):

    MMREC_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/references.py --write-readme
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import reference_rating
from readme import write_section

SECTION = "All references, one table (`references.py`)"
ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = {
    ".venv-reference": "python3 -m venv .venv-reference && "
    ".venv-reference/bin/pip install torch==2.14.1 && "
    ".venv-reference/bin/pip install -r benchmarks/requirements-reference.txt && "
    ".venv-reference/bin/pip install -e . --no-deps",
    ".venv-reference-rating": reference_rating.INSTALL,
}
"""Each reference environment and the commands that create it (from the repository root)."""
RATING_SETTINGS = ("defaults", "tuned")
COLUMNS = (
    "task",
    "model",
    "library",
    "setting",
    "NDCG@10 sampled",
    "NDCG@10 full",
    "test RMSE",
    "s / epoch",
    "s to best validation",
    "train s",
    "peak RSS (MiB)",
)


def missing_environments(root: Path = ROOT) -> list[str]:
    """``name: commands`` of every reference environment that has no Python under root."""
    return [
        f"{name}: {commands}"
        for name, commands in ENVIRONMENTS.items()
        if not (root / name / "bin" / "python").exists()
    ]


def run_sequential_references(args: argparse.Namespace, output: Path) -> list[dict]:
    """reference_sequential.py's rows, run in .venv-reference."""
    command = [str(ROOT / ".venv-reference" / "bin" / "python")]
    command += [str(ROOT / "benchmarks" / "reference_sequential.py"), "--json", str(output)]
    command += ["--epochs", str(args.epochs), "--long-epochs", str(args.long_epochs)]
    command += ["--threads", str(args.threads), "--device", args.device]
    command += ["--write-readme"] if args.write_readme else []
    if subprocess.run(command).returncode:
        sys.exit(f"{' '.join(command)} failed")
    return json.loads(output.read_text())["rows"]


def run_rating_references(args: argparse.Namespace, folder: Path) -> list[dict]:
    """reference_rating.py's rows: ours (its defaults, ``args.rating_epochs`` at most) and
    each reference in every setting of ``args.rating_settings``, one thread each."""
    options = argparse.Namespace(  # reference_rating.py's defaults
        dataset="ml-100k",
        seed=0,
        mf_hyper={"dim": 64, "reg": 0.1, "init_std": 0.01},
        lr=0.003,
        batch_size=256,
        epochs=args.rating_epochs,
        patience=3,
    )
    reference_rating.export_split(options, folder)
    rows = [reference_rating.run_worker(sys.executable, "mmrec-mf", "tuned", folder, 1)]
    python = reference_rating.REFERENCE_PYTHON
    for name in list(reference_rating.MODELS)[1:]:
        for setting in args.rating_settings:
            rows.append(reference_rating.run_worker(python, name, setting, folder, 1))
    return rows


def combined_table(sequential: list[dict], rating: list[dict]) -> pd.DataFrame:
    """One row per model and setting, sequential rows (as reference_sequential.py's JSON
    has them) first, then rating rows (as reference_rating.py's workers return them);
    NaN where a column does not apply."""
    rows = [
        {
            "task": "sequential",
            "model": row["model"],
            "library": row["library"],
            "setting": f"{row['loss']}, {row['epochs']} epochs",
            "NDCG@10 sampled": row["NDCG@10 sampled"],
            "NDCG@10 full": row["NDCG@10 full"],
            "s / epoch": row["s / epoch"],
            "s to best validation": row["s to best"],
            "train s": row["train s"],
            "peak RSS (MiB)": row["peak RSS (MiB)"],
        }
        for row in sequential
    ]
    rows += [
        {
            "task": "rating",
            "model": row["model"],
            "library": row["library"],
            "setting": row["setting"],
            "test RMSE": row["test_rmse"],
            "s / epoch": row.get("s_per_epoch"),  # ours only: the references fit in one call
            "s to best validation": row.get("s_to_best", row["selection_s"]),
            "train s": (row["selection_s"] or 0.0) + row["fit_s"],
            "peak RSS (MiB)": row["peak_rss"],
        }
        for row in rating
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def markdown(table: pd.DataFrame) -> str:
    """Metrics with 4 decimals, seconds with 2, MiB with none; "-" where NaN."""
    formats = [".4f" if "@" in c or "RMSE" in c else ".0f" if "MiB" in c else ".2f" for c in table]
    cells = table.astype(object).where(table.notna(), None)  # tabulate's missing value is None
    return cells.to_markdown(index=False, floatfmt=formats, missingval="-")


def machine() -> str:
    """Processor, cores, memory and operating system of this machine."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{memory:.0f} GiB RAM, {platform.system()} {platform.release()}"
    )


def description(args: argparse.Namespace, minutes: float, loads: list[float]) -> str:
    """How the table was measured: command, machine, date, and what its columns mean."""
    command = " ".join(["python", "benchmarks/references.py", *sys.argv[1:]])
    return (
        f"`{command}` on {machine()}, device {args.device} for the sequential models, "
        f"{time.strftime('%Y-%m-%d')}, {minutes:.0f} minutes in all; load average (1 min) "
        f"{min(loads):.1f} to {max(loads):.1f}, so the seconds are indicative.\n\n"
        "Sequential rows: `reference_sequential.py` (ML-100K leave-one-out with the stored 100 "
        f"negatives; a fixed budget of {args.epochs} epochs"
        + (f", ours also {args.long_epochs}" if args.long_epochs else "")
        + f", the best validation epoch kept; {args.threads} torch thread(s)), whose section "
        "says what each library does. Rating rows: `reference_rating.py`'s workers on its "
        "random 80/20 split with a tenth of the 80 % as validation (one thread each): our MF "
        f"with that script's settings and early stopping within {args.rating_epochs} epochs, "
        f"then refitted; each reference in the settings {', '.join(args.rating_settings)} "
        "(defaults: its library's; tuned: the best point of that script's grid on validation, "
        "refitted).\n\n"
        "Quality: the test item's NDCG@10 among the 100 stored negatives (sampled) and among "
        "all unseen items (full); rating: RMSE on the 20 % test rows. s / epoch: the median "
        "epoch, validation pass included (rating: ours only, the references fit in one call). "
        "s to best validation: ours, the epochs up to the end of the best validation epoch; "
        "the rating references, the validation search that chose their setting (the grid). "
        "train s: all training, that search included (ours: the whole early-stopping run). "
        "Peak RSS: the row's own process's peak resident set (Linux VmHWM) during training."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="sequential budget, every model")
    parser.add_argument("--long-epochs", type=int, default=80, help="ours again (0: skip)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, sequential")
    parser.add_argument("--device", default="cpu", help="sequential: cpu, cuda or auto")
    parser.add_argument("--rating-epochs", type=int, default=40, help="our MF's budget")
    parser.add_argument(
        "--rating-settings", nargs="+", default=list(RATING_SETTINGS), choices=RATING_SETTINGS
    )
    parser.add_argument("--write-readme", action="store_true", help="record every section")
    args = parser.parse_args()

    missing = missing_environments()
    if missing:
        sys.exit(
            "Missing reference environment(s); create them from the repository root:\n"
            + "\n".join(missing)
        )
    started, loads = time.perf_counter(), [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as folder:
        sequential = run_sequential_references(args, Path(folder) / "sequential.json")
        loads.append(os.getloadavg()[0])
        rating = run_rating_references(args, Path(folder))
        loads.append(os.getloadavg()[0])
    minutes = (time.perf_counter() - started) / 60
    body = f"{description(args, minutes, loads)}\n\n{markdown(combined_table(sequential, rating))}"
    print(body)
    if args.write_readme:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
