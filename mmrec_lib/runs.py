"""Cached runs: a run is a config (plain JSON data) -> metrics + per-user arrays, stored by hash.

A run's key is the SHA-256 of its config in canonical JSON (sorted keys, no spaces) together
with :data:`CODE_VERSION`; its record lives in ``cache_dir("runs", key)`` as ``metrics.json``
(config, metrics, seconds) and ``arrays.npz`` (per-user arrays). A finished run is written to
a temporary folder and renamed into place, so a killed sweep leaves no half-written record
and a rerun computes only what is missing. Sweeps of independent runs can use worker
processes (:func:`run_many`); ``compute`` must then be a module-level function.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CODE_VERSION = "1"
"""Part of every key; bump it when a code change alters what a cached run would compute."""


@dataclass
class RunRecord:
    """What one run produced. ``arrays`` hold per-user values (e.g. NDCG@10 per user).

    seconds: wall time of the computation (not of a cache read); from_cache: read back.
    """

    config: dict
    metrics: dict[str, float]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    from_cache: bool = False


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, np.ndarray)):
        return list(np.asarray(value).tolist())
    raise ValueError(
        f"run configs must be plain JSON data; {type(value).__name__} {value!r} is not "
        "(use str/int/float/bool/None, lists and dicts with str keys)"
    )


def canonical_json(config: dict) -> str:
    """The config as canonical JSON text (sorted keys, no spaces, tuples as lists)."""
    if not isinstance(config, dict):
        raise ValueError(f"a run config must be a dict, got {type(config).__name__}")
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=_json_default)


def run_key(config: dict) -> str:
    """SHA-256 hex digest of the config's canonical JSON plus :data:`CODE_VERSION`."""
    text = f'{{"code_version":{json.dumps(CODE_VERSION)},"config":{canonical_json(config)}}}'
    return hashlib.sha256(text.encode()).hexdigest()


def run_dir(config: dict, root: str | Path | None = None) -> Path:
    """Where the run's record is (or will be) stored."""
    from mmrec_lib.paths import cache_dir

    return Path(root or cache_dir("runs")) / run_key(config)


def load_run(config: dict, root: str | Path | None = None) -> RunRecord | None:
    """The stored record of ``config``, or None when it has not finished yet."""
    path = run_dir(config, root)
    if not (path / "metrics.json").is_file():
        return None
    stored = json.loads((path / "metrics.json").read_text())
    with np.load(path / "arrays.npz", allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return RunRecord(stored["config"], stored["metrics"], arrays, stored["seconds"], True)


def save_run(record: RunRecord, root: str | Path | None = None) -> Path:
    """Write the record atomically (temporary folder, then rename); returns its folder."""
    path = run_dir(record.config, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    stored = {
        "key": path.name,
        "code_version": CODE_VERSION,
        "config": json.loads(canonical_json(record.config)),
        "metrics": {name: float(value) for name, value in record.metrics.items()},
        "seconds": float(record.seconds),
    }
    np.savez(staging / "arrays.npz", **record.arrays)
    (staging / "metrics.json").write_text(json.dumps(stored, indent=1, sort_keys=True))
    try:
        os.replace(staging, path)
    except OSError:  # another process finished the same run first: keep theirs
        shutil.rmtree(staging, ignore_errors=True)
    return path


def runs_frame(
    records: Sequence[RunRecord], fields: Sequence[str] = (), metrics: Sequence[str] = ()
) -> Any:
    """One row per run: config fields (dotted paths, e.g. ``"train.seed"``), metrics, cache
    key (first 12 hex digits), seconds and whether it was read back: where a number came from.
    """
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
                "seconds": r.seconds,
                "from cache": r.from_cache,
            }
            for r in records
        ]
    )


def _compute_and_store(
    config: dict, compute: Callable[[dict], RunRecord], root: str | Path | None
) -> RunRecord:
    started = time.perf_counter()
    record = compute(config)
    if not isinstance(record, RunRecord):
        raise ValueError(f"compute must return a RunRecord, got {type(record).__name__}")
    record.config = config
    record.seconds = record.seconds or time.perf_counter() - started
    save_run(record, root)
    return record


def cached_run(
    config: dict, compute: Callable[[dict], RunRecord], root: str | Path | None = None
) -> RunRecord:
    """The stored record of ``config`` if there is one; else ``compute(config)``, stored."""
    return load_run(config, root) or _compute_and_store(config, compute, root)


def run_many(
    configs: Sequence[dict],
    compute: Callable[[dict], RunRecord],
    n_workers: int = 1,
    root: str | Path | None = None,
    progress: bool = True,
) -> list[RunRecord]:
    """Records of all configs in their order; finished runs are read back, the rest computed.

    n_workers > 1 computes the missing runs in a process pool (each stored as it finishes,
    so an interrupted sweep resumes where it stopped). Equal configs are computed once.
    """
    from mmrec_lib.progress import tqdm

    if not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
    if root is None:
        from mmrec_lib.paths import cache_dir

        root = cache_dir("runs")
    keys = [run_key(config) for config in configs]
    records = {key: load_run(config, root) for key, config in zip(keys, configs, strict=True)}
    missing = {key: config for key, config in zip(keys, configs, strict=True) if not records[key]}
    bar = tqdm(total=len(missing), desc="runs", disable=not progress or not missing)
    if n_workers == 1 or len(missing) < 2:
        for key, config in missing.items():
            records[key] = _compute_and_store(config, compute, root)
            bar.update()
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=min(n_workers, len(missing))) as pool:
            futures = {
                pool.submit(_compute_and_store, config, compute, root): key
                for key, config in missing.items()
            }
            for future in as_completed(futures):
                records[futures[future]] = future.result()
                bar.update()
    bar.close()
    return [records[key] for key in keys]
