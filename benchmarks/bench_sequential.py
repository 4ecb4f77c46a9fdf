"""Paper B's sequential models on ML-100K, trained to convergence: seconds per epoch,
evaluation time under both protocols and the test NDCG@10 reached, per model and seed.

    MMREC_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/bench_sequential.py \\
        --models sasrec sasrec+ --seeds 0 1 2 --epochs 200 --patience 20 --write-readme

SASRec+ / BERT4Rec+ read the fused text + image + tabular (XGBoost) item features, built
once (and cached) before the clock starts. Every model is early-stopped on validation
NDCG@10 (sampled) and tested on the leave-one-out split's stored 100 negatives ("sampled")
and on every unseen item ("full").
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
import pandas as pd
import torch
from readme import markdown_table, write_section

from mmrec_lib.data import load_dataset
from mmrec_lib.data.splits import leave_one_out
from mmrec_lib.sequential_experiment import (
    AUXILIARY_INPUT,
    MODEL_LABELS,
    auxiliary_features,
    genre_multi_hot,
    run_model,
)
from mmrec_lib.training import TrainConfig

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
    dataset = load_dataset(args.dataset)
    started = time.perf_counter()
    split = leave_one_out(dataset.interactions, n_negatives=100, seed=0)
    split_seconds = time.perf_counter() - started
    inputs = {
        "fused": lambda: auxiliary_features(dataset, split),
        "keywords": lambda: genre_multi_hot(dataset, split),
    }
    needed = {AUXILIARY_INPUT[name] for name in args.models if name in AUXILIARY_INPUT}
    side = {kind: inputs[kind]() for kind in sorted(needed)}
    rows = []
    for name in args.models:
        kind = AUXILIARY_INPUT.get(name)
        extra = {"fused": "aux_features", "keywords": "keywords"}.get(kind)
        for seed in args.seeds:
            config = TrainConfig(
                epochs=args.epochs,
                lr=args.lr,
                patience=args.patience,
                seed=seed,
                device=args.device,
                progress=False,
            )
            result = run_model(
                name,
                split,
                config,
                max_len=args.max_len,
                d=args.d,
                **({extra: side[kind]} if extra else {}),
            )
            rows.append(_row(name, seed, result))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index(["model", "seed"])
    means = table.groupby(level="model", sort=False).mean()
    text = markdown_table(table.reset_index(), index=False)
    summary = markdown_table(means.drop(columns=["epochs run", "best epoch"]))
    print(text, "\n\nmeans over seeds\n", summary, sep="")
    if args.write_readme:
        write_section(SECTION, _description(args, split, split_seconds, text, summary))


def _row(name: str, seed: int, result) -> dict:
    history = result.history
    sampled, full = result.mean("sampled"), result.mean("full")
    return {
        "model": MODEL_LABELS[name],
        "seed": seed,
        "epochs run": 0 if history is None else len(history),
        "best epoch": 0 if history is None else int(history["NDCG@10"].idxmax()) + 1,
        "s / epoch": np.nan if history is None else float(np.median(history["seconds"])),
        "eval s (sampled)": result.seconds["eval_sampled"],
        "eval s (full)": result.seconds["eval_full"],
        "HR@10": sampled["HR@10"],
        "NDCG@10": sampled["NDCG@10"],
        "NDCG@10 (full)": full["NDCG@10"],
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
