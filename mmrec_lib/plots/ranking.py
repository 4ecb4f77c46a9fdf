"""Figures of ranking results: how the two evaluation protocols rank the models."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def protocol_comparison_figure(results: Mapping, metric: str = "NDCG@10", title: str = ""):
    """Per model, ``metric`` under sampled (1 + N negatives) and full ranking, side by side.

    ``results`` maps model name -> an object with ``metrics[protocol][metric]`` per-user
    arrays (e.g. :class:`mmrec_lib.sequential_experiment.SequentialResult`). Error bars are
    95 % normal intervals of the mean over users. Each panel sorts the models by its own
    protocol, so a reordering between protocols (Krichene & Rendle 2020) is visible.
    """
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("no results to plot")
    figure, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(results) + 1.8))
    for axis, protocol in zip(axes, ("sampled", "full"), strict=True):
        means, halfwidths = {}, {}
        for name, result in results.items():
            values = np.asarray(result.metrics[protocol][metric], dtype=float)
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
