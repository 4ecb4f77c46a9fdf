"""The tidy container every dataset loads into."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

INTERACTION_COLUMNS = ("user", "item", "rating", "timestamp")


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
    extras: anything else a loader knows, e.g. the planted ground truth of ``synthetic``.
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


def coverage_report(dataset: Dataset) -> pd.DataFrame:
    """Share of items, and of interactions, that have each kind of side information."""
    items = dataset.items
    counts = dataset.interactions["item"].value_counts()
    rows = []
    for column in ("plot", "cast", "director", "runtime", "certificate", "poster_path"):
        if column not in items.columns:
            continue
        present = items[column].map(_is_present)
        rated = counts.reindex(items.index, fill_value=0)
        rows.append(
            {
                "modality": column,
                "items_with": int(present.sum()),
                "items_share": float(present.mean()) if len(items) else 0.0,
                "interactions_share": float(rated[present].sum() / max(rated.sum(), 1)),
            }
        )
    return pd.DataFrame(
        rows, columns=["modality", "items_with", "items_share", "interactions_share"]
    )


def _is_present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and pd.isna(value):
        return False
    if isinstance(value, (list, tuple, str)):
        return len(value) > 0
    return not pd.isna(value)
