"""The sparsity curve: a model with and without side information, trained on shrinking
shares of each user's history, compared over training seeds at every share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmrec_lib.analysis.stats import paired_ttest
from mmrec_lib.experiments.store import RunRecord


def train_fraction(config: dict) -> float:
    """The share of each training history a run used (1.0 when its config names none)."""
    return float(config["split"].get("train_fraction", 1.0))


def sparsity_curve(
    records: Sequence[RunRecord],
    pair: tuple[str, str] = ("sasrec", "sasrec+"),
    metric: str = "sampled/NDCG@10",
    lower_is_better: bool = False,
) -> pd.DataFrame:
    """Rows: training-history shares, ascending. Columns: seeds paired, the mean of each
    model over seeds, the mean paired gain (with - without; without - with for a metric
    whose ``lower_is_better``, e.g. RMSE), its 95 % CI and p (two-sided paired t-test over
    seeds; NaN with fewer than 2 seeds)."""
    values = pd.DataFrame(
        [
            (train_fraction(r.config), r.config["train"]["seed"], r.config["model"],
             r.metrics[metric])
            for r in records
            if r.config["model"] in pair
        ],
        columns=["fraction", "seed", "model", "value"],
    )  # fmt: skip
    if values.empty:
        raise ValueError(f"no run of {pair} among the records")
    rows = {}
    for fraction, part in values.groupby("fraction"):
        paired = part.pivot(index="seed", columns="model", values="value").dropna()
        if not set(pair) <= set(paired.columns) or paired.empty:
            continue
        without, with_ = paired[pair[0]], paired[pair[1]]
        row = {"n seeds": len(paired), pair[0]: without.mean(), pair[1]: with_.mean()}
        if lower_is_better:  # the gain is the reduction
            without, with_ = -without, -with_
        if len(paired) >= 2 and (with_ - without).std() > 0:
            test = paired_ttest(without, with_, unit="seed")
            row |= {"gain": test.mean_diff, "ci95_low": test.ci95_low,
                    "ci95_high": test.ci95_high, "p": test.p}  # fmt: skip
        else:
            row |= {"gain": (with_ - without).mean(), "ci95_low": np.nan,
                    "ci95_high": np.nan, "p": np.nan}  # fmt: skip
        rows[fraction] = row
    table = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    table.index.name = "share of each training history"
    return table
