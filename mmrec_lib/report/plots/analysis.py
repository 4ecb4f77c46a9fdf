"""Paper B's analysis figures: the elbow plot, attention heatmaps of user clusters (Fig. 3)
with their random-cluster control, example users (Fig. 2) and the ablation bar chart."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd


def elbow_plot(inertias: pd.Series, chosen_k: int | None = None):
    """K-means inertia against k; the chosen k (e.g. ``elbow_k``) marked."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.5, 3.0))
    axis.plot(inertias.index, inertias.to_numpy(), marker="o")
    axis.plot(inertias.index[[0, -1]], inertias.to_numpy()[[0, -1]], ":", color="grey",
              label="chord")  # fmt: skip
    if chosen_k is not None:
        axis.axvline(chosen_k, color="tab:red", linestyle="--", label=f"elbow: k = {chosen_k}")
    axis.set_xlabel("number of clusters k")
    axis.set_ylabel("inertia (within-cluster SS)")
    axis.legend(fontsize="small")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def similarity_heatmaps(maps: Mapping[str, pd.DataFrame], vmin: float | None = None):
    """Side-by-side heatmaps of set-1 x set-2 cosine similarities, one per entry of ``maps``
    (e.g. behaviour clusters and the random-cluster control), on one colour scale."""
    import matplotlib.pyplot as plt

    if not maps:
        raise ValueError("similarity_heatmaps needs at least one matrix")
    values = np.concatenate([frame.to_numpy().ravel() for frame in maps.values()])
    low, high = (vmin if vmin is not None else values.min()), values.max()
    figure, axes = plt.subplots(1, len(maps), figsize=(3.8 * len(maps), 3.4), squeeze=False,
                             layout="constrained")  # fmt: skip
    for axis, (title, frame) in zip(axes[0], maps.items(), strict=True):
        image = axis.imshow(frame.to_numpy(), vmin=low, vmax=high, cmap="viridis")
        axis.set_xticks(range(frame.shape[1]), frame.columns)
        axis.set_yticks(range(frame.shape[0]), frame.index)
        for (row, column), value in np.ndenumerate(frame.to_numpy()):
            axis.text(column, row, f"{value:.3f}", ha="center", va="center", fontsize=7,
                      color="white" if value < (low + high) / 2 else "black")  # fmt: skip
        axis.set_title(title)
        axis.set_xlabel(frame.columns.name or "")
        axis.set_ylabel(frame.index.name or "")
    figure.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="cosine similarity")
    return figure


def example_users_figure(
    dataset,
    split,
    predictions: Mapping[str, np.ndarray],
    n_users: int = 3,
    n_recent: int = 4,
    seed: int = 0,
    users: list[int] | None = None,
):
    """Fig. 2: per user (row), the last ``n_recent`` items of the test history, then each
    model's predicted next item, then the true next item (framed green, as is a prediction
    that equals it). Posters where the dataset has them, grey tiles otherwise.

    predictions: {model label: (n_users,) predicted item index} (``predicted_next``).
    users: user indices to show; default ``n_users`` drawn at random (seeded).
    """
    import matplotlib.pyplot as plt

    from mmrec_lib.features.image import load_poster

    if users is None:
        users = np.random.default_rng(seed).choice(split.n_users, n_users, replace=False).tolist()
    if not users:
        raise ValueError("example_users_figure needs at least one user")
    items = dataset.items
    posters = items["poster_path"] if "poster_path" in items else pd.Series(dtype=object)
    histories = split.padded_histories(n_recent, include_val=True)
    columns = [*(f"recent {n_recent - i}" for i in range(n_recent)), *predictions, "true next"]
    figure, axes = plt.subplots(
        len(users), len(columns), figsize=(1.6 * len(columns), 2.1 * len(users)), squeeze=False
    )
    for row, user in enumerate(users):
        truth = split.test_item[user]
        shown = [*histories[user], *(p[user] for p in predictions.values()), truth]
        for column, (axis, item) in enumerate(zip(axes[row], shown, strict=True)):
            axis.set_xticks([])
            axis.set_yticks([])
            if item == 0:
                axis.axis("off")
                continue
            item_id = split.item_ids[item]
            poster = load_poster(posters.get(item_id), size=96)
            axis.imshow(poster if poster is not None else np.full((96, 96, 3), 220, np.uint8))
            title = str(items.at[item_id, "title"])
            axis.set_xlabel(textwrap.fill(title, 16)[:48], fontsize=6)
            is_prediction = n_recent <= column < len(columns) - 1
            if (is_prediction and item == truth) or column == len(columns) - 1:
                for spine in axis.spines.values():
                    spine.set_edgecolor("tab:green")
                    spine.set_linewidth(3)
            if row == 0:
                axis.set_title(columns[column], fontsize=8)
        axes[row][0].set_ylabel(f"user {split.user_ids[user]}", fontsize=8)
    figure.tight_layout()
    return figure


def ablation_bars(table: pd.DataFrame):
    """Table 3 as grouped bars: ours (mean, 95 % CI whiskers) per variant and model."""
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(table.columns.get_level_values(0)))
    figure, axis = plt.subplots(figsize=(8, 3.2))
    width = 0.8 / len(models)
    positions = np.arange(len(table))
    for i, model in enumerate(models):
        errors = table[(model, "ci95")].fillna(0).to_numpy()
        axis.bar(positions + i * width, table[(model, "ours")], width, yerr=errors,
                 capsize=2, label=model)  # fmt: skip
    axis.set_xticks(positions + width * (len(models) - 1) / 2, table.index, rotation=45,
                    ha="right", fontsize=7)  # fmt: skip
    axis.set_ylabel("NDCG@10 (ours)")
    axis.legend(fontsize="small")
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure


def paired_seeds_figure(values, pairs, metric: str = "NDCG@10", title: str = ""):
    """One panel per (without, with) pair: each seed's value under both, joined by a line.

    ``values``: rows = seeds, columns = model labels (``significance.seed_values``). Lines
    that all rise show a consistent gain, whatever the size of the t statistic.
    """
    import matplotlib.pyplot as plt

    pairs = [pair for pair in pairs if set(pair) <= set(values.columns)]
    if not pairs:
        raise ValueError(f"none of the pairs is among the columns {list(values.columns)}")
    figure, axes = plt.subplots(1, len(pairs), figsize=(4 * len(pairs), 3.6), squeeze=False)
    for axis, (without, with_) in zip(axes[0], pairs, strict=True):
        for seed, row in values.iterrows():
            colour = "tab:green" if row[with_] > row[without] else "tab:red"
            axis.plot([0, 1], [row[without], row[with_]], marker="o", color=colour, alpha=0.8)
            axis.annotate(str(seed), (1.03, row[with_]), fontsize=7, va="center")
        axis.set_xticks([0, 1], [without, with_])
        axis.set_xlim(-0.3, 1.3)
        axis.set_ylabel(metric)
        axis.set_title(f"{without} vs {with_} ({len(values)} seeds)")
    figure.suptitle(title or f"{metric} per seed, without and with auxiliary information")
    figure.tight_layout()
    return figure
