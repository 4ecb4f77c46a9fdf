"""Paper A's rating-prediction models and their registry.

Every model maps (user index, item index) to a rating with ``forward(users, items)``, has
``loss(users, items, ratings)`` (MSE plus its own regularisers, documented in its module) and
is built the same way, ``cls.from_inputs(inputs, global_mean, **hyperparameters)``, from a
:class:`~mmrec_lib.models.rating.data.RatingInputs`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmrec_lib.models.rating.mf import MF
from mmrec_lib.models.rating.mf_nn import MFNN
from mmrec_lib.models.rating.nn import NN
from mmrec_lib.models.rating.tsem import TSEM


@dataclass(frozen=True)
class RatingModel:
    """A registry entry: the class, its label in paper A's Table 9, the side information it
    reads (fields of ``RatingInputs``), whether paper A trains it with its schedule
    (cosine learning rate and progressive data, section 8), and the inputs whose encoders
    can be fine-tuned with it (``ItemTower``s in place of frozen features)."""

    cls: type
    label: str
    inputs: tuple[str, ...] = ()
    paper_schedule: bool = False
    fine_tunable: tuple[str, ...] = ()


RATING_MODELS = {
    "nn": RatingModel(NN, "NN", ("tabular",)),
    "mf": RatingModel(MF, "MF"),
    "mf_nn": RatingModel(MFNN, "MF_NN", ("cast", "description", "genres")),
    "tsem": RatingModel(
        TSEM,
        "TSEM",
        ("tabular", "poster", "description", "user_genre_frequency"),
        paper_schedule=True,
        fine_tunable=("poster", "description"),
    ),
}
MODEL_NAMES = tuple(RATING_MODELS)
MODEL_LABELS = {name: spec.label for name, spec in RATING_MODELS.items()}


def rating_model(name: str) -> RatingModel:
    """The registry entry of ``name``; ValueError naming the known models otherwise."""
    if name not in RATING_MODELS:
        raise ValueError(f"unknown rating model {name!r}; known: {list(RATING_MODELS)}")
    return RATING_MODELS[name]


__all__ = ["MF", "MFNN", "MODEL_LABELS", "MODEL_NAMES", "NN", "RATING_MODELS", "TSEM",
           "RatingModel", "rating_model"]  # fmt: skip
