"""MovieLens side information (plot, cast, director, poster ...) from the ML-1M catalogue.

The catalogue joins ``movies.dat`` with the TML1M table (``tml1m_movies.csv``), whose
``MovieID`` is the row position of the movie in id-sorted ``movies.dat``, not its ML-1M id.
Items of another MovieLens release (ML-100K) reach it by title and release year: first an
exact match of normalised titles, then a conservative looser rule for the few that remain.
"""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

ID_SPACES = ("ml-1m", "title-year")
TEXT_COLUMNS = ("plot", "director", "certificate")
LIST_COLUMNS = ("cast", "languages")

# Articles that MovieLens moves to the end of a title ("Usual Suspects, The").
_TRAILING_ARTICLE = re.compile(
    r"^(?P<rest>.+), (?P<article>the|a|an|les|la|le|il|l'|das|der|die|det|den|el|los|las|lo|gli)$"
)
_PARENTHESES = re.compile(r"\(([^()]*)\)")
_AKA = re.compile(r",?\s*\ba\.k\.a\.\s*", re.IGNORECASE)
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
# Share of catalogue rows whose TML1M title must agree with movies.dat (measured: 99.9 %).
_MIN_ROW_AGREEMENT = 0.9
# Shorter title of a prefix/suffix pair needs this many words ("Boys" is not "Boys in Venice").
_MIN_AFFIX_WORDS = 2


def normalise_title(title: str) -> str:
    """Comparable form of a movie title (without its year).

    Decodes HTML entities, drops accents and alternative titles in parentheses, moves a
    trailing article to the front ("Usual Suspects, The" -> "the usual suspects"), drops
    apostrophes, turns other punctuation into spaces and collapses whitespace.
    """
    text = unicodedata.normalize("NFKD", html.unescape(title))
    text = text.encode("ascii", "ignore").decode().lower()
    text = _PARENTHESES.sub(" ", text).strip()
    text = _TRAILING_ARTICLE.sub(_article_to_front, text)
    text = text.replace("&", " and ")
    text = re.sub(r"['`]", "", text)
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


def _article_to_front(match: re.Match) -> str:
    article = match["article"]
    return article + ("" if article.endswith("'") else " ") + match["rest"]


def title_variants(title: str) -> frozenset[str]:
    """The normalised main title and each alternative title given in parentheses.

    "Hard 8 (a.k.a. Sydney, a.k.a. Hard Eight)" has the variants hard 8, sydney, hard eight.
    """
    groups = _PARENTHESES.findall(html.unescape(title))
    alternatives = [name for group in groups for name in _AKA.split(group)]
    variants = {normalise_title(title), *map(normalise_title, alternatives)}
    return frozenset(variants - {""})


def _before_colon(title: str) -> str:
    """Normalised part of the main title before its first ':' (the whole title if none)."""
    main = _PARENTHESES.sub(" ", html.unescape(title))
    return normalise_title(main.split(":", 1)[0])


def read_ml1m_catalogue(movies_dat: Path, tml1m_csv: Path) -> pd.DataFrame:
    """ML-1M movies indexed by ML-1M id: title, year and the TML1M side information.

    Raises ValueError when the two files do not line up row by row.
    """
    movies = pd.read_csv(
        movies_dat,
        sep="::",
        engine="python",
        encoding="latin-1",
        names=["ml1m_id", "full_title", "genres"],
    ).sort_values("ml1m_id", ignore_index=True)
    parts = movies["full_title"].str.extract(_TITLE_YEAR)
    tml = pd.read_csv(tml1m_csv)
    if len(tml) != len(movies):
        raise ValueError(
            f"{tml1m_csv} has {len(tml)} rows but {movies_dat} has {len(movies)} movies; "
            "the TML1M table must list every ML-1M movie, in ML-1M id order"
        )
    tml = tml.sort_values("MovieID", ignore_index=True)
    catalogue = pd.DataFrame(
        {
            "title": parts["title"].fillna(movies["full_title"]).to_numpy(object),
            "year": pd.to_numeric(parts["year"]).astype("Int64").array,
            "plot": _text(tml["Plot"]),
            "cast": _split_list(tml["Cast"]),
            "director": _text(tml["Director"]),
            "runtime": pd.to_numeric(tml["Runtime"].str.extract(r"(\d+)\s*min")[0]).to_numpy(float),
            "languages": _split_list(tml["Languages"]),
            "certificate": _text(tml["Certificate"]),
        },
        index=pd.Index(movies["ml1m_id"].to_numpy(), name="ml1m_id"),
    )
    agreement = np.mean(
        [
            normalise_title(a) == normalise_title(str(b))
            for a, b in zip(catalogue["title"], tml["Title"], strict=True)
        ]
    )
    if agreement < _MIN_ROW_AGREEMENT:
        raise ValueError(
            f"only {agreement:.0%} of titles in {tml1m_csv} agree with {movies_dat} row by row; "
            "is the TML1M table from the same ML-1M release?"
        )
    return catalogue


def _text(column: pd.Series) -> np.ndarray:
    """Stripped strings, None where missing or blank."""
    stripped = column.astype(object).map(lambda v: v.strip() if isinstance(v, str) else "")
    return np.array([v or None for v in stripped], dtype=object)


def _split_list(column: pd.Series) -> list[list[str]]:
    """Comma-separated names as lists, without blanks ("English,,Français," -> 2 names)."""
    return [
        [name.strip() for name in value.split(",") if name.strip()]
        if isinstance(value, str)
        else []
        for value in column.astype(object)
    ]


def _title_keys(titles: pd.Series, years: pd.Series) -> pd.DataFrame:
    """The comparison keys of each title: key, before_colon, variants, year."""
    return pd.DataFrame(
        {
            "key": titles.map(normalise_title).to_numpy(object),
            "before_colon": titles.map(_before_colon).to_numpy(object),
            "variants": titles.map(title_variants).to_numpy(object),
            "year": years.astype("Int64").array,
        }
    )


def _is_affix(short: str, long: str) -> bool:
    """Whether ``short`` starts or ends ``long`` at a word boundary, with enough words."""
    if len(short.split()) < _MIN_AFFIX_WORDS:
        return False
    return long.startswith(short + " ") or long.endswith(" " + short)


def _loosely_same(item: tuple, movie: tuple) -> bool:
    """The looser rule for two titles of the same year (key, before_colon, variants)."""
    (key, colon, variants), (m_key, m_colon, m_variants) = item, movie
    return (
        bool(variants & m_variants)
        or key.replace(" ", "") == m_key.replace(" ", "")
        or colon == m_colon
        or _is_affix(key, m_key)
        or _is_affix(m_key, key)
    )


def match_titles(
    titles: pd.Series, years: pd.Series, catalogue: pd.DataFrame
) -> tuple[pd.Series, dict[str, int]]:
    """ML-1M id of each (title, year), NA where unmatched, and a summary of the matching.

    Exact step: equal normalised title and equal year. Loose step, for the rest: a unique
    ML-1M movie of the same year sharing an alternative title, the part before ':', or a
    word-boundary prefix/suffix of at least two words; or the same title one year off.
    Several loose candidates count as ambiguous and stay unmatched.
    """
    items = _title_keys(titles.reset_index(drop=True), years.reset_index(drop=True))
    items["pos"] = np.arange(len(items))
    items = items[items["year"].notna()]
    movies = _title_keys(catalogue["title"], catalogue["year"])
    movies["ml1m_id"] = catalogue.index.to_numpy()
    unique_movies = movies.drop_duplicates(["key", "year"], keep=False)

    exact = items.merge(unique_movies[["key", "year", "ml1m_id"]], on=["key", "year"])
    rest = items[~items["pos"].isin(exact["pos"])]
    same_year = rest.merge(movies, on="year", suffixes=("", "_ml"))
    columns = ["key", "before_colon", "variants"]
    is_loose = [
        _loosely_same(item, movie)
        for item, movie in zip(
            same_year[columns].itertuples(index=False, name=None),
            same_year[[c + "_ml" for c in columns]].itertuples(index=False, name=None),
            strict=True,
        )
    ]
    year_off = pd.concat([rest.assign(year=rest["year"] + shift) for shift in (-1, 1)]).merge(
        movies[["key", "year", "ml1m_id"]], on=["key", "year"]
    )
    candidates = pd.concat(
        [same_year.loc[is_loose, ["pos", "ml1m_id"]], year_off[["pos", "ml1m_id"]]]
    ).drop_duplicates()
    n_candidates = candidates.groupby("pos")["ml1m_id"].transform("size")
    loose = candidates[n_candidates == 1]

    ml1m_id = pd.Series(pd.NA, index=titles.index, dtype="Int64")
    matched = pd.concat([exact[["pos", "ml1m_id"]], loose])
    ml1m_id.iloc[matched["pos"].to_numpy()] = matched["ml1m_id"].to_numpy()
    n_ambiguous = int(candidates.loc[n_candidates > 1, "pos"].nunique())
    summary = {
        "exact": len(exact),
        "loose": len(loose),
        "ambiguous": n_ambiguous,
        "unmatched": len(titles) - len(exact) - len(loose) - n_ambiguous,
    }
    return ml1m_id, summary


def attach_ml1m_side_info(
    items: pd.DataFrame,
    movies_dat: Path,
    tml1m_csv: Path,
    posters_dir: Path | None,
    id_space: str,
) -> pd.DataFrame:
    """A copy of ``items`` with the ML-1M side information of each item.

    items: indexed by item id, with columns title (without "(year)"), year and genres.
    id_space: "ml-1m" when the index holds ML-1M MovieIDs; "title-year" to match each item
        to an ML-1M movie by title and year (ML-100K).
    Adds plot, cast, director, runtime (minutes), languages, certificate, poster_path
    (``posters_dir/<ml1m_id>.jpg`` where that file exists; the loaders then check each
    against its published SHA-256, see :func:`~mmrec_lib.data.download.screen_posters`) and
    ml1m_id. Items without a match get None, [] or NaN. ``attrs["side_info_match"]`` counts
    exact, loose, ambiguous and unmatched items.
    """
    if id_space not in ID_SPACES:
        raise ValueError(f"unknown id_space {id_space!r}; use one of {ID_SPACES}")
    catalogue = read_ml1m_catalogue(Path(movies_dat), Path(tml1m_csv))
    if id_space == "ml-1m":
        known = items.index.isin(catalogue.index)
        ml1m_id = pd.Series(items.index.where(known), index=items.index).astype("Int64")
        summary = {"exact": int(known.sum()), "loose": 0, "ambiguous": 0}
        summary["unmatched"] = len(items) - summary["exact"]
    else:
        missing = {"title", "year"} - set(items.columns)
        if missing:
            raise ValueError(f"items lack columns {sorted(missing)} needed to match titles")
        ml1m_id, summary = match_titles(items["title"], items["year"], catalogue)

    found = catalogue.reindex(ml1m_id.fillna(-1).to_numpy(dtype="int64"))
    out = items.copy()
    for column in TEXT_COLUMNS:
        out[column] = _objects([v if isinstance(v, str) else None for v in found[column]], out)
    for column in LIST_COLUMNS:
        out[column] = _objects([v if isinstance(v, list) else [] for v in found[column]], out)
    out["runtime"] = found["runtime"].to_numpy(dtype=float)
    out["poster_path"] = _objects([_poster_path(posters_dir, i) for i in ml1m_id], out)
    out["ml1m_id"] = ml1m_id.array
    out.attrs["side_info_match"] = summary
    return out


def _objects(values: list, frame: pd.DataFrame) -> pd.Series:
    """An object column aligned to ``frame`` (keeps None as None, lists as lists)."""
    return pd.Series(values, index=frame.index, dtype=object)


def _poster_path(posters_dir: Path | None, ml1m_id: object) -> str | None:
    if posters_dir is None or pd.isna(ml1m_id):
        return None
    path = Path(posters_dir) / f"{int(ml1m_id)}.jpg"
    return str(path) if path.is_file() else None
