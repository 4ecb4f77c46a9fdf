"""Paper B beside ours: its transcribed Tables 1, 2 and 3, and our tables in their layout.

Our numbers come from run records (:mod:`mmrec_lib.experiments.sequential`); the paper's are
typed in here from its text, and only ever shown beside ours, never as ours.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmrec_lib.analysis.significance import table2
from mmrec_lib.experiments.grids import TABLE2_PAIRS, VARIANTS, variant_of
from mmrec_lib.experiments.store import RunRecord
from mmrec_lib.models.sequential import MODEL_LABELS

TABLE_METRICS = ("HR@1", "HR@5", "HR@10", "NDCG@5", "NDCG@10", "MAP")
PROTOCOLS = ("sampled", "full")
TABLE2_LABEL_PAIRS = tuple((MODEL_LABELS[a], MODEL_LABELS[b]) for a, b in TABLE2_PAIRS)
"""Table 2's pairs under their display labels (the columns of ``seed_values``)."""

# Paper B (SASRec+ with auxiliary information), Table 1: "Performance of each recommendation
# model", sampled protocol (1 positive + 100 negatives). Columns in the paper's order;
# "Improve" is the paper's percentage improvement of SASRec+ over the best baseline.
_PAPER_COLUMNS = (*MODEL_LABELS.values(), "Improve")
_PAPER_ROWS = {
    "ML-20M": {
        "HR@1": (0.014, 0.202, 0.217, 0.227, 0.229, 0.429, 0.229, 0.431, 0.4),
        "HR@5": (0.054, 0.489, 0.563, 0.569, 0.568, 0.802, 0.570, 0.818, 2.0),
        "HR@10": (0.081, 0.630, 0.755, 0.740, 0.746, 0.904, 0.746, 0.920, 1.7),
        "NDCG@5": (0.034, 0.350, 0.394, 0.403, 0.404, 0.629, 0.405, 0.638, 1.4),
        "NDCG@10": (0.043, 0.396, 0.457, 0.445, 0.461, 0.679, 0.462, 0.706, 4.0),
        "MAP": (0.046, 0.338, 0.379, 0.387, 0.387, 0.387, 0.388, 0.597, 53.9),
    },
    "Fashion": {
        "HR@1": (0.001, 0.049, 0.057, 0.049, 0.069, 0.437, 0.075, 0.525, 16.9),
        "HR@5": (0.001, 0.208, 0.214, 0.199, 0.244, 0.760, 0.244, 0.883, 16.3),
        "HR@10": (0.020, 0.229, 0.266, 0.284, 0.266, 0.870, 0.267, 0.955, 9.7),
        "NDCG@5": (0.001, 0.130, 0.133, 0.122, 0.162, 0.608, 0.166, 0.720, 18.4),
        "NDCG@10": (0.007, 0.136, 0.151, 0.161, 0.169, 0.643, 0.176, 0.713, 11.0),
        "MAP": (0.015, 0.114, 0.126, 0.120, 0.149, 0.580, 0.154, 0.677, 16.8),
    },
}
PAPER_TABLE1 = {
    dataset: pd.DataFrame(rows, index=_PAPER_COLUMNS).T.rename_axis("metric")
    for dataset, rows in _PAPER_ROWS.items()
}
"""Paper B's Table 1 per dataset ("ML-20M", "Fashion"): rows = metrics, columns = models."""


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


# Paper B, Table 3 "Ablation analysis (NDCG@10) on two datasets" (section 4.1, "Ablation
# Study"), transcribed from the paper's text; rows (1)-(11) in order.
_PAPER_ROWS = {
    ("ML-20M", "BERT4Rec+"): (.46181, .46219, .46182, .46146, .46203, .46198, .46182,
                              .46218, .46211, .46198, .46226),
    ("ML-20M", "SASRec+"): (.70260, .68590, .68815, .70600, .70676, .70837, .71004,
                            .67628, .68225, .65881, .68386),
    ("Fashion", "BERT4Rec+"): (.18384, .20737, .19242, .17567, .18828, .17734, .15517,
                               .19266, .19236, .19469, .17060),
    ("Fashion", "SASRec+"): (.72807, .58797, .59929, .71342, .69398, .72643, .62355,
                             .43453, .53307, .65882, .41108),
}  # fmt: skip
PAPER_TABLE3 = pd.DataFrame(_PAPER_ROWS, index=[v.row for v in VARIANTS]).rename_axis("variant")
"""Paper B's Table 3: rows = variants, columns = (dataset, model), NDCG@10 (sampled)."""


def by_model(records: Sequence[RunRecord]) -> dict[str, RunRecord]:
    """{model name: record}; raises when two runs share a model."""
    models = [r.config["model"] for r in records]
    if len(set(models)) != len(models):
        raise ValueError(f"one run per model expected, got models {models}")
    return dict(zip(models, records, strict=True))


def mean_metrics(record: RunRecord, protocol: str = "sampled") -> dict[str, float]:
    """The record's mean of each Table 1 metric under ``protocol``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    return {metric: record.metrics[f"{protocol}/{metric}"] for metric in TABLE_METRICS}


def runs_by_model(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """{model name: its runs}, each model's seeds distinct; raises on a model outside Table 1."""
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(record.config["model"], []).append(record)
    unknown = sorted(set(groups) - set(MODEL_LABELS))
    if unknown:
        raise ValueError(f"unknown models {unknown}; Table 1 has {list(MODEL_LABELS)}")
    for name, runs in groups.items():
        seeds = [r.config["train"]["seed"] for r in runs]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"one run per model and seed expected; {name} has seeds {seeds}")
    return groups


def seed_means(runs: Sequence[RunRecord], protocol: str = "sampled") -> dict[str, float]:
    """Each Table 1 metric of a model's runs, averaged over their seeds."""
    per_run = [mean_metrics(r, protocol) for r in runs]
    return {metric: float(np.mean([m[metric] for m in per_run])) for metric in TABLE_METRICS}


def over_seeds(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean, std, count and the 95 % t-interval half-width (NaN for one seed) of
    ``frame["value"]`` per group of ``by``."""
    from scipy import stats

    summary = frame.groupby(by, sort=False)["value"].agg(["mean", "std", "count"])
    summary["ci95"] = (
        stats.t.ppf(0.975, summary["count"] - 1) * summary["std"] / np.sqrt(summary["count"])
    )
    return summary


def seed_summary(records: Sequence[RunRecord], metric: str = "sampled/NDCG@10") -> pd.DataFrame:
    """Per model (paper order): mean of ``metric`` over seeds, std, 95 % CI half-width, n."""
    groups = runs_by_model(records)
    rows = [
        (MODEL_LABELS[name], r.metrics[metric])
        for name in MODEL_LABELS
        for r in groups.get(name, [])
    ]
    summary = over_seeds(pd.DataFrame(rows, columns=["model", "value"]), ["model"])
    return summary.rename(columns={"count": "n seeds"}).rename_axis(metric)


def seed_summaries(records: Sequence[RunRecord], metric: str = "NDCG@10") -> pd.DataFrame:
    """:func:`seed_summary` of ``metric`` under both protocols side by side: columns
    (protocol, statistic), rows the models in the paper's order."""
    summaries = {protocol: seed_summary(records, f"{protocol}/{metric}") for protocol in PROTOCOLS}
    table = pd.concat(summaries, axis=1, names=["protocol", metric])
    return table.rename_axis("model")


def table1(records: Sequence[RunRecord], protocol: str = "sampled") -> pd.DataFrame:
    """Rows = Table 1's metrics, columns = models (paper order) and "Improve"; each value
    the mean over the model's seeds.

    Improve = 100 * (SASRec+ / best other model - 1), in percent, as in the paper; NaN when
    SASRec+ or every other model is missing.
    """
    runs = runs_by_model(records)
    columns = {
        label: pd.Series(seed_means(runs[name], protocol))
        for name, label in MODEL_LABELS.items()
        if name in runs
    }
    table = pd.DataFrame(columns).reindex(list(TABLE_METRICS)).rename_axis("metric")
    baselines = table.drop(columns="SASRec+", errors="ignore")
    if "SASRec+" in table and not baselines.empty:
        table["Improve"] = 100 * (table["SASRec+"] / baselines.max(axis=1) - 1)
    else:
        table["Improve"] = np.nan
    return table


def table1_beside_paper(records: Sequence[RunRecord], protocol: str = "sampled") -> pd.DataFrame:
    """:func:`table1` laid out as in the paper, with paper B's numbers beside ours.

    Columns: the paper's models in its order, then "Improve" (every column of the paper,
    ours empty where a model was not run). Rows: (metric, source) for each Table 1 metric and
    source "paper ML-20M", "paper Fashion" (paper B's numbers, always from its sampled
    protocol) and "ours" (under ``protocol``).
    """
    ours = table1(records, protocol).reindex(columns=list(_PAPER_COLUMNS))
    sources = {f"paper {dataset}": paper for dataset, paper in PAPER_TABLE1.items()}
    sources["ours"] = ours
    rows = {
        (metric, source): table.loc[metric, list(_PAPER_COLUMNS)]
        for metric in TABLE_METRICS
        for source, table in sources.items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index").astype(float)
    table.index = pd.MultiIndex.from_tuples(table.index, names=["metric", "source"])
    table.columns.name = "model"
    return table


def row_best(table: pd.DataFrame, exclude: Sequence[str] = ("Improve",)) -> pd.DataFrame:
    """True where a cell holds the largest value of its row, among the columns not in
    ``exclude`` (ties are all marked; a row of NaN has no best)."""
    values = table.drop(columns=[c for c in exclude if c in table.columns])
    best = values.eq(values.max(axis=1), axis=0) & values.notna()
    return best.reindex(columns=table.columns, fill_value=False)


def style_table1(table: pd.DataFrame, caption: str = ""):
    """A Styler of :func:`table1_beside_paper` as the paper prints it: three decimals (one for
    "Improve", in percent), the best model of each row in bold, empty cells blank."""
    from mmrec_lib.report.notebook import book_table

    best = row_best(table)
    bold = best.replace({True: "font-weight: bold", False: ""})
    models = [c for c in table.columns if c != "Improve"]
    styler = table.style.apply(lambda _: bold, axis=None).hide(axis="index", names=True)
    styler = styler.format("{:.3f}", subset=models, na_rep="")
    if "Improve" in table.columns:
        styler = styler.format("{:.1f}", subset=["Improve"], na_rep="")
    return book_table(styler, caption)


def table1_styled(records: Sequence[RunRecord], protocol: str = "sampled"):
    """:func:`table1_beside_paper` styled by :func:`style_table1`: what the Table 1 page shows,
    with a caption naming the protocol of each row."""
    caption = f"ours: {protocol} protocol; paper: sampled; bold: best of the row"
    return style_table1(table1_beside_paper(records, protocol), caption)


def best_models(records: Sequence[RunRecord], metric: str = "NDCG@10") -> dict[str, str]:
    """Our best model by ``metric`` (mean over seeds) under each protocol, as
    ``{"best_<protocol>": label}`` (ties joined by " and ")."""
    values = {}
    for protocol in PROTOCOLS:
        row = table1(records, protocol).drop(columns="Improve").loc[metric]
        values[f"best_{protocol}"] = " and ".join(row.index[row == row.max()])
    return values


def paper_table1_glue_values() -> dict[str, float]:
    """Paper B's Table 1 as ``paper_<dataset>_<model>_<metric>`` (glue-safe, e.g.
    ``paper_ml20m_sasrecplus_NDCGat10``; "Improve", in percent, as ``improve_pct``)."""
    values = {}
    for dataset, paper in PAPER_TABLE1.items():
        for model in paper.columns:
            name = "improve_pct" if model == "Improve" else model
            for metric, value in paper[model].items():
                values[_safe(f"paper_{dataset}_{name}_{metric}")] = float(value)
    return values


def _safe(name: str) -> str:
    """A glue-safe name: "+" as "plus", "@" as "at", dataset and model names lower case."""
    name = name.replace("+", "plus").replace("@", "at").replace("-", "")
    head, _, metric = name.rpartition("_")
    return f"{head.lower()}_{metric}"


def table1_glue_values(records: Sequence[RunRecord]) -> dict[str, float]:
    """Every Table 1 metric (mean over seeds) as ``<model>_<protocol>_<metric>``, glue-safe
    (e.g. ``sasrecplus_full_NDCGat10``)."""
    values = {}
    for name, runs in runs_by_model(records).items():
        for protocol in PROTOCOLS:
            for metric, value in seed_means(runs, protocol).items():
                key = f"{name}_{protocol}_{metric}".replace("+", "plus").replace("@", "at")
                values[key] = value
    return values


def table2_beside_paper(
    records: Sequence[RunRecord], paper: str = "ML-20M", metric: str = "sampled/NDCG@10"
) -> pd.DataFrame:
    """Our Table 2 (paired over seeds) with paper B's Table 2 for ``paper`` beside it."""
    from mmrec_lib.report.notebook import paper_beside_ours

    if paper not in PAPER_TABLE2:
        raise ValueError(f"paper must be one of {list(PAPER_TABLE2)}, got {paper!r}")
    return paper_beside_ours(
        table2(records, metric), PAPER_TABLE2[paper], label_ours="ours",
        label_paper=f"paper B ({paper})",
    )  # fmt: skip


_ROW_FORMATS = {
    "Observations": "{:.0f}",
    "degrees of freedom": "{:.0f}",
    "p-value": "{:.2g}",
}


def style_paired_table(table: pd.DataFrame, decimals: int = 4):
    """A Styler of a Table 2 layout (ours, or :func:`table2_beside_paper`) as the paper prints
    it: ``decimals`` decimals, counts as integers, p-values to two significant digits (the
    paper's "2.7e-13"), empty cells blank."""
    from mmrec_lib.report.notebook import book_table

    styler = table.style.format(f"{{:.{decimals}f}}", na_rep="")
    for row, spec in _ROW_FORMATS.items():
        if row in table.index:
            styler = styler.format(spec, subset=pd.IndexSlice[[row], :], na_rep="")
    return book_table(styler)


def paper_table2_glue_values() -> dict[str, float]:
    """Paper B's Table 2 as ``paper_<dataset>_<model>_<row>`` (glue-safe, e.g.
    ``paper_ml20m_sasrecplus_p_value``), as :func:`~mmrec_lib.analysis.significance.glue_values`
    names ours."""
    from mmrec_lib.analysis.significance import glue_values

    return {
        name: value
        for dataset, paper in PAPER_TABLE2.items()
        for name, value in glue_values(paper, f"paper_{dataset.replace('-', '').lower()}_").items()
    }


def paper_table3_glue_values() -> dict[str, float]:
    """Paper B's Table 3 as ``paper_<dataset>_<model>_row<number>`` (glue-safe, e.g.
    ``paper_ml20m_sasrecplus_row4``), as :func:`ablation_glue_values` names ours."""
    return {
        f"paper_{dataset.replace('-', '').lower()}_{model.replace('+', 'plus').lower()}"
        f"_row{variant.number}": float(value)
        for (dataset, model), column in PAPER_TABLE3.items()
        for variant, value in zip(VARIANTS, column, strict=True)
    }


def predicted_next(records: Sequence[RunRecord]) -> dict[str, np.ndarray]:
    """{model label: (n_users,) top-1 item of the full ranking} of each run (Fig. 2)."""
    return {MODEL_LABELS[r.config["model"]]: r.arrays["top_items"][:, 0] for r in records}


def ablation_table(records: Sequence[RunRecord], metric: str = "sampled/NDCG@10") -> pd.DataFrame:
    """Table 3 from ablation runs: per variant and model, mean over seeds, std and a 95 % CI.

    Columns per model: ``(model, "paper ML-20M")``, ``(model, "paper Fashion")``,
    ``(model, "ours")``, ``(model, "std")``, ``(model, "ci95")`` (half-width, t-based; NaN for
    one seed), ``(model, "n seeds")``, ``(model, "top-2")`` (1 = best, 2 = second of ours).
    """
    rows = [
        (MODEL_LABELS[r.config["model"]], variant_of(r.config).row, r.metrics[metric])
        for r in records
    ]
    if not rows:
        raise ValueError("no ablation runs given")
    summary = over_seeds(pd.DataFrame(rows, columns=["model", "variant"] + ["value"]),
                         ["model", "variant"])  # fmt: skip
    pieces = {}
    for model in summary.index.unique("model"):
        ours = summary.loc[model].reindex(PAPER_TABLE3.index)
        for dataset in ("ML-20M", "Fashion"):
            pieces[(model, f"paper {dataset}")] = PAPER_TABLE3[(dataset, model)]
        pieces[(model, "ours")] = ours["mean"]
        pieces[(model, "std")] = ours["std"]
        pieces[(model, "ci95")] = ours["ci95"]
        pieces[(model, "n seeds")] = ours["count"]
        pieces[(model, "top-2")] = _top_two(ours["mean"])
    return pd.DataFrame(pieces, index=PAPER_TABLE3.index)


def ablation_glue_values(table: pd.DataFrame) -> dict[str, float]:
    """Our mean per model and variant as ``<model>_row<number>`` (glue-safe names)."""
    return {
        f"{model.replace('+', 'plus').lower()}_row{variant.number}": float(value)
        for model in dict.fromkeys(table.columns.get_level_values(0))
        for variant, value in zip(VARIANTS, table[(model, "ours")], strict=True)
        if not np.isnan(value)
    }


def _top_two(values: pd.Series) -> pd.Series:
    """1 for the largest value, 2 for the second largest, NaN otherwise (ties share a rank)."""
    ranks = values.rank(ascending=False, method="min")
    return ranks.where(ranks <= 2)


def highlight_best_two(table: pd.DataFrame):
    """A Styler of :func:`ablation_table` as in the paper: top two grey, the best bold, for
    our means and the paper's columns."""
    shown = [c for c in table.columns if c[1] == "ours" or c[1].startswith("paper")]

    def style(column: pd.Series) -> list[str]:
        ranks = _top_two(column)
        return [
            "background-color: #d9d9d9; font-weight: bold" if r == 1
            else "background-color: #d9d9d9" if r == 2 else ""
            for r in ranks
        ]  # fmt: skip

    from mmrec_lib.report.notebook import book_table

    counts = [c for c in table.columns if c[1] in ("n seeds", "top-2")]
    return book_table(
        table.style.apply(style, subset=shown)
        .format(precision=5, na_rep="")
        .format("{:.0f}", subset=counts, na_rep="")
    )
