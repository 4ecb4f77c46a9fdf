"""Cold-start items: how each model ranks the test items nobody trained on, against chance.

The runs hold a share of the items out of training (``split.cold_items`` in their config,
:func:`mmrec_lib.data.cold_start.hold_out_items`); the users whose test item is one of them
are the cold users. A model that knows nothing about an item can only rank it at random, so
each model's per-user metric is compared with what a uniformly random ranking of the same
candidates scores, paired over the cold users.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmrec_lib.analysis.popularity import gain_by_group, mean_over_seeds
from mmrec_lib.data.cold_start import cold_test_users
from mmrec_lib.data.splits import RatingSplit, SequenceSplit
from mmrec_lib.experiments.store import RunRecord

_METRIC = re.compile(r"(sampled|full)/(HR|NDCG)@(\d+)")


def cold_items(config: dict) -> float:
    """The share of items a run held out of training (0.0 when its config names none)."""
    return float(config["split"].get("cold_items", 0.0))


def chance_level(split: SequenceSplit, metric: str = "sampled/NDCG@10") -> np.ndarray:
    """(n_users,) expected ``metric`` ("<sampled|full>/<HR|NDCG>@k") of a uniformly random
    ranking of each user's test candidates (sampled: the test item and the stored negatives;
    full: every item not seen in training or validation)."""
    match = _METRIC.fullmatch(metric)
    if match is None:
        raise ValueError(f"metric must look like 'sampled/NDCG@10' or 'full/HR@5', got {metric!r}")
    protocol, name, k = match.group(1), match.group(2), int(match.group(3))
    if protocol == "sampled":
        n = np.full(split.n_users, split.negatives.shape[1] + 1)
    else:
        seen = split.seen_matrix(include_val=True)  # the padding column included
        n = split.n_items + 1 - np.asarray(seen.sum(axis=1)).ravel()
    if name == "HR":
        return np.minimum(k, n) / n
    gains = np.cumsum(1 / np.log2(np.arange(k) + 2))  # sum of 1 / log2(r + 2), r < top
    return gains[np.minimum(k, n) - 1] / n


def cold_start_table(
    records: Sequence[RunRecord], split: SequenceSplit, metric: str = "sampled/NDCG@10"
) -> pd.DataFrame:
    """Rows: the records' models (in order of appearance). Columns: cold users, seeds, the
    chance level, the model's mean over cold users (of its mean over seeds), its gain over
    chance with the 95 % t-interval over cold users and the paired t-test's p."""
    cold = cold_test_users(split)
    if not cold.any():
        raise ValueError("no user's test item is held out of training: no cold-start runs?")
    chance = chance_level(split, metric)[cold]
    rows = {}
    for model in dict.fromkeys(r.config["model"] for r in records):
        values = mean_over_seeds(records, model, metric)[cold]
        group = pd.Series(np.zeros(len(values), dtype=int))
        row = gain_by_group(chance, values, group, "user").iloc[0]
        seeds = sum(r.config["model"] == model for r in records)
        rows[model] = {"cold users": int(row["n"]), "n seeds": seeds,
                       "chance": row["without"], "mean": row["with"],
                       "gain": row["gain"], "ci95_low": row["ci95_low"],
                       "ci95_high": row["ci95_high"], "p": row["p"]}  # fmt: skip
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = f"{metric} on cold items"
    return table


def rating_gain_on_cold_items(
    records: Sequence[RunRecord], split: RatingSplit, pair: tuple[str, str] = ("mf", "tsem")
) -> pd.DataFrame:
    """Paper A on a split with held-out items: per test rating, the reduction of squared
    error by ``pair[1]`` (each model's mean over seeds), on the cold and on the warm items,
    paired over ratings, with each model's RMSE there."""
    cold = split.test["item"].isin(split.held_out_items).to_numpy()
    if not cold.any():
        raise ValueError("no test rating is of a held-out item: no cold-start runs?")
    without, with_ = (mean_over_seeds(records, model, "squared_error") for model in pair)
    groups = pd.Series(np.where(cold, "cold items", "warm items"))
    table = gain_by_group(-without, -with_, groups, "rating")
    table.insert(1, f"{pair[0]} RMSE", np.sqrt(-table.pop("without")))
    table.insert(2, f"{pair[1]} RMSE", np.sqrt(-table.pop("with")))
    table.index.name = "test ratings of"
    return table
