"""Figures of the chapter beyond the papers: where side information helps (the sparsity
curve and the gain by the held-out item's popularity), each point with its 95 % CI."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _gain_panel(axis, table: pd.DataFrame, positions: np.ndarray) -> None:
    """Mean paired gain with its 95 % CI as error bars, and the zero line."""
    gain = table["gain"].to_numpy()
    errors = np.vstack([gain - table["ci95_low"].to_numpy(), table["ci95_high"].to_numpy() - gain])
    axis.errorbar(positions, gain, yerr=np.nan_to_num(errors), fmt="o", capsize=4, color="black")
    axis.axhline(0, color="grey", linewidth=1)
    axis.grid(alpha=0.3)


def sparsity_figure(curve: pd.DataFrame, pair: tuple[str, str], metric: str, title: str):
    """Left: each model's mean over seeds against the share of history kept; right: the
    paired gain (with - without) and its 95 % CI over seeds, with the seed count."""
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    shares = curve.index.to_numpy(dtype=float)
    for model in pair:
        left.plot(shares, curve[model], marker="o", label=model)
    left.set_xlabel("share of each training history kept")
    left.set_ylabel(metric)
    left.legend(fontsize="small")
    left.grid(alpha=0.3)
    _gain_panel(right, curve, shares)
    for share, n in zip(shares, curve["n seeds"], strict=True):
        right.annotate(f"n={int(n)}", (share, 0), textcoords="offset points", xytext=(0, -14),
                       ha="center", fontsize=7)  # fmt: skip
    right.set_xlabel("share of each training history kept")
    right.set_ylabel(f"gain of {pair[1]} (95 % CI)")
    figure.suptitle(title)
    return figure


def popularity_figure(table: pd.DataFrame, ylabel: str, title: str):
    """The paired gain per popularity group with its 95 % CI and the group's size."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 3.2), layout="constrained")
    positions = np.arange(len(table))
    _gain_panel(axis, table, positions)
    axis.set_xticks(positions, [f"{group}\n(n={n})" for group, n in table["n"].items()])
    axis.set_xlabel(table.index.name or "")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    return figure


def cold_start_figure(tables: dict[str, pd.DataFrame], title: str):
    """One panel per metric (``tables``: :func:`~mmrec_lib.analysis.cold_start.cold_start_table`
    by metric): each model's gain over a random ranking on the cold users, with its 95 % CI
    and the numbers of seeds and users."""
    import matplotlib.pyplot as plt

    columns = min(len(tables), 2)
    rows = -(-len(tables) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(4.6 * columns, 3.4 * rows), layout="constrained", squeeze=False
    )
    for axis in axes.flat[len(tables) :]:
        axis.set_visible(False)
    for axis, (metric, table) in zip(axes.flat[: len(tables)], tables.items(), strict=True):
        positions = np.arange(len(table))
        _gain_panel(axis, table, positions)
        labels = [f"{model}\n({n} seeds)" for model, n in table["n seeds"].items()]
        axis.set_xticks(positions, labels, fontsize="small")
        axis.set_ylabel(f"{metric} above chance (95 % CI)")
        users = int(table["cold users"].iloc[0])
        axis.set_title(f"{metric}, {users} cold users", fontsize="medium")
    figure.suptitle(title)
    return figure
