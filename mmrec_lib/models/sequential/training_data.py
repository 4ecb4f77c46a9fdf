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
    seen: sparse.csr_matrix, users: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """(len(users), *shape) item indices in 1..n_items, each unseen by its user in training.

    seen: ``split.seen_matrix()`` (n_users, n_items + 1), computed once per epoch.
    """
    n_items = seen.shape[1] - 1
    seen = seen[users].toarray()
    seen[:, PADDING_ITEM] = True
    if seen.all(axis=1).any():
        raise ValueError("a user has interacted with every item: no negative can be drawn")
    draws = rng.integers(1, n_items + 1, size=(len(users), *shape))
    rows = np.broadcast_to(np.arange(len(users)).reshape(-1, *[1] * len(shape)), draws.shape)
    clash = seen[rows, draws]
    while clash.any():
        draws[clash] = rng.integers(1, n_items + 1, size=int(clash.sum()))
        clash = seen[rows, draws]
    return draws


def next_item_targets(split: SequenceSplit, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets), each (n_users, max_len): targets[:, t] is the item after inputs[:, t].

    Left-padded with 0; a target is 0 wherever its input is padding (nothing to predict from).
    """
    window = split.padded_histories(max_len + 1)
    inputs, targets = window[:, :-1], window[:, 1:].copy()
    targets[inputs == PADDING_ITEM] = PADDING_ITEM
    return inputs, targets


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
