"""Paper B's Table 2: paired t-tests of NDCG@10 without vs with auxiliary information.

Pairing unit and direction are explicit. Table 2 pairs *seeds*: run i of the model without
and of the model with auxiliary information share the training seed, the split and the 100
negatives; the test is two-sided (``mmrec_lib.stats.paired_ttest`` on with - without).
We add the 95 % confidence interval of the mean difference, and the same test paired over
*users* within one seed (each user's NDCG@10 under both models), which asks whether a
single trained pair differs, not whether the training procedure does. The same seed-paired
test serves paper A's MF vs TSEM (test RMSE per seed; :func:`rating_configs`,
:func:`train_rating`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmrec_lib.runs import RunRecord, canonical_json
from mmrec_lib.stats import paired_ttest

TABLE2_PAIRS = (("bert4rec", "bert4rec+"), ("sasrec", "sasrec+"))
LABELS = {"bert4rec": "BERT4Rec", "bert4rec+": "BERT4Rec+", "sasrec": "SASRec",
          "sasrec+": "SASRec+", "nn": "NN", "mf": "MF", "mf_nn": "MF_NN",
          "tsem": "TSEM"}  # fmt: skip
# The same pairs under their display labels (the columns of seed_values).
TABLE2_LABEL_PAIRS = tuple((LABELS[without], LABELS[with_]) for without, with_ in TABLE2_PAIRS)
ROWS = ("Mean", "Standard deviation", "Observations", "degrees of freedom", "t statistic",
        "p-value")  # fmt: skip
EXTRA_ROWS = ("mean difference", "95% CI low", "95% CI high")

# Paper B, Table 2 "Paired t-test of NDCG@10 scores with and without multi-modal auxiliary
# information" (section 4, "Results"), transcribed from the paper's text.
# Columns BERT4Rec, BERT4Rec+, SASRec, SASRec+; pair-level rows only under the "+" column.
_NAN = np.nan
_PAPER = {
    "ML-20M": {
        "Mean": (.4450, .4615, .6787, .7060),
        "Standard deviation": (.0009, .0004, .0187, .0026),
        "Observations": (10, 10, 10, 10),
        "degrees of freedom": (_NAN, 9, _NAN, 9),
        "t statistic": (_NAN, 64.2321, _NAN, 4.0780),
        "p-value": (_NAN, 2.7e-13, _NAN, .0028),
    },
    "Fashion": {
        "Mean": (.1605, .1757, .6428, .7134),
        "Standard deviation": (.0128, .0089, .0117, .0326),
        "Observations": (10, 10, 10, 10),
        "degrees of freedom": (_NAN, 9, _NAN, 9),
        "t statistic": (_NAN, 3.7576, _NAN, 5.5814),
        "p-value": (_NAN, .0045, _NAN, .0003),
    },
}  # fmt: skip
PAPER_TABLE2 = {
    dataset: pd.DataFrame(rows, index=["BERT4Rec", "BERT4Rec+", "SASRec", "SASRec+"]).T
    for dataset, rows in _PAPER.items()
}
"""Paper B's Table 2 per dataset ("ML-20M", "Fashion"), in :meth:`PairedTTest.to_frame`
layout: rows = statistics, columns = BERT4Rec, BERT4Rec+, SASRec, SASRec+."""


def table2_configs(
    seeds: Sequence[int],
    use: Sequence[str] = ("text", "image", "tabular"),
    method: str = "concat",
    pairs: Sequence[tuple[str, str]] = TABLE2_PAIRS,
    **common,
) -> list[dict]:
    """One run config per model of ``pairs`` and seed; the "+" models get ``use``/``method``.

    common: as for :func:`mmrec_lib.ablation.sequential_config` (dataset, train, ...).
    """
    from mmrec_lib.ablation import sequential_config

    return [
        sequential_config(model, use=use if model.endswith("+") else (), method=method,
                          seed=seed, **common)
        for pair in pairs
        for model in pair
        for seed in seeds
    ]  # fmt: skip


def rating_config(
    model: str,
    *,
    dataset: dict,
    seed: int = 0,
    split_seed: int = 0,
    min_user_ratings: int = 1,
    train: dict | None = None,
    hyperparameters: dict | None = None,
    encoders: dict | None = None,
) -> dict:
    """A run config for :func:`train_rating`: paper A's rating model on the 72/8/20 split
    (``rating_split`` with ``split_seed``) of the users with >= min_user_ratings ratings."""
    from mmrec_lib.rating_experiment import MODEL_NAMES, TEST_SHARE, VALIDATION_SHARE

    if model not in MODEL_NAMES:
        raise ValueError(f"model must be one of {MODEL_NAMES}, got {model!r}")
    return {
        "kind": "rating",
        "dataset": dict(dataset),
        "split": {
            "seed": split_seed,
            "min_user_ratings": min_user_ratings,
            "test_share": TEST_SHARE,
            "validation_share": VALIDATION_SHARE,
        },
        "model": model,
        "train": {"epochs": 20, "lr": 0.005, "patience": 3, **(train or {}), "seed": seed},
        "hyperparameters": dict(hyperparameters or {}),
        "encoders": {"text": "minilm", "image": "efficientnet-lite0", **(encoders or {})},
    }


def rating_configs(models: Sequence[str], seeds: Sequence[int], **common) -> list[dict]:
    """:func:`rating_config` for every model and seed (``common``: its keyword arguments)."""
    return [rating_config(model, seed=seed, **common) for model in models for seed in seeds]


def train_rating(config: dict) -> RunRecord:
    """Train one paper-A model (``train_paper_models``: TSEM with its cosine schedule);
    metrics mse/rmse/mae/hit_rate, and the squared error of every test row."""
    from mmrec_lib.data import load_dataset
    from mmrec_lib.rating_experiment import (
        active_users,
        rating_inputs,
        rating_split,
        train_paper_models,
    )
    from mmrec_lib.training import TrainConfig

    spec = dict(config["dataset"])
    dataset = load_dataset(spec.pop("name"), **spec)
    interactions = active_users(dataset.interactions, config["split"]["min_user_ratings"])
    split = rating_split(interactions, seed=config["split"]["seed"])
    model, encoders = config["model"], config["encoders"]
    inputs = rating_inputs(dataset, split, [model], encoders["text"], encoders["image"])
    train = TrainConfig(**config["train"], progress=False)
    hyper = {model: config["hyperparameters"]}
    (result,) = train_paper_models([model], split, inputs, train, model_kwargs=hyper)
    errors = (result.predictions - split.test["rating"].to_numpy(np.float64)) ** 2
    return RunRecord(config, result.metrics, {"squared_error": errors}, result.seconds)


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
        (record.config["train"]["seed"], LABELS.get(m := record.config["model"], m),
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
        LABELS.get(r.config["model"], r.config["model"]): r.arrays[metric]
        for r in records
        if r.config["train"]["seed"] == seed
    }
    if not chosen:
        raise ValueError(f"no run has training seed {seed}")
    return pd.DataFrame(chosen).rename_axis("user")


def table2(
    records: Sequence[RunRecord],
    metric: str = "sampled/NDCG@10",
    pairs: Sequence[tuple[str, str]] = TABLE2_PAIRS,
    user_seed: int | None = None,
) -> pd.DataFrame:
    """Our Table 2 over seeds; with ``user_seed``, the same tests paired over users instead."""
    labelled = [(LABELS[a], LABELS[b]) for a, b in pairs]
    if user_seed is None:
        return paired_table(seed_values(records, metric), labelled, "seed")
    return paired_table(user_values(records, user_seed, metric), labelled, "user")


def table2_beside_paper(
    records: Sequence[RunRecord], paper: str = "ML-20M", metric: str = "sampled/NDCG@10"
) -> pd.DataFrame:
    """:func:`table2` (over seeds) with paper B's Table 2 for ``paper`` beside it."""
    from mmrec_lib.report import paper_beside_ours

    if paper not in PAPER_TABLE2:
        raise ValueError(f"paper must be one of {list(PAPER_TABLE2)}, got {paper!r}")
    ours = table2(records, metric)
    return paper_beside_ours(
        ours, PAPER_TABLE2[paper], label_ours="ours", label_paper=f"paper B ({paper})"
    )


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
