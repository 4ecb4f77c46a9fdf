"""Paper B's one run function: a sequential run config -> a :class:`RunRecord`.

Every table and figure of paper B (Table 1, Table 2, Table 3, Figs 2 and 3) is a set of
configs (:func:`sequential_config`, built by :mod:`mmrec_lib.experiments.grids`) computed by
:func:`run_sequential`, so two tables that need the same run share its record.

Protocols (Krichene & Rendle 2020), both reported for every run:

- ``"sampled"``: the held-out item against the split's stored negatives (the same for every
  model), as in paper B;
- ``"full"``: the held-out item against every item the user has not interacted with in
  training (nor, when ranking the test item, the validation item).

Leave-one-out: the validation item is ranked from the training history (early stopping on
sampled NDCG@10); the test item from the training history followed by the validation item.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from mmrec_lib.data.splits import SequenceSplit
from mmrec_lib.experiments.store import RunRecord, run_key
from mmrec_lib.features.fusion import FUSIONS
from mmrec_lib.features.sequence_items import MODALITIES, TABULAR_KINDS
from mmrec_lib.hashing import canonical_json
from mmrec_lib.metrics.ranking import ranking_metrics, ranks_from_scores
from mmrec_lib.models import check_hyperparameters, require_positive
from mmrec_lib.models.sequential import sequential_model, shared_settings
from mmrec_lib.models.training import checked_train

PROTOCOLS = ("sampled", "full")
STAGES = ("val", "test")
TOP_ITEMS = 5
DEFAULT_FEATURES = {
    "text": "minilm",
    "image": "efficientnet-lite0",
    "tabular": "xgboost",
    "sum_dim": 64,
}
"""Item-feature settings of the "+" models: encoders, paper B's XGBoost tabular embeddings,
and the width of each block in a summed fusion."""
DEFAULT_TRAIN = {"epochs": 20, "lr": 1e-3, "patience": 3}


def sequential_config(
    model: str,
    *,
    dataset: dict,
    modalities: Sequence[str] = (),
    fusion: str = "concat",
    seed: int = 0,
    split_seed: int = 0,
    n_negatives: int = 100,
    train_fraction: float = 1.0,
    cold_items: float = 0.0,
    max_len: int = 50,
    d: int = 50,
    batch_size: int | None = None,
    features: dict | None = None,
    train: dict | None = None,
    hyperparameters: dict | None = None,
) -> dict:
    """A run config (plain JSON data) for :func:`run_sequential`, checked.

    dataset: ``{"name": ..., **loader kwargs}`` (:func:`mmrec_lib.data.dataset_spec`).
    modalities / fusion: what the "+" models fuse (none for the others). split_seed and
    n_negatives: the leave-one-out split and its stored negatives (``n_negatives`` >= 1).
    train_fraction: below 1, every user's training history is cut to its most recent share
    (:meth:`~mmrec_lib.data.splits.SequenceSplit.keep_recent`; the sparsity curve); a full
    history leaves it out of the config, so earlier configs keep their keys.
    cold_items: above 0, that share of the items is held out of training entirely
    (:func:`~mmrec_lib.data.cold_start.hold_out_items`, the cold-start protocol; seeded by
    split_seed); 0 leaves it out of the config.
    max_len: history length every model is scored from (and the transformers' positions);
    d: hidden size of every neural model; batch_size: None for each model's default.
    features: :data:`DEFAULT_FEATURES` overrides; train: :class:`TrainConfig` fields;
    hyperparameters: the model's own (e.g. ``{"loss": "ce"}``); seed: the training seed.
    """
    spec = sequential_model(model)
    modalities = list(modalities) if spec.item_input == "fused" else []
    if spec.item_input == "fused":
        unknown = [name for name in modalities if name not in MODALITIES]
        if unknown or not modalities or len(set(modalities)) < len(modalities):
            raise ValueError(
                f"{model} needs modalities from {MODALITIES}, each once; got {modalities}"
            )
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
    if "name" not in dataset:
        raise ValueError('dataset must name the dataset, e.g. {"name": "synthetic"}')
    require_positive(n_negatives=n_negatives, max_len=max_len, d=d)
    if not 0 < train_fraction <= 1:
        raise ValueError(f"train_fraction must lie in (0, 1], got {train_fraction!r}")
    if not 0 <= cold_items < 1:
        raise ValueError(f"cold_items must lie in [0, 1), got {cold_items!r}")
    if batch_size is not None:
        require_positive(batch_size=batch_size)
    check_hyperparameters(spec.cls, hyperparameters or {}, ("d", "max_len", "aux_features"))
    features = {**DEFAULT_FEATURES, **(features or {})}
    if features["tabular"] not in TABULAR_KINDS:
        raise ValueError(f"features.tabular must be one of {TABULAR_KINDS}: {features}")
    train = checked_train({**DEFAULT_TRAIN, **(train or {}), "seed": seed})
    return {
        "paper": "B",
        "dataset": dict(dataset),
        "split": {"seed": split_seed, "n_negatives": n_negatives}
        | ({"train_fraction": train_fraction} if train_fraction < 1 else {})
        | ({"cold_items": cold_items} if cold_items > 0 else {}),
        "model": model,
        "modalities": modalities,
        "fusion": fusion if modalities else None,
        "features": features if modalities else None,
        "max_len": max_len,
        "d": d,
        "batch_size": batch_size,
        "hyperparameters": dict(hyperparameters or {}),
        "train": train,
    }


def dataset_and_split(config: dict):
    """The config's dataset and leave-one-out split (kept in memory per process)."""
    return _dataset_and_split(canonical_json(config["dataset"]), canonical_json(config["split"]))


@functools.lru_cache(maxsize=4)
def _dataset_and_split(dataset_json: str, split_json: str):
    from mmrec_lib.data import load_dataset_spec
    from mmrec_lib.data.cold_start import hold_out_items
    from mmrec_lib.data.splits import leave_one_out

    dataset = load_dataset_spec(json.loads(dataset_json))
    split = json.loads(split_json)
    full = leave_one_out(dataset.interactions, n_negatives=split["n_negatives"], seed=split["seed"])
    if split.get("cold_items", 0) > 0:
        full = hold_out_items(full, split["cold_items"], seed=split["seed"])
    return dataset, full.keep_recent(split.get("train_fraction", 1.0))


def item_input(config: dict) -> np.ndarray | None:
    """The item features the config's model reads (None, keywords, or fused modalities)."""
    kind = sequential_model(config["model"]).item_input
    if kind is None:
        return None
    return _item_input(
        canonical_json(config["dataset"]),
        canonical_json(config["split"]),
        kind,
        canonical_json(config["modalities"]),
        str(config["fusion"]),
        canonical_json(config["features"]),
    )


@functools.lru_cache(maxsize=16)
def _item_input(dataset_json, split_json, kind, modalities_json, fusion, features_json):
    from mmrec_lib.features.sequence_items import fused_item_features, genre_multi_hot

    dataset, split = _dataset_and_split(dataset_json, split_json)
    if kind == "keywords":
        return genre_multi_hot(dataset, split)
    features = json.loads(features_json)
    return fused_item_features(
        dataset,
        split,
        json.loads(modalities_json),
        fusion,
        features["text"],
        features["image"],
        features["tabular"],
        features["sum_dim"],
        seed=json.loads(split_json)["seed"],
    )


def build_model(config: dict, split: SequenceSplit, item_features: np.ndarray | None = None):
    """The config's untrained model (PopRec comes back fitted: it is a counter), seeded;
    ``item_features`` stands in for :func:`item_input` (see :func:`run_sequential`)."""
    from mmrec_lib.models.training import seed_everything

    spec = sequential_model(config["model"])
    settings = shared_settings(spec.cls, d=config["d"], max_len=config["max_len"])
    if item_features is None:
        item_features = item_input(config)
    elif spec.item_input is None:
        raise ValueError(f"item_features: {config['model']} reads no item features")
    elif item_features.shape[0] != split.n_items + 1:
        raise ValueError(
            f"item_features: {config['model']} reads {split.n_items + 1} rows (padding, then "
            f"the split's items), got an array of shape {item_features.shape}"
        )
    seed_everything(config["train"]["seed"])
    model = spec.cls.from_split(split, item_features, **settings, **config["hyperparameters"])
    return model


def run_sequential(config: dict, item_features: np.ndarray | None = None) -> RunRecord:
    """Train the config's model (early stopping on validation NDCG@10, sampled) and test it.

    item_features: the model's item table, :func:`item_input`'s result computed elsewhere
    (e.g. on a machine with the encoders, for a GPU machine without them); by default it is
    computed (or read from the feature cache) here.

    Metrics: ``<protocol>/<metric>`` means, epochs, best epoch and seconds per stage
    (features, train, eval per protocol). Arrays: ``<protocol>/<metric>`` per user, the
    training history (loss, validation NDCG@10 and seconds per epoch), ``top_items`` (each
    user's top 5 of the full ranking after the test history) and, for attention models,
    ``attention_last`` (see :func:`mmrec_lib.models.sequential.last_query_attention`).
    """
    import torch

    from mmrec_lib.models.training import TrainConfig, fit
    from mmrec_lib.paths import cache_dir

    _, split = dataset_and_split(config)
    key = run_key(config)
    checkpoints = cache_dir("checkpoints", key)
    train = TrainConfig(
        **config["train"], checkpoint_dir=checkpoints, progress=False, fingerprint=key
    )
    run_started = time.perf_counter()
    if item_features is None:
        item_input(config)  # built once per process; its time is not training time
    metrics: dict[str, float] = {"seconds_features": time.perf_counter() - run_started}
    arrays: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    model = build_model(config, split, item_features)
    if isinstance(model, torch.nn.Module):
        batch_size = config["batch_size"]

        def train_batches(rng: np.random.Generator, _history: Any):
            if batch_size is None:
                return model.training_batches(split, rng)
            return model.training_batches(split, rng, batch_size)

        def validate(trained: Any) -> float:
            ranks = rank_held_out(
                trained, split, "sampled", "val", config["max_len"], device=train.device
            )
            return float(ranking_metrics(ranks)["NDCG@10"].mean())

        history = fit(
            model,
            train_batches,
            lambda trained, batch: trained.loss(batch),
            validate,
            train,
            metric="NDCG@10",
            mode="max",
        )
        arrays["history/train_loss"] = np.asarray(history.train_loss, np.float64)
        arrays["history/val_NDCG@10"] = np.asarray(history.val_metric, np.float64)
        arrays["history/seconds"] = np.asarray(history.seconds, np.float64)
        metrics.update(epochs=history.epochs_run, best_epoch=history.best_epoch + 1)
    metrics["seconds_train"] = time.perf_counter() - started
    for protocol in PROTOCOLS:
        started = time.perf_counter()
        ranks = rank_held_out(
            model, split, protocol, "test", config["max_len"], device=train.device
        )
        for name, values in ranking_metrics(ranks).items():
            arrays[f"{protocol}/{name}"] = values.astype(np.float32)
            metrics[f"{protocol}/{name}"] = float(values.mean())
        metrics[f"seconds_eval_{protocol}"] = time.perf_counter() - started
    arrays.update(_inspect(model, split, config["max_len"], train.device))
    shutil.rmtree(checkpoints, ignore_errors=True)
    return RunRecord(config, metrics, arrays, time.perf_counter() - run_started)


def evaluate(
    model: Any,
    split: SequenceSplit,
    protocol: str = "sampled",
    stage: str = "test",
    max_len: int = 50,
    batch_size: int = 256,
    device: str = "auto",
) -> dict[str, np.ndarray]:
    """Per-user ranking metrics (``ranking_metrics``) of the val or test item."""
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
    """(n_users,) 0-based rank of each user's held-out item under a protocol.

    Scores are computed in batches of users, on tensors: the stored candidates by gathering
    item embeddings (sampled), every item by one matrix product (full).
    """
    import torch

    from mmrec_lib.device import resolve_device

    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    if protocol == "sampled" and split.negatives.shape[1] == 0:
        raise ValueError("the split has no stored negatives (n_negatives=None): full ranking only")
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


def _inspect(model: Any, split: SequenceSplit, max_len: int, device: str, batch: int = 512):
    """Each user's top items of the full ranking (and, for attention models, the last
    query's attention), computed from the test history, in batches of users."""
    import torch

    from mmrec_lib.device import resolve_device
    from mmrec_lib.models.sequential import last_query_attention

    histories = split.padded_histories(max_len, include_val=True)
    seen = split.seen_matrix(include_val=True)
    device = resolve_device(device)
    has_attention = hasattr(model, "attention_maps")
    top, attention = [], []
    with torch.no_grad():
        for start in range(0, split.n_users, batch):
            users = np.arange(start, min(start + batch, split.n_users))
            history = torch.as_tensor(histories[users], device=device)
            # a copy: PopRec's rows share one row of memory
            scores = model.score_all(history, users).cpu().numpy().copy()
            scores[seen[users].toarray()] = -np.inf
            scores[:, 0] = -np.inf  # the padding item is never recommended
            top.append(np.argsort(-scores, axis=1, kind="stable")[:, :TOP_ITEMS])
            if has_attention:
                maps = np.stack([m.cpu().numpy() for m in model.attention_maps(history)])
                attention.append(last_query_attention(maps).astype(np.float16))
    return {"top_items": np.concatenate(top)} | (
        {"attention_last": np.concatenate(attention)} if has_attention else {}
    )
