"""MovieLens parsers on tiny hand-written files, and on the real mirror (realdata)."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmrec_lib.data import (
    DataNotFoundError,
    SideInfoError,
    download,
    load_dataset,
    load_tag_genome,
)
from mmrec_lib.data.movielens import split_title_year

GENRES_100K = (
    "unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\nComedy|5\nCrime|6\n"
    "Documentary|7\nDrama|8\nFantasy|9\nFilm-Noir|10\nHorror|11\nMusical|12\nMystery|13\n"
    "Romance|14\nSci-Fi|15\nThriller|16\nWar|17\nWestern|18\n\n"
)


def flags(*on: int) -> str:
    return "|".join("1" if j in on else "0" for j in range(19))


ML_100K = {
    "ml-100k/u.data": "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871\n"
    "2\t3\t1\t888551000\n",
    "ml-100k/u.item": f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags(3, 4, 5)}\n"
    f"2|Misérables, Les (1995)|01-Jan-1995||http://x|{flags(8, 17)}\n"
    f"3|unknown||||{flags(0)}\n",
    "ml-100k/u.genre": GENRES_100K,
    "ml-100k/u.user": "1|24|M|technician|01002\n2|53|F|other|94043\n",
}
ML_1M = {
    "ml-1m/movies.dat": "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Fantasy|Sci-Fi\n"
    "3::Pokémon: The First Movie (1998)::Animation|Children's\n",
    "ml-1m/users.dat": "1::F::1::10::48067\n2::M::56::16::70072-1234\n",
}
ML_1M_RATINGS = {"ml-1m/ratings.dat": "1::2::5::978300760\n2::1::3::978302109\n2::3::4::1\n"}
ML_LATEST_SMALL = {
    "ml-latest-small/ratings.csv": "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"
    "1,2,0.5,964981247\n5,2,3.5,1\n",
    "ml-latest-small/movies.csv": "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n"
    '2,"American President, The (1995)",Comedy|Drama|Romance\n3,Babylon 5,(no genres listed)\n',
}


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No downloads, an empty cache of this test's own, and no mirror unless a test makes one."""
    monkeypatch.setenv("MMREC_OFFLINE", "1")
    monkeypatch.setenv("MMREC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MMREC_DATA_DIR", raising=False)


def make_mirror(root: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> Path:
    """Write latin-1 files in the upstream layout and register their hashes."""
    for path, text in files.items():
        data = text.encode("latin-1")
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
        entry = replace(download.FILES[path], sha256=hashlib.sha256(data).hexdigest())
        monkeypatch.setitem(download.FILES, path, entry)
    monkeypatch.setenv("MMREC_DATA_DIR", str(root))
    return root


def test_split_title_year() -> None:
    raw = pd.Series(
        [
            "Star Wars (1977)",
            "Land Before Time III: The Time of the Great Giving (1995) (V)",
            "Death Note: Desu nôto (2006–2007)",
            "Scream of Stone (Schrei aus Stein) (1991)",
            "Babylon 5",
            "Toy Story (1995) ",
            "unknown",
        ]
    )
    parts = split_title_year(raw)
    assert parts["title"].tolist() == [
        "Star Wars",
        "Land Before Time III: The Time of the Great Giving (V)",
        "Death Note: Desu nôto",
        "Scream of Stone (Schrei aus Stein)",
        "Babylon 5",
        "Toy Story",
        "unknown",
    ]
    assert parts["year"].dtype == "Int64"
    assert parts["year"].tolist() == [1977, 1995, 2006, 1991, pd.NA, 1995, pd.NA]


def test_ml_100k_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_mirror(tmp_path, monkeypatch, ML_100K)
    data = load_dataset("ml-100k", side_info=False)

    assert data.interactions.dtypes.astype(str).to_dict() == {
        "user": "int64",
        "item": "int64",
        "rating": "float32",
        "timestamp": "int64",
    }
    assert data.interactions["rating"].tolist() == [5.0, 3.0, 4.0, 1.0]
    assert data.interactions["timestamp"].iloc[-1] == 888551000
    items = data.items
    assert items.index.name == "item" and items.index.tolist() == [1, 2, 3]
    assert items.loc[2, "title"] == "Misérables, Les"  # decoded as latin-1
    assert items["year"].tolist() == [1995, 1995, pd.NA]
    assert items["genres"].tolist() == [["Animation", "Children's", "Comedy"], ["Drama", "War"], []]
    assert data.genres == ["Animation", "Children's", "Comedy", "Drama", "War"]
    assert data.users.columns.tolist() == ["age", "gender", "occupation", "zip"]
    assert data.users.loc[1].tolist() == [24, "M", "technician", "01002"]


def test_missing_side_files_are_an_error_unless_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_mirror(tmp_path, monkeypatch, ML_100K)
    with pytest.raises(SideInfoError, match="ml-1m/movies.dat") as error:
        load_dataset("ml-100k")  # side_info=True by default; no ml-1m files anywhere
    assert isinstance(error.value, DataNotFoundError)  # the offline error path, one type
    assert 'load_dataset("ml-100k", side_info=False)' in str(error.value)
    data = load_dataset("ml-100k", side_info=False)
    assert data.extras["side_info"] == "left out by the caller"
    assert "plot" not in data.items.columns
    assert len(data.interactions) == 4


def test_ml_1m_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_mirror(tmp_path, monkeypatch, {**ML_1M, **ML_1M_RATINGS})
    data = load_dataset("ml-1m", side_info=False)

    assert data.interactions.values.tolist() == [
        [1, 2, 5, 978300760],
        [2, 1, 3, 978302109],
        [2, 3, 4, 1],
    ]
    assert data.interactions["rating"].dtype == np.float32
    assert data.items.loc[2, "title"] == "Star Wars: Episode IV - A New Hope"
    assert data.items.loc[3, ["title", "year"]].tolist() == ["Pokémon: The First Movie", 1998]
    assert data.items.loc[2, "genres"] == ["Action", "Adventure", "Fantasy", "Sci-Fi"]
    assert data.users.to_dict("index") == {
        1: {"age": 1, "gender": "F", "occupation": "K-12 student", "zip": "48067"},
        2: {"age": 56, "gender": "M", "occupation": "self-employed", "zip": "70072-1234"},
    }


def test_ml_1m_without_ratings_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_mirror(tmp_path, monkeypatch, ML_1M)
    with pytest.raises(DataNotFoundError, match="ml-1m/ratings.dat") as error:
        load_dataset("ml-1m", side_info=False)
    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in str(error.value)


def test_csv_release_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_mirror(tmp_path, monkeypatch, ML_LATEST_SMALL)
    data = load_dataset("ml-latest-small")

    assert data.interactions.values.tolist() == [
        [1, 1, 4.0, 964982703],
        [1, 2, 0.5, 964981247],
        [5, 2, 3.5, 1],
    ]
    assert data.items.loc[2, ["title", "year"]].tolist() == ["American President, The", 1995]
    assert data.items.loc[3, "title"] == "Babylon 5"
    assert data.items.loc[3, "year"] is pd.NA
    assert data.items.loc[3, "genres"] == []
    assert data.users.index.tolist() == [1, 5]
    assert data.genres == ["Adventure", "Animation", "Comedy", "Drama", "Romance"]


def test_tag_genome_matrix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_mirror(
        tmp_path,
        monkeypatch,
        {
            "ml-20m/genome-tags.csv": "tagId,tag\n3,dark\n1,007\n2,funny\n",
            "ml-20m/genome-scores.csv": "movieId,tagId,relevance\n5,1,0.25\n1,1,0.1\n"
            "1,2,0.9\n1,3,0.5\n5,3,0.75\n",
        },
    )
    genome = load_tag_genome("ml-20m")

    assert genome.index.tolist() == [1, 5] and genome.index.name == "item"
    assert genome.columns.tolist() == ["007", "funny", "dark"]
    assert genome.dtypes.unique().tolist() == [np.float32]
    expected = np.array([[0.1, 0.9, 0.5], [0.25, np.nan, 0.75]], dtype=np.float32)
    np.testing.assert_array_equal(genome.to_numpy(), expected)


def test_tag_genome_offline_and_bad_name() -> None:
    with pytest.raises(DataNotFoundError, match="ml-25m/genome-tags.csv"):
        load_tag_genome("ml-25m")
    with pytest.raises(ValueError, match="ml-20m"):
        load_tag_genome("ml-100k")


def test_unknown_dataset_name() -> None:
    with pytest.raises(ValueError, match="ml-100k"):
        load_dataset("ml-100m")


@pytest.mark.realdata
def test_real_ml_100k(real_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMREC_DATA_DIR", str(real_data_dir))
    data = load_dataset("ml-100k", side_info=False)

    assert (len(data.interactions), data.n_users, data.n_items) == (100_000, 943, 1_682)
    assert len(data.items) == 1_682 and data.users.shape == (943, 4)
    assert data.items.loc[1, ["title", "year"]].tolist() == ["Toy Story", 1995]
    assert data.items.loc[50, ["title", "year"]].tolist() == ["Star Wars", 1977]
    assert data.items["year"].isna().sum() == 1  # item 267, "unknown"
    assert sorted(data.interactions["rating"].unique()) == [1, 2, 3, 4, 5]
    assert len(data.genres) == 18


@pytest.mark.realdata
def test_real_ml_100k_side_info(real_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMREC_DATA_DIR", str(real_data_dir))
    data = load_dataset("ml-100k")

    assert "side_info" not in data.extras
    assert data.items["plot"].notna().mean() > 0.95
    assert data.items.loc[50, "poster_path"].endswith("ml-1m/posters/260.jpg")
    # every poster was checked against the mirror's SHA-256 list: all good ones, none bad
    status = data.extras["poster_status"]
    assert set(status) == {"present", "missing"}
    assert (status == "present").sum() == data.items["poster_path"].notna().sum()
    posters = data.coverage.set_index("modality").loc["poster_path"]
    assert (posters["unreadable"], posters["checksum_mismatch"]) == (0, 0)


@pytest.mark.realdata
def test_real_ml_latest_small(real_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMREC_DATA_DIR", str(real_data_dir))
    data = load_dataset("ml-latest-small")

    assert (len(data.interactions), data.n_users) == (100_836, 610)
    with (real_data_dir / "ml-latest-small" / "movies.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    no_genres = {int(r["movieId"]) for r in rows if r["genres"] == "(no genres listed)"}
    assert len(data.items) == len(rows) == 9_742
    assert set(data.items.index[data.items["genres"].map(len) == 0]) == no_genres
    assert data.interactions["rating"].min() == 0.5


@pytest.mark.realdata
def test_real_ml_1m_offline_names_ratings(
    real_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMREC_DATA_DIR", str(real_data_dir))
    with pytest.raises(DataNotFoundError, match="ratings.dat"):
        load_dataset("ml-1m", side_info=False)
