"""The runs behind each table: Table 3's 11-variant grid and the config lists of Tables 1-3
and of paper A's seed runs."""

from __future__ import annotations

import pytest

from mmrec_lib.data import dataset_spec
from mmrec_lib.experiments.grids import (
    ABLATION_MODELS,
    TABLE2_PAIRS,
    VARIANTS,
    Variant,
    ablation_configs,
    rating_configs,
    table1_configs,
    table2_configs,
    variant_of,
)
from mmrec_lib.experiments.sequential import sequential_config
from mmrec_lib.experiments.store import run_key

DATASET = dataset_spec("synthetic", "tiny", 0)


def test_grid_enumerates_exactly_the_papers_11_variants():
    expected = [
        (1, ("text",), "concat"),
        (2, ("image",), "concat"),
        (3, ("tabular",), "concat"),
        (4, ("text", "image", "tabular"), "concat"),
        (5, ("text", "image"), "concat"),
        (6, ("text", "tabular"), "concat"),
        (7, ("image", "tabular"), "concat"),
        (8, ("text", "image", "tabular"), "sum"),
        (9, ("text", "image"), "sum"),
        (10, ("text", "tabular"), "sum"),
        (11, ("image", "tabular"), "sum"),
    ]
    assert [(v.number, v.modalities, v.fusion) for v in VARIANTS] == expected
    assert [v.row for v in VARIANTS] == [
        "(1) Text", "(2) Image", "(3) Tabular",
        "(4) Text + Image + Tabular", "(5) w/o Tabular", "(6) w/o Image", "(7) w/o Text",
        "(8) Text + Image + Tabular", "(9) w/o Tabular", "(10) w/o Image", "(11) w/o Text",
    ]  # fmt: skip
    assert len({(v.modalities, v.fusion) for v in VARIANTS}) == 11
    assert [v.group for v in VARIANTS] == ["single"] * 3 + ["concatenated"] * 4 + ["summation"] * 4


def test_ablation_configs_cover_models_variants_and_seeds_with_distinct_keys():
    configs = ablation_configs(range(3), dataset=DATASET)
    assert len(configs) == 2 * 11 * 3
    assert len({run_key(c) for c in configs}) == len(configs)
    splits = {repr((c["dataset"], c["split"])) for c in configs}
    assert len(splits) == 1  # identical splits and negatives for every run
    assert {c["model"] for c in configs} == set(ABLATION_MODELS)
    assert [(variant_of(c).number, c["train"]["seed"]) for c in configs[:4]] == [
        (1, 0), (1, 1), (1, 2), (2, 0),
    ]  # fmt: skip


def test_ablation_configs_take_the_variant_not_the_common_modalities():
    common = {"dataset": DATASET, "modalities": ["text"], "fusion": "sum", "max_len": 20}
    configs = ablation_configs([0], models=["bert4rec+"], variants=[7, 8], **common)
    assert [(c["modalities"], c["fusion"]) for c in configs] == [
        (["image", "tabular"], "concat"),
        (["text", "image", "tabular"], "sum"),
    ]
    assert all(c["max_len"] == 20 and c["model"] == "bert4rec+" for c in configs)
    with pytest.raises(ValueError, match="row numbers of Table 3"):
        ablation_configs([0], variants=[0, 12], dataset=DATASET)


def test_variant_of_finds_the_table3_row_of_a_config():
    for variant in VARIANTS:
        config = sequential_config(
            "sasrec+", dataset=DATASET, modalities=variant.modalities, fusion=variant.fusion
        )
        assert variant_of(config) == variant
    single_summed = sequential_config("sasrec+", dataset=DATASET, modalities=["text"], fusion="sum")
    with pytest.raises(ValueError, match="not a Table 3 row"):
        variant_of(single_summed)
    with pytest.raises(ValueError, match="not a Table 3 row"):
        variant_of(sequential_config("sasrec", dataset=DATASET))
    assert isinstance(VARIANTS[0], Variant) and VARIANTS[0].row == "(1) Text"


def test_table1_and_table2_configs_one_per_model_and_seed():
    common = {"dataset": DATASET, "modalities": ["tabular"], "n_negatives": 20}
    configs = table1_configs(["poprec", "sasrec+"], seeds=[0, 1], **common)
    assert [(c["model"], c["train"]["seed"]) for c in configs] == [
        ("poprec", 0), ("poprec", 1), ("sasrec+", 0), ("sasrec+", 1),
    ]  # fmt: skip
    assert configs[0]["modalities"] == [] and configs[2]["modalities"] == ["tabular"]
    assert {c["split"]["n_negatives"] for c in configs} == {20}
    pairs = table2_configs(range(2), **common)
    assert [c["model"] for c in pairs[::2]] == [m for pair in TABLE2_PAIRS for m in pair]
    assert len(pairs) == 4 * 2 and len({run_key(c) for c in pairs}) == 8


def test_rating_configs_one_per_model_and_seed():
    from mmrec_lib.experiments.rating import rating_config

    configs = rating_configs(["mf", "nn"], seeds=(0, 1), dataset=DATASET, train={"epochs": 1})
    assert [(c["model"], c["train"]["seed"]) for c in configs] == [
        ("mf", 0), ("mf", 1), ("nn", 0), ("nn", 1),
    ]  # fmt: skip
    assert configs[1] == rating_config("mf", dataset=DATASET, seed=1, train={"epochs": 1})


def test_reproduction_configs_name_the_papers_settings():
    """Every config of Tables 1-3 names its model's published loss, so a new library default
    cannot change what a recorded reproduction run computes."""
    common = {"dataset": DATASET, "modalities": ["tabular"]}
    configs = [
        *table1_configs(["sasrec", "sasrec+", "bert4rec", "kebert4rec", "bpr"], **common),
        *ablation_configs([0], variants=[1], **common),
    ]
    losses = {c["model"]: c["hyperparameters"].get("loss") for c in configs}
    assert losses == {
        "sasrec": "bce", "sasrec+": "bce", "bert4rec": "ce", "kebert4rec": "ce",
        "bpr": None, "bert4rec+": "ce",
    }  # fmt: skip
    overridden = table1_configs(["sasrec"], hyperparameters={"loss": "ce"}, **common)[0]
    assert overridden["hyperparameters"] == {"loss": "ce", "dropout": 0.2}  # the rest stays
    assert {c["hyperparameters"].get("dropout") for c in configs if "sasrec" in c["model"]} == {0.2}
