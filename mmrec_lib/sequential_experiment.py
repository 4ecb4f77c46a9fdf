"""Train and evaluate paper B's sequential recommenders; its Table 1, ours beside the paper's.

A run is (split, model name, hyperparameters, TrainConfig) -> :class:`SequentialResult`
with per-user metric arrays under two protocols (Krichene & Rendle 2020):

- ``"sampled"``: the held-out item against the split's 100 stored negatives (the same for
  every model), as in paper B;
- ``"full"``: the held-out item against every item the user has not interacted with in
  training (nor, when ranking the test item, the validation item).

Leave-one-out: the validation item is ranked from the training history (early stopping on
sampled NDCG@10); the test item from the training history followed by the validation item.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from mmrec_lib.data.dataset import Dataset
from mmrec_lib.data.splits import SequenceSplit
from mmrec_lib.metrics.ranking import ranking_metrics, ranks_from_scores
from mmrec_lib.training import TrainConfig

PROTOCOLS = ("sampled", "full")
STAGES = ("val", "test")
TABLE_METRICS = ("HR@1", "HR@5", "HR@10", "NDCG@5", "NDCG@10", "MAP")
MODEL_LABELS = {
    "poprec": "PopRec",
    "bpr": "BPR",
    "transrec": "TransRec",
    "bert4rec": "BERT4Rec",
    "kebert4rec": "KeBERT4Rec",
    "sasrec": "SASRec",
    "bert4rec+": "BERT4Rec+",
    "sasrec+": "SASRec+",
}
"""Table 1's columns, in the paper's order."""
AUXILIARY_INPUT = {"kebert4rec": "keywords", "bert4rec+": "fused", "sasrec+": "fused"}
"""Which item features a model takes: genre multi-hot keywords, or the fused modalities."""
AUX_MODALITIES = ("text", "image", "tabular")

# Paper B (SASRec+ with auxiliary information), Table 1: "Performance of each recommendation
# model", sampled protocol (1 positive + 100 negatives). Columns in the paper's order;
# "Improve" is the paper's percentage improvement of SASRec+ over the best baseline.
_PAPER_COLUMNS = (*MODEL_LABELS.values(), "Improve")
_PAPER_ROWS = {
    "ML-20M": {
        "HR@1": (0.014, 0.202, 0.217, 0.227, 0.229, 0.429, 0.229, 0.431, 0.4),
        "HR@5": (0.054, 0.489, 0.563, 0.569, 0.568, 0.802, 0.570, 0.818, 2.0),
        "HR@10": (0.081, 0.630, 0.755, 0.740, 0.746, 0.904, 0.746, 0.920, 1.7),
        "NDCG@5": (0.034, 0.350, 0.394, 0.403, 0.404, 0.629, 0.405, 0.638, 1.4),
        "NDCG@10": (0.043, 0.396, 0.457, 0.445, 0.461, 0.679, 0.462, 0.706, 4.0),
        "MAP": (0.046, 0.338, 0.379, 0.387, 0.387, 0.387, 0.388, 0.597, 53.9),
    },
    "Fashion": {
        "HR@1": (0.001, 0.049, 0.057, 0.049, 0.069, 0.437, 0.075, 0.525, 16.9),
        "HR@5": (0.001, 0.208, 0.214, 0.199, 0.244, 0.760, 0.244, 0.883, 16.3),
        "HR@10": (0.020, 0.229, 0.266, 0.284, 0.266, 0.870, 0.267, 0.955, 9.7),
        "NDCG@5": (0.001, 0.130, 0.133, 0.122, 0.162, 0.608, 0.166, 0.720, 18.4),
        "NDCG@10": (0.007, 0.136, 0.151, 0.161, 0.169, 0.643, 0.176, 0.713, 11.0),
        "MAP": (0.015, 0.114, 0.126, 0.120, 0.149, 0.580, 0.154, 0.677, 16.8),
    },
}
PAPER_TABLE1 = {
    dataset: pd.DataFrame(rows, index=_PAPER_COLUMNS).T.rename_axis("metric")
    for dataset, rows in _PAPER_ROWS.items()
}
"""Paper B's Table 1 per dataset ("ML-20M", "Fashion"): rows = metrics, columns = models."""


@dataclass
class SequentialResult:
    """One trained model: per-user metric arrays per protocol, training history, timings,
    and the trained model itself (its best validation epoch's weights)."""

    model: str
    metrics: dict[str, dict[str, np.ndarray]]
    history: pd.DataFrame | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    trained: Any = field(default=None, repr=False)

    def mean(self, protocol: str = "sampled") -> dict[str, float]:
        return {name: float(values.mean()) for name, values in self.metrics[protocol].items()}


def genre_multi_hot(dataset: Dataset, split: SequenceSplit) -> np.ndarray:
    """(n_items + 1, n_genres) 0/1 genre vector of each split item (row 0 = padding zeros).

    KeBERT4Rec's keyword input; also the fallback auxiliary feature.
    """
    genres = dataset.items["genres"].reindex(split.item_ids[1:])
    if genres.isna().any():
        raise ValueError("some split items are missing from dataset.items")
    column = {genre: j for j, genre in enumerate(dataset.genres)}
    rows = np.repeat(np.arange(1, split.n_items + 1), genres.map(len).to_numpy())
    cols = [column[g] for item_genres in genres for g in item_genres]
    out = np.zeros((split.n_items + 1, len(dataset.genres)), dtype=np.float32)
    out[rows, cols] = 1.0
    return out


def auxiliary_features(
    dataset: Dataset,
    split: SequenceSplit,
    modalities: Iterable[str] = AUX_MODALITIES,
    fusion: str = "concat",
    text_encoder: str = "minilm",
    image_encoder: str = "efficientnet-lite0",
    sum_dim: int = 128,
    seed: int = 0,
) -> np.ndarray:
    """(n_items + 1, d_aux) fused item features k_v for SASRec+/BERT4Rec+ (row 0 = padding).

    text: the encoded plot (:func:`mmrec_lib.features.item_text_features`); image: the encoded
    poster; tabular: paper B's XGBoost leaf embeddings, fitted on the split's training
    interactions only (no validation or test rating leaks in); fused by
    :func:`mmrec_lib.features.fuse` ("concat", or "sum" into ``sum_dim`` columns).
    """
    from mmrec_lib import features

    modalities = list(modalities)
    unknown = sorted(set(modalities) - set(AUX_MODALITIES))
    if unknown or not modalities:
        raise ValueError(f"modalities must be a non-empty subset of {AUX_MODALITIES}: {unknown}")
    builders = {
        "text": lambda: features.item_text_features(dataset, encoder=text_encoder),
        "image": lambda: features.item_image_features(dataset, encoder=image_encoder),
        "tabular": lambda: features.xgboost_item_embeddings(
            dataset, training_interactions(dataset, split), seed=seed
        ),
    }
    tables = {name: builders[name]() for name in modalities}
    fused = features.fuse(tables, modalities, fusion, dim=sum_dim, seed=seed)
    matrix = fused.align(split.item_ids[1:]).matrix
    return np.vstack([np.zeros((1, matrix.shape[1]), dtype=np.float32), matrix])


def training_interactions(dataset: Dataset, split: SequenceSplit) -> pd.DataFrame:
    """The rows of ``dataset.interactions`` whose (user, item) is in the split's training part."""
    users = np.repeat(split.user_ids, split.train_lengths)
    pairs = pd.DataFrame({"user": users, "item": split.item_ids[split.train_items]})
    return dataset.interactions.merge(pairs, on=["user", "item"])


def build_model(
    name: str,
    split: SequenceSplit,
    aux_features: np.ndarray | None = None,
    keywords: np.ndarray | None = None,
    **hyperparameters: Any,
):
    """An untrained model by Table 1 name (``MODEL_LABELS``); "+" names need aux_features."""
    from mmrec_lib.models.sequential import SEQUENTIAL_MODELS

    if name not in MODEL_LABELS:
        raise ValueError(f"unknown model {name!r}; choose from {list(MODEL_LABELS)}")
    cls = SEQUENTIAL_MODELS[name.removesuffix("+")]
    needs = AUXILIARY_INPUT.get(name)
    if needs == "keywords" and keywords is None:
        raise ValueError("kebert4rec needs keywords= (e.g. genre_multi_hot(dataset, split))")
    if needs == "fused" and aux_features is None:
        raise ValueError(f"{name} needs aux_features= ((n_items + 1, d_aux) item features)")
    if name == "poprec":
        return cls(**hyperparameters)
    if name in ("bpr", "transrec"):
        return cls(split.n_users, split.n_items, **hyperparameters)
    if name == "kebert4rec":
        return cls(split.n_items, keywords, **hyperparameters)
    if needs == "fused":
        hyperparameters["aux_features"] = aux_features
    return cls(split.n_items, **hyperparameters)


def evaluate(
    model: Any,
    split: SequenceSplit,
    protocol: str = "sampled",
    stage: str = "test",
    max_len: int = 50,
    batch_size: int = 256,
    device: str = "auto",
) -> dict[str, np.ndarray]:
    """Per-user ranking metrics (``ranking_metrics``) of the val or test item.

    Scores are computed in batches of users, on tensors: the 101 candidates by gathering
    item embeddings (sampled), every item by one matrix product (full).
    """
    return ranking_metrics(
        rank_held_out(model, split, protocol, stage, max_len, batch_size, device)
    )


def rank_held_out(
    model: Any,
    split: SequenceSplit,
    protocol: str = "sampled",
    stage: str = "test",
    max_len: int = 50,
    batch_size: int = 256,
    device: str = "auto",
) -> np.ndarray:
    """(n_users,) 0-based rank of each user's held-out item under a protocol."""
    import torch

    from mmrec_lib.training import resolve_device

    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    device = resolve_device(device)
    if isinstance(model, torch.nn.Module):
        model.to(device).eval()
    test = stage == "test"
    histories = split.padded_histories(max_len, include_val=test)
    targets = split.test_item if test else split.val_item
    exclude = split.seen_matrix(include_val=test) if protocol == "full" else None
    ranks = []
    with torch.no_grad():
        for start in range(0, split.n_users, batch_size):
            users = np.arange(start, min(start + batch_size, split.n_users))
            history = torch.as_tensor(histories[users], device=device)
            if protocol == "sampled":
                candidates = np.column_stack([targets[users], split.negatives[users]])
                scores = model.score(history, torch.as_tensor(candidates, device=device), users)
                ranks.append(ranks_from_scores(scores))
            else:
                scores = model.score_all(history, users)
                ranks.append(ranks_from_scores(scores, targets[users], exclude[users]))
    return np.concatenate(ranks)


def run_model(
    name: str,
    split: SequenceSplit,
    config: TrainConfig | None = None,
    aux_features: np.ndarray | None = None,
    keywords: np.ndarray | None = None,
    max_len: int = 50,
    d: int | None = None,
    batch_size: int | None = None,
    eval_batch_size: int = 256,
    **hyperparameters: Any,
) -> SequentialResult:
    """Build, train (early stopping on validation NDCG@10, sampled) and test one model.

    max_len: history length scored (and the transformers' positions); d: hidden size of
    every neural model and batch_size its training batch (None: each model's default:
    128 sequences for the transformers, 1024 pairs for BPR and TransRec);
    hyperparameters: the model's own.
    """
    from mmrec_lib.training import fit

    config = config or TrainConfig()
    if name != "poprec" and d is not None:
        hyperparameters["d"] = d
    if name not in ("poprec", "bpr", "transrec"):
        hyperparameters["max_len"] = max_len
    model = build_model(name, split, aux_features, keywords, **hyperparameters)
    started = time.perf_counter()
    history = None
    if name == "poprec":
        model.fit(split)
    else:

        def train_batches(rng: np.random.Generator, _history: Any):
            if batch_size is None:
                return model.training_batches(split, rng)
            return model.training_batches(split, rng, batch_size)

        def validate(trained: Any) -> float:
            metrics = evaluate(
                trained, split, "sampled", "val", max_len, eval_batch_size, config.device
            )
            return float(metrics["NDCG@10"].mean())

        history = fit(
            model,
            train_batches,
            lambda trained, batch: trained.loss(batch),
            validate,
            config,
            metric="NDCG@10",
            mode="max",
        ).to_frame()
    seconds = {"train": time.perf_counter() - started}
    metrics = {}
    for protocol in PROTOCOLS:
        started = time.perf_counter()
        metrics[protocol] = evaluate(
            model, split, protocol, "test", max_len, eval_batch_size, config.device
        )
        seconds[f"eval_{protocol}"] = time.perf_counter() - started
    return SequentialResult(name, metrics, history, seconds, trained=model)


def run_models(
    names: Iterable[str],
    split: SequenceSplit,
    config: TrainConfig | None = None,
    hyperparameters: Mapping[str, Mapping[str, Any]] | None = None,
    **shared: Any,
) -> dict[str, SequentialResult]:
    """:func:`run_model` for each name; per-model hyperparameters by name, ``shared`` for all.

    Each model is trained from the same seed (config.seed).
    """
    config = config or TrainConfig()
    hyperparameters = hyperparameters or {}
    return {
        name: run_model(name, split, replace(config), **shared, **hyperparameters.get(name, {}))
        for name in names
    }


def table1(results: Mapping[str, SequentialResult], protocol: str = "sampled") -> pd.DataFrame:
    """Rows = Table 1's metrics, columns = models (paper order) and "Improve".

    Improve = 100 * (SASRec+ / best other model - 1), in percent, as in the paper; NaN when
    SASRec+ or every other model is missing.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    unknown = set(results) - set(MODEL_LABELS)
    if unknown:
        raise ValueError(f"unknown models {sorted(unknown)}; Table 1 has {list(MODEL_LABELS)}")
    columns = {
        MODEL_LABELS[name]: pd.Series(results[name].mean(protocol))
        for name in MODEL_LABELS
        if name in results
    }
    table = pd.DataFrame(columns).reindex(list(TABLE_METRICS)).rename_axis("metric")
    baselines = table.drop(columns="SASRec+", errors="ignore")
    if "SASRec+" in table and not baselines.empty:
        table["Improve"] = 100 * (table["SASRec+"] / baselines.max(axis=1) - 1)
    else:
        table["Improve"] = np.nan
    return table


def table1_beside_paper(
    results: Mapping[str, SequentialResult], protocol: str = "sampled"
) -> pd.DataFrame:
    """:func:`table1` with paper B's ML-20M and Fashion numbers beside ours.

    Columns are (model, "paper B ML-20M"), (model, "paper B Fashion"), (model, "ours
    (<protocol>)"); the paper's numbers are always from its sampled protocol.
    """
    ours = table1(results, protocol)
    pieces = {}
    for column in _PAPER_COLUMNS:  # every column of the paper; ours empty where not run
        for dataset, paper in PAPER_TABLE1.items():
            pieces[(column, f"paper B {dataset}")] = paper[column]
        pieces[(column, f"ours ({protocol})")] = ours.get(column, np.nan)
    return pd.DataFrame(pieces, index=ours.index)


def glue_values(results: Mapping[str, SequentialResult]) -> dict[str, float]:
    """Every mean metric as ``<model>_<protocol>_<metric>`` (e.g. ``sasrec+_full_NDCG@10``),
    names made glue-safe (``+`` -> ``plus``, ``@`` -> ``at``)."""
    values = {}
    for name, result in results.items():
        for protocol in result.metrics:
            for metric, value in result.mean(protocol).items():
                key = f"{name}_{protocol}_{metric}".replace("+", "plus").replace("@", "at")
                values[key] = value
    return values
