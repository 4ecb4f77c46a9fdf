"""Paper B's sequential models on ML-100K, trained to convergence: seconds per epoch,
evaluation time under both protocols and the test NDCG@10 reached, per model and seed.

    MMREC_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/bench_sequential.py \\
        --models sasrec sasrec+ --seeds 0 1 2 --epochs 200 --patience 20 --write-readme

SASRec+ / BERT4Rec+ read the fused text + image + tabular (XGBoost) item features, built
once (and cached) before the clock starts. Every model is early-stopped on validation
NDCG@10 (sampled) and tested on the leave-one-out split's stored 100 negatives ("sampled")
and on every unseen item ("full").

Each (model, seed) is a run config (:func:`mmrec_lib.experiments.sequential.sequential_config`)
trained and tested by :func:`~mmrec_lib.experiments.sequential.run_sequential`, always
from scratch (the run store is neither read nor written). A quick check of the script:

    MMREC_CACHE_DIR=$(mktemp -d) .venv/bin/python benchmarks/bench_sequential.py \\
        --dataset synthetic --models sasrec poprec --epochs 2
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
import pandas as pd
import torch
from fresh import fresh_checkpoints
from readme import markdown_table, write_section

from mmrec_lib.data import dataset_spec, load_dataset_spec
from mmrec_lib.experiments.sequential import (
    dataset_and_split,
    item_input,
    run_sequential,
    sequential_config,
)
from mmrec_lib.features.sequence_items import MODALITIES
from mmrec_lib.models.sequential import MODEL_LABELS

SECTION = "Paper B sequential models (`bench_sequential.py`)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--models", nargs="+", default=["sasrec"], choices=list(MODEL_LABELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--d", type=int, default=50)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    configs = [
        sequential_config(
            name,
            dataset=dataset_spec(args.dataset),
            modalities=MODALITIES,  # the "+" models fuse all three; the others read none
            seed=seed,
            split_seed=0,
            n_negatives=100,
            max_len=args.max_len,
            d=args.d,
            train={
                "epochs": args.epochs,
                "lr": args.lr,
                "patience": args.patience,
                "device": args.device,
            },
        )
        for name in args.models
        for seed in args.seeds
    ]
    load_dataset_spec(configs[0]["dataset"])
    started = time.perf_counter()
    _, split = dataset_and_split(configs[0])  # the same split for every config
    split_seconds = time.perf_counter() - started
    for config in configs:
        item_input(config)  # fused features / keywords, built (and cached) before the clock
    rows = []
    for config in configs:
        fresh_checkpoints(config)
        record = run_sequential(config)
        rows.append(_row(config, record))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index(["model", "seed"])
    means = table.groupby(level="model", sort=False).mean()
    text = markdown_table(table.reset_index(), index=False)
    summary = markdown_table(means.drop(columns=["epochs run", "best epoch"]))
    print(text, "\n\nmeans over seeds\n", summary, sep="")
    if args.write_readme:
        write_section(SECTION, _description(args, split, split_seconds, text, summary))


def _row(config: dict, record) -> dict:
    """A table row from a run's record (PopRec, a counter, trains no epochs)."""
    metrics = record.metrics
    seconds = record.arrays.get("history/seconds")
    return {
        "model": MODEL_LABELS[config["model"]],
        "seed": config["train"]["seed"],
        "epochs run": int(metrics.get("epochs", 0)),
        "best epoch": int(metrics.get("best_epoch", 0)),
        "s / epoch": np.nan if seconds is None else float(np.median(seconds)),
        "eval s (sampled)": metrics["seconds_eval_sampled"],
        "eval s (full)": metrics["seconds_eval_full"],
        "HR@10": metrics["sampled/HR@10"],
        "NDCG@10": metrics["sampled/NDCG@10"],
        "NDCG@10 (full)": metrics["full/NDCG@10"],
    }


def _description(args, split, split_seconds: float, table: str, summary: str) -> str:
    command = " ".join(["python", "benchmarks/bench_sequential.py", *sys.argv[1:]])
    return (
        f"`{command}` on {platform.processor() or platform.machine()}, {args.threads} torch "
        f"thread(s), device {args.device}, torch {torch.__version__}, "
        f"{time.strftime('%Y-%m-%d')}. {args.dataset}: {split.n_users} users, "
        f"{split.n_items} items, leave-one-out with 100 stored negatives (split seed 0; "
        f"{split_seconds:.2f} s to build). d {args.d}, max_len {args.max_len}, Adam lr "
        f"{args.lr}, up to {args.epochs} epochs, early stopping on validation NDCG@10 with "
        f"patience {args.patience}; each model's default batch and loss (SASRec: BCE with one "
        "sampled negative per position). Seconds per epoch are the median and include the "
        "validation pass over all users; evaluation seconds are the test pass over all users. "
        "HR@10 and NDCG@10 are sampled (1 + 100 candidates) unless marked full. The machine "
        "may have been shared with other jobs: see its load in the commit that recorded this."
        f"\n\n{table}\n\nMeans over seeds:\n\n{summary}"
    )


if __name__ == "__main__":
    main()
