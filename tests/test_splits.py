"""Splits: k-core, ratio split, leave-one-out invariants and the stored negatives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from mmrec_lib.data.splits import (
    PADDING_ITEM,
    SequenceSplit,
    kcore,
    leave_one_out,
    ratio_split,
    sample_negatives,
)


def random_interactions(n_users=60, n_items=80, per_user=(5, 25), seed=0) -> pd.DataFrame:
    """Distinct (user, item) rows with non-contiguous ids, shuffled rows, some timestamp ties."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        count = rng.integers(*per_user)
        items = rng.choice(n_items, size=count, replace=False)
        times = rng.integers(0, 15, size=count)  # few distinct times: plenty of ties
        rows += [
            (100 + 3 * user, 1000 + 7 * item, 4.0, t) for item, t in zip(items, times, strict=True)
        ]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def interactions() -> pd.DataFrame:
    return random_interactions()


@pytest.fixture(scope="module")
def split(interactions) -> SequenceSplit:
    return leave_one_out(interactions, n_negatives=20, seed=3)


def expected_orders(interactions: pd.DataFrame) -> dict[int, list[int]]:
    """Each user's items by (timestamp, input row order), computed with a per-user loop."""
    orders = {}
    for user, rows in interactions.groupby("user", sort=True):
        positions = sorted(range(len(rows)), key=lambda i: (rows["timestamp"].iloc[i], i))
        orders[user] = [int(rows["item"].iloc[i]) for i in positions]
    return orders


# --- k-core -------------------------------------------------------------------------------


def test_kcore_satisfies_thresholds_and_keeps_everything_that_qualifies(interactions):
    core = kcore(interactions, min_user=10, min_item=6)
    assert (core.groupby("user").size() >= 10).all()
    assert (core.groupby("item").size() >= 6).all()
    assert core.index.isin(interactions.index).all()
    assert 0 < len(core) < len(interactions)
    assert set(core.index) == naive_kcore(interactions, 10, 6)


def naive_kcore(interactions: pd.DataFrame, min_user: int, min_item: int) -> set[int]:
    """Drop one offending row at a time until none is left: the k-core's row indices."""
    rows = {
        i: (u, it)
        for i, u, it in zip(interactions.index, interactions.user, interactions.item, strict=True)
    }
    changed = True
    while changed:
        changed = False
        users = pd.Series([u for u, _ in rows.values()]).value_counts()
        items = pd.Series([it for _, it in rows.values()]).value_counts()
        for i, (u, it) in list(rows.items()):
            if users[u] < min_user or items[it] < min_item:
                del rows[i]
                changed = True
                break
    return set(rows)


def test_kcore_needs_iteration():
    # item 9 has 2 users; dropping user 3 (1 row) leaves it with 1, which then drops user 2
    frame = pd.DataFrame(
        {
            "user": [1, 1, 2, 2, 3, 4, 4],
            "item": [5, 6, 5, 9, 9, 5, 6],
            "rating": 1.0,
            "timestamp": 0,
        }
    )
    core = kcore(frame, min_user=2, min_item=2)
    assert sorted(zip(core["user"], core["item"], strict=True)) == [(1, 5), (1, 6), (4, 5), (4, 6)]


def test_kcore_bad_input():
    frame = pd.DataFrame({"user": [1], "item": [2], "rating": [1.0], "timestamp": [0]})
    with pytest.raises(ValueError, match="no interactions survive"):
        kcore(frame, 2, 2)
    with pytest.raises(ValueError, match=">= 1"):
        kcore(frame, 0, 2)
    with pytest.raises(ValueError, match="lack columns"):
        kcore(frame.drop(columns="item"))


# --- ratio split --------------------------------------------------------------------------


def test_ratio_split_partitions_rows(interactions):
    parts = ratio_split(interactions, test_frac=0.2, val_frac=0.1, seed=7)
    indices = [parts.train.index, parts.val.index, parts.test.index]
    joined = np.concatenate(indices)
    assert len(joined) == len(interactions) == len(set(joined))
    assert set(joined) == set(interactions.index)
    assert len(parts.test) == round(0.2 * len(interactions))
    assert len(parts.val) == round(0.1 * len(interactions))
    pd.testing.assert_frame_equal(parts.test, interactions.loc[parts.test.index])
    assert parts.seed == 7


def test_ratio_split_is_seeded(interactions):
    same = ratio_split(interactions, seed=1), ratio_split(interactions, seed=1)
    other = ratio_split(interactions, seed=2)
    assert same[0].test.index.equals(same[1].test.index)
    assert not other.test.index.equals(same[0].test.index)


@pytest.mark.parametrize(
    "test_frac, val_frac", [(0.0, 0.1), (1.0, 0.0), (0.5, 0.5), (0.2, -0.1), (0.6, 0.5)]
)
def test_ratio_split_rejects_bad_fractions(interactions, test_frac, val_frac):
    with pytest.raises(ValueError, match="test_frac"):
        ratio_split(interactions, test_frac=test_frac, val_frac=val_frac)


def test_ratio_split_too_few_rows():
    frame = pd.DataFrame({"user": [1, 2], "item": [1, 2], "rating": 1.0, "timestamp": 0})
    with pytest.raises(ValueError, match="too few"):
        ratio_split(frame, test_frac=0.2, val_frac=0.1)


# --- leave-one-out ------------------------------------------------------------------------


def test_leave_one_out_orders_by_time_with_stable_ties(interactions, split):
    orders = expected_orders(interactions)
    assert list(split.user_ids) == sorted(orders)
    for u, original_user in enumerate(split.user_ids):
        history = [*split.train_sequence(u), split.val_item[u], split.test_item[u]]
        assert list(split.item_ids[history]) == orders[original_user]


def test_leave_one_out_held_out_items_are_not_in_training(split):
    for u in range(split.n_users):
        train = set(split.train_sequence(u))
        assert split.val_item[u] not in train and split.test_item[u] not in train
        assert split.val_item[u] != split.test_item[u]


def test_leave_one_out_mapping_round_trips(interactions, split):
    assert split.item_ids[PADDING_ITEM] == -1
    assert split.n_items == interactions["item"].nunique()
    assert (np.diff(split.item_ids[1:]) > 0).all()  # ids 1..n_items in original-id order
    users = np.repeat(np.arange(split.n_users), split.train_lengths)
    pairs = np.concatenate(
        [
            np.column_stack([users, split.train_items]),
            np.column_stack([np.arange(split.n_users), split.val_item]),
            np.column_stack([np.arange(split.n_users), split.test_item]),
        ]
    )
    decoded = set(zip(split.user_ids[pairs[:, 0]], split.item_ids[pairs[:, 1]], strict=True))
    assert decoded == set(zip(interactions["user"], interactions["item"], strict=True))
    assert len(pairs) == len(interactions)
    assert split.train_items.min() >= 1 and split.train_items.max() <= split.n_items


def test_leave_one_out_drops_short_users_and_repeats():
    frame = pd.DataFrame(
        {
            "user": [1, 1, 1, 1, 2, 2, 2],
            "item": [10, 11, 10, 12, 10, 11, 11],  # user 1 repeats 10; user 2 has 2 distinct
            "rating": 1.0,
            "timestamp": [1, 2, 3, 4, 1, 2, 3],
        }
    )
    split = leave_one_out(frame, n_negatives=None)  # full ranking only: no sampled negatives
    assert list(split.user_ids) == [1]
    assert list(split.item_ids[split.train_sequence(0)]) == [10]
    assert split.item_ids[split.val_item[0]] == 11 and split.item_ids[split.test_item[0]] == 12
    assert split.negatives.shape == (1, 0)
    with pytest.raises(ValueError, match="min_length"):
        leave_one_out(frame, n_negatives=None, min_length=4)


def test_leave_one_out_bad_arguments(interactions):
    with pytest.raises(ValueError, match="sampling"):
        leave_one_out(interactions, sampling="zipf")
    with pytest.raises(ValueError, match="min_length"):
        leave_one_out(interactions, min_length=2)
    with pytest.raises(ValueError, match="fewer than 79 unseen"):
        leave_one_out(interactions, n_negatives=79)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=f"n_negatives={bad!r}.*n_negatives=None"):
            leave_one_out(interactions, n_negatives=bad)


def test_padded_histories(split):
    histories = split.padded_histories(6)
    with_val = split.padded_histories(6, include_val=True)
    for u in range(split.n_users):
        train = list(split.train_sequence(u))
        expected = ([0] * 6 + train)[-6:]
        assert list(histories[u]) == expected
        assert list(with_val[u]) == ([0] * 6 + train + [split.val_item[u]])[-6:]


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 1.0])
def test_keep_recent_keeps_the_latest_share_of_each_history(split, fraction):
    """Per user (a loop, independently of the vectorised cut): the last ceil(f * n) items."""
    import math

    sparse_split = split.keep_recent(fraction)
    for u in range(split.n_users):
        full = list(split.train_sequence(u))
        kept = max(1, math.ceil(fraction * len(full)))
        assert list(sparse_split.train_sequence(u)) == full[-kept:]
    for name in ("val_item", "test_item", "negatives", "user_ids", "item_ids"):
        np.testing.assert_array_equal(getattr(sparse_split, name), getattr(split, name))
    with pytest.raises(ValueError, match="fraction"):
        split.keep_recent(0.0)


def test_seen_matrix(split):
    seen = split.seen_matrix()
    assert seen.shape == (split.n_users, split.n_items + 1)
    for u in range(split.n_users):
        row = set(seen[u].indices)
        assert row == set(split.train_sequence(u)) | {PADDING_ITEM}
    with_val = split.seen_matrix(include_val=True, include_padding=False)
    assert set(with_val[0].indices) == set(split.train_sequence(0)) | {split.val_item[0]}


# --- negatives ----------------------------------------------------------------------------


@pytest.mark.parametrize("sampling", ["uniform", "popularity"])
def test_negatives_are_unseen_distinct_and_seeded(interactions, sampling):
    split = leave_one_out(interactions, n_negatives=30, seed=5, sampling=sampling)
    assert split.negatives.shape == (split.n_users, 30)
    assert split.negatives.min() >= 1 and split.negatives.max() <= split.n_items
    for u in range(split.n_users):
        own = {*split.train_sequence(u), split.val_item[u], split.test_item[u]}
        row = split.negatives[u]
        assert len(set(row)) == 30
        assert not own & set(row)
    again = leave_one_out(interactions, n_negatives=30, seed=5, sampling=sampling)
    other = leave_one_out(interactions, n_negatives=30, seed=6, sampling=sampling)
    np.testing.assert_array_equal(again.negatives, split.negatives)
    assert (other.negatives != split.negatives).mean() > 0.5


def test_popularity_sampling_favours_popular_items():
    # Users 0..239 see item 1; all 300 see one of items 2..41 and the shared items 100..102.
    # For users 240..299, item 1 holds ~45 % of the popularity mass left to draw from,
    # but only 1/40 of the uniform mass.
    rng = np.random.default_rng(0)
    rows = [(u, 1, u) for u in range(240)]
    rows += [(u, int(rng.integers(2, 42)), 0) for u in range(300)]
    rows += [(u, 100 + j, j) for u in range(300) for j in range(3)]
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"]).assign(rating=1.0)
    uniform = leave_one_out(frame, n_negatives=5, seed=0, sampling="uniform")
    popular = leave_one_out(frame, n_negatives=5, seed=0, sampling="popularity")
    item_1 = int(np.searchsorted(uniform.item_ids, 1))
    eligible = [u for u in range(uniform.n_users) if uniform.user_ids[u] >= 240]
    share_uniform = np.isin(uniform.negatives[eligible], item_1).any(axis=1).mean()
    share_popular = np.isin(popular.negatives[eligible], item_1).any(axis=1).mean()
    assert share_popular > 0.8 and share_uniform < 0.3


def test_negatives_save_load_round_trip(split, tmp_path):
    path = split.save(tmp_path / "split.npz")
    loaded = SequenceSplit.load(path)
    for name in ("train_items", "train_offsets", "val_item", "test_item", "negatives"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(split, name))
    np.testing.assert_array_equal(loaded.item_ids, split.item_ids)
    np.testing.assert_array_equal(loaded.user_ids, split.user_ids)
    assert (loaded.seed, loaded.sampling) == (split.seed, split.sampling)


def test_sample_negatives_uniform_frequencies():
    # 2000 rows, 10 columns, columns 0 and 1 seen everywhere: 3 of 8 drawn per row
    seen = sparse.csr_matrix(np.tile(np.arange(10) < 2, (2000, 1)))
    draws = sample_negatives(seen, 3, np.random.default_rng(0))
    counts = np.bincount(draws.ravel(), minlength=10)
    assert counts[:2].sum() == 0
    np.testing.assert_allclose(counts[2:] / 2000, 3 / 8, atol=0.04)


def test_sample_negatives_exact_fallback_for_hard_rows():
    # the unseen columns carry a 1e-9 share of the weight: rejection rounds cannot finish
    weights = np.r_[np.full(990, 1e6), np.full(10, 1e-3)]
    seen = sparse.csr_matrix((np.ones(990, bool), (np.zeros(990, int), np.arange(990))), (2, 1000))
    draws = sample_negatives(seen, 5, np.random.default_rng(1), weights=weights)
    assert set(draws[0]) <= set(range(990, 1000)) and len(set(draws[0])) == 5
    assert len(set(draws[1])) == 5


def test_sample_negatives_rejects_bad_weights():
    seen = sparse.csr_matrix((2, 4), dtype=bool)
    with pytest.raises(ValueError, match="weights"):
        sample_negatives(seen, 1, np.random.default_rng(0), weights=np.array([1.0, -1, 1, 1]))


@pytest.mark.realdata
def test_leave_one_out_on_ml100k(real_data_dir):
    frame = pd.read_csv(
        real_data_dir / "ml-100k" / "u.data",
        sep="\t",
        names=["user", "item", "rating", "timestamp"],
    )
    split = leave_one_out(frame, n_negatives=100, seed=0)
    assert (split.n_users, split.n_items, split.negatives.shape) == (943, 1682, (943, 100))
    assert split.train_lengths.sum() == 100_000 - 2 * 943
    latest = frame.groupby("user")["timestamp"].max().to_numpy()
    test_time = frame.set_index(["user", "item"])["timestamp"]
    pairs = list(zip(split.user_ids, split.item_ids[split.test_item], strict=True))
    np.testing.assert_array_equal(test_time.loc[pairs].to_numpy(), latest)
