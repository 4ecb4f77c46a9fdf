"""On-disk cache of encoded features, shared by notebooks and runs.

An entry lives at ``cache_dir("features") / "<label>-<key>.npz"``. The key is the SHA-256
of a JSON description of everything the result depends on: the encoder's name and version
(its package version plus :data:`CODE_VERSION`), the preprocessing settings, and a digest of
the inputs. Texts are hashed by their content. Image files are hashed by their bytes (not by
path, size and mtime): a poster copied to another folder or downloaded again still hits, and a
poster replaced in place always misses; hashing 4,000 posters of ~20 KB takes well under a
second, far less than encoding one of them. Entries are written to a temporary file and moved
into place with ``os.replace``, so a crash never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from mmrec_lib.paths import cache_dir

# Bump when a change to this package's encoding code changes the numbers it produces.
CODE_VERSION = "1"
_MISSING_FILE = b"<missing>"


def package_version(package: str) -> str:
    """Installed version of ``package`` plus the feature code version, e.g. ``"0.1.0+code1"``."""
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        version = "not-installed"
    return f"{version}+code{CODE_VERSION}"


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


def cache_key(**parts: object) -> str:
    """A stable hex key for JSON-serialisable ``parts`` (order of keywords does not matter)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def entry_path(label: str, key: str) -> Path:
    """Where the cache entry for ``label`` and ``key`` lives."""
    safe_label = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return cache_dir("features") / f"{safe_label}-{key}.npz"


def cached_arrays(
    label: str, key: str, compute: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """The arrays stored under ``key``, or ``compute()``'s result, stored atomically first."""
    path = entry_path(label, key)
    if path.is_file():
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    arrays = compute()
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp.npz")
    try:
        with os.fdopen(handle, "wb") as tmp:
            np.savez(tmp, **arrays)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return arrays
