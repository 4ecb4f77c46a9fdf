"""The runs behind each table and figure: lists of configs for the two run functions.

Paper B: Table 1 (:func:`table1_configs`), Table 2 and Figs 2-3 (:func:`table2_configs`),
Table 3 (:func:`ablation_configs`, its rows in :data:`VARIANTS`); all through
:func:`mmrec_lib.experiments.sequential.run_sequential`, so a run two tables need is computed
once (Table 2's seed-0 SASRec+ is Table 1's SASRec+ and Table 3's row (4)). Paper A: Table 9
and the MF-vs-TSEM seed test (:func:`rating_configs`) through
:func:`mmrec_lib.experiments.rating.run_rating`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mmrec_lib.experiments.rating import rating_config
from mmrec_lib.experiments.sequential import sequential_config
from mmrec_lib.features.sequence_items import MODALITIES

TABLE2_PAIRS = (("bert4rec", "bert4rec+"), ("sasrec", "sasrec+"))
"""Paper B's Table 2: each model without and with auxiliary information."""
ABLATION_MODELS = ("sasrec+", "bert4rec+")
PAPER_SETTINGS = {
    "sasrec": {"loss": "bce", "dropout": 0.2},
    "sasrec+": {"loss": "bce", "dropout": 0.2},
    "bert4rec": {"loss": "ce"},
    "bert4rec+": {"loss": "ce"},
    "kebert4rec": {"loss": "ce"},
}
"""The published models' own settings, named in every reproduction config so that a change
of a library default (chosen on validation, ``benchmarks/sequential_defaults.py``) never
changes what a recorded reproduction run computes."""


@dataclass(frozen=True)
class Variant:
    """One row of Table 3: which modalities are fused, and how."""

    number: int
    label: str
    group: str
    modalities: tuple[str, ...]
    fusion: str

    @property
    def row(self) -> str:
        return f"({self.number}) {self.label}"


def _grid() -> tuple[Variant, ...]:
    singles = [
        Variant(i + 1, name.title(), "single", (name,), "concat")
        for i, name in enumerate(MODALITIES)
    ]
    combined = [("Text + Image + Tabular", MODALITIES)] + [
        (f"w/o {left_out.title()}", tuple(m for m in MODALITIES if m != left_out))
        for left_out in ("tabular", "image", "text")
    ]
    joint = [
        Variant(4 + 4 * g + i, label, group, modalities, fusion)
        for g, (group, fusion) in enumerate((("concatenated", "concat"), ("summation", "sum")))
        for i, (label, modalities) in enumerate(combined)
    ]
    return (*singles, *joint)


VARIANTS: tuple[Variant, ...] = _grid()
"""Table 3's 11 rows: (1)-(3) one modality; (4)-(7) concatenated; (8)-(11) summed."""


def paper_config(model: str, **keywords: Any) -> dict:
    """:func:`sequential_config` with the model's :data:`PAPER_SETTINGS` (``hyperparameters``
    in ``keywords`` override them)."""
    hyperparameters = {**PAPER_SETTINGS.get(model, {}), **keywords.pop("hyperparameters", {})}
    return sequential_config(model, hyperparameters=hyperparameters, **keywords)


def table1_configs(models: Iterable[str], seeds: Iterable[int] = (0,), **common: Any) -> list[dict]:
    """One config per Table 1 model and training seed; ``common``: :func:`sequential_config`
    keywords (``modalities`` and ``fusion`` apply to the "+" models only)."""
    return [paper_config(model, seed=seed, **common) for model in models for seed in seeds]


def table2_configs(
    seeds: Iterable[int], pairs: Sequence[tuple[str, str]] = TABLE2_PAIRS, **common: Any
) -> list[dict]:
    """One config per model of ``pairs`` and training seed (Table 2, Figs 2 and 3)."""
    return table1_configs([model for pair in pairs for model in pair], seeds, **common)


def ablation_configs(
    seeds: Iterable[int],
    models: Sequence[str] = ABLATION_MODELS,
    variants: Sequence[int] | None = None,
    **common: Any,
) -> list[dict]:
    """One config per (model, Table 3 variant, seed); variants: row numbers 1-11 (all)."""
    numbers = [v.number for v in VARIANTS]
    if variants is not None and not set(variants) <= set(numbers):
        raise ValueError(f"variants must be row numbers of Table 3 ({numbers}), got {variants}")
    common = {k: v for k, v in common.items() if k not in ("modalities", "fusion")}
    return [
        paper_config(
            model, modalities=variant.modalities, fusion=variant.fusion, seed=seed, **common
        )
        for model in models
        for variant in VARIANTS
        if variants is None or variant.number in variants
        for seed in seeds
    ]


def sparsity_configs(
    fractions: Iterable[float],
    seeds: Iterable[int],
    pair: tuple[str, str] = ("sasrec", "sasrec+"),
    **common: Any,
) -> list[dict]:
    """One config per share of each training history, model of ``pair`` and training seed
    (the sparsity curve; a share of 1 is the ordinary run of Tables 1 and 2)."""
    return [
        paper_config(model, seed=seed, train_fraction=fraction, **common)
        for fraction in fractions
        for model in pair
        for seed in seeds
    ]


def cold_start_configs(
    models: Iterable[str], seeds: Iterable[int], cold_items: float = 0.2, **common: Any
) -> list[dict]:
    """One config per model and training seed on a split holding ``cold_items`` of the items
    out of training (the cold-start protocol; models without item features ignore
    ``modalities``)."""
    return [
        paper_config(model, seed=seed, cold_items=cold_items, **common)
        for model in models
        for seed in seeds
    ]


def variant_of(config: dict) -> Variant:
    """The Table 3 row a sequential config runs."""
    for variant in VARIANTS:
        if list(variant.modalities) == config["modalities"] and variant.fusion == config["fusion"]:
            return variant
    raise ValueError(f"{config['modalities']} fused by {config['fusion']} is not a Table 3 row")


def rating_configs(models: Iterable[str], seeds: Iterable[int] = (0,), **common: Any) -> list[dict]:
    """:func:`rating_config` for every model and training seed (``common``: its keywords)."""
    return [rating_config(model, seed=seed, **common) for model in models for seed in seeds]
