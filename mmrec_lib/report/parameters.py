"""One parameter schema per notebook, checked in the notebook's first code cell.

:func:`check_notebook_parameters` runs before any data is read, so a bad value (a type, a
range, an unknown choice) fails in a second with every problem named, not after the data and
features are built. Integers are accepted where floats are expected (papermill passes
``-p lr 1`` as an int).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    """A predicate on a value and what it means in words (shown when it fails)."""

    accepts: Callable[[Any], bool]
    meaning: str


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def integer(low: int, high: int | None = None) -> Rule:
    """An integer in [low, high] (no upper bound when ``high`` is None)."""
    top = "" if high is None else f" and <= {high}"
    return Rule(
        lambda v: _is_int(v) and v >= low and (high is None or v <= high),
        f"an integer >= {low}{top}",
    )


def number(low: float, high: float | None = None, low_open: bool = False) -> Rule:
    """A finite number (int or float) above ``low`` (or equal, unless ``low_open``)."""
    above = f"> {low}" if low_open else f">= {low}"
    top = "" if high is None else f" and <= {high}"
    return Rule(
        lambda v: (
            _is_number(v) and (v > low if low_open else v >= low) and (high is None or v <= high)
        ),
        f"a finite number {above}{top}",
    )


def one_of(*choices: Any) -> Rule:
    return Rule(lambda v: v in choices, f"one of {list(choices)}")


def subset_of(choices, nonempty: bool = True, distinct: bool = True) -> Rule:
    """A list of values from ``choices`` (non-empty, each once, by default)."""
    choices = list(choices)

    def accepts(value: Any) -> bool:
        if not isinstance(value, list) or (nonempty and not value):
            return False
        if distinct and len(set(map(repr, value))) < len(value):
            return False
        return all(v in choices for v in value)

    words = ("a non-empty list" if nonempty else "a list") + (" of distinct" if distinct else " of")
    return Rule(accepts, f"{words} values from {choices}")


def of_type(kind: type) -> Rule:
    if kind is bool:
        return Rule(lambda v: isinstance(v, bool), "True or False")
    return Rule(lambda v: isinstance(v, kind) and not isinstance(v, bool), f"a {kind.__name__}")


SEED = integer(0)
POSITIVE = integer(1)
LEARNING_RATE = number(0, 10, low_open=True)
SYNTHETIC_SIZES = one_of("tiny", "small", "demo")


def _common() -> dict[str, Rule]:
    from mmrec_lib.features import IMAGE_ENCODERS, TEXT_ENCODERS
    from mmrec_lib.report.notebook import KNOWN_DATASETS

    return {
        "dataset": one_of(*KNOWN_DATASETS),
        "profile": of_type(str),
        "seed": SEED,
        "synthetic_size": SYNTHETIC_SIZES,
        "text_encoder": one_of(*TEXT_ENCODERS),
        "image_encoder": one_of(*IMAGE_ENCODERS),
    }


def _paper_b_runs() -> dict[str, Rule]:
    """The parameters every paper B notebook passes to its run configs."""
    from mmrec_lib.features.fusion import FUSIONS
    from mmrec_lib.features.sequence_items import MODALITIES, TABULAR_KINDS

    return {
        "n_negatives": POSITIVE,
        "epochs": POSITIVE,
        "patience": POSITIVE,
        "lr": LEARNING_RATE,
        "max_len": integer(2),
        "d": POSITIVE,
        "modalities": subset_of(MODALITIES),
        "fusion": one_of(*FUSIONS),
        "tabular": one_of(*TABULAR_KINDS),
        "sum_dim": POSITIVE,
        "device": one_of("auto", "cpu", "cuda"),
    }


def _sweeps() -> dict[str, Rule]:
    return {"n_workers": POSITIVE, "paper": one_of("ML-20M", "Fashion")}


def _rating_runs() -> dict[str, Rule]:
    """The parameters of the paper A runs that paper B's pages compare over seeds."""
    from mmrec_lib.models.rating import MODEL_NAMES as RATING_MODELS

    return {
        "rating_pair": Rule(
            lambda v: isinstance(v, list) and len(v) == 2 and set(v) <= set(RATING_MODELS),
            f"two names from {list(RATING_MODELS)} (without, with side information)",
        ),
        "rating_epochs": POSITIVE,
        "rating_lr": LEARNING_RATE,
        "min_user_ratings": POSITIVE,
    }


def schema(notebook: str) -> dict[str, Rule]:
    """The rule of every parameter of ``notebook`` (its file name without ``.ipynb``)."""
    from mmrec_lib.experiments.rating import ENCODER_MODES
    from mmrec_lib.models.rating import MODEL_NAMES as RATING_MODELS
    from mmrec_lib.models.sequential import MODEL_LABELS, SEQUENTIAL_MODELS
    from mmrec_lib.report.plots.eda import PROJECTIONS

    schemas = {
        "10_eda": {
            "n_top_movies": integer(1, 100),
            "n_augmentations": integer(1, 12),
            "max_items_embedded": integer(20),
            "projection": one_of(*PROJECTIONS),
            "agreement_k": integer(1, 100),
            "neighbours_for": Rule(
                lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
                "a list of titles",
            ),
            "k": integer(1, 50),
        },
        "20_paper_a_rating": {
            "models": subset_of(RATING_MODELS),
            "epochs": POSITIVE,
            "lr": LEARNING_RATE,
            "patience": POSITIVE,
            "batch_size": POSITIVE,
            "nn_dim": POSITIVE,
            "mf_dim": POSITIVE,
            "mf_nn_dim": POSITIVE,
            "tsem_dim": POSITIVE,
            "min_user_ratings": POSITIVE,
            "progressive_fraction": number(0, 1, low_open=True),
            "progressive_threshold": number(0, low_open=True),
            "torch_threads": POSITIVE,
            "n_workers": POSITIVE,
            "refit": of_type(bool),
            "encoders": one_of(*ENCODER_MODES),
            "mf_grid": Rule(
                lambda v: (
                    isinstance(v, dict)
                    and bool(v)
                    and all(isinstance(values, list) and values for values in v.values())
                ),
                "a dict of hyperparameter -> non-empty list of values",
            ),
        },
        "30_paper_b_table1": {
            "n_seeds": POSITIVE,
            "models": subset_of(MODEL_LABELS),
            **_paper_b_runs(),
            "n_workers": POSITIVE,
        },
        "40_paper_b_significance": {
            "n_seeds": integer(2),
            **_paper_b_runs(),
            **_sweeps(),
            **_rating_runs(),
        },
        "41_paper_b_ablation_attention": {
            "n_seeds": POSITIVE,
            "models": subset_of(["sasrec+", "bert4rec+"]),
            "variants": subset_of(range(1, 12)),
            **_paper_b_runs(),
            **_sweeps(),
            "n_example_users": integer(1, 20),
            "n_recent": integer(1, 20),
            "k_max": integer(1, 50),
            "n_clusters": integer(1, 26),
            "set_size": integer(0),
        },
        "50_side_information": {
            "n_seeds": POSITIVE,
            "fractions": Rule(
                lambda v: (
                    isinstance(v, list)
                    and bool(v)
                    and len(set(v)) == len(v)
                    and all(isinstance(f, (int, float)) and 0 < f <= 1 for f in v)
                    and 1.0 in v
                ),
                "a list of distinct shares in (0, 1] that includes 1.0 (the full history)",
            ),
            "pair": Rule(
                lambda v: v in (["sasrec", "sasrec+"], ["bert4rec", "bert4rec+"]),
                '["sasrec", "sasrec+"] or ["bert4rec", "bert4rec+"]',
            ),
            **_paper_b_runs(),
            "n_workers": POSITIVE,
            **_rating_runs(),
            "rare": integer(1),
            "n_groups": integer(1, 20),
            "cold_items": Rule(
                lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1,
                "a share of the items in (0, 1)",
            ),
            "cold_models": subset_of(SEQUENTIAL_MODELS),
        },
    }
    if notebook not in schemas:
        raise ValueError(f"no parameter schema for notebook {notebook!r}; have {list(schemas)}")
    return {**_common(), **schemas[notebook]}


def check_notebook_parameters(notebook: str, values: Mapping[str, Any]) -> None:
    """Raise ValueError naming every parameter of ``notebook`` that is missing or breaks its
    rule (``values``: the notebook's globals after its parameters cell)."""
    problems = []
    for name, rule in schema(notebook).items():
        if name not in values:
            problems.append(f"{name}: missing")
        elif not rule.accepts(values[name]):
            problems.append(f"{name}={values[name]!r}: must be {rule.meaning}")
    if problems:
        raise ValueError(f"bad parameters of {notebook}:\n  " + "\n  ".join(problems))
