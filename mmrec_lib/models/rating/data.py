"""Rating splits as model inputs: contiguous user/item indices and aligned tensors.

Every rating model indexes users ``0..n_users-1`` and items ``0..n_items-1``; side
information passed to a model is a float matrix whose row ``i`` belongs to item index ``i``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class RatingIndex:
    """Sorted original ids of the users and items a model knows; position = index."""

    user_ids: np.ndarray
    item_ids: np.ndarray

    @classmethod
    def from_frames(cls, *frames: pd.DataFrame, items: Iterable[int] | None = None) -> RatingIndex:
        """Index every user and item in ``frames`` (plus ``items``, e.g. the whole catalogue)."""
        if not frames:
            raise ValueError("need at least one interaction frame to index")
        users = np.unique(np.concatenate([f["user"].to_numpy() for f in frames]))
        item_parts = [f["item"].to_numpy() for f in frames]
        if items is not None:
            item_parts.append(np.asarray(list(items)))
        return cls(users.astype(np.int64), np.unique(np.concatenate(item_parts)).astype(np.int64))

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(user index, item index) of each row; ValueError for ids outside the index."""
        return (
            _positions(self.user_ids, frame["user"].to_numpy(), "user"),
            _positions(self.item_ids, frame["item"].to_numpy(), "item"),
        )


@dataclass(frozen=True)
class RatingInputs:
    """Side information aligned to ``index`` (row i = item or user index i); None = not built.

    Item matrices are (n_items x d): tabular, poster, description, cast (multi-hot),
    genres (multi-hot, MF_NN's auxiliary target); user_genre_frequency is (n_users x genres),
    counted on the training rows only. fine_tuned: TSEM's trainable towers by modality
    (poster, description; see :mod:`mmrec_lib.models.rating.finetune`), used by TSEM in
    place of the frozen matrix of the same name.
    """

    index: RatingIndex
    tabular: np.ndarray | None = None
    poster: np.ndarray | None = None
    description: np.ndarray | None = None
    cast: np.ndarray | None = None
    genres: np.ndarray | None = None
    user_genre_frequency: np.ndarray | None = None
    fine_tuned: Mapping[str, Any] = field(default_factory=dict)


def rating_tensors(frame: pd.DataFrame, index: RatingIndex, device="cpu") -> tuple:
    """(users int64, items int64, ratings float32) torch tensors of the rows of ``frame``."""
    import torch

    users, items = index.encode(frame)
    ratings = np.array(frame["rating"], dtype=np.float32)
    return (
        torch.as_tensor(users, device=device),
        torch.as_tensor(items, device=device),
        torch.as_tensor(ratings, device=device),
    )


def multi_hot(
    lists: pd.Series, min_count: int = 1, fit: np.ndarray | None = None
) -> tuple[np.ndarray, list[str]]:
    """(rows x vocabulary) 0/1 float32 matrix of list-valued cells, and the vocabulary.

    Values occurring in fewer than ``min_count`` rows (of the ``fit`` rows, a boolean mask,
    when given: cold-start items fit nothing) are dropped; a missing cell (None/NaN) is an
    all-zero row. The vocabulary is sorted.
    """
    cells = [value if isinstance(value, (list, tuple, np.ndarray)) else [] for value in lists]
    rows = np.repeat(np.arange(len(cells)), [len(set(c)) for c in cells])
    values = pd.Series([v for c in cells for v in dict.fromkeys(c)], dtype=object)
    counts = (values if fit is None else values[np.asarray(fit)[rows]]).value_counts()
    vocabulary = sorted(counts.index[counts >= min_count])
    out = np.zeros((len(cells), len(vocabulary)), dtype=np.float32)
    column = pd.Index(vocabulary).get_indexer(values)
    kept = column >= 0
    out[rows[kept], column[kept]] = 1.0
    return out, vocabulary


def feature_buffer(
    matrix: np.ndarray | torch.Tensor, name: str, n_rows: int | None = None
) -> torch.Tensor:
    """A finite 2-D float32 tensor of side information; ValueError for a bad shape.

    n_rows: the number of rows the model's index needs (items or users), when known.
    """
    import torch

    tensor = torch.as_tensor(np.array(matrix, dtype=np.float32))
    if tensor.ndim != 2 or tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D matrix, got shape {tuple(tensor.shape)}")
    if n_rows is not None and tensor.shape[0] != n_rows:
        raise ValueError(
            f"{name} has {tensor.shape[0]} rows but the model indexes {n_rows}; "
            "align the features to the model's RatingIndex"
        )
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or inf; fill missing features first")
    return tensor


def _positions(known: np.ndarray, ids: np.ndarray, kind: str) -> np.ndarray:
    position = np.searchsorted(known, ids).clip(max=max(len(known) - 1, 0))
    missing = known[position] != ids if len(known) else np.ones(len(ids), bool)
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} rows have a {kind} id outside the model's index "
            f"(e.g. {ids[missing][0]}); build the RatingIndex from every split"
        )
    return position.astype(np.int64)
