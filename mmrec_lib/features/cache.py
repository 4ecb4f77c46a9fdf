"""On-disk cache of encoded features, shared by notebooks and runs.

An entry lives at ``cache_dir("features") / "<label>-<key>.npz"``. The key is the SHA-256
of a JSON description of everything the result depends on: the encoder's name and version
(its package version plus a digest of the encoding code, :func:`encoding_code`), the
preprocessing settings, and a digest of the inputs. Texts are hashed by their content. Image
files are hashed by their bytes (not by path, size and mtime): a poster copied to another
folder or downloaded again still hits, and a poster replaced in place always misses; hashing
4,000 posters of ~20 KB takes well under a second, far less than encoding one of them.
Entries are written to a temporary file and moved into place with ``os.replace``, so a crash
never leaves a half-written entry behind.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mmrec_lib.hashing import hash_files, hash_texts
from mmrec_lib.paths import cache_dir, umask

__all__ = [
    "cache_key",
    "cached_arrays",
    "entry_path",
    "hash_files",
    "hash_texts",
    "package_version",
]

ENCODING_MODULES = ("cache.py", "hub.py", "image.py", "text.py")


@functools.cache
def source_digest(*modules: str) -> str:
    """A digest of source files of this package (``mmrec_lib/features``), e.g. ``"text.py"``."""
    digest = hashlib.sha256()
    for name in modules:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def encoding_code() -> str:
    """A digest of the encoding code's source files (:data:`ENCODING_MODULES`): a change to
    how features are computed gives new keys, so old features are never read back."""
    return source_digest(*ENCODING_MODULES)


def package_version(package: str) -> str:
    """Installed version of ``package`` plus the encoding code's digest, e.g.
    ``"0.1.0+code3f2a..."``."""
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        version = "not-installed"
    return f"{version}+code{encoding_code()}"


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
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            aside = path.with_name(f"{path.name}.damaged-{os.getpid()}")
            os.replace(path, aside)
            warnings.warn(
                f"feature cache entry {path} cannot be read ({type(error).__name__}: "
                f"{error}); moved it to {aside} and computing it again",
                stacklevel=2,
            )
    arrays = compute()
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp.npz")
    try:
        with os.fdopen(handle, "wb") as tmp:
            np.savez(tmp, **arrays)
        os.chmod(tmp_name, 0o666 & ~umask())  # mkstemp makes it private; follow the umask
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return arrays
