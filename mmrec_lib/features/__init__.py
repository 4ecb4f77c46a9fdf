"""Item (and user) features for the models: id-aligned tables per modality, encoded once and
cached on disk.

- :mod:`~mmrec_lib.features.item_features`: the :class:`ItemFeatures` table.
- :mod:`~mmrec_lib.features.text`: description cleaning and text encoders.
- :mod:`~mmrec_lib.features.image`: poster loading, image encoders, training augmentations.
- :mod:`~mmrec_lib.features.tabular`: one-hot tables, XGBoost embeddings, genre frequencies,
  tag genome, PCA.
- :mod:`~mmrec_lib.features.fusion`: concatenation or summation of modalities.
- :mod:`~mmrec_lib.features.cache`: the on-disk feature cache.

Importing this package is cheap; torch, transformers and xgboost load on first use.
"""

from mmrec_lib.features.fusion import fuse
from mmrec_lib.features.image import (
    IMAGE_ENCODERS,
    encode_images,
    item_image_features,
    load_poster,
    training_augmentation,
)
from mmrec_lib.features.item_features import ItemFeatures
from mmrec_lib.features.tabular import (
    fit_rating_booster,
    genome_item_features,
    leaf_embeddings,
    pca_reduce,
    tabular_item_table,
    user_genre_frequency,
    xgboost_item_embeddings,
)
from mmrec_lib.features.text import (
    NO_PREPROCESSING,
    PAPER_A_PREPROCESSING,
    TEXT_ENCODERS,
    TextPreprocessing,
    encode_texts,
    item_text_features,
)

__all__ = [
    "IMAGE_ENCODERS",
    "NO_PREPROCESSING",
    "PAPER_A_PREPROCESSING",
    "TEXT_ENCODERS",
    "ItemFeatures",
    "TextPreprocessing",
    "encode_images",
    "encode_texts",
    "fit_rating_booster",
    "fuse",
    "genome_item_features",
    "item_image_features",
    "item_text_features",
    "leaf_embeddings",
    "load_poster",
    "pca_reduce",
    "tabular_item_table",
    "training_augmentation",
    "user_genre_frequency",
    "xgboost_item_embeddings",
]
