"""Tabular item tables, XGBoost item embeddings, genre frequencies, tag genome and PCA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmrec_lib.data.dataset import Dataset
from mmrec_lib.features.item_features import ItemFeatures
from mmrec_lib.features.tabular import (
    fit_rating_booster,
    genome_item_features,
    pca_reduce,
    tabular_item_table,
    user_demographics,
    user_genre_frequency,
    xgboost_item_embeddings,
)

GENRES = ["Action", "Comedy", "Drama"]


@pytest.fixture
def small_dataset() -> Dataset:
    items = pd.DataFrame(
        {
            "title": ["a", "b", "c"],
            "year": pd.array([1990, 2000, None], dtype="Int64"),
            "genres": [["Action", "Drama"], ["Drama"], []],
            "runtime": [100.0, np.nan, 140.0],
            "certificate": ["PG", None, "R"],
            "languages": [["English"], ["English", "French"], []],
            "director": ["Ann", "Bob", "Ann"],
            "cast": [["X", "Y"], ["Y", "Z"], ["Y", "X"]],
        },
        index=pd.Index([1, 2, 3], name="item"),
    )
    interactions = pd.DataFrame(
        {"user": [1, 1, 2, 2, 2], "item": [1, 2, 2, 3, 2], "rating": 4.0, "timestamp": 0}
    )
    return Dataset("hand", interactions, items, pd.DataFrame(), GENRES)


def test_tabular_table_hand_worked(small_dataset) -> None:
    table = tabular_item_table(small_dataset, top_k_people=2, top_k_languages=1)
    assert table.columns == (
        "genre=Action", "genre=Comedy", "genre=Drama", "year", "runtime",
        "certificate=PG", "certificate=R", "languages=English",
        "director=Ann", "director=Bob", "cast=Y", "cast=X",
    )  # fmt: skip
    expected = [
        [1, 0, 1, 0.0, 0.0, 1, 0, 1, 1, 0, 1, 1],
        [0, 0, 1, 1.0, 0.5, 0, 0, 1, 0, 1, 1, 0],  # runtime: median of 100 and 140
        [0, 0, 0, 0.5, 1.0, 0, 1, 0, 1, 0, 1, 1],  # year: median of 1990 and 2000
    ]
    np.testing.assert_allclose(table.matrix, expected)
    assert table.ids.tolist() == [1, 2, 3] and table.mask.all()


def test_tabular_table_uses_only_the_columns_present(small_dataset) -> None:
    items = small_dataset.items[["title", "year", "genres"]]
    bare = Dataset("bare", small_dataset.interactions, items, pd.DataFrame(), GENRES)
    assert tabular_item_table(bare).columns == (*(f"genre={g}" for g in GENRES), "year")


def test_user_genre_frequency_counts_and_shares(small_dataset) -> None:
    counts = user_genre_frequency(small_dataset.interactions, small_dataset.items, GENRES)
    assert counts.index.tolist() == [1, 2] and counts.columns.tolist() == GENRES
    np.testing.assert_allclose(counts.to_numpy(), [[1, 0, 2], [0, 0, 2]])
    shares = user_genre_frequency(
        small_dataset.interactions, small_dataset.items, GENRES, normalise=True
    )
    np.testing.assert_allclose(shares.to_numpy(), [[0.5, 0, 1], [0, 0, 2 / 3]])


def test_user_genre_frequency_rejects_unknown_items(small_dataset) -> None:
    interactions = pd.DataFrame({"user": [1], "item": [99]})
    with pytest.raises(ValueError, match="missing from the item table"):
        user_genre_frequency(interactions, small_dataset.items, GENRES)


def test_user_demographics_one_hot() -> None:
    users = pd.DataFrame(
        {"age": [20, 30, 40], "gender": ["M", "F", "M"]}, index=pd.Index([5, 6, 7], name="user")
    )
    table = user_demographics(users)
    assert table.columns.tolist() == ["age", "gender_F", "gender_M"]
    np.testing.assert_array_equal(table.to_numpy(), [[20, 0, 1], [30, 1, 0], [40, 0, 1]])
    assert user_demographics(pd.DataFrame()).shape == (0, 0)


# --- genome and PCA -------------------------------------------------------------------------


def test_genome_long_and_wide_tables_give_dense_rows() -> None:
    long = pd.DataFrame(
        {"movieId": [10, 10, 20], "tagId": [1, 2, 2], "relevance": [0.5, 0.25, 1.0]}
    )
    features = genome_item_features(long)
    assert features.ids.tolist() == [10, 20]
    assert features.columns == ("1", "2")
    np.testing.assert_allclose(features.matrix, [[0.5, 0.25], [0.0, 1.0]])
    wide = pd.DataFrame(
        {"funny": [0.5, np.nan], "dark": [0.25, 1.0]}, index=pd.Index([10, 20], name="item")
    )  # the shape of load_tag_genome's table
    from_wide = genome_item_features(wide)
    assert from_wide.columns == ("funny", "dark") and from_wide.ids.tolist() == [10, 20]
    np.testing.assert_allclose(from_wide.matrix, features.matrix)
    with pytest.raises(ValueError, match="genome-scores.csv"):
        genome_item_features(long.assign(tagId=["a", "b", "c"]).rename(columns={"tagId": "tag"}))


@pytest.fixture
def rank_40_features() -> ItemFeatures:
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(100, 40)) @ rng.normal(size=(40, 60))
    mask = np.ones(100, bool)
    mask[:5] = False
    matrix[:5] = 0.0
    return ItemFeatures(np.arange(100), matrix, "genome", mask)


def test_pca_reduce_keeps_the_top_variance_directions(rank_40_features) -> None:
    reduced = pca_reduce(rank_40_features, 32)
    assert reduced.matrix.shape == (100, 32) and reduced.name == "genome:pca32"
    assert not reduced.matrix[:5].any() and reduced.mask.tolist() == rank_40_features.mask.tolist()
    present = rank_40_features.matrix[5:].astype(np.float64)
    eigenvalues = np.sort(np.linalg.eigvalsh(np.cov(present, rowvar=False)))[::-1][:32]
    np.testing.assert_allclose(reduced.matrix[5:].var(axis=0, ddof=1), eigenvalues, rtol=1e-3)


@pytest.mark.parametrize(("n", "message"), [(31, "32..512"), (513, "32..512"), (41, "rank 40")])
def test_pca_reduce_bounds(rank_40_features, n, message) -> None:
    with pytest.raises(ValueError, match=message):
        pca_reduce(rank_40_features, n)
    with pytest.raises(ValueError, match="2-D"):
        pca_reduce(ItemFeatures(np.arange(2), np.zeros((2, 3, 4)), "seq"), 32)


# --- XGBoost --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xor_dataset() -> Dataset:
    """Ratings are 5 when an item has exactly one of Action/Comedy, else 1 (plus noise):
    no sum of one-feature stumps (depth 1) fits that, depth-2 trees do."""
    ids = np.arange(1, 41)
    action, comedy = ids % 2 == 1, (ids // 2) % 2 == 1
    genres = [
        [g for g, on in zip(("Action", "Comedy"), flags, strict=True) if on]
        for flags in zip(action, comedy, strict=True)
    ]
    items = pd.DataFrame(
        {"title": ids.astype(str), "year": 2000, "genres": genres}, index=pd.Index(ids, name="item")
    )
    users = np.repeat(np.arange(1, 31), len(ids))
    item_of_row = np.tile(ids, 30)
    xor = (action ^ comedy)[item_of_row - 1]
    noise = np.random.default_rng(0).normal(0, 0.2, len(users))
    interactions = pd.DataFrame(
        {"user": users, "item": item_of_row, "rating": 1 + 4 * xor + noise, "timestamp": 0}
    )
    return Dataset("xor", interactions, items, pd.DataFrame(), GENRES)


def test_cross_validation_picks_the_depth_with_lower_mae(xor_dataset) -> None:
    booster = fit_rating_booster(xor_dataset, max_depths=(1, 3), n_estimators=30)
    cv = booster.cv_results.set_index("max_depth")["mae_mean"]
    assert cv[1] > 1.0 > 0.5 > cv[3]  # stumps cannot express the interaction
    assert booster.best_max_depth == 3
    assert booster.test_mae < 0.5
    assert booster.user_columns == ()


def test_booster_fits_a_seeded_sample_beyond_max_rows(xor_dataset) -> None:
    options = dict(max_depths=(3,), n_estimators=20, n_folds=2, seed=3)
    assert len(xor_dataset.interactions) == 1200
    capped = fit_rating_booster(xor_dataset, max_rows=300, **options)
    sample = xor_dataset.interactions.sample(n=300, random_state=3)
    by_hand = fit_rating_booster(xor_dataset, sample, max_rows=None, **options)
    uncapped = fit_rating_booster(xor_dataset, max_rows=None, **options)
    default = fit_rating_booster(xor_dataset, **options)  # 1,200 ratings: below the default cap
    probe = uncapped.item_rows()
    np.testing.assert_array_equal(capped.model.predict(probe), by_hand.model.predict(probe))
    assert capped.test_mae == by_hand.test_mae and capped.test_mae < 0.5  # still learns xor
    np.testing.assert_array_equal(default.model.predict(probe), uncapped.model.predict(probe))
    assert not np.array_equal(capped.model.predict(probe), uncapped.model.predict(probe))


def test_xgboost_embeddings_follow_the_trees(xor_dataset) -> None:
    embeddings = xgboost_item_embeddings(
        xor_dataset, dim=3, max_depths=(3,), n_estimators=30, n_folds=2
    )
    assert embeddings.matrix.shape == (40, 3) and embeddings.name == "xgboost"
    assert embeddings.ids.tolist() == list(range(1, 41))
    # Items with identical tabular rows (ids 4 apart) land in the same leaves.
    np.testing.assert_allclose(embeddings.matrix[:-4], embeddings.matrix[4:], atol=1e-5)
    xor_item, plain_item = embeddings.matrix[0], embeddings.matrix[1]  # ids 1 and 2 (1 has Action)
    assert not np.allclose(xor_item, plain_item)


def test_xgboost_embeddings_shape_and_determinism_on_synthetic() -> None:
    from mmrec_lib.data.synthetic import make_synthetic

    dataset = make_synthetic("tiny", seed=0)
    options = dict(dim=16, seed=1, max_depths=(2, 3), n_estimators=20)
    first = xgboost_item_embeddings(dataset, cache=False, **options)
    second = xgboost_item_embeddings(dataset, cache=False, **options)
    assert first.matrix.shape == (len(dataset.items), 16)
    np.testing.assert_array_equal(first.matrix, second.matrix)
    booster = fit_rating_booster(dataset, max_depths=(2,), n_estimators=5)
    assert "age" in booster.user_columns and "gender_F" in booster.user_columns
    assert len(booster.typical_user) == len(booster.user_columns)


def test_xgboost_embeddings_are_cached_by_data_and_settings(xor_dataset, monkeypatch) -> None:
    from mmrec_lib.features import tabular

    options = dict(dim=3, max_depths=(3,), n_estimators=30, n_folds=2, seed=5)
    fitted = xgboost_item_embeddings(xor_dataset, **options)
    np.testing.assert_array_equal(
        fitted.matrix, xgboost_item_embeddings(xor_dataset, cache=False, **options).matrix
    )

    def no_fit(*args, **kwargs):
        raise AssertionError("the booster was fitted again")

    monkeypatch.setattr(tabular, "fit_rating_booster", no_fit)
    again = xgboost_item_embeddings(xor_dataset, **options)
    np.testing.assert_array_equal(again.matrix, fitted.matrix)
    assert again.ids.tolist() == fitted.ids.tolist() and again.name == "xgboost"
    fewer = xor_dataset.interactions.iloc[:-1]
    for changed in (
        dict(options, seed=6),
        dict(options, n_estimators=31),
        dict(options, interactions=fewer),
        dict(options, held_out=[1]),
    ):
        with pytest.raises(AssertionError, match="fitted again"):
            xgboost_item_embeddings(xor_dataset, **changed)


def test_xgboost_rejects_bad_settings(xor_dataset) -> None:
    with pytest.raises(ValueError, match="choose a smaller dim"):
        xgboost_item_embeddings(xor_dataset, dim=40, max_depths=(2,), n_estimators=5)
    with pytest.raises(ValueError, match="train_frac"):
        fit_rating_booster(xor_dataset, train_frac=1.0)
