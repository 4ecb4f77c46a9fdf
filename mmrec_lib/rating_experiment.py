"""Paper A's rating experiment: train NN, MF, MF_NN and TSEM on one split, compare to Table 9.

One run = (split, side information, model name, model settings, :class:`TrainConfig`).
:func:`rating_inputs` aligns every modality a model needs to one :class:`RatingIndex`;
:func:`train_rating_model` trains with the shared loop (:func:`mmrec_lib.training.fit`,
validation MSE for early stopping) and scores the test rows; :func:`comparison_table` puts
our numbers beside paper A's Table 9 and the literature rows it quotes.

Predictions are clipped to the training ratings' range before any metric is computed.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mmrec_lib.data.splits import RatingSplit, kcore, ratio_split
from mmrec_lib.metrics.rating import hit_rate, mae, mse, rmse
from mmrec_lib.models.rating.data import RatingIndex, multi_hot, rating_tensors
from mmrec_lib.training import History, TrainConfig, resolve_device

MODEL_NAMES = ("nn", "mf", "mf_nn", "tsem")
MODEL_LABELS = {"nn": "NN", "mf": "MF", "mf_nn": "MF_NN", "tsem": "TSEM"}
MODEL_INPUTS = {
    "nn": ("tabular",),
    "mf": (),
    "mf_nn": ("cast", "description", "genres"),
    "tsem": ("tabular", "poster", "description", "user_genre_frequency"),
}
"""Side information each model reads (fields of :class:`RatingInputs`)."""
ENCODER_MODES = ("frozen", "fine-tune")
FINE_TUNABLE = ("poster", "description")
"""TSEM's modalities whose encoders ``encoders="fine-tune"`` trains with the model."""
PAPER_TSEM_COSINE_T_MAX = 15
PAPER_A_MIN_USER_RATINGS = 1000
TEST_SHARE = 0.2
VALIDATION_SHARE = 0.08
"""Our evaluation split: a random 80/20 train/test split, with a tenth of the 80 % (8 % of
all rows) held out as validation for early stopping: 72/8/20."""

# Paper A, section 9 (Table 9): MSE, RMSE, hit rate (%) of its four models, plus the rows it
# quotes from the literature, and Surprise's published ML-100K benchmark (5-fold CV).
REPORTED = pd.DataFrame(
    {
        "MSE": [1.12, 0.72, 0.63, 0.61, 0.73, np.nan, np.nan, np.nan],
        "RMSE": [1.06, 0.85, 0.80, 0.78, 0.86, np.nan, 0.934, 0.919],
        "hit rate (%)": [50.22, 73.08, 67.13, 73.88, np.nan, 72.0, np.nan, np.nan],
        "source": [
            *["paper A, Table 9"] * 4,
            "quoted by paper A (Netflix; not measured here)",
            "quoted by paper A (not measured here)",
            "published by Surprise, ML-100K 5-fold CV (not measured here)",
            "published by Surprise, ML-100K 5-fold CV (not measured here)",
        ],
    },
    index=[
        "NN",
        "MF",
        "MF_NN",
        "TSEM",
        "MF (Koren et al. 2009)",
        "NCF (He et al. 2017)",
        "SVD (Surprise)",
        "SVD++ (Surprise)",
    ],
)

_REPORTED_KEYS = dict(
    zip(
        REPORTED.index,
        [*MODEL_NAMES, "koren2009", "ncf2017", "surprise_svd", "surprise_svdpp"],
        strict=True,
    )
)
_METRIC_KEYS = {"MSE": "mse", "RMSE": "rmse", "hit rate (%)": "hit_rate_pct"}


@dataclass(frozen=True)
class RatingInputs:
    """Side information aligned to ``index`` (row i = item or user index i); None = not built.

    Item matrices are (n_items x d): tabular, poster, description, cast (multi-hot),
    genres (multi-hot, MF_NN's auxiliary target); user_genre_frequency is (n_users x genres),
    counted on the training rows only. fine_tuned: TSEM's trainable towers by modality
    (poster, description; see :mod:`mmrec_lib.models.rating.finetune`), used by TSEM in
    place of the frozen matrix of the same name; every training run starts from a copy.
    """

    index: RatingIndex
    tabular: np.ndarray | None = None
    poster: np.ndarray | None = None
    description: np.ndarray | None = None
    cast: np.ndarray | None = None
    genres: np.ndarray | None = None
    user_genre_frequency: np.ndarray | None = None
    fine_tuned: Mapping[str, Any] = field(default_factory=dict)


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
    """A trained model's test metrics, training history and test predictions.

    variant: what sets this run apart from the model's plain run (e.g. "tuned"), or "".
    """

    model: str
    metrics: dict[str, float]
    history: History
    predictions: np.ndarray = field(repr=False)
    n_parameters: int
    seconds: float
    variant: str = ""

    @property
    def label(self) -> str:
        """The model's name in tables: "MF", or "MF (tuned)" for a variant."""
        name = MODEL_LABELS[self.model]
        return f"{name} ({self.variant})" if self.variant else name

    @property
    def key(self) -> str:
        """The model's name in glued values: "mf", or "mf_tuned" for a variant."""
        return f"{self.model}_{self.variant}" if self.variant else self.model


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

    _check_names(models)
    if encoders not in ENCODER_MODES:
        raise ValueError(f"encoders must be one of {ENCODER_MODES}, got {encoders!r}")
    index = RatingIndex.from_frames(split.train, split.val, split.test)
    tuned = FINE_TUNABLE if encoders == "fine-tune" and "tsem" in models else ()
    needed = {
        name
        for model in models
        for name in MODEL_INPUTS[model]
        if not (model == "tsem" and name in tuned)
    }
    items = dataset.items.reindex(index.item_ids)
    builders = {
        "tabular": lambda: tabular_item_table(dataset).align(index.item_ids).matrix,
        "poster": lambda: (
            item_image_features(dataset, image_encoder, device=device).align(index.item_ids).matrix
        ),
        "description": lambda: (
            item_text_features(dataset, text_encoder, device=device).align(index.item_ids).matrix
        ),
        "cast": lambda: _multi_hot_or_empty(items, "cast", min_count=2),
        "genres": lambda: _multi_hot_or_empty(items, "genres", min_count=1),
        "user_genre_frequency": lambda: (
            user_genre_frequency(split.train, dataset.items, dataset.genres)
            .reindex(index.user_ids, fill_value=0.0)
            .to_numpy(np.float32)
        ),
    }
    fine_tuned = {}
    if tuned:
        from mmrec_lib.models.rating.finetune import description_tower, poster_tower

        fine_tuned = {
            "poster": poster_tower(_column(items, "poster_path"), image_encoder),
            "description": description_tower(_column(items, "plot"), text_encoder),
        }
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

    from mmrec_lib.models.rating import build_rating_model
    from mmrec_lib.models.rating.finetune import backbone_parameter_groups
    from mmrec_lib.training import fit, shuffled_batches

    _check_names([name])
    for part in ("train", "val", "test"):
        if getattr(split, part).empty:
            raise ValueError(f"split.{part} is empty; {name} needs rows in train, val and test")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if not backbone_lr_scale > 0:
        raise ValueError(f"backbone_lr_scale must be positive, got {backbone_lr_scale}")
    towers = inputs.fine_tuned if name == "tsem" else {}
    missing = [m for m in MODEL_INPUTS[name] if getattr(inputs, m) is None and m not in towers]
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
        return mse(_predict(model, val, low, high), val[2].cpu().numpy())

    def train_from_scratch(rows: tuple, batches, validate, run_config: TrainConfig):
        torch.manual_seed(run_config.seed)
        model = build_rating_model(
            name, **_model_inputs(name, inputs, float(rows[2].mean())), **(model_kwargs or {})
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


def train_paper_models(
    names: Sequence[str],
    split: RatingSplit,
    inputs: RatingInputs,
    config: TrainConfig,
    *,
    batch_size: int = 1024,
    model_kwargs: Mapping[str, Mapping] | None = None,
    progressive: ProgressiveData | None = None,
    **training,
) -> list[RatingResult]:
    """Train each model of ``names`` as paper A does: TSEM with CosineAnnealingLR(T_max=15)
    and the progressive data schedule (when given); the others with a constant rate.

    model_kwargs: per model name, its hyperparameters (e.g. ``{"tsem": {"dim": 256}}``);
    training: further arguments of :func:`train_rating_model` for every model (``refit``,
    ``backbone_lr_scale``).
    """
    _check_names(names)
    settings = model_kwargs or {}
    return [
        train_rating_model(
            name,
            split,
            inputs,
            config,
            batch_size=batch_size,
            model_kwargs=settings.get(name),
            cosine_t_max=PAPER_TSEM_COSINE_T_MAX if name == "tsem" else None,
            progressive=progressive if name == "tsem" else None,
            **training,
        )
        for name in names
    ]


def metrics_frame(results: Sequence[RatingResult]) -> pd.DataFrame:
    """One row per result: MSE, RMSE, MAE, hit rate (%), epochs, parameters, seconds."""
    return pd.DataFrame(
        [
            {
                "MSE": r.metrics["mse"],
                "RMSE": r.metrics["rmse"],
                "MAE": r.metrics["mae"],
                "hit rate (%)": 100 * r.metrics["hit_rate"],
                "epochs": r.history.epochs_run,
                "best epoch": r.history.best_epoch + 1,
                "parameters": r.n_parameters,
                "seconds": r.seconds,
            }
            for r in results
        ],
        index=pd.Index([r.label for r in results], name="model"),
    )


def histories(results: Sequence[RatingResult]) -> dict[str, History]:
    """Each result's training history under its model label (input of the loss-curve plot)."""
    return {r.label: r.history for r in results}


def glue_values(results: Sequence[RatingResult]) -> dict[str, float]:
    """Flat ``{<model>_<metric>: value}`` of every result (hit rate in %), for the book."""
    values = {}
    for r in results:
        values.update({f"{r.key}_{k}": v for k, v in r.metrics.items() if k != "hit_rate"})
        values[f"{r.key}_hit_rate_pct"] = 100 * r.metrics["hit_rate"]
        values[f"{r.key}_epochs"] = r.history.epochs_run
        values[f"{r.key}_seconds"] = r.seconds
    return values


def reported_values() -> dict[str, float]:
    """Flat ``{reported_<row>_<metric>: value}`` of every number in :data:`REPORTED`."""
    return {
        f"reported_{_REPORTED_KEYS[row]}_{_METRIC_KEYS[column]}": float(value)
        for row, values in REPORTED.drop(columns="source").iterrows()
        for column, value in values.items()
        if not np.isnan(value)
    }


def comparison_table(results: Sequence[RatingResult]) -> pd.DataFrame:
    """Paper A's Table 9 beside ours: (MSE, RMSE, hit rate) x (reported, ours), plus source.

    Rows: our models first, then paper A's models we did not train, then the literature
    rows (quoted by paper A, or published by Surprise), which have no "ours" value.
    """
    from mmrec_lib.report import paper_beside_ours

    ours = metrics_frame(results)[["MSE", "RMSE", "hit rate (%)"]]
    reported = REPORTED.drop(columns="source")
    table = paper_beside_ours(ours, reported, label_ours="ours", label_paper="reported")
    table[("source", "")] = REPORTED["source"].reindex(table.index)
    table.index.name = "model"
    return table


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


def _model_inputs(name: str, inputs: RatingInputs, global_mean: float) -> dict:
    """Constructor arguments of model ``name`` that come from the data."""
    n_users, n_items = inputs.index.n_users, inputs.index.n_items
    common = {"global_mean": global_mean}
    if name == "mf":
        return {**common, "n_users": n_users, "n_items": n_items}
    if name == "nn":
        return {**common, "n_users": n_users, "n_items": n_items, "item_features": inputs.tabular}
    if name == "mf_nn":
        return {
            **common,
            "n_users": n_users,
            "n_items": n_items,
            "cast": inputs.cast,
            "description": inputs.description,
            "genres": inputs.genres,
        }
    towers = {m: _fresh_tower(tower) for m, tower in inputs.fine_tuned.items()}
    return {
        **common,
        "n_users": n_users,
        "n_items": n_items,
        "item_features": {
            m: towers.get(m, getattr(inputs, m)) for m in ("tabular", "poster", "description")
        },
        "user_genre_frequency": inputs.user_genre_frequency,
    }


def _fresh_tower(tower):
    """A copy of ``tower`` whose network starts from the pretrained weights again; its
    content buffers (pixels, token ids: read-only, hundreds of MB) are shared, not copied."""
    return copy.deepcopy(tower, memo={id(buffer): buffer for buffer in tower.buffers()})


def _multi_hot_or_empty(items: pd.DataFrame, column: str, min_count: int) -> np.ndarray:
    """Multi-hot of a list column; one all-zero column when the column or values are absent."""
    if column in items.columns:
        matrix, vocabulary = multi_hot(items[column], min_count=min_count)
        if vocabulary:
            return matrix
    return np.zeros((len(items), 1), np.float32)


def _check_names(names: Iterable[str]) -> None:
    unknown = [name for name in names if name not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown rating model(s) {unknown}; known: {list(MODEL_NAMES)}")


def side_information_verdict(results: Sequence[RatingResult], margin: float = 0.01) -> str:
    """A plain sentence per side-information model: did it beat MF's test RMSE by ``margin``?

    Issue 4's bar: TSEM and MF_NN at least ``margin`` below MF, or the page says plainly
    that side information did not help here, and by how much.
    """
    by_model = {r.model: r for r in results if not r.variant}
    if "mf" not in by_model:
        return "MF was not trained, so the side-information models have no baseline here."
    baseline = by_model["mf"].metrics["rmse"]
    sentences = []
    for name in ("mf_nn", "tsem"):
        if name not in by_model:
            continue
        rmse = by_model[name].metrics["rmse"]
        gain = baseline - rmse
        label = MODEL_LABELS[name]
        if gain >= margin:
            verdict = f"side information helped: {gain:.3f} below MF"
        elif gain > 0:
            verdict = (
                f"side information helped only marginally: {gain:.3f} below MF, "
                f"less than the {margin} we ask for"
            )
        else:
            verdict = f"side information did not help here: {-gain:.3f} above MF"
        sentences.append(
            f"**{label}**: test RMSE {rmse:.3f} against MF's {baseline:.3f}; {verdict}."
        )
    return " ".join(sentences)
