"""Cached runs: keys, reuse, invalidation on a changed config, atomic storage, worker pools."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from mmrec_lib import runs
from mmrec_lib.runs import RunRecord, cached_run, load_run, run_key, run_many


def square_run(config: dict) -> RunRecord:
    """A toy run: per-user x * seed, with a marker file counting the computations."""
    marker = config["log"]
    with open(marker, "a") as log:
        log.write(f"{config['seed']}\n")
    values = np.arange(4, dtype=np.float64) * config["seed"]
    return RunRecord(config, {"mean": float(values.mean())}, {"per_user": values})


def computed(log) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def test_run_key_is_sha256_of_canonical_json_with_code_version():
    config = {"b": 1, "a": [1, 2], "c": {"y": 0.5, "x": None}}
    text = '{"code_version":"%s","config":{"a":[1,2],"b":1,"c":{"x":null,"y":0.5}}}'
    expected = hashlib.sha256((text % runs.CODE_VERSION).encode()).hexdigest()
    assert run_key(config) == expected
    assert run_key({"c": {"x": None, "y": 0.5}, "a": (1, 2), "b": np.int64(1)}) == expected


def test_run_key_changes_with_config_and_code_version(monkeypatch):
    base = run_key({"seed": 0})
    assert run_key({"seed": 1}) != base
    assert run_key({"seed": 0.0}) != base  # JSON keeps 0 and 0.0 apart
    monkeypatch.setattr(runs, "CODE_VERSION", "other")
    assert run_key({"seed": 0}) != base


def test_run_key_rejects_non_json_values():
    with pytest.raises(ValueError, match="plain JSON"):
        run_key({"model": object()})
    with pytest.raises(ValueError, match="must be a dict"):
        run_key([1, 2])


def test_cached_run_reuses_finished_runs_and_recomputes_a_changed_config(tmp_path):
    log = tmp_path / "log.txt"
    config = {"seed": 3, "log": str(log)}
    first = cached_run(config, square_run, tmp_path / "runs")
    again = cached_run(dict(config), square_run, tmp_path / "runs")
    assert computed(log) == [3]
    assert not first.from_cache and again.from_cache
    assert again.metrics == {"mean": 4.5}
    np.testing.assert_array_equal(again.arrays["per_user"], [0, 3, 6, 9])
    assert again.config == config
    changed = cached_run({**config, "seed": 2}, square_run, tmp_path / "runs")
    assert computed(log) == [3, 2]
    assert changed.metrics == {"mean": 3.0} and not changed.from_cache


def test_stored_layout_is_metrics_json_and_arrays_npz(tmp_path):
    config = {"seed": 1, "log": str(tmp_path / "log.txt")}
    cached_run(config, square_run, tmp_path)
    folder = tmp_path / run_key(config)
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "metrics.json"]
    stored = json.loads((folder / "metrics.json").read_text())
    assert stored["key"] == folder.name and stored["metrics"] == {"mean": 1.5}
    assert stored["seconds"] >= 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_an_interrupted_sweep_resumes_with_the_missing_runs_only(tmp_path):
    log = tmp_path / "log.txt"
    configs = [{"seed": seed, "log": str(log)} for seed in range(1, 5)]

    def fails_at_third(config: dict) -> RunRecord:
        if config["seed"] == 3:
            raise KeyboardInterrupt
        return square_run(config)

    with pytest.raises(KeyboardInterrupt):
        run_many(configs, fails_at_third, root=tmp_path / "runs", progress=False)
    assert computed(log) == [1, 2]
    assert load_run(configs[2], tmp_path / "runs") is None
    records = run_many(configs, square_run, root=tmp_path / "runs", progress=False)
    assert computed(log) == [1, 2, 3, 4]
    assert [r.metrics["mean"] for r in records] == [1.5, 3.0, 4.5, 6.0]
    assert [r.from_cache for r in records] == [True, True, False, False]


def test_run_many_in_worker_processes_matches_serial_and_dedupes(tmp_path):
    log = tmp_path / "log.txt"
    configs = [{"seed": seed, "log": str(log)} for seed in (1, 2, 3, 2)]
    parallel = run_many(configs, square_run, n_workers=2, root=tmp_path / "a", progress=False)
    assert sorted(computed(log)) == [1, 2, 3]
    serial = run_many(configs, square_run, root=tmp_path / "b", progress=False)
    assert [r.metrics for r in parallel] == [r.metrics for r in serial]
    assert [r.config["seed"] for r in parallel] == [1, 2, 3, 2]
    with pytest.raises(ValueError, match="n_workers"):
        run_many(configs, square_run, n_workers=0, root=tmp_path / "a")


def test_runs_frame_names_fields_metrics_and_keys(tmp_path):
    config = {"seed": 2, "log": str(tmp_path / "log.txt"), "train": {"lr": 0.1}, "use": ["a"]}
    record = cached_run(config, square_run, tmp_path)
    frame = runs.runs_frame([record], fields=["seed", "train.lr", "use", "missing.x"],
                            metrics=["mean"])  # fmt: skip
    row = frame.iloc[0]
    assert (row["seed"], row["train.lr"], row["use"], row["mean"]) == (2, 0.1, "a", 3.0)
    assert row["missing.x"] is None and row["key"] == run_key(config)[:12]
