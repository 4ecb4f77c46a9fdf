"""The run store: a run is a config (plain JSON data) -> a record, stored under a key.

A run's key is the SHA-256 of three things, so a stored record can never go stale unnoticed:

- the config in canonical JSON (sorted keys, no spaces);
- the fingerprint of the data it reads (:func:`mmrec_lib.data.fingerprint.dataset_fingerprint`
  of the config's ``dataset``: interactions, side information and poster bytes);
- the fingerprint of the library code that computes it
  (:func:`mmrec_lib.hashing.source_fingerprint`: every source file of data, features,
  metrics, models and experiments).

A record lives in ``<root>/<key>/`` as ``record.json`` (config, metrics, provenance: code and
data fingerprints, commit, package versions, machine, seconds) and ``arrays.npz`` (per-user
arrays and what the figures need), whose SHA-256 ``record.json`` carries. A finished run is
written to a temporary folder unique to the process and renamed into place, so a killed sweep
leaves no half-written record, and two processes finishing the same run both end with one
record. A record that cannot be read back (truncated, edited, bit-flipped) is reported with
its path, moved aside and computed again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mmrec_lib.hashing import PACKAGE_DIR, canonical_json, sha256_of, source_fingerprint
from mmrec_lib.paths import umask

RECORD_FILE = "record.json"
ARRAYS_FILE = "arrays.npz"
VERSIONED_PACKAGES = ("torch", "numpy", "pandas", "scikit-learn", "xgboost-cpu", "scipy")


@dataclass
class RunRecord:
    """What one run produced. ``arrays`` hold per-user values (e.g. NDCG@10 per user) and
    what the figures need; ``provenance`` says which code, data and machine made it."""

    config: dict
    metrics: dict[str, float]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    from_cache: bool = False
    provenance: dict = field(default_factory=dict)


@functools.cache
def code_fingerprint() -> str:
    """The library-code part of every key (computed once per process, together with the
    commit the records name, so the two always describe the same code)."""
    _commit()
    return source_fingerprint()


def data_fingerprint(config: dict) -> str:
    """The fingerprint of the data the config's ``dataset`` entry names."""
    from mmrec_lib.data import load_dataset_spec
    from mmrec_lib.data.fingerprint import dataset_fingerprint

    if not isinstance(config, dict) or "dataset" not in config:
        raise ValueError(f"a run config is a dict with a 'dataset' entry, got {config!r}")
    return dataset_fingerprint(load_dataset_spec(config["dataset"]))


def run_key(config: dict) -> str:
    """SHA-256 of the config, its data fingerprint and the code fingerprint."""
    return sha256_of(
        {"config": config, "data": data_fingerprint(config), "code": code_fingerprint()}
    )


def default_root() -> Path:
    from mmrec_lib.paths import cache_dir

    return cache_dir("runs")


def run_dir(config: dict, root: str | Path | None = None) -> Path:
    """Where the run's record is (or will be) stored."""
    return Path(root or default_root()) / run_key(config)


def load_run(config: dict, root: str | Path | None = None) -> RunRecord | None:
    """The stored record of ``config``; None when there is none, or when the stored one is
    damaged (then it is moved aside, with a warning naming it)."""
    path = run_dir(config, root)
    if not path.exists():
        return None
    try:
        return read_record(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        aside = path.with_name(f"{path.name}.damaged-{os.getpid()}-{time.time_ns()}")
        os.replace(path, aside)
        warnings.warn(
            f"run record {path} is damaged ({type(error).__name__}: {error}); moved it to "
            f"{aside} and computing the run again",
            stacklevel=2,
        )
        return None


def read_record(path: str | Path) -> RunRecord:
    """The record stored in folder ``path``; ValueError when it is incomplete or damaged."""
    path = Path(path)
    stored = json.loads((path / RECORD_FILE).read_text())
    data = (path / ARRAYS_FILE).read_bytes()
    if hashlib.sha256(data).hexdigest() != stored["arrays_sha256"]:
        raise ValueError(f"{ARRAYS_FILE} does not match the checksum in {RECORD_FILE}")
    with np.load(path / ARRAYS_FILE, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    provenance = stored["provenance"]
    return RunRecord(
        stored["config"], stored["metrics"], arrays, provenance["seconds"], True, provenance
    )


def save_run(record: RunRecord, root: str | Path | None = None) -> Path:
    """Write the record atomically into the run store; returns its folder."""
    return write_record(record, run_dir(record.config, root))


def write_record(record: RunRecord, path: Path, compress: bool = False) -> Path:
    """Write the record into folder ``path`` atomically (a temporary folder, then rename).

    When another process has written the same folder first, theirs is kept.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    os.chmod(staging, 0o777 & ~umask())
    (np.savez_compressed if compress else np.savez)(staging / ARRAYS_FILE, **record.arrays)
    stored = {
        "key": path.name,
        "config": json.loads(canonical_json(record.config)),
        "metrics": {name: float(value) for name, value in record.metrics.items()},
        "provenance": record.provenance,
        "arrays_sha256": hashlib.sha256((staging / ARRAYS_FILE).read_bytes()).hexdigest(),
    }
    (staging / RECORD_FILE).write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    try:
        os.replace(staging, path)
    except OSError:  # another process finished the same run first: keep theirs
        shutil.rmtree(staging, ignore_errors=True)
    return path


def provenance(config: dict, seconds: float) -> dict:
    """Where a record came from: code and data fingerprints, commit, versions, machine."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": sys.version.split()[0]}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "code": code_fingerprint(),
        "data": data_fingerprint(config),
        "commit": _commit(),
        "versions": versions,
        "machine": machine(),
        "seconds": float(seconds),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def machine() -> str:
    """The CPU model (and the GPU, when torch sees one) this process runs on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} CPUs"
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        text += f", {sys.modules['torch'].cuda.get_device_name(0)}"
    return text


@functools.cache
def _commit() -> str:
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=PACKAGE_DIR,
            capture_output=True,
            text=True,
        )
    except OSError:
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def compute_and_store(
    config: dict, compute: Callable[[dict], RunRecord], root: str | Path | None = None
) -> RunRecord:
    """``compute(config)``, with its provenance, stored; returns the record."""
    started = time.perf_counter()
    record = compute(config)
    if not isinstance(record, RunRecord):
        raise ValueError(f"compute must return a RunRecord, got {type(record).__name__}")
    record.config = config
    record.seconds = record.seconds or time.perf_counter() - started
    record.provenance = provenance(config, record.seconds)
    save_run(record, root)
    return record


def cached_run(
    config: dict, compute: Callable[[dict], RunRecord], root: str | Path | None = None
) -> RunRecord:
    """The stored record of ``config`` if there is one; else ``compute(config)``, stored."""
    return load_run(config, root) or compute_and_store(config, compute, root)
