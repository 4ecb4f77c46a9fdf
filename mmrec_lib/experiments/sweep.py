"""Sweeps: many independent run configs through one run function, on Dask distributed.

Finished runs are read back from the run store (:mod:`mmrec_lib.experiments.store`); the
missing ones are computed and stored as each finishes, so a killed sweep resumes where it
stopped and a repeated one computes nothing.

Where they run:

- ``n_workers=1`` and no scheduler: in this process, one after the other;
- ``n_workers > 1``: a Dask ``LocalCluster`` of that many single-threaded worker processes
  on this machine, started by the first sweep that needs it and kept for the later ones of
  this process (a notebook's sweeps, while its environment variables stay the same), so each
  worker imports torch and the library once;
- a scheduler address (``scheduler=`` or the ``MMREC_SCHEDULER`` environment variable, e.g.
  ``tcp://10.0.0.5:8786``): the workers of that Dask cluster (SLURM through dask-jobqueue,
  Kubernetes through dask-kubernetes; README, "Sweeps on a cluster"). The workers must
  share the run store's folder (``MMREC_CACHE_DIR``) and see the same data.

The terminal shows runs done / total with an ETA.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mmrec_lib.experiments import results as recorded_results
from mmrec_lib.experiments.results import computed_with
from mmrec_lib.experiments.store import (
    RunRecord,
    compute_and_store,
    default_root,
    load_run,
    run_key,
)

SCHEDULER_ENV = "MMREC_SCHEDULER"
_LOCAL_CLUSTERS: dict = {}
"""This process's Dask LocalClusters by worker count, each with the environment it started
in (:func:`local_cluster`)."""


def run_many(
    configs: Sequence[dict],
    run: Callable[[dict], RunRecord],
    n_workers: int = 1,
    root: str | Path | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    results: str | Path | None = None,
) -> list[RunRecord]:
    """Records of all configs in their order; finished runs are read back, the rest computed
    by ``run`` (a module-level function, e.g. ``run_sequential``). Equal configs run once.

    results: a folder of recorded results (default ``MMREC_RESULTS_DIR``,
    :mod:`mmrec_lib.experiments.results`): a run recorded there is read from it, and a
    computed run is recorded into it.
    """
    from mmrec_lib.progress import tqdm

    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
    root = Path(root or default_root())
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    results = results or recorded_results.results_folder()
    refresh = recorded_results.refreshing()
    keys = [run_key(config) for config in configs]
    records = {}
    for key, config in zip(keys, configs, strict=True):
        found = None if refresh else results and recorded_results.recorded(config, results)
        records[key] = found or (None if refresh else load_run(config, root))
        if results and records[key] and not found:  # in the run store only: record it too
            recorded_results.record_result(records[key], results)
    missing = {key: config for key, config in zip(keys, configs, strict=True) if not records[key]}
    bar = tqdm(
        total=len(keys),
        initial=len(keys) - len(missing),
        desc="runs",
        unit="run",
        disable=not progress or not missing,
    )
    if missing and scheduler is None and n_workers == 1:
        finished = ((key, compute_and_store(config, run, root)) for key, config in missing.items())
    else:
        finished = _on_dask(missing, run, root, n_workers, scheduler) if missing else ()
    for key, record in finished:  # recorded as each finishes: a killed sweep loses nothing
        records[key] = record
        if results:
            recorded_results.record_result(record, results)
        bar.update()
    bar.close()
    return [records[key] for key in keys]


def _on_dask(missing: dict, run: Callable, root: Path, n_workers: int, scheduler: str | None):
    """Yield (key, record) of each missing run as a Dask worker finishes it."""
    from distributed import Client, as_completed

    with Client(scheduler or local_cluster(n_workers)) as client:
        futures = {
            client.submit(compute_and_store, config, run, root, key=f"run-{key}", pure=False): key
            for key, config in missing.items()
        }
        for future in as_completed(futures):
            yield futures[future], future.result()


def local_cluster(n_workers: int):
    """This process's LocalCluster of ``n_workers`` single-threaded worker processes: started
    on first use and reused by later sweeps while the environment variables the workers
    started with are unchanged (they read ``MMREC_CACHE_DIR`` and the like), else replaced;
    closed when the process exits."""
    from distributed import LocalCluster

    environment = tuple(sorted(os.environ.items()))
    started, cluster = _LOCAL_CLUSTERS.get(n_workers, (None, None))
    if cluster is not None and (started != environment or cluster.status.name != "running"):
        cluster.close()
        cluster = None
    if cluster is None:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        atexit.register(cluster.close)
        _LOCAL_CLUSTERS[n_workers] = (environment, cluster)
    return cluster


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
                "computed with": computed_with(r),
                "seconds": r.seconds,
                "from cache": r.from_cache,
            }
            for r in records
        ]
    )
