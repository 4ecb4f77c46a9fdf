"""The values and verdicts the side-information chapter (notebook 50) states in its prose."""

from __future__ import annotations

import math

import pandas as pd


def _row(table: pd.DataFrame, label, columns=("gain", "ci95_low", "ci95_high")) -> list[float]:
    if label not in table.index:
        return [math.nan] * len(columns)
    return [float(table.loc[label, column]) for column in columns]


def side_info_glue_values(
    curve: pd.DataFrame,
    by_popularity: pd.DataFrame,
    rating_by_popularity: pd.DataFrame,
    cold: pd.DataFrame,
    cold_full: pd.DataFrame,
    rating_curve: pd.DataFrame,
    rating_cold: pd.DataFrame,
) -> dict[str, object]:
    """Numbers of the chapter's conclusion, always all present (NaN where a profile is too
    small), so every ``{glue:text}`` resolves; the verdicts are the claims' (``claims.py``).

    cold, cold_full: :func:`~mmrec_lib.analysis.cold_start.cold_start_table` of sampled and
    full NDCG@10; the "+" model of the pair and ``content-knn`` are read from them.
    rating_curve: paper A's sparsity curve (RMSE reduction); rating_cold:
    :func:`~mmrec_lib.analysis.cold_start.rating_gain_on_cold_items`."""
    smallest, full = float(curve.index.min()), float(curve.index.max())
    pair = [column for column in curve.columns if column not in
            ("n seeds", "gain", "ci95_low", "ci95_high", "p")]  # fmt: skip
    gain_s, low_s, high_s = _row(curve, smallest)
    gain_f, low_f, high_f = _row(curve, full)
    n_smallest = float(curve.loc[smallest, "n seeds"])
    rare_label = next((g for g in by_popularity.index if str(g).startswith("<")), None)
    rare = int(str(rare_label).lstrip("< ")) if rare_label is not None else math.nan
    gain_r, low_r, high_r, users_r = _row(
        by_popularity, rare_label, ("gain", "ci95_low", "ci95_high", "n")
    )
    rating_r = _row(rating_by_popularity, rare_label)
    columns = {"mean": "_mean", "chance": "_chance", "gain": "", "ci95_low": "_low",
               "ci95_high": "_high"}  # fmt: skip
    cold_values = {  # e.g. cold_with (the "+" model's gain over chance), cold_full_content_low
        f"cold{protocol}_{role}{suffix}": value
        for protocol, table in (("", cold), ("_full", cold_full))
        for role, model in (("with", pair[1]), ("content", "content-knn"))
        for suffix, value in zip(columns.values(), _row(table, model, tuple(columns)), strict=True)
    }
    rating_s, rating_f = (_row(rating_curve, share) for share in (smallest, full))
    rmse_columns = [column for column in rating_cold.columns if column.endswith(" RMSE")]
    rating_c = _row(
        rating_cold, "cold items", ("n", *rmse_columns, "gain", "ci95_low", "ci95_high")
    )
    return cold_values | {
        "rating_gain_smallest": rating_s[0],
        "rating_gain_smallest_low": rating_s[1],
        "rating_gain_smallest_high": rating_s[2],
        "rating_gain_full": rating_f[0],
        "rating_cold_n": rating_c[0],
        "rating_cold_rmse_without": rating_c[1],
        "rating_cold_rmse_with": rating_c[2],
        "rating_cold_gain": rating_c[3],
        "rating_cold_gain_low": rating_c[4],
        "rating_cold_gain_high": rating_c[5],
        "cold_users": float(cold["cold users"].iloc[0]),
        "cold_n_seeds": float(cold.loc[pair[1], "n seeds"]) if pair[1] in cold.index else math.nan,
        "pair_without": pair[0],
        "pair_with": pair[1],
        "smallest_share": smallest,
        "n_seeds_smallest": n_smallest,
        "gain_smallest": gain_s,
        "gain_smallest_low": low_s,
        "gain_smallest_high": high_s,
        "gain_full": gain_f,
        "gain_full_low": low_f,
        "gain_full_high": high_f,
        "rare": rare,
        "rare_users": users_r,
        "gain_rare": gain_r,
        "gain_rare_low": low_r,
        "gain_rare_high": high_r,
        "rating_gain_rare": rating_r[0],
        "rating_gain_rare_low": rating_r[1],
        "rating_gain_rare_high": rating_r[2],
    }
