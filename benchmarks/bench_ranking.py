"""Time the evaluation backbone: ranking all users, and leave-one-out with stored negatives.

Synthetic data of MovieLens sizes (no download). Prints a Markdown table.

    python benchmarks/bench_ranking.py            # ML-100K and ML-1M sizes, ~1 minute
    python benchmarks/bench_ranking.py --large    # adds an ML-20M-sized split (~5 GB RAM)
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from mmrec_lib.data.splits import leave_one_out
from mmrec_lib.metrics import ranking_metrics, ranks_from_scores

# (name, users, items, interactions) as published for each MovieLens release
SIZES = {
    "ML-100K": (943, 1682, 100_000),
    "ML-1M": (6040, 3706, 1_000_209),
    "ML-20M": (138_493, 26_744, 20_000_263),
}


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """Fastest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def synthetic_interactions(n_users: int, n_items: int, n_rows: int, seed: int = 0):
    """Distinct (user, item) rows with skewed user activity and Zipf-like item popularity."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, n_users)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    n_draws = 2 * n_rows  # repeats are dropped below, then the first n_rows kept
    users = np.searchsorted(np.cumsum(activity) / activity.sum(), rng.random(n_draws))
    items = np.searchsorted(np.cumsum(popularity) / popularity.sum(), rng.random(n_draws))
    frame = pd.DataFrame(
        {
            "user": np.minimum(users, n_users - 1),
            "item": np.minimum(items, n_items - 1) + 1,
            "rating": np.float32(4.0),
            "timestamp": rng.integers(0, 10**8, n_draws),
        }
    )
    return frame.drop_duplicates(["user", "item"], ignore_index=True).iloc[:n_rows]


def ranking_rows(name: str, repeats: int = 5) -> list[dict]:
    n_users, n_items, n_rows = SIZES[name]
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((n_users, n_items), dtype=np.float32)
    positive = rng.integers(0, n_items, n_users)
    seen = sparse.random(n_users, n_items, density=n_rows / (n_users * n_items), rng=rng)
    seen = seen.tocsr().astype(bool)
    sampled = scores[:, :101]
    cases = {
        "full, numpy, CSR mask": lambda: ranks_from_scores(scores, positive, seen),
        "full, numpy, dense mask": lambda: ranks_from_scores(scores, positive, seen.toarray()),
        "full, torch CPU, CSR mask": lambda: ranks_from_scores(
            torch.from_numpy(scores), positive, seen
        ),
        "sampled 1+100, numpy": lambda: ranks_from_scores(sampled),
        "full + ranking_metrics": lambda: ranking_metrics(
            ranks_from_scores(scores, positive, seen)
        ),
    }
    shape = f"{n_users} x {n_items}"
    return [
        {"task": case, "data": f"{name} ({shape})", "seconds": best_of(repeats, run)}
        for case, run in cases.items()
    ]


def split_rows(name: str, repeats: int) -> list[dict]:
    frame = synthetic_interactions(*SIZES[name])
    label = f"{name}-sized ({len(frame):,} rows, {frame['user'].nunique():,} users)"
    return [
        {
            "task": f"leave_one_out, 100 {sampling} negatives",
            "data": label,
            "seconds": best_of(repeats, lambda s=sampling: leave_one_out(frame, sampling=s)),
        }
        for sampling in ("uniform", "popularity")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also split ML-20M-sized data")
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="1 keeps timings steady on a shared CPU"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    rows = ranking_rows("ML-100K") + ranking_rows("ML-1M", repeats=3)
    rows += split_rows("ML-100K", repeats=5) + split_rows("ML-1M", repeats=2)
    if args.large:
        rows += split_rows("ML-20M", repeats=1)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, ", end="")
    print(f"numpy {np.__version__}, torch {torch.__version__}\n")
    print("| task | data | seconds |\n|---|---|---:|")
    for row in rows:
        print(f"| {row['task']} | {row['data']} | {row['seconds']:.3f} |")


if __name__ == "__main__":
    main()
