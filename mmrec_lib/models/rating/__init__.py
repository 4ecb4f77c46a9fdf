"""Paper A's rating-prediction models; each maps (user index, item index) to a rating.

Every model has ``forward(users, items)`` (predicted ratings) and ``loss(users, items,
ratings)`` (MSE plus its own regularisers, documented in its module).
"""

from __future__ import annotations

from torch import nn

from mmrec_lib.models.rating.mf import MF
from mmrec_lib.models.rating.mf_nn import MFNN
from mmrec_lib.models.rating.nn import NN
from mmrec_lib.models.rating.tsem import TSEM

RATING_MODELS = {"nn": NN, "mf": MF, "mf_nn": MFNN, "tsem": TSEM}


def build_rating_model(name: str, **kwargs) -> nn.Module:
    """The model called ``name`` (a key of RATING_MODELS), built with ``kwargs``."""
    if name not in RATING_MODELS:
        raise ValueError(f"unknown rating model {name!r}; known: {sorted(RATING_MODELS)}")
    return RATING_MODELS[name](**kwargs)
