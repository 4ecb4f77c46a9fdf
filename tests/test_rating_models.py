"""Paper A's rating models: hand-worked predictions, gradients through every tower, bad input."""

import numpy as np
import pandas as pd
import pytest
import torch

from mmrec_lib.models.rating import RATING_MODELS, rating_model
from mmrec_lib.models.rating.data import RatingIndex, multi_hot, rating_tensors

N_USERS, N_ITEMS = 7, 9


def build_rating_model(name: str, **kwargs):
    """The registry's class for ``name``, built with ``kwargs``."""
    return rating_model(name).cls(**kwargs)


def _features(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "tabular": rng.normal(size=(N_ITEMS, 5)).astype(np.float32),
        "poster": rng.normal(size=(N_ITEMS, 6)).astype(np.float32),
        "description": rng.normal(size=(N_ITEMS, 8)).astype(np.float32),
        "cast": (rng.random((N_ITEMS, 4)) < 0.5).astype(np.float32),
        "genres": (rng.random((N_ITEMS, 3)) < 0.5).astype(np.float32),
        "frequency": rng.integers(0, 5, size=(N_USERS, 3)).astype(np.float32),
    }


def _model_kwargs(name: str, features: dict) -> dict:
    if name == "mf":
        return {"n_users": N_USERS, "n_items": N_ITEMS, "dim": 4}
    if name == "nn":
        return {
            "n_users": N_USERS,
            "n_items": N_ITEMS,
            "item_features": features["tabular"],
            "dim": 4,
            "hidden": 8,
        }
    if name == "mf_nn":
        return {
            "n_users": N_USERS,
            "n_items": N_ITEMS,
            "cast": features["cast"],
            "description": features["description"],
            "genres": features["genres"],
            "dim": 4,
            "heads": 2,
            "hidden": 8,
        }
    return {
        "n_users": N_USERS,
        "n_items": N_ITEMS,
        "item_features": {k: features[k] for k in ("tabular", "poster", "description")},
        "user_genre_frequency": features["frequency"],
        "dim": 4,
        "hidden": 8,
    }


def _batch(seed: int = 1):
    rng = np.random.default_rng(seed)
    users = torch.as_tensor(rng.integers(0, N_USERS, 32))
    items = torch.as_tensor(rng.integers(0, N_ITEMS, 32))
    ratings = torch.as_tensor(rng.integers(1, 6, 32).astype(np.float32))
    return users, items, ratings


def test_mf_prediction_is_mean_plus_biases_plus_dot_product():
    model = build_rating_model("mf", n_users=2, n_items=2, dim=2, global_mean=3.0, reg=0.5)
    with torch.no_grad():
        model.user_factors.weight.copy_(torch.tensor([[1.0, 2.0], [0.0, -1.0]]))
        model.item_factors.weight.copy_(torch.tensor([[0.5, 0.5], [2.0, 1.0]]))
        model.user_bias.weight.copy_(torch.tensor([[0.1], [-0.2]]))
        model.item_bias.weight.copy_(torch.tensor([[0.3], [0.0]]))
    users, items = torch.tensor([0, 1]), torch.tensor([1, 0])
    # user 0, item 1: 3 + 0.1 + 0 + (1*2 + 2*1) = 7.1; user 1, item 0: 3 - 0.2 + 0.3 - 0.5 = 2.6
    torch.testing.assert_close(model(users, items), torch.tensor([7.1, 2.6]))
    # penalty: 0.5 * mean(|p0|²+|q1|²+b0²+b1² , |p1|²+|q0|²+b1²+b0²)
    expected = 0.5 * ((5 + 5 + 0.01 + 0.0) + (1 + 0.5 + 0.04 + 0.09)) / 2
    assert model.penalty(users, items).item() == pytest.approx(expected, rel=1e-6)
    loss = model.loss(users, items, torch.tensor([7.0, 3.0]))
    assert loss.item() == pytest.approx((0.01 + 0.16) / 2 + expected, rel=1e-5)


@pytest.mark.parametrize("name", sorted(RATING_MODELS))
def test_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    model = build_rating_model(name, **_model_kwargs(name, _features()))
    users, items, ratings = _batch()
    predictions = model(users, items)
    assert predictions.shape == (32,)
    model.loss(users, items, ratings).backward()
    without = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert without == [], f"{name}: no gradient reaches {without}"


def test_mf_nn_attention_runs_over_cast_and_description_tokens():
    model = build_rating_model("mf_nn", **_model_kwargs("mf_nn", _features())).eval()
    vectors, genre_logits, weights = model.item_tower(torch.arange(N_ITEMS), need_weights=True)
    assert vectors.shape == (N_ITEMS, 4) and genre_logits.shape == (N_ITEMS, 3)
    assert weights.shape == (N_ITEMS, 2, 2, 2)  # items x heads x 2 tokens x 2 tokens
    torch.testing.assert_close(weights.sum(-1), torch.ones(N_ITEMS, 2, 2))


def test_mf_nn_genre_loss_is_part_of_the_objective():
    features = _features()
    torch.manual_seed(0)
    with_genres = build_rating_model("mf_nn", **_model_kwargs("mf_nn", features), genre_weight=1)
    torch.manual_seed(0)
    without = build_rating_model("mf_nn", **_model_kwargs("mf_nn", features), genre_weight=0)
    users, items, ratings = _batch()
    with_genres.eval(), without.eval()
    _, logits, _ = with_genres.item_tower(items)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, with_genres.genres[items])
    difference = with_genres.loss(users, items, ratings) - without.loss(users, items, ratings)
    assert difference.item() == pytest.approx(bce.item(), rel=1e-5)


def test_tsem_normalises_genre_frequency_and_ignores_its_scale():
    features = _features()
    torch.manual_seed(0)
    model = build_rating_model("tsem", **_model_kwargs("tsem", features)).eval()
    rows = model.user_genre_frequency
    has_history = features["frequency"].sum(1) > 0
    torch.testing.assert_close(rows.sum(1)[has_history], torch.ones(int(has_history.sum())))
    scaled = dict(features, frequency=features["frequency"] * 10)
    torch.manual_seed(0)
    other = build_rating_model("tsem", **_model_kwargs("tsem", scaled)).eval()
    users, items, _ = _batch()
    torch.testing.assert_close(model(users, items), other(users, items))


def test_tsem_items_are_known_only_through_their_content():
    features = _features()
    features["tabular"][1] = features["tabular"][0]
    features["poster"][1] = features["poster"][0]
    features["description"][1] = features["description"][0]
    model = build_rating_model("tsem", **_model_kwargs("tsem", features)).eval()
    users = torch.arange(N_USERS)
    torch.testing.assert_close(
        model(users, torch.zeros_like(users)), model(users, torch.ones_like(users))
    )


def test_tsem_with_item_ids_starts_as_content_only_and_learns_what_content_cannot_tell():
    """Two items with the same content: TSEM cannot tell them apart, the hybrid starts as
    TSEM (zero offsets) and learns that one is liked and the other not."""
    features = _features()
    for block in ("tabular", "poster", "description"):
        features[block][1] = features[block][0]
    kwargs = dict(_model_kwargs("tsem", features), reg=0.0, global_mean=3.0)
    torch.manual_seed(0)
    plain = build_rating_model("tsem", **kwargs)
    torch.manual_seed(0)
    hybrid = build_rating_model("tsem", **kwargs, item_ids=True)
    users = torch.arange(N_USERS).repeat(2)
    items = torch.cat([torch.zeros(N_USERS), torch.ones(N_USERS)]).long()
    ratings = torch.cat([torch.full((N_USERS,), 5.0), torch.full((N_USERS,), 1.0)])
    torch.testing.assert_close(hybrid.eval()(users, items), plain.eval()(users, items))
    gaps = {}
    for name, model in (("plain", plain), ("hybrid", hybrid)):
        model.train()
        optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(200):
            optimiser.zero_grad()
            model.loss(users, items, ratings).backward()
            optimiser.step()
        predicted = model.eval()(users, items).detach()
        gaps[name] = (predicted[:N_USERS] - predicted[N_USERS:]).mean().item()
    assert abs(gaps["plain"]) < 1e-5
    assert gaps["hybrid"] > 3.0


@pytest.mark.parametrize(
    "name, key",
    [("nn", "tabular"), ("mf_nn", "cast"), ("mf_nn", "description"), ("tsem", "poster")],
)
def test_feature_matrix_with_wrong_number_of_rows_raises(name, key):
    features = _features()
    features[key] = features[key][:-1]
    with pytest.raises(ValueError, match="rows|row per"):
        build_rating_model(name, **_model_kwargs(name, features))


def test_tsem_wrong_user_rows_and_nan_features_raise():
    features = _features()
    with pytest.raises(ValueError, match="user_genre_frequency has 6 rows"):
        build_rating_model(
            "tsem", **_model_kwargs("tsem", dict(features, frequency=features["frequency"][:-1]))
        )
    broken = features["poster"].copy()
    broken[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        build_rating_model("tsem", **_model_kwargs("tsem", dict(features, poster=broken)))


def test_unknown_model_and_bad_hyperparameters_raise():
    with pytest.raises(ValueError, match=r"unknown rating model 'svd'.*'mf'"):
        build_rating_model("svd", n_users=2, n_items=2)
    with pytest.raises(ValueError, match="reg"):
        build_rating_model("mf", n_users=2, n_items=2, reg=-1)
    with pytest.raises(ValueError, match="multiple of heads"):
        build_rating_model("mf_nn", **{**_model_kwargs("mf_nn", _features()), "heads": 3})


def test_rating_index_encodes_ids_by_position_and_refuses_unknown_ids():
    train = pd.DataFrame({"user": [10, 30], "item": [5, 7], "rating": [4.0, 2.0]})
    test = pd.DataFrame({"user": [20], "item": [9], "rating": [3.0]})
    index = RatingIndex.from_frames(train, test, items=[1])
    np.testing.assert_array_equal(index.user_ids, [10, 20, 30])
    np.testing.assert_array_equal(index.item_ids, [1, 5, 7, 9])
    users, items, ratings = rating_tensors(train, index)
    assert users.tolist() == [0, 2] and items.tolist() == [1, 2]
    assert ratings.dtype == torch.float32 and ratings.tolist() == [4.0, 2.0]
    with pytest.raises(ValueError, match="user id outside"):
        index.encode(pd.DataFrame({"user": [99], "item": [5]}))


def test_multi_hot_counts_rows_and_drops_rare_values():
    cells = pd.Series([["a", "b"], ["b"], None, ["c", "b", "b"]])
    matrix, vocabulary = multi_hot(cells, min_count=2)
    assert vocabulary == ["b"]
    np.testing.assert_array_equal(matrix[:, 0], [1, 1, 0, 1])
    matrix, vocabulary = multi_hot(cells)
    assert vocabulary == ["a", "b", "c"]
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [0, 0, 0], [0, 1, 1]])
