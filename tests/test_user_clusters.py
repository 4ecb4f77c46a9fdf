"""Behaviour clusters and attention heatmaps on planted structure (Fig. 3 and its control)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmrec_lib.analysis.clusters import (
    block_contrast,
    cluster_heatmaps,
    cluster_users,
    cosine_matrix,
    disjoint_sets,
    elbow_k,
    genre_shares,
    kmeans_inertias,
    random_labels,
    set_similarity,
)
from mmrec_lib.models.sequential import last_query_attention

N_GROUPS, PER_GROUP, LENGTH = 4, 250, 12


def planted_users(seed: int = 0):
    """Users in 4 groups; group g watches mostly genre g and attends with its own profile."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(N_GROUPS), PER_GROUP)
    shares = rng.dirichlet(np.full(6, 0.3), size=len(groups)) * 0.3
    shares[np.arange(len(groups)), groups] += 0.7
    positions = np.arange(LENGTH)
    profiles = np.stack(
        [np.exp(-0.5 * ((positions - centre) / 1.5) ** 2) for centre in (1, 4, 7, 10)]
    )
    attention = profiles[groups] + rng.gamma(1.0, 0.6, size=(len(groups), LENGTH))
    return groups, shares, attention / attention.sum(axis=1, keepdims=True)


def test_genre_shares_by_hand():
    item_genres = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])  # row 0 = padding
    offsets = np.array([0, 2, 3])
    items = np.array([1, 3, 2])  # user 0: [1, 3], user 1: [2]
    np.testing.assert_allclose(genre_shares(items, offsets, item_genres), [[0.75, 0.25], [0, 1]])
    with pytest.raises(ValueError, match="at least one"):
        genre_shares(items, np.array([0, 0, 3]), item_genres)


def test_elbow_is_the_point_farthest_from_the_chord():
    inertias = pd.Series([100.0, 40.0, 20.0, 15.0, 12.0, 10.0], index=range(1, 7))
    assert elbow_k(inertias) == 3  # hand: scaled distances |x + y - 1| peak at k = 3
    assert elbow_k(pd.Series([9.0, 8.0, 1.0, 0.5, 0.0], index=[2, 3, 4, 5, 6])) == 4
    with pytest.raises(ValueError, match="at least 3"):
        elbow_k(pd.Series([2.0, 1.0], index=[1, 2]))


def test_kmeans_recovers_planted_groups_and_the_elbow_finds_four():
    groups, shares, _ = planted_users()
    inertias = kmeans_inertias(shares, range(1, 8))
    assert inertias.is_monotonic_decreasing and list(inertias.index) == list(range(1, 8))
    assert elbow_k(inertias) == N_GROUPS
    labels = cluster_users(shares, N_GROUPS)
    crosstab = pd.crosstab(groups, labels).to_numpy()
    assert (crosstab.max(axis=1) >= 0.95 * PER_GROUP).all()  # each group is one cluster


def test_disjoint_sets_are_disjoint_within_their_cluster_and_seeded():
    labels = np.repeat([0, 1, 2, 3, 4], [300, 500, 220, 199, 260])
    sets = disjoint_sets(labels, n_clusters=4, set_size=100, seed=1)
    assert list(sets) == [1, 0, 4, 2]  # the four largest, largest first
    for cluster, (one, two) in sets.items():
        assert len(one) == len(two) == 100 and not set(one) & set(two)
        assert (labels[one] == cluster).all() and (labels[two] == cluster).all()
    again = disjoint_sets(labels, n_clusters=4, set_size=100, seed=1)
    assert all(np.array_equal(sets[c][0], again[c][0]) for c in sets)
    with pytest.raises(ValueError, match="lower set_size"):
        disjoint_sets(labels, n_clusters=5, set_size=100)


def test_last_query_attention_averages_blocks_and_heads_of_the_last_row():
    maps = np.zeros((2, 1, 2, 3, 3))
    maps[0, 0, 0, -1] = [0.0, 0.5, 0.5]
    maps[0, 0, 1, -1] = [0.0, 0.0, 1.0]
    maps[1, 0, :, -1] = [1.0, 0.0, 0.0]
    maps[:, :, :, 0] = [9, 9, 9]  # other queries must not count
    np.testing.assert_allclose(last_query_attention(maps), [[0.5, 0.125, 0.375]])
    with pytest.raises(ValueError, match="blocks, users, heads"):
        last_query_attention(maps[0])


def test_cosine_matrix_against_a_loop():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    expected = [[x @ y / np.linalg.norm(x) / np.linalg.norm(y) for y in b] for x in a]
    np.testing.assert_allclose(cosine_matrix(a, b), expected)


def test_planted_groups_give_a_block_diagonal_heatmap_and_random_clusters_a_flat_one():
    groups, _, attention = planted_users()
    maps = cluster_heatmaps(attention, groups, n_clusters=4, set_size=100, seed=0)
    real, control = maps["behaviour clusters"].to_numpy(), maps["random clusters"].to_numpy()
    off = ~np.eye(4, dtype=bool)
    assert (np.diag(real) > 0.99).all()
    assert np.diag(real).min() > real[off].max() + 0.05  # every diagonal beats every off one
    assert block_contrast(maps["behaviour clusters"]) > 0.1
    assert abs(block_contrast(maps["random clusters"])) < 0.01
    assert control.min() > 0.98  # flat: all sets look alike
    assert list(maps["behaviour clusters"].index) == ["A1", "B1", "C1", "D1"]


def test_set_similarity_of_identical_sets_is_one_on_the_diagonal():
    attention = np.random.default_rng(0).random((8, 5))
    sets = {0: (np.array([0, 1]), np.array([0, 1])), 1: (np.array([2, 3]), np.array([2, 3]))}
    np.testing.assert_allclose(np.diag(set_similarity(attention, sets)), 1.0)


def test_random_labels_keep_cluster_sizes():
    labels = np.repeat([0, 1, 2], [5, 7, 9])
    shuffled = random_labels(labels, seed=3)
    assert np.array_equal(np.bincount(shuffled), [5, 7, 9])
    assert not np.array_equal(shuffled, labels)


def test_choose_clusters_shows_at_least_four_and_user_behaviour_on_a_split():
    from mmrec_lib.analysis.clusters import choose_clusters, user_behaviour
    from mmrec_lib.data import load_dataset
    from mmrec_lib.data.splits import leave_one_out

    dataset = load_dataset("synthetic", size="tiny", seed=0)
    split = leave_one_out(dataset.interactions, n_negatives=20, seed=0)
    behaviour = user_behaviour(dataset, split)
    assert behaviour.shape == (split.n_users, len(dataset.genres))
    np.testing.assert_allclose(behaviour.sum(axis=1), 1.0)
    inertias, elbow, labels = choose_clusters(behaviour, range(1, 6), n_clusters=4)
    assert len(inertias) == 5 and 1 <= elbow <= 5
    assert len(np.unique(labels)) == max(elbow, 4)


def test_analysis_figures_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from mmrec_lib.data import load_dataset
    from mmrec_lib.data.splits import leave_one_out
    from mmrec_lib.report.plots.analysis import (
        elbow_plot,
        example_users_figure,
        similarity_heatmaps,
    )

    groups, _, attention = planted_users()
    maps = cluster_heatmaps(attention, groups, set_size=None)
    figure = similarity_heatmaps(maps)
    assert [axis.get_title() for axis in figure.axes[:2]] == list(maps)
    inertias = pd.Series([9.0, 4.0, 2.0, 1.5], index=[1, 2, 3, 4])
    assert elbow_plot(inertias, elbow_k(inertias)).axes[0].get_xlabel() == "number of clusters k"
    dataset = load_dataset("synthetic", size="tiny", seed=0)
    split = leave_one_out(dataset.interactions, n_negatives=20, seed=0)
    hit = {"hit": split.test_item, "miss": np.ones(split.n_users, dtype=int)}
    figure = example_users_figure(dataset, split, hit, n_users=2, n_recent=3)
    assert len(figure.axes) == 2 * (3 + 2 + 1)
    framed = [axis.spines["top"].get_edgecolor() for axis in figure.axes]
    green = matplotlib.colors.to_rgba("tab:green")
    assert sum(colour == green for colour in framed) == 2 * 2  # hit + true next, per user
    figure.savefig(tmp_path / "fig2.png")


def test_paired_seeds_figure_draws_one_line_per_seed_and_colours_the_direction():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from mmrec_lib.report.plots.analysis import paired_seeds_figure

    values = pd.DataFrame(
        {"SASRec": [0.30, 0.32, 0.31], "SASRec+": [0.35, 0.30, 0.36]},
        index=pd.Index([0, 1, 2], name="seed"),
    )
    figure = paired_seeds_figure(values, [("SASRec", "SASRec+"), ("BERT4Rec", "BERT4Rec+")])
    (axis,) = figure.axes  # the pair without columns is left out
    colours = [line.get_color() for line in axis.lines]
    assert colours == ["tab:green", "tab:red", "tab:green"]
    with pytest.raises(ValueError, match="none of the pairs"):
        paired_seeds_figure(values, [("BPR", "PopRec")])


def test_the_permutation_test_finds_planted_clusters_and_not_random_ones():
    from mmrec_lib.analysis.clusters import contrast_permutation_test

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(N_GROUPS), PER_GROUP)
    prototypes = rng.dirichlet(np.ones(LENGTH), N_GROUPS)
    planted = prototypes[labels] + rng.normal(0, 0.01, (len(labels), LENGTH))
    observed, null, p = contrast_permutation_test(planted, labels, set_size=50, n_permutations=99)
    assert observed > null.max() and p == pytest.approx(1 / 100)
    shuffled = rng.permutation(planted)
    _, _, p_random = contrast_permutation_test(shuffled, labels, set_size=50, n_permutations=99)
    assert p_random > 0.05
