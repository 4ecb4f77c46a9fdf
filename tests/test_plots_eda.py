"""EDA figures and tables: hand-worked counts, figure structure on tiny synthetic data, and a
seeded augmentation panel."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mmrec_lib.data import load_dataset  # noqa: E402
from mmrec_lib.data.selection import primary_genre  # noqa: E402
from mmrec_lib.report.plots import eda  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    return load_dataset("synthetic", size="tiny", seed=0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture()
def hand_built() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items 1 (A, B), 2 (B), 3 (C, never rated); item 1 rated 2x, item 2 rated 3x."""
    items = pd.DataFrame(
        {"title": ["One", "Two", "Three"], "year": [1990, 1991, 1992],
         "genres": [["A", "B"], ["B"], ["C"]]},
        index=pd.Index([1, 2, 3], name="item"),
    )  # fmt: skip
    interactions = pd.DataFrame(
        {"user": [1, 2, 1, 2, 3], "item": [1, 1, 2, 2, 2], "rating": [5.0, 3.0, 2.0, 4.0, 4.0]}
    )
    return interactions, items


def image_of(figure, axis: int = 0) -> np.ndarray:
    return np.asarray(figure.axes[axis].images[0].get_array())


def test_genre_rating_counts_count_each_rating_once_per_genre(hand_built):
    interactions, items = hand_built
    counts = eda.genre_rating_counts(interactions, items)
    assert counts.to_dict() == {"B": 5, "A": 2}  # C has no ratings; sorted by count


def test_wordcloud_depends_on_relative_weights_only():
    weights = pd.Series({"Drama": 50, "Comedy": 30, "Horror": 5, "War": 2})
    base = image_of(eda.genre_wordcloud_figure(weights, seed=1))
    assert np.array_equal(base, image_of(eda.genre_wordcloud_figure(2 * weights, seed=1)))
    swapped = weights.rename({"Drama": "Horror", "Horror": "Drama"})
    assert not np.array_equal(base, image_of(eda.genre_wordcloud_figure(swapped, seed=1)))
    figure = eda.genre_wordcloud_figure(weights)
    assert len(figure.axes) == 1 and len(figure.axes[0].images) == 1
    with pytest.raises(ValueError, match="positive weight"):
        eda.genre_wordcloud_figure(pd.Series({"Drama": 0}))


def test_rating_distribution_bars_are_the_counts(tiny):
    figure = eda.rating_distribution_figure(tiny.interactions)
    heights = [patch.get_height() for patch in figure.axes[0].patches]
    assert heights == tiny.interactions["rating"].value_counts().sort_index().tolist()


def test_ratings_per_movie_histogram_counts_every_rated_movie(tiny):
    axis = eda.ratings_per_movie_figure(tiny.interactions).axes[0]
    assert sum(patch.get_height() for patch in axis.patches) == tiny.n_items
    assert axis.get_xscale() == "log" and axis.get_yscale() == "log"


def test_most_rated_movies_hand_worked(hand_built):
    interactions, items = hand_built
    table = eda.most_rated_movies(interactions, items, n=5)
    assert table.index.tolist() == [2, 1]
    assert table["n_ratings"].tolist() == [3, 2]
    assert table["mean_rating"].tolist() == pytest.approx([10 / 3, 4.0])
    table.loc[1, "title"] = "Two"  # two films may share a title: still one bar each
    figure = eda.top_movies_figure(table)
    widths = [patch.get_width() for patch in figure.axes[0].patches]
    assert widths == pytest.approx([10 / 3, 4.0])
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == ["Two", "Two"]
    with pytest.raises(ValueError, match="n must be"):
        eda.most_rated_movies(interactions, items, n=0)


def test_genre_posters_and_grid(tiny):
    labels = primary_genre(tiny)
    posters = eda.genre_posters(tiny.items, labels, genres=["Drama", "Comedy"], per_genre=2)
    assert [genre for genre, _, _ in posters] == ["Drama", "Drama", "Comedy", "Comedy"]
    for genre, title, _ in posters:
        (item,) = tiny.items.index[tiny.items["title"] == title]
        assert labels[item] == genre
    figure = eda.poster_grid_figure(posters, columns=3)
    assert len(figure.axes) == 4  # a 2 x 3 grid with the two empty cells removed
    assert all(len(axis.images) == 1 for axis in figure.axes)
    assert len(eda.genre_posters(tiny.items, labels)) == labels.nunique()
    with pytest.raises(ValueError, match="no poster_path"):
        eda.genre_posters(tiny.items.drop(columns="poster_path"), labels)


def test_augmentation_panel_is_deterministic_for_a_seed(tiny):
    import torch
    from PIL import Image

    from mmrec_lib.features import training_augmentation

    poster = Image.open(tiny.items["poster_path"].iloc[0]).convert("RGB")
    transform = training_augmentation(size=64)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = eda.augmentation_panel_figure(poster, transform, k=3, seed=7)
    assert torch.rand(1) == expected_next  # the caller's random state is untouched
    assert len(first.axes) == 4 and all(len(axis.images) == 1 for axis in first.axes)
    again = eda.augmentation_panel_figure(poster, transform, k=3, seed=7)
    other = eda.augmentation_panel_figure(poster, transform, k=3, seed=8)
    for axis in range(1, 4):
        assert np.array_equal(image_of(first, axis), image_of(again, axis))
    assert any(not np.array_equal(image_of(first, a), image_of(other, a)) for a in range(1, 4))
    assert image_of(first, 1).shape == (64, 64, 3)


def test_coverage_table_in_percent():
    coverage = pd.DataFrame(
        {"modality": ["plot", "poster_path"], "items_with": [3, 1],
         "items_share": [0.75, 0.25], "interactions_share": [0.9, 0.123]}
    )  # fmt: skip
    table = eda.coverage_table(coverage)
    assert table.loc["plot"].tolist() == [3, 75.0, 90.0]
    assert table.loc["poster_path", "% of ratings"] == 12.3


def test_coverage_table_counts_items_without_a_modality_by_cause():
    coverage = pd.DataFrame(
        {"modality": ["plot", "poster_path"], "items_with": [3, 1],
         "items_share": [0.75, 0.25], "interactions_share": [0.9, 0.123],
         "missing": [1, 1], "unreadable": [0, 1], "checksum_mismatch": [0, 1]}
    )  # fmt: skip
    table = eda.coverage_table(coverage)
    assert table.columns.tolist()[3:] == ["missing", "unreadable", "checksum mismatch"]
    assert table.loc["poster_path"].tolist() == [1, 25.0, 12.3, 1, 1, 1]
    assert table.loc["plot", "unreadable"] == 0


def test_description_lengths_skip_missing_and_mark_max_length():
    plots = pd.Series(["one two three", None, "  ", "a b c d e"], index=[1, 2, 3, 4])
    lengths = eda.description_lengths(plots)
    assert lengths.to_dict() == {1: 3, 4: 5}
    axis = eda.description_length_figure(lengths, max_length=4).axes[0]
    assert axis.lines[0].get_xdata()[0] == 4
    assert sum(patch.get_height() for patch in axis.patches) == 2
    with pytest.raises(ValueError, match="at least one"):
        eda.description_length_figure(lengths.iloc[:0])


def test_pca_projection_keeps_the_main_direction():
    t = np.linspace(-1, 1, 20)
    matrix = np.stack([t, 2 * t, np.zeros_like(t)], axis=1)
    points = eda.project_2d(matrix)
    assert np.abs(np.corrcoef(points[:, 0], t)[0, 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="method"):
        eda.project_2d(matrix, method="umap")


def test_embedding_projection_figure_one_panel_per_embedding(tiny):
    labels = primary_genre(tiny).reindex(tiny.items.index).to_numpy()
    rng = np.random.default_rng(0)
    embeddings = {"text": rng.normal(size=(80, 5)), "image": rng.normal(size=(80, 7))}
    figure = eda.embedding_projection_figure(embeddings, labels, max_genres=4)
    assert len(figure.axes) == 2
    scattered = sum(len(c.get_offsets()) for c in figure.axes[0].collections)
    assert scattered == 80
    assert len(figure.axes[1].get_legend().get_texts()) == 5  # 4 genres + "other"
    tsne = eda.embedding_projection_figure({"text": embeddings["text"]}, labels, method="tsne")
    assert len(tsne.axes) == 1
    with pytest.raises(ValueError, match="rows for"):
        eda.embedding_projection_figure({"text": embeddings["text"][:5]}, labels)


@pytest.mark.realdata
def test_ml_100k_counts(real_data_dir, monkeypatch):
    monkeypatch.setenv("MMREC_DATA_DIR", str(real_data_dir))
    data = load_dataset("ml-100k")
    counts = eda.genre_rating_counts(data.interactions, data.items)
    assert counts.head(3).to_dict() == {"Drama": 39895, "Comedy": 29832, "Action": 25589}
    top = eda.most_rated_movies(data.interactions, data.items, n=3)
    assert top.index.tolist() == [50, 258, 100]  # Star Wars, Contact, Fargo
    assert top.loc[50, "n_ratings"] == 583
    assert eda.description_lengths(data.items["plot"]).size == 1660
