"""BERT4Rec (Sun et al. 2019) and KeBERT4Rec (Fischer et al. 2020).

Input of position t: item embedding (scaled by sqrt(d) and Xavier-initialised as in SASRec;
the original uses N(0, 0.02) without scaling, which learned far more slowly here) + learned
positional embedding (+ an auxiliary embedding, see :mod:`.auxiliary`: keywords for KeBERT4Rec,
fused features for paper B's BERT4Rec+), then LayerNorm and dropout. ``n_blocks``
bidirectional post-norm blocks
    H = LayerNorm(H + Dropout(MultiHead(H)));  H = LayerNorm(H + Dropout(FFN(H)))
with FFN = Linear(d, 4d) -> GELU -> Linear(4d, d); padding keys are hidden. The output
layer is P(v) = softmax(GELU(h W + b) E^T + b_O) with the shared item embeddings E.

Training is the Cloze task (:func:`cloze_mask`): in each training sequence, exactly
max(1, round(mask_prob * length)) randomly chosen items are replaced by the [MASK] token
(index n_items + 1) and predicted (labels elsewhere are 0 = ignored); with probability
``last_mask_prob`` a sequence instead has only its last item masked, which matches the
prediction task; ``copies`` masks each sequence several times per epoch. The training
sequences are the whole history cut into max_len windows (``windows="all"``, as the original
code's sliding window does), or each user's last max_len items (``"last"``). Prediction
appends [MASK] after the user's last max_len - 1 items. The masked items are predicted with
a softmax over all items (``loss="ce"``, the original); the other losses of :mod:`.losses`
are one parameter away.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

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
from mmrec_lib.models.sequential.training_data import WINDOWS, sample_unseen, training_windows


def cloze_mask(
    sequences: np.ndarray,
    mask_prob: float,
    mask_token: int,
    rng: np.random.Generator,
    last_mask_prob: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) for left-padded (batch, L) sequences; padding is never masked.

    Each row with n real items gets exactly max(1, round(mask_prob * n)) masked positions,
    chosen uniformly among its real items (or, with probability last_mask_prob, only its
    last item). inputs has mask_token there; labels has the original item there, 0 elsewhere.
    """
    real = sequences != PADDING_ITEM
    lengths = real.sum(1)
    n_masked = np.where(lengths > 0, np.maximum(1, np.rint(mask_prob * lengths)), 0)
    keys = np.where(real, rng.random(sequences.shape), np.inf)
    order_of_key = np.argsort(np.argsort(keys, axis=1), axis=1)
    masked = order_of_key < n_masked[:, None]
    last_only = (rng.random(len(sequences)) < last_mask_prob) & (lengths > 0)
    masked[last_only] = False
    masked[last_only, -1] = True
    inputs = np.where(masked, mask_token, sequences)
    labels = np.where(masked, sequences, PADDING_ITEM)
    return inputs, labels


class BidirectionalBlock(nn.Module):
    """One BERT block: multi-head self-attention and a GELU FFN, post-norm residuals."""

    def __init__(self, d: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(d, n_heads, dropout=dropout, batch_first=True)
        self.attention_norm = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.ffn_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, padding: torch.Tensor, need_weights: bool = False):
        attended, weights = self.attention(
            h, h, h, key_padding_mask=padding, need_weights=need_weights,
            average_attn_weights=False,
        )  # fmt: skip
        h = self.attention_norm(h + self.dropout(attended))
        return self.ffn_norm(h + self.dropout(self.ffn(h))), weights


class BERT4Rec(nn.Module):
    """BERT4Rec; with ``aux_features`` ((n_items + 1, d_aux), row 0 zeros) it is BERT4Rec+."""

    def __init__(
        self,
        n_items: int,
        max_len: int = 50,
        d: int = 64,
        n_blocks: int = 2,
        n_heads: int = 2,
        dropout: float = 0.1,
        mask_prob: float = 0.2,
        last_mask_prob: float = 0.1,
        copies: int = 1,
        loss: str = "ce",
        negatives: int = 128,
        gbce_t: float = 0.75,
        windows: str = "all",
        aux_features: Any = None,
    ) -> None:
        super().__init__()
        require_positive(
            n_items=n_items, max_len=max_len, d=d, n_blocks=n_blocks, n_heads=n_heads, copies=copies
        )
        require_probability(dropout=dropout)
        if not 0 <= last_mask_prob <= 1:
            raise ValueError(f"last_mask_prob must lie in [0, 1], got {last_mask_prob!r}")
        if not 0 < mask_prob < 1:
            raise ValueError(f"mask_prob must lie in (0, 1), got {mask_prob!r}")
        if max_len < 2:
            raise ValueError(f"max_len must be >= 2 (history + [MASK]), got {max_len}")
        if d % n_heads:
            raise ValueError(f"d={d} must be divisible by n_heads={n_heads}")
        if windows not in WINDOWS:
            raise ValueError(f"windows must be one of {WINDOWS}, got {windows!r}")
        check_loss(loss, negatives, gbce_t)
        self.n_items, self.max_len, self.windows = n_items, max_len, windows
        self.loss_kind, self.negatives, self.gbce_t = loss, negatives, gbce_t
        self.mask_prob, self.last_mask_prob, self.copies = mask_prob, last_mask_prob, copies
        self.mask_token = n_items + 1
        self.item = nn.Embedding(n_items + 2, d, padding_idx=PADDING_ITEM)
        self.register_buffer("held_out", torch.empty(0, dtype=torch.long), persistent=False)
        self.position = nn.Embedding(max_len, d)
        self.aux = None if aux_features is None else AuxiliaryEmbedding(aux_features, d)
        if self.aux is not None and self.aux.features.shape[0] != n_items + 1:
            raise ValueError(
                f"auxiliary features have {self.aux.features.shape[0]} rows; need n_items + 1 "
                f"= {n_items + 1} (row 0 = padding)"
            )
        self.input_norm = nn.LayerNorm(d)
        self.input_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            BidirectionalBlock(d, n_heads, dropout) for _ in range(n_blocks)
        )
        self.output = nn.Linear(d, d)
        self.output_bias = nn.Parameter(torch.zeros(n_items + 2))
        for embedding in (self.item, self.position):  # Xavier normal, as in SASRec
            nn.init.xavier_normal_(embedding.weight)
        with torch.no_grad():
            self.item.weight[PADDING_ITEM].zero_()

    @classmethod
    def from_split(cls, split: SequenceSplit, aux: Any = None, **hyperparameters: Any):
        """The model over the split's items; BERT4Rec+ (or KeBERT4Rec's keywords) with ``aux``.
        The split's held-out (cold-start) items are masked from the full-softmax loss."""
        return with_held_out(cls(split.n_items, aux_features=aux, **hyperparameters), split)

    def encode(self, inputs: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, list]:
        """(batch, L, d) hidden states of token sequences (items, [MASK], padding)."""
        inputs = inputs[:, -self.max_len :]
        length = inputs.shape[1]
        positions = torch.arange(self.max_len - length, self.max_len, device=inputs.device)
        h = self.item(inputs) * math.sqrt(self.item.embedding_dim) + self.position(positions)
        if self.aux is not None:
            h = h + self.aux(inputs)
        h = self.input_dropout(self.input_norm(h))
        padding = inputs == PADDING_ITEM
        maps = []
        for block in self.blocks:
            h, weights = block(h, padding, need_weights)
            maps.append(weights)
        return h, maps

    def prediction_inputs(self, histories: torch.Tensor) -> torch.Tensor:
        """The last max_len - 1 history items followed by [MASK]."""
        mask = torch.full_like(histories[:, :1], self.mask_token)
        return torch.cat([histories[:, -(self.max_len - 1) :], mask], dim=1)

    def attention_maps(self, histories: torch.Tensor) -> list[torch.Tensor]:
        """Per block, (batch, heads, L, L) attention weights on the prediction input."""
        return self.encode(self.prediction_inputs(histories), need_weights=True)[1]

    def _transform(self, h: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.output(h))

    def training_batches(
        self, split: SequenceSplit, rng: np.random.Generator, batch_size: int = 128
    ) -> Iterator[tuple]:
        """(masked inputs, labels) of the training windows, shuffled: each user's last max_len
        items (``windows="last"``), or the whole history cut into max_len windows ("all").

        Each window appears ``copies`` times per epoch, masked afresh each time (the
        original implementation's "dupe factor"). Losses other than "ce" add sampled unseen
        items: one per position ("bce") or ``negatives`` per window.
        """
        step = None if self.windows == "last" else self.max_len
        sequences, users = training_windows(split, self.max_len, step)
        seen = split.seen_matrix() if self.loss_kind != "ce" else None
        shape = (self.max_len,) if self.loss_kind == "bce" else (self.negatives,)
        device = device_of(self)
        order = rng.permutation(np.tile(np.arange(len(sequences)), self.copies))
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            batch = list(
                cloze_mask(
                    sequences[chosen], self.mask_prob, self.mask_token, rng, self.last_mask_prob
                )
            )
            if seen is not None:
                batch.append(sample_unseen(seen, users[chosen], shape, rng, split.held_out_items))
            yield tuple(as_long(a, device) for a in batch)

    def loss(self, batch: tuple) -> torch.Tensor:
        inputs, labels = batch[:2]
        hidden, _ = self.encode(inputs)
        masked = labels != PADDING_ITEM
        if self.loss_kind == "ce":
            logits = self._transform(hidden[masked]) @ self.item.weight[: self.n_items + 1].T
            logits = logits + self.output_bias[: self.n_items + 1]
            return full_softmax_loss(logits, labels[masked], self.held_out)
        output = self._transform(hidden)
        positive = (output * self.item(labels)).sum(-1) + self.output_bias[labels]
        sampled = batch[2]
        if self.loss_kind == "bce":
            negative = (output * self.item(sampled)).sum(-1) + self.output_bias[sampled]
        else:
            negative = shared_negative_logits(output, self.item(sampled))
            negative = negative + self.output_bias[sampled].unsqueeze(1)
        return sampled_loss(
            self.loss_kind, positive[masked], negative[masked], self.n_items, self.gbce_t
        )

    def score(self, histories: torch.Tensor, candidates: torch.Tensor, users: Any = None):
        """(n, C) scores of candidate items at the [MASK] appended to each history."""
        last = self._transform(self.encode(self.prediction_inputs(histories))[0][:, -1])
        scores = (self.item(candidates) @ last.unsqueeze(-1)).squeeze(-1)
        return scores + self.output_bias[candidates]

    def score_all(self, histories: torch.Tensor, users: Any = None) -> torch.Tensor:
        """(n, n_items + 1) scores of every item index (column 0 is padding)."""
        last = self._transform(self.encode(self.prediction_inputs(histories))[0][:, -1])
        n = self.n_items + 1
        return last @ self.item.weight[:n].T + self.output_bias[:n]


class KeBERT4Rec(BERT4Rec):
    """BERT4Rec whose auxiliary input is a multi-hot keyword (genre) vector per item."""

    def __init__(self, n_items: int, keywords: Any = None, **hyperparameters: Any) -> None:
        if keywords is None:
            raise ValueError("KeBERT4Rec needs keywords: the (n_items + 1, n_keywords) multi-hot")
        super().__init__(n_items, aux_features=keywords, **hyperparameters)

    @classmethod
    def from_split(cls, split: SequenceSplit, aux: Any = None, **hyperparameters: Any):
        """KeBERT4Rec over the split's items; ``aux`` is the keyword multi-hot."""
        return with_held_out(cls(split.n_items, keywords=aux, **hyperparameters), split)
