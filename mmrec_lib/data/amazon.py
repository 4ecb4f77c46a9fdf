"""Amazon review data 2018 (Ni, Li and McAuley): the Fashion 5-core reviews."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pandas as pd

from mmrec_lib.data.dataset import Dataset, drop_duplicate_interactions
from mmrec_lib.data.download import DataNotFoundError, fetch

MIRROR_FILE = "amazon_fashion/AMAZON_FASHION_5.json"
UPSTREAM_FILE = "amazon_fashion/AMAZON_FASHION_5.json.gz"
WHITESPACE = re.compile(r"\s*")


def load_amazon_fashion() -> Dataset:
    """Amazon Fashion 5-core: 3,176 reviews by 406 users of 31 items (in the 2018 release).

    Users and items get integer ids 0.. in the sorted order of ``reviewerID`` and ``asin``; the
    original strings stay in ``users["reviewer_id"]`` and ``items["asin"]``. rating = overall
    stars, timestamp = unixReviewTime. Items have no metadata: title = asin, year NA, no genres.
    Repeated reviews of one item by one user (one per product variant: 134 rows in the 2018
    file) are dropped before the Dataset is built, keeping the latest of each (user, item) pair
    (see :func:`~mmrec_lib.data.dataset.drop_duplicate_interactions`), with a warning.
    """
    path = _locate()
    reviews = pd.DataFrame(
        read_json_objects(path), columns=["reviewerID", "asin", "overall", "unixReviewTime"]
    )
    user_codes, reviewer_ids = pd.factorize(reviews["reviewerID"], sort=True)
    item_codes, asins = pd.factorize(reviews["asin"], sort=True)
    interactions = pd.DataFrame(
        {
            "user": user_codes.astype("int64"),
            "item": item_codes.astype("int64"),
            "rating": reviews["overall"].to_numpy(dtype="float32"),
            "timestamp": reviews["unixReviewTime"].to_numpy(dtype="int64"),
        }
    )
    items = pd.DataFrame(
        {
            "title": asins,
            "year": pd.array([pd.NA] * len(asins), dtype="Int64"),
            "genres": [[] for _ in asins],
            "asin": asins,
        },
        index=pd.RangeIndex(len(asins), name="item"),
    )
    users = pd.DataFrame(
        {"reviewer_id": reviewer_ids}, index=pd.RangeIndex(len(reviewer_ids), name="user")
    )
    kept = drop_duplicate_interactions(interactions, "amazon-fashion")
    dropped = len(interactions) - len(kept)
    return Dataset(
        "amazon-fashion",
        kept,
        items,
        users,
        genres=[],
        source=str(path),
        extras={"duplicates_dropped": dropped} if dropped else {},
    )


def read_json_objects(path: Path) -> list[dict]:
    """All JSON objects in a file, one per line or pretty-printed and concatenated (.gz too)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    decoder = json.JSONDecoder()
    objects, position = [], 0
    while (position := WHITESPACE.match(text, position).end()) < len(text):
        value, position = decoder.raw_decode(text, position)
        objects.append(value)
    return objects


def _locate() -> Path:
    """The mirror's pretty-printed file if there is one, else the upstream .json.gz."""
    try:
        return fetch(MIRROR_FILE)
    except DataNotFoundError:
        return fetch(UPSTREAM_FILE)
