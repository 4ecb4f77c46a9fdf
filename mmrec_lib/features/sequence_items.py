"""Item inputs of paper B's models, aligned to a leave-one-out split's item index.

Row ``i`` of each matrix is split item ``i`` (row 0 is the padding item, all zeros). What is
learned from interactions (paper B's XGBoost tabular embeddings) is fitted on the split's
training interactions only: validation and test items never reach it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmrec_lib.data.dataset import Dataset
from mmrec_lib.data.splits import SequenceSplit

MODALITIES = ("text", "image", "tabular")
TABULAR_KINDS = ("table", "xgboost")
"""``table``: one-hot and scaled item attributes; ``xgboost``: paper B's leaf embeddings."""


def training_interactions(dataset: Dataset, split: SequenceSplit) -> pd.DataFrame:
    """The rows of ``dataset.interactions`` whose (user, item) is in the split's training part."""
    users = np.repeat(split.user_ids, split.train_lengths)
    pairs = pd.DataFrame({"user": users, "item": split.item_ids[split.train_items]})
    return dataset.interactions.merge(pairs, on=["user", "item"])


def genre_multi_hot(dataset: Dataset, split: SequenceSplit) -> np.ndarray:
    """(n_items + 1, n_genres) 0/1 genre vector of each split item: KeBERT4Rec's keywords."""
    genres = dataset.items["genres"].reindex(split.item_ids[1:])
    if genres.isna().any():
        raise ValueError("some split items are missing from dataset.items")
    column = {genre: j for j, genre in enumerate(dataset.genres)}
    rows = np.repeat(np.arange(1, split.n_items + 1), genres.map(len).to_numpy())
    cols = [column[g] for item_genres in genres for g in item_genres]
    out = np.zeros((split.n_items + 1, len(dataset.genres)), dtype=np.float32)
    out[rows, cols] = 1.0
    return out


def fused_item_features(
    dataset: Dataset,
    split: SequenceSplit,
    modalities: Sequence[str] = MODALITIES,
    fusion: str = "concat",
    text_encoder: str = "minilm",
    image_encoder: str = "efficientnet-lite0",
    tabular: str = "table",
    sum_dim: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """(n_items + 1, d_aux) fused item features k_v of SASRec+ / BERT4Rec+.

    text: the encoded plot; image: the encoded poster; tabular: the item attribute table, or
    paper B's XGBoost leaf embeddings fitted on the split's training interactions (the
    split's held-out cold-start items fit neither). Fused by
    :func:`mmrec_lib.features.fuse` (``"concat"``, or ``"sum"`` into ``sum_dim`` columns);
    ``seed`` seeds XGBoost, its SVD and the summed fusion's projections.
    """
    from mmrec_lib import features

    modalities = list(modalities)
    unknown = sorted(set(modalities) - set(MODALITIES))
    if unknown or not modalities:
        raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}: {unknown}")
    if tabular not in TABULAR_KINDS:
        raise ValueError(f"tabular must be one of {TABULAR_KINDS}, got {tabular!r}")

    held_out = split.item_ids[split.held_out_items]  # cold-start items fit nothing

    def tabular_table():
        if tabular == "table":
            return features.tabular_item_table(dataset, held_out=held_out)
        train = training_interactions(dataset, split)
        return features.xgboost_item_embeddings(dataset, train, seed=seed, held_out=held_out)

    builders = {
        "text": lambda: features.item_text_features(dataset, encoder=text_encoder),
        "image": lambda: features.item_image_features(dataset, encoder=image_encoder),
        "tabular": tabular_table,
    }
    tables = {name: builders[name]() for name in modalities}
    fused = features.fuse(tables, modalities, fusion, dim=sum_dim, seed=seed)
    matrix = fused.align(split.item_ids[1:]).matrix
    return np.vstack([np.zeros((1, matrix.shape[1]), dtype=np.float32), matrix])
