"""Paper A's one run function: a rating run config -> a :class:`RatingRecord`.

Table 9, the MF-vs-TSEM seed test and the MF grid search are all sets of configs
(:func:`rating_config`) computed by :func:`run_rating`. A run loads its dataset, keeps the
users with enough ratings, splits them 72/8/20 (:func:`rating_split`), builds only the side
information its model reads (:func:`rating_inputs`; everything learned from ratings is
counted on the training rows), trains with the shared loop (:func:`mmrec_lib.models.training.fit`,
early stopping on validation MSE; optionally a refit on train + validation) and scores the
test rows. Predictions are clipped to the training ratings' range before any metric.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmrec_lib.data.splits import RatingSplit, kcore, ratio_split
from mmrec_lib.device import resolve_device
from mmrec_lib.experiments.store import RunRecord, run_key
from mmrec_lib.hashing import canonical_json
from mmrec_lib.metrics.rating import hit_rate, mae, mse, rmse
from mmrec_lib.models import check_hyperparameters
from mmrec_lib.models.rating import MODEL_NAMES, rating_model
from mmrec_lib.models.rating.data import RatingIndex, RatingInputs, multi_hot, rating_tensors
from mmrec_lib.models.training import History, TrainConfig, checked_train

ENCODER_MODES = ("frozen", "fine-tune")
PAPER_TSEM_COSINE_T_MAX = 15
PAPER_A_MIN_USER_RATINGS = 1000
TEST_SHARE = 0.2
VALIDATION_SHARE = 0.08
"""Our evaluation split: a random 80/20 train/test split, with a tenth of the 80 % (8 % of
all rows) held out as validation for early stopping: 72/8/20."""
DEFAULT_TRAIN = {"epochs": 20, "lr": 0.005, "patience": 3}
PINNED_SHARE = 0.99
"""Validation predictions at the clip bounds beyond this share mean training diverged."""
DEFAULT_ENCODERS = {"text": "minilm", "image": "efficientnet-lite0", "mode": "frozen"}


@dataclass(frozen=True)
class ProgressiveData:
    """Paper A's data schedule: train on ``fraction`` of the training rows (a fixed random
    subset drawn with ``seed``) until validation MSE first reaches ``threshold``, then on all.
    """

    fraction: float
    threshold: float
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must lie in (0, 1], got {self.fraction}")

    def widened(self, history: History) -> bool:
        """True once any finished epoch reached the threshold (deterministic on resume)."""
        return any(value <= self.threshold for value in history.val_metric)

    def rows(self, n_rows: int) -> np.ndarray:
        """Sorted positions of the subset used before widening (at least one row)."""
        kept = max(1, round(self.fraction * n_rows))
        return np.sort(np.random.default_rng(self.seed).permutation(n_rows)[:kept])


@dataclass
class RatingResult:
    """A trained model's test metrics, training history and test predictions."""

    model: str
    metrics: dict[str, float]
    history: History
    predictions: np.ndarray = dataclasses.field(repr=False)
    n_parameters: int
    seconds: float


def rating_split(interactions: pd.DataFrame, seed: int = 0) -> RatingSplit:
    """The random 72/8/20 train/validation/test split (:data:`TEST_SHARE`,
    :data:`VALIDATION_SHARE`) every rating experiment here uses."""
    return ratio_split(interactions, test_frac=TEST_SHARE, val_frac=VALIDATION_SHARE, seed=seed)


def active_user_summary(interactions: pd.DataFrame, thresholds: Iterable[int]) -> pd.DataFrame:
    """Users with at least each threshold of ratings, and the share of ratings they made."""
    counts = interactions["user"].value_counts()
    rows = [
        {
            "min_ratings": threshold,
            "users": int((counts >= threshold).sum()),
            "ratings_share": float(counts[counts >= threshold].sum() / max(len(interactions), 1)),
        }
        for threshold in thresholds
    ]
    return pd.DataFrame(rows).set_index("min_ratings")


def active_users(interactions: pd.DataFrame, min_user_ratings: int) -> pd.DataFrame:
    """Rows of users with at least ``min_user_ratings`` ratings (paper A uses 1000)."""
    return kcore(interactions, min_user=min_user_ratings, min_item=1)


def rating_inputs(
    dataset,
    split: RatingSplit,
    models: Sequence[str] = MODEL_NAMES,
    text_encoder: str = "minilm",
    image_encoder: str = "efficientnet-lite0",
    device: str = "auto",
    encoders: str = "frozen",
) -> RatingInputs:
    """Index the split and build (only) the side information ``models`` need.

    encoders: ``"frozen"``: text and poster features come from frozen pretrained encoders
    (cached on disk by :mod:`mmrec_lib.features`); items without a description or poster
    get zero rows. ``"fine-tune"``: TSEM gets fresh pretrained towers over the posters and
    descriptions instead (``fine_tuned``), trained with it; MF_NN still reads the frozen
    description features.
    """
    from mmrec_lib.features import (
        item_image_features,
        item_text_features,
        tabular_item_table,
        user_genre_frequency,
    )

    for model in models:
        rating_model(model)  # ValueError naming the known models
    if encoders not in ENCODER_MODES:
        raise ValueError(f"encoders must be one of {ENCODER_MODES}, got {encoders!r}")
    index = RatingIndex.from_frames(split.train, split.val, split.test)
    fine_tune = encoders == "fine-tune"
    tuned = (
        {m for model in models for m in rating_model(model).fine_tunable} if fine_tune else set()
    )
    needed = {
        name
        for model in models
        for name in rating_model(model).inputs
        if not (fine_tune and name in rating_model(model).fine_tunable)
    }
    items = dataset.items.reindex(index.item_ids)
    held_out = split.held_out_items  # cold-start items fit nothing
    fit = ~np.isin(index.item_ids, held_out)
    builders = {
        "tabular": lambda: (
            tabular_item_table(dataset, held_out=held_out).align(index.item_ids).matrix
        ),
        "poster": lambda: (
            item_image_features(dataset, image_encoder, device=device).align(index.item_ids).matrix
        ),
        "description": lambda: (
            item_text_features(dataset, text_encoder, device=device).align(index.item_ids).matrix
        ),
        "cast": lambda: _multi_hot_or_empty(items, "cast", 2, fit),
        "genres": lambda: _multi_hot_or_empty(items, "genres", 1, fit),
        "user_genre_frequency": lambda: (
            user_genre_frequency(split.train, dataset.items, dataset.genres)
            .reindex(index.user_ids, fill_value=0.0)
            .to_numpy(np.float32)
        ),
    }
    fine_tuned = {}
    if tuned:
        from mmrec_lib.models.rating.finetune import description_tower, poster_tower

        towers = {
            "poster": lambda: poster_tower(_column(items, "poster_path"), image_encoder),
            "description": lambda: description_tower(_column(items, "plot"), text_encoder),
        }
        fine_tuned = {name: towers[name]() for name in sorted(tuned)}
    built = {name: builders[name]() for name in sorted(needed)}
    return RatingInputs(index, **built, fine_tuned=fine_tuned)


def _column(items: pd.DataFrame, column: str) -> list:
    """The column's cells, or None for every item when the column is absent."""
    return items[column].tolist() if column in items.columns else [None] * len(items)


def train_rating_model(
    name: str,
    split: RatingSplit,
    inputs: RatingInputs,
    config: TrainConfig,
    *,
    batch_size: int = 1024,
    model_kwargs: Mapping | None = None,
    cosine_t_max: int | None = None,
    progressive: ProgressiveData | None = None,
    backbone_lr_scale: float = 0.1,
    refit: bool = False,
) -> RatingResult:
    """Train model ``name`` on ``split.train`` (early stopping on validation MSE); test it.

    cosine_t_max: CosineAnnealingLR period in epochs (paper A uses 15 for TSEM); None keeps
    the learning rate constant. progressive: paper A's widening data schedule (None: all rows
    every epoch). With ``config.checkpoint_dir`` the checkpoint goes to ``<dir>/<name>``.
    backbone_lr_scale: the fine-tuned towers' networks (``inputs.fine_tuned``) learn at
    ``config.lr * backbone_lr_scale``, the rest of the model at ``config.lr``.
    refit: after early stopping has chosen the number of epochs, train a fresh model (same
    seed) on the training and validation rows together for that many epochs, all rows every
    epoch, and test that one; the returned history stays the selection run's.
    """
    import torch

    from mmrec_lib.models.rating.finetune import backbone_parameter_groups
    from mmrec_lib.models.training import fit, shuffled_batches

    rating_model(name)  # ValueError naming the known models
    for part in ("train", "val", "test"):
        if getattr(split, part).empty:
            raise ValueError(f"split.{part} is empty; {name} needs rows in train, val and test")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if not backbone_lr_scale > 0:
        raise ValueError(f"backbone_lr_scale must be positive, got {backbone_lr_scale}")
    fine_tunable = rating_model(name).fine_tunable
    towers = {m: t for m, t in inputs.fine_tuned.items() if m in fine_tunable}
    missing = [
        m for m in rating_model(name).inputs if getattr(inputs, m) is None and m not in towers
    ]
    if missing:
        raise ValueError(f"{name} needs inputs {missing}; build them with rating_inputs(...)")

    device = resolve_device(config.device)
    train, val, test = (
        rating_tensors(frame, inputs.index, device)
        for frame in (split.train, split.val, split.test)
    )
    low, high = float(train[2].min()), float(train[2].max())
    subset = None if progressive is None else torch.as_tensor(progressive.rows(len(train[0])))

    def batches_of(rows: tuple, subset: torch.Tensor | None = None):
        def train_batches(rng: np.random.Generator, history: History):
            chosen = rows
            if subset is not None and not progressive.widened(history):
                chosen = tuple(t[subset.to(device)] for t in rows)
            return shuffled_batches(chosen, batch_size, rng)

        return train_batches

    def validate(model) -> float:
        predictions = _predict(model, val, low, high)
        pinned = float(np.mean((predictions <= low) | (predictions >= high)))
        if pinned > PINNED_SHARE:
            raise FloatingPointError(
                f"{name}: {pinned:.0%} of the validation predictions are pinned at the clip "
                f"bounds [{low:g}, {high:g}]: training diverged; lower the learning rate "
                f"(lr={config.lr:g})"
            )
        return mse(predictions, val[2].cpu().numpy())

    def train_from_scratch(rows: tuple, batches, validate, run_config: TrainConfig):
        torch.manual_seed(run_config.seed)
        run_inputs = dataclasses.replace(
            inputs, fine_tuned={m: _fresh_tower(t) for m, t in towers.items()}
        )
        model = rating_model(name).cls.from_inputs(
            run_inputs, float(rows[2].mean()), **(model_kwargs or {})
        )

        def optimizer(params):
            groups = backbone_parameter_groups(model, params, run_config.lr, backbone_lr_scale)
            return torch.optim.Adam(groups, lr=run_config.lr, weight_decay=config.weight_decay)

        scheduler = None
        if cosine_t_max is not None:
            scheduler = lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(  # noqa: E731
                opt, T_max=cosine_t_max
            )
        history = fit(
            model,
            batches,
            lambda m, batch: m.loss(*batch),
            validate,
            run_config,
            metric="val_mse",
            optimizer=optimizer,
            scheduler=scheduler,
        )
        return model, history

    started = time.perf_counter()
    model, history = train_from_scratch(
        train, batches_of(train, subset), validate, _checkpoint_in(config, name)
    )
    if refit:
        both = tuple(torch.cat(parts) for parts in zip(train, val, strict=True))
        refit_config = dataclasses.replace(
            _checkpoint_in(config, f"{name}-refit"), epochs=history.best_epoch + 1
        )
        model, _ = train_from_scratch(both, batches_of(both), None, refit_config)
    predictions = _predict(model, test, low, high)
    actual = test[2].cpu().numpy()
    return RatingResult(
        model=name,
        metrics={
            "mse": mse(predictions, actual),
            "rmse": rmse(predictions, actual),
            "mae": mae(predictions, actual),
            "hit_rate": hit_rate(predictions, actual),
        },
        history=history,
        predictions=predictions,
        n_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        seconds=time.perf_counter() - started,
    )


def _checkpoint_in(config: TrainConfig, folder: str) -> TrainConfig:
    """``config`` with its checkpoints in ``<checkpoint_dir>/<folder>`` (if it has any)."""
    if config.checkpoint_dir is None:
        return config
    return dataclasses.replace(config, checkpoint_dir=f"{config.checkpoint_dir}/{folder}")


def rating_config(
    model: str,
    *,
    dataset: dict,
    seed: int = 0,
    split_seed: int = 0,
    min_user_ratings: int = 1,
    train_fraction: float = 1.0,
    cold_items: float = 0.0,
    batch_size: int = 1024,
    train: dict | None = None,
    hyperparameters: dict | None = None,
    encoders: dict | None = None,
    progressive_fraction: float = 1.0,
    progressive_threshold: float = 0.61,
    refit: bool = False,
    backbone_lr_scale: float = 0.1,
) -> dict:
    """A run config (plain JSON data) for :func:`run_rating`, checked.

    dataset: ``{"name": ..., **loader kwargs}``; the split keeps users with at least
    ``min_user_ratings`` ratings and splits them with ``split_seed``. train_fraction: below
    1, each user's training ratings are cut to their most recent share (the sparsity curve);
    cold_items: above 0, that share of the items loses its training and validation ratings
    (cold-start items, seeded by split_seed); each is left out of the config at its default,
    so earlier configs keep their keys. train:
    :class:`TrainConfig` fields (``seed`` is the training seed); hyperparameters: the
    model's own (e.g. ``{"dim": 64}``); encoders: text and image encoder names and ``mode``
    (frozen features or fine-tuned towers, TSEM only). Models trained with paper A's schedule
    (TSEM) get CosineAnnealingLR(T_max=15) and the progressive data schedule (``progressive_*``;
    a fraction of 1.0 turns it off); the others a constant rate. refit: after early stopping,
    retrain on train + validation for the chosen epochs. backbone_lr_scale: the fine-tuned
    towers' learning rate relative to ``lr``.
    """
    spec = rating_model(model)
    if "name" not in dataset:
        raise ValueError('dataset must name the dataset, e.g. {"name": "synthetic"}')
    encoders = {**DEFAULT_ENCODERS, **(encoders or {})}
    if encoders["mode"] not in ENCODER_MODES:
        raise ValueError(f"encoders.mode must be one of {ENCODER_MODES}, got {encoders}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not 0 < train_fraction <= 1:
        raise ValueError(f"train_fraction must lie in (0, 1], got {train_fraction!r}")
    if not 0 <= cold_items < 1:
        raise ValueError(f"cold_items must lie in [0, 1), got {cold_items!r}")
    if not backbone_lr_scale > 0:
        raise ValueError(f"backbone_lr_scale must be positive, got {backbone_lr_scale}")
    ProgressiveData(progressive_fraction, progressive_threshold)  # checks the fraction
    check_hyperparameters(
        spec.cls, hyperparameters or {}, ("n_users", "n_items", "global_mean", *spec.inputs)
    )
    train = checked_train({**DEFAULT_TRAIN, **(train or {}), "seed": seed})
    schedule = None
    if spec.paper_schedule:  # a threshold matters only while the fraction is below 1
        schedule = {
            "cosine_t_max": PAPER_TSEM_COSINE_T_MAX,
            "progressive_fraction": progressive_fraction,
            "progressive_threshold": progressive_threshold if progressive_fraction < 1 else None,
        }
    fine_tuned = encoders["mode"] == "fine-tune" and bool(spec.fine_tunable)
    return {
        "paper": "A",
        "dataset": dict(dataset),
        "split": {
            "seed": split_seed,
            "min_user_ratings": min_user_ratings,
            "test_share": TEST_SHARE,
            "validation_share": VALIDATION_SHARE,
        }
        | ({"train_fraction": train_fraction} if train_fraction < 1 else {})
        | ({"cold_items": cold_items} if cold_items > 0 else {}),
        "model": model,
        "hyperparameters": dict(hyperparameters or {}),
        "batch_size": batch_size,
        "train": train,
        "schedule": schedule,
        "refit": bool(refit),
        "encoders": encoders if spec.inputs else None,
        "backbone_lr_scale": backbone_lr_scale if fine_tuned else None,
    }


def dataset_and_split(config: dict):
    """The config's dataset and rating split (kept in memory per process)."""
    return _dataset_and_split(canonical_json(config["dataset"]), canonical_json(config["split"]))


@functools.lru_cache(maxsize=4)
def _dataset_and_split(dataset_json: str, split_json: str):
    from mmrec_lib.data import load_dataset_spec
    from mmrec_lib.data.cold_start import hold_out_rated_items

    dataset = load_dataset_spec(json.loads(dataset_json))
    split = json.loads(split_json)
    interactions = active_users(dataset.interactions, split["min_user_ratings"])
    ratings = rating_split(interactions, seed=split["seed"])
    if split.get("cold_items", 0) > 0:
        ratings = hold_out_rated_items(ratings, split["cold_items"], seed=split["seed"])
    return dataset, ratings.keep_recent(split.get("train_fraction", 1.0))


def split_sizes(config: dict) -> dict[str, int]:
    """Rows in train, validation and test, and the users and items of the config's split."""
    _, split = dataset_and_split(config)
    index = RatingIndex.from_frames(split.train, split.val, split.test)
    return {
        "train": len(split.train),
        "validation": len(split.val),
        "test": len(split.test),
        "users": index.n_users,
        "items": index.n_items,
    }


def model_inputs(config: dict) -> RatingInputs:
    """The side information the config's model reads, built once per process (and read from
    the feature cache)."""
    encoders = config["encoders"] or DEFAULT_ENCODERS
    return _cached_inputs(
        canonical_json(config["dataset"]),
        canonical_json(config["split"]),
        config["model"],
        encoders["text"],
        encoders["image"],
        encoders["mode"],
    )


@functools.lru_cache(maxsize=8)
def _cached_inputs(dataset_json, split_json, model, text, image, mode) -> RatingInputs:
    dataset, split = _dataset_and_split(dataset_json, split_json)
    return rating_inputs(dataset, split, [model], text, image, encoders=mode)


def run_rating(config: dict) -> RunRecord:
    """Train and test the config's model.

    Metrics: mse, rmse, mae, hit_rate (test), val_rmse (best epoch), epochs, best_epoch,
    n_parameters. Arrays: the test predictions and squared errors (one per test
    row, in the split's order) and the selection run's history (loss, validation MSE and
    seconds per epoch).
    """
    from mmrec_lib.paths import cache_dir

    _, split = dataset_and_split(config)
    key = run_key(config)
    checkpoints = cache_dir("checkpoints", key)
    train = TrainConfig(
        **config["train"], checkpoint_dir=checkpoints, progress=False, fingerprint=key
    )
    schedule = config["schedule"] or {}
    progressive = None
    if schedule.get("progressive_fraction", 1.0) < 1.0:
        progressive = ProgressiveData(
            schedule["progressive_fraction"], schedule["progressive_threshold"], train.seed
        )
    result = train_rating_model(
        config["model"],
        split,
        model_inputs(config),
        train,
        batch_size=config["batch_size"],
        model_kwargs=config["hyperparameters"],
        cosine_t_max=schedule.get("cosine_t_max"),
        progressive=progressive,
        backbone_lr_scale=config["backbone_lr_scale"] or 0.1,
        refit=config["refit"],
    )
    shutil.rmtree(checkpoints, ignore_errors=True)
    history = result.history
    actual = split.test["rating"].to_numpy(np.float64)
    metrics = {
        **result.metrics,
        "val_rmse": float(np.sqrt(history.best_metric)),
        "epochs": history.epochs_run,
        "best_epoch": history.best_epoch + 1,
        "n_parameters": result.n_parameters,
    }
    arrays = {
        "predictions": result.predictions.astype(np.float32),
        "squared_error": (result.predictions - actual) ** 2,
        "history/train_loss": np.asarray(history.train_loss, np.float64),
        "history/val_mse": np.asarray(history.val_metric, np.float64),
        "history/seconds": np.asarray(history.seconds, np.float64),
    }
    return RunRecord(config, metrics, arrays, result.seconds)


def record_history(record: RunRecord) -> History:
    """The training history a rating record carries (input of the loss-curve plot)."""
    val = record.arrays["history/val_mse"].tolist()
    return History(
        metric="val_mse",
        mode="min",
        train_loss=record.arrays["history/train_loss"].tolist(),
        val_metric=val,
        seconds=record.arrays["history/seconds"].tolist(),
        best_epoch=int(record.metrics["best_epoch"]) - 1,
    )


def _predict(model, tensors: tuple, low: float, high: float, chunk: int = 65536) -> np.ndarray:
    """Clipped predictions for (users, items, ...) tensors, in eval mode, chunk by chunk."""
    import torch

    users, items = tensors[0], tensors[1]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        parts = [
            model(users[start : start + chunk], items[start : start + chunk])
            for start in range(0, len(users), chunk)
        ]
    model.train(was_training)
    return torch.cat(parts).clamp(low, high).cpu().numpy().astype(np.float64)


def _multi_hot_or_empty(
    items: pd.DataFrame, column: str, min_count: int, fit: np.ndarray
) -> np.ndarray:
    """Multi-hot of a list column, its vocabulary counted over the ``fit`` rows; one all-zero
    column when the column or values are absent."""
    if column in items.columns:
        matrix, vocabulary = multi_hot(items[column], min_count=min_count, fit=fit)
        if vocabulary:
            return matrix
    return np.zeros((len(items), 1), np.float32)


def _fresh_tower(tower):
    """A copy of ``tower`` whose network starts from the pretrained weights again; its
    content buffers (pixels, token ids: read-only, hundreds of MB) are shared, not copied."""
    return copy.deepcopy(tower, memo={id(buffer): buffer for buffer in tower.buffers()})
