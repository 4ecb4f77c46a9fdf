"""Sweeps: finished runs read back, interrupted sweeps resumed, worker pools, damaged records
computed again without stopping the sweep, and the runs table."""

from __future__ import annotations

import numpy as np
import pytest

from mmrec_lib.data import dataset_spec
from mmrec_lib.experiments.store import RunRecord, load_run, run_dir, run_key
from mmrec_lib.experiments.sweep import local_cluster, run_many, runs_frame

TINY = dataset_spec("synthetic", "tiny", 0)


def square_run(config: dict) -> RunRecord:
    """A toy run: per-user x * seed, with a marker file counting the computations."""
    with open(config["log"], "a") as log:
        log.write(f"{config['seed']}\n")
    values = np.arange(4, dtype=np.float64) * config["seed"]
    return RunRecord(config, {"mean": float(values.mean())}, {"per_user": values})


def computed(log) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def configs_of(seeds, log) -> list[dict]:
    return [{"dataset": TINY, "seed": seed, "log": str(log)} for seed in seeds]


def test_an_interrupted_sweep_resumes_with_the_missing_runs_only(tmp_path):
    log = tmp_path / "log.txt"
    configs = configs_of(range(1, 5), log)

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
    configs = configs_of((1, 2, 3, 2), log)
    parallel = run_many(configs, square_run, n_workers=2, root=tmp_path / "a", progress=False)
    assert sorted(computed(log)) == [1, 2, 3]
    serial = run_many(configs, square_run, root=tmp_path / "b", progress=False)
    assert [r.metrics for r in parallel] == [r.metrics for r in serial]
    assert [r.config["seed"] for r in parallel] == [1, 2, 3, 2]
    assert all(r.provenance["seconds"] >= 0 for r in parallel)
    with pytest.raises(ValueError, match="n_workers"):
        run_many(configs, square_run, n_workers=0, root=tmp_path / "a")


def pid_run(config: dict) -> RunRecord:
    """A toy run that says which process computed it."""
    import os

    return RunRecord(config, {"pid": float(os.getpid())}, {"seed": np.array([config["seed"]])})


def test_later_sweeps_reuse_the_worker_processes_of_the_first(tmp_path):
    import os

    from distributed import Client

    first = run_many(configs_of((1, 2, 3), "-"), pid_run, n_workers=2, root=tmp_path)
    second = run_many(configs_of((4, 5, 6), "-"), pid_run, n_workers=2, root=tmp_path)
    with Client(local_cluster(2)) as client:
        workers = set(client.run(os.getpid).values())
    assert len(workers) == 2 and os.getpid() not in workers
    assert {int(r.metrics["pid"]) for r in first + second} <= workers
    assert local_cluster(2) is local_cluster(2)


def test_workers_are_started_again_when_the_environment_changes(tmp_path, monkeypatch):
    """Workers read MMREC_CACHE_DIR and the like from their environment: a sweep after a
    change must not run in workers that started before it."""
    import os

    monkeypatch.setenv("MMREC_TEST_MARKER", "before")
    before = run_many(configs_of((1,), "-"), pid_run, n_workers=2, root=tmp_path / "a")
    monkeypatch.setenv("MMREC_TEST_MARKER", "after")
    after = run_many(configs_of((1,), "-"), pid_run, n_workers=2, root=tmp_path / "b")
    assert after[0].metrics["pid"] != before[0].metrics["pid"]
    assert os.getpid() not in {after[0].metrics["pid"], before[0].metrics["pid"]}


def test_run_many_goes_on_past_a_damaged_record(tmp_path):
    log = tmp_path / "log.txt"
    root = tmp_path / "runs"
    configs = configs_of((1, 2, 3), log)
    run_many(configs, square_run, root=root, progress=False)
    damaged = run_dir(configs[1], root)
    (damaged / "arrays.npz").write_bytes((damaged / "arrays.npz").read_bytes()[:10])
    with pytest.warns(UserWarning, match="damaged") as caught:
        records = run_many(configs, square_run, root=root, progress=False)
    reports = [str(w.message) for w in caught if "damaged" in str(w.message)]
    assert len(reports) == 1 and str(damaged) in reports[0]
    assert computed(log) == [1, 2, 3, 2]  # only the damaged run computed again
    assert [r.from_cache for r in records] == [True, False, True]
    assert [r.metrics["mean"] for r in records] == [1.5, 3.0, 4.5]
    np.testing.assert_array_equal(records[1].arrays["per_user"], [0, 2, 4, 6])
    again = run_many(configs, square_run, root=root, progress=False)
    assert all(r.from_cache for r in again) and computed(log) == [1, 2, 3, 2]


def test_runs_frame_names_fields_metrics_and_keys(tmp_path):
    config = {
        "dataset": TINY,
        "seed": 2,
        "log": str(tmp_path / "log.txt"),
        "train": {"lr": 0.1},
        "use": ["a"],
    }
    (record,) = run_many([config], square_run, root=tmp_path, progress=False)
    frame = runs_frame([record], fields=["seed", "train.lr", "use", "missing.x", "dataset.size"],
                       metrics=["mean"])  # fmt: skip
    row = frame.iloc[0]
    assert (row["seed"], row["train.lr"], row["use"], row["mean"]) == (2, 0.1, "a", 3.0)
    assert row["dataset.size"] == "tiny"
    assert row["missing.x"] is None and row["key"] == run_key(config)[:12]
    assert row["computed with"] == "this code" and not row["from cache"]


SWEEP = """
import json, sys
from mmrec_lib.experiments.sequential import run_sequential
from mmrec_lib.experiments.sweep import run_many

run_many(json.loads(sys.argv[1]), run_sequential, n_workers=2, root=sys.argv[2], progress=False)
"""


def _four_runs() -> list[dict]:
    from mmrec_lib.experiments.grids import table1_configs

    long = {"epochs": 30, "patience": 30, "threads": 1}
    return table1_configs(
        ["sasrec"], [0, 1, 2, 3], dataset=TINY, n_negatives=20, max_len=10, d=16, train=long
    )


@pytest.mark.slow
def test_a_killed_two_worker_dask_sweep_resumes_where_it_stopped(tmp_path):
    """4 runs on a 2-worker LocalCluster, killed (process group, SIGKILL) as soon as the first
    record is stored; the rerun reads the finished ones back and computes only the rest."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from mmrec_lib.experiments.sequential import run_sequential
    from mmrec_lib.experiments.store import RECORD_FILE, read_record

    configs = _four_runs()
    sweep = subprocess.Popen(
        [sys.executable, "-c", SWEEP, json.dumps(configs), str(tmp_path)],
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(f"*/{RECORD_FILE}")) and time.monotonic() < deadline:
        assert sweep.poll() is None, "the sweep ended before it could be killed"
        time.sleep(0.05)
    os.killpg(sweep.pid, signal.SIGKILL)
    sweep.wait()
    finished = {path.parent.name for path in tmp_path.glob(f"*/{RECORD_FILE}")}
    assert 1 <= len(finished) < 4
    for name in finished:  # a record is whole or absent (staging folders are hidden)
        assert read_record(tmp_path / name).config in configs

    records = run_many(configs, run_sequential, n_workers=2, root=tmp_path, progress=False)
    read_back = {run_key(r.config) for r in records if r.from_cache}
    assert read_back == finished
    assert len({run_key(r.config) for r in records}) == 4
    assert all(np.isfinite(r.metrics["sampled/NDCG@10"]) for r in records)


def test_recorded_results_are_found_without_the_code_and_labelled_with_their_commit(
    tmp_path, monkeypatch
):
    from mmrec_lib.experiments import results, store

    recorded = tmp_path / "results"
    log = tmp_path / "log.txt"
    configs = configs_of([1, 2], log)
    first = run_many(configs, square_run, root=tmp_path / "store", results=recorded,
                     progress=False)  # fmt: skip
    assert len(list(recorded.iterdir())) == 2 and computed(log) == [1, 2]
    # another library version: the run store misses, the recorded copies still answer
    monkeypatch.setattr(store, "code_fingerprint", lambda: "other code")
    monkeypatch.setattr(results, "code_fingerprint", lambda: "other code")
    again = run_many(configs, square_run, root=tmp_path / "store", results=recorded,
                     progress=False)  # fmt: skip
    assert computed(log) == [1, 2] and all(r.from_cache for r in again)
    assert results.computed_with(again[0]).startswith("older code (commit ")
    assert again[0].metrics == first[0].metrics
    # make results: every run computed again and its copy replaced, now by this code
    monkeypatch.setenv(results.REFRESH_ENV, "1")
    fresh = run_many(configs, square_run, root=tmp_path / "store", results=recorded,
                     progress=False)  # fmt: skip
    assert computed(log) == [1, 2, 1, 2] and not any(r.from_cache for r in fresh)
    monkeypatch.delenv(results.REFRESH_ENV)
    reread = run_many(configs, square_run, root=tmp_path / "store", results=recorded,
                      progress=False)  # fmt: skip
    assert all(results.computed_with(r) == "this code" for r in reread)


def test_a_recorded_copy_keeps_only_what_the_book_needs(tmp_path):
    from mmrec_lib.experiments.results import record_result, recorded

    config = {"dataset": TINY, "paper": "B", "modalities": ["a", "b"], "fusion": "concat"}
    arrays = {"sampled/NDCG@10": np.ones(3), "sampled/HR@1": np.ones(3),
              "attention_last": np.ones((3, 2)),
              "top_items": np.arange(6).reshape(3, 2)}  # fmt: skip
    record = RunRecord(config, {"m": 1.0}, arrays, 2.0, provenance={"seconds": 2.0})
    record_result(record, tmp_path)
    kept = recorded(config, tmp_path)
    assert set(kept.arrays) == {"sampled/NDCG@10", "top_items"}
    assert kept.arrays["top_items"].dtype == np.uint8  # ids up to 5
    np.testing.assert_array_equal(kept.arrays["top_items"], arrays["top_items"])
    fig3 = {**config, "model": "sasrec+", "modalities": ["text", "image", "tabular"]}
    record_result(RunRecord(fig3, {"m": 1.0}, arrays, 2.0, provenance={"seconds": 2.0}), tmp_path)
    assert "attention_last" in recorded(fig3, tmp_path).arrays
    bert = {**fig3, "model": "bert4rec+"}  # Fig 3 draws SASRec+ only
    record_result(RunRecord(bert, {"m": 1.0}, arrays, 2.0, provenance={"seconds": 2.0}), tmp_path)
    assert "attention_last" not in recorded(bert, tmp_path).arrays
    sparse = {**fig3, "split": {"train_fraction": 0.5}}
    history = {"history/train_loss": np.ones(2)}
    record_result(
        RunRecord(sparse, {}, {**arrays, **history}, 2.0, provenance={"seconds": 2.0}), tmp_path
    )
    assert set(recorded(sparse, tmp_path).arrays) == set(history)  # the curve reads metrics
    cold = {**fig3, "split": {"cold_items": 0.2}}
    record_result(RunRecord(cold, {}, arrays, 2.0, provenance={"seconds": 2.0}), tmp_path)
    assert set(recorded(cold, tmp_path).arrays) == {"sampled/NDCG@10", "top_items"}
    with_hits = {**arrays, "full/HR@10": np.ones(3)}
    record_result(RunRecord(cold, {}, with_hits, 2.0, provenance={"seconds": 2.0}), tmp_path)
    assert "full/HR@10" in recorded(cold, tmp_path).arrays  # the cold users' hit rates
    rating = {"dataset": TINY, "paper": "A"}
    errors = np.array([0.1, 1 / 3, 2.0])
    record_result(
        RunRecord(rating, {}, {"squared_error": errors}, 1.0, provenance={"seconds": 1.0}), tmp_path
    )
    stored = recorded(rating, tmp_path).arrays["squared_error"]
    assert stored.dtype == np.float32 and np.array_equal(stored, errors.astype(np.float32))


def test_a_run_already_in_the_store_is_recorded_into_the_results_folder(tmp_path):
    log = tmp_path / "log.txt"
    configs = configs_of([1], log)
    run_many(configs, square_run, root=tmp_path / "store", progress=False)
    recorded = tmp_path / "results"
    (record,) = run_many(configs, square_run, root=tmp_path / "store", results=recorded,
                         progress=False)  # fmt: skip
    assert record.from_cache and computed(log) == [1]
    assert len(list(recorded.glob("*/record.json"))) == 1
