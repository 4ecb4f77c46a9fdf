"""Table 3: the 11-variant grid, configs, the table builder with best-two marks, paper numbers."""

from __future__ import annotations

import numpy as np
import pytest

from mmrec_lib.ablation import (
    PAPER_TABLE3,
    VARIANTS,
    ablation_configs,
    ablation_table,
    highlight_best_two,
    sequential_config,
)
from mmrec_lib.runs import RunRecord, run_key

DATASET = {"name": "synthetic", "size": "small"}


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
    assert [(v.number, v.use, v.method) for v in VARIANTS] == expected
    assert [v.row for v in VARIANTS] == [
        "(1) Text", "(2) Image", "(3) Tabular",
        "(4) Text + Image + Tabular", "(5) w/o Tabular", "(6) w/o Image", "(7) w/o Text",
        "(8) Text + Image + Tabular", "(9) w/o Tabular", "(10) w/o Image", "(11) w/o Text",
    ]  # fmt: skip
    assert len({(v.use, v.method) for v in VARIANTS}) == 11


def test_ablation_configs_cover_models_variants_and_seeds_with_distinct_keys():
    configs = ablation_configs(range(3), dataset=DATASET)
    assert len(configs) == 2 * 11 * 3
    assert len({run_key(c) for c in configs}) == len(configs)
    splits = {repr((c["dataset"], c["split"])) for c in configs}
    assert len(splits) == 1  # identical splits and negatives for every run


def test_sequential_config_checks_its_input():
    config = sequential_config("sasrec", dataset=DATASET, seed=4)
    assert config["use"] == [] and config["method"] is None and config["train"]["seed"] == 4
    with pytest.raises(ValueError, match="unknown modalities"):
        sequential_config("sasrec+", dataset=DATASET, use=["audio"])
    with pytest.raises(ValueError, match="'\\+' models need modalities"):
        sequential_config("sasrec+", dataset=DATASET)
    with pytest.raises(ValueError, match="'\\+' models need modalities"):
        sequential_config("sasrec", dataset=DATASET, use=["text"])
    with pytest.raises(ValueError, match="name the dataset"):
        sequential_config("sasrec", dataset={})


def fake_records(seeds=(0, 1)) -> list[RunRecord]:
    """SASRec+ value = 0.5 + number / 100 + seed / 1000; BERT4Rec+ the reverse order."""
    records = []
    for config in ablation_configs(seeds, dataset=DATASET):
        variant = next(v for v in VARIANTS if list(v.use) == config["use"]
                       and v.method == config["method"])  # fmt: skip
        number = variant.number if config["model"] == "sasrec+" else 12 - variant.number
        value = 0.5 + number / 100 + config["train"]["seed"] / 1000
        records.append(RunRecord(config, {"sampled/NDCG@10": value}))
    return records


def test_ablation_table_means_cis_and_best_two():
    table = ablation_table(fake_records())
    sas = table["SASRec+"]
    assert sas.loc["(11) w/o Text", "ours"] == pytest.approx(0.6105)
    assert sas.loc["(1) Text", "ours"] == pytest.approx(0.5105)
    assert sas.loc["(1) Text", "std"] == pytest.approx(np.std([0.51, 0.511], ddof=1))
    # two seeds: t(0.975, 1) * sd / sqrt(2)
    assert sas.loc["(1) Text", "ci95"] == pytest.approx(12.7062 * 0.001 / 2**0.5 / 2**0.5, 1e-3)
    assert sas["n seeds"].eq(2).all()
    assert sas["top-2"].dropna().to_dict() == {"(10) w/o Image": 2, "(11) w/o Text": 1}
    assert table["BERT4Rec+"]["top-2"].dropna().to_dict() == {"(1) Text": 1, "(2) Image": 2}
    assert sas.loc["(4) Text + Image + Tabular", "paper ML-20M"] == 0.70600
    assert list(table.index) == list(PAPER_TABLE3.index)


def test_ablation_table_with_one_seed_has_no_ci_and_rejects_foreign_runs():
    table = ablation_table(fake_records(seeds=(0,)))
    assert table[("SASRec+", "ci95")].isna().all()
    foreign = RunRecord(sequential_config("sasrec", dataset=DATASET), {"sampled/NDCG@10": 0.1})
    with pytest.raises(ValueError, match="not a Table 3 variant"):
        ablation_table([foreign])
    with pytest.raises(ValueError, match="no ablation runs"):
        ablation_table([])


def test_paper_table3_transcription_spot_checks():
    assert PAPER_TABLE3.shape == (11, 4)
    assert PAPER_TABLE3.loc["(7) w/o Text", ("ML-20M", "SASRec+")] == 0.71004
    assert PAPER_TABLE3.loc["(2) Image", ("Fashion", "BERT4Rec+")] == 0.20737
    assert PAPER_TABLE3.loc["(11) w/o Text", ("Fashion", "SASRec+")] == 0.41108
    assert PAPER_TABLE3.loc["(8) Text + Image + Tabular", ("ML-20M", "BERT4Rec+")] == 0.46218
    # the paper's stated best per column (its bold): ML-20M SASRec+ row 7, Fashion SASRec+ row 1
    assert PAPER_TABLE3[("ML-20M", "SASRec+")].idxmax() == "(7) w/o Text"
    assert PAPER_TABLE3[("Fashion", "SASRec+")].idxmax() == "(1) Text"
    assert PAPER_TABLE3[("Fashion", "BERT4Rec+")].idxmax() == "(2) Image"


def test_highlight_marks_best_bold_and_second_grey():
    table = ablation_table(fake_records())
    styler = highlight_best_two(table)
    styler._compute()  # fills styler.ctx: (row, column position) -> [(property, value)]
    bold = {key for key, css in styler.ctx.items() if ("font-weight", "bold") in css}
    grey = {key for key, css in styler.ctx.items() if css}
    ours = table.columns.get_loc(("SASRec+", "ours"))
    assert (10, ours) in bold and (9, ours) in grey - bold
    assert len(bold) == 6 and len(grey) == 12  # (2 paper + ours) x 2 models


def test_ablation_bars_and_glue_values():
    import matplotlib

    matplotlib.use("Agg")
    from mmrec_lib.ablation import ablation_glue_values
    from mmrec_lib.plots.analysis import ablation_bars

    table = ablation_table(fake_records())
    figure = ablation_bars(table)
    assert len(figure.axes[0].patches) == 2 * 11
    values = ablation_glue_values(table)
    assert len(values) == 22 and values["sasrecplus_row11"] == pytest.approx(0.6105)


@pytest.mark.slow
def test_train_sequential_on_tiny_synthetic_data(tmp_path):
    """Integration with the sequential models: metrics, top items, attention, reuse."""
    from mmrec_lib.ablation import dataset_and_split, train_sequential
    from mmrec_lib.runs import run_many

    configs = [
        sequential_config(model, dataset={"name": "synthetic", "size": "tiny"}, n_negatives=30,
                          use=use, train={"epochs": 1}, hyperparameters={"d": 8, "max_len": 10})
        for model, use in (("sasrec+", ["tabular"]), ("bert4rec", []))
    ]  # fmt: skip
    sasrec, bert = run_many(configs, train_sequential, root=tmp_path, progress=False)
    _, split = dataset_and_split(configs[0])
    ndcg = sasrec.arrays["sampled/NDCG@10"]
    assert ndcg.shape == (split.n_users,) and np.isclose(
        ndcg.mean(), sasrec.metrics["sampled/NDCG@10"]
    )
    top = sasrec.arrays["top_items"]
    assert top.shape == (split.n_users, 5) and top.min() >= 1
    seen = split.seen_matrix(include_val=True).toarray()
    assert not seen[np.arange(split.n_users)[:, None], top].any()  # never a seen item
    attention = sasrec.arrays["attention_last"].astype(np.float64)
    assert attention.shape == (split.n_users, 10)
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, atol=1e-2)
    assert bert.arrays["top_items"].shape == (split.n_users, 5)
    again = run_many(configs, train_sequential, root=tmp_path, progress=False)
    assert all(r.from_cache for r in again)
