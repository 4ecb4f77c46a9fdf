"""The id-aligned feature table every item modality is stored in."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True, eq=False)
class ItemFeatures:
    """Features of items, row ``i`` belonging to item ``ids[i]``.

    ids: unique item ids (any hashable scalar type, usually int64).
    matrix: float32 array with one row per id; 2-D for vectors, 3-D for token sequences
        (items x tokens x hidden, e.g. a transformer's last hidden state).
    name: what the features are, e.g. ``"text:minilm"``.
    mask: True where the item had the modality, False where a fallback (zero row) was used;
        all True when omitted.
    columns: optional names of the feature columns (tabular tables), one per ``matrix.shape[1]``.

    Collect the modalities of a dataset in one plain ``dict[str, ItemFeatures]``.
    """

    ids: np.ndarray
    matrix: np.ndarray
    name: str
    mask: np.ndarray | None = None
    columns: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids)
        matrix = np.asarray(self.matrix, dtype=np.float32)
        if ids.ndim != 1:
            raise ValueError(f"{self.name}: ids must be 1-D, got shape {ids.shape}")
        if matrix.ndim < 2 or matrix.shape[0] != len(ids):
            raise ValueError(
                f"{self.name}: matrix needs one row per id ({len(ids)}), got shape {matrix.shape}"
            )
        if not pd.Index(ids).is_unique:
            raise ValueError(f"{self.name}: ids must be unique")
        mask = np.ones(len(ids), bool) if self.mask is None else np.asarray(self.mask, bool)
        if mask.shape != ids.shape:
            raise ValueError(f"{self.name}: mask shape {mask.shape} does not match ids {ids.shape}")
        if self.columns is not None and len(self.columns) != matrix.shape[1]:
            raise ValueError(
                f"{self.name}: {len(self.columns)} column names for {matrix.shape[1]} columns"
            )
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "mask", mask)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        """Size of the last feature axis (the embedding width)."""
        return int(self.matrix.shape[-1])

    @property
    def n_missing(self) -> int:
        """Number of items that got the fallback row."""
        return int((~self.mask).sum())

    @property
    def coverage(self) -> float:
        """Share of items that had the modality (1.0 for an empty table)."""
        return float(self.mask.mean()) if len(self) else 1.0

    def align(self, ids: np.ndarray | list) -> ItemFeatures:
        """The same features reordered to ``ids``; unknown ids get zero rows with mask False."""
        ids = np.asarray(ids)
        position = pd.Index(self.ids).get_indexer(ids)
        found = position >= 0
        matrix = np.zeros((len(ids), *self.matrix.shape[1:]), np.float32)
        matrix[found] = self.matrix[position[found]]
        mask = np.zeros(len(ids), bool)
        mask[found] = self.mask[position[found]]
        return dataclasses.replace(self, ids=ids, matrix=matrix, mask=mask)

    def __repr__(self) -> str:
        return (
            f"ItemFeatures({self.name!r}: {len(self)} items x {self.matrix.shape[1:]}, "
            f"coverage {self.coverage:.1%})"
        )
