"""Choosing items: most rated (ties by id), title lookup with helpful errors, the primary
genre (hand-worked, and the planted one of synthetic data), a dataset cut to some items."""

from __future__ import annotations

import pandas as pd
import pytest

from mmrec_lib.data import load_dataset
from mmrec_lib.data.dataset import Dataset
from mmrec_lib.data.selection import find_items, most_rated, primary_genre, restrict_items


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return load_dataset("synthetic", size="tiny", seed=0)


def test_most_rated_orders_by_count_then_id():
    interactions = pd.DataFrame({"item": [5, 5, 3, 3, 9, 1, 1, 1]})
    assert most_rated(interactions).tolist() == [1, 3, 5, 9]
    assert most_rated(interactions, 2).tolist() == [1, 3]
    assert most_rated(interactions, 2, among=[9, 5, 42]).tolist() == [5, 9]


def test_find_items_exact_substring_and_errors():
    items = pd.DataFrame(
        {"title": ["Star Wars (1977)", "Star Trek (1979)", "Alien (1979)", "Aliens (1986)"]},
        index=[50, 60, 70, 80],
    )
    assert find_items(["Alien (1979)", "star wars"], items) == [70, 50]
    with pytest.raises(ValueError, match="several items"):
        find_items(["Star"], items)
    with pytest.raises(ValueError, match="no item.*Star Wars"):
        find_items(["Star Warz (1977)"], items)


def test_primary_genre_is_the_rarest_genre_or_the_planted_one(tiny):
    items = pd.DataFrame(
        {"title": list("abcd"), "year": [2000] * 4,
         "genres": [["Drama", "Horror"], ["Drama"], ["Comedy", "Drama"], []]},
        index=[1, 2, 3, 4],
    )  # fmt: skip
    interactions = pd.DataFrame({"user": [1], "item": [1], "rating": [4.0], "timestamp": [0]})
    dataset = Dataset("toy", interactions, items, pd.DataFrame(), ["Comedy", "Drama", "Horror"])
    # Comedy and Horror appear once each (tie -> vocabulary order), Drama three times.
    assert primary_genre(dataset).to_dict() == {1: "Horror", 2: "Drama", 3: "Comedy"}
    planted = tiny.extras["planted"]["item_primary_genre"]
    assert primary_genre(tiny).equals(planted.rename("genre"))


def test_restrict_items_keeps_their_interactions(tiny):
    kept = most_rated(tiny.interactions, 10)
    small = restrict_items(tiny, kept)
    assert small.items.index.tolist() == [i for i in tiny.items.index if i in set(kept)]
    assert sorted(small.items.index) == sorted(kept) != kept.tolist()  # dataset order kept
    assert set(small.interactions["item"]) == set(kept)
    expected = tiny.interactions["item"].isin(kept).sum()
    assert len(small.interactions) == expected
    with pytest.raises(ValueError, match="unknown item ids"):
        restrict_items(tiny, [10_000])
