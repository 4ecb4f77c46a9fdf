"""Where mmrec reads data from and writes caches to.

Two environment variables steer it:

- ``MMREC_DATA_DIR``: a local mirror with the upstream file names and layout
  (``<dir>/ml-100k/u.data``, ``<dir>/ml-1m/posters/1.jpg`` ...). Read first.
- ``MMREC_CACHE_DIR``: where downloads, generated data and encoded features are kept
  (default: the platform cache folder, e.g. ``~/.cache/mmrec``).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "MMREC_DATA_DIR"
CACHE_DIR_ENV = "MMREC_CACHE_DIR"


def mirror_dir() -> Path | None:
    """The local data mirror named by ``MMREC_DATA_DIR``, or None when unset."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def cache_dir(*parts: str) -> Path:
    """A folder under the mmrec cache (created), e.g. ``cache_dir("downloads")``."""
    value = os.environ.get(CACHE_DIR_ENV, "").strip()
    if value:
        root = Path(value).expanduser()
    else:
        import pooch

        root = Path(pooch.os_cache("mmrec"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def umask() -> int:
    """The process's file-mode creation mask (files mmrec writes follow it)."""
    current = os.umask(0)
    os.umask(current)
    return current
