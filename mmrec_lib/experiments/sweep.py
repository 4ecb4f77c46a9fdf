"""Sweeps: many independent run configs through one run function, finished runs read back.

Runs are stored as they finish (:mod:`mmrec_lib.experiments.store`), so an interrupted sweep
resumes where it stopped and a repeated one computes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mmrec_lib.experiments.store import (
    RunRecord,
    compute_and_store,
    default_root,
    load_run,
    run_key,
)


def run_many(
    configs: Sequence[dict],
    compute: Callable[[dict], RunRecord],
    n_workers: int = 1,
    root: str | Path | None = None,
    progress: bool = True,
) -> list[RunRecord]:
    """Records of all configs in their order; finished runs are read back, the rest computed.

    n_workers > 1 computes the missing runs in a process pool (each stored as it finishes).
    Equal configs are computed once.
    """
    from mmrec_lib.progress import tqdm

    if not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
    root = root or default_root()
    keys = [run_key(config) for config in configs]
    records = {key: load_run(config, root) for key, config in zip(keys, configs, strict=True)}
    missing = {key: config for key, config in zip(keys, configs, strict=True) if not records[key]}
    bar = tqdm(total=len(missing), desc="runs", disable=not progress or not missing)
    if n_workers == 1 or len(missing) < 2:
        for key, config in missing.items():
            records[key] = compute_and_store(config, compute, root)
            bar.update()
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=min(n_workers, len(missing))) as pool:
            futures = {
                pool.submit(compute_and_store, config, compute, root): key
                for key, config in missing.items()
            }
            for future in as_completed(futures):
                records[futures[future]] = future.result()
                bar.update()
    bar.close()
    return [records[key] for key in keys]


def runs_frame(
    records: Sequence[RunRecord], fields: Sequence[str] = (), metrics: Sequence[str] = ()
) -> Any:
    """One row per run: config fields (dotted paths, e.g. ``"train.seed"``), metrics, the
    record's key (first 12 hex digits), commit, seconds and whether it was read back."""
    import pandas as pd

    def field_value(config: dict, path: str) -> Any:
        for part in path.split("."):
            config = config.get(part) if isinstance(config, dict) else None
        return ", ".join(map(str, config)) if isinstance(config, list) else config

    return pd.DataFrame(
        [
            {
                **{path: field_value(r.config, path) for path in fields},
                **{name: r.metrics.get(name) for name in metrics},
                "key": run_key(r.config)[:12],
                "commit": r.provenance.get("commit", ""),
                "seconds": r.seconds,
                "from cache": r.from_cache,
            }
            for r in records
        ]
    )
