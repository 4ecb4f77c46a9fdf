"""PopRec: rank items by how often they were interacted with in training (a counter)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mmrec_lib.data.splits import SequenceSplit


class PopRec:
    """Every user gets the same ranking: items by their number of training interactions."""

    def __init__(self) -> None:
        self.counts: np.ndarray | None = None

    @classmethod
    def from_split(cls, split: SequenceSplit, aux: Any = None) -> PopRec:
        """The counter of the split's training interactions (PopRec reads no item features)."""
        return cls().fit(split)

    def fit(self, split: SequenceSplit) -> PopRec:
        self.counts = np.bincount(split.train_items, minlength=split.n_items + 1)
        return self

    def score(self, histories: Any, candidates: Any, users: Any = None):
        """(n, C) training counts of the candidates (histories and users are ignored)."""
        import torch

        counts = torch.as_tensor(self._fitted(), dtype=torch.float32, device=candidates.device)
        return counts[candidates]

    def score_all(self, histories: Any, users: Any = None):
        """(n, n_items + 1) training counts of every item, the same row for each user."""
        import torch

        counts = torch.as_tensor(self._fitted(), dtype=torch.float32, device=histories.device)
        return counts.expand(len(histories), -1)

    def _fitted(self) -> np.ndarray:
        if self.counts is None:
            raise ValueError("PopRec is not fitted: call fit(split) first")
        return self.counts
