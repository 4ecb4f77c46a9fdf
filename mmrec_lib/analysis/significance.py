"""Paired t-tests of a metric without vs with auxiliary information (paper B's Table 2).

Pairing unit and direction are explicit. Over *seeds*: run i of the model without and of the
model with auxiliary information share the training seed, the split and the negatives; the
test is two-sided (:func:`mmrec_lib.analysis.stats.paired_ttest` on with - without), with the
95 % confidence interval of the mean difference. Over *users* within one seed: each user's
metric under both models, which asks whether a single trained pair differs, not whether the
training procedure does. The same seed-paired test serves paper A's MF vs TSEM (test RMSE).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmrec_lib.analysis.stats import paired_ttest
from mmrec_lib.experiments.store import RunRecord
from mmrec_lib.hashing import canonical_json

ROWS = ("Mean", "Standard deviation", "Observations", "degrees of freedom", "t statistic",
        "p-value")  # fmt: skip
EXTRA_ROWS = ("mean difference", "95% CI low", "95% CI high")


def model_label(name: str) -> str:
    """The display label of a model of either paper (``"sasrec+"`` -> ``"SASRec+"``)."""
    from mmrec_lib.models.rating import MODEL_LABELS as RATING
    from mmrec_lib.models.sequential import MODEL_LABELS as SEQUENTIAL

    return {**SEQUENTIAL, **RATING}.get(name, name)


def glue_values(table: pd.DataFrame, prefix: str = "") -> dict[str, float]:
    """Flat ``{<prefix><column>_<row>: value}`` of a paired table (names glue-safe)."""
    values = {}
    for column in table.columns:
        for row, value in table[column].dropna().items():
            name = f"{prefix}{column}_{row}".replace("+", "plus").replace("%", "pct")
            values[name.replace(" ", "_").replace("-", "_").lower()] = float(value)
    return values


def paired_table(values: pd.DataFrame, pairs: Sequence[tuple[str, str]], unit: str) -> pd.DataFrame:
    """Table 2 layout for each (without, with) pair of columns of ``values``.

    values: rows = pairing units (seeds or users), columns = models. Rows of the result:
    Table 2's six, then the mean difference (with - without) and its 95 % CI, under the
    "with" column. Two-sided tests.
    """
    missing = [name for pair in pairs for name in pair if name not in values.columns]
    if missing:
        raise ValueError(f"no values for {missing}; have {list(values.columns)}")
    pieces = []
    for without, with_ in pairs:
        both = values[[without, with_]].dropna()
        test = paired_ttest(both[without], both[with_], unit=unit)
        frame = test.to_frame(without, with_)
        extra = (test.mean_diff, test.ci95_low, test.ci95_high)
        frame = pd.concat(
            [frame, pd.DataFrame({without: np.nan, with_: extra}, index=list(EXTRA_ROWS))]
        )
        pieces.append(frame)
    table = pd.concat(pieces, axis=1)
    table.index.name = f"paired over {unit}s, two-sided"
    return table


def seed_values(records: Sequence[RunRecord], metric: str = "sampled/NDCG@10") -> pd.DataFrame:
    """Rows = training seeds, columns = model labels: the metric of each run.

    Raises when runs differ in dataset, split or training settings other than the seed,
    since those would not be paired on identical splits and negatives.
    """
    _require_same_setting(records)
    rows = [
        (record.config["train"]["seed"], model_label(record.config["model"]),
         record.metrics[metric])
        for record in records
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["seed", "model", "value"])
    if frame.duplicated(["seed", "model"]).any():
        raise ValueError("two runs share a model and seed; pass one run per (model, seed)")
    return frame.pivot(index="seed", columns="model", values="value")


def user_values(
    records: Sequence[RunRecord], seed: int, metric: str = "sampled/NDCG@10"
) -> pd.DataFrame:
    """Rows = users, columns = model labels: per-user metric of the runs with ``seed``."""
    _require_same_setting(records)
    chosen = {
        model_label(r.config["model"]): r.arrays[metric]
        for r in records
        if r.config["train"]["seed"] == seed
    }
    if not chosen:
        raise ValueError(f"no run has training seed {seed}")
    return pd.DataFrame(chosen).rename_axis("user")


def table2(
    records: Sequence[RunRecord],
    metric: str = "sampled/NDCG@10",
    pairs: Sequence[tuple[str, str]] = (("bert4rec", "bert4rec+"), ("sasrec", "sasrec+")),
    user_seed: int | None = None,
) -> pd.DataFrame:
    """Our Table 2 over seeds; with ``user_seed``, the same tests paired over users instead."""
    labelled = [(model_label(a), model_label(b)) for a, b in pairs]
    if user_seed is None:
        return paired_table(seed_values(records, metric), labelled, "seed")
    return paired_table(user_values(records, user_seed, metric), labelled, "user")


def _require_same_setting(records: Sequence[RunRecord]) -> None:
    """Raise unless all runs share dataset, split (negatives) and training settings but seed."""
    if not records:
        raise ValueError("no runs given")
    settings = {
        canonical_json(
            {**r.config["train"], "seed": None, "data": [r.config["dataset"], r.config["split"]]}
        )
        for r in records
    }
    if len(settings) > 1:
        raise ValueError(
            "the runs differ in dataset, split or training settings; paired tests need "
            "identical splits, negatives and settings"
        )
