"""Bad inputs to runs: a clear early error or a logged repair, never a silently wrong result.

Rows of the bad-input table covered here: divergent learning rates (refused at config time,
or caught while training with an error that names the learning rate); damaged feature-cache
entries and checkpoints (warned about with their path, moved aside, recomputed); finished
runs leave no checkpoint; cache files follow the user's umask.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from mmrec_lib.data import dataset_spec
from mmrec_lib.experiments.grids import rating_configs, table1_configs
from mmrec_lib.experiments.rating import rating_config, run_rating
from mmrec_lib.experiments.sequential import run_sequential, sequential_config
from mmrec_lib.experiments.store import cached_run, run_dir, run_key
from mmrec_lib.features import cache
from mmrec_lib.models.training import TrainConfig
from mmrec_lib.paths import cache_dir

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = dataset_spec("synthetic", "tiny", 0)
SEQUENTIAL = dict(dataset=TINY, n_negatives=20, max_len=10, d=16)


@pytest.mark.parametrize("lr", [float("inf"), float("nan"), 0.0, -1e-3, "0.1"])
def test_non_finite_or_non_positive_learning_rates_are_refused_at_config_time(lr):
    with pytest.raises(ValueError, match="lr must be a finite positive number"):
        TrainConfig(lr=lr)
    with pytest.raises(ValueError, match="lr must be"):
        sequential_config("sasrec", **SEQUENTIAL, train={"lr": lr})
    with pytest.raises(ValueError, match="lr must be"):
        rating_config("mf", dataset=TINY, train={"lr": lr})


@pytest.mark.parametrize(
    ("model", "message"),
    [("mf", "pinned at the clip bounds"), ("nn", "pinned at the clip bounds")],
)
def test_a_diverging_rating_model_stops_with_an_error_naming_the_learning_rate(model, message):
    (config,) = rating_configs([model], [0], dataset=TINY, train={"epochs": 3, "lr": 1e6})
    with pytest.raises(FloatingPointError, match=rf"{message}.*lr=1e\+06"):
        run_rating(config)


@pytest.mark.parametrize("model", ["bpr", "transrec", "sasrec", "bert4rec"])
def test_a_diverging_sequential_model_stops_with_an_error_naming_the_learning_rate(model):
    (config,) = table1_configs([model], [0], **SEQUENTIAL, train={"epochs": 3, "lr": 1e6})
    with pytest.raises(FloatingPointError, match=r"lower the learning rate \(lr=1e\+06\)"):
        run_sequential(config)


def test_a_sane_learning_rate_does_not_trip_the_divergence_checks():
    (config,) = table1_configs(["bpr"], [0], **SEQUENTIAL, train={"epochs": 3, "lr": 0.05})
    assert np.isfinite(run_sequential(config).metrics["sampled/NDCG@10"])


def test_a_damaged_feature_cache_entry_is_reported_moved_aside_and_recomputed(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"features": np.arange(6.0).reshape(2, 3)}

    first = cache.cached_arrays("probe", "damaged-entry", compute)
    path = cache.entry_path("probe", "damaged-entry")
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.warns(UserWarning, match=str(path)):
        again = cache.cached_arrays("probe", "damaged-entry", compute)
    np.testing.assert_array_equal(again["features"], first["features"])
    assert len(calls) == 2 and list(path.parent.glob(f"{path.name}.damaged-*"))
    np.testing.assert_array_equal(
        cache.cached_arrays("probe", "damaged-entry", compute)["features"], first["features"]
    )
    assert len(calls) == 2  # the repaired entry is read back


def test_a_damaged_checkpoint_is_reported_moved_aside_and_training_starts_afresh(tmp_path):
    (config,) = table1_configs(["sasrec"], [0], **SEQUENTIAL, train={"epochs": 2})
    clean = run_sequential(config)
    checkpoints = cache_dir("checkpoints", run_key(config))
    (checkpoints / "checkpoint.pt").write_bytes(b"not a torch checkpoint")
    with pytest.warns(UserWarning, match="checkpoint.*cannot be read"):
        again = run_sequential(config)
    assert again.metrics["sampled/NDCG@10"] == clean.metrics["sampled/NDCG@10"]


def test_finished_runs_leave_no_checkpoints_behind(tmp_path):
    for config in [
        *table1_configs(["sasrec"], [0], **SEQUENTIAL, train={"epochs": 2}),
        *rating_configs(["mf"], [0], dataset=TINY, train={"epochs": 2}, refit=True),
    ]:
        cached_run(config, run_sequential if config["paper"] == "B" else run_rating, tmp_path)
        assert not cache_dir("checkpoints").joinpath(run_key(config)).exists()


def test_cache_files_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        (config,) = rating_configs(["mf"], [0], dataset=TINY, train={"epochs": 1})
        cached_run(config, run_rating, tmp_path)
        cache.cached_arrays("probe", "umask", lambda: {"a": np.zeros(2)})
    finally:
        os.umask(previous)
    written = [*run_dir(config, tmp_path).iterdir(), cache.entry_path("probe", "umask")]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert stat.S_IMODE(run_dir(config, tmp_path).stat().st_mode) == 0o755
