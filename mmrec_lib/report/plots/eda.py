"""Exploratory figures of paper A section 6, and the ones a reader wants next.

Each ``*_figure`` function takes plain data (DataFrames, Series, arrays, PIL images, a
transform) and returns a matplotlib figure; the small table functions beside them give the
numbers the figures show, so a notebook can record them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

PROJECTIONS = ("pca", "tsne")


def genre_rating_counts(interactions: pd.DataFrame, items: pd.DataFrame) -> pd.Series:
    """Number of ratings per genre: each rating counts once for every genre of its item."""
    per_item = interactions["item"].value_counts()
    genres = items["genres"].reindex(per_item.index).explode().dropna()
    counts = per_item.reindex(genres.index).groupby(genres.to_numpy()).sum()
    return counts.sort_values(ascending=False).rename("ratings").rename_axis("genre")


def genre_wordcloud_figure(weights: pd.Series, seed: int = 0, title: str = ""):
    """Fig 6.1: a word cloud of genres, each word sized by its weight (e.g. rating count)."""
    import matplotlib.pyplot as plt
    from wordcloud import WordCloud

    weights = weights[weights > 0]
    if weights.empty:
        raise ValueError("genre_wordcloud_figure needs at least one positive weight")
    cloud = WordCloud(
        width=800, height=400, background_color="white", random_state=seed, colormap="tab20"
    ).generate_from_frequencies(weights.astype(float).to_dict())
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.imshow(cloud.to_array(), interpolation="bilinear")
    axis.set_axis_off()
    axis.set_title(title or "Genres, sized by number of ratings")
    figure.tight_layout()
    return figure


def rating_distribution_figure(interactions: pd.DataFrame):
    """Fig 6.2: number of ratings per rating value, each bar labelled with its share."""
    import matplotlib.pyplot as plt

    counts = interactions["rating"].value_counts().sort_index()
    figure, axis = plt.subplots(figsize=(5, 3.2))
    bars = axis.bar(counts.index.astype(str), counts.to_numpy(), color="tab:blue")
    axis.bar_label(bars, labels=[f"{share:.0%}" for share in counts / counts.sum()])
    axis.set_xlabel("rating")
    axis.set_ylabel("number of ratings")
    axis.set_title(f"Rating distribution (mean {interactions['rating'].mean():.2f})")
    axis.margins(y=0.15)
    figure.tight_layout()
    return figure


def ratings_per_movie_figure(interactions: pd.DataFrame, bins: int = 30):
    """Fig 6.2b: how many movies have how many ratings, on logarithmic axes."""
    import matplotlib.pyplot as plt

    per_item = interactions["item"].value_counts()
    # Logarithmic bins cut between integers, so no bin falls between two counts.
    edges = np.unique(np.floor(np.geomspace(1, per_item.max() + 1, bins + 1))) - 0.5
    figure, axis = plt.subplots(figsize=(5, 3.2))
    axis.hist(per_item.to_numpy(), bins=edges, color="tab:orange", edgecolor="white")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("ratings per movie")
    axis.set_ylabel("number of movies")
    axis.set_title(f"Ratings per movie (median {per_item.median():.0f}, max {per_item.max()})")
    figure.tight_layout()
    return figure


def most_rated_movies(interactions: pd.DataFrame, items: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The ``n`` most-rated movies: title, year, number of ratings and mean rating."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    stats = interactions.groupby("item")["rating"].agg(n_ratings="size", mean_rating="mean")
    top = stats.sort_values(["n_ratings", "mean_rating"], ascending=False).head(n)
    return items.loc[top.index, ["title", "year"]].join(top)


def top_movies_figure(table: pd.DataFrame):
    """Fig 6.3: mean rating of the most-rated movies (a :func:`most_rated_movies` table)."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 0.8 + 0.28 * len(table)))
    positions = np.arange(len(table))  # not the titles themselves: two films may share one
    bars = axis.barh(positions, table["mean_rating"], color="tab:green")
    axis.set_yticks(positions, table["title"])
    axis.bar_label(bars, labels=[f"{n:,} ratings" for n in table["n_ratings"]], fontsize="small")
    axis.invert_yaxis()  # most-rated at the top
    axis.set_xlim(0, 5.9)
    axis.set_xlabel("mean rating")
    axis.set_title(f"Mean rating of the {len(table)} most-rated movies")
    figure.tight_layout()
    return figure


def _image_array(image) -> np.ndarray:
    """A PIL image, HWC array or CHW tensor (uint8 or float in [0, 1]) as an HWC array."""
    array = np.asarray(image.numpy() if hasattr(image, "numpy") else image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)
    return np.clip(array, 0, 1) if array.dtype.kind == "f" else array


def _show(axis, image, title: str) -> None:
    axis.imshow(_image_array(image))
    axis.set_title(title, fontsize="small")
    axis.set_axis_off()


def poster_grid_figure(posters: Sequence[tuple[str, str, object]], columns: int = 6):
    """Fig 6.4: posters in a grid, each titled "genre" over the movie title.

    posters: (genre, movie title, image) triples; an image is a PIL image or an array.
    """
    import matplotlib.pyplot as plt

    if not posters:
        raise ValueError("poster_grid_figure needs at least one poster")
    columns = min(columns, len(posters))
    rows = -(-len(posters) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.9 * columns, 3.4 * rows), squeeze=False)
    for axis in axes.flat[len(posters) :]:
        axis.remove()
    for axis, (genre, title, image) in zip(axes.flat, posters, strict=False):
        _show(axis, image, f"{genre}\n{title[:22]}")
    figure.suptitle("Posters from different genres")
    figure.tight_layout()
    return figure


def genre_posters(
    items: pd.DataFrame,
    labels: pd.Series,
    genres: Sequence[str] | None = None,
    per_genre: int = 1,
    seed: int = 0,
) -> list[tuple[str, str, object]]:
    """(genre, title, PIL image) triples: ``per_genre`` readable posters of each genre.

    labels: one genre per item id (e.g. :func:`mmrec_lib.data.selection.primary_genre`); genres
    default to all labels, most common first. Posters are drawn at random (seeded) among
    the genre's items; a genre without a readable poster is skipped.
    """
    from PIL import Image

    if per_genre < 1:
        raise ValueError(f"per_genre must be at least 1, got {per_genre}")
    if "poster_path" not in items.columns:
        raise ValueError("items have no poster_path column: this dataset has no posters")
    rng = np.random.default_rng(seed)
    genres = list(labels.value_counts().index) if genres is None else list(genres)
    has_poster = items["poster_path"].map(lambda path: isinstance(path, str) and bool(path))
    labels = labels[labels.index.isin(items.index[has_poster])]
    chosen = []
    for genre in genres:
        candidates = labels.index[labels == genre].to_numpy()
        found = 0
        for item in rng.permutation(candidates):
            try:
                with Image.open(items.at[item, "poster_path"]) as image:
                    chosen.append((genre, items.at[item, "title"], image.convert("RGB")))
            except OSError:
                continue
            found += 1
            if found == per_genre:
                break
    return chosen


def augmentation_panel_figure(image, transform: Callable, k: int = 5, seed: int = 0):
    """Fig 6.5: a poster and ``k`` augmented versions of it, reproducible for a seed.

    transform: a callable on the image (e.g. ``training_augmentation()``) drawing from
    torch's random generator; it is seeded with ``seed`` inside a forked generator, so the
    caller's random state is untouched.
    """
    import matplotlib.pyplot as plt
    import torch

    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        augmented = [transform(image) for _ in range(k)]
    figure, axes = plt.subplots(1, k + 1, figsize=(1.9 * (k + 1), 2.9))
    _show(axes[0], image, "original")
    for number, (axis, version) in enumerate(zip(axes[1:], augmented, strict=True), start=1):
        _show(axis, version, f"augmented {number}")
    figure.suptitle("Training augmentations (AutoAugment, colour jitter, rotation)")
    figure.tight_layout()
    return figure


COVERAGE_CAUSES = {
    "missing": "missing",
    "unreadable": "unreadable",
    "checksum_mismatch": "checksum mismatch",
}
"""Coverage columns counting items without a modality, by cause, and their headings."""


def coverage_table(coverage: pd.DataFrame) -> pd.DataFrame:
    """``Dataset.coverage`` for reading: one row per modality, shares in percent.

    "items with it" counts the items whose modality is present (a poster only when its file
    decodes and matches its published checksum); the items without it follow by cause
    (missing, unreadable, checksum mismatch) where the coverage report has those counts.
    """
    table = coverage.set_index("modality")
    columns = {
        "items with it": table["items_with"],
        "% of items": (100 * table["items_share"]).round(1),
        "% of ratings": (100 * table["interactions_share"]).round(1),
    }
    for column, heading in COVERAGE_CAUSES.items():
        if column in table.columns:
            columns[heading] = table[column]
    return pd.DataFrame(columns)


def description_lengths(plots: pd.Series) -> pd.Series:
    """Whitespace tokens per description; missing or blank descriptions are left out."""
    texts = plots[plots.map(lambda text: isinstance(text, str) and bool(text.strip()))]
    return texts.str.split().str.len().rename("tokens")


def description_length_figure(lengths: pd.Series, max_length: int = 64, bins: int = 30):
    """Histogram of tokens per description, with the encoder's ``max_length`` marked."""
    import matplotlib.pyplot as plt

    if lengths.empty:
        raise ValueError("description_length_figure needs at least one description")
    figure, axis = plt.subplots(figsize=(5, 3.2))
    axis.hist(lengths.to_numpy(), bins=bins, color="tab:purple", edgecolor="white")
    axis.axvline(max_length, color="black", linestyle="--", label=f"max_length {max_length}")
    axis.set_xlabel("words per description")
    axis.set_ylabel("number of movies")
    longer = (lengths > max_length).mean()
    axis.set_title(f"Description length (median {lengths.median():.0f}; {longer:.0%} longer)")
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def project_2d(matrix: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Rows of ``matrix`` in two dimensions, by PCA or (slower) t-SNE on cosine distance."""
    if method not in PROJECTIONS:
        raise ValueError(f"method must be one of {PROJECTIONS}, got {method!r}")
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or len(matrix) < 3:
        raise ValueError(f"need a 2-D matrix with at least 3 rows, got shape {matrix.shape}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(matrix)
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(matrix) - 1) / 3)
    tsne = TSNE(2, perplexity=perplexity, metric="cosine", init="pca", random_state=seed)
    return tsne.fit_transform(matrix)


def embedding_projection_figure(
    embeddings: Mapping[str, np.ndarray],
    labels: Sequence[str],
    method: str = "pca",
    seed: int = 0,
    max_genres: int = 8,
):
    """One panel per embedding: its rows projected to 2-D, coloured by genre label.

    embeddings: name -> matrix, every matrix with one row per entry of ``labels``. The
    ``max_genres`` (at most 20) most common labels get their own colour; the rest are grey
    ("other").
    """
    import matplotlib.pyplot as plt

    labels = pd.Series(np.asarray(labels, dtype=object))
    if not 1 <= max_genres <= 20:
        raise ValueError(f"max_genres must lie in 1..20, got {max_genres}")
    if not embeddings:
        raise ValueError("embedding_projection_figure needs at least one embedding")
    for name, matrix in embeddings.items():
        if len(matrix) != len(labels):
            raise ValueError(f"{name}: {len(matrix)} rows for {len(labels)} labels")
    shown = list(labels.value_counts().index[:max_genres])
    colours = plt.get_cmap("tab10" if max_genres <= 10 else "tab20")
    figure, axes = plt.subplots(
        1, len(embeddings), figsize=(4.4 * len(embeddings), 4.2), squeeze=False
    )
    for axis, (name, matrix) in zip(axes[0], embeddings.items(), strict=True):
        points = project_2d(matrix, method, seed)
        other = ~labels.isin(shown).to_numpy()
        axis.scatter(*points[other].T, s=8, color="lightgrey", label="other")
        for number, genre in enumerate(shown):
            at = (labels == genre).to_numpy()
            axis.scatter(*points[at].T, s=8, color=colours(number), label=genre)
        axis.set_title(f"{name} ({method.upper() if method == 'pca' else 't-SNE'})")
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0][-1].legend(
        fontsize="x-small", markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5)
    )
    figure.suptitle("Item embeddings coloured by primary genre")
    figure.tight_layout()
    return figure
