"""Nearest-neighbour search (hand-worked cosines, an independent brute force), title lookup,
primary genres and the genre-agreement number (planted structure in synthetic posters)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmrec_lib.analysis.similarity import (
    genre_agreement,
    genre_agreement_table,
    items_with_all,
    nearest_items,
    neighbour_titles,
    with_titles,
)
from mmrec_lib.data import load_dataset
from mmrec_lib.data.dataset import Dataset
from mmrec_lib.data.selection import primary_genre
from mmrec_lib.features import ItemFeatures

ROOT_HALF = np.sqrt(0.5)


@pytest.fixture()
def hand_built() -> ItemFeatures:
    """10 (1,0), 20 (1,1), 30 (0,1), 40 (-1,0); 50 is nearly 10 but masked; 60 is a zero row."""
    matrix = [[1, 0], [1, 1], [0, 1], [-1, 0], [1, 0.1], [0, 0]]
    mask = [True, True, True, True, False, True]
    return ItemFeatures(np.array([10, 20, 30, 40, 50, 60]), np.array(matrix), "toy", mask)


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return load_dataset("synthetic", size="tiny", seed=0)


def test_nearest_items_hand_worked(hand_built):
    table = nearest_items(hand_built, [10, 20], k=2)
    assert table.columns.tolist() == ["query", "rank", "neighbour", "cosine"]
    assert table["query"].tolist() == [10, 10, 20, 20]
    assert table["rank"].tolist() == [1, 2, 1, 2]
    # 10: 20 at 1/sqrt(2), then 30 at 0 (50 is masked, 60 has no vector, 10 is itself).
    # 20: 10 and 30 tie at 1/sqrt(2); ties go by position.
    assert table["neighbour"].tolist() == [20, 30, 10, 30]
    assert table["cosine"].to_numpy() == pytest.approx([ROOT_HALF, 0.0, ROOT_HALF, ROOT_HALF])


def test_nearest_items_excludes_self_even_with_a_duplicate_and_caps_k(hand_built):
    duplicate = ItemFeatures(np.array([1, 2, 3]), np.array([[1.0, 0], [1.0, 0], [0, 1.0]]), "d")
    table = nearest_items(duplicate, [1], k=1)
    assert table["neighbour"].tolist() == [2] and table["cosine"].tolist() == pytest.approx([1])
    capped = nearest_items(hand_built, [40], k=10)  # only 10, 20, 30 can be neighbours
    assert capped["neighbour"].tolist() == [30, 20, 10]
    assert capped["cosine"].to_numpy() == pytest.approx([0.0, -ROOT_HALF, -1.0])


def test_nearest_items_errors(hand_built):
    with pytest.raises(ValueError, match="unknown item ids \\[99\\]"):
        nearest_items(hand_built, [10, 99])
    with pytest.raises(ValueError, match="k must be at least 1"):
        nearest_items(hand_built, [10], k=0)
    with pytest.raises(ValueError, match="have no toy"):
        nearest_items(hand_built, [50, 60])


def test_nearest_items_match_a_brute_force_sort():
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(40, 6))
    features = ItemFeatures(np.arange(100, 140), matrix, "random")
    table = nearest_items(features, [100, 117, 139], k=4)
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    for query, rows in table.groupby("query"):
        cosines = unit @ unit[query - 100]
        cosines[query - 100] = -np.inf
        expected = np.argsort(-cosines)[:4] + 100
        assert rows["neighbour"].tolist() == expected.tolist()
        assert rows["cosine"].to_numpy() == pytest.approx(np.sort(cosines)[::-1][:4], abs=1e-6)


def test_titles_attached_and_side_by_side(hand_built):
    titles = pd.Series({10: "Ten", 20: "Twenty", 30: "Thirty", 40: "Forty"})
    table = with_titles(nearest_items(hand_built, [10], k=2), titles)
    assert table["query_title"].tolist() == ["Ten", "Ten"]
    assert table["neighbour_title"].tolist() == ["Twenty", "Thirty"]
    flipped = ItemFeatures(hand_built.ids, -hand_built.matrix, "flipped", hand_built.mask)
    side = neighbour_titles({"toy": hand_built, "flipped": flipped}, [10], titles, k=1)
    assert side.loc[("Ten", 1)].tolist() == ["Twenty (0.71)", "Twenty (0.71)"]


def test_items_with_all_modalities_and_a_label(hand_built):
    other = ItemFeatures(np.array([30, 20, 10, 70]), np.ones((4, 2)), "other", [1, 1, 0, 1])
    labels = pd.Series({20: "x", 30: None, 40: "y", 10: "z"})
    assert items_with_all({"toy": hand_built, "other": other}).tolist() == [20, 30]
    assert items_with_all({"toy": hand_built, "other": other}, labels).tolist() == [20]


def test_genre_agreement_on_separated_clusters():
    ids = np.arange(8)
    matrix = np.array([[1, 0.1 * i] for i in range(4)] + [[0.1 * i, 1] for i in range(4)])
    labels = pd.Series(["a"] * 4 + ["b"] * 4, index=ids)
    result = genre_agreement(ItemFeatures(ids, matrix, "two"), labels, k=3, n_shuffles=50)
    assert result["knn_agreement"] == 1.0
    assert result["n_items"] == 8
    # With labels shuffled, 3 of the 7 others share a label: chance is 3/7 per neighbour.
    assert result["knn_shuffled"] == pytest.approx(3 / 7, abs=0.08)
    assert result["silhouette"] > 0.8 > result["silhouette_shuffled"]
    with pytest.raises(ValueError, match="at least two labels"):
        genre_agreement(ItemFeatures(ids, matrix, "two"), labels.replace("b", "a"), k=3)


def test_mean_poster_colour_agrees_on_genre_and_random_vectors_do_not(tiny):
    """Planted structure: synthetic posters take their primary genre's hue."""
    from PIL import Image

    colours = np.stack(
        [np.asarray(Image.open(path).convert("HSV"), float).mean(axis=(0, 1))
         for path in tiny.items["poster_path"]]
    )  # fmt: skip
    hue = colours[:, 0] / 255 * 2 * np.pi  # a circle, so red is next to magenta
    features = {
        "colour": ItemFeatures(tiny.items.index.to_numpy(), np.c_[np.cos(hue), np.sin(hue)], "c"),
        "random": ItemFeatures(
            tiny.items.index.to_numpy(), np.random.default_rng(0).normal(size=(80, 8)), "r"
        ),
    }
    table = genre_agreement_table(features, primary_genre(tiny), k=5, n_shuffles=30)
    colour, random = table.loc["colour"], table.loc["random"]
    assert colour["knn_agreement"] > colour["knn_shuffled"] + 5 * colour["knn_shuffled_sd"]
    assert colour["knn_agreement"] > 5 * colour["knn_shuffled"]  # chance is about 1/18
    assert colour["silhouette"] > colour["silhouette_shuffled"] + 0.3
    assert abs(random["knn_agreement"] - random["knn_shuffled"]) < 4 * random["knn_shuffled_sd"]
