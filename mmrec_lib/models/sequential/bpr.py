"""BPR-MF (Rendle et al. 2009): matrix factorisation trained with pairwise ranking.

x_ui = <w_u, h_i>; for a training pair (u, i) and an item j the user has not interacted
with, maximise ln sigma(x_ui - x_uj) (weight decay plays the role of the Gaussian prior).
Not sequential: the history is ignored when scoring.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mmrec_lib.data.splits import SequenceSplit
from mmrec_lib.models.sequential._common import as_long, device_of, require_positive, require_users
from mmrec_lib.models.sequential.training_data import sample_unseen, user_item_pairs


class BPR(nn.Module):
    def __init__(self, n_users: int, n_items: int, d: int = 64, init_std: float = 0.1) -> None:
        super().__init__()
        require_positive(n_users=n_users, n_items=n_items, d=d)
        self.user = nn.Embedding(n_users, d)
        self.item = nn.Embedding(n_items + 1, d, padding_idx=0)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)
        with torch.no_grad():
            self.item.weight[0].zero_()

    @classmethod
    def from_split(cls, split: SequenceSplit, aux: Any = None, **hyperparameters: Any) -> BPR:
        """A BPR sized for the split's users and items (it reads no item features)."""
        return cls(split.n_users, split.n_items, **hyperparameters)

    def training_batches(
        self, split: SequenceSplit, rng: np.random.Generator, batch_size: int = 1024
    ) -> Iterator[tuple]:
        """(users, positives, negatives) over every training interaction, in random order."""
        users, items = user_item_pairs(split)
        seen = split.seen_matrix()
        device = device_of(self)
        order = rng.permutation(len(users))
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            negatives = sample_unseen(seen, users[chosen], (), rng, split.held_out_items)
            yield tuple(as_long(a, device) for a in (users[chosen], items[chosen], negatives))

    def loss(self, batch: tuple) -> torch.Tensor:
        users, positives, negatives = batch
        w = self.user(users)
        difference = (w * self.item(positives)).sum(-1) - (w * self.item(negatives)).sum(-1)
        return -F.logsigmoid(difference).mean()

    def score(self, histories: Any, candidates: torch.Tensor, users: Any = None) -> torch.Tensor:
        require_users(users, "BPR")
        w = self.user(as_long(users, candidates.device))
        return (self.item(candidates) * w.unsqueeze(1)).sum(-1)

    def score_all(self, histories: torch.Tensor, users: Any = None) -> torch.Tensor:
        require_users(users, "BPR")
        return self.user(as_long(users, histories.device)) @ self.item.weight.T
