"""ML-1M side information: row-position mapping, title matching, posters, real coverage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmrec_lib.data.side_info import (
    attach_ml1m_side_info,
    normalise_title,
    read_ml1m_catalogue,
    title_variants,
)

# ML-1M ids are sparse, so the TML1M MovieID (the row position, 1..n) differs from them.
MOVIES = [
    (1, "Toy Story (1995)"),
    (2, "Jumanji (1995)"),
    (7, "Usual Suspects, The (1995)"),
    (12, "City of Lost Children, The (Cité des enfants perdus, La) (1995)"),
    (260, "Star Wars: Episode IV - A New Hope (1977)"),
    (703, "Boys (1996)"),
    (1130, "Howling, The (1980)"),
    (1196, "Star Wars: Episode V - The Empire Strikes Back (1980)"),
    (1200, "Planet Wars: Part One (1990)"),
    (1201, "Planet Wars: Part Two (1990)"),
    (1300, "Gamera: Guardian of the Universe (1995)"),
    (1320, "Alien³ (1992)"),
    (1400, "Postman, The (Postino, Il) (1994)"),
]
# Cast, runtime, languages and certificate of a few rows; the rest get defaults or blanks.
DETAILS = {
    1: ("Tom Hanks,Tim Allen", "81 minutes", "English", "G"),
    2: ("", "", "English,,Français,", ""),
}


def write_catalogue(folder: Path, movies: list[tuple[int, str]] = MOVIES) -> tuple[Path, Path]:
    """A tiny movies.dat (written out of id order) and its TML1M table (in id order)."""
    movies_dat = folder / "movies.dat"
    lines = [f"{movie_id}::{title}::Drama" for movie_id, title in reversed(movies)]
    movies_dat.write_bytes("\n".join(lines).encode("latin-1"))
    rows = []
    for position, (movie_id, full_title) in enumerate(sorted(movies), start=1):
        cast, runtime, languages, certificate = DETAILS.get(
            position, ("Actor A,Actor B", "90 minutes", "English", "R")
        )
        rows.append(
            {
                "MovieID": position,
                "Title": full_title[:-7],
                "Year": int(full_title[-5:-1]),
                "Genre": "Drama",
                "Director": f"director {movie_id}",
                "Cast": cast,
                "Runtime": runtime,
                "Languages": languages,
                "Certificate": certificate,
                "Plot": "" if position == 2 else f"plot of ML-1M movie {movie_id}",
                "Url": f"https://movielens.org/movies/{movie_id}",
            }
        )
    tml1m_csv = folder / "tml1m_movies.csv"
    pd.DataFrame(rows).to_csv(tml1m_csv, index=False)
    return movies_dat, tml1m_csv


def make_items(rows: list[tuple[int, str, int | None]]) -> pd.DataFrame:
    ids, titles, years = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "title": list(titles),
            "year": pd.array(years, dtype="Int64"),
            "genres": [["Drama"] for _ in rows],
        },
        index=pd.Index(ids, name="item"),
    )


@pytest.fixture
def catalogue_files(tmp_path: Path) -> tuple[Path, Path]:
    return write_catalogue(tmp_path)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Usual Suspects, The", "the usual suspects"),
        ("The Usual Suspects", "the usual suspects"),
        ("City of Lost Children, The (Cité des enfants perdus, La)", "the city of lost children"),
        ("Star Wars: Episode IV - A New Hope", "star wars episode iv a new hope"),
        ("Star Maker, The (Uomo delle stelle, L')", "the star maker"),
        ("Uomo delle stelle, L'", "luomo delle stelle"),
        ("Cérémonie, La", "la ceremonie"),
        ("Mr. Holland's Opus", "mr hollands opus"),
        ("Et Dieu&#8230;Créa la Femme", "et dieu crea la femme"),
        ("  Romy  &  Michele ", "romy and michele"),
        ("Maybe, Maybe Not", "maybe maybe not"),
        ("Alien³", "alien3"),
    ],
)
def test_normalise_title(title: str, expected: str) -> None:
    assert normalise_title(title) == expected


def test_title_variants_include_alternative_titles() -> None:
    assert title_variants("Postman, The (Postino, Il)") == {"the postman", "il postino"}
    assert title_variants("Hard 8 (a.k.a. Sydney, a.k.a. Hard Eight)") == {
        "hard 8",
        "sydney",
        "hard eight",
    }


def test_catalogue_maps_tml1m_rows_by_position(catalogue_files: tuple[Path, Path]) -> None:
    catalogue = read_ml1m_catalogue(*catalogue_files)
    assert list(catalogue.index) == sorted(movie_id for movie_id, _ in MOVIES)
    # TML1M MovieID 3 is the third movie by id: ML-1M 7, not ML-1M 3.
    assert catalogue.loc[7, "plot"] == "plot of ML-1M movie 7"
    assert catalogue.loc[7, "title"] == "Usual Suspects, The"
    assert catalogue.loc[7, "year"] == 1995
    assert catalogue.loc[1, "cast"] == ["Tom Hanks", "Tim Allen"]
    assert catalogue.loc[1, "runtime"] == 81.0
    assert catalogue.loc[2, "languages"] == ["English", "Français"]
    assert catalogue.loc[2, "cast"] == []
    assert np.isnan(catalogue.loc[2, "runtime"])
    assert pd.isna(catalogue.loc[2, "plot"])
    assert pd.isna(catalogue.loc[2, "certificate"])


def test_catalogue_rejects_misaligned_tables(tmp_path: Path) -> None:
    movies_dat, tml1m_csv = write_catalogue(tmp_path)
    table = pd.read_csv(tml1m_csv)
    table.assign(Title=table["Title"][::-1].to_numpy()).to_csv(tml1m_csv, index=False)
    with pytest.raises(ValueError, match="agree"):
        read_ml1m_catalogue(movies_dat, tml1m_csv)
    table.iloc[:-1].to_csv(tml1m_csv, index=False)
    with pytest.raises(ValueError, match="rows"):
        read_ml1m_catalogue(movies_dat, tml1m_csv)


def test_ml1m_id_space_uses_the_index(catalogue_files: tuple[Path, Path]) -> None:
    items = make_items([(7, "Usual Suspects, The", 1995), (1, "Toy Story", 1995), (3, "?", None)])
    out = attach_ml1m_side_info(items, *catalogue_files, None, "ml-1m")
    assert out["ml1m_id"].tolist() == [7, 1, pd.NA]
    assert out["plot"].tolist() == ["plot of ML-1M movie 7", "plot of ML-1M movie 1", None]
    assert out["director"].tolist() == ["director 7", "director 1", None]
    assert out["cast"].tolist() == [["Actor A", "Actor B"], ["Tom Hanks", "Tim Allen"], []]
    assert out["languages"].tolist() == [["English"], ["English"], []]
    assert out["certificate"].tolist() == ["R", "G", None]
    np.testing.assert_array_equal(out["runtime"], [90.0, 81.0, np.nan])
    assert out.attrs["side_info_match"] == {"exact": 2, "loose": 0, "ambiguous": 0, "unmatched": 1}
    assert list(out.index) == [7, 1, 3]
    assert "plot" not in items.columns


@pytest.mark.parametrize(
    ("title", "year", "expected"),
    [
        pytest.param("Toy Story", 1995, 1, id="exact"),
        pytest.param("The Usual Suspects", 1995, 7, id="article-front"),
        pytest.param("Usual Suspects, The", 1995, 7, id="article-back"),
        pytest.param("City of Lost Children, The", 1995, 12, id="alt-title-stripped"),
        pytest.param("Star Wars", 1977, 260, id="loose-prefix"),
        pytest.param("Empire Strikes Back, The", 1980, 1196, id="loose-suffix"),
        pytest.param("Gamera", 1995, 1300, id="loose-before-colon"),
        pytest.param("Postino, Il", 1994, 1400, id="loose-alternative-title"),
        pytest.param("Alien 3", 1992, 1320, id="loose-spacing"),
        pytest.param("Howling, The", 1981, 1130, id="loose-year-off-by-one"),
        pytest.param("Planet Wars", 1990, None, id="ambiguous"),
        pytest.param("Boys in Venice", 1996, None, id="one-word-prefix-refused"),
        pytest.param("Toy Story", 1997, None, id="year-off-by-two"),
        pytest.param("Star Wars", 1978, None, id="loose-needs-same-year"),
        pytest.param("Toy Story", None, None, id="no-year"),
    ],
)
def test_title_year_matching(
    catalogue_files: tuple[Path, Path], title: str, year: int | None, expected: int | None
) -> None:
    out = attach_ml1m_side_info(
        make_items([(5, title, year)]), *catalogue_files, None, "title-year"
    )
    found = out.loc[5, "ml1m_id"]
    assert (pd.isna(found) and expected is None) or found == expected
    assert out.loc[5, "plot"] == (None if expected is None else f"plot of ML-1M movie {expected}")


def test_match_summary_counts_each_outcome(catalogue_files: tuple[Path, Path]) -> None:
    items = make_items(
        [
            (10, "Toy Story", 1995),
            (11, "Usual Suspects, The", 1995),
            (12, "Star Wars", 1977),
            (13, "Howling, The", 1981),
            (14, "Planet Wars", 1990),
            (15, "Boys in Venice", 1996),
            (16, "unknown", None),
        ]
    )
    out = attach_ml1m_side_info(items, *catalogue_files, None, "title-year")
    assert out.attrs["side_info_match"] == {"exact": 2, "loose": 2, "ambiguous": 1, "unmatched": 2}
    assert out["ml1m_id"].tolist() == [1, 7, 260, 1130, pd.NA, pd.NA, pd.NA]
    assert out["ml1m_id"].dtype == "Int64"


def test_poster_path_only_where_the_file_exists(
    tmp_path: Path, catalogue_files: tuple[Path, Path]
) -> None:
    posters = tmp_path / "posters"
    posters.mkdir()
    (posters / "1.jpg").write_bytes(b"\xff\xd8\xff")
    items = make_items([(1, "Toy Story", 1995), (7, "Usual Suspects, The", 1995)])
    out = attach_ml1m_side_info(items, *catalogue_files, posters, "ml-1m")
    assert out["poster_path"].tolist() == [str(posters / "1.jpg"), None]
    without = attach_ml1m_side_info(items, *catalogue_files, None, "ml-1m")
    assert without["poster_path"].tolist() == [None, None]


def test_bad_arguments_raise(catalogue_files: tuple[Path, Path]) -> None:
    items = make_items([(1, "Toy Story", 1995)])
    with pytest.raises(ValueError, match="unknown id_space 'ml-100k'"):
        attach_ml1m_side_info(items, *catalogue_files, None, "ml-100k")
    with pytest.raises(ValueError, match=r"lack columns \['year'\]"):
        attach_ml1m_side_info(items.drop(columns="year"), *catalogue_files, None, "title-year")


# --- real data ---------------------------------------------------------------------------


def ml100k_items(folder: Path) -> pd.DataFrame:
    """ML-100K movies with the year taken from the title (release dates are re-releases)."""
    raw = pd.read_csv(
        folder / "u.item", sep="|", encoding="latin-1", header=None, usecols=[0, 1], index_col=0
    )[1]
    parts = raw.str.extract(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)(?:\s*\(V\))?\s*$")
    return pd.DataFrame(
        {
            "title": parts["title"].fillna(raw).to_numpy(object),
            "year": pd.to_numeric(parts["year"]).astype("Int64").array,
            "genres": [[] for _ in raw],
        },
        index=raw.index,
    )


@pytest.fixture(scope="module")
def ml100k_side_info(real_data_dir: Path) -> pd.DataFrame:
    ml1m = real_data_dir / "ml-1m"
    return attach_ml1m_side_info(
        ml100k_items(real_data_dir / "ml-100k"),
        ml1m / "movies.dat",
        ml1m / "tml1m_movies.csv",
        ml1m / "posters",
        "title-year",
    )


@pytest.mark.realdata
def test_ml100k_coverage(ml100k_side_info: pd.DataFrame) -> None:
    out = ml100k_side_info
    assert len(out) == 1682
    assert out["plot"].notna().mean() >= 0.95
    assert out["poster_path"].notna().mean() >= 0.95
    summary = out.attrs["side_info_match"]
    assert sum(summary.values()) == 1682
    assert summary["loose"] > 0


@pytest.mark.realdata
def test_ml100k_known_movies(ml100k_side_info: pd.DataFrame) -> None:
    out = ml100k_side_info
    star_wars, toy_story = out.loc[50], out.loc[1]
    assert star_wars["ml1m_id"] == 260
    assert toy_story["ml1m_id"] == 1
    assert "Woody" in toy_story["plot"]
    assert toy_story["cast"][0] == "Tom Hanks"
    assert toy_story["runtime"] == 81.0
    assert Path(toy_story["poster_path"]).name == "1.jpg"
    # Empire Strikes Back, Return of the Jedi (suffix); Das Boot (alternative title).
    assert out.loc[[172, 181, 515], "ml1m_id"].tolist() == [1196, 1210, 1233]
    # "Boys in Venice (1996)" is not "Boys (1996)".
    assert pd.isna(out.loc[1359, "ml1m_id"])


@pytest.mark.realdata
def test_ml1m_catalogue_on_real_data(real_data_dir: Path) -> None:
    ml1m = real_data_dir / "ml-1m"
    catalogue = read_ml1m_catalogue(ml1m / "movies.dat", ml1m / "tml1m_movies.csv")
    items = catalogue[["title", "year"]].assign(genres=[[] for _ in catalogue.index])
    out = attach_ml1m_side_info(
        items, ml1m / "movies.dat", ml1m / "tml1m_movies.csv", ml1m / "posters", "ml-1m"
    )
    assert len(out) == 3883
    assert out["plot"].notna().mean() == pytest.approx(0.994, abs=0.005)
    assert out["poster_path"].notna().sum() == 3872
    # The Url of most TML1M rows names the ML-1M id: an independent check of the row mapping.
    table = pd.read_csv(ml1m / "tml1m_movies.csv")
    url_id = pd.to_numeric(table["Url"].str.extract(r"movielens\.org/movies/(\d+)$")[0])
    known = url_id.isin(catalogue.index) & table["Plot"].notna()
    plots_agree = (
        catalogue.loc[url_id[known].astype(int), "plot"].to_numpy()
        == table.loc[known, "Plot"].str.strip().to_numpy()
    )
    assert plots_agree.mean() >= 0.99
