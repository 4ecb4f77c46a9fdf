"""Paper B's Fig. 3: are users of one behaviour cluster attended to alike by SASRec+?

Steps, each a function on plain arrays:

1. :func:`genre_shares`: a user's behaviour vector = the share of each genre among the items
   of their training sequence (an item with g genres adds 1/g to each).
2. :func:`kmeans_inertias` over a range of k, :func:`elbow_k` picks k automatically: the k
   whose point (k, inertia), both scaled to [0, 1], lies farthest from the chord joining the
   first and last points. :func:`choose_clusters` then labels users with K-means at
   k = max(elbow, 4), so that four clusters can be shown.
3. :func:`disjoint_sets`: from each of the four largest clusters (with at least 2 x set_size
   users), two disjoint random sets of ``set_size`` users (seeded).
4. :func:`mmrec_lib.models.sequential.last_query_attention`: a user's attention vector.
   The paper does not say how it averages; we take the attention of the *last query
   position* (the one that predicts the next item) over the key positions, averaged over all
   blocks (layers) and heads. Keys are right-aligned: index L-1 is the most recent item,
   padding keys carry weight 0.
5. :func:`set_similarity`: average the users' attention vectors within each set (plain mean
   over users), then the cosine similarity of every set-1 average with every set-2 average:
   a (clusters x clusters) matrix, block-diagonal when clusters attend differently.
6. Control: the same with randomly permuted cluster labels (:func:`random_labels`), which
   keeps the cluster sizes but destroys any link to behaviour: the matrix should be flat.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def genre_shares(
    train_items: np.ndarray, train_offsets: np.ndarray, item_genres: np.ndarray
) -> np.ndarray:
    """(n_users, n_genres) share of each genre in each user's sequence (rows sum to 1).

    train_items/train_offsets as in :class:`~mmrec_lib.data.splits.SequenceSplit`;
    item_genres: (n_items + 1, n_genres) 0/1 rows (e.g. ``genre_multi_hot``).
    """
    lengths = np.diff(train_offsets)
    if (lengths < 1).any():
        raise ValueError("every user needs at least one training item")
    rows = item_genres[train_items].astype(np.float64)
    rows /= np.maximum(rows.sum(axis=1, keepdims=True), 1.0)
    totals = np.add.reduceat(rows, train_offsets[:-1], axis=0)
    return totals / np.maximum(totals.sum(axis=1, keepdims=True), 1e-12)


def kmeans_inertias(vectors: np.ndarray, ks: Sequence[int], seed: int = 0) -> pd.Series:
    """K-means inertia (within-cluster sum of squares) for each k, indexed by k."""
    from sklearn.cluster import KMeans

    ks = list(ks)
    if not ks or min(ks) < 1 or max(ks) > len(vectors):
        raise ValueError(f"ks must be in 1..n_users={len(vectors)}, got {ks}")
    inertias = [KMeans(k, n_init=4, random_state=seed).fit(vectors).inertia_ for k in ks]
    return pd.Series(inertias, index=pd.Index(ks, name="k"), name="inertia")


def elbow_k(inertias: pd.Series) -> int:
    """The k farthest from the chord between the first and last (k, inertia) points, both
    axes scaled to [0, 1] (the "knee" of a decreasing convex curve)."""
    if len(inertias) < 3:
        raise ValueError("the elbow needs inertias for at least 3 values of k")
    k = inertias.index.to_numpy(np.float64)
    y = inertias.to_numpy(np.float64)
    x_scaled = (k - k[0]) / (k[-1] - k[0])
    y_scaled = (y - y[-1]) / max(y[0] - y[-1], 1e-12)
    # distance to the line from (0, 1) to (1, 0), up to a constant factor: |x + y - 1|
    return int(k[np.argmax(np.abs(x_scaled + y_scaled - 1))])


def cluster_users(vectors: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """(n_users,) K-means label of each user."""
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=4, random_state=seed).fit_predict(vectors)


def user_behaviour(dataset, split) -> np.ndarray:
    """:func:`genre_shares` of every user of a leave-one-out split (training items)."""
    from mmrec_lib.features.sequence_items import genre_multi_hot

    return genre_shares(split.train_items, split.train_offsets, genre_multi_hot(dataset, split))


def choose_clusters(
    vectors: np.ndarray, ks: Sequence[int], n_clusters: int = 4, seed: int = 0
) -> tuple[pd.Series, int, np.ndarray]:
    """(inertias over ks, elbow k, labels): K-means with k = max(elbow k, n_clusters), so
    that n_clusters clusters can be shown (the paper found 7 and 5 and showed 4)."""
    inertias = kmeans_inertias(vectors, ks, seed)
    k = elbow_k(inertias)
    return inertias, k, cluster_users(vectors, max(k, n_clusters), seed)


def random_labels(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """The labels randomly permuted over users: same cluster sizes, no link to behaviour."""
    return np.random.default_rng(seed).permutation(labels)


def disjoint_sets(
    labels: np.ndarray, n_clusters: int = 4, set_size: int | None = 100, seed: int = 0
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{cluster: (set 1, set 2)} user indices, disjoint, from the n_clusters largest clusters.

    Each chosen cluster needs at least 2 * set_size users (the paper: 100 per set);
    set_size=None takes the largest size all chosen clusters allow.
    """
    values, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:n_clusters]
    if set_size is None and len(order) == n_clusters:
        set_size = int(counts[order].min() // 2)
    if len(order) < n_clusters or not set_size or counts[order].min() < 2 * set_size:
        raise ValueError(
            f"need {n_clusters} clusters of >= {2 * (set_size or 1)} users; sizes are "
            f"{sorted(counts.tolist(), reverse=True)}: lower set_size or n_clusters"
        )
    rng = np.random.default_rng(seed)
    sets = {}
    for cluster in values[order]:
        chosen = rng.choice(np.flatnonzero(labels == cluster), 2 * set_size, replace=False)
        sets[int(cluster)] = (np.sort(chosen[:set_size]), np.sort(chosen[set_size:]))
    return sets


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) cosine similarity of every row of a with every row of b."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


def set_similarity(
    attention: np.ndarray, sets: dict[int, tuple[np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    """Cosine similarity of set-1 (rows) and set-2 (columns) mean attention, per cluster.

    attention: (n_users, L) per-user vectors
    (:func:`mmrec_lib.models.sequential.last_query_attention`). Clusters are named A, B, C,
    ... in the order of ``sets``.
    """
    names = [chr(ord("A") + i) for i in range(len(sets))]
    attention = np.asarray(attention, dtype=np.float64)
    first = np.stack([attention[one].mean(axis=0) for one, _ in sets.values()])
    second = np.stack([attention[two].mean(axis=0) for _, two in sets.values()])
    return pd.DataFrame(
        cosine_matrix(first, second),
        index=pd.Index([f"{n}1" for n in names], name="set 1"),
        columns=pd.Index([f"{n}2" for n in names], name="set 2"),
    )


def block_contrast(similarity: pd.DataFrame) -> float:
    """Mean diagonal minus mean off-diagonal similarity (about 0 for no cluster structure)."""
    values = similarity.to_numpy()
    off = ~np.eye(len(values), dtype=bool)
    return float(np.diag(values).mean() - values[off].mean())


def cluster_heatmaps(
    attention: np.ndarray,
    labels: np.ndarray,
    n_clusters: int = 4,
    set_size: int | None = 100,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """{"behaviour clusters": ..., "random clusters": ...} similarity matrices (Fig. 3 and
    its control), sets drawn with the same seed."""
    return {
        name: set_similarity(attention, disjoint_sets(lab, n_clusters, set_size, seed))
        for name, lab in (
            ("behaviour clusters", labels),
            ("random clusters", random_labels(labels, seed)),
        )
    }


def contrast_permutation_test(
    attention: np.ndarray,
    labels: np.ndarray,
    n_clusters: int = 4,
    set_size: int | None = 100,
    seed: int = 0,
    n_permutations: int = 200,
) -> tuple[float, np.ndarray, float]:
    """(observed block contrast, its null distribution, one-sided p-value).

    The null: the same procedure (sets drawn with ``seed``, :func:`block_contrast`) on the
    cluster labels permuted over users ``n_permutations`` times (seeded), so clusters keep
    their sizes and lose any link to behaviour. p = (1 + #null >= observed) / (1 + n).
    """
    observed = block_contrast(set_similarity(attention, disjoint_sets(labels, n_clusters,
                                                                     set_size, seed)))  # fmt: skip
    rng = np.random.default_rng([seed, n_permutations])
    null = np.array(
        [
            block_contrast(
                set_similarity(
                    attention, disjoint_sets(rng.permutation(labels), n_clusters, set_size, seed)
                )
            )
            for _ in range(n_permutations)
        ]
    )
    return observed, null, float((1 + np.sum(null >= observed)) / (1 + n_permutations))
