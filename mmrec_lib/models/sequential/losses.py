"""Next-item losses of the transformer recommenders (SASRec and BERT4Rec, with or without "+").

Each target position scores the true item against other items; the losses differ in which
items and how (``LOSSES``):

- ``"bce"``: binary cross-entropy of the true item against one sampled unseen item per
  position, the positive and the negative terms averaged separately (SASRec, Kang & McAuley
  2018).
- ``"ce"``: softmax cross-entropy over all items (BERT4Rec, Sun et al. 2019; for SASRec,
  Klenitskiy & Vasilev 2023, "Turning Dross Into Gold Loss: is BERT4Rec really better than
  SASRec?").
- ``"sampled-softmax"``: softmax cross-entropy over the true item and ``negatives`` sampled
  unseen items, shared by the positions of a sequence (Klenitskiy & Vasilev 2023, section 3).
- ``"gbce"``: generalised binary cross-entropy (Petrov & Macdonald 2023, gSASRec, eq. 9): with
  k sampled negatives the positive's probability is raised to the power
  beta = alpha (t (1 - 1/alpha) + 1/alpha), alpha = k / (n_items - 1), which undoes the
  overconfidence negative sampling teaches; t = 0 is plain BCE over k negatives, t = 1 the
  fully calibrated case. The loss is the mean over the k + 1 terms, as in the paper.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from mmrec_lib.data.splits import PADDING_ITEM

LOSSES = ("bce", "ce", "sampled-softmax", "gbce")
SAMPLED = ("sampled-softmax", "gbce")
"""The losses that draw ``negatives`` items per sequence."""


def check_loss(loss: str, negatives: int, gbce_t: float) -> None:
    """Raise ValueError for an unknown loss or an unusable negatives count or gBCE t."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if isinstance(negatives, bool) or not isinstance(negatives, int) or negatives < 1:
        raise ValueError(f"negatives must be a positive integer, got {negatives!r}")
    if not 0 <= gbce_t <= 1:
        raise ValueError(f"gbce_t must lie in [0, 1], got {gbce_t!r}")


def gbce_beta(negatives: int, n_items: int, t: float) -> float:
    """gSASRec's beta for k = ``negatives`` uniform negatives out of n_items - 1 items."""
    alpha = min(negatives / max(n_items - 1, 1), 1.0)
    return alpha * (t * (1 - 1 / alpha) + 1 / alpha)


def full_softmax_loss(
    logits: torch.Tensor, targets: torch.Tensor, held_out: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy over all items; logits (n, n_items + 1), column 0 (padding) excluded,
    and the ``held_out`` item indices (cold-start items: no gradient reaches them)."""
    logits = logits.clone()
    logits[:, PADDING_ITEM] = -torch.inf
    if held_out is not None and len(held_out):
        logits[:, held_out] = -torch.inf
    return F.cross_entropy(logits, targets)


def sampled_loss(
    loss: str, positive: torch.Tensor, negative: torch.Tensor, n_items: int, gbce_t: float
) -> torch.Tensor:
    """``loss`` ("bce", "sampled-softmax" or "gbce") from the logits of the true items,
    positive (n,), and of the sampled items, negative (n,) for "bce" or (n, k)."""
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(
            positive, torch.ones_like(positive)
        ) + F.binary_cross_entropy_with_logits(negative, torch.zeros_like(negative))
    if loss == "sampled-softmax":
        logits = torch.cat([positive.unsqueeze(1), negative], dim=1)
        first = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
        return F.cross_entropy(logits, first)
    if loss == "gbce":
        beta = gbce_beta(negative.shape[1], n_items, gbce_t)
        terms = beta * F.softplus(-positive) + F.softplus(negative).sum(1)
        return (terms / (negative.shape[1] + 1)).mean()
    raise ValueError(f"sampled_loss takes bce, sampled-softmax or gbce, got {loss!r}")


def shared_negative_logits(hidden: torch.Tensor, negative_embeddings: torch.Tensor) -> torch.Tensor:
    """(batch, L, k) logits of each sequence's k negatives, (batch, k, d), at its L positions."""
    return torch.bmm(hidden, negative_embeddings.transpose(1, 2))
