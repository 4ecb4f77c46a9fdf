"""Grid search of a rating model's hyperparameters on the validation split.

Every combination of the grid is one run config (the base config with the combination's
values) computed by :func:`mmrec_lib.experiments.rating.run_rating`, and ranked by its best
validation RMSE; the test split plays no part in the choice. The grid's keys are the model's
hyperparameters, plus ``lr`` (the training learning rate) and ``batch_size``.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from mmrec_lib.experiments.store import RunRecord


@dataclass
class GridSearch:
    """Each combination's validation and test error, and the chosen (best validation) run."""

    table: pd.DataFrame
    best_params: dict
    best: RunRecord = field(repr=False)


def grid_combinations(grid: Mapping[str, Sequence]) -> list[dict]:
    """Every combination of the grid's values, as dicts, in the grid's key order."""
    if not grid:
        raise ValueError("the grid is empty: give at least one hyperparameter and its values")
    empty = [key for key, values in grid.items() if len(values) == 0]
    if empty:
        raise ValueError(f"grid keys {empty} have no values")
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def with_params(config: dict, params: Mapping) -> dict:
    """``config`` with ``lr`` in its training settings, ``batch_size`` and the model's own
    hyperparameters set from ``params``."""
    config = copy.deepcopy(config)
    for key, value in params.items():
        if key == "lr":
            config["train"]["lr"] = value
        elif key == "batch_size":
            config["batch_size"] = value
        else:
            config["hyperparameters"][key] = value
    return config


def grid_search(
    base: dict,
    grid: Mapping[str, Sequence],
    n_workers: int = 1,
    progress: bool = True,
    root=None,
) -> GridSearch:
    """Run ``base`` once per grid combination; choose the lowest validation RMSE.

    The table has one row per combination: its values, validation RMSE (best epoch), the
    epoch chosen, test RMSE and seconds; it is sorted by validation RMSE.
    """
    from mmrec_lib.experiments.rating import run_rating
    from mmrec_lib.experiments.sweep import run_many

    combinations = grid_combinations(grid)
    configs = [with_params(base, params) for params in combinations]
    records = run_many(configs, run_rating, n_workers, root, progress)
    table = pd.DataFrame(
        [
            {
                **params,
                "val RMSE": record.metrics["val_rmse"],
                "best epoch": int(record.metrics["best_epoch"]),
                "test RMSE": record.metrics["rmse"],
                "seconds": record.seconds,
            }
            for params, record in zip(combinations, records, strict=True)
        ]
    )
    chosen = int(table["val RMSE"].idxmin())
    return GridSearch(
        table=table.sort_values("val RMSE", kind="stable").reset_index(drop=True),
        best_params=combinations[chosen],
        best=records[chosen],
    )
