"""Amazon Fashion 5-core: both file forms (pretty-printed mirror, upstream .json.gz)."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from mmrec_lib.data import DataNotFoundError, DataRepairWarning, download, load_dataset
from mmrec_lib.data.amazon import MIRROR_FILE, UPSTREAM_FILE, read_json_objects
from mmrec_lib.data.download import UnverifiedDataWarning

REVIEWS = [
    {
        "overall": 5.0,
        "reviewerID": "B2",
        "asin": "X9",
        "unixReviewTime": 1441324800,
        "style": {"Size:": " Big"},
        "reviewText": 'braces }{ and "quotes" in text',
    },
    {"overall": 2.0, "reviewerID": "A1", "asin": "X9", "unixReviewTime": 1441324801},
    {"overall": 4.0, "reviewerID": "B2", "asin": "C3", "unixReviewTime": 1500000000},
]


def pretty(reviews: list[dict]) -> bytes:
    """The mirror's form: indented objects, one after the other."""
    return "\n".join(json.dumps(review, indent=2) for review in reviews).encode() + b"\n"


def one_per_line(reviews: list[dict]) -> bytes:
    """The upstream form, gzipped: one object per line."""
    return gzip.compress("".join(json.dumps(review) + "\n" for review in reviews).encode())


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMREC_OFFLINE", "1")
    monkeypatch.setenv("MMREC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MMREC_DATA_DIR", raising=False)
    monkeypatch.setattr(download, "_warned", set())  # each test sees its own warn-once


def put_in_mirror(
    root: Path, monkeypatch: pytest.MonkeyPatch, path: str, data: bytes, register: bool
) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_bytes(data)
    if register:
        digest = hashlib.sha256(data).hexdigest()
        monkeypatch.setitem(download.FILES, path, replace(download.FILES[path], sha256=digest))
    monkeypatch.setenv("MMREC_DATA_DIR", str(root))


def test_both_json_forms_parse_to_the_same_objects(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(pretty(REVIEWS))
    (tmp_path / "b.json.gz").write_bytes(one_per_line(REVIEWS))
    assert read_json_objects(tmp_path / "a.json") == REVIEWS
    assert read_json_objects(tmp_path / "b.json.gz") == REVIEWS


def test_tables_from_the_mirror_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put_in_mirror(tmp_path, monkeypatch, MIRROR_FILE, pretty(REVIEWS), register=True)
    data = load_dataset("amazon-fashion")

    # ids follow the sorted original strings: users A1=0, B2=1; items C3=0, X9=1
    assert data.interactions.values.tolist() == [
        [1, 1, 5.0, 1441324800],
        [0, 1, 2.0, 1441324801],
        [1, 0, 4.0, 1500000000],
    ]
    assert data.interactions.dtypes.astype(str).tolist() == ["int64", "int64", "float32", "int64"]
    assert data.users["reviewer_id"].tolist() == ["A1", "B2"]
    assert data.items["asin"].tolist() == data.items["title"].tolist() == ["C3", "X9"]
    assert data.items["year"].isna().all() and data.items["year"].dtype == "Int64"
    assert data.items["genres"].tolist() == [[], []]
    assert data.genres == []


def test_upstream_gz_gives_the_same_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_in_mirror(tmp_path / "a", monkeypatch, MIRROR_FILE, pretty(REVIEWS), register=True)
    from_mirror = load_dataset("amazon-fashion")
    put_in_mirror(tmp_path / "b", monkeypatch, UPSTREAM_FILE, one_per_line(REVIEWS), False)
    with pytest.warns(UnverifiedDataWarning, match="AMAZON_FASHION_5.json.gz"):
        from_upstream = load_dataset("amazon-fashion")

    pd.testing.assert_frame_equal(from_upstream.interactions, from_mirror.interactions)
    pd.testing.assert_frame_equal(from_upstream.items, from_mirror.items)
    pd.testing.assert_frame_equal(from_upstream.users, from_mirror.users)


def test_offline_without_data_names_the_download() -> None:
    with pytest.raises(DataNotFoundError, match="AMAZON_FASHION_5.json.gz") as error:
        load_dataset("amazon-fashion")
    assert "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/" in str(error.value)


@pytest.mark.realdata
def test_real_amazon_fashion(real_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMREC_DATA_DIR", str(real_data_dir))
    with pytest.warns(DataRepairWarning, match="dropped 134 repeated interaction rows"):
        data = load_dataset("amazon-fashion")

    # 3,176 reviews, of which 134 repeat a (user, item) pair: the latest of each is kept
    assert (len(data.interactions), data.n_users, data.n_items) == (3_042, 406, 31)
    assert data.extras["duplicates_dropped"] == 134
    assert not data.interactions.duplicated(["user", "item"]).any()
    text = (real_data_dir / MIRROR_FILE).read_text()
    assert text.count('"reviewerID":') == 3_176
    first = data.interactions.iloc[0]
    assert data.users.loc[first["user"], "reviewer_id"] == "ALJ66O1Y6SLHA"
    assert data.items.loc[first["item"], "asin"] == "B000K2PJ4K"
    assert (first["rating"], first["timestamp"]) == (5.0, 1441324800)
