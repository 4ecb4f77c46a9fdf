"""Item similarity search over embeddings (paper A section 10), and how well neighbours share
a genre.

Neighbours are exact: rows are L2-normalised once, cosines come from one matrix product and
the top ``k`` from ``argpartition``. A query is never its own neighbour, and items without
the modality (``mask`` False, or an all-zero row) are never neighbours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

NEIGHBOUR_COLUMNS = ["query", "rank", "neighbour", "cosine"]


def _unit_rows(features) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised rows of ``features.matrix`` and the mask of rows that may take part."""
    matrix = np.asarray(features.matrix, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"need 2-D (pooled) features, got shape {matrix.shape}")
    mask = getattr(features, "mask", None)
    mask = np.ones(len(matrix), bool) if mask is None else np.asarray(mask, bool)
    norms = np.linalg.norm(matrix, axis=1)
    usable = mask & (norms > 0)
    unit = np.divide(matrix, norms[:, None], out=np.zeros_like(matrix), where=usable[:, None])
    return unit, usable


def _top_k(
    unit: np.ndarray, usable: np.ndarray, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions and cosines of the ``k`` nearest usable rows to each query row (self out).

    Ordered by cosine, descending (ties by position); ``k`` is capped at the number of
    candidates, so every query gets the same number of neighbours.
    """
    k = min(k, int(usable.sum()) - 1)
    scores = unit[queries] @ unit.T
    scores[:, ~usable] = -np.inf
    scores[np.arange(len(queries)), queries] = -np.inf
    if k < 1:
        return np.empty((len(queries), 0), np.int64), np.empty((len(queries), 0), np.float32)
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.lexsort((top, -top_scores), axis=1)
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order, axis=1)


def nearest_items(features, query_ids: Sequence, k: int = 5) -> pd.DataFrame:
    """The ``k`` most cosine-similar items to each query: columns query, rank, neighbour, cosine.

    features: anything with ``ids``, a 2-D ``matrix`` and optionally ``mask`` (e.g.
    :class:`~mmrec_lib.features.ItemFeatures`). Fewer than ``k`` neighbours come back only
    when fewer items have the modality.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    ids = np.asarray(features.ids)
    query_ids = np.asarray(list(query_ids))
    positions = pd.Index(ids).get_indexer(query_ids)
    if (positions < 0).any():
        raise ValueError(f"unknown item ids {query_ids[positions < 0].tolist()}")
    unit, usable = _unit_rows(features)
    if not usable[positions].all():
        lacking = query_ids[~usable[positions]].tolist()
        name = getattr(features, "name", "these features")
        raise ValueError(f"items {lacking} have no {name} (mask False or zero row); drop them")
    top, cosine = _top_k(unit, usable, positions, k)
    return pd.DataFrame(
        {
            "query": np.repeat(query_ids, top.shape[1]),
            "rank": np.tile(np.arange(1, top.shape[1] + 1), len(query_ids)),
            "neighbour": ids[top.ravel()],
            "cosine": cosine.ravel(),
        },
        columns=NEIGHBOUR_COLUMNS,
    )


def with_titles(neighbours: pd.DataFrame, titles: pd.Series) -> pd.DataFrame:
    """A :func:`nearest_items` table with the query's and the neighbour's titles."""
    return neighbours.assign(
        query_title=neighbours["query"].map(titles).to_numpy(),
        neighbour_title=neighbours["neighbour"].map(titles).to_numpy(),
    )[["query_title", "rank", "neighbour_title", "cosine", "query", "neighbour"]]


def neighbour_titles(
    modalities: Mapping[str, object], query_ids: Sequence, titles: pd.Series, k: int = 5
) -> pd.DataFrame:
    """Side by side, the titles of each query's ``k`` nearest items under each modality.

    Rows are (query title, rank); one column per modality holds "title (cosine)".
    """
    columns = {}
    for name, features in modalities.items():
        table = with_titles(nearest_items(features, query_ids, k), titles)
        cell = table["neighbour_title"] + table["cosine"].map(" ({:.2f})".format)
        columns[name] = cell.set_axis(pd.MultiIndex.from_frame(table[["query_title", "rank"]]))
    return pd.DataFrame(columns)


def items_with_all(modalities: Mapping[str, object], labels: pd.Series | None = None) -> np.ndarray:
    """Ids (in the first table's order) that every modality has (mask True), and a label."""
    tables = list(modalities.values())
    if not tables:
        raise ValueError("items_with_all needs at least one modality")
    ids = pd.Index(tables[0].ids)
    keep = np.ones(len(ids), bool)
    for table in tables:
        keep &= table.align(ids.to_numpy()).mask
    if labels is not None:
        keep &= ids.isin(pd.Series(labels).dropna().index)
    return ids.to_numpy()[keep]


def genre_agreement(
    features, labels: pd.Series, k: int = 10, n_shuffles: int = 20, seed: int = 0
) -> dict[str, float]:
    """Do items of a genre sit together in this embedding? Observed numbers and a baseline.

    Over the items that have both the modality and a label:

    - ``knn_agreement``: mean share of an item's ``k`` nearest neighbours (cosine) with its
      label; ``knn_shuffled`` (and ``knn_shuffled_sd``) the same with labels permuted among
      the items, ``n_shuffles`` times (the neighbour graph fixed): the chance level.
    - ``silhouette``: mean silhouette of the labels under cosine distance (-1..1);
      ``silhouette_shuffled`` its mean over the permutations.
    """
    from sklearn.metrics import silhouette_score

    if k < 1 or n_shuffles < 1:
        raise ValueError(f"k and n_shuffles must be at least 1, got {k}, {n_shuffles}")
    unit, usable = _unit_rows(features)
    label_of = pd.Series(labels).reindex(np.asarray(features.ids))
    keep = usable & label_of.notna().to_numpy()
    codes = pd.factorize(label_of[keep])[0]
    if keep.sum() <= k or codes.max() < 1:
        raise ValueError(
            f"need more than k={k} items with features and at least two labels, "
            f"got {int(keep.sum())} items"
        )
    unit = unit[keep]
    top, _ = _top_k(unit, np.ones(len(unit), bool), np.arange(len(unit)), k)
    rng = np.random.default_rng(seed)
    shuffles = [rng.permutation(codes) for _ in range(n_shuffles)]
    knn = [(shuffled[top] == shuffled[:, None]).mean() for shuffled in shuffles]
    silhouettes = [silhouette_score(unit, shuffled, metric="cosine") for shuffled in shuffles]
    return {
        "n_items": int(keep.sum()),
        "knn_agreement": float((codes[top] == codes[:, None]).mean()),
        "knn_shuffled": float(np.mean(knn)),
        "knn_shuffled_sd": float(np.std(knn, ddof=1)) if n_shuffles > 1 else 0.0,
        "silhouette": float(silhouette_score(unit, codes, metric="cosine")),
        "silhouette_shuffled": float(np.mean(silhouettes)),
    }


def genre_agreement_table(
    modalities: Mapping[str, object],
    labels: pd.Series,
    k: int = 10,
    n_shuffles: int = 20,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`genre_agreement` of each embedding, one row per modality name."""
    rows = {
        name: genre_agreement(features, labels, k, n_shuffles, seed)
        for name, features in modalities.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("embedding")
