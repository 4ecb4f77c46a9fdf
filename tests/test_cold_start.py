"""The cold-start protocol: held-out items reach no training batch, sampled negative, loss,
feature fit or popularity count; Content kNN and the chance level by hand; and on planted
data, content ranks cold items above chance."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from mmrec_lib.analysis.cold_start import (
    chance_level,
    cold_start_table,
    rating_gain_on_cold_items,
)
from mmrec_lib.data import dataset_spec
from mmrec_lib.data.cold_start import cold_test_users, hold_out_items, hold_out_rated_items
from mmrec_lib.data.splits import leave_one_out, ratio_split
from mmrec_lib.experiments.grids import cold_start_configs, paper_config
from mmrec_lib.experiments.sequential import dataset_and_split, run_sequential
from mmrec_lib.experiments.store import RunRecord
from mmrec_lib.features.sequence_items import training_interactions
from mmrec_lib.features.tabular import (
    fit_rating_booster,
    tabular_item_table,
    xgboost_item_embeddings,
)
from mmrec_lib.models.rating.data import multi_hot
from mmrec_lib.models.sequential import BPR, BERT4Rec, ContentKNN, PopRec, SASRec, TransRec
from mmrec_lib.models.sequential.training_data import sample_unseen


@pytest.fixture(scope="module")
def split():
    """60 users with 8 random items each out of 40."""
    rng = np.random.default_rng(0)
    histories = {user: rng.choice(40, size=8, replace=False) for user in range(60)}
    frame = pd.DataFrame(
        [(user, item, 1.0, t) for user, items in histories.items() for t, item in enumerate(items)],
        columns=["user", "item", "rating", "timestamp"],
    )
    return leave_one_out(frame, n_negatives=10, seed=0)


@pytest.fixture(scope="module")
def cold(split):
    return hold_out_items(split, 0.25, seed=3)


def test_cold_items_leave_training_and_validation_as_if_never_interacted_with(split, cold):
    held = set(cold.held_out_items.tolist())
    assert len(held) == round(0.25 * split.n_items)
    assert not held & set(cold.train_items.tolist()) and not held & set(cold.val_item.tolist())
    kept = 0
    for user in range(split.n_users):  # by hand: drop the cold items of train + validation
        warm = [i for i in [*split.train_sequence(user), split.val_item[user]] if i not in held]
        if len(warm) < 2:
            assert split.user_ids[user] not in cold.user_ids
            continue
        assert cold.user_ids[kept] == split.user_ids[user]
        assert cold.train_sequence(kept).tolist() == warm[:-1]
        assert cold.val_item[kept] == warm[-1]
        assert cold.test_item[kept] == split.test_item[user]
        np.testing.assert_array_equal(cold.negatives[kept], split.negatives[user])
        kept += 1
    assert kept == cold.n_users and cold.n_items == split.n_items
    assert cold_test_users(cold).sum() == np.isin(cold.test_item, cold.held_out_items).sum() > 0


def test_holding_out_is_seeded_and_checked(split, cold):
    np.testing.assert_array_equal(
        hold_out_items(split, 0.25, 3).held_out_items, cold.held_out_items
    )
    assert not np.array_equal(hold_out_items(split, 0.25, 4).held_out_items, cold.held_out_items)
    for bad in (0, 1, -0.1, 1.5):
        with pytest.raises(ValueError, match="share of cold items"):
            hold_out_items(split, bad)
    with pytest.raises(ValueError, match="already holds"):
        hold_out_items(cold, 0.1)


def test_a_split_with_held_out_items_survives_save_and_load(cold, tmp_path):
    loaded = type(cold).load(cold.save(tmp_path / "split.npz"))
    np.testing.assert_array_equal(loaded.held_out_items, cold.held_out_items)


def test_no_training_negative_may_be_a_cold_item(cold):
    users = np.arange(cold.n_users)
    draws = [
        sample_unseen(cold.seen_matrix(), users, (50,), np.random.default_rng(0), excluded)
        for excluded in (None, cold.held_out_items)
    ]
    assert np.isin(draws[0], cold.held_out_items).any()  # they would be drawn
    assert not np.isin(draws[1], cold.held_out_items).any()


MODELS = [
    (SASRec, {"loss": "bce"}),
    (SASRec, {"loss": "sampled-softmax", "negatives": 20}),
    (SASRec, {"loss": "ce"}),
    (BERT4Rec, {"loss": "ce"}),
    (BERT4Rec, {"loss": "bce"}),
    (BPR, {}),
    (TransRec, {}),
]


@pytest.mark.parametrize(("cls", "hyperparameters"), MODELS)
def test_no_cold_item_reaches_a_training_batch(cold, cls, hyperparameters):
    settings = {"max_len": 6} if cls in (SASRec, BERT4Rec) else {}
    model = cls.from_split(cold, **settings, d=8, **hyperparameters)
    held = torch.as_tensor(cold.held_out_items)
    items_from = 1 if cls in (BPR, TransRec) else 0  # their batches start with user indices
    for epoch in range(3):
        for batch in model.training_batches(cold, np.random.default_rng(epoch)):
            for tensor in batch[items_from:]:
                assert not torch.isin(tensor, held).any()


@pytest.mark.parametrize("cls", [SASRec, BERT4Rec])
def test_a_full_softmax_sends_no_gradient_to_cold_items(cold, cls):
    torch.manual_seed(0)
    model = cls.from_split(cold, max_len=6, d=8, loss="ce")
    batch = next(iter(model.training_batches(cold, np.random.default_rng(0), batch_size=64)))
    model.loss(batch).backward()
    gradient = model.item.weight.grad
    assert (gradient[cold.held_out_items] == 0).all()
    warm = np.setdiff1d(np.arange(1, cold.n_items + 1), cold.held_out_items)
    assert (gradient[warm].abs().sum(1) > 0).float().mean() > 0.5


def test_popularity_never_counts_a_cold_item(cold):
    assert (PopRec.from_split(cold).counts[cold.held_out_items] == 0).all()


def test_content_knn_scores_the_mean_cosine_similarity_to_the_history():
    features = np.array([[0, 0], [1, 0], [0, 2], [3, 3]], dtype=np.float32)
    model = ContentKNN(features)
    history = torch.tensor([[0, 1, 2]])  # padding, item 1, item 2
    scores = model.score(history, torch.tensor([[3, 1]]))
    # item 3 = (1, 1) / sqrt(2): cosine 1/sqrt(2) with each; item 1: (1 + 0) / 2
    np.testing.assert_allclose(scores.numpy(), [[1 / math.sqrt(2), 0.5]], rtol=1e-6)
    np.testing.assert_allclose(model.score_all(history)[0, [3, 1]].numpy(), scores[0].numpy())


def test_chance_level_by_hand(split):
    n = split.negatives.shape[1] + 1  # 11 candidates
    assert chance_level(split, "sampled/HR@10")[0] == pytest.approx(10 / n)
    dcg = sum(1 / math.log2(r + 2) for r in range(10))
    assert chance_level(split, "sampled/NDCG@10")[0] == pytest.approx(dcg / n)
    unseen = split.n_items - split.train_lengths[0] - 1  # every item but train and validation
    assert chance_level(split, "full/HR@5")[0] == pytest.approx(5 / unseen)
    with pytest.raises(ValueError, match="metric must look like"):
        chance_level(split, "NDCG@10")


def cold_dataset(seed: int = 0) -> dict:
    """Users pick items by a strong content-driven preference, with no genre chain."""
    return dataset_spec("synthetic", "small", seed) | {
        "transition_strength": 0.0, "preference_strength": 3.0, "exploration": 0.05,
    }  # fmt: skip


def test_cold_items_leave_the_tabular_fits():
    """Changing the cold items' attributes changes no other item's tabular features."""
    config = paper_config(
        "sasrec+", dataset=cold_dataset(), cold_items=0.2, n_negatives=20, modalities=["tabular"]
    )
    dataset, split = dataset_and_split(config)
    held_ids = split.item_ids[split.held_out_items]
    train = training_interactions(dataset, split)
    assert not train["item"].isin(held_ids).any()
    changed = dataset.items.copy()
    changed.loc[held_ids, "year"] = changed["year"].max() + 500
    other = replace(dataset, items=changed)
    warm = ~np.isin(dataset.items.index, held_ids)
    tables = [tabular_item_table(d, held_out=held_ids).matrix[warm] for d in (dataset, other)]
    np.testing.assert_array_equal(*tables)
    embeddings = [
        xgboost_item_embeddings(d, train, dim=8, seed=0, held_out=held_ids).matrix[warm]
        for d in (dataset, other)
    ]
    np.testing.assert_allclose(*embeddings, atol=1e-9)
    with pytest.raises(ValueError, match="held-out"):
        fit_rating_booster(dataset, dataset.interactions, held_out=held_ids)


def test_content_ranks_cold_items_above_chance_and_ids_cannot():
    """On planted content preferences, Content kNN finds the cold test items far above
    chance; SASRec, whose cold items' embeddings never trained, does not."""
    common = dict(
        dataset=cold_dataset(), n_negatives=100, max_len=30, d=32,
        modalities=["tabular"], features={"tabular": "table"},
        train={"epochs": 5, "patience": 5, "lr": 5e-3},
    )  # fmt: skip
    configs = cold_start_configs(["content-knn", "sasrec"], [0], 0.2, **common)
    records = [run_sequential(config) for config in configs]
    _, split = dataset_and_split(configs[0])
    table = cold_start_table(records, split, "sampled/HR@10")
    assert table.loc["content-knn", "cold users"] >= 50
    assert table.loc["content-knn", "ci95_low"] > 0.03
    assert table.loc["sasrec", "ci95_low"] < 0.03
    assert (
        table.loc["sasrec", "mean"]
        < table.loc["content-knn", "ci95_low"] + table.loc["content-knn", "chance"]
    )


def test_a_cold_start_config_names_its_share_and_an_ordinary_one_does_not():
    plain = paper_config("sasrec", dataset=dataset_spec("synthetic", "tiny", 0))
    cold = paper_config("sasrec", dataset=dataset_spec("synthetic", "tiny", 0), cold_items=0.2)
    assert "cold_items" not in plain["split"] and cold["split"]["cold_items"] == 0.2
    with pytest.raises(ValueError, match="cold_items"):
        paper_config("sasrec", dataset=dataset_spec("synthetic", "tiny", 0), cold_items=1.0)


def rating_frame() -> pd.DataFrame:
    """Three users rating items 0-9 at increasing times (user u rates item i at 10 u + i)."""
    rows = [(user, item, 1 + (user + item) % 5, 10 * user + item)
            for user in range(3) for item in range(10)]  # fmt: skip
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


def test_rated_cold_items_keep_only_their_test_ratings():
    split = ratio_split(rating_frame(), test_frac=0.2, val_frac=0.1, seed=0)
    cold = hold_out_rated_items(split, 0.3, seed=1)
    assert len(cold.held_out_items) == 3
    for part in (cold.train, cold.val):
        assert not part["item"].isin(cold.held_out_items).any()
    pd.testing.assert_frame_equal(cold.test, split.test)
    kept = split.train[~split.train["item"].isin(cold.held_out_items)]
    pd.testing.assert_frame_equal(cold.train, kept)
    again = hold_out_rated_items(split, 0.3, seed=1).held_out_items
    np.testing.assert_array_equal(again, cold.held_out_items)
    with pytest.raises(ValueError, match="already holds"):
        hold_out_rated_items(cold, 0.3)


def test_rating_splits_keep_each_users_most_recent_training_ratings():
    split = ratio_split(rating_frame(), test_frac=0.2, val_frac=0.1, seed=0)
    half = split.keep_recent(0.5)
    for user, ratings in split.train.groupby("user"):
        n = math.ceil(0.5 * len(ratings))
        expected = ratings.sort_values("timestamp").tail(n)
        pd.testing.assert_frame_equal(half.train[half.train["user"] == user], expected)
    pd.testing.assert_frame_equal(half.test, split.test)
    assert split.keep_recent(1.0) is split
    one = split.keep_recent(0.01)
    assert (one.train.groupby("user").size() == 1).all()


def test_rated_cold_items_fit_no_vocabulary():
    cells = pd.Series([["a", "b"], ["a"], ["c"], ["c"]])
    matrix, vocabulary = multi_hot(cells, min_count=2, fit=np.array([True, True, False, True]))
    assert vocabulary == ["a"]  # "c" occurs twice, but once in a held-out row
    np.testing.assert_array_equal(matrix[:, 0], [1, 1, 0, 0])


def test_rating_gain_on_cold_items_by_hand():
    split = ratio_split(rating_frame(), test_frac=0.2, val_frac=0.1, seed=0)
    cold = hold_out_rated_items(split, 0.3, seed=1)
    is_cold = cold.test["item"].isin(cold.held_out_items).to_numpy()
    n = len(cold.test)
    mf = np.where(is_cold, 1.0, 0.25) + 0.01 * np.arange(n)
    tsem = np.where(is_cold, 0.64, 0.25)
    records = [
        RunRecord({"model": model, "train": {"seed": 0}}, {}, {"squared_error": errors}, 0.0)
        for model, errors in (("mf", mf), ("tsem", tsem))
    ]
    table = rating_gain_on_cold_items(records, cold)
    assert table.loc["cold items", "n"] == is_cold.sum() > 0
    assert table.loc["cold items", "tsem RMSE"] == pytest.approx(0.8)
    assert table.loc["cold items", "gain"] == pytest.approx((mf - tsem)[is_cold].mean())
    assert table.loc["warm items", "mf RMSE"] == pytest.approx(np.sqrt(mf[~is_cold].mean()))
