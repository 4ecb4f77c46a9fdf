"""Paper B's sequential recommenders and their registry.

Every model is built the same way, ``cls.from_split(split, aux=..., **hyperparameters)``, and
scored the same way, ``score(histories, candidates, users)`` and ``score_all(histories,
users)``. Neural models (``torch.nn.Module``) are trained by the shared loop through
``training_batches`` and ``loss``; PopRec is a counter, fitted by ``from_split``, and Content
kNN (beyond paper B: the cold-start baseline) needs no fitting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmrec_lib.models import constructor_parameters
from mmrec_lib.models.sequential._common import last_query_attention
from mmrec_lib.models.sequential.bert4rec import BERT4Rec, KeBERT4Rec
from mmrec_lib.models.sequential.bpr import BPR
from mmrec_lib.models.sequential.content_knn import ContentKNN
from mmrec_lib.models.sequential.poprec import PopRec
from mmrec_lib.models.sequential.sasrec import SASRec
from mmrec_lib.models.sequential.transrec import TransRec

ITEM_INPUTS = ("keywords", "fused")
"""Item features a model can read: genre multi-hot keywords, or the fused modalities."""


@dataclass(frozen=True)
class SequentialModel:
    """A registry entry: the class, its label in paper B's tables, the item input it reads."""

    cls: type
    label: str
    item_input: str | None = None


SEQUENTIAL_MODELS = {
    "poprec": SequentialModel(PopRec, "PopRec"),
    "bpr": SequentialModel(BPR, "BPR"),
    "transrec": SequentialModel(TransRec, "TransRec"),
    "bert4rec": SequentialModel(BERT4Rec, "BERT4Rec"),
    "kebert4rec": SequentialModel(KeBERT4Rec, "KeBERT4Rec", "keywords"),
    "sasrec": SequentialModel(SASRec, "SASRec"),
    "bert4rec+": SequentialModel(BERT4Rec, "BERT4Rec+", "fused"),
    "sasrec+": SequentialModel(SASRec, "SASRec+", "fused"),
    "content-knn": SequentialModel(ContentKNN, "Content kNN", "fused"),
}
"""Table 1's models in the paper's column order, then ours beyond it."""
MODEL_LABELS = {name: spec.label for name, spec in list(SEQUENTIAL_MODELS.items())[:8]}
"""Paper B's Table 1: its models' labels, in its column order."""


def sequential_model(name: str) -> SequentialModel:
    """The registry entry of ``name``; ValueError naming the known models otherwise."""
    if name not in SEQUENTIAL_MODELS:
        raise ValueError(
            f"unknown sequential model {name!r}; choose from {list(SEQUENTIAL_MODELS)}"
        )
    return SEQUENTIAL_MODELS[name]


def shared_settings(cls: type, **settings: Any) -> dict:
    """The settings shared by all models (hidden size ``d``, ``max_len``) that ``cls`` takes."""
    taken = constructor_parameters(cls)
    return {name: value for name, value in settings.items() if name in taken}


__all__ = [
    "BERT4Rec",
    "BPR",
    "ContentKNN",
    "ITEM_INPUTS",
    "KeBERT4Rec",
    "MODEL_LABELS",
    "PopRec",
    "SASRec",
    "SEQUENTIAL_MODELS",
    "SequentialModel",
    "TransRec",
    "last_query_attention",
    "sequential_model",
    "shared_settings",
]
