"""Figures of ranking results: how the two evaluation protocols rank the models."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def protocol_comparison_figure(
    per_user: Mapping[str, Mapping[str, np.ndarray]], metric: str = "NDCG@10", title: str = ""
):
    """Per model, ``metric`` under sampled (1 + N negatives) and full ranking, side by side.

    ``per_user`` maps model label -> per-user arrays named ``<protocol>/<metric>`` (a run
    record's ``arrays``). Error bars are
    95 % normal intervals of the mean over users. Each panel sorts the models by its own
    protocol, so a reordering between protocols (Krichene & Rendle 2020) is visible.
    """
    import matplotlib.pyplot as plt

    if not per_user:
        raise ValueError("no results to plot")
    figure, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(per_user) + 1.8))
    for axis, protocol in zip(axes, ("sampled", "full"), strict=True):
        means, halfwidths = {}, {}
        for name, arrays in per_user.items():
            values = np.asarray(arrays[f"{protocol}/{metric}"], dtype=float)
            means[name] = values.mean()
            halfwidths[name] = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
        order = sorted(means, key=means.get)
        positions = np.arange(len(order))
        axis.barh(
            positions,
            [means[n] for n in order],
            xerr=[halfwidths[n] for n in order],
            color="tab:blue" if protocol == "sampled" else "tab:orange",
            capsize=3,
        )
        axis.set_yticks(positions, order)
        axis.set_xlabel(f"{metric} (mean over users, 95 % CI)")
        axis.set_title(f"{protocol} ranking")
    figure.suptitle(title or f"{metric}: sampled vs full-ranking evaluation")
    figure.tight_layout()
    return figure
