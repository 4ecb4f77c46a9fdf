"""The run store: keys (config, data and code), reuse, invalidation, the stored layout and its
provenance, atomic storage, and damaged records reported, moved aside and computed again."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings

import numpy as np
import pytest

import mmrec_lib.data
from mmrec_lib.data import dataset_spec
from mmrec_lib.data.fingerprint import dataset_fingerprint
from mmrec_lib.data.synthetic import make_synthetic
from mmrec_lib.experiments import store
from mmrec_lib.experiments.store import (
    RunRecord,
    cached_run,
    code_fingerprint,
    data_fingerprint,
    load_run,
    read_record,
    run_dir,
    run_key,
)

TINY = dataset_spec("synthetic", "tiny", 0)


def square_run(config: dict) -> RunRecord:
    """A toy run: per-user x * seed, with a marker file counting the computations."""
    with open(config["log"], "a") as log:
        log.write(f"{config['seed']}\n")
    values = np.arange(4, dtype=np.float64) * config["seed"]
    return RunRecord(config, {"mean": float(values.mean())}, {"per_user": values})


def computed(log) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


# --- keys -----------------------------------------------------------------------------------


def test_run_key_is_sha256_of_canonical_json_with_data_and_code_fingerprints():
    config = {"dataset": TINY, "b": 1, "a": [1, 2], "c": {"y": 0.5, "x": None}}
    text = (
        '{"code":"%s","config":{"a":[1,2],"b":1,"c":{"x":null,"y":0.5},'
        '"dataset":{"name":"synthetic","seed":0,"size":"tiny"}},"data":"%s"}'
    )
    expected = hashlib.sha256(
        (text % (code_fingerprint(), data_fingerprint(config))).encode()
    ).hexdigest()
    assert run_key(config) == expected
    reordered = {"c": {"x": None, "y": 0.5}, "a": (1, 2), "b": np.int64(1), "dataset": TINY}
    assert run_key(reordered) == expected


def test_run_key_changes_with_config_and_code(monkeypatch):
    base = run_key({"dataset": TINY, "seed": 0})
    assert run_key({"dataset": TINY, "seed": 1}) != base
    assert run_key({"dataset": TINY, "seed": 0.0}) != base  # JSON keeps 0 and 0.0 apart
    monkeypatch.setattr(store, "code_fingerprint", lambda: "other code")
    assert run_key({"dataset": TINY, "seed": 0}) != base


def test_code_fingerprint_follows_the_library_source():
    from mmrec_lib.hashing import source_fingerprint

    assert code_fingerprint() == source_fingerprint()
    assert len(code_fingerprint()) == 64
    # only the packages that compute runs count: another selection is another fingerprint
    assert source_fingerprint(["metrics"]) != code_fingerprint()


def test_run_key_changes_with_the_data(monkeypatch):
    config = {"dataset": TINY, "seed": 0}
    base = run_key(config)
    # other data behind other loader arguments (generator seed, size)
    for other in (dataset_spec("synthetic", "tiny", 1), dataset_spec("synthetic", "small", 0)):
        assert data_fingerprint({"dataset": other}) != data_fingerprint(config)
        assert run_key({**config, "dataset": other}) != base
    # the same config over data that changed under it (e.g. a new download): a new key
    monkeypatch.setitem(
        mmrec_lib.data.DATASETS, "synthetic", lambda **kwargs: make_synthetic("tiny", seed=1)
    )
    mmrec_lib.data._load_spec.cache_clear()
    try:
        assert run_key(config) != base
        assert data_fingerprint(config) == dataset_fingerprint(make_synthetic("tiny", seed=1))
    finally:
        monkeypatch.undo()
        mmrec_lib.data._load_spec.cache_clear()
    assert run_key(config) == base


def test_a_changed_copy_of_a_dataset_has_its_own_fingerprint():
    data = make_synthetic("tiny", seed=0)
    before = dataset_fingerprint(data)
    changed = dataclasses.replace(data, interactions=data.interactions.assign(rating=1.0))
    assert dataset_fingerprint(changed) != before


def test_run_key_rejects_non_json_values_and_configs_without_a_dataset():
    with pytest.raises(ValueError, match="plain JSON"):
        run_key({"dataset": TINY, "model": object()})
    with pytest.raises(ValueError, match="is a dict with a 'dataset' entry"):
        run_key([1, 2])
    with pytest.raises(ValueError, match="is a dict with a 'dataset' entry"):
        run_key({"seed": 0})
    with pytest.raises(ValueError, match="must name the dataset"):
        run_key({"dataset": {"size": "tiny"}})


# --- reuse and layout -----------------------------------------------------------------------


def test_cached_run_reuses_finished_runs_and_recomputes_a_changed_config(tmp_path):
    log = tmp_path / "log.txt"
    config = {"dataset": TINY, "seed": 3, "log": str(log)}
    first = cached_run(config, square_run, tmp_path / "runs")
    again = cached_run(dict(config), square_run, tmp_path / "runs")
    assert computed(log) == [3]
    assert not first.from_cache and again.from_cache
    assert again.metrics == {"mean": 4.5}
    np.testing.assert_array_equal(again.arrays["per_user"], [0, 3, 6, 9])
    assert again.config == config
    assert again.provenance == first.provenance
    changed = cached_run({**config, "seed": 2}, square_run, tmp_path / "runs")
    assert computed(log) == [3, 2]
    assert changed.metrics == {"mean": 3.0} and not changed.from_cache


def test_a_changed_code_fingerprint_computes_the_run_again(tmp_path, monkeypatch):
    log = tmp_path / "log.txt"
    config = {"dataset": TINY, "seed": 2, "log": str(log)}
    cached_run(config, square_run, tmp_path)
    monkeypatch.setattr(store, "code_fingerprint", lambda: "edited code")
    record = cached_run(config, square_run, tmp_path)
    assert computed(log) == [2, 2] and not record.from_cache
    assert record.provenance["code"] == "edited code"
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2  # both records kept


def test_stored_layout_is_record_json_and_arrays_npz(tmp_path):
    config = {"dataset": TINY, "seed": 1, "log": str(tmp_path / "log.txt")}
    cached_run(config, square_run, tmp_path)
    folder = tmp_path / run_key(config)
    assert folder == run_dir(config, tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "record.json"]
    stored = json.loads((folder / "record.json").read_text())
    assert stored["key"] == folder.name and stored["metrics"] == {"mean": 1.5}
    assert stored["config"] == config
    assert stored["provenance"]["seconds"] >= 0
    arrays = (folder / "arrays.npz").read_bytes()
    assert stored["arrays_sha256"] == hashlib.sha256(arrays).hexdigest()
    assert read_record(folder).metrics == {"mean": 1.5}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_a_record_carries_its_provenance(tmp_path):
    config = {"dataset": TINY, "seed": 1, "log": str(tmp_path / "log.txt")}
    record = cached_run(config, square_run, tmp_path)
    provenance = record.provenance
    assert {"code", "data", "commit", "versions", "machine", "seconds"} <= set(provenance)
    assert provenance["code"] == code_fingerprint()
    assert provenance["data"] == data_fingerprint(config)
    assert provenance["commit"]  # a git description, or "unknown" outside a checkout
    assert {"python", "torch", "numpy"} <= set(provenance["versions"])
    assert "CPUs" in provenance["machine"]
    assert provenance["seconds"] == record.seconds >= 0
    assert load_run(config, tmp_path).provenance == provenance


def test_compute_must_return_a_run_record(tmp_path):
    with pytest.raises(ValueError, match="must return a RunRecord, got dict"):
        cached_run({"dataset": TINY}, lambda config: {"mean": 1.0}, tmp_path)
    assert not list(tmp_path.iterdir())


# --- damaged records ------------------------------------------------------------------------


def _truncate_arrays(folder):
    data = (folder / "arrays.npz").read_bytes()
    (folder / "arrays.npz").write_bytes(data[: len(data) // 2])


def _flip_a_byte_of_the_arrays(folder):
    data = bytearray((folder / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "arrays.npz").write_bytes(bytes(data))


def _delete_arrays(folder):
    (folder / "arrays.npz").unlink()


def _corrupt_record_json(folder):
    text = (folder / "record.json").read_text()
    (folder / "record.json").write_text(text[: len(text) // 2])


def _drop_the_provenance(folder):
    stored = json.loads((folder / "record.json").read_text())
    del stored["provenance"]
    (folder / "record.json").write_text(json.dumps(stored))


DAMAGE = [
    _truncate_arrays,
    _flip_a_byte_of_the_arrays,
    _delete_arrays,
    _corrupt_record_json,
    _drop_the_provenance,
]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda damage: damage.__name__.strip("_"))
def test_a_damaged_record_is_reported_moved_aside_and_computed_again(tmp_path, damage):
    log = tmp_path / "log.txt"
    root = tmp_path / "runs"
    config = {"dataset": TINY, "seed": 3, "log": str(log)}
    cached_run(config, square_run, root)
    folder = run_dir(config, root)
    damage(folder)
    with pytest.warns(UserWarning, match="damaged") as caught:
        again = cached_run(config, square_run, root)
    (message,) = [str(w.message) for w in caught if "damaged" in str(w.message)]
    assert str(folder) in message
    assert computed(log) == [3, 3] and not again.from_cache
    assert again.metrics == {"mean": 4.5}
    aside = [p for p in root.iterdir() if p.name.startswith(f"{folder.name}.damaged-")]
    assert len(aside) == 1 and str(aside[0]) in message  # kept for inspection
    # the recomputed record is whole again, and read back from now on
    assert cached_run(config, square_run, root).from_cache
    assert computed(log) == [3, 3]


@pytest.mark.parametrize("text", ["null", "[]", '"text"'])
def test_a_record_json_that_is_not_an_object_is_damaged_too(tmp_path, text):
    log = tmp_path / "log.txt"
    config = {"dataset": TINY, "seed": 3, "log": str(log)}
    cached_run(config, square_run, tmp_path)
    (run_dir(config, tmp_path) / "record.json").write_text(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = cached_run(config, square_run, tmp_path)
    assert any(str(run_dir(config, tmp_path)) in str(w.message) for w in caught)
    assert computed(log) == [3, 3] and not again.from_cache


def test_load_run_of_a_damaged_record_warns_and_returns_none(tmp_path):
    config = {"dataset": TINY, "seed": 1, "log": str(tmp_path / "log.txt")}
    cached_run(config, square_run, tmp_path)
    _truncate_arrays(run_dir(config, tmp_path))
    with pytest.warns(UserWarning, match="does not match the checksum"):
        assert load_run(config, tmp_path) is None
    assert not run_dir(config, tmp_path).exists()
    assert load_run(config, tmp_path) is None  # nothing left to warn about
