"""Ranking metrics: the rank of each user's held-out item, then HR@k, NDCG@k, MRR and MAP.

Two evaluation protocols, both giving one value per user (aggregate afterwards):

- sampled: scores of shape (n_users, 1 + N); column 0 is the positive, the rest are the
  user's stored negatives (``SequenceSplit.negatives``).
- full: scores of shape (n_users, n_items) over the whole catalogue, the column of each
  user's positive, and an exclusion mask (``SequenceSplit.seen_matrix()``, or a boolean
  array) of items that are not candidates; the positive is never excluded.

Ties are broken pessimistically: a candidate scoring exactly as high as the positive counts
as ranked above it. A model that scores every item alike therefore gets the worst rank, not
a perfect one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse


def ranks_from_scores(
    scores: Any, positive: ArrayLike | None = None, exclude: Any = None
) -> np.ndarray:
    """(n_users,) 0-based rank of each user's positive among the candidates.

    rank = number of non-excluded candidates, other than the positive, whose score is >= the
    positive's score (pessimistic ties); rank 0 is the top.

    scores: (n_users, n_candidates) numpy array or torch tensor; a tensor is ranked on its
        own device and only the ranks come back, as numpy.
    positive: (n_users,) column of each user's positive; None means column 0 (sampled).
    exclude: candidates to leave out: a scipy sparse matrix or a boolean array / tensor of
        the scores' shape. For large catalogues, evaluate batches of users and concatenate.
    """
    arrays = _Arrays(scores)
    scores = arrays.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] == 0:
        raise ValueError(f"scores must be (n_users, n_candidates), got {tuple(scores.shape)}")
    if bool((scores != scores).any()):
        raise ValueError("scores contain NaN; a NaN cannot be ranked")
    n_users, n_candidates = scores.shape
    rows = arrays.asarray(np.arange(n_users))
    columns = arrays.asarray(_positive_columns(positive, n_users, n_candidates))
    positive_scores = scores[rows, columns]

    at_least = scores >= positive_scores[:, None]
    if exclude is not None and not sparse.issparse(exclude):
        dense = arrays.asarray(exclude, dtype="bool")
        _check_shape(dense.shape, scores.shape)
        at_least &= ~dense
    at_least[rows, columns] = False
    ranks = at_least.sum(1)
    if exclude is not None and sparse.issparse(exclude):
        ranks = ranks - _excluded_at_least(arrays, scores, columns, positive_scores, exclude)
    return _to_numpy(ranks).astype(np.int64)


def hr_at_k(ranks: ArrayLike, k: int) -> np.ndarray:
    """Per-user hit ratio: 1.0 where the positive is among the top k (rank < k), else 0.0."""
    return (_ranks(ranks) < _cutoff(k)).astype(np.float64)


def ndcg_at_k(ranks: ArrayLike, k: int) -> np.ndarray:
    """Per-user NDCG@k with one relevant item: 1 / log2(rank + 2) if rank < k, else 0."""
    ranks = _ranks(ranks)
    return np.where(ranks < _cutoff(k), 1.0 / np.log2(ranks + 2.0), 0.0)


def mrr(ranks: ArrayLike) -> np.ndarray:
    """Per-user reciprocal rank 1 / (rank + 1); its mean over users is the MRR."""
    return 1.0 / (_ranks(ranks) + 1.0)


def map_at_k(ranks: ArrayLike, k: int | None = None) -> np.ndarray:
    """Per-user average precision with one relevant item, counting only the top k.

    With a single relevant item, precision@n is non-zero only at n = rank + 1, where it is
    1 / (rank + 1), and the average over the one relevant item is that value. So AP equals
    the reciprocal rank, and paper B's MAP (k=None: the full candidate list, 101 items in
    the sampled protocol) equals MRR. With k, users whose item falls outside the top k get 0.
    """
    reciprocal = mrr(ranks)
    if k is None:
        return reciprocal
    return np.where(_ranks(ranks) < _cutoff(k), reciprocal, 0.0)


def ranking_metrics(ranks: ArrayLike, ks: Iterable[int] = (1, 5, 10)) -> dict[str, np.ndarray]:
    """Per-user arrays keyed "HR@k" and "NDCG@k" for each k, plus "MAP" and "MRR"."""
    ks = [_cutoff(k) for k in ks]
    if not ks:
        raise ValueError("ks is empty; pass at least one cutoff, e.g. (1, 5, 10)")
    ranks = _ranks(ranks)
    metrics = {f"HR@{k}": hr_at_k(ranks, k) for k in ks}
    metrics.update({f"NDCG@{k}": ndcg_at_k(ranks, k) for k in ks})
    metrics["MAP"] = map_at_k(ranks)
    metrics["MRR"] = mrr(ranks)
    return metrics


class _Arrays:
    """Array creation for the library of ``like``: numpy, or torch on like's device."""

    def __init__(self, like: Any) -> None:
        self.torch = _torch_if_tensor(like)
        self.module = self.torch or np
        self.device = like.device if self.torch else None

    def asarray(self, values: Any, dtype: str | None = None) -> Any:
        if self.torch is None:
            return np.asarray(_to_numpy(values), dtype=dtype)
        torch_dtype = getattr(self.torch, dtype) if dtype else None
        return self.torch.as_tensor(values, dtype=torch_dtype, device=self.device)


def _excluded_at_least(
    arrays: _Arrays, scores: Any, columns: Any, positive_scores: Any, exclude: Any
) -> Any:
    """Per user, how many excluded candidates (not the positive) score >= the positive."""
    mask = sparse.csr_matrix(exclude, dtype=bool, copy=True)
    _check_shape(mask.shape, scores.shape)
    mask.sum_duplicates()
    mask.eliminate_zeros()
    n_users = scores.shape[0]
    rows = arrays.asarray(np.repeat(np.arange(n_users), np.diff(mask.indptr)))
    cols = arrays.asarray(mask.indices.astype(np.int64))
    above = (scores[rows, cols] >= positive_scores[rows]) & (cols != columns[rows])
    return arrays.module.bincount(rows[above], minlength=n_users)


def _positive_columns(positive: ArrayLike | None, n_users: int, n_candidates: int) -> np.ndarray:
    if positive is None:
        return np.zeros(n_users, dtype=np.int64)
    positive = _to_numpy(positive)
    if positive.shape != (n_users,) or not np.issubdtype(positive.dtype, np.integer):
        raise ValueError(
            f"positive must be ({n_users},) integer column indices, "
            f"got shape {positive.shape} dtype {positive.dtype}"
        )
    if n_users and (positive.min() < 0 or positive.max() >= n_candidates):
        raise ValueError(f"positive column indices must lie in [0, {n_candidates})")
    return positive.astype(np.int64)


def _ranks(ranks: ArrayLike) -> np.ndarray:
    ranks = _to_numpy(ranks)
    if ranks.ndim != 1 or not np.issubdtype(ranks.dtype, np.integer):
        raise ValueError(
            f"ranks must be a 1-D integer array (from ranks_from_scores), "
            f"got shape {ranks.shape} dtype {ranks.dtype}"
        )
    if ranks.size and ranks.min() < 0:
        raise ValueError("ranks are 0-based and cannot be negative")
    return ranks


def _cutoff(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _check_shape(mask_shape: Any, scores_shape: Any) -> None:
    if tuple(mask_shape) != tuple(scores_shape):
        raise ValueError(
            f"exclude has shape {tuple(mask_shape)} but scores {tuple(scores_shape)}; "
            "they must match (one row per user, one column per candidate)"
        )


def _torch_if_tensor(value: Any) -> Any:
    """The torch module when value is a tensor, else None; never imports torch itself."""
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(value, torch.Tensor) else None


def _to_numpy(values: Any) -> np.ndarray:
    if _torch_if_tensor(values) is not None:
        return values.detach().cpu().numpy()
    return np.asarray(values)
