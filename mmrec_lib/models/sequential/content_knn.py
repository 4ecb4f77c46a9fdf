"""Content kNN: an item's score is the cosine similarity of its content to the user's history.

No training and no one else's interactions: the user's profile is the mean of the unit
vectors of their history items' fused features (text, image, tabular, as SASRec+ reads
them), and an item scores the mean cosine similarity of its features to those items. An item
nobody has interacted with ranks as readily as any other: the cold-start baseline of the
chapter beyond both papers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmrec_lib.data.splits import PADDING_ITEM, SequenceSplit


class ContentKNN:
    """Mean cosine similarity of each candidate's item features to the history's items."""

    def __init__(self, features: Any) -> None:
        import torch

        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or len(features) < 2:
            raise ValueError(f"features must be (n_items + 1, d), got shape {features.shape}")
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        unit = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)
        unit[PADDING_ITEM] = 0.0  # padding adds nothing to a profile
        self.unit = torch.as_tensor(unit)

    @classmethod
    def from_split(cls, split: SequenceSplit, aux: Any = None) -> ContentKNN:
        """Over the split's items; ``aux``: the fused item features, (n_items + 1, d)."""
        if aux is None or len(aux) != split.n_items + 1:
            raise ValueError("Content kNN needs the fused item features, one row per item + 1")
        return cls(aux)

    def _profiles(self, histories: Any):
        """(n, d) mean unit feature vector of each history's items."""
        unit = self.unit.to(histories.device)
        counts = (histories != PADDING_ITEM).sum(1, keepdim=True).clamp(min=1)
        return unit[histories].sum(1) / counts

    def score(self, histories: Any, candidates: Any, users: Any = None):
        """(n, C) mean cosine similarity of each candidate to its user's history items."""
        unit = self.unit.to(candidates.device)
        return (unit[candidates] @ self._profiles(histories).unsqueeze(-1)).squeeze(-1)

    def score_all(self, histories: Any, users: Any = None):
        """(n, n_items + 1) the same for every item index (column 0 is padding)."""
        return self._profiles(histories) @ self.unit.to(histories.device).T
