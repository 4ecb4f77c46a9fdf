"""Paper B's modality ablation (Table 3) and the cached sequential runs behind Tables 2 and 3.

A sequential run is a plain config (:func:`sequential_config`): dataset, split, model,
modalities used and fusion method, hyperparameters, training seed. :func:`train_sequential`
computes it into a :class:`~mmrec_lib.runs.RunRecord` (use it with
:func:`~mmrec_lib.runs.run_many`): mean metrics, per-user metric arrays, each user's top-5
items under the full ranking, and for SASRec(+) each user's last-position attention.
The split (and its negatives) depends only on the dataset and ``split_seed``, so runs that
differ in model, variant or training seed are evaluated on identical splits and negatives.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mmrec_lib.runs import RunRecord, canonical_json, run_key

MODALITIES = ("text", "image", "tabular")
ABLATION_MODELS = ("bert4rec+", "sasrec+")
TOP_ITEMS = 5


@dataclass(frozen=True)
class Variant:
    """One row of Table 3: which modalities are fused, and how."""

    number: int
    label: str
    group: str
    use: tuple[str, ...]
    method: str

    @property
    def row(self) -> str:
        return f"({self.number}) {self.label}"


def _grid() -> tuple[Variant, ...]:
    singles = [
        Variant(i + 1, name.title(), "single", (name,), "concat")
        for i, name in enumerate(MODALITIES)
    ]
    combined = [("Text + Image + Tabular", MODALITIES)] + [
        (f"w/o {left_out.title()}", tuple(m for m in MODALITIES if m != left_out))
        for left_out in ("tabular", "image", "text")
    ]
    joint = [
        Variant(4 + 4 * g + i, label, group, use, method)
        for g, (group, method) in enumerate((("concatenated", "concat"), ("summation", "sum")))
        for i, (label, use) in enumerate(combined)
    ]
    return (*singles, *joint)


VARIANTS: tuple[Variant, ...] = _grid()
"""Table 3's 11 rows: (1)-(3) one modality; (4)-(7) concatenated; (8)-(11) summed."""

# Paper B, Table 3 "Ablation analysis (NDCG@10) on two datasets" (section 4.1, "Ablation
# Study"), transcribed from the paper's text; rows (1)-(11) in order.
_PAPER_ROWS = {
    ("ML-20M", "BERT4Rec+"): (.46181, .46219, .46182, .46146, .46203, .46198, .46182,
                              .46218, .46211, .46198, .46226),
    ("ML-20M", "SASRec+"): (.70260, .68590, .68815, .70600, .70676, .70837, .71004,
                            .67628, .68225, .65881, .68386),
    ("Fashion", "BERT4Rec+"): (.18384, .20737, .19242, .17567, .18828, .17734, .15517,
                               .19266, .19236, .19469, .17060),
    ("Fashion", "SASRec+"): (.72807, .58797, .59929, .71342, .69398, .72643, .62355,
                             .43453, .53307, .65882, .41108),
}  # fmt: skip
PAPER_TABLE3 = pd.DataFrame(_PAPER_ROWS, index=[v.row for v in VARIANTS]).rename_axis("variant")
"""Paper B's Table 3: rows = variants, columns = (dataset, model), NDCG@10 (sampled)."""

LABELS = {"bert4rec+": "BERT4Rec+", "sasrec+": "SASRec+", "bert4rec": "BERT4Rec",
          "sasrec": "SASRec"}  # fmt: skip


def dataset_spec(dataset: str, synthetic_size: str = "small") -> dict:
    """The ``dataset`` entry of a run config: the name, plus the size for synthetic data."""
    return (
        {"name": dataset, "size": synthetic_size} if dataset == "synthetic" else {"name": dataset}
    )


def sequential_config(
    model: str,
    *,
    dataset: dict,
    use: Sequence[str] = (),
    method: str = "concat",
    seed: int = 0,
    split_seed: int = 0,
    n_negatives: int = 100,
    features: dict | None = None,
    train: dict | None = None,
    hyperparameters: dict | None = None,
    keep_attention: bool = True,
) -> dict:
    """A run config (plain JSON data) for :func:`train_sequential`.

    dataset: ``{"name": ..., **load_dataset kwargs}``. use/method: the fused modalities
    (empty for SASRec/BERT4Rec without auxiliary information). features: encoder choices,
    ``{"text": "minilm", "image": "efficientnet-lite0", "tabular": "table" | "xgboost",
    "dim": 64}`` (dim = width of a summed fusion). train: :class:`TrainConfig` fields.
    keep_attention: store each user's last-query attention (float16, n_users x max_len).
    """
    if model not in LABELS:
        raise ValueError(f"model must be one of {list(LABELS)}, got {model!r}")
    unknown = [name for name in use if name not in MODALITIES]
    if unknown:
        raise ValueError(f"unknown modalities {unknown}; choose from {MODALITIES}")
    if model.endswith("+") != bool(use):
        raise ValueError(f"{model!r}: '+' models need modalities (use=...), the others none")
    if "name" not in dataset:
        raise ValueError('dataset must name the dataset, e.g. {"name": "synthetic"}')
    features = {"text": "minilm", "image": "efficientnet-lite0", "tabular": "table",
                "dim": 64, **(features or {})}  # fmt: skip
    return {
        "kind": "sequential",
        "dataset": dict(dataset),
        "split": {"seed": split_seed, "n_negatives": n_negatives},
        "model": model,
        "use": list(use),
        "method": method if use else None,
        "features": features if use else None,
        "train": {"epochs": 20, "lr": 1e-3, "patience": 3, **(train or {}), "seed": seed},
        "hyperparameters": dict(hyperparameters or {}),
        "keep_attention": keep_attention,
    }


def ablation_configs(
    seeds: Iterable[int],
    models: Sequence[str] = ABLATION_MODELS,
    variants: Sequence[int] | None = None,
    **common: Any,
) -> list[dict]:
    """One config per (model, Table 3 variant, seed); ``common`` as for sequential_config.

    variants: the row numbers (1-11) to run; default all.
    """
    numbers = [v.number for v in VARIANTS]
    if variants is not None and not set(variants) <= set(numbers):
        raise ValueError(f"variants must be row numbers of Table 3 ({numbers}), got {variants}")
    chosen = [v for v in VARIANTS if variants is None or v.number in variants]
    return [
        sequential_config(model, use=variant.use, method=variant.method, seed=seed, **common)
        for model in models
        for variant in chosen
        for seed in seeds
    ]


def dataset_and_split(config: dict):
    """The config's dataset and leave-one-out split (kept in memory per process)."""
    return _dataset_and_split(canonical_json(config["dataset"]), canonical_json(config["split"]))


def by_model(records: Sequence[RunRecord]) -> dict[str, RunRecord]:
    """{model name: record}; raises when two runs share a model."""
    models = [r.config["model"] for r in records]
    if len(set(models)) != len(models):
        raise ValueError(f"one run per model expected, got models {models}")
    return dict(zip(models, records, strict=True))


def predicted_next(records: Sequence[RunRecord]) -> dict[str, np.ndarray]:
    """{model label: (n_users,) top-1 item of the full ranking} of each run (Fig. 2)."""
    return {LABELS[r.config["model"]]: r.arrays["top_items"][:, 0] for r in records}


@functools.lru_cache(maxsize=4)
def _dataset_and_split(dataset_json: str, split_json: str):
    from mmrec_lib.data import load_dataset
    from mmrec_lib.data.splits import leave_one_out

    spec, split = json.loads(dataset_json), json.loads(split_json)
    dataset = load_dataset(spec.pop("name"), **spec)
    return dataset, leave_one_out(
        dataset.interactions, n_negatives=split["n_negatives"], seed=split["seed"]
    )


@functools.lru_cache(maxsize=16)
def _modality(dataset_json: str, split_json: str, name: str, encoder: str):
    from mmrec_lib.features import (
        item_image_features,
        item_text_features,
        tabular_item_table,
        xgboost_item_embeddings,
    )

    dataset, _ = _dataset_and_split(dataset_json, split_json)
    if name == "text":
        return item_text_features(dataset, encoder)
    if name == "image":
        return item_image_features(dataset, encoder)
    return xgboost_item_embeddings(dataset) if encoder == "xgboost" else tabular_item_table(dataset)


def auxiliary_matrix(config: dict) -> np.ndarray:
    """(n_items + 1, d) fused item features of the config's split (row 0 = padding zeros)."""
    from mmrec_lib.features import fuse

    keys = canonical_json(config["dataset"]), canonical_json(config["split"])
    _, split = _dataset_and_split(*keys)
    spec = config["features"]
    modalities = {name: _modality(*keys, name, spec[name]) for name in config["use"]}
    fused = fuse(modalities, config["use"], config["method"], spec["dim"]).align(split.item_ids[1:])
    return np.vstack([np.zeros((1, fused.matrix.shape[1]), np.float32), fused.matrix])


def train_sequential(config: dict) -> RunRecord:
    """Train and test the config's model (``run_model``); metrics per user and their means.

    Arrays: ``<protocol>/<metric>`` per user, ``top_items`` (n_users, 5) full-ranking top
    items of the test history, and (with keep_attention) ``attention_last``, see
    :func:`mmrec_lib.user_clusters.last_query_attention`.
    """

    from mmrec_lib.paths import cache_dir
    from mmrec_lib.sequential_experiment import run_model
    from mmrec_lib.training import TrainConfig, resolve_device

    _, split = dataset_and_split(config)
    aux = auxiliary_matrix(config) if config["use"] else None
    hyper = config["hyperparameters"]
    max_len = hyper.get("max_len", 50)
    checkpoints = cache_dir("checkpoints", run_key(config))
    train = TrainConfig(**config["train"], checkpoint_dir=checkpoints, progress=False)
    other = {k: v for k, v in hyper.items() if k != "max_len"}
    result = run_model(config["model"], split, train, aux_features=aux, max_len=max_len, **other)
    arrays = {
        f"{protocol}/{metric}": values.astype(np.float32)
        for protocol, per_metric in result.metrics.items()
        for metric, values in per_metric.items()
    }
    metrics = {
        f"{protocol}/{metric}": value
        for protocol in result.metrics
        for metric, value in result.mean(protocol).items()
    }
    model = result.trained.to(resolve_device(train.device)).eval()
    arrays.update(_inspect(model, split, max_len, config["keep_attention"]))
    return RunRecord(config, metrics, arrays, seconds=sum(result.seconds.values()))


def _inspect(model: Any, split: Any, max_len: int, keep_attention: bool, batch: int = 512):
    """Top items of the full ranking (and last-query attention) for all users, in batches."""
    import torch

    from mmrec_lib.user_clusters import last_query_attention

    histories = split.padded_histories(max_len, include_val=True)
    seen = split.seen_matrix(include_val=True)
    device = next(model.parameters()).device
    top, attention = [], []
    with torch.no_grad():
        for start in range(0, split.n_users, batch):
            users = np.arange(start, min(start + batch, split.n_users))
            history = torch.as_tensor(histories[users], device=device)
            scores = model.score_all(history, users).cpu().numpy()
            scores[seen[users].toarray()] = -np.inf
            top.append(np.argsort(-scores, axis=1)[:, :TOP_ITEMS])
            if keep_attention:
                maps = np.stack([m.cpu().numpy() for m in model.attention_maps(history)])
                attention.append(last_query_attention(maps).astype(np.float16))
    return {"top_items": np.concatenate(top)} | (
        {"attention_last": np.concatenate(attention)} if keep_attention else {}
    )


def ablation_table(records: Sequence[RunRecord], metric: str = "sampled/NDCG@10") -> pd.DataFrame:
    """Table 3 from ablation runs: per variant and model, mean over seeds, std and a 95 % CI.

    Columns per model: ``(model, "paper ML-20M")``, ``(model, "paper Fashion")``,
    ``(model, "ours")``, ``(model, "std")``, ``(model, "ci95")`` (half-width, t-based; NaN for
    one seed), ``(model, "n seeds")``, ``(model, "top-2")`` (1 = best, 2 = second of ours).
    """
    from scipy import stats

    by_variant = {(v.use, v.method): v.row for v in VARIANTS}
    rows = []
    for record in records:
        config = record.config
        key = (tuple(config["use"]), config["method"])
        if key not in by_variant:
            raise ValueError(f"run {config['model']} {key} is not a Table 3 variant")
        rows.append((LABELS[config["model"]], by_variant[key], record.metrics[metric]))
    if not rows:
        raise ValueError("no ablation runs given")
    frame = pd.DataFrame(rows, columns=["model", "variant", "value"])
    summary = frame.groupby(["model", "variant"])["value"].agg(["mean", "std", "count"])
    summary["ci95"] = (
        stats.t.ppf(0.975, summary["count"] - 1) * summary["std"] / np.sqrt(summary["count"])
    )
    pieces = {}
    for model in summary.index.unique("model"):
        ours = summary.loc[model].reindex(PAPER_TABLE3.index)
        for dataset in ("ML-20M", "Fashion"):
            pieces[(model, f"paper {dataset}")] = PAPER_TABLE3[(dataset, model)]
        pieces[(model, "ours")] = ours["mean"]
        pieces[(model, "std")] = ours["std"]
        pieces[(model, "ci95")] = ours["ci95"]
        pieces[(model, "n seeds")] = ours["count"]
        pieces[(model, "top-2")] = _top_two(ours["mean"])
    return pd.DataFrame(pieces, index=PAPER_TABLE3.index)


def ablation_glue_values(table: pd.DataFrame) -> dict[str, float]:
    """Our mean per model and variant as ``<model>_row<number>`` (glue-safe names)."""
    return {
        f"{model.replace('+', 'plus').lower()}_row{variant.number}": float(value)
        for model in dict.fromkeys(table.columns.get_level_values(0))
        for variant, value in zip(VARIANTS, table[(model, "ours")], strict=True)
        if not np.isnan(value)
    }


def _top_two(values: pd.Series) -> pd.Series:
    """1 for the largest value, 2 for the second largest, NaN otherwise (ties share a rank)."""
    ranks = values.rank(ascending=False, method="min")
    return ranks.where(ranks <= 2)


def highlight_best_two(table: pd.DataFrame):
    """A Styler of :func:`ablation_table` as in the paper: top two grey, the best bold, for
    our means and the paper's columns."""
    shown = [c for c in table.columns if c[1] == "ours" or c[1].startswith("paper")]

    def style(column: pd.Series) -> list[str]:
        ranks = _top_two(column)
        return [
            "background-color: #d9d9d9; font-weight: bold" if r == 1
            else "background-color: #d9d9d9" if r == 2 else ""
            for r in ranks
        ]  # fmt: skip

    return table.style.apply(style, subset=shown).format(precision=5, na_rep="")
