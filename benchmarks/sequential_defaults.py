"""Choosing the defaults of SASRec, SASRec+ and BERT4Rec (loss, dropout, ...) by validation NDCG@10.

Every candidate is a run config on ML-100K (leave-one-out, the stored 100 negatives, split seed
0) with the ``ml-100k`` profile's schedule (Adam lr 0.002, up to 200 epochs, early stopping on
validation sampled NDCG@10 with patience 15, d 50, max_len 50 unless a setting names another),
differing only in the model's hyperparameters. The runs go through
:func:`~mmrec_lib.experiments.sweep.run_many`, so they are stored as they finish (a killed run
of this script resumes) and recorded in ``results/ml-100k`` beside the profile's runs. The
table ranks candidates by their best validation NDCG@10; the test columns are shown only after
the choice is made from validation.

    MMREC_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/sequential_defaults.py \\
        --models sasrec --seeds 0 --threads 1 --write-readme
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from readme import markdown_table, write_section

from mmrec_lib.data import dataset_spec
from mmrec_lib.experiments.grids import PAPER_SETTINGS
from mmrec_lib.experiments.sequential import run_sequential, sequential_config
from mmrec_lib.experiments.sweep import run_many

RESULTS = Path(__file__).resolve().parents[1] / "results" / "ml-100k"
SECTION = "Choosing the sequential defaults on validation (`sequential_defaults.py`)"
CANDIDATES = {
    "sasrec": [
        PAPER_SETTINGS["sasrec"],
        {"loss": "ce", "dropout": 0.2},
        {"loss": "sampled-softmax", "negatives": 128, "dropout": 0.2},
        {"loss": "gbce", "negatives": 128, "gbce_t": 0.75, "dropout": 0.2},
        {"loss": "ce", "dropout": 0.5},
        {"loss": "sampled-softmax", "negatives": 128, "dropout": 0.5},
        {"loss": "sampled-softmax", "negatives": 128, "dropout": 0.5, "max_len": 100},
    ],
    "sasrec+": [
        PAPER_SETTINGS["sasrec+"],
        {"loss": "sampled-softmax", "negatives": 128, "dropout": 0.5},
    ],
    "bert4rec": [
        PAPER_SETTINGS["bert4rec"],
        {"loss": "ce", "dropout": 0.2},
        {"loss": "sampled-softmax", "negatives": 128},
    ],
}
"""Hyperparameters tried per model; the first of each is the paper's (``PAPER_SETTINGS``).
``max_len`` in a setting is the pipeline's history length (50 where absent), not the model's.
SASRec+ tries only SASRec's winner: does the default chosen for SASRec carry over?"""
SCHEDULE = {"epochs": 200, "lr": 0.002, "patience": 15, "device": "auto"}
FUSED = ("text", "image", "tabular")
"""What the "+" models fuse, concatenated: Table 1's setting."""


def candidate_config(model: str, setting: dict, seed: int) -> dict:
    """A candidate's run config; the paper's setting is the profile's run (and record)."""
    hyperparameters = {key: value for key, value in setting.items() if key != "max_len"}
    return sequential_config(
        model,
        dataset=dataset_spec("ml-100k"),
        modalities=FUSED,
        seed=seed,
        max_len=setting.get("max_len", 50),
        d=50,
        train=SCHEDULE,
        hyperparameters=hyperparameters,
    )


def row(model: str, hyperparameters: dict, record) -> dict:
    """Validation and test figures of one candidate run."""
    validation = record.arrays["history/val_NDCG@10"]
    seconds = np.cumsum(record.arrays["history/seconds"])
    best = int(record.metrics["best_epoch"])
    return {
        "model": model,
        "setting": json.dumps(hyperparameters, separators=(", ", ": ")),
        "seed": record.config["train"]["seed"],
        "val NDCG@10": float(validation.max()),
        "best epoch": best,
        "epochs run": int(record.metrics["epochs"]),
        "s / epoch": float(np.median(record.arrays["history/seconds"])),
        "s to best": float(seconds[best - 1]),
        "test NDCG@10": record.metrics["sampled/NDCG@10"],
        "test NDCG@10 (full)": record.metrics["full/NDCG@10"],
    }


def _rows(model: str, settings: list[dict], seeds: list[int], n_workers: int) -> pd.DataFrame:
    """One row per (setting, seed), from the stored or newly computed runs."""
    plan = [(hyper, candidate_config(model, hyper, seed)) for hyper in settings for seed in seeds]
    records = run_many([c for _, c in plan], run_sequential, n_workers=n_workers, results=RESULTS)
    return pd.DataFrame(
        [row(model, hyper, record) for (hyper, _), record in zip(plan, records, strict=True)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(CANDIDATES), choices=CANDIDATES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-workers", type=int, default=1)
    parser.add_argument(
        "--top", type=int, default=1, help="settings (best on the first seed) run on the others"
    )
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    first, others = args.seeds[0], args.seeds[1:]
    rows = []
    for model in args.models:
        screened = _rows(model, CANDIDATES[model], [first], args.n_workers)
        ranked = screened.sort_values("val NDCG@10", ascending=False)["setting"]
        paper, best = CANDIDATES[model][0], [json.loads(s) for s in ranked[: args.top]]
        confirmed = [paper, *(h for h in best if h != paper)]
        rows += [screened] + ([_rows(model, confirmed, others, args.n_workers)] if others else [])
    table = pd.concat(rows)
    grouped = table.groupby(["model", "setting"], sort=False)
    means = grouped.mean(numeric_only=True).drop(columns="seed")
    means.insert(0, "seeds", grouped["seed"].count())
    means = means.sort_values(["model", "seeds", "val NDCG@10"], ascending=False)
    text = markdown_table(means.reset_index(), index=False)
    print(text)
    if args.write_readme:
        write_section(SECTION, _description(args, text))


def _description(args: argparse.Namespace, text: str) -> str:
    command = " ".join(["python", "benchmarks/sequential_defaults.py", *sys.argv[1:]])
    return (
        f"`{command}` on {platform.processor() or platform.machine()}, {args.threads} torch "
        f"thread(s) per run, {time.strftime('%Y-%m-%d')}. Every setting is screened with "
        f"training seed {args.seeds[0]}; the paper's setting and the {args.top} best on "
        f"validation are run again with seeds {args.seeds[1:]}; means over the seeds run "
        "(column seeds). ML-100K, leave-one-out with the stored 100 negatives (split seed 0), "
        f"d 50, max_len 50 unless the setting names one, {SCHEDULE}. Sorted by the best "
        "validation NDCG@10 (sampled), which chooses the default; the test columns are "
        "reported, never used to choose. Seconds include each epoch's validation pass; the "
        f"machine may have been shared with other jobs, so they are indicative.\n\n{text}"
    )


if __name__ == "__main__":
    main()
