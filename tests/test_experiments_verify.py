"""The verify command recomputes recorded runs and finds a record that does not match."""

from __future__ import annotations

import json

import pytest

from mmrec_lib.data import dataset_spec
from mmrec_lib.experiments.grids import rating_configs, table1_configs
from mmrec_lib.experiments.rating import run_rating
from mmrec_lib.experiments.sequential import run_sequential
from mmrec_lib.experiments.sweep import run_many
from mmrec_lib.experiments.verify import main, verify

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = dataset_spec("synthetic", "tiny", 0)


def test_verify_recomputes_recorded_runs_identically_and_flags_a_doctored_one(tmp_path):
    results = tmp_path / "results"
    sequential = table1_configs(["sasrec"], [0], dataset=TINY, n_negatives=20, max_len=10,
                                d=16, train={"epochs": 2, "threads": 1})  # fmt: skip
    rating = rating_configs(["mf"], [0], dataset=TINY, train={"epochs": 2, "threads": 1})
    run_many(sequential, run_sequential, root=tmp_path / "a", results=results, progress=False)
    run_many(rating, run_rating, root=tmp_path / "a", results=results, progress=False)
    report = verify(results, n=3)
    assert len(report) == 2 and all(found == [] for found in report.values())
    assert main([str(results), "--n", "2"]) == 0

    doctored = next(results.glob("*/record.json"))
    stored = json.loads(doctored.read_text())
    name = "rmse" if "rmse" in stored["metrics"] else "sampled/NDCG@10"
    stored["metrics"][name] += 0.01
    doctored.write_text(json.dumps(stored))
    found = verify(results, n=2)[doctored.parent.name]
    assert any(line.startswith(f"metric {name}") for line in found)
    assert main([str(results), "--n", "2"]) == 1


def test_verify_needs_records(tmp_path):
    with pytest.raises(ValueError, match="no recorded results"):
        verify(tmp_path)
