"""Paper A beside ours: its transcribed Table 9, and our rating runs in its layout.

Our numbers come from run records (:mod:`mmrec_lib.experiments.rating`), given as a mapping
from a row key to a record: ``"mf"``, ``"tsem"``, ... for the plain runs, and
``"<model>_<variant>"`` (e.g. ``"mf_tuned"``) for a variant of a model. The paper's numbers
are typed in here from its text, and only ever shown beside ours.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from mmrec_lib.experiments.store import RunRecord
from mmrec_lib.models.rating import MODEL_LABELS, MODEL_NAMES

# Paper A, section 9 (Table 9): MSE, RMSE, hit rate (%) of its four models, plus the rows it
# quotes from the literature, and Surprise's published ML-100K benchmark (5-fold CV).
REPORTED = pd.DataFrame(
    {
        "MSE": [1.12, 0.72, 0.63, 0.61, 0.73, np.nan, np.nan, np.nan],
        "RMSE": [1.06, 0.85, 0.80, 0.78, 0.86, np.nan, 0.934, 0.919],
        "hit rate (%)": [50.22, 73.08, 67.13, 73.88, np.nan, 72.0, np.nan, np.nan],
        "source": [
            *["paper A, Table 9"] * 4,
            "quoted by paper A (Netflix; not measured here)",
            "quoted by paper A (not measured here)",
            "published by Surprise, ML-100K 5-fold CV (not measured here)",
            "published by Surprise, ML-100K 5-fold CV (not measured here)",
        ],
    },
    index=[
        "NN",
        "MF",
        "MF_NN",
        "TSEM",
        "MF (Koren et al. 2009)",
        "NCF (He et al. 2017)",
        "SVD (Surprise)",
        "SVD++ (Surprise)",
    ],
)

_REPORTED_KEYS = dict(
    zip(
        REPORTED.index,
        [*MODEL_NAMES, "koren2009", "ncf2017", "surprise_svd", "surprise_svdpp"],
        strict=True,
    )
)
_METRIC_KEYS = {"MSE": "mse", "RMSE": "rmse", "hit rate (%)": "hit_rate_pct"}


def row_label(key: str) -> str:
    """A row key's label in tables: ``"mf"`` -> "MF", ``"mf_tuned"`` -> "MF (tuned)"."""
    if key in MODEL_LABELS:
        return MODEL_LABELS[key]
    longest_first = sorted(MODEL_NAMES, key=len, reverse=True)
    model = next((m for m in longest_first if key.startswith(f"{m}_")), None)
    if model is None:
        raise ValueError(f"row key {key!r} names no model of {MODEL_NAMES}")
    return f"{MODEL_LABELS[model]} ({key.removeprefix(model + '_')})"


def metrics_frame(records: Mapping[str, RunRecord]) -> pd.DataFrame:
    """One row per record: MSE, RMSE, MAE, hit rate (%), epochs, best epoch, parameters,
    seconds."""
    return pd.DataFrame(
        [
            {
                "MSE": r.metrics["mse"],
                "RMSE": r.metrics["rmse"],
                "MAE": r.metrics["mae"],
                "hit rate (%)": 100 * r.metrics["hit_rate"],
                "epochs": int(r.metrics["epochs"]),
                "best epoch": int(r.metrics["best_epoch"]),
                "parameters": int(r.metrics["n_parameters"]),
                "seconds": r.seconds,
            }
            for r in records.values()
        ],
        index=pd.Index([row_label(key) for key in records], name="model"),
    )


def glue_values(records: Mapping[str, RunRecord]) -> dict[str, float]:
    """Flat ``{<row key>_<metric>: value}`` of every record (hit rate in %), for the book."""
    values = {}
    for key, r in records.items():
        values.update({f"{key}_{m}": r.metrics[m] for m in ("mse", "rmse", "mae")})
        values[f"{key}_hit_rate_pct"] = 100 * r.metrics["hit_rate"]
        values[f"{key}_epochs"] = int(r.metrics["epochs"])
        values[f"{key}_seconds"] = r.seconds
    return values


def reported_values() -> dict[str, float]:
    """Flat ``{reported_<row>_<metric>: value}`` of every number in :data:`REPORTED`."""
    return {
        f"reported_{_REPORTED_KEYS[row]}_{_METRIC_KEYS[column]}": float(value)
        for row, values in REPORTED.drop(columns="source").iterrows()
        for column, value in values.items()
        if not np.isnan(value)
    }


def comparison_table(records: Mapping[str, RunRecord]) -> pd.DataFrame:
    """Paper A's Table 9 beside ours: (MSE, RMSE, hit rate) x (reported, ours), plus source.

    Rows: our models first, then paper A's models we did not train, then the literature
    rows (quoted by paper A, or published by Surprise), which have no "ours" value.
    """
    from mmrec_lib.report.notebook import paper_beside_ours

    ours = metrics_frame(records)[["MSE", "RMSE", "hit rate (%)"]]
    reported = REPORTED.drop(columns="source")
    table = paper_beside_ours(ours, reported, label_ours="ours", label_paper="reported")
    table[("source", "")] = REPORTED["source"].reindex(table.index)
    table.index.name = "model"
    return table


_LOWER_IS_BETTER = {"MSE": True, "RMSE": True, "hit rate (%)": False}


def style_table9(table: pd.DataFrame):
    """A Styler of :func:`comparison_table` at the paper's precision (MSE and RMSE to three
    decimals, hit rate to two), with our best value of each metric in bold; cells a row does
    not report are blank."""
    from mmrec_lib.report.notebook import book_table

    styler = table.style.format(na_rep="").hide(axis="index", names=True)
    for metric, lower in _LOWER_IS_BETTER.items():
        columns = [c for c in table.columns if c[0] == metric]
        styler = styler.format("{:.2f}" if "%" in metric else "{:.3f}", subset=columns,
                               na_rep="")  # fmt: skip
        ours = table.get((metric, "ours"))
        if ours is None or ours.isna().all():
            continue
        best = ours == (ours.min() if lower else ours.max())
        styler = styler.apply(
            lambda _, best=best: ["font-weight: bold" if b else "" for b in best],
            subset=[(metric, "ours")],
        )
    return book_table(styler)


def table9_styled(records: Mapping[str, RunRecord]):
    """:func:`comparison_table` styled by :func:`style_table9`: what the Table 9 page shows."""
    return style_table9(comparison_table(records))


def side_information_verdict(records: Mapping[str, RunRecord], margin: float = 0.01) -> str:
    """A plain sentence per side-information model: did it beat MF's test RMSE by ``margin``?

    Issue 4's bar: TSEM and MF_NN at least ``margin`` below MF, or the page says plainly
    that side information did not help here, and by how much.
    """
    if "mf" not in records:
        return "MF was not trained, so the side-information models have no baseline here."
    baseline = records["mf"].metrics["rmse"]
    sentences = []
    for name in ("mf_nn", "tsem"):
        if name not in records:
            continue
        rmse = records[name].metrics["rmse"]
        gain = baseline - rmse
        label = MODEL_LABELS[name]
        if gain >= margin:
            verdict = f"side information helped: {gain:.3f} below MF"
        elif gain > 0:
            verdict = (
                f"side information helped only marginally: {gain:.3f} below MF, "
                f"less than the {margin} we ask for"
            )
        else:
            verdict = f"side information did not help here: {-gain:.3f} above MF"
        sentences.append(
            f"**{label}**: test RMSE {rmse:.3f} against MF's {baseline:.3f}; {verdict}."
        )
    return " ".join(sentences)
