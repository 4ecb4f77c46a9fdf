"""SASRec on ML-100K: seconds per training epoch, evaluation time (sampled and full) and the
test NDCG@10 reached, on CPU with a fixed number of torch threads.

    MMREC_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/bench_sequential.py \\
        --epochs 20 --threads 2

Prints a Markdown table to paste under "Paper B sequential models" in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from mmrec_lib.data import load_dataset
from mmrec_lib.data.splits import leave_one_out
from mmrec_lib.sequential_experiment import run_model
from mmrec_lib.training import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--d", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    split = leave_one_out(load_dataset(args.dataset).interactions, n_negatives=100, seed=0)
    split_seconds = time.perf_counter() - started
    config = TrainConfig(
        epochs=args.epochs, lr=args.lr, patience=args.epochs, device="cpu", progress=False
    )
    result = run_model(
        "sasrec", split, config, max_len=args.max_len, d=args.d, batch_size=args.batch_size
    )
    history = result.history
    # an epoch's seconds include its validation pass (sampled, 943 users)
    rows = [
        ("load + leave_one_out split", split_seconds),
        ("training epoch (median, incl. validation)", float(np.median(history["seconds"]))),
        ("test evaluation, sampled 1 + 100", result.seconds["eval_sampled"]),
        ("test evaluation, full ranking", result.seconds["eval_full"]),
    ]
    print(
        f"{args.dataset}: {split.n_users} users, {split.n_items} items; SASRec d={args.d}, "
        f"max_len={args.max_len}, batch {args.batch_size}, lr {args.lr}, {args.epochs} epochs, "
        f"{args.threads} torch threads; {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}\n"
    )
    print("| task | seconds |\n|---|---:|")
    for task, seconds in rows:
        print(f"| {task} | {seconds:.3f} |")
    sampled, full = result.mean("sampled"), result.mean("full")
    print(
        f"\nbest epoch {int(history['NDCG@10'].idxmax()) + 1} of {len(history)}; "
        f"test NDCG@10 sampled {sampled['NDCG@10']:.4f}, full {full['NDCG@10']:.4f}; "
        f"HR@10 sampled {sampled['HR@10']:.4f}, full {full['HR@10']:.4f}"
    )


if __name__ == "__main__":
    main()
