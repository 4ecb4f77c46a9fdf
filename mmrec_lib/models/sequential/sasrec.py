"""SASRec (Kang & McAuley 2018): self-attentive sequential recommendation.

Input of position t: item embedding (scaled by sqrt(d)) + learned positional embedding
(+ the auxiliary embedding k_v of paper B's SASRec+, see :mod:`.auxiliary`), dropout, padding
zeroed. Then ``n_blocks`` causal blocks, each
    Q = LayerNorm(H);  H = Q + SelfAttention(Q, H, H)   (position t sees positions <= t)
    H = LayerNorm(H);  H = H + FFN(H),  FFN = Linear -> ReLU -> Dropout -> Linear -> Dropout
and a final LayerNorm. The item at position t + 1 is scored by r = <F_t, M_j> with the
*shared* item embeddings M. The original trains, at every position, with binary
cross-entropy of the true next item against one sampled unseen item (``loss="bce"``, what
paper B's reproduction runs use, with dropout 0.2: ``experiments.grids.PAPER_SETTINGS``).
The library default is a softmax over the true item and 128 sampled unseen items per window
(``loss="sampled-softmax"``, :mod:`.losses`) with dropout 0.5, the best of the settings
tried on ML-100K validation NDCG@10 (``benchmarks/sequential_defaults.py``). One attention
head by default (h = 1).
The original trains on each user's last max_len + 1 items (``windows="last"``); by default
(``windows="all"``) a history longer than that is cut into overlapping windows so that every
training transition is used each epoch (:func:`.training_data.training_windows`).
Histories are left-padded with 0; a padding key is hidden from every query but itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from mmrec_lib.data.splits import PADDING_ITEM, SequenceSplit
from mmrec_lib.models.sequential._common import (
    as_long,
    device_of,
    require_positive,
    require_probability,
    with_held_out,
)
from mmrec_lib.models.sequential.auxiliary import AuxiliaryEmbedding
from mmrec_lib.models.sequential.losses import (
    check_loss,
    full_softmax_loss,
    sampled_loss,
    shared_negative_logits,
)
from mmrec_lib.models.sequential.training_data import (
    WINDOWS,
    next_item_targets,
    sample_unseen,
)


class CausalBlock(nn.Module):
    """One SASRec block: causal self-attention and a point-wise ReLU FFN, pre-norm residual."""

    def __init__(self, d: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(d, eps=1e-8)
        self.attention = nn.MultiheadAttention(d, n_heads, dropout=dropout, batch_first=True)
        self.ffn_norm = nn.LayerNorm(d, eps=1e-8)
        self.ffn = nn.Sequential(
            nn.Linear(d, d), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d, d), nn.Dropout(dropout)
        )

    def forward(self, h: torch.Tensor, blocked: torch.Tensor, need_weights: bool = False):
        q = self.attention_norm(h)
        attended, weights = self.attention(
            q, h, h, attn_mask=blocked, need_weights=need_weights, average_attn_weights=False
        )
        h = self.ffn_norm(q + attended)
        return h + self.ffn(h), weights


class SASRec(nn.Module):
    """SASRec; with ``aux_features`` ((n_items + 1, d_aux), row 0 zeros) it is SASRec+."""

    def __init__(
        self,
        n_items: int,
        max_len: int = 50,
        d: int = 50,
        n_blocks: int = 2,
        n_heads: int = 1,
        dropout: float = 0.5,
        loss: str = "sampled-softmax",
        negatives: int = 128,
        gbce_t: float = 0.75,
        windows: str = "all",
        aux_features: Any = None,
    ) -> None:
        super().__init__()
        require_positive(n_items=n_items, max_len=max_len, d=d, n_blocks=n_blocks, n_heads=n_heads)
        require_probability(dropout=dropout)
        if d % n_heads:
            raise ValueError(f"d={d} must be divisible by n_heads={n_heads}")
        check_loss(loss, negatives, gbce_t)
        if windows not in WINDOWS:
            raise ValueError(f"windows must be one of {WINDOWS}, got {windows!r}")
        self.n_items, self.max_len, self.n_heads, self.loss_kind = n_items, max_len, n_heads, loss
        self.negatives, self.gbce_t, self.windows = negatives, gbce_t, windows
        self.item = nn.Embedding(n_items + 1, d, padding_idx=PADDING_ITEM)
        self.register_buffer("held_out", torch.empty(0, dtype=torch.long), persistent=False)
        self.position = nn.Embedding(max_len, d)
        self.aux = None if aux_features is None else AuxiliaryEmbedding(aux_features, d)
        if self.aux is not None and self.aux.features.shape[0] != n_items + 1:
            raise ValueError(
                f"aux_features has {self.aux.features.shape[0]} rows; need n_items + 1 = "
                f"{n_items + 1} (row 0 = padding)"
            )
        self.input_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(CausalBlock(d, n_heads, dropout) for _ in range(n_blocks))
        self.final_norm = nn.LayerNorm(d, eps=1e-8)
        for embedding in (self.item, self.position):  # as the reference code: Xavier normal
            nn.init.xavier_normal_(embedding.weight)
        with torch.no_grad():
            self.item.weight[PADDING_ITEM].zero_()

    @classmethod
    def from_split(cls, split: SequenceSplit, aux: Any = None, **hyperparameters: Any) -> SASRec:
        """SASRec over the split's items; SASRec+ when ``aux`` (the fused item features).
        The split's held-out (cold-start) items are masked from the full-softmax loss."""
        return with_held_out(cls(split.n_items, aux_features=aux, **hyperparameters), split)

    def encode(
        self, histories: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, list]:
        """(batch, L, d) representation F_t of every position, and per-block attention maps."""
        histories = histories[:, -self.max_len :]
        length = histories.shape[1]
        positions = torch.arange(self.max_len - length, self.max_len, device=histories.device)
        h = self.item(histories) * math.sqrt(self.item.embedding_dim) + self.position(positions)
        if self.aux is not None:
            h = h + self.aux(histories)
        keep = (histories != PADDING_ITEM).unsqueeze(-1)
        h = self.input_dropout(h) * keep
        blocked = self._blocked(histories)
        maps = []
        for block in self.blocks:
            h, weights = block(h, blocked, need_weights)
            h = h * keep
            maps.append(weights)
        return self.final_norm(h), maps

    def _blocked(self, histories: torch.Tensor) -> torch.Tensor:
        """(batch * heads, L, L) True where query t may not attend to key s: s > t, or s pad."""
        length = histories.shape[1]
        ones = torch.ones(length, length, dtype=torch.bool, device=histories.device)
        future = torch.triu(ones, diagonal=1)
        padding_key = (histories == PADDING_ITEM).unsqueeze(1) & ~torch.eye(
            length, dtype=torch.bool, device=histories.device
        )
        return (future | padding_key).repeat_interleave(self.n_heads, dim=0)

    def attention_maps(self, histories: torch.Tensor) -> list[torch.Tensor]:
        """Per block, (batch, heads, L, L) attention weights (rows sum to 1 over keys)."""
        return self.encode(histories, need_weights=True)[1]

    def training_batches(
        self, split: SequenceSplit, rng: np.random.Generator, batch_size: int = 128
    ) -> Iterator[tuple]:
        """(inputs, next items, sampled negatives) of the training windows with a target;
        negatives: one per position ("bce"), ``negatives`` per window (sampled losses), or
        none ("ce")."""
        inputs, targets, users = next_item_targets(split, self.max_len, self.windows)
        rows = np.flatnonzero((targets != PADDING_ITEM).any(axis=1))
        seen = split.seen_matrix() if self.loss_kind != "ce" else None
        shape = (self.max_len,) if self.loss_kind == "bce" else (self.negatives,)
        device = device_of(self)
        order = rows[rng.permutation(len(rows))]
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            batch = [inputs[chosen], targets[chosen]]
            if seen is not None:
                batch.append(sample_unseen(seen, users[chosen], shape, rng, split.held_out_items))
            yield tuple(as_long(a, device) for a in batch)

    def loss(self, batch: tuple) -> torch.Tensor:
        inputs, targets = batch[:2]
        features, _ = self.encode(inputs)
        valid = targets != PADDING_ITEM
        if self.loss_kind == "ce":
            logits = features[valid] @ self.item.weight.T
            return full_softmax_loss(logits, targets[valid], self.held_out)
        positive = (features * self.item(targets)).sum(-1)[valid]
        if self.loss_kind == "bce":
            negative = (features * self.item(batch[2])).sum(-1)[valid]
        else:
            negative = shared_negative_logits(features, self.item(batch[2]))[valid]
        return sampled_loss(self.loss_kind, positive, negative, self.n_items, self.gbce_t)

    def score(self, histories: torch.Tensor, candidates: torch.Tensor, users: Any = None):
        """(n, C) scores of candidate items as the next item after each history."""
        last = self.encode(histories)[0][:, -1]
        return (self.item(candidates) @ last.unsqueeze(-1)).squeeze(-1)

    def score_all(self, histories: torch.Tensor, users: Any = None) -> torch.Tensor:
        """(n, n_items + 1) scores of every item index (column 0 is padding)."""
        return self.encode(histories)[0][:, -1] @ self.item.weight.T
