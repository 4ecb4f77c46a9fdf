"""Seconds per epoch, peak memory and test RMSE of paper A's rating models (NN, MF, MF_NN, TSEM).

Each model trains in a fresh process; its peak resident memory during training is read from
Linux's ``VmHWM`` after resetting it just before training (``/proc/self/clear_refs``; torch
allocates outside Python, so tracemalloc would miss it, and ``getrusage``'s ``ru_maxrss``
is inherited from the parent). Text and poster features are encoded once, in the parent,
and read from the feature cache.

    MMREC_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/bench_rating.py \\
        --dataset ml-100k --epochs 20 --refit --write-readme \\
        --hyper '{"mf": {"dim": 64, "reg": 0.1, "init_std": 0.01, "lr": 0.003, "batch_size": 256}}'

(MF's settings there are the best of the rating chapter's grid on validation.)
The split is the experiments' 72/8/20 (:func:`mmrec_lib.experiments.rating.rating_split`:
80/20, a tenth of the 80 % for early stopping); ``--refit`` retrains each model on the whole
80 % for the epochs early stopping chose. Each model is a run config
(:func:`mmrec_lib.experiments.rating.rating_config`) trained and tested by
:func:`~mmrec_lib.experiments.rating.run_rating`, always from scratch (the run store is
neither read nor written). A quick check of the script:

    MMREC_CACHE_DIR=$(mktemp -d) .venv/bin/python benchmarks/bench_rating.py \\
        --dataset synthetic --epochs 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import sys
import time

import pandas as pd
from fresh import fresh_checkpoints
from memory import memory_mib, reset_peak_memory
from readme import markdown_table, write_section

from mmrec_lib.data import dataset_spec
from mmrec_lib.experiments.rating import (
    dataset_and_split,
    model_inputs,
    rating_config,
    rating_inputs,
    run_rating,
)
from mmrec_lib.experiments.store import run_key
from mmrec_lib.models.rating import MODEL_LABELS, MODEL_NAMES

SECTION = "Paper A rating models (`bench_rating.py`)"


def _config(name: str, args: argparse.Namespace) -> dict:
    """The model's run config: the split seed is --seed, the training seed 0; TSEM gets paper
    A's cosine schedule (T_max 15) without progressive data, the others a constant rate."""
    hyper = dict(args.hyper.get(name, {}))
    lr, batch_size = hyper.pop("lr", args.lr), hyper.pop("batch_size", args.batch_size)
    return rating_config(
        name,
        dataset=dataset_spec(args.dataset),
        seed=0,
        split_seed=args.seed,
        batch_size=batch_size,
        train={"epochs": args.epochs, "lr": lr, "patience": args.patience},
        hyperparameters=hyper,
        refit=args.refit,
    )


def _measure(name: str, args: argparse.Namespace) -> dict:
    """Train one model (in a child process) and report its cost and test error."""
    import torch

    torch.set_num_threads(args.threads)
    config = _config(name, args)
    dataset_and_split(config)
    model_inputs(config)  # the model's side information, read from the feature cache
    run_key(config)  # the data fingerprint (poster bytes included), computed once
    fresh_checkpoints(config)
    before = memory_mib("VmRSS")
    reset_peak_memory()
    started = time.perf_counter()
    record = run_rating(config)
    total = time.perf_counter() - started
    metrics = record.metrics
    return {
        "model": MODEL_LABELS[name],
        "epochs run": int(metrics["epochs"]),
        "best epoch": int(metrics["best_epoch"]),
        "s / epoch": float(record.arrays["history/seconds"].mean()),  # the selection run's
        "total s": total,
        "RSS before training (MiB)": before,
        "peak RSS in training (MiB)": memory_mib("VmHWM"),
        "parameters": int(metrics["n_parameters"]),
        "test MSE": metrics["mse"],
        "test RMSE": metrics["rmse"],
        "hit rate (%)": 100 * metrics["hit_rate"],
    }


def _description(table: pd.DataFrame, args: argparse.Namespace) -> str:
    command = " ".join(["python", "benchmarks/bench_rating.py", *sys.argv[1:]])
    refit = (
        "then each model retrained on the whole 80 % for the epochs early stopping chose "
        "(seconds and memory include it; s / epoch is the selection run's)"
        if args.refit
        else "tested as early stopping left it"
    )
    return (
        f"`{command}` on {platform.processor() or platform.machine()}, {args.threads} torch "
        f"thread(s), {time.strftime('%Y-%m-%d')}. Dataset {args.dataset}, random 80/20 split "
        f"(seed {args.seed}) with a tenth of the 80 % held out for early stopping (72/8/20), "
        f"batch {args.batch_size}, Adam lr {args.lr}, up to {args.epochs} epochs (patience "
        f"{args.patience}), {refit}; TSEM with CosineAnnealingLR (T_max 15); hyperparameters "
        f"{json.dumps(args.hyper) if args.hyper else 'each model default'}. Seconds per epoch "
        "include the validation pass. Memory is the training process's resident set (Linux "
        "VmRSS / VmHWM): before training (Python, torch, the data and the cached features) and "
        "its peak during training. The machine may have been shared with other jobs, so "
        f"timings are indicative.\n\n{markdown_table(table)}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--refit", action="store_true")
    parser.add_argument(
        "--hyper",
        type=json.loads,
        default={},
        help='per model: its keyword arguments, lr and batch_size, e.g. \'{"mf": {"dim": 128}}\'',
    )
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()

    dataset, split = dataset_and_split(_config(args.models[0], args))  # one split for all
    rating_inputs(dataset, split, args.models)  # encode text and posters once, into the cache
    context = multiprocessing.get_context("spawn")
    rows = []
    for name in args.models:
        with context.Pool(1) as pool:
            rows.append(pool.apply(_measure, (name, args)))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index("model")
    print(markdown_table(table))
    if args.write_readme:
        write_section(SECTION, _description(table, args))


if __name__ == "__main__":
    main()
