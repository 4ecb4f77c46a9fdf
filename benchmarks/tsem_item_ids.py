"""Why TSEM trails MF on ML-100K, and whether per-item parameters close the gap.

TSEM knows an item only through its content (paper A); MF only through its ratings. This
script takes the rating runs of Table 2's chapter under a profile (``ml-100k``: MF and TSEM,
10 training seeds, read from ``results/<profile>``) and trains TSEM again on the same
configs with ``item_ids=True`` (a learned offset and bias per item on top of the content
vector, :class:`mmrec_lib.models.rating.tsem.TSEM`; not in paper A). It prints, and with
``--write-readme`` records in benchmarks/README.md: test RMSE per model (mean over seeds),
paired t-tests over seeds, and the squared-error gain over MF by how often the test item was
rated in training.

    MMREC_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/tsem_item_ids.py \\
        --n-workers 2 --write-readme

The new runs go to the run store (``MMREC_CACHE_DIR``), so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from readme import markdown_table, write_section

from mmrec_lib.analysis.popularity import gain_by_group, popularity_groups
from mmrec_lib.analysis.stats import paired_ttest
from mmrec_lib.data import dataset_spec
from mmrec_lib.experiments import rating as rating_experiments
from mmrec_lib.experiments import results as recorded_results
from mmrec_lib.experiments.grids import rating_configs
from mmrec_lib.experiments.sweep import run_many
from mmrec_lib.report.runbook import load_profile, notebook_defaults, notebook_parameters

SECTION = "TSEM against MF: where it loses, and per-item parameters (`tsem_item_ids.py`)"
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "40_paper_b_significance.ipynb"
LABELS = {"mf": "MF", "tsem": "TSEM", "tsem+ids": "TSEM + item ids"}


def chapter_configs(profile: str) -> list[dict]:
    """The rating configs of Table 2's chapter under ``profile`` (MF and TSEM, every seed)."""
    values = {**notebook_defaults(NOTEBOOK), **notebook_parameters(load_profile(profile), NOTEBOOK)}
    seed = values["seed"]
    train = {"epochs": values["rating_epochs"], "lr": values["rating_lr"]}
    return rating_configs(
        values["rating_pair"],
        range(seed, seed + values["n_seeds"]),
        dataset=dataset_spec(values["dataset"], values["synthetic_size"], seed),
        split_seed=seed,
        min_user_ratings=values["min_user_ratings"],
        train={**train, "patience": values["patience"]},
        encoders={"text": values["text_encoder"], "image": values["image_encoder"]},
    )


def with_item_ids(config: dict) -> dict:
    """The same TSEM config with per-item parameters."""
    hyperparameters = {**config.get("hyperparameters", {}), "item_ids": True}
    return {**config, "hyperparameters": hyperparameters}


def label(config: dict) -> str:
    ids = config.get("hyperparameters", {}).get("item_ids", False)
    return "tsem+ids" if ids else config["model"]


def rmse_table(records: list) -> pd.DataFrame:
    """Test RMSE (mean over seeds, its standard deviation) and best epochs per model."""
    frame = pd.DataFrame(
        {
            "model": [LABELS[label(r.config)] for r in records],
            "test RMSE": [r.metrics["rmse"] for r in records],
            "epochs chosen": [r.metrics.get("best_epoch", np.nan) for r in records],
        }
    )
    table = frame.groupby("model", sort=False).agg(
        seeds=("test RMSE", "size"),
        rmse=("test RMSE", "mean"),
        sd=("test RMSE", "std"),
        epochs=("epochs chosen", "mean"),
    )
    return table.rename(columns={"rmse": "test RMSE", "sd": "sd over seeds"})


def paired_tests(runs: dict) -> pd.DataFrame:
    """Paired t-tests over seeds of each model's test RMSE against MF's."""
    rows = {}
    for name in ("tsem", "tsem+ids"):
        test = paired_ttest(runs["mf"], runs[name], unit="seed")
        rows[f"{LABELS[name]} - MF"] = {
            "mean difference": test.mean_diff,
            "ci95 low": test.ci95_low,
            "ci95 high": test.ci95_high,
            "p": test.p,
        }
    return pd.DataFrame(rows).T


def by_popularity(records: list, n_groups: int = 5, rare: int = 5) -> pd.DataFrame:
    """Mean squared-error gain over MF (positive: better than MF) per test rating, grouped
    by the item's training count, for TSEM and TSEM + item ids (errors averaged over seeds)."""
    _, split = rating_experiments.dataset_and_split(records[0].config)
    counts = split.train["item"].value_counts()
    test_counts = split.test["item"].map(counts).fillna(0).astype(int).to_numpy()
    groups = popularity_groups(test_counts, n_groups, rare)
    error = {
        name: np.mean([r.arrays["squared_error"] for r in records if label(r.config) == name], 0)
        for name in LABELS
    }
    columns = {}
    for name in ("tsem", "tsem+ids"):
        gains = gain_by_group(-error["mf"], -error[name], groups, "rating")
        columns["ratings"] = gains["n"]
        columns[f"{LABELS[name]}: gain"] = gains["gain"]
        columns[f"{LABELS[name]}: p"] = gains["p"]
    table = pd.DataFrame(columns)
    table.index.name = "training count of the item"
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="ml-100k")
    parser.add_argument("--n-workers", type=int, default=1)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    configs = chapter_configs(args.profile)
    configs += [with_item_ids(c) for c in configs if c["model"] == "tsem"]
    folder = ROOT / "results" / args.profile
    found = [folder.is_dir() and recorded_results.recorded(c, folder) or None for c in configs]
    missing = [c for c, record in zip(configs, found, strict=True) if record is None]
    computed = iter(run_many(missing, rating_experiments.run_rating, n_workers=args.n_workers))
    records = [record or next(computed) for record in found]
    runs = {
        name: np.array([r.metrics["rmse"] for r in records if label(r.config) == name])
        for name in LABELS
    }
    hours = (time.perf_counter() - started) / 3600
    body = "\n\n".join(
        [
            f"`python benchmarks/tsem_item_ids.py --profile {args.profile} --n-workers "
            f"{args.n_workers} --write-readme` on {platform.machine()}, "
            f"{time.strftime('%Y-%m-%d')}, {hours:.2f} h. MF and TSEM: the recorded runs of "
            f"Table 2's rating rows under the `{args.profile}` profile (`results/{args.profile}`: "
            "random 80/20 split, a tenth of the 80 % for early stopping, then a refit on the "
            "80 %); TSEM + item ids: the same configs with `item_ids=True`, trained here.",
            markdown_table(rmse_table(records).round(4)),
            markdown_table(paired_tests(runs).round(4)),
            "Squared-error gain over MF per test rating (MF's minus the model's, so positive "
            "is better than MF), by the number of training ratings of the item:",
            markdown_table(by_popularity(records).round(4)),
        ]
    )
    print(body)
    if args.write_readme:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
