"""Recorded results: small copies of finished runs, kept in the repository.

Converged sweeps on real data cost hours, so the book renders them from records committed
under ``results/<profile>/`` instead of training again. A recorded copy keeps the config, the
metrics, the provenance (code and data fingerprints, commit, versions, machine, seconds) and
only the arrays the book needs (:data:`KEPT_ARRAYS`), compressed. It is found by its *result
key*: the SHA-256 of the config and the data fingerprint, without the code fingerprint, so a
record made by older library code is still found, and shown as made by the code of its commit
(:func:`computed_with`), never passed off as current.

``MMREC_RESULTS_DIR`` names the folder a sweep reads and writes; with
``MMREC_RESULTS_REFRESH=1`` every run is computed again and its copy replaced
(``make results``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from mmrec_lib.experiments.store import (
    RunRecord,
    code_fingerprint,
    data_fingerprint,
    read_record,
    write_record,
)
from mmrec_lib.hashing import sha256_of

RESULTS_ENV = "MMREC_RESULTS_DIR"
REFRESH_ENV = "MMREC_RESULTS_REFRESH"
KEPT_ARRAYS = (
    "sampled/NDCG@10",
    "full/NDCG@10",
    "top_items",
    "squared_error",
    "history/train_loss",
    "history/val_NDCG@10",
    "history/val_mse",
    "history/seconds",
)
"""Per-user NDCG@10 (user-paired tests, protocol figure), top items (Fig 2), squared errors
(paper A's paired tests) and training histories. Attention (Fig 3) is kept for the runs of
:data:`FIG3_MODEL` with all three modalities concatenated only: the ones Fig 3 reads."""
FIG3_MODEL = "sasrec+"
"""The model whose attention Fig 3 (notebook 41) draws."""
SINGLE_PRECISION = ("squared_error",)
"""Per-rating arrays kept as float32: half the bytes of paper A's records, and far finer than
any difference the paired tests read."""


def results_folder() -> Path | None:
    """The folder named by ``MMREC_RESULTS_DIR``, or None."""
    value = os.environ.get(RESULTS_ENV, "").strip()
    return Path(value) if value else None


def refreshing() -> bool:
    """True when ``MMREC_RESULTS_REFRESH=1``: recompute every run, replace its copy."""
    return os.environ.get(REFRESH_ENV) == "1"


def result_key(config: dict) -> str:
    """SHA-256 of the config and its data fingerprint (not of the code)."""
    return sha256_of({"config": config, "data": data_fingerprint(config)})


def recorded(config: dict, folder: Path) -> RunRecord | None:
    """The recorded copy of ``config`` in ``folder``; None when there is none or it is
    damaged (with a warning naming it)."""
    path = Path(folder) / result_key(config)
    if not path.exists():
        return None
    try:
        return read_record(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        warnings.warn(
            f"recorded result {path} is damaged ({error}); computing it again", stacklevel=2
        )
        return None


def small_copy(record: RunRecord) -> RunRecord:
    """What is recorded of ``record``: its config, metrics and provenance, and the arrays the
    book reads (:data:`KEPT_ARRAYS`, :data:`SINGLE_PRECISION` ones as float32). A run on a
    share of the training data (the sparsity curves read its metrics) keeps its training
    history only; a cold-start run also its per-user HR@10 (the cold users' hit rates);
    attention only where Fig 3 may read it: SASRec+ on full data, all three modalities
    concatenated. Item ids are stored in the narrowest unsigned integer type that holds them."""
    keep = set(KEPT_ARRAYS)
    config = record.config
    split = config.get("split") or {}
    if "train_fraction" in split:
        keep = {name for name in keep if name.startswith("history/")}
    elif "cold_items" in split:
        keep |= {"sampled/HR@10", "full/HR@10"}
    elif config.get("model") == FIG3_MODEL and config.get("fusion") == "concat":
        if len(config.get("modalities") or []) == 3:
            keep.add("attention_last")
    arrays = {name: _narrowed(name, values) for name, values in record.arrays.items()
              if name in keep}  # fmt: skip
    return RunRecord(config, record.metrics, arrays, record.seconds, provenance=record.provenance)


def _narrowed(name: str, values: np.ndarray) -> np.ndarray:
    if name in SINGLE_PRECISION:
        return values.astype(np.float32)
    if name == "top_items" and values.size and values.min() >= 0:
        return values.astype(np.min_scalar_type(values.max()))  # ML-100K's 1,682 ids: uint16
    return values


def record_result(record: RunRecord, folder: Path) -> Path:
    """Write the small copy of ``record`` into ``folder`` (replacing an older copy)."""
    import shutil

    path = Path(folder) / result_key(record.config)
    shutil.rmtree(path, ignore_errors=True)
    return write_record(small_copy(record), path, compress=True)


def computed_with(record: RunRecord) -> str:
    """``"this code"`` when the record was computed by the current library code, else the
    commit whose code computed it."""
    if record.provenance.get("code") == code_fingerprint():
        return "this code"
    return f"older code (commit {record.provenance.get('commit', 'unknown')})"
