"""Grid search of a rating model's hyperparameters on the validation split.

Every combination of the grid is trained with :func:`train_rating_model` (early stopping on
validation MSE) and ranked by its best validation MSE; the test split plays no part in the
choice. The grid's keys are the model's keyword arguments, plus ``lr`` (the
:class:`TrainConfig` learning rate) and ``batch_size``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from mmrec_lib.data.splits import RatingSplit
from mmrec_lib.progress import tqdm
from mmrec_lib.rating_experiment import RatingInputs, RatingResult, train_rating_model
from mmrec_lib.training import TrainConfig

_TRAINING_KEYS = ("lr", "batch_size")


@dataclass
class GridSearch:
    """Each combination's validation and test error, and the chosen (best validation) run,
    whose result carries the variant "tuned"."""

    table: pd.DataFrame
    best_params: dict
    best: RatingResult = field(repr=False)


def grid_combinations(grid: Mapping[str, Sequence]) -> list[dict]:
    """Every combination of the grid's values, as dicts, in the grid's key order."""
    if not grid:
        raise ValueError("the grid is empty: give at least one hyperparameter and its values")
    empty = [key for key, values in grid.items() if len(values) == 0]
    if empty:
        raise ValueError(f"grid keys {empty} have no values")
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def grid_search(
    name: str,
    split: RatingSplit,
    inputs: RatingInputs,
    config: TrainConfig,
    grid: Mapping[str, Sequence],
    *,
    batch_size: int = 1024,
    model_kwargs: Mapping | None = None,
    progress: bool = True,
    **training,
) -> GridSearch:
    """Train ``name`` once per grid combination; choose the lowest validation MSE.

    model_kwargs: fixed hyperparameters (the grid's values override them); ``training``:
    further keyword arguments of :func:`train_rating_model` (e.g. ``refit``).
    The table has one row per combination: its values, validation RMSE (best epoch),
    the epoch chosen, test RMSE and seconds; it is sorted by validation RMSE.
    """
    combinations = grid_combinations(grid)
    rows, results = [], []
    for params in tqdm(combinations, desc=f"{name} grid", disable=not progress):
        kwargs = {**(model_kwargs or {}), **_model_part(params)}
        result = train_rating_model(
            name,
            split,
            inputs,
            dataclasses.replace(config, lr=params.get("lr", config.lr)),
            batch_size=params.get("batch_size", batch_size),
            model_kwargs=kwargs,
            **training,
        )
        results.append(result)
        rows.append(
            {
                **params,
                "val RMSE": result.history.best_metric**0.5,
                "best epoch": result.history.best_epoch + 1,
                "test RMSE": result.metrics["rmse"],
                "seconds": result.seconds,
            }
        )
    table = pd.DataFrame(rows)
    chosen = int(table["val RMSE"].idxmin())
    return GridSearch(
        table=table.sort_values("val RMSE", kind="stable").reset_index(drop=True),
        best_params=combinations[chosen],
        best=dataclasses.replace(results[chosen], variant="tuned"),
    )


def _model_part(params: Mapping) -> dict:
    return {key: value for key, value in params.items() if key not in _TRAINING_KEYS}
