"""Progress bars: tqdm's notebook widget where ipywidgets is installed, its text bar
elsewhere. Without ipywidgets, ``tqdm.auto`` warns "IProgress not found" on import, which
would show on every book page that trains or encodes; the text bar it falls back to is what
we want there, so that one warning is silenced (only while importing)."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm

__all__ = ["tqdm"]
