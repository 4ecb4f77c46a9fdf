"""Evaluation metrics: rating errors (paper A) and per-user ranking metrics (paper B)."""

from mmrec_lib.metrics.ranking import (
    hr_at_k,
    map_at_k,
    mrr,
    ndcg_at_k,
    ranking_metrics,
    ranks_from_scores,
)
from mmrec_lib.metrics.rating import hit_rate, mae, mse, rmse

__all__ = [
    "hit_rate",
    "hr_at_k",
    "mae",
    "map_at_k",
    "mrr",
    "mse",
    "ndcg_at_k",
    "ranking_metrics",
    "ranks_from_scores",
    "rmse",
]
