"""Fingerprints: canonical JSON, content hashes of texts and files, and of the library source.

Run keys (:mod:`mmrec_lib.experiments.store`), the feature cache and the dataset fingerprint
(:func:`mmrec_lib.data.fingerprint.dataset_fingerprint`) are all built from these.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE_DIR = Path(__file__).resolve().parent
_MISSING_FILE = b"<missing>"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, np.ndarray)):
        return list(np.asarray(value).tolist())
    raise ValueError(
        f"run configs must be plain JSON data; {type(value).__name__} {value!r} is not "
        "(use str/int/float/bool/None, lists and dicts with str keys)"
    )


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON text (sorted keys, no spaces, tuples as lists)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def sha256_of(value: Any) -> str:
    """SHA-256 hex digest of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def hash_texts(texts: Iterable[str]) -> str:
    """SHA-256 over the texts in order (length-prefixed, so boundaries count)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def hash_files(paths: Iterable[str | os.PathLike | None]) -> str:
    """SHA-256 over the files' bytes in order; a missing or unset path counts as a marker."""
    digest = hashlib.sha256()
    for path in paths:
        data = _MISSING_FILE
        if path is not None and Path(path).is_file():
            data = Path(path).read_bytes()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


COMPUTING_PACKAGES = ("data", "features", "metrics", "models", "experiments")
"""The parts of mmrec_lib whose code decides what a run computes (``analysis`` and ``report``
only read finished runs)."""


def source_fingerprint(packages: Iterable[str] = COMPUTING_PACKAGES) -> str:
    """SHA-256 of the source files of ``packages`` (and the top-level modules they use).

    Part of every run key: editing any of these files gives every run a new key, so a record
    computed by other code can never be read back as current.
    """
    files = [path for name in packages for path in (PACKAGE_DIR / name).rglob("*.py")]
    files += [PACKAGE_DIR / name for name in ("device.py", "hashing.py", "paths.py")]
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
