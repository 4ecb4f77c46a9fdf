"""Training examples the sequential models draw from a :class:`SequenceSplit`.

Only training items are used (never the validation or test item). Negatives are items the
user has not interacted with in training, drawn uniformly by vectorised rejection rounds
(each round redraws only the draws that hit a seen item).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from mmrec_lib.data.splits import PADDING_ITEM, SequenceSplit


def sample_unseen(
    seen: sparse.csr_matrix,
    users: np.ndarray,
    shape: tuple[int, ...],
    rng: np.random.Generator,
    excluded: np.ndarray | None = None,
) -> np.ndarray:
    """(len(users), *shape) item indices in 1..n_items, each unseen by its user in training
    and none of ``excluded`` (the split's held-out cold-start items).

    seen: ``split.seen_matrix()`` (n_users, n_items + 1), computed once per epoch.
    """
    n_items = seen.shape[1] - 1
    seen = seen[users].toarray()
    seen[:, PADDING_ITEM] = True
    if excluded is not None:
        seen[:, excluded] = True
    if seen.all(axis=1).any():
        raise ValueError("a user has interacted with every item: no negative can be drawn")
    draws = rng.integers(1, n_items + 1, size=(len(users), *shape))
    rows = np.broadcast_to(np.arange(len(users)).reshape(-1, *[1] * len(shape)), draws.shape)
    clash = seen[rows, draws]
    while clash.any():
        draws[clash] = rng.integers(1, n_items + 1, size=int(clash.sum()))
        clash = seen[rows, draws]
    return draws


WINDOWS = ("last", "all")


def training_windows(
    split: SequenceSplit, length: int, step: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(windows, users): slices of ``length`` training items, left-padded with 0, and the user
    of each.

    step None: one window per user, its last ``length`` items (what the original SASRec and
    BERT4Rec code train on). step k: windows ending at the last item and then every k items
    back, until the history's start is covered, so a history longer than ``length`` is used
    whole (with k = length - 1 consecutive windows share one item, and every transition of
    the history lies in exactly one window). Users without training items get no window.
    """
    if length < 1 or (step is not None and not 1 <= step <= length):
        raise ValueError(f"need length >= 1 and 1 <= step <= length, got {length}, {step}")
    lengths = split.train_lengths
    if step is None:
        counts = (lengths > 0).astype(np.int64)
    else:
        counts = np.where(lengths > 0, 1 + np.maximum(lengths - length, 0) // step, 0)
        counts += (lengths > length) & ((lengths - length) % step > 0)
    users = np.repeat(np.arange(split.n_users), counts)
    rank = np.arange(len(users)) - np.repeat(np.cumsum(counts) - counts, counts)
    ends = lengths[users] - rank * (step or 0)  # exclusive end within the user's history
    positions = ends[:, None] - length + np.arange(length)[None, :]
    absolute = split.train_offsets[users][:, None] + positions
    items = split.train_items[np.clip(absolute, 0, len(split.train_items) - 1)]
    return np.where(positions >= 0, items, PADDING_ITEM), users


def next_item_targets(
    split: SequenceSplit, max_len: int, windows: str = "last"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, targets, users), inputs and targets (n_windows, max_len): targets[:, t] is
    the item after inputs[:, t]; users: each row's user.

    windows "last": each user's last max_len + 1 training items; "all": the whole history,
    in windows of max_len + 1 items that overlap by one (:func:`training_windows`).
    Left-padded with 0; a target is 0 wherever its input is padding (nothing to predict from).
    """
    if windows not in WINDOWS:
        raise ValueError(f"windows must be one of {WINDOWS}, got {windows!r}")
    window, users = training_windows(split, max_len + 1, None if windows == "last" else max_len)
    inputs, targets = window[:, :-1], window[:, 1:].copy()
    targets[inputs == PADDING_ITEM] = PADDING_ITEM
    return inputs, targets, users


def user_item_pairs(split: SequenceSplit) -> tuple[np.ndarray, np.ndarray]:
    """Every (user, item) training interaction, as two aligned arrays."""
    users = np.repeat(np.arange(split.n_users), split.train_lengths)
    return users, split.train_items.copy()


def transitions(split: SequenceSplit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (user, previous item, next item) of consecutive training items."""
    users, items = user_item_pairs(split)
    follows = np.ones(len(items), dtype=bool)
    follows[split.train_offsets[:-1][split.train_lengths > 0]] = False
    where = np.flatnonzero(follows)
    return users[where], items[where - 1], items[where]
