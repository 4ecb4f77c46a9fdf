"""Where side information helps: paired gains grouped by how popular the held-out item is.

A "+" model (SASRec+, TSEM) and its ID-only twin are compared on the same users (paper B) or
the same test ratings (paper A); the pairs are grouped by how often the held-out item occurs
in the training data: "rare" items (seen fewer than ``rare`` times) and quantile groups of
the rest. Each group gets the mean of both models, the mean paired gain and its 95 % CI.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmrec_lib.analysis.stats import paired_ttest
from mmrec_lib.experiments.store import RunRecord


def popularity_groups(counts: np.ndarray, n_groups: int = 5, rare: int = 5) -> pd.Series:
    """Group label of each training count: ``"< rare"`` or a quantile group of the others,
    labelled by its count range (e.g. ``"12-30"``), ordered from rare to popular."""
    counts = np.asarray(counts)
    if n_groups < 1 or rare < 0:
        raise ValueError(f"need n_groups >= 1 and rare >= 0, got {n_groups}, {rare}")
    labels = np.empty(len(counts), dtype=object)
    is_rare = counts < rare
    labels[is_rare] = f"< {rare}"
    others = pd.Series(counts[~is_rare])
    if len(others):
        edges = np.unique(np.quantile(others, np.linspace(0, 1, n_groups + 1)))
        group = np.searchsorted(edges[1:-1], others, side="right")
        ranges = others.groupby(group).agg(["min", "max"])
        names = {g: f"{low}-{high}" for g, (low, high) in ranges.iterrows()}
        labels[~is_rare] = [names[g] for g in group]
    order = [f"< {rare}"] + sorted(
        {label for label in labels if label != f"< {rare}"}, key=lambda s: int(s.split("-")[0])
    )
    return pd.Series(pd.Categorical(labels, categories=order, ordered=True), name="popularity")


def gain_by_group(
    without: np.ndarray, with_: np.ndarray, groups: pd.Series, unit: str
) -> pd.DataFrame:
    """Per group: pairs, mean without and with, mean gain (with - without), its 95 % CI and
    the two-sided paired t-test's p-value (NaN for a group of fewer than 2 pairs)."""
    frame = pd.DataFrame({"without": without, "with": with_, "group": groups.array})
    rows = {}
    for group, part in frame.groupby("group", observed=True, sort=True):
        row = {"n": len(part), "without": part["without"].mean(), "with": part["with"].mean()}
        if len(part) >= 2 and (part["with"] - part["without"]).std() > 0:
            test = paired_ttest(part["without"], part["with"], unit=unit)
            row |= {"gain": test.mean_diff, "ci95_low": test.ci95_low,
                    "ci95_high": test.ci95_high, "p": test.p}  # fmt: skip
        else:
            gain = (part["with"] - part["without"]).mean()
            row |= {"gain": gain, "ci95_low": np.nan, "ci95_high": np.nan, "p": np.nan}
        rows[group] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = f"training count of the held-out item ({unit}s)"
    return table


def mean_over_seeds(records: Sequence[RunRecord], model: str, array: str) -> np.ndarray:
    """The per-user (or per-rating) ``array`` of ``model``'s runs, averaged over seeds."""
    chosen = [r.arrays[array] for r in records if r.config["model"] == model]
    if not chosen:
        raise ValueError(f"no run of {model!r} among the records")
    return np.mean(np.stack(chosen), axis=0)


def ranking_gain_by_popularity(
    records: Sequence[RunRecord],
    split,
    pair: tuple[str, str] = ("sasrec", "sasrec+"),
    metric: str = "sampled/NDCG@10",
    n_groups: int = 5,
    rare: int = 5,
) -> pd.DataFrame:
    """Paper B: per-user ``metric`` (mean over seeds) of the pair, grouped by the training
    count of each user's test item (``split``: the runs' leave-one-out split)."""
    counts = np.bincount(split.train_items, minlength=split.n_items + 1)[split.test_item]
    without, with_ = (mean_over_seeds(records, model, metric) for model in pair)
    return gain_by_group(without, with_, popularity_groups(counts, n_groups, rare), "user")


def rating_gain_by_popularity(
    records: Sequence[RunRecord],
    train_items: np.ndarray,
    test_items: np.ndarray,
    pair: tuple[str, str] = ("mf", "tsem"),
    n_groups: int = 5,
    rare: int = 5,
) -> pd.DataFrame:
    """Paper A: the reduction of squared error (without - with, so positive = "with" is
    better) per test rating, grouped by the training count of the rated item."""
    counts = pd.Series(train_items).value_counts()
    test_counts = pd.Series(test_items).map(counts).fillna(0).astype(int).to_numpy()
    without, with_ = (mean_over_seeds(records, model, "squared_error") for model in pair)
    groups = popularity_groups(test_counts, n_groups, rare)
    return gain_by_group(-without, -with_, groups, "rating")
