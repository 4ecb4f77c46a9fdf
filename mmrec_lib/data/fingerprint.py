"""A dataset's fingerprint: a hash of everything a run reads from it.

It covers the interactions, the item and user tables (so side information that could not be
read, e.g. a missing plot file, changes it) and the bytes of every poster file. It is part of
every run key, so a record computed from other or damaged data is never read back as current.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from mmrec_lib.hashing import hash_files

_MEMO = "_fingerprint"


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's index, columns and values (list cells hashed by their text)."""
    cells = frame.copy()
    for column in [c for c in cells.columns if pd.api.types.is_object_dtype(cells[c])]:
        cells[column] = cells[column].map(repr)
    values = pd.util.hash_pandas_object(cells, index=True).to_numpy()
    digest = hashlib.sha256(values.tobytes())
    digest.update(repr(list(frame.columns)).encode())
    return digest.hexdigest()


def dataset_fingerprint(dataset) -> str:
    """SHA-256 of the dataset's tables and poster files; computed once per loaded dataset."""
    frames = tuple(id(f) for f in (dataset.interactions, dataset.items, dataset.users))
    memo = dataset.__dict__.get(_MEMO)
    if memo is not None and memo[0] == frames:  # the same tables as when it was computed
        return memo[1]
    digest = hashlib.sha256(dataset.name.encode())
    digest.update(repr(list(dataset.genres)).encode())
    for frame in (dataset.interactions, dataset.items, dataset.users):
        digest.update(frame_digest(frame).encode())
    if "poster_path" in dataset.items.columns:
        digest.update(hash_files(dataset.items["poster_path"].tolist()).encode())
    dataset.__dict__[_MEMO] = (frames, digest.hexdigest())
    return digest.hexdigest()
