"""Cold-start items: a random share of the items held out of training entirely.

A cold item keeps its index (so a model can still score it, from its content or from an
embedding that never trained) but leaves every user's training history and validation
item; it remains only where it is a user's test item, and among the candidates. What then
keeps it out of training is recorded on the split (``held_out_items``): the models draw no
sampled negative from it and mask it from full-softmax losses, feature fitting (XGBoost,
scalers) skips it and popularity counts never see it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mmrec_lib.data.splits import RatingSplit, SequenceSplit


def hold_out_items(split: SequenceSplit, fraction: float, seed: int = 0) -> SequenceSplit:
    """The split with round(fraction * n_items) items, drawn uniformly with
    ``default_rng(seed)``, held out of training.

    Every training interaction with a cold item is dropped. A user whose validation item is
    cold gets their last warm training item as validation item instead, as if the cold
    interactions had never happened; users left without a warm training item (or warm
    validation item) are dropped. Test items, stored negatives and the item index are kept.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"the share of cold items must lie in (0, 1), got {fraction!r}")
    if len(split.held_out_items):
        raise ValueError("the split already holds items out of training")
    rng = np.random.default_rng(seed)
    n_cold = max(1, round(fraction * split.n_items))
    cold = np.sort(rng.choice(np.arange(1, split.n_items + 1), n_cold, replace=False))
    is_cold = np.zeros(split.n_items + 1, dtype=bool)
    is_cold[cold] = True

    owners = np.repeat(np.arange(split.n_users), split.train_lengths)
    warm = ~is_cold[split.train_items]
    items, owners = split.train_items[warm], owners[warm]
    lengths = np.bincount(owners, minlength=split.n_users)
    val_item = split.val_item.copy()
    moved = is_cold[val_item] & (lengths > 0)
    last = np.cumsum(lengths)[moved] - 1  # each moved user's last warm training item
    val_item[moved] = items[last]
    items, owners = np.delete(items, last), np.delete(owners, last)
    lengths[moved] -= 1

    kept = ~is_cold[val_item] & (lengths > 0)
    keep_rows = kept[owners]
    return replace(
        split,
        train_items=items[keep_rows],
        train_offsets=np.concatenate([[0], np.cumsum(lengths[kept])]).astype(np.int64),
        val_item=val_item[kept],
        test_item=split.test_item[kept],
        negatives=split.negatives[kept],
        user_ids=split.user_ids[kept],
        held_out_items=cold.astype(np.int64),
    )


def hold_out_rated_items(split: RatingSplit, fraction: float, seed: int = 0) -> RatingSplit:
    """The rating split with round(fraction * n_items) of its items, drawn uniformly with
    ``default_rng(seed)``, held out: their training and validation ratings are dropped, their
    test ratings kept (paper A's cold-start items)."""
    if not 0 < fraction < 1:
        raise ValueError(f"the share of cold items must lie in (0, 1), got {fraction!r}")
    if len(split.held_out_items):
        raise ValueError("the split already holds items out of training")
    items = np.unique(
        np.concatenate([part["item"] for part in (split.train, split.val, split.test)])
    )
    rng = np.random.default_rng(seed)
    cold = np.sort(rng.choice(items, max(1, round(fraction * len(items))), replace=False))
    return replace(
        split,
        train=split.train[~split.train["item"].isin(cold)],
        val=split.val[~split.val["item"].isin(cold)],
        held_out_items=cold.astype(np.int64),
    )


def cold_test_users(split: SequenceSplit) -> np.ndarray:
    """(n_users,) True where the user's test item is a held-out (cold) item."""
    return np.isin(split.test_item, split.held_out_items)
