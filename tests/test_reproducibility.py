"""Same config, same numbers; nothing learned from held-out data.

- Every model of both papers, run from the same config in two fresh processes (each with its
  own empty cache, so the feature encoders run twice too), gives bit-identical metrics.
- Changing the validation and test interactions leaves the item features and the training
  batches unchanged: what is learned from interactions is fitted on the training part only.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mmrec_lib.data import dataset_spec, load_dataset_spec
from mmrec_lib.data.splits import leave_one_out
from mmrec_lib.experiments.grids import rating_configs, table1_configs
from mmrec_lib.experiments.rating import dataset_and_split, rating_inputs
from mmrec_lib.features.sequence_items import fused_item_features, genre_multi_hot
from mmrec_lib.models.rating import MODEL_NAMES
from mmrec_lib.models.sequential import SEQUENTIAL_MODELS

SEQUENTIAL = list(SEQUENTIAL_MODELS)
DATASET = dataset_spec("synthetic", "tiny", 0)

RUN_ALL = """
import json, sys
from mmrec_lib.experiments.grids import rating_configs, table1_configs
from mmrec_lib.experiments.rating import run_rating
from mmrec_lib.experiments.sequential import run_sequential

configs = json.loads(sys.argv[1])
out = {}
for config in configs:
    compute = run_sequential if config["paper"] == "B" else run_rating
    record = compute(config)
    out[config["model"]] = {  # everything but timings
        "metrics": {k: v for k, v in record.metrics.items() if not k.startswith("seconds")},
        "arrays": {
            k: v.astype(float).tolist()
            for k, v in record.arrays.items()
            if k != "history/seconds"
        },
    }
print(json.dumps(out))
"""


def _configs() -> list[dict]:
    sequential = table1_configs(
        SEQUENTIAL,
        [3],
        dataset=DATASET,
        n_negatives=20,
        max_len=10,
        d=16,
        modalities=["text", "image", "tabular"],
        train={"epochs": 2, "threads": 1},
    )
    rating = rating_configs(MODEL_NAMES, [3], dataset=DATASET, train={"epochs": 2, "threads": 1})
    return sequential + rating


def _run_in_fresh_process(configs: list[dict], cache: str) -> dict:
    env = {**os.environ, "MMREC_CACHE_DIR": cache, "MMREC_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", RUN_ALL, json.dumps(configs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_every_model_of_both_papers_repeats_bit_for_bit_in_fresh_processes(tmp_path):
    configs = _configs()
    first = _run_in_fresh_process(configs, str(tmp_path / "cache-1"))
    second = _run_in_fresh_process(configs, str(tmp_path / "cache-2"))
    assert set(first) == set(SEQUENTIAL) | set(MODEL_NAMES)
    for model in first:
        assert first[model] == second[model], f"{model} differs between two processes"
    # a different training seed does change the neural models (the seed is used at all)
    reseeded = [dict(c, train={**c["train"], "seed": 4}) for c in configs if c["model"] == "sasrec"]
    other = _run_in_fresh_process(reseeded, str(tmp_path / "cache-1"))
    assert other["sasrec"]["metrics"] != first["sasrec"]["metrics"]


def _with_held_out_changed(dataset, split):
    """A copy of ``dataset`` whose validation and test interactions got other ratings."""
    changed = copy.copy(dataset)
    interactions = dataset.interactions.copy()
    held_out = set(zip(split.user_ids, split.item_ids[split.val_item], strict=True))
    held_out |= set(zip(split.user_ids, split.item_ids[split.test_item], strict=True))
    rows = [
        (u, i) in held_out for u, i in zip(interactions["user"], interactions["item"], strict=True)
    ]
    rng = np.random.default_rng(7)
    interactions.loc[rows, "rating"] = rng.integers(1, 6, int(np.sum(rows))).astype(np.float32)
    changed.interactions = interactions
    changed.extras = {}
    return changed, int(np.sum(rows))


@pytest.mark.parametrize("tabular", ["xgboost", "table"])
def test_item_features_and_batches_ignore_validation_and_test_interactions(tabular):
    dataset = load_dataset_spec(DATASET)
    split = leave_one_out(dataset.interactions, n_negatives=20, seed=0)
    changed, n_changed = _with_held_out_changed(dataset, split)
    assert n_changed == 2 * split.n_users
    changed_split = leave_one_out(changed.interactions, n_negatives=20, seed=0)
    for name in ("train_items", "val_item", "test_item", "negatives", "item_ids"):
        np.testing.assert_array_equal(getattr(split, name), getattr(changed_split, name))

    def features(data, data_split):
        return fused_item_features(data, data_split, ["tabular"], tabular=tabular, seed=0)

    np.testing.assert_array_equal(features(dataset, split), features(changed, changed_split))
    np.testing.assert_array_equal(
        genre_multi_hot(dataset, split), genre_multi_hot(changed, changed_split)
    )
    for spec in SEQUENTIAL_MODELS.values():
        if spec.item_input is not None:
            continue
        model = spec.cls.from_split(split)
        if not hasattr(model, "training_batches"):
            continue
        batches = list(model.training_batches(split, np.random.default_rng(0)))
        again = list(model.training_batches(changed_split, np.random.default_rng(0)))
        assert len(batches) == len(again)
        for batch, other in zip(batches, again, strict=True):
            for a, b in zip(batch, other, strict=True):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_xgboost_features_do_see_training_ratings():
    """The control: the same change made to training interactions does move the features."""
    dataset = load_dataset_spec(DATASET)
    split = leave_one_out(dataset.interactions, n_negatives=20, seed=0)
    changed = copy.copy(dataset)
    interactions = dataset.interactions.copy()
    # not an affine map of the ratings: squared-error trees are invariant under those
    rng = np.random.default_rng(7)
    interactions["rating"] = rng.integers(1, 6, len(interactions)).astype(np.float32)
    changed.interactions = interactions
    before = fused_item_features(dataset, split, ["tabular"], tabular="xgboost", seed=0)
    after = fused_item_features(changed, split, ["tabular"], tabular="xgboost", seed=0)
    assert not np.array_equal(before, after)


def test_rating_inputs_ignore_validation_and_test_ratings():
    config = rating_configs(["tsem"], [0], dataset=DATASET)[0]
    dataset, split = dataset_and_split(config)
    inputs = rating_inputs(dataset, split, MODEL_NAMES)
    scrambled = dataclasses.replace(
        split,
        val=split.val.assign(rating=6.0 - split.val["rating"]),
        test=split.test.assign(rating=6.0 - split.test["rating"]),
    )
    again = rating_inputs(dataset, scrambled, MODEL_NAMES)
    for field in ("tabular", "poster", "description", "cast", "genres", "user_genre_frequency"):
        np.testing.assert_array_equal(getattr(inputs, field), getattr(again, field))
