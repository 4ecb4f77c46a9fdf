"""Tabular item and user features: one-hot tables, paper B's XGBoost item embeddings,
paper A's user genre frequencies, the tag genome and PCA reduction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmrec_lib.features.item_features import ItemFeatures

PCA_RANGE = (32, 512)  # paper A explored 32, 64, 128, 256 and 512 components


def _as_list(value: object) -> list[str]:
    """A list/tuple/array cell as a list of strings; a string as a one-element list; else []."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value if isinstance(v, str) and v.strip()]
    return []


def _multi_hot(values: pd.Series, prefix: str, top_k: int | None, fit: np.ndarray) -> pd.DataFrame:
    """Multi-hot columns ``prefix=value``; with ``top_k`` only the most frequent values.

    Frequency counts the items a value appears in, among the ``fit`` rows (a boolean mask);
    ties go to the alphabetically first.
    """
    from sklearn.preprocessing import MultiLabelBinarizer

    lists = values.map(_as_list)
    counts = lists[fit].explode().dropna().value_counts()
    ranked = sorted(counts.index, key=lambda value: (-counts[value], value))
    kept = ranked[:top_k] if top_k is not None else sorted(ranked)
    kept_set = set(kept)
    filtered = lists.map(lambda row: [value for value in row if value in kept_set])
    matrix = MultiLabelBinarizer(classes=kept).fit_transform(filtered)
    return pd.DataFrame(matrix, index=values.index, columns=[f"{prefix}={v}" for v in kept])


def _min_max(values: pd.Series, fit: np.ndarray) -> pd.Series:
    """Scaled so the ``fit`` rows (a boolean mask) span [0, 1]; missing values take their
    median first (0 when all are missing)."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    fitted = numbers[fit]
    numbers = numbers.fillna(fitted.median() if fitted.notna().any() else 0.0)
    low, high = numbers[fit].min(), numbers[fit].max()
    return (numbers - low) / (high - low) if high > low else numbers * 0.0


def tabular_item_table(
    dataset, top_k_people: int = 50, top_k_languages: int = 20, held_out: Sequence = ()
) -> ItemFeatures:
    """One row of numbers per item, from whichever columns ``dataset.items`` has.

    - genres: multi-hot over ``dataset.genres``;
    - year, runtime: min-max scaled to [0, 1], missing values set to the median;
    - certificate: one-hot (a missing certificate is an all-zero block);
    - languages: multi-hot of the ``top_k_languages`` most frequent;
    - director, cast: multi-hot of the ``top_k_people`` most frequent names each; rarer
      names are dropped (they would add thousands of near-empty columns).

    Column names are kept in ``columns``; the mask is all True (every item has a row).
    held_out: item ids (cold-start items) that get a row but fit nothing: the scaling and the
    frequency ranking come from the other items.
    """
    from sklearn.preprocessing import MultiLabelBinarizer

    items = dataset.items
    fit = ~items.index.isin(list(held_out))
    genres = items["genres"].map(_as_list).map(lambda row: [g for g in row if g in dataset.genres])
    genre_block = pd.DataFrame(
        MultiLabelBinarizer(classes=list(dataset.genres)).fit_transform(genres),
        index=items.index,
        columns=[f"genre={g}" for g in dataset.genres],
    )
    blocks = [genre_block]
    blocks += [_min_max(items[c], fit).rename(c) for c in ("year", "runtime") if c in items.columns]
    categorical = {
        "certificate": None,
        "languages": top_k_languages,
        "director": top_k_people,
        "cast": top_k_people,
    }
    blocks += [
        _multi_hot(items[c], c, k, fit) for c, k in categorical.items() if c in items.columns
    ]
    table = pd.concat(blocks, axis=1)
    return ItemFeatures(
        items.index.to_numpy(), table.to_numpy(np.float32), "tabular", columns=tuple(table.columns)
    )


def user_demographics(users: pd.DataFrame) -> pd.DataFrame:
    """Users' numeric columns as they are plus one-hot categorical columns.

    Categorical columns with many levels (zip codes) keep their 20 most frequent levels and
    pool the rest into an ``infrequent`` column (scikit-learn's ``max_categories``).
    """
    from sklearn.preprocessing import OneHotEncoder

    numeric = users.select_dtypes(include="number").astype(float)
    if users.empty:
        return numeric
    categorical = users.drop(columns=numeric.columns).astype(str)
    if categorical.shape[1] == 0:
        return numeric
    encoder = OneHotEncoder(
        max_categories=20, handle_unknown="infrequent_if_exist", sparse_output=False
    )
    encoded = encoder.fit_transform(categorical)
    one_hot = pd.DataFrame(encoded, index=users.index, columns=encoder.get_feature_names_out())
    return pd.concat([numeric, one_hot], axis=1)


MAX_BOOSTER_ROWS = 1_000_000
"""Ratings :func:`fit_rating_booster` uses at most (a seeded sample beyond that)."""


@dataclass(frozen=True)
class RatingBooster:
    """An XGBoost rating model on user and item features, chosen by cross-validated MAE.

    cv_results: one row per max_depth with the mean and standard deviation of the fold MAE.
    test_mae: MAE of the chosen model on the held-out ratings (1 - train_frac of them).
    typical_user: the user features every item row is given for the embeddings (their
        mean over the training ratings; one-hot columns become category shares).
    """

    model: object
    cv_results: pd.DataFrame
    best_max_depth: int
    test_mae: float
    item_table: ItemFeatures
    user_columns: tuple[str, ...]
    typical_user: np.ndarray

    def item_rows(self) -> np.ndarray:
        """The feature rows describing every item (typical user + the item's table row)."""
        users = np.broadcast_to(self.typical_user, (len(self.item_table), len(self.typical_user)))
        return np.hstack([users, self.item_table.matrix]).astype(np.float32)


def fit_rating_booster(
    dataset,
    interactions: pd.DataFrame | None = None,
    seed: int = 0,
    train_frac: float = 0.7,
    n_folds: int = 4,
    max_depths: Sequence[int] = (3, 6),
    n_estimators: int = 50,
    n_jobs: int = 1,
    held_out: Sequence = (),
    max_rows: int | None = MAX_BOOSTER_ROWS,
) -> RatingBooster:
    """Paper B §3.2: XGBoost predicting ratings from one-hot user and item features.

    Trains on a seeded random ``train_frac`` of the ratings; picks ``max_depth`` from
    ``max_depths`` by ``n_folds``-fold cross-validated MAE (ties go to the first); refits
    on all training ratings and reports the MAE on the rest.

    ``max_rows``: when there are more ratings, a seeded sample of this many is used (None:
    all). Every rating becomes one dense float32 row of user and item features, so all of
    ML-20M's 20M would take about 10 GB (and the folds copy it again); ML-100K and ML-1M are
    below the default cap and use every rating.

    ``n_jobs`` is XGBoost's thread count. It defaults to 1: on a 2-core machine shared with
    other work, 2 threads made a 30-tree fit on 840 rows take 5-10 s instead of 0.1 s, and a
    50-tree fit on 70,000 rows 22 s instead of 4 s (OpenMP threads waiting for busy cores).
    """
    from sklearn.model_selection import KFold
    from xgboost import XGBRegressor

    if not 0.0 < train_frac < 1.0:
        raise ValueError(f"train_frac must lie strictly between 0 and 1, got {train_frac}")
    if not max_depths:
        raise ValueError("max_depths must name at least one depth")
    ratings = dataset.interactions if interactions is None else interactions
    if max_rows is not None and len(ratings) > max_rows:
        ratings = ratings.sample(n=max_rows, random_state=seed)
    item_table = tabular_item_table(dataset, held_out=held_out)
    users = user_demographics(dataset.users)
    user_rows = users.reindex(ratings["user"]).to_numpy(float)
    item_pos = pd.Index(item_table.ids).get_indexer(ratings["item"])
    if (item_pos < 0).any():
        raise ValueError("interactions name items that are missing from dataset.items")
    if ratings["item"].isin(list(held_out)).any():
        raise ValueError("interactions name held-out (cold-start) items; they must fit nothing")
    item_rows = item_table.matrix[item_pos]
    features = np.hstack([user_rows, item_rows]).astype(np.float32)
    target = ratings["rating"].to_numpy(np.float32)

    order = np.random.default_rng(seed).permutation(len(target))
    n_train = int(round(train_frac * len(target)))
    if n_train < n_folds or n_train == len(target):
        raise ValueError(f"{len(target)} ratings are too few to split and cross-validate")
    train, test = order[:n_train], order[n_train:]

    def model(depth: int) -> XGBRegressor:
        return XGBRegressor(
            n_estimators=n_estimators,
            max_depth=depth,
            learning_rate=0.1,
            tree_method="hist",
            n_jobs=n_jobs,
            random_state=seed,
        )

    folds = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    rows = []
    for depth in max_depths:
        maes = []
        for fit_idx, val_idx in folds.split(train):
            fitted = model(depth).fit(features[train[fit_idx]], target[train[fit_idx]])
            error = fitted.predict(features[train[val_idx]]) - target[train[val_idx]]
            maes.append(float(np.abs(error).mean()))
        rows.append({"max_depth": depth, "mae_mean": np.mean(maes), "mae_std": np.std(maes)})
    cv_results = pd.DataFrame(rows)
    best_depth = int(cv_results.loc[cv_results["mae_mean"].idxmin(), "max_depth"])
    best = model(best_depth).fit(features[train], target[train])
    test_mae = float(np.abs(best.predict(features[test]) - target[test]).mean())
    return RatingBooster(
        model=best,
        cv_results=cv_results,
        best_max_depth=best_depth,
        test_mae=test_mae,
        item_table=item_table,
        user_columns=tuple(users.columns),
        typical_user=np.nanmean(user_rows[train], axis=0) if users.shape[1] else np.zeros(0),
    )


def xgboost_item_embeddings(
    dataset,
    interactions: pd.DataFrame | None = None,
    dim: int = 64,
    seed: int = 0,
    train_frac: float = 0.7,
    n_folds: int = 4,
    held_out: Sequence = (),
    cache: bool = True,
    **booster_options,
) -> ItemFeatures:
    """Paper B's tabular item embeddings: :func:`fit_rating_booster`, then
    :func:`leaf_embeddings`. ``booster_options`` go to the booster (``max_depths``,
    ``n_estimators``, ``n_jobs``, ``max_rows``); ``held_out``: item ids (cold-start items)
    that get an embedding but fit nothing (``interactions`` must not name them).

    With ``cache`` the embeddings are stored in the feature cache under a key of the
    dataset's fingerprint, the ratings fitted on, every setting, the xgboost and
    scikit-learn versions and this code, so runs that differ only in their model (Table 3's
    variants, the seeds of one split) fit the boosters once.
    """
    import sklearn
    import xgboost

    from mmrec_lib.data.fingerprint import dataset_fingerprint, frame_digest
    from mmrec_lib.features.cache import cache_key, cached_arrays, source_digest

    def compute() -> dict[str, np.ndarray]:
        booster = fit_rating_booster(
            dataset, interactions, seed, train_frac, n_folds, held_out=held_out, **booster_options
        )
        return {"matrix": leaf_embeddings(booster, dim, seed, held_out).matrix}

    if cache:
        ratings = dataset.interactions if interactions is None else interactions
        key = cache_key(
            kind="xgboost",
            code=source_digest("cache.py", "item_features.py", "tabular.py"),
            versions=[xgboost.__version__, sklearn.__version__],
            dataset=dataset_fingerprint(dataset),
            ratings=frame_digest(ratings),
            settings=[dim, seed, train_frac, n_folds, sorted(map(str, held_out))],
            booster=booster_options,
        )
        matrix = cached_arrays("xgboost", key, compute)["matrix"]
    else:
        matrix = compute()["matrix"]
    return ItemFeatures(dataset.items.index.to_numpy(), matrix, "xgboost")


def leaf_embeddings(
    booster: RatingBooster, dim: int = 64, seed: int = 0, held_out: Sequence = ()
) -> ItemFeatures:
    """Item embeddings read off the trees of a fitted :class:`RatingBooster`.

    The paper does not say how embeddings come out of XGBoost; we use the leaves: every
    item is described by one row (the typical user's features plus the item's tabular
    row, so unrated items get one too), XGBoost's ``pred_leaf`` gives the leaf it reaches in
    each tree, the leaves are one-hot encoded (items sharing a leaf share a column) and
    TruncatedSVD (seeded) reduces them to ``dim`` columns. The encoder and the SVD are
    fitted on the items other than ``held_out`` (cold-start item ids), then applied to all.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import OneHotEncoder

    leaves = booster.model.apply(booster.item_rows()).astype(np.int64)  # pred_leaf=True
    fit = ~np.isin(booster.item_table.ids, list(held_out))
    encoder = OneHotEncoder(handle_unknown="ignore").fit(leaves[fit])
    one_hot = encoder.transform(leaves)
    if not 1 <= dim < min(int(fit.sum()), one_hot.shape[1]):
        raise ValueError(
            f"dim={dim} must be at least 1 and below both the number of items it is fitted on"
            f" ({int(fit.sum())}) and of distinct leaves ({one_hot.shape[1]}); choose a smaller"
            " dim (or hold fewer items out)"
        )
    svd = TruncatedSVD(n_components=dim, random_state=seed)
    if fit.all():  # fit_transform: bit for bit what runs before cold-start items computed
        embedding = svd.fit_transform(one_hot)
    else:
        embedding = svd.fit(one_hot[fit]).transform(one_hot)
    return ItemFeatures(booster.item_table.ids, embedding, "xgboost")


def user_genre_frequency(
    interactions: pd.DataFrame, items: pd.DataFrame, genres: Sequence[str], normalise: bool = False
) -> pd.DataFrame:
    """Paper A's watch-history matrix: users x genres, counting a user's interactions with
    items of each genre (an item with two genres counts for both).

    With ``normalise`` each count is divided by the user's number of interactions, giving
    the share of the user's items that carry the genre.
    """
    from scipy import sparse
    from sklearn.preprocessing import MultiLabelBinarizer

    item_pos = items.index.get_indexer(interactions["item"])
    if (item_pos < 0).any():
        raise ValueError("interactions name items that are missing from the item table")
    item_genres = MultiLabelBinarizer(classes=list(genres)).fit_transform(
        items["genres"].map(_as_list).map(lambda row: [g for g in row if g in genres])
    )
    users, user_pos = np.unique(interactions["user"].to_numpy(), return_inverse=True)
    watched = sparse.csr_matrix(
        (np.ones(len(item_pos)), (user_pos, item_pos)), shape=(len(users), len(items))
    )
    counts = np.asarray(watched @ item_genres, dtype=float)
    if normalise:
        counts /= np.asarray(watched.sum(axis=1), dtype=float)
    return pd.DataFrame(counts, index=pd.Index(users, name="user"), columns=list(genres))


def genome_item_features(genome: pd.DataFrame) -> ItemFeatures:
    """The MovieLens tag genome (1,128 tags in ML-20M/25M) as one dense row per movie.

    Takes the wide table of :func:`mmrec_lib.data.movielens.load_tag_genome` (movies x tags)
    or the long ``genome-scores.csv`` (columns movieId, tagId, relevance). A missing
    (movie, tag) score becomes 0.
    """
    if {"movieId", "tagId", "relevance"} <= set(genome.columns):
        genome = genome.pivot_table(index="movieId", columns="tagId", values="relevance")
    numeric = genome.apply(pd.to_numeric, errors="coerce")
    if numeric.isna().sum().sum() > genome.isna().sum().sum():
        raise ValueError(
            "genome table must be movies x tags of relevance scores (load_tag_genome) or the "
            "long genome-scores.csv (movieId, tagId, relevance); got non-numeric columns "
            f"{list(genome.columns[numeric.isna().all() & genome.notna().any()])[:5]}"
        )
    columns = tuple(str(tag) for tag in genome.columns)
    matrix = numeric.fillna(0.0).to_numpy(np.float32)
    return ItemFeatures(genome.index.to_numpy(), matrix, "genome", columns=columns)


def _float32_rank(matrix: np.ndarray) -> int:
    """Numerical rank at float32 precision (the features are stored as float32)."""
    singular = np.linalg.svd(matrix, compute_uv=False)
    tolerance = singular.max(initial=0.0) * max(matrix.shape) * np.finfo(np.float32).eps
    return int((singular > tolerance).sum())


def pca_reduce(features: ItemFeatures, n_components: int, seed: int = 0) -> ItemFeatures:
    """Paper A §7's PCA reduction (it tried 32 to 512 components on the genome).

    Fitted on the items that have the modality; fallback rows stay zero. ``n_components``
    must lie in 32..512 and not exceed the rank of the centred data.
    """
    from sklearn.decomposition import PCA

    if features.matrix.ndim != 2:
        raise ValueError(f"PCA needs 2-D features, {features.name} has {features.matrix.shape}")
    low, high = PCA_RANGE
    if not low <= n_components <= high:
        raise ValueError(f"n_components must lie in {low}..{high}, got {n_components}")
    rows = features.matrix[features.mask].astype(np.float64)
    rank = _float32_rank(rows - rows.mean(axis=0)) if len(rows) else 0
    if n_components > rank:
        raise ValueError(
            f"n_components={n_components} exceeds the rank {rank} of {features.name}'s data"
        )
    reduced = np.zeros((len(features), n_components), np.float32)
    reduced[features.mask] = PCA(n_components=n_components, random_state=seed).fit_transform(rows)
    return ItemFeatures(features.ids, reduced, f"{features.name}:pca{n_components}", features.mask)
