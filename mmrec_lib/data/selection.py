"""Choosing items of a dataset: the most rated, a subset with its interactions, items by
title, and one genre per item (for plots and similarity tables)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmrec_lib.data.dataset import Dataset


def most_rated(
    interactions: pd.DataFrame, n: int | None = None, among: Sequence | None = None
) -> np.ndarray:
    """Item ids by number of ratings, most first (ties by id); only those in ``among`` if
    given, and the first ``n`` if given."""
    counts = interactions["item"].value_counts()
    if among is not None:
        counts = counts[counts.index.isin(among)]
    order = counts.index.to_numpy()[np.lexsort((counts.index.to_numpy(), -counts.to_numpy()))]
    return order if n is None else order[:n]


def restrict_items(dataset: Dataset, item_ids: Sequence) -> Dataset:
    """The dataset cut to ``item_ids`` (items and their interactions; coverage recomputed).

    Items keep the dataset's order, whatever the order of ``item_ids``: features encoded
    for a cut that keeps every item then share their cache entry with the whole dataset's.
    """
    item_ids = pd.Index(item_ids)
    unknown = item_ids.difference(dataset.items.index)
    if len(unknown):
        raise ValueError(f"unknown item ids {unknown[:10].tolist()}")
    item_ids = dataset.items.index[dataset.items.index.isin(item_ids)]
    interactions = dataset.interactions[dataset.interactions["item"].isin(item_ids)]
    return Dataset(
        name=dataset.name,
        interactions=interactions.reset_index(drop=True),
        items=dataset.items.loc[item_ids],
        users=dataset.users,
        genres=dataset.genres,
        source=dataset.source,
        extras=dataset.extras,
    )


def find_items(titles: Sequence[str], items: pd.DataFrame) -> list:
    """Item ids of the given titles (exact, else the unique case-insensitive substring match).

    A title that matches nothing, or several items, is a ValueError naming close titles.
    """
    found = []
    for title in titles:
        exact = items.index[items["title"] == title]
        if len(exact) == 1:
            found.append(exact[0])
            continue
        loose = items.index[items["title"].str.contains(title, case=False, regex=False)]
        if len(loose) == 1:
            found.append(loose[0])
            continue
        close = difflib.get_close_matches(title, items["title"].tolist(), n=5)
        matches = items.loc[loose[:5], "title"].tolist() if len(loose) else close
        problem = "matches several items" if len(loose) else "matches no item"
        raise ValueError(f"title {title!r} {problem}; did you mean one of {matches}?")
    return found


def primary_genre(dataset: Dataset) -> pd.Series:
    """One genre per item: the planted primary genre of ``synthetic``, else the item's least
    common genre in the catalogue (the most specific one; ties by vocabulary order).

    Items without any genre are left out.
    """
    planted = dataset.extras.get("planted", {}).get("item_primary_genre")
    if planted is not None:
        return planted.rename("genre")
    genres = dataset.items["genres"].explode().dropna()
    frequency = genres.value_counts()
    vocabulary = {genre: position for position, genre in enumerate(dataset.genres)}
    ranked = pd.DataFrame(
        {
            "genre": genres.to_numpy(),
            "count": frequency.reindex(genres).to_numpy(),
            "order": genres.map(vocabulary).fillna(len(vocabulary)).to_numpy(),
        },
        index=genres.index,
    ).sort_values(["count", "order"], kind="stable")
    first = ranked[~ranked.index.duplicated()]
    return first["genre"].reindex(dataset.items.index).dropna().rename("genre")
