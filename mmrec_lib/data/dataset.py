"""The tidy container every dataset loads into, and the repairs the loaders apply.

Repeated (user, item) pairs: a loaded dataset holds at most one interaction per (user, item)
pair. Where the source has several (Amazon Fashion 5-core repeats a review once per product
variant: 134 extra rows), :func:`drop_duplicate_interactions` keeps the latest of each pair by
timestamp, ties going to the row that comes last in the source, and warns how many rows it
dropped (:class:`DataRepairWarning`; the count goes to ``extras["duplicates_dropped"]``). Every
loader of real data calls it on its interactions before building the :class:`Dataset`, so
before any split, and a rating split can never put one pair in both train and test (the
synthetic generator never repeats a pair). A Dataset built by hand is taken as given.

Posters: ``extras["poster_status"]`` (when a loader checked the files) gives each item's poster
status, one of :data:`POSTER_STATUSES`; the coverage report counts them, and only "present"
posters keep a ``poster_path``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

INTERACTION_COLUMNS = ("user", "item", "rating", "timestamp")
POSTER_STATUSES = ("present", "missing", "unreadable", "checksum mismatch")
"""What a poster check finds: the file is usable, absent (or unmatched), cannot be decoded,
or differs from its published SHA-256."""
SIDE_INFO_LEFT_OUT = "left out by the caller"
"""``extras["side_info"]`` of a real dataset loaded with ``side_info=False``."""
COVERAGE_COLUMNS = (
    "modality",
    "items_with",
    "items_share",
    "interactions_share",
    "missing",
    "unreadable",
    "checksum_mismatch",
)


class DataRepairWarning(UserWarning):
    """A loader changed the data it read (dropped repeated rows, left out bad posters)."""


@dataclass
class Dataset:
    """Interactions plus item and user side information, keyed by integer ids.

    interactions: one row per (user, item) event with columns user (int64), item (int64),
        rating (float32; 1.0 where the source has implicit feedback only) and
        timestamp (int64, unix seconds).
    items: indexed by item id. Always has ``title`` (str), ``year`` (Int64, may be NA)
        and ``genres`` (list[str]); may add ``plot``, ``cast`` (list[str]), ``director``,
        ``runtime``, ``languages`` (list[str]), ``certificate`` and ``poster_path``
        (str path to an image file, or None).
    users: indexed by user id, demographics where the source has them (may be empty).
    genres: the dataset's genre vocabulary, in a fixed order.
    coverage: how much side information was found (see :func:`coverage_report`).
    extras: anything else a loader knows, e.g. the planted ground truth of ``synthetic``,
        ``"poster_status"`` (see :data:`POSTER_STATUSES`), ``"side_info"`` (set to
        :data:`SIDE_INFO_LEFT_OUT` when the caller asked for no side information) and
        ``"duplicates_dropped"`` (rows the loader removed with
        :func:`drop_duplicate_interactions`).
    """

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    genres: list[str]
    coverage: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: str = ""
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in INTERACTION_COLUMNS if c not in self.interactions.columns]
        if missing:
            raise ValueError(f"{self.name}: interactions lack columns {missing}")
        for column in ("title", "year", "genres"):
            if column not in self.items.columns:
                raise ValueError(f"{self.name}: items lack column {column!r}")
        unknown = set(self.interactions["item"].unique()) - set(self.items.index)
        if unknown:
            raise ValueError(
                f"{self.name}: {len(unknown)} interacted items are missing from the item table"
            )
        if self.coverage.empty:
            self.coverage = coverage_report(self)

    @property
    def n_users(self) -> int:
        return int(self.interactions["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.interactions["item"].nunique())

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}: {len(self.interactions):,} interactions, "
            f"{self.n_users:,} users, {self.n_items:,} items)"
        )


def drop_duplicate_interactions(interactions: pd.DataFrame, name: str = "") -> pd.DataFrame:
    """The interactions with one row per (user, item) pair: the latest by timestamp, ties
    going to the last row in input order. Every loader calls it before building its Dataset.

    Kept rows stay in input order, re-numbered 0..n-1 when any row is dropped (the frame is
    returned unchanged otherwise). Warns (:class:`DataRepairWarning`) how many rows were
    dropped and how many pairs they repeated.
    """
    users = pd.factorize(interactions["user"])[0].astype(np.int64)
    items = pd.factorize(interactions["item"])[0].astype(np.int64)
    pairs = users * (int(items.max(initial=-1)) + 1) + items
    if pd.Index(pairs).is_unique:
        return interactions
    by_time = np.argsort(interactions["timestamp"].to_numpy(), kind="stable")
    latest = ~pd.Series(pairs[by_time]).duplicated(keep="last").to_numpy()
    kept = np.sort(by_time[latest])
    n_dropped = len(interactions) - len(kept)
    n_pairs = int(pd.Series(pairs).duplicated(keep=False).sum()) - n_dropped
    warnings.warn(
        f"{name or 'dataset'}: dropped {n_dropped:,} repeated interaction rows of "
        f"{n_pairs:,} (user, item) pairs, keeping the latest of each pair by timestamp "
        "(ties: the last row)",
        DataRepairWarning,
        stacklevel=2,
    )
    return interactions.iloc[kept].reset_index(drop=True)


def coverage_report(dataset: Dataset) -> pd.DataFrame:
    """Per kind of side information: items that have it (``items_with``, share of items and of
    interactions) and items that lack it, by cause.

    ``missing``: no value (or no poster file); ``unreadable`` and ``checksum_mismatch``: a
    poster file that cannot be decoded, or differs from its published SHA-256 (posters only;
    from ``extras["poster_status"]``, 0 for the other modalities). A poster counts as present
    only when it is set and its status is "present".
    """
    items = dataset.items
    counts = dataset.interactions["item"].value_counts()
    rated = counts.reindex(items.index, fill_value=0)
    rows = []
    for column in ("plot", "cast", "director", "runtime", "certificate", "poster_path"):
        if column not in items.columns:
            continue
        present = items[column].map(_is_present)
        status = pd.Series("missing", index=items.index, dtype=object)
        status[present] = "present"
        if column == "poster_path":
            status = poster_statuses(dataset)
            present = status == "present"
        rows.append(
            {
                "modality": column,
                "items_with": int(present.sum()),
                "items_share": float(present.mean()) if len(items) else 0.0,
                "interactions_share": float(rated[present].sum() / max(rated.sum(), 1)),
                "missing": int((status == "missing").sum()),
                "unreadable": int((status == "unreadable").sum()),
                "checksum_mismatch": int((status == "checksum mismatch").sum()),
            }
        )
    return pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))


def poster_statuses(dataset: Dataset) -> pd.Series:
    """Each item's poster status (:data:`POSTER_STATUSES`), indexed like ``dataset.items``.

    From ``extras["poster_status"]`` where a loader checked the files; an item it does not
    list is "present" when its ``poster_path`` is set, else "missing". A "present" status
    without a ``poster_path`` reads as "missing".
    """
    items = dataset.items
    has_path = (
        items["poster_path"].map(_is_present)
        if "poster_path" in items.columns
        else pd.Series(False, index=items.index)
    )
    derived = has_path.map({True: "present", False: "missing"}).astype(object)
    checked = dataset.extras.get("poster_status")
    if checked is None:
        return derived
    status = pd.Series(checked, dtype=object).reindex(items.index).fillna(derived)
    status[(status == "present") & ~has_path] = "missing"
    return status


def _is_present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and pd.isna(value):
        return False
    if isinstance(value, (list, tuple, str)):
        return len(value) > 0
    return not pd.isna(value)
