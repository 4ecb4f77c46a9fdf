"""Filters and splits: k-core, a random rating split, leave-one-out with stored negatives.

All functions take an interaction DataFrame with columns user, item, rating, timestamp
(integer user and item ids); randomness comes from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

SAMPLING = ("uniform", "popularity")
PADDING_ITEM = 0
"""Re-indexed item id reserved for padding; real items are 1..n_items."""
_MAX_VECTORISED_ROUNDS = 6


def kcore(interactions: pd.DataFrame, min_user: int = 5, min_item: int = 5) -> pd.DataFrame:
    """Rows left after repeatedly dropping users with < min_user and items with < min_item rows.

    Iterates until both thresholds hold at once (the k-core is unique, so the order of
    removal does not matter). The original index is kept.
    """
    _require_columns(interactions, ("user", "item"))
    if min_user < 1 or min_item < 1:
        raise ValueError(f"min_user and min_item must be >= 1, got {min_user}, {min_item}")
    frame = interactions
    while True:
        keep = (_occurrences(frame["user"]) >= min_user) & (_occurrences(frame["item"]) >= min_item)
        if keep.all():
            break
        frame = frame[keep]
    if frame.empty:
        raise ValueError(
            f"no interactions survive a ({min_user}, {min_item})-core; lower the thresholds"
        )
    return frame


@dataclass
class RatingSplit:
    """A random partition of interaction rows (rating prediction, paper A).

    held_out_items: original ids of the items held out of training and validation entirely
    (cold-start items, :func:`mmrec_lib.data.cold_start.hold_out_rated_items`); they are
    rated only in the test part. Empty for an ordinary split.
    """

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    seed: int
    held_out_items: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def keep_recent(self, fraction: float) -> RatingSplit:
        """The split with each user's training ratings cut to their most recent
        ceil(fraction * n) (at least one; by timestamp, ties in row order); validation and
        test unchanged. For sparsity curves: fewer ratings to learn from, the same test."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
        if fraction == 1:
            return self
        _require_columns(self.train, ("user", "timestamp"))
        latest_first = self.train.iloc[::-1].sort_values(
            "timestamp", ascending=False, kind="stable"
        )
        rank = latest_first.groupby("user", sort=False).cumcount()
        size = latest_first.groupby("user", sort=False)["user"].transform("size")
        kept = rank < np.maximum(1, np.ceil(fraction * size))
        return replace(self, train=self.train.loc[np.sort(latest_first.index[kept])])


def ratio_split(
    interactions: pd.DataFrame, test_frac: float = 0.2, val_frac: float = 0.1, seed: int = 0
) -> RatingSplit:
    """Shuffle rows with ``default_rng(seed)`` and cut off test_frac and val_frac of them.

    Sizes are rounded to the nearest row; each part keeps the original index, sorted.
    """
    _require_columns(interactions, ("user", "item", "rating"))
    if not 0 < test_frac < 1 or not 0 <= val_frac < 1 or test_frac + val_frac >= 1:
        raise ValueError(
            "need 0 < test_frac < 1, 0 <= val_frac < 1 and test_frac + val_frac < 1; "
            f"got test_frac={test_frac}, val_frac={val_frac}"
        )
    n_rows = len(interactions)
    n_test = round(test_frac * n_rows)
    n_val = round(val_frac * n_rows)
    if n_test == 0 or n_test + n_val >= n_rows:
        raise ValueError(
            f"{n_rows} rows are too few for test_frac={test_frac}, val_frac={val_frac}: "
            "each of train and test needs at least one row"
        )
    order = np.random.default_rng(seed).permutation(n_rows)
    parts = np.split(order, [n_test, n_test + n_val])
    test, val, train = (interactions.iloc[np.sort(part)] for part in parts)
    return RatingSplit(train=train, val=val, test=test, seed=seed)


@dataclass
class SequenceSplit:
    """Leave-one-out split of time-ordered user histories, with stored sampled negatives.

    Users are re-indexed 0..n_users-1 and items 1..n_items (0 is padding), both in the
    order of their original ids.

    train_items: every user's training items in time order, concatenated (int64).
    train_offsets: (n_users + 1,); user u's sequence is
        ``train_items[train_offsets[u]:train_offsets[u + 1]]``.
    val_item, test_item: (n_users,) the second-last and last item of each user.
    negatives: (n_users, n_negatives) items the user never interacted with, drawn once;
        (n_users, 0) for a split made with ``n_negatives=None`` (no sampled protocol).
    user_ids: (n_users,) original id of each user index.
    item_ids: (n_items + 1,) original id of each item index; ``item_ids[0] = -1`` (padding).
    held_out_items: item indices held out of training entirely (cold-start items,
        :func:`mmrec_lib.data.cold_start.hold_out_items`): never a training item nor a sampled
        training negative; empty for an ordinary split.
    """

    train_items: np.ndarray
    train_offsets: np.ndarray
    val_item: np.ndarray
    test_item: np.ndarray
    negatives: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    seed: int
    sampling: str
    held_out_items: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of real items; valid item indices are 1..n_items."""
        return len(self.item_ids) - 1

    @property
    def train_lengths(self) -> np.ndarray:
        return np.diff(self.train_offsets)

    def train_sequence(self, user: int) -> np.ndarray:
        """User ``user``'s training items in time order (a view, not a copy)."""
        return self.train_items[self.train_offsets[user] : self.train_offsets[user + 1]]

    def padded_histories(self, max_len: int, include_val: bool = False) -> np.ndarray:
        """(n_users, max_len) last max_len history items per user, left-padded with 0.

        include_val=True appends the validation item: the input for predicting the test item.
        """
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        out = np.full((self.n_users, max_len), PADDING_ITEM, dtype=np.int64)
        width = max_len
        if include_val:
            out[:, -1] = self.val_item
            width -= 1
        taken = np.minimum(self.train_lengths, width)
        rows = np.repeat(np.arange(self.n_users), taken)
        within = np.arange(taken.sum()) - np.repeat(np.cumsum(taken) - taken, taken)
        source = np.repeat(self.train_offsets[1:] - taken, taken) + within
        out[rows, np.repeat(width - taken, taken) + within] = self.train_items[source]
        return out

    def seen_matrix(
        self,
        include_val: bool = False,
        include_test: bool = False,
        include_padding: bool = True,
    ) -> sparse.csr_matrix:
        """CSR (n_users, n_items + 1) boolean matrix of the items each user has seen.

        Training items always; the validation item too with include_val (use that when
        ranking the test item), and the test item with include_test. include_padding marks
        column 0 as well, so the matrix is directly the exclusion mask for full-ranking
        evaluation over item indices 0..n_items.
        """
        parts = [(np.repeat(np.arange(self.n_users), self.train_lengths), self.train_items)]
        all_users = np.arange(self.n_users)
        held_out = [(include_val, self.val_item), (include_test, self.test_item)]
        parts += [(all_users, items) for include, items in held_out if include]
        if include_padding:
            parts.append((all_users, np.full(self.n_users, PADDING_ITEM)))
        rows, cols = (np.concatenate(axis) for axis in zip(*parts, strict=True))
        data = np.ones(len(rows), dtype=bool)
        return sparse.csr_matrix((data, (rows, cols)), shape=(self.n_users, self.n_items + 1))

    def keep_recent(self, fraction: float) -> SequenceSplit:
        """The split with each user's training history cut to its most recent
        ceil(fraction * length) items (at least one); validation and test items and the
        stored negatives unchanged. For sparsity curves: less history, the same test."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
        lengths = self.train_lengths
        kept = np.where(lengths > 0, np.maximum(1, np.ceil(fraction * lengths)), 0).astype(int)
        starts = np.repeat(self.train_offsets[1:] - kept, kept)
        within = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
        offsets = np.concatenate([[0], np.cumsum(kept)]).astype(self.train_offsets.dtype)
        return replace(self, train_items=self.train_items[starts + within], train_offsets=offsets)

    def save(self, path: str | Path) -> Path:
        """Write every array (negatives included) to a compressed ``.npz`` file."""
        path = Path(path)
        arrays = {name: getattr(self, name) for name in (*_SPLIT_ARRAYS, "held_out_items")}
        np.savez_compressed(path, **arrays, seed=self.seed, sampling=self.sampling)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SequenceSplit:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in _SPLIT_ARRAYS}
            if "held_out_items" in stored.files:  # files written before cold-start splits lack it
                arrays["held_out_items"] = stored["held_out_items"]
            return cls(**arrays, seed=int(stored["seed"]), sampling=str(stored["sampling"]))


_SPLIT_ARRAYS = (
    "train_items",
    "train_offsets",
    "val_item",
    "test_item",
    "negatives",
    "user_ids",
    "item_ids",
)


def leave_one_out(
    interactions: pd.DataFrame,
    n_negatives: int | None = 100,
    seed: int = 0,
    sampling: str = "uniform",
    min_length: int = 3,
) -> SequenceSplit:
    """Last item per user for test, second-last for validation, the rest for training.

    Histories are ordered by timestamp; equal timestamps keep the rows' input order.
    A repeated (user, item) pair keeps only its first occurrence, so no test or validation
    item reappears in training (a :class:`~mmrec_lib.data.dataset.Dataset` has none: it keeps
    the latest row of each pair). Users with fewer than min_length distinct items are dropped.
    The n_negatives items per user are drawn once, without replacement, from the items the
    user never interacted with, uniformly or in proportion to how many users interacted
    with each item (sampling="popularity"), using ``default_rng(seed)``.

    n_negatives: at least 1 for the sampled protocol (with 0 every sampled metric would be
        exactly 1.0, so 0 is refused); None for no sampled protocol at all (full ranking
        only): ``negatives`` is then an empty ``(n_users, 0)`` array.
    """
    _require_columns(interactions, ("user", "item", "timestamp"))
    if sampling not in SAMPLING:
        raise ValueError(f"sampling must be one of {SAMPLING}, got {sampling!r}")
    if min_length < 3:
        raise ValueError(f"min_length must be >= 3 (train, val and test item), got {min_length}")
    if n_negatives is not None and (
        isinstance(n_negatives, bool)
        or not isinstance(n_negatives, (int, np.integer))
        or n_negatives < 1
    ):
        raise ValueError(
            f"n_negatives={n_negatives!r}: the sampled protocol needs an integer >= 1 "
            "(with 0 every sampled metric is exactly 1.0); pass n_negatives=None for full "
            "ranking only, without sampled negatives"
        )

    user_index, item_index, user_ids, item_ids = _ordered_distinct_events(interactions)
    lengths = np.bincount(user_index, minlength=len(user_ids))
    kept_users = lengths >= min_length
    if not kept_users.any():
        raise ValueError(f"no user has at least min_length={min_length} distinct items")
    kept_rows = kept_users[user_index]
    user_index, item_index = user_index[kept_rows], item_index[kept_rows]
    kept_items = np.bincount(item_index, minlength=len(item_ids)) > 0
    user_index = (np.cumsum(kept_users) - 1)[user_index]
    item_index = np.cumsum(kept_items)[item_index]  # 1..n_items, 0 left for padding
    user_ids, item_ids, lengths = user_ids[kept_users], item_ids[kept_items], lengths[kept_users]
    ends = np.cumsum(lengths)
    held_out = np.zeros(len(item_index), dtype=bool)
    held_out[ends - 1] = held_out[ends - 2] = True

    split = SequenceSplit(
        train_items=item_index[~held_out],
        train_offsets=np.concatenate([[0], np.cumsum(lengths - 2)]).astype(np.int64),
        val_item=item_index[ends - 2],
        test_item=item_index[ends - 1],
        negatives=np.empty((len(user_ids), 0), dtype=np.int64),
        user_ids=user_ids,
        item_ids=np.concatenate([[-1], item_ids]).astype(np.int64),
        seed=seed,
        sampling=sampling,
    )
    if n_negatives is None:
        return split
    everything = split.seen_matrix(include_val=True, include_test=True)
    weights = (
        np.bincount(item_index, minlength=len(item_ids) + 1) if sampling == "popularity" else None
    )
    negatives = sample_negatives(everything, n_negatives, np.random.default_rng(seed), weights)
    return replace(split, negatives=negatives)


def sample_negatives(
    seen: sparse.spmatrix | sparse.sparray,
    n_negatives: int,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
    chunk_bytes: int = 2**26,
) -> np.ndarray:
    """(n_rows, n_negatives) distinct columns per row that are not marked in ``seen``.

    Columns are drawn uniformly, or with probability proportional to ``weights`` (zero
    weight: never drawn), without replacement within a row: the first n_negatives distinct
    unseen columns of a row's stream of draws. Vectorised over rows, in chunks whose dense
    "taken" mask stays under chunk_bytes; the rare rows still short after a few rounds of
    draws are finished exactly, one by one.
    """
    seen = sparse.csr_matrix(seen, dtype=bool, copy=True)
    seen.sum_duplicates()
    n_rows, n_cols = seen.shape
    drawable = np.ones(n_cols, dtype=bool)
    draw = _uniform_draw(rng, n_cols)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (n_cols,) or not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError(f"weights must be ({n_cols},) finite and >= 0")
        drawable = weights > 0
        draw = _weighted_draw(rng, weights)
    available = drawable.sum() - seen @ drawable.astype(np.int64)
    if n_rows and available.min() < n_negatives:
        raise ValueError(
            f"{int((available < n_negatives).sum())} rows have fewer than {n_negatives} "
            f"unseen items (fewest: {int(available.min())}); lower n_negatives"
        )
    out = np.full((n_rows, n_negatives), -1, dtype=np.int64)
    if n_negatives == 0:
        return out
    chunk_rows = max(1, chunk_bytes // max(n_cols, 1))
    for start in range(0, n_rows, chunk_rows):
        stop = min(start + chunk_rows, n_rows)
        out[start:stop] = _sample_rows(seen[start:stop].toarray(), n_negatives, draw)
    for row in np.flatnonzero((out < 0).any(axis=1)):
        out[row] = _finish_row(out[row], seen[row].toarray().ravel() | ~drawable, rng, weights)
    return out


def _sample_rows(
    taken: np.ndarray, n_negatives: int, draw: Callable[[tuple[int, int]], np.ndarray]
) -> np.ndarray:
    """Accept each row's draws in order unless already taken; unfinished slots stay -1.

    ``taken`` (rows x columns, the seen mask) is updated in place with the accepted columns.
    The loop runs over draw positions, each step vectorised over the rows.
    """
    n_rows = taken.shape[0]
    out = np.full((n_rows, n_negatives), -1, dtype=np.int64)
    count = np.zeros(n_rows, dtype=np.int64)
    pending = np.arange(n_rows)
    width = 2 * n_negatives + 16
    for _ in range(_MAX_VECTORISED_ROUNDS):
        if not pending.size:
            break
        for column in draw((len(pending), width)).T:
            fresh = ~taken[pending, column] & (count[pending] < n_negatives)
            rows, items = pending[fresh], column[fresh]
            taken[rows, items] = True
            out[rows, count[rows]] = items
            count[rows] += 1
        pending = pending[count[pending] < n_negatives]
        width *= 2
    return out


def _finish_row(
    row: np.ndarray, excluded: np.ndarray, rng: np.random.Generator, weights: np.ndarray | None
) -> np.ndarray:
    """Complete a row's -1 slots exactly from the columns neither excluded nor chosen."""
    have = row[row >= 0]
    excluded[have] = True
    candidates = np.flatnonzero(~excluded)
    p = None if weights is None else weights[candidates] / weights[candidates].sum()
    extra = rng.choice(candidates, size=len(row) - len(have), replace=False, p=p)
    return np.concatenate([have, extra])


def _uniform_draw(rng: np.random.Generator, n_cols: int) -> Callable:
    return lambda shape: rng.integers(0, n_cols, size=shape)


def _weighted_draw(rng: np.random.Generator, weights: np.ndarray) -> Callable:
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]  # exactly 1.0 at the end, so every uniform in [0, 1) lands on a column
    return lambda shape: np.searchsorted(cdf, rng.random(shape), side="right")


def _ordered_distinct_events(
    interactions: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user_index, item_index, user_ids, item_ids): rows sorted by user, then timestamp.

    Indices are 0-based codes into the sorted original ids. Equal timestamps keep the input
    row order (two stable sorts); a repeated (user, item) pair keeps its earliest row.
    """
    user_index, user_ids = pd.factorize(interactions["user"], sort=True)
    item_index, item_ids = pd.factorize(interactions["item"], sort=True)
    by_time = np.argsort(interactions["timestamp"].to_numpy(), kind="stable")
    order = by_time[np.argsort(user_index[by_time], kind="stable")]
    user_index, item_index = user_index[order], item_index[order]
    distinct = sparse.csr_matrix(  # counting sort: far cheaper than hashing every pair
        (np.ones(len(order), dtype=bool), (user_index, item_index)),
        shape=(len(user_ids), len(item_ids)),
    )
    if distinct.nnz < len(order):
        pairs = user_index.astype(np.int64) * len(item_ids) + item_index
        first = ~pd.Series(pairs).duplicated(keep="first").to_numpy()
        user_index, item_index = user_index[first], item_index[first]
    return user_index, item_index, np.asarray(user_ids), np.asarray(item_ids)


def _occurrences(column: pd.Series) -> np.ndarray:
    """How often each row's value occurs in the column (hash-based, no sort)."""
    codes, _ = pd.factorize(column)
    return np.bincount(codes)[codes]


def _require_columns(interactions: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in interactions.columns]
    if missing:
        raise ValueError(f"interactions lack columns {missing}; expected user, item, ...")
