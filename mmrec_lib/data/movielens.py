"""MovieLens loaders (ml-100k, ml-1m, ml-20m, ml-25m, ml-latest-small) and the tag genome.

Each loader reads the upstream files through :func:`~mmrec_lib.data.download.fetch` and returns
a tidy :class:`~mmrec_lib.data.dataset.Dataset`: interactions in source order, items indexed by
the dataset's own movie id with ``title`` (the "(year)" suffix removed), ``year`` (Int64, NA when
the title has none) and ``genres`` (list of str; "unknown" and "(no genres listed)" give []).

Side information (ml-100k, ml-1m): read from ``ml-1m/movies.dat``, ``ml-1m/tml1m_movies.csv``
and the mirror's posters. When those files cannot be found or read, loading fails with
:class:`~mmrec_lib.data.download.SideInfoError` (naming the file and the fixes) rather than
returning a dataset whose plots, cast and posters are silently empty; ``side_info=False`` leaves
it out on purpose and records ``extras["side_info"] = "left out by the caller"``. Posters are
checked against their published SHA-256 once per load; bad ones are left out with a warning
(see :func:`~mmrec_lib.data.download.screen_posters`), and a mirror without a poster folder
gives a warning that every item loads without a poster.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from mmrec_lib.data import download
from mmrec_lib.data.dataset import (
    SIDE_INFO_LEFT_OUT,
    DataRepairWarning,
    Dataset,
    drop_duplicate_interactions,
)
from mmrec_lib.data.download import (
    POSTERS_DIR,
    ChecksumError,
    DataNotFoundError,
    SideInfoError,
    fetch,
    poster_hashes,
    posters_dir,
    screen_posters,
)
from mmrec_lib.paths import DATA_DIR_ENV

NO_GENRE = {"", "unknown", "(no genres listed)"}
# A year in parentheses, or a year range such as "(2006–2007)", with the parenthetical
# remarks that may follow it (ML-100K: "... (1995) (V)").
TITLE_YEAR = (
    r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[–-]\d{0,4})?\)(?P<rest>(?:\s*\([^()]*\))*)\s*$"
)
ML_1M_OCCUPATIONS = [
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
]
GENOME_DATASETS = ("ml-20m", "ml-25m")
SIDE_FILES = ("ml-1m/movies.dat", "ml-1m/tml1m_movies.csv")


def load_ml_100k(side_info: bool = True) -> Dataset:
    """MovieLens 100K: 100,000 ratings, 943 users with demographics, 1,682 movies.

    side_info: add plot, cast, director, runtime, languages, certificate and poster_path from
        the ML-1M side files, matched by title and year (SideInfoError when they cannot be
        read); False leaves them out, recorded in ``extras["side_info"]``.
    """
    ratings_file = fetch("ml-100k/u.data")
    ratings = pd.read_csv(
        ratings_file, sep="\t", header=None, names=["user", "item", "rating", "timestamp"]
    )
    genre_names = pd.read_csv(fetch("ml-100k/u.genre"), sep="|", header=None)[0].tolist()
    raw = pd.read_csv(
        fetch("ml-100k/u.item"),
        sep="|",
        header=None,
        encoding="latin-1",
        names=["item", "raw_title", "release_date", "video_release_date", "imdb_url", *genre_names],
    )
    flags = raw[genre_names].to_numpy(dtype=bool)
    joined = pd.Series(["|".join(np.array(genre_names)[row]) for row in flags], index=raw.index)
    items = _items(raw["item"], raw["raw_title"], joined)
    users = pd.read_csv(
        fetch("ml-100k/u.user"),
        sep="|",
        header=None,
        names=["user", "age", "gender", "occupation", "zip"],
        dtype={"zip": str},
    ).set_index("user")
    dataset = _dataset("ml-100k", ratings, items, users, ratings_file)
    return _with_side_info(dataset, "title-year") if side_info else _left_out(dataset)


def load_ml_1m(side_info: bool = True) -> Dataset:
    """MovieLens 1M: 1,000,209 ratings, 6,040 users with demographics, 3,883 movies.

    Users: ``age`` is the lower bound of the user's age bracket (1 = under 18, 18, 25, 35, 45,
    50, 56), ``occupation`` the README's name for its code.
    side_info: add the ML-1M side files' columns, matched by MovieID (SideInfoError when they
        cannot be read); False leaves them out, recorded in ``extras["side_info"]``.
    """
    ratings_file = fetch("ml-1m/ratings.dat")
    # "::"-separated integers: reading with ":" and keeping every other column is ~30x faster
    # than pandas's python engine.
    ratings = pd.read_csv(ratings_file, sep=":", header=None, usecols=[0, 2, 4, 6])
    ratings.columns = ["user", "item", "rating", "timestamp"]
    movies = _read_dat(fetch("ml-1m/movies.dat"), ["item", "raw_title", "genres"])
    items = _items(movies["item"], movies["raw_title"], movies["genres"])
    users = _read_dat(fetch("ml-1m/users.dat"), ["user", "gender", "age", "occupation", "zip"])
    users = users.astype({"user": "int64", "age": "int64", "occupation": "int64"})
    users["occupation"] = np.array(ML_1M_OCCUPATIONS)[users["occupation"]]
    users = users.set_index("user")[["age", "gender", "occupation", "zip"]]
    dataset = _dataset("ml-1m", ratings, items, users, ratings_file)
    return _with_side_info(dataset, "ml-1m") if side_info else _left_out(dataset)


def load_ml_latest_small() -> Dataset:
    """MovieLens latest-small (2018): 100,836 ratings (0.5-5 stars), 610 users, 9,742 movies."""
    return _load_csv_release("ml-latest-small")


def load_ml_20m() -> Dataset:
    """MovieLens 20M: 20,000,263 ratings, 138,493 users, 27,278 movies."""
    return _load_csv_release("ml-20m")


def load_ml_25m() -> Dataset:
    """MovieLens 25M: 25,000,095 ratings, 162,541 users, 62,423 movies."""
    return _load_csv_release("ml-25m")


def load_tag_genome(name: str) -> pd.DataFrame:
    """The tag genome of ml-20m or ml-25m: relevance (float32) of each tag to each movie.

    Rows: movie id (index ``item``); columns: tag names in tag-id order. Movies without a
    genome are absent; a missing (movie, tag) score is NaN.
    """
    if name not in GENOME_DATASETS:
        raise ValueError(f"the tag genome ships with {GENOME_DATASETS}, not {name!r}")
    tags = pd.read_csv(fetch(f"{name}/genome-tags.csv")).sort_values("tagId")
    scores = pd.read_csv(
        fetch(f"{name}/genome-scores.csv"),
        dtype={"movieId": "int64", "tagId": "int64", "relevance": "float32"},
    )
    movies = np.sort(scores["movieId"].unique())
    matrix = np.full((len(movies), len(tags)), np.nan, dtype=np.float32)
    rows = np.searchsorted(movies, scores["movieId"].to_numpy())
    columns = np.searchsorted(tags["tagId"].to_numpy(), scores["tagId"].to_numpy())
    matrix[rows, columns] = scores["relevance"].to_numpy()
    return pd.DataFrame(
        matrix, index=pd.Index(movies, name="item"), columns=pd.Index(tags["tag"], name="tag")
    )


def split_title_year(raw_titles: pd.Series) -> pd.DataFrame:
    """Columns ``title`` (year removed, other remarks kept) and ``year`` (Int64) of raw titles.

    "Star Wars (1977)" -> ("Star Wars", 1977); "Death Note (2006–2007)" -> ("Death Note", 2006);
    a title without a year is kept whole with year NA.
    """
    parts = raw_titles.str.extract(TITLE_YEAR)
    title = (parts["title"] + parts["rest"]).fillna(raw_titles).str.strip()
    year = pd.to_numeric(parts["year"]).astype("Int64")
    return pd.DataFrame({"title": title, "year": year})


def _with_side_info(dataset: Dataset, id_space: str) -> Dataset:
    """Add the ML-1M side information to a dataset's items, with checked posters.

    id_space: "ml-1m" (items are ML-1M MovieIDs) or "title-year" (match by title and year).
    Raises SideInfoError (the cause chained) when a side file cannot be found or read.
    Posters: each is checked against ``posters_SHA256SUMS.txt``; the statuses go to
    ``extras["poster_status"]``, and unusable posters are left out with a warning.
    """
    from mmrec_lib.data.side_info import attach_ml1m_side_info

    path = SIDE_FILES[0]
    try:
        movies_dat = fetch(path)
        path = SIDE_FILES[1]
        tml1m_csv = fetch(path)
        path = "ml-1m/posters_SHA256SUMS.txt"
        posters = posters_dir()
        hashes = poster_hashes() if posters is not None else {}
        path = " and ".join(SIDE_FILES)
        items = attach_ml1m_side_info(dataset.items, movies_dat, tml1m_csv, posters, id_space)
    except (DataNotFoundError, ChecksumError, OSError, ValueError, KeyError) as error:
        raise SideInfoError(_side_info_message(dataset.name, path, error)) from error
    if posters is None:
        warnings.warn(
            f"{dataset.name}: no poster folder {POSTERS_DIR}/ in a mirror "
            f"({DATA_DIR_ENV}); posters come only from a mirror, so every item loads without "
            "a poster (poster_path None) and image features are zeros",
            DataRepairWarning,
            stacklevel=3,
        )
    items, status = screen_posters(items, hashes, dataset.name)
    return Dataset(
        name=dataset.name,
        interactions=dataset.interactions,
        items=items,
        users=dataset.users,
        genres=dataset.genres,
        source=dataset.source,
        extras={**dataset.extras, "poster_status": status},
    )


def _left_out(dataset: Dataset) -> Dataset:
    """The dataset without side information, as the caller asked; recorded in its extras."""
    dataset.extras["side_info"] = SIDE_INFO_LEFT_OUT
    return dataset


def _side_info_message(name: str, path: str, error: Exception) -> str:
    """Why the side information of ``name`` cannot be loaded, and the fixes."""
    opt_out = (
        f'or leave it out on purpose: load_dataset("{name}", side_info=False) (the dataset then '
        f'records extras["side_info"] = "{SIDE_INFO_LEFT_OUT}")'
    )
    head = (
        f"{name}: its side information (plot, cast, director, runtime, certificate, posters) "
        f"cannot be read from {path}; a dataset without it is not returned silently.\n"
    )
    if isinstance(error, DataNotFoundError):
        return f"{head}{error}\n  4. {opt_out}."
    archive = download.FILES[path].archive if path in download.FILES else None
    online = f" (or from {download.ARCHIVES[archive].url})" if archive else ""
    return (
        f"{head}Cause: {type(error).__name__}: {error}\nFixes:\n"
        f"  1. delete or replace the damaged file, so that mmrec reads a good copy from a mirror "
        f"or the download cache{online};\n"
        f"  2. point {DATA_DIR_ENV} at a mirror in the upstream layout holding a good "
        f"<mirror>/{path};\n"
        f"  3. {opt_out}."
    )


def _load_csv_release(name: str) -> Dataset:
    """The releases shipped as ratings.csv + movies.csv (ml-latest-small, ml-20m, ml-25m)."""
    ratings_file = fetch(f"{name}/ratings.csv")
    ratings = pd.read_csv(ratings_file).rename(columns={"userId": "user", "movieId": "item"})
    movies = pd.read_csv(fetch(f"{name}/movies.csv"))
    items = _items(movies["movieId"], movies["title"], movies["genres"])
    users = pd.DataFrame(index=pd.Index(np.sort(ratings["user"].unique()), name="user"))
    return _dataset(name, ratings, items, users, ratings_file)


def _read_dat(path: Path, columns: list[str]) -> pd.DataFrame:
    """A latin-1, "::"-separated ML-1M file as a frame of strings."""
    lines = pd.Series(path.read_text(encoding="latin-1").splitlines())
    return lines.str.split("::", n=len(columns) - 1, expand=True).set_axis(columns, axis=1)


def _items(ids: pd.Series, raw_titles: pd.Series, joined_genres: pd.Series) -> pd.DataFrame:
    """The item table from ids, raw "Title (year)" strings and "A|B"-joined genres."""
    items = split_title_year(raw_titles.reset_index(drop=True))
    items["genres"] = [
        [genre for genre in joined.split("|") if genre not in NO_GENRE]
        for joined in joined_genres.fillna("")
    ]
    return items.set_index(pd.Index(ids.to_numpy(dtype="int64"), name="item"))


def _dataset(
    name: str,
    ratings: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame,
    source: Path,
) -> Dataset:
    """Assemble a Dataset with the standard dtypes and the genre vocabulary, one row per
    (user, item) pair (the latest; see :func:`drop_duplicate_interactions`)."""
    interactions = ratings[["user", "item", "rating", "timestamp"]].astype(
        {"user": "int64", "item": "int64", "rating": "float32", "timestamp": "int64"}
    )
    kept = drop_duplicate_interactions(interactions, name)
    dropped = len(interactions) - len(kept)
    genres = sorted({genre for listed in items["genres"] for genre in listed})
    return Dataset(
        name,
        kept,
        items,
        users,
        genres,
        source=str(source.parent),
        extras={"duplicates_dropped": dropped} if dropped else {},
    )
