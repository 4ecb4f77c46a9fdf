"""Time the offline default encoders on CPU: texts/s (MiniLM), posters/s (EfficientNet-Lite0),
and what a cached second call costs. Prints a Markdown table.

Inputs are real ML-1M plots and posters when MMREC_DATA_DIR names the data mirror, else the
synthetic dataset's. The feature cache goes to a temporary folder, so nothing is reused
from earlier runs.

    python benchmarks/bench_encoders.py                      # 128 texts, 64 posters, ~1 min
    python benchmarks/bench_encoders.py --texts 512 --posters 256 --threads 1
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd
import torch

from mmrec_lib.features.image import encode_images
from mmrec_lib.features.text import PAPER_A_PREPROCESSING, encode_texts
from mmrec_lib.paths import mirror_dir


def timed(run: Callable[[], object]) -> float:
    """Wall time of one call, in seconds."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def inputs(n_texts: int, n_posters: int) -> tuple[str, list[str], list[str]]:
    """(source, cleaned plots, poster paths) from the mirror's ML-1M files or synthetic data."""
    mirror = mirror_dir()
    if mirror is not None and (mirror / "ml-1m" / "tml1m_movies.csv").is_file():
        plots = pd.read_csv(mirror / "ml-1m" / "tml1m_movies.csv")["Plot"].dropna()
        posters = sorted((mirror / "ml-1m" / "posters").glob("*.jpg"), key=lambda p: int(p.stem))
        source = "ML-1M plots and posters (185x278 JPEG)"
    else:
        from mmrec_lib.data.synthetic import make_synthetic

        items = make_synthetic("small", seed=0).items
        plots, posters = items["plot"], [Path(p) for p in items["poster_path"]]
        source = "synthetic plots and posters (64x96 PNG)"
    texts = [PAPER_A_PREPROCESSING(plot) for plot in plots.iloc[:n_texts]]
    return source, texts, [str(p) for p in posters[:n_posters]]


def bench(name: str, data: list, encode: Callable, batch_sizes: list[int]) -> list[tuple]:
    """Rows (encoder, call, items, seconds): model load, each batch size, cache miss and hit."""
    rows = [(name, "first call, 1 item (load)", 1, timed(lambda: encode(data[:1], cache=False)))]
    for batch_size in batch_sizes:
        seconds = timed(partial(encode, data, batch_size=batch_size, cache=False))
        rows.append((name, f"batch {batch_size}, no cache", len(data), seconds))
    rows.append((name, "batch 32, cache miss", len(data), timed(lambda: encode(data))))
    rows.append((name, "batch 32, cache hit", len(data), timed(lambda: encode(data))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=128)
    parser.add_argument("--posters", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ["MMREC_CACHE_DIR"] = tempfile.mkdtemp(prefix="mmrec-bench-")
    source, texts, posters = inputs(args.texts, args.posters)

    runs = {
        "minilm (texts, max_length 64)": (
            texts,
            lambda data, **kw: encode_texts(data, "minilm", device="cpu", **kw),
        ),
        "efficientnet-lite0 (posters, 224 px)": (
            posters,
            lambda data, **kw: encode_images(data, "efficientnet-lite0", device="cpu", **kw),
        ),
    }
    rows = [
        row
        for name, (data, encode) in runs.items()
        for row in bench(name, data, encode, args.batch_sizes)
    ]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\nInputs: {source}. {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{torch.get_num_threads()} torch threads; load average {load}.\n")  # fmt: skip
    print("| encoder | call | items | seconds | items/s |")
    print("|---|---|---:|---:|---:|")
    for name, call, n, seconds in rows:
        print(f"| {name} | {call} | {n} | {seconds:.3f} | {n / seconds:,.1f} |")


if __name__ == "__main__":
    main()
