"""TransRec (He, Kang & McAuley 2017): users as translations between consecutive items.

Items are points gamma_j in the unit ball of a "transition space"; user u moving on from
item i lands near gamma_i + t + t_u (t global, t_u personal). The next item j scores
    p(j | u, i) = beta_j - || gamma_i + t + t_u - gamma_j ||_2,
trained with the BPR loss on (previous item -> next item) transitions against an unseen
item. ``nn.Embedding(max_norm=1)`` keeps every looked-up gamma in the unit ball.
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
from mmrec_lib.models.sequential.training_data import sample_unseen, transitions

_EPS = 1e-12  # keeps the distance differentiable where it is zero


class TransRec(nn.Module):
    def __init__(self, n_users: int, n_items: int, d: int = 64, init_std: float = 0.1) -> None:
        super().__init__()
        require_positive(n_users=n_users, n_items=n_items, d=d)
        self.gamma = nn.Embedding(n_items + 1, d, padding_idx=0, max_norm=1.0)
        self.beta = nn.Embedding(n_items + 1, 1, padding_idx=0)
        self.t = nn.Parameter(torch.zeros(d))
        self.t_user = nn.Embedding(n_users, d)
        nn.init.normal_(self.gamma.weight, std=init_std)
        nn.init.zeros_(self.beta.weight)
        nn.init.zeros_(self.t_user.weight)
        with torch.no_grad():
            self.gamma.weight[0].zero_()

    @classmethod
    def from_split(cls, split: SequenceSplit, aux: Any = None, **hyperparameters: Any) -> TransRec:
        """A TransRec sized for the split's users and items (it reads no item features)."""
        return cls(split.n_users, split.n_items, **hyperparameters)

    def training_batches(
        self, split: SequenceSplit, rng: np.random.Generator, batch_size: int = 1024
    ) -> Iterator[tuple]:
        """(users, previous, next, negative) over every training transition, shuffled."""
        users, previous, following = transitions(split)
        seen = split.seen_matrix()
        device = device_of(self)
        order = rng.permutation(len(users))
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            negatives = sample_unseen(seen, users[chosen], (1,), rng, split.held_out_items)
            candidates = np.column_stack([following[chosen], negatives])
            yield tuple(as_long(a, device) for a in (users[chosen], previous[chosen], candidates))

    def loss(self, batch: tuple) -> torch.Tensor:
        users, previous, candidates = batch
        scores = self._transition_scores(users, previous, candidates)
        return -F.logsigmoid(scores[:, 0] - scores[:, 1]).mean()

    def score(self, histories: torch.Tensor, candidates: torch.Tensor, users: Any = None):
        """Scores of candidates after each user's last history item (the rightmost column)."""
        require_users(users, "TransRec")
        return self._transition_scores(
            as_long(users, histories.device), histories[:, -1], candidates
        )

    def score_all(self, histories: torch.Tensor, users: Any = None) -> torch.Tensor:
        require_users(users, "TransRec")
        gamma = self.gamma(torch.arange(self.gamma.num_embeddings, device=histories.device))
        landing = gamma[histories[:, -1]] + self.t + self.t_user(as_long(users, histories.device))
        distance = torch.cdist(landing, gamma)
        return self.beta.weight.T - distance

    def _transition_scores(
        self, users: torch.Tensor, previous: torch.Tensor, candidates: torch.Tensor
    ) -> torch.Tensor:
        # One lookup for all items: max_norm renormalises in place, once per forward.
        gamma = self.gamma(torch.cat([previous.unsqueeze(1), candidates], dim=1))
        landing = gamma[:, 0] + self.t + self.t_user(users)
        squared = ((landing.unsqueeze(1) - gamma[:, 1:]) ** 2).sum(-1)
        return self.beta(candidates).squeeze(-1) - torch.sqrt(squared + _EPS)
