"""The synthetic dataset: determinism, the Dataset contract, and its planted structure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mmrec_lib.data.dataset import Dataset
from mmrec_lib.data.synthetic import SIZES, expected_rating, make_synthetic

MOVIELENS_GENRES = [
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
]  # fmt: skip
CHANCE = 1 / len(MOVIELENS_GENRES)


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return make_synthetic("tiny")


@pytest.fixture(scope="module")
def small() -> Dataset:
    return make_synthetic("small")


@pytest.fixture(scope="module")
def held_out(small: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """A fixed 70/30 split of the small dataset's items (positions)."""
    order = np.random.default_rng(123).permutation(len(small.items))
    cut = int(0.7 * len(order))
    return order[:cut], order[cut:]


def poster_statistics(paths: pd.Series) -> pd.DataFrame:
    """Per-poster mean RGB, circular median hue, mean saturation and value (from the PNGs)."""
    rows = []
    for path in paths:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255
            hsv = np.asarray(image.convert("HSV"), dtype=np.float64) / 255
        angle = 2 * np.pi * hsv[..., 0]
        rows.append(
            {
                "red": rgb[..., 0].mean(),
                "green": rgb[..., 1].mean(),
                "blue": rgb[..., 2].mean(),
                "hue_cos": np.median(np.cos(angle)),
                "hue_sin": np.median(np.sin(angle)),
                "saturation": hsv[..., 1].mean(),
                "value": hsv[..., 2].mean(),
                "pale_share": (hsv[..., 1] < 0.35).mean(),
            }
        )
    return pd.DataFrame(rows, index=paths.index)


@pytest.fixture(scope="module")
def posters(small: Dataset) -> pd.DataFrame:
    return poster_statistics(small.items["poster_path"])


def poster_bytes(dataset: Dataset) -> list[bytes]:
    return [Path(path).read_bytes() for path in dataset.items["poster_path"]]


def without_paths(items: pd.DataFrame) -> pd.DataFrame:
    return items.drop(columns="poster_path")


# Determinism --------------------------------------------------------------------------------


def test_same_seed_gives_identical_tables_and_poster_bytes(tmp_path, monkeypatch):
    first = make_synthetic("tiny", seed=7)
    monkeypatch.setenv("MMREC_CACHE_DIR", str(tmp_path))  # a fresh cache: posters redrawn
    second = make_synthetic("tiny", seed=7)

    assert first.items["poster_path"].iloc[0] != second.items["poster_path"].iloc[0]
    pd.testing.assert_frame_equal(first.interactions, second.interactions)
    pd.testing.assert_frame_equal(without_paths(first.items), without_paths(second.items))
    pd.testing.assert_frame_equal(first.users, second.users)
    assert poster_bytes(first) == poster_bytes(second)
    np.testing.assert_array_equal(
        first.extras["planted"]["score"], second.extras["planted"]["score"]
    )
    pd.testing.assert_frame_equal(
        first.extras["planted"]["item_factors"], second.extras["planted"]["item_factors"]
    )


def test_different_seeds_give_different_data(tiny):
    other = make_synthetic("tiny", seed=1)
    assert not tiny.interactions.equals(other.interactions)
    assert (tiny.items["title"] != other.items["title"]).mean() > 0.9
    assert not tiny.extras["planted"]["genre_transitions"].equals(
        other.extras["planted"]["genre_transitions"]
    )
    assert sum(a != b for a, b in zip(poster_bytes(tiny), poster_bytes(other), strict=True)) > 70


# The Dataset contract ------------------------------------------------------------------------


def test_tables_follow_the_dataset_contract(tiny):
    interactions, items, users = tiny.interactions, tiny.items, tiny.users
    assert interactions.dtypes.astype(str).to_dict() == {
        "user": "int64",
        "item": "int64",
        "rating": "float32",
        "timestamp": "int64",
    }
    assert list(items.index) == list(range(1, 81)) and items.index.name == "item"
    assert list(users.index) == list(range(1, 61)) and users.index.name == "user"
    assert str(items["year"].dtype) == "Int64" and items["year"].between(1900, 2000).all()
    assert tiny.genres == MOVIELENS_GENRES and tiny.name == "synthetic"
    for column in ("title", "plot", "director", "poster_path"):
        assert items[column].map(lambda v: isinstance(v, str) and len(v) > 0).all(), column
    assert items["genres"].map(len).between(1, 3).all()
    assert all(set(genres) <= set(MOVIELENS_GENRES) for genres in items["genres"])
    assert items["cast"].map(lambda cast: 1 <= len(cast) <= 5 and len(set(cast)) == len(cast)).all()
    assert items["title"].str.fullmatch(r"(The )?[A-Z][a-z]+ [A-Z][a-z]+").all()
    assert items["title"].is_unique
    assert set(users.columns) == {"age", "gender", "occupation"}
    assert users["age"].between(7, 73).all() and set(users["gender"]) == {"F", "M"}
    assert tiny.coverage.set_index("modality").loc["poster_path", "items_share"] == 1.0


def test_interactions_are_valid_user_sequences(tiny, small):
    config = SIZES["tiny"]
    interactions = tiny.interactions
    assert set(interactions["rating"].unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert not interactions.duplicated(["user", "item"]).any()
    assert interactions["user"].is_monotonic_increasing
    steps = interactions.groupby("user")["timestamp"].diff().dropna()
    assert (steps > 0).all()
    per_user = interactions.groupby("user").size()
    assert per_user.between(config.min_interactions, config.max_interactions).all()
    assert len(per_user) == config.n_users
    assert set(interactions["item"]) == set(tiny.items.index)  # every item, none unknown
    assert interactions["item"].value_counts().min() >= 3
    assert small.interactions["item"].value_counts().min() >= 5
    assert small.interactions.groupby("user").size().between(20, 80).all()


def test_posters_decode_and_are_reused_from_the_cache(tiny):
    paths = tiny.items["poster_path"].map(Path)
    assert paths.map(lambda path: path.parent).nunique() == 1
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (64, 96) and image.mode == "RGB"
    stamps = [path.stat().st_mtime_ns for path in paths]
    again = make_synthetic("tiny")
    assert [Path(p).stat().st_mtime_ns for p in again.items["poster_path"]] == stamps
    assert not list(paths.iloc[0].parent.glob(".*tmp"))
    overridden = make_synthetic("tiny", noise=0.3)
    assert Path(overridden.items["poster_path"].iloc[0]).parent != paths.iloc[0].parent
    assert "noise=0.3" in Path(overridden.items["poster_path"].iloc[0]).parent.name


# Planted structure ---------------------------------------------------------------------------


def test_genre_is_recoverable_from_poster_colour(small, posters, held_out):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, test = held_out
    genre = small.extras["planted"]["item_primary_genre"].to_numpy()
    rgb = posters[["red", "green", "blue"]].to_numpy()
    hue = posters[["hue_cos", "hue_sin"]].to_numpy()
    logistic = make_pipeline(StandardScaler(), LogisticRegression(C=10, max_iter=3000))
    rgb_accuracy = logistic.fit(rgb[train], genre[train]).score(rgb[test], genre[test])
    hue_accuracy = NearestCentroid().fit(hue[train], genre[train]).score(hue[test], genre[test])
    majority = pd.Series(genre[test]).value_counts(normalize=True).max()
    assert rgb_accuracy > max(3 * CHANCE, 3 * majority)  # measured 0.57
    assert hue_accuracy > 0.85  # measured 0.97


def test_genre_is_recoverable_from_description_words(small, held_out):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    train, test = held_out
    genre = small.extras["planted"]["item_primary_genre"].to_numpy()
    words = CountVectorizer().fit_transform(small.items["plot"])
    model = LogisticRegression(max_iter=3000).fit(words[train], genre[train])
    assert model.score(words[test], genre[test]) > 6 * CHANCE  # measured 0.65


def test_content_scores_are_encoded_in_posters_and_words(small, posters, held_out):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import RidgeCV

    content = small.extras["planted"]["item_content"]
    assert posters["value"].corr(content["tone"]) > 0.8  # brightness (measured 0.92)
    assert posters["saturation"].corr(content["energy"]) > 0.8  # measured 0.91
    assert posters["pale_share"].corr(content["scale"]) > 0.8  # disc area (measured 0.97)

    train, test = held_out
    words = CountVectorizer().fit_transform(small.items["plot"])
    ridge = RidgeCV(alphas=[1, 3, 10, 30]).fit(words[train], content.to_numpy()[train])
    assert ridge.score(words[test], content.to_numpy()[test]) > 0.35  # measured 0.55


def test_side_information_predicts_item_factors_beyond_genre(small, posters, held_out):
    from sklearn.linear_model import RidgeCV

    planted = small.extras["planted"]
    parts = planted["item_factor_parts"]
    factors = planted["item_factors"]
    pd.testing.assert_frame_equal(parts["genre"] + parts["content"] + parts["residual"], factors)
    config = small.extras["config"]
    shares = {"genre": config["genre_share"], "content": config["content_share"]}
    for name, share in shares.items():
        np.testing.assert_allclose(parts[name].var(ddof=0), share, rtol=1e-9)

    train, test = held_out
    genres = np.array([[g in item for g in MOVIELENS_GENRES] for item in small.items["genres"]])
    with_posters = np.c_[genres, posters[["saturation", "value", "pale_share"]].to_numpy()]

    def held_out_r2(features: np.ndarray) -> float:
        ridge = RidgeCV(alphas=[0.1, 1, 10, 100]).fit(features[train], factors.iloc[train])
        return ridge.score(features[test], factors.iloc[test])

    genre_only, genre_and_posters = held_out_r2(genres), held_out_r2(with_posters)
    assert genre_only > 0.15  # measured 0.29
    assert genre_and_posters > genre_only + 0.2  # measured 0.63


def test_planted_factors_explain_the_ratings(small):
    planted = small.extras["planted"]
    users, items = small.interactions["user"], small.interactions["item"]
    user_factors = planted["user_factors"].loc[users].to_numpy()
    item_factors = planted["item_factors"].loc[items].to_numpy()
    score = (
        planted["global_mean"]
        + planted["user_bias"].loc[users].to_numpy()
        + planted["item_bias"].loc[items].to_numpy()
        + (user_factors * item_factors).sum(axis=1)
    )
    np.testing.assert_allclose(planted["score"], score)
    rating = small.interactions["rating"].to_numpy()
    assert np.corrcoef(score, rating)[0, 1] > 0.7  # measured 0.84
    noise_floor = np.sqrt(np.mean((planted["expected_rating"] - rating) ** 2))
    assert noise_floor < 0.6 * rating.std()  # measured 0.55 vs 1.04
    assert noise_floor > 0.8 * planted["noise_std"]  # the noise is really there


def test_noise_free_ratings_are_rounded_clipped_scores():
    dataset = make_synthetic("tiny", noise=0.0)
    score = dataset.extras["planted"]["score"]
    expected = np.clip(np.floor(score + 0.5), 1, 5)
    np.testing.assert_array_equal(dataset.interactions["rating"].to_numpy(), expected)
    np.testing.assert_array_equal(dataset.extras["planted"]["expected_rating"], expected)


def test_expected_rating_by_hand_and_by_simulation():
    # Symmetric around 3 (edges 1.5..4.5, clipped at 1 and 5): exactly 3 for any noise.
    np.testing.assert_allclose(expected_rating(np.array([3.0, 3.0]), 0.7), [3.0, 3.0])
    np.testing.assert_allclose(expected_rating(np.array([-4.0, 11.0]), 0.5), [1.0, 5.0])
    # Score 4.2, noise 0.5: P(5) = P(e > 0.3) = 1 - Phi(0.6) = 0.274253, P(3) = Phi(-1.4) ...
    draws = np.random.default_rng(0).normal(4.2, 0.5, 400_000)
    simulated = np.clip(np.floor(draws + 0.5), 1, 5).mean()
    assert expected_rating(np.array([4.2]), 0.5)[0] == pytest.approx(simulated, abs=0.005)


def test_sequences_follow_the_planted_genre_chain(small):
    planted = small.extras["planted"]
    transitions = planted["genre_transitions"]
    assert list(transitions.index) == MOVIELENS_GENRES == list(transitions.columns)
    np.testing.assert_allclose(transitions.sum(axis=1), 1.0)

    genre = planted["item_primary_genre"].loc[small.interactions["item"]].to_numpy()
    user = small.interactions["user"].to_numpy()

    def next_genre_frequencies(order: np.ndarray) -> pd.DataFrame:
        ordered_genre, ordered_user = genre[order], user[order]
        same_user = ordered_user[1:] == ordered_user[:-1]
        pairs = pd.crosstab(
            pd.Categorical(ordered_genre[:-1][same_user], MOVIELENS_GENRES),
            pd.Categorical(ordered_genre[1:][same_user], MOVIELENS_GENRES),
            dropna=False,
        )
        return pairs.div(pairs.sum(axis=1), axis=0)

    observed = next_genre_frequencies(np.arange(len(genre)))
    correlation = np.corrcoef(observed.to_numpy().ravel(), transitions.to_numpy().ravel())[0, 1]
    assert correlation > 0.95  # measured 0.999
    planted_next = transitions.to_numpy().argmax(axis=1)
    assert (observed.to_numpy().argmax(axis=1) == planted_next).all()

    # Order carries the signal: shuffling each user's history destroys it.
    rng = np.random.default_rng(0)
    shuffled = np.lexsort((rng.random(len(genre)), user))
    shuffled_next = next_genre_frequencies(shuffled).to_numpy()
    rows = np.arange(len(MOVIELENS_GENRES))
    assert (
        shuffled_next[rows, planted_next].mean()
        < 0.5 * observed.to_numpy()[rows, planted_next].mean()
    )


# Validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"size": "huge"}, "unknown size 'huge'"),
        ({"n_userz": 10}, "allowed are .*'n_users'"),
        ({"n_users": 0}, "n_users must be positive"),
        ({"n_items": -5}, "n_items must be positive"),
        ({"n_factors": 2.5}, "n_factors must be int"),
        ({"noise": -0.1}, "noise must be >= 0"),
        ({"noise": "loud"}, "noise must be float"),
        ({"max_interactions": 500}, "max_interactions <= n_items"),
        ({"genre_share": 0.8}, "must not exceed 1"),
        ({"exploration": 1.5}, r"exploration must lie in \[0, 1\]"),
    ],
)
def test_bad_arguments_raise_value_error(arguments, message):
    arguments = {"size": "tiny", **arguments}
    with pytest.raises(ValueError, match=message):
        make_synthetic(**arguments)


def test_overrides_change_the_generated_data():
    dataset = make_synthetic("tiny", n_users=25, n_items=40, n_factors=3, max_interactions=20)
    assert dataset.n_users == 25 and len(dataset.items) == 40
    assert dataset.extras["planted"]["item_factors"].shape == (40, 3)
    assert dataset.interactions.groupby("user").size().max() <= 20
    assert dataset.extras["config"]["n_factors"] == 3
