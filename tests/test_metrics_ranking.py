"""Ranking metrics: hand-worked cases, pessimistic ties, masks, an independent loop, torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.metrics import ndcg_score

from mmrec_lib.metrics import (
    hr_at_k,
    map_at_k,
    mrr,
    ndcg_at_k,
    ranking_metrics,
    ranks_from_scores,
)


def slow_ranks(scores, positive, exclude):
    """Per-user loop: candidates other than the positive, not excluded, scoring >= it."""
    ranks = []
    for u, row in enumerate(scores):
        p = positive[u]
        ranks.append(
            sum(1 for j, s in enumerate(row) if j != p and not exclude[u, j] and s >= row[p])
        )
    return np.array(ranks)


@pytest.fixture(scope="module")
def random_case():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(40, 30)).round(1)  # rounding plants ties
    positive = rng.integers(0, 30, size=40)
    exclude = rng.random((40, 30)) < 0.3
    exclude[np.arange(40)[::2], positive[::2]] = True  # the positive is marked excluded too
    return scores, positive, exclude


# --- ranks ----------------------------------------------------------------------------------


def test_sampled_protocol_hand_cases():
    scores = np.array(
        [
            [9.0, 1.0, 2.0, 3.0],  # positive on top
            [2.0, 3.0, 1.0, 0.5],  # one above: rank 1
            [0.0, 1.0, 2.0, 3.0],  # last
            [1.0, 1.0, 1.0, 1.0],  # all tied: pessimistic, worst rank
            [2.0, 2.0, 1.0, 0.0],  # tie with one negative: counted above
        ]
    )
    np.testing.assert_array_equal(ranks_from_scores(scores), [0, 1, 3, 3, 1])


def test_full_protocol_with_sparse_and_dense_masks():
    scores = np.array([[3.0, 1.0, 2.0], [1.0, 1.0, 1.0], [0.0, 5.0, 2.0]])
    positive = np.array([1, 0, 2])
    exclude = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=bool)  # positive marked too
    expected = [2, 1, 0]  # row 0: 3 and 2 beat 1; row 1: tie at col 1; row 2: col 1 excluded
    np.testing.assert_array_equal(ranks_from_scores(scores, positive, exclude), expected)
    csr = sparse.csr_matrix(exclude)
    np.testing.assert_array_equal(ranks_from_scores(scores, positive, csr), expected)
    np.testing.assert_array_equal(ranks_from_scores(scores, positive), [2, 2, 1])


def test_excluding_a_high_scoring_item_lifts_the_positive():
    scores = np.array([[5.0, 4.0, 3.0]])
    assert ranks_from_scores(scores, np.array([2]))[0] == 2
    assert ranks_from_scores(scores, np.array([2]), np.array([[1, 1, 0]], bool))[0] == 0
    # an explicitly stored False in a sparse mask excludes nothing
    stored_false = sparse.csr_matrix((np.array([False]), ([0], [0])), shape=(1, 3))
    assert ranks_from_scores(scores, np.array([2]), stored_false)[0] == 2


def test_minus_infinity_positive_is_ranked_last():
    scores = np.array([[-np.inf, -np.inf, 0.0]])
    assert ranks_from_scores(scores)[0] == 2


def test_ranks_match_a_slow_loop(random_case):
    scores, positive, exclude = random_case
    expected = slow_ranks(scores, positive, exclude)
    np.testing.assert_array_equal(ranks_from_scores(scores, positive, exclude), expected)
    np.testing.assert_array_equal(
        ranks_from_scores(scores, positive, sparse.csr_matrix(exclude)), expected
    )
    no_mask = np.zeros_like(exclude)
    sampled = slow_ranks(scores, np.zeros(40, int), no_mask)
    np.testing.assert_array_equal(ranks_from_scores(scores), sampled)


@pytest.mark.parametrize("mask_kind", ["none", "dense", "sparse"])
def test_torch_matches_numpy(random_case, mask_kind):
    scores, positive, exclude = random_case
    mask = {"none": None, "dense": exclude, "sparse": sparse.csr_matrix(exclude)}[mask_kind]
    expected = ranks_from_scores(scores, positive, mask)
    tensor_mask = torch.from_numpy(exclude) if mask_kind == "dense" else mask
    got = ranks_from_scores(torch.from_numpy(scores), torch.from_numpy(positive), tensor_mask)
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, expected)
    float32 = ranks_from_scores(torch.from_numpy(scores).float(), positive, mask)
    np.testing.assert_array_equal(
        float32, ranks_from_scores(scores.astype(np.float32), positive, mask)
    )
    for name, values in ranking_metrics(torch.from_numpy(got)).items():
        np.testing.assert_array_equal(values, ranking_metrics(expected)[name])


@pytest.mark.gpu
def test_cuda_matches_numpy(random_case):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    scores, positive, exclude = random_case
    for mask in (exclude, sparse.csr_matrix(exclude)):
        got = ranks_from_scores(torch.from_numpy(scores).cuda(), positive, mask)
        np.testing.assert_array_equal(got, ranks_from_scores(scores, positive, mask))


def test_bad_inputs():
    scores = np.zeros((2, 3))
    with pytest.raises(ValueError, match="n_candidates"):
        ranks_from_scores(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        ranks_from_scores(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="positive"):
        ranks_from_scores(scores, np.array([0, 3]))
    with pytest.raises(ValueError, match="positive"):
        ranks_from_scores(scores, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        ranks_from_scores(scores, np.array([0, 1]), np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="shape"):
        ranks_from_scores(scores, np.array([0, 1]), sparse.csr_matrix((3, 3), dtype=bool))


# --- metrics from ranks ---------------------------------------------------------------------


def test_perfect_ranking_scores_one():
    metrics = ranking_metrics(np.zeros(7, dtype=int))
    for name, values in metrics.items():
        np.testing.assert_array_equal(values, 1.0, err_msg=name)


def test_no_hit_within_k_scores_zero():
    ranks = np.array([10, 57, 100])
    assert hr_at_k(ranks, 10).sum() == 0
    assert ndcg_at_k(ranks, 10).sum() == 0
    assert map_at_k(ranks, 10).sum() == 0
    np.testing.assert_allclose(mrr(ranks), [1 / 11, 1 / 58, 1 / 101])


def test_hand_worked_values():
    ranks = np.array([0, 1, 4, 5])
    np.testing.assert_array_equal(hr_at_k(ranks, 5), [1, 1, 1, 0])
    np.testing.assert_allclose(ndcg_at_k(ranks, 5), [1, 1 / math.log2(3), 1 / math.log2(6), 0])
    np.testing.assert_allclose(mrr(ranks), [1, 1 / 2, 1 / 5, 1 / 6])
    np.testing.assert_allclose(map_at_k(ranks, 5), [1, 1 / 2, 1 / 5, 0])
    np.testing.assert_allclose(map_at_k(ranks), mrr(ranks))


def test_k_larger_than_candidate_list():
    scores = np.random.default_rng(1).random((20, 6))  # 6 candidates, k = 10
    ranks = ranks_from_scores(scores)
    np.testing.assert_array_equal(hr_at_k(ranks, 10), 1.0)
    np.testing.assert_allclose(ndcg_at_k(ranks, 10), 1 / np.log2(ranks + 2))


def test_constant_model_gets_the_worst_score():
    metrics = ranking_metrics(ranks_from_scores(np.ones((5, 101))))
    assert metrics["HR@10"].sum() == 0 and metrics["NDCG@10"].sum() == 0
    np.testing.assert_allclose(metrics["MAP"], 1 / 101)


def test_ndcg_matches_sklearn_without_ties():
    rng = np.random.default_rng(2)
    scores = rng.random((50, 101))
    positive = rng.integers(0, 101, size=50)
    relevance = np.zeros_like(scores)
    relevance[np.arange(50), positive] = 1.0
    ranks = ranks_from_scores(scores, positive)
    for k in (1, 5, 10, 101):
        per_user = [ndcg_score(relevance[[u]], scores[[u]], k=k) for u in range(50)]
        np.testing.assert_allclose(ndcg_at_k(ranks, k), per_user)


def test_ranking_metrics_keys_and_bad_input():
    metrics = ranking_metrics(np.array([0, 3, 20]), ks=(1, 5, 10))
    assert list(metrics) == [
        "HR@1", "HR@5", "HR@10", "NDCG@1", "NDCG@5", "NDCG@10", "MAP", "MRR",
    ]  # fmt: skip
    np.testing.assert_allclose(metrics["NDCG@5"], [1, 1 / math.log2(5), 0])
    with pytest.raises(ValueError, match="k must be"):
        hr_at_k(np.array([0]), 0)
    with pytest.raises(ValueError, match="ks is empty"):
        ranking_metrics(np.array([0]), ks=())
    with pytest.raises(ValueError, match="integer"):
        mrr(np.array([0.5]))
    with pytest.raises(ValueError, match="negative"):
        mrr(np.array([-1]))
